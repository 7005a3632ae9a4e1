"""``python -m infra.device_config`` against moto (cloudformation, iot, secretsmanager)."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from infra.constants import OUTPUT_ROLE_ALIAS, certificate_output_key, secret_output_key
from infra.device_config.__main__ import main, parse_args, read_root_ca, run
from infra.device_config.identity import fetch_device_identity
from infra.exceptions import DeviceConfigError

REGION = "us-east-1"
ROOT_CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
ALIAS = "edge-bundle-token-exchange-role-alias"


def _client(service: str, region: str = REGION) -> Any:
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A stack as the certificate custom resource leaves it: outputs, an ACTIVE cert, its key in a secret."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        iot, secrets = _client("iot"), _client("secretsmanager")
        issued = iot.create_keys_and_certificate(setAsActive=True)
        secret_arn = secrets.create_secret(
            Name="edge-bundle/things/dev-1/private-key", SecretString=issued["keyPair"]["PrivateKey"]
        )["ARN"]
        empty_arn = secrets.create_secret(
            Name="edge-bundle/things/dev-2/private-key", SecretString="placeholder"
        )["ARN"]
        outputs = {
            OUTPUT_ROLE_ALIAS: ALIAS,
            certificate_output_key("dev-1"): issued["certificateId"],
            secret_output_key("dev-1"): secret_arn,
            certificate_output_key("dev-2"): issued["certificateId"],
            secret_output_key("dev-2"): empty_arn,
        }
        template = {
            "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        _client("cloudformation").create_stack(StackName="EdgeBundle", TemplateBody=json.dumps(template))
        yield {"issued": issued, "iot": iot}


def _args(out: Path, thing: str = "dev-1", root_ca: Path | None = None) -> argparse.Namespace:
    argv = [thing, "--stack", "EdgeBundle", "--out", str(out), "--region", REGION]
    if root_ca is not None:
        argv += ["--root-ca", str(root_ca)]
    return parse_args(argv)


def test_writes_the_installer_config_and_credentials(deployed: dict[str, Any], tmp_path: Path) -> None:
    # GIVEN a deployed stack WHEN the device's files are written
    written = run(_args(tmp_path / "dev-1"), clients=_client, root_ca=lambda: ROOT_CA)
    out = tmp_path / "dev-1"
    assert sorted(p.name for p in written) == [
        "AmazonRootCA1.pem",
        "config.yaml",
        "device.pem.crt",
        "private.pem.key",
    ]
    # THEN the config names the thing, the role alias and both endpoints, with on-device paths
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["system"] == {
        "certificateFilePath": "/greengrass/v2/device.pem.crt",
        "privateKeyPath": "/greengrass/v2/private.pem.key",
        "rootCaPath": "/greengrass/v2/AmazonRootCA1.pem",
        "rootpath": "/greengrass/v2",
        "thingName": "dev-1",
    }
    nucleus = config["services"]["aws.greengrass.Nucleus"]
    assert nucleus["componentType"] == "NUCLEUS"
    settings = nucleus["configuration"]
    assert settings["awsRegion"] == REGION
    assert settings["iotRoleAlias"] == ALIAS
    # moto answers each DescribeEndpoint with a fresh prefix, so the form is what can be checked.
    assert settings["iotDataEndpoint"].endswith(f"-ats.iot.{REGION}.amazonaws.com")
    assert "credentials.iot" in settings["iotCredEndpoint"]
    # AND the certificate and key are the issued ones, the key readable by its owner only
    assert (out / "device.pem.crt").read_text() == deployed["issued"]["certificatePem"]
    assert (out / "private.pem.key").read_text() == deployed["issued"]["keyPair"]["PrivateKey"]
    assert stat.S_IMODE((out / "private.pem.key").stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in (out / "config.yaml").read_text()


def test_an_unknown_thing_is_refused_naming_the_known_ones(deployed: dict[str, Any]) -> None:
    with pytest.raises(
        DeviceConfigError, match=r"no output CertificateDev9.*things with certificates: Dev1, Dev2"
    ):
        fetch_device_identity(
            "dev-9",
            "EdgeBundle",
            region=REGION,
            cloudformation=_client("cloudformation"),
            iot=_client("iot"),
            secretsmanager=_client("secretsmanager"),
        )


def test_a_missing_stack_is_refused(deployed: dict[str, Any]) -> None:
    with pytest.raises(DeviceConfigError, match="cloudformation:DescribeStacks Nope failed"):
        fetch_device_identity(
            "dev-1",
            "Nope",
            region=REGION,
            cloudformation=_client("cloudformation"),
            iot=_client("iot"),
            secretsmanager=_client("secretsmanager"),
        )


def test_a_secret_without_a_key_is_refused(deployed: dict[str, Any]) -> None:
    with pytest.raises(DeviceConfigError, match="holds no PEM private key"):
        fetch_device_identity(
            "dev-2",
            "EdgeBundle",
            region=REGION,
            cloudformation=_client("cloudformation"),
            iot=_client("iot"),
            secretsmanager=_client("secretsmanager"),
        )


def test_an_inactive_certificate_is_refused(deployed: dict[str, Any]) -> None:
    deployed["iot"].update_certificate(
        certificateId=deployed["issued"]["certificateId"], newStatus="INACTIVE"
    )
    with pytest.raises(DeviceConfigError, match="is INACTIVE, expected ACTIVE"):
        fetch_device_identity(
            "dev-1",
            "EdgeBundle",
            region=REGION,
            cloudformation=_client("cloudformation"),
            iot=_client("iot"),
            secretsmanager=_client("secretsmanager"),
        )


def test_identity_repr_hides_the_key(deployed: dict[str, Any]) -> None:
    identity = fetch_device_identity(
        "dev-1",
        "EdgeBundle",
        region=REGION,
        cloudformation=_client("cloudformation"),
        iot=_client("iot"),
        secretsmanager=_client("secretsmanager"),
    )
    assert "PRIVATE" not in repr(identity)


def test_root_ca_must_be_a_pem_certificate(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(DeviceConfigError, match="expected a PEM certificate"):
        read_root_ca(bad)
    good = tmp_path / "good.pem"
    good.write_text(ROOT_CA)
    assert read_root_ca(good) == ROOT_CA


def test_main_exits_2_with_a_message_on_failure(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(ROOT_CA)
    status = main(
        [
            "dev-9",
            "--stack",
            "EdgeBundle",
            "--out",
            str(tmp_path / "x"),
            "--region",
            REGION,
            "--root-ca",
            str(ca),
        ]
    )
    assert status == 2
    assert "device_config: stack EdgeBundle has no output" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_main_writes_the_files_with_a_given_root_ca(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(ROOT_CA)
    status = main(
        [
            "dev-1",
            "--stack",
            "EdgeBundle",
            "--out",
            str(tmp_path / "d"),
            "--region",
            REGION,
            "--root-ca",
            str(ca),
            "--root",
            "/opt/gg",
        ]
    )
    assert status == 0
    assert (tmp_path / "d" / "AmazonRootCA1.pem").read_text() == ROOT_CA
    assert yaml.safe_load((tmp_path / "d" / "config.yaml").read_text())["system"]["rootpath"] == "/opt/gg"
    assert "PRIVATE KEY" not in capsys.readouterr().out


# --- where the files go, and with which modes --------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_by_default_the_files_go_outside_the_repository_into_a_private_folder(
    deployed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    args = parse_args(["dev-1", "--stack", "EdgeBundle", "--region", REGION])
    assert args.out is None
    written = run(args, clients=_client, root_ca=lambda: ROOT_CA)
    out = home / ".edge-bundle" / "provision" / "dev-1"
    assert {p.parent for p in written} == {out}
    # every folder made for it is 0700, the key 0600, the rest 0644, nothing else left behind
    for folder in (home / ".edge-bundle", home / ".edge-bundle" / "provision", out):
        assert _mode(folder) == 0o700, folder
    assert {p.name: _mode(p) for p in out.iterdir()} == {
        "config.yaml": 0o644,
        "device.pem.crt": 0o644,
        "private.pem.key": 0o600,
        "AmazonRootCA1.pem": 0o644,
    }


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_modes_do_not_depend_on_the_umask(deployed: dict[str, Any], tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        run(_args(tmp_path / "dev-1"), clients=_client, root_ca=lambda: ROOT_CA)
    finally:
        os.umask(previous)
    out = tmp_path / "dev-1"
    assert _mode(out) == 0o700
    assert _mode(out / "private.pem.key") == 0o600
    assert _mode(out / "config.yaml") == 0o644


def test_the_key_has_its_mode_before_a_byte_is_written_and_replaces_an_old_file(
    deployed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dev-1"
    out.mkdir(mode=0o700)
    old = out / "private.pem.key"
    old.write_text("an old, world-readable key")
    old.chmod(0o644)
    modes_at_write: dict[str, int] = {}
    real_fdopen = os.fdopen

    class Watched:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def write(self, text: str) -> int:
            name = Path(os.readlink(f"/proc/self/fd/{self._handle.fileno()}")).name
            modes_at_write[name] = stat.S_IMODE(os.fstat(self._handle.fileno()).st_mode)
            return int(self._handle.write(text))

        def __getattr__(self, attribute: str) -> Any:
            return getattr(self._handle, attribute)

        def __enter__(self) -> Watched:
            self._handle.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.__exit__(*exc)

    with monkeypatch.context() as patched:
        patched.setattr(os, "fdopen", lambda *a, **k: Watched(real_fdopen(*a, **k)))
        run(_args(out), clients=_client, root_ca=lambda: ROOT_CA)
    key_writes = {name: mode for name, mode in modes_at_write.items() if name.startswith(".private.pem.key.")}
    assert list(key_writes.values()) == [0o600]
    assert _mode(old) == 0o600 and "PRIVATE KEY" in old.read_text()
    assert sorted(p.name for p in out.iterdir()) == [
        "AmazonRootCA1.pem",
        "config.yaml",
        "device.pem.crt",
        "private.pem.key",
    ]


def test_an_existing_folder_others_can_open_is_refused(deployed: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    out.chmod(0o755)
    with pytest.raises(DeviceConfigError, match=r"only its owner can open \(mode 0700\), got 0755"):
        run(_args(out), clients=_client, root_ca=lambda: ROOT_CA)
    assert list(out.iterdir()) == []


def _git_work_tree(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / ".gitignore").write_text("provision/\n")
    return path


def test_a_folder_git_would_track_is_refused_before_any_aws_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _git_work_tree(tmp_path / "repo")
    calls: list[str] = []

    def no_aws(service: str, region: str) -> Any:
        calls.append(service)
        raise AssertionError("no AWS call expected")

    args = _args(repo / "keys" / "dev-1")
    with pytest.raises(DeviceConfigError, match=r"inside the git work tree .*repo and not ignored"):
        run(args, clients=no_aws, root_ca=lambda: ROOT_CA)
    assert calls == [] and not (repo / "keys").exists()
    ca = tmp_path / "ca.pem"
    ca.write_text(ROOT_CA)
    argv = ["dev-1", "--out", str(repo / "keys"), "--region", REGION, "--root-ca", str(ca)]
    assert main(argv) == 2
    assert "could be committed" in capsys.readouterr().err


def test_a_folder_git_ignores_is_accepted(deployed: dict[str, Any], tmp_path: Path) -> None:
    repo = _git_work_tree(tmp_path / "repo")
    run(_args(repo / "provision" / "dev-1"), clients=_client, root_ca=lambda: ROOT_CA)
    assert _mode(repo / "provision" / "dev-1" / "private.pem.key") == 0o600
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "private.pem.key" not in status.stdout


def test_the_project_ignores_provision() -> None:
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "-q", "provision/dev-1/private.pem.key"], check=False
    )
    assert ignored.returncode == 0
