"""``python -m infra.device_config THING --stack NAME [--out DIR]``: provision one device's files.

They go to ``~/.edge-bundle/provision/<thing>`` unless ``--out`` names another folder, which must
not be a place in a git work tree that git would track (see :mod:`infra.device_config.output`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from components.common.logs import kv
from infra.device_config.identity import fetch_device_identity
from infra.device_config.init_config import write_device_files
from infra.device_config.output import check_not_tracked, default_out_dir
from infra.exceptions import DeviceConfigError

ROOT_CA_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"
log = logging.getLogger("infra.device_config")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m infra.device_config", description=__doc__)
    parser.add_argument("thing", help="thing name (one of bundle.yaml fleet.things)")
    parser.add_argument(
        "--stack", default="EdgeBundle", help="CloudFormation stack name (default EdgeBundle)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for config.yaml, the certificate and the private key (default "
        "~/.edge-bundle/provision/THING; inside a git work tree only if git ignores it)",
    )
    parser.add_argument("--region", help="AWS region (default: bundle.yaml region)")
    parser.add_argument("--root", default="/greengrass/v2", help="Greengrass root on the device")
    parser.add_argument(
        "--root-ca", type=Path, help=f"Amazon root CA PEM file (default: download {ROOT_CA_URL})"
    )
    return parser.parse_args(argv)


def download_root_ca(url: str = ROOT_CA_URL, timeout: float = 30.0) -> str:
    """Amazon's root CA 1 (public), fetched from Amazon Trust Services."""
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return str(reply.read().decode("ascii"))


def read_root_ca(path: Path | None, fetch: Callable[[], str] = download_root_ca) -> str:
    """The root CA PEM from ``path``, or downloaded; anything not a PEM certificate is refused."""
    pem = path.read_text(encoding="ascii") if path is not None else fetch()
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise DeviceConfigError(
            f"{path or ROOT_CA_URL}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)"
        )
    return pem


def run(
    args: argparse.Namespace, *, clients: Callable[[str, str], Any], root_ca: Callable[[], str]
) -> list[Path]:
    """Fetch the identity and write the files; returns the written paths."""
    from bundlespec import load_spec

    region = args.region or load_spec().region
    out_dir = args.out if args.out is not None else default_out_dir(args.thing)
    check_not_tracked(out_dir)  # before any AWS call: a refused folder costs nothing
    identity = fetch_device_identity(
        args.thing,
        args.stack,
        region=region,
        cloudformation=clients("cloudformation", region),
        iot=clients("iot", region),
        secretsmanager=clients("secretsmanager", region),
    )
    return write_device_files(identity, read_root_ca(args.root_ca, root_ca), out_dir, root=args.root)


def _boto3_client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; exit status 2 with a message naming the problem on any provisioning error."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        written = run(args, clients=_boto3_client, root_ca=download_root_ca)
    except (DeviceConfigError, OSError) as err:
        print(f"device_config: {err}", file=sys.stderr)
        return 2
    out_dir = written[0].parent
    log.info(kv(event="device_config_written", thing=args.thing, out=out_dir, files=len(written)))
    print(f"Wrote {', '.join(p.name for p in written)} to {out_dir} (the key readable by you only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
