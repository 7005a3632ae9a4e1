"""A stranger's project works: localcore installed from its folder into a fresh venv runs a
project that lives outside this repository, with its own cloud description.

The project has two components. ``com.stranger.Uploader`` is a shell script: it fetches
credentials from the token exchange service with curl and PUTs an object to S3, signed with
those credentials (``curl --aws-sigv4``), through ``AWS_ENDPOINT_URL``. ``com.stranger.Reporter``
is Python with the unmodified SDK (``GreengrassCoreIPCClientV2``): it publishes to IoT Core, and
the project's topic rule writes the message to its DynamoDB table. Both arrive in the embedded
cloud, and the test reads them from the dump under ``<root>/cloud/``.

Facts held (the nucleus' behaviour, not our own output): TES serves
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with the ``Authorization`` header set to
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` and answers AccessKeyId/SecretAccessKey/Token/Expiration
(aws-greengrass-nucleus ``tes/CredentialRequestHandler``); a component depending on
``aws.greengrass.TokenExchangeService`` gets those variables (greengrass-deployments.md,
"Token exchange service"); PublishToIoTCore needs an ``aws.greengrass.ipc.mqttproxy`` policy
(greengrass-ipc.md section 3).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
THING = "stranger-1"

CLOUD = """\
buckets: [stranger-uploads]
tables:
  - {name: stranger-events, hashKey: device, rangeKey: seq}
roleAlias: {name: stranger-token-alias, role: stranger-token-role}
topicRules:
  - name: events_to_table
    sql: "SELECT *, topic(2) AS device FROM 'plant/+/events'"
    dynamodb: {table: stranger-events}
"""

UPLOAD_SH = """\
#!/bin/sh
# Credentials from the token exchange service, then one object to S3, signed with them.
set -eu
creds=$(curl -sf -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI")
field() { printf '%s' "$creds" | sed -n "s/.*\\"$1\\" *: *\\"\\([^\\"]*\\)\\".*/\\1/p"; }
curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$(field AccessKeyId):$(field SecretAccessKey)" \\
  -H "x-amz-security-token: $(field Token)" -H "Content-Type: text/plain" -X PUT --data-binary "hello from sh" \\
  "$AWS_ENDPOINT_URL/$1/uploads/hello.txt"
echo "event=uploaded bucket=$1"
"""

REPORT_PY = """\
import json, sys
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import QOS

client = GreengrassCoreIPCClientV2()
payload = json.dumps({"seq": "0001", "reading": 3.5}).encode()
client.publish_to_iot_core(topic_name=f"plant/{sys.argv[1]}/events", qos=QOS.AT_LEAST_ONCE, payload=payload)
print("event=reported", flush=True)
client.close()
"""

UPLOADER_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.stranger.Uploader
ComponentVersion: "0.1.0"
ComponentDependencies:
  aws.greengrass.TokenExchangeService: {VersionRequirement: ">=2.0.0", DependencyType: HARD}
ComponentConfiguration:
  DefaultConfiguration: {bucket: stranger-uploads}
Manifests:
  - Platform: {os: linux}
    Lifecycle:
      Run: "sh {artifacts:path}/upload.sh {configuration:/bucket}"
    Artifacts:
      - Uri: file:upload.sh
"""

REPORTER_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.stranger.Reporter
ComponentVersion: "0.1.0"
ComponentConfiguration:
  DefaultConfiguration:
    accessControl:
      aws.greengrass.ipc.mqttproxy:
        com.stranger.Reporter:mqttproxy:1:
          operations: ["aws.greengrass#PublishToIoTCore"]
          # "+", not {iot:thingName}: the nucleus leaves recipe variables in accessControl as
          # written unless interpolateComponentConfiguration is set (default false).
          resources: ["plant/+/events"]
Manifests:
  - Platform: {os: linux}
    Lifecycle:
      Run: "python3 -u {artifacts:path}/report.py {iot:thingName}"
    Artifacts:
      - Uri: file:report.py
"""


# The module fixture installs localcore and its dependencies into a fresh venv (about 45 s on an
# idle machine, several minutes on a loaded one), inside the first test's timeout.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GIVEN a fresh venv with ``pip install <localcore folder>[cloud,view]`` and the stranger's SDK.

    The folder is copied out of the checkout first: setuptools builds in the source folder, and
    the copy proves the folder alone is the distribution.
    """
    where = tmp_path_factory.mktemp("stranger-venv") / "venv"
    source = where.parent / "localcore"
    shutil.copytree(
        REPO / "localcore", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    venv.create(where, with_pip=True)
    installed = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "-q", f"{source}[cloud,view]", "awsiotsdk"],
        timeout=600,
        capture_output=True,
        text=True,
        env=_outside_env(where),
        cwd=where,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return where


def _outside_env(venv_dir: Path) -> dict[str, str]:
    """The environment of a shell in the stranger's project: their venv first, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "LOCALCORE_PLUGINS")}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv_dir)
    return env


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """GIVEN a throwaway project outside this repository: two recipes, their artifacts, a cloud file."""
    root = tmp_path / "stranger"
    recipes = root / "recipes"
    recipes.mkdir(parents=True)
    (recipes / "com.stranger.Uploader.yaml").write_text(UPLOADER_RECIPE)
    (recipes / "com.stranger.Reporter.yaml").write_text(REPORTER_RECIPE)
    (root / "upload.sh").write_text(UPLOAD_SH)
    (root / "report.py").write_text(REPORT_PY)
    (root / "cloud.yaml").write_text(CLOUD)
    assert REPO not in root.resolve().parents
    yield root


def test_the_fresh_venv_imports_every_localcore_module_without_the_bundle(fresh_venv: Path) -> None:
    script = (
        "import importlib, pkgutil, sys, localcore\n"
        "names = [m.name for m in pkgutil.walk_packages(localcore.__path__, 'localcore.')]\n"
        "names.remove('localcore.__main__')  # runs the CLI\n"
        "for name in names: importlib.import_module(name)\n"
        "bundle = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'components', 'bundlespec', 'bundlebuild', 'bundledev', 'infra', 'models'})\n"
        "print(json.dumps({'modules': len(names), 'bundle': bundle, 'file': localcore.__file__}))\n"
    )
    done = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", "import json\n" + script],
        capture_output=True,
        text=True,
        env=_outside_env(fresh_venv),
        cwd=fresh_venv,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["bundle"] == []
    assert result["modules"] > 50
    assert str(fresh_venv) in result["file"]  # the installed copy, not this checkout


@pytest.mark.skipif(shutil.which("curl") is None, reason="the shell component needs curl")
def test_a_strangers_project_runs_with_its_own_cloud(fresh_venv: Path, project: Path) -> None:
    root = project / ".localcore"
    command = [
        str(fresh_venv / "bin" / "python"), "-m", "localcore", "run",
        "--recipes", str(project / "recipes"),
        "--root", str(root),
        "--thing-name", THING,
        "--cloud-description", str(project / "cloud.yaml"),
        "--json",
    ]  # fmt: skip
    core = subprocess.Popen(
        command,
        cwd=project,
        env=_outside_env(fresh_venv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # WHEN both components have done their work (their own log lines say so)
        logs = root / "logs"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and core.poll() is None:
            done = [
                (logs / f"{name}.log").is_file() and marker in (logs / f"{name}.log").read_text()
                for name, marker in (
                    ("com.stranger.Uploader", "event=uploaded"),
                    ("com.stranger.Reporter", "event=reported"),
                )
            ]
            if all(done):
                break
            time.sleep(0.2)
    finally:
        core.send_signal(signal.SIGINT)
        stdout, stderr = core.communicate(timeout=60)
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    finished = next((e for e in events if e["event"] == "finished"), None)
    assert finished is not None, f"no finished event; stderr:\n{stderr[-3000:]}"
    states = {c["name"]: c["state"] for c in finished["components"]}
    tails = {p.name: p.read_text()[-1500:] for p in logs.glob("*.log")} if logs.is_dir() else {}
    # THEN the shell script's object and the SDK's message arrived in the described cloud
    assert states == {"com.stranger.Uploader": "FINISHED", "com.stranger.Reporter": "FINISHED"}, tails
    assert (root / "cloud/s3/stranger-uploads/uploads/hello.txt").read_text() == "hello from sh"
    items = [
        json.loads(line) for line in (root / "cloud/dynamodb/stranger-events.jsonl").read_text().splitlines()
    ]
    assert [(item["device"], item["seq"], item["reading"]) for item in items] == [(THING, "0001", 3.5)]
    assert finished["exitCode"] == 0
