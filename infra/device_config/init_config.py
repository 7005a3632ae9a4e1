"""The Greengrass installer's ``--init-config`` file and the credential files beside it.

The file's shape is the one in "Install AWS IoT Greengrass Core software with manual resource
provisioning" (Greengrass developer guide): ``system`` paths and thing name, and the nucleus'
region, role alias and endpoints. Paths are where the files will be on the device (``root``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from infra.constants import NUCLEUS, PUBLIC_COMPONENT_VERSIONS
from infra.device_config.identity import DeviceIdentity

CERTIFICATE_FILE = "device.pem.crt"
PRIVATE_KEY_FILE = "private.pem.key"
ROOT_CA_FILE = "AmazonRootCA1.pem"
CONFIG_FILE = "config.yaml"


def init_config(identity: DeviceIdentity, *, root: str = "/greengrass/v2") -> dict[str, Any]:
    """The ``--init-config`` document for one device whose Greengrass root is ``root``."""
    return {
        "system": {
            "certificateFilePath": f"{root}/{CERTIFICATE_FILE}",
            "privateKeyPath": f"{root}/{PRIVATE_KEY_FILE}",
            "rootCaPath": f"{root}/{ROOT_CA_FILE}",
            "rootpath": root,
            "thingName": identity.thing_name,
        },
        "services": {
            NUCLEUS: {
                "componentType": "NUCLEUS",
                "version": PUBLIC_COMPONENT_VERSIONS[NUCLEUS],
                "configuration": {
                    "awsRegion": identity.region,
                    "iotRoleAlias": identity.role_alias,
                    "iotDataEndpoint": identity.data_endpoint,
                    "iotCredEndpoint": identity.credentials_endpoint,
                },
            }
        },
    }


def write_device_files(identity: DeviceIdentity, root_ca_pem: str, out_dir: Path, *, root: str) -> list[Path]:
    """Write the config and credential files into ``out_dir``; the key is readable by its owner only."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write(
            out_dir / CONFIG_FILE, yaml.safe_dump(init_config(identity, root=root), sort_keys=False), 0o644
        ),
        _write(out_dir / CERTIFICATE_FILE, identity.certificate_pem, 0o644),
        _write(out_dir / PRIVATE_KEY_FILE, identity.private_key, 0o600),
        _write(out_dir / ROOT_CA_FILE, root_ca_pem, 0o644),
    ]
    return written


def _write(path: Path, text: str, mode: int) -> Path:
    # Create with the final mode so the key is never readable by others, not even for a moment.
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(partial, mode)
    partial.replace(path)
    return path
