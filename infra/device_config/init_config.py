"""The Greengrass installer's ``--init-config`` file and the credential files beside it.

The file's shape is the one in "Install AWS IoT Greengrass Core software with manual resource
provisioning" (Greengrass developer guide): ``system`` paths and thing name, and the nucleus'
region, role alias and endpoints. Paths are where the files will be on the device (``root``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.constants import NUCLEUS, PUBLIC_COMPONENT_VERSIONS
from infra.device_config.identity import DeviceIdentity
from infra.device_config.output import prepare_out_dir, write_file

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
    """Write the config and credential files into ``out_dir`` (created with mode 0700 if missing).

    Each file is created with its final mode (the key 0600, the others 0644) and renamed into
    place, so the key is never readable by others, not even while it is written.

    Raises:
        DeviceConfigError: ``out_dir`` is not a folder only its owner can open.
    """
    out_dir = prepare_out_dir(out_dir)
    return [
        write_file(
            out_dir / CONFIG_FILE, yaml.safe_dump(init_config(identity, root=root), sort_keys=False), 0o644
        ),
        write_file(out_dir / CERTIFICATE_FILE, identity.certificate_pem, 0o644),
        write_file(out_dir / PRIVATE_KEY_FILE, identity.private_key, 0o600),
        write_file(out_dir / ROOT_CA_FILE, root_ca_pem, 0o644),
    ]
