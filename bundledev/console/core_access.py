"""What the console reads from and asks of the running core, in one place.

Reads go to the core's objects directly (component status, shadows, configuration, the embedded
cloud); actions (restart, stop, link state, a configuration change) go through the core's control
channel, the same requests ``localcore restart`` / ``localcore cloud offline`` / ``localcore config
set`` send, so the console can do nothing an operator at the CLI could not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from localcore.control import ControlError, control_request

SENSING = "com.edgebundle.Sensing"
INSPECTION = "com.edgebundle.QualityInspection"
SPOOL_DIR = Path("work") / INSPECTION / "inspection-spool"
MAX_OBJECTS_LISTED = 50
MAX_ALERT_ITEMS = 50


class ActionRefused(Exception):
    """The core refused an action; the message is the core's."""


class CoreAccess:
    """The console's view of one running :class:`~localcore.core.LocalCore`."""

    def __init__(self, core: Any) -> None:
        self._core = core
        self._aws: dict[str, Any] = {}
        self._processes: dict[int, Any] = {}  # psutil.Process by pid: cpu_percent() needs the last call

    @property
    def root(self) -> Path:
        """The core's root folder."""
        return Path(self._core.root)

    # --- reads ------------------------------------------------------------------------------------
    def components(self) -> list[dict[str, Any]]:
        """Every component's name, version, state, restarts and last error (``detail``)."""
        rows: list[dict[str, Any]] = self._core.status()["components"]
        usage = self.resources()
        for row in rows:
            row.update(usage.get(row["name"], {"cpuPercent": None, "rssMiB": None}))
        return rows

    def resources(self) -> dict[str, dict[str, Any]]:
        """CPU % (of one core, since the last call) and resident MiB per component, summed over
        its processes: the core's child processes whose working folder is ``<root>/work/NAME``
        (where the runner starts every lifecycle step)."""
        import psutil

        work = (self.root / "work").resolve()
        usage: dict[str, dict[str, Any]] = {}
        alive: dict[int, Any] = {}
        try:
            children = psutil.Process(os.getpid()).children(recursive=True)
        except psutil.Error:
            return usage
        for child in children:
            process = self._processes.get(child.pid, child)
            try:
                cwd = Path(process.cwd())
                if not cwd.is_relative_to(work) or cwd == work:
                    continue
                name = cwd.relative_to(work).parts[0]
                cpu, rss = process.cpu_percent(None), process.memory_info().rss / (1024 * 1024)
            except (psutil.Error, OSError):
                continue  # ended meanwhile, or not ours to look at
            measured = child.pid in self._processes  # a first cpu_percent() call says 0.0, not a figure
            alive[child.pid] = process
            entry: dict[str, Any] = usage.setdefault(name, {"cpuPercent": 0.0, "rssMiB": 0.0})
            entry["cpuPercent"] = (
                None if not measured or entry["cpuPercent"] is None else round(entry["cpuPercent"] + cpu, 1)
            )
            entry["rssMiB"] = round(entry["rssMiB"] + rss, 1)
        self._processes = alive
        return usage

    def link(self) -> dict[str, Any]:
        """The cloud link: connectivity setting and whether the device is connected."""
        cloud = getattr(self._core, "cloud", None)
        if cloud is None:
            return {"connectivity": "none", "connected": False}
        status = cloud.status() if hasattr(cloud, "status") else {}
        return {
            "connectivity": str(status.get("connectivity", "online" if cloud.is_connected() else "offline")),
            "connected": bool(cloud.is_connected()),
            "spooled": status.get("spooled"),
        }

    def configuration(self, component: str) -> Any:
        """A component's whole configuration (``{}`` when it has none)."""
        try:
            return self._core.config.get(component, [])
        except KeyError:
            return {}

    def thresholds(self) -> list[dict[str, Any]]:
        """The sensing component's threshold rules (sensor, metric, above/below, severity)."""
        rules = self.configuration(SENSING)
        rules = rules.get("rules", []) if isinstance(rules, dict) else []
        return [rule for rule in rules if isinstance(rule, dict) and rule.get("type") == "threshold"]

    def shadows(self) -> list[dict[str, Any]]:
        """Each local shadow's desired, reported and delta."""
        store = self._core.shadows
        found = []
        for thing, name in sorted(store.shadows()):
            document = store.document(thing, name) or {}
            state = document.get("state", {}) if isinstance(document, dict) else {}
            found.append(
                {
                    "thing": thing,
                    "name": name or "classic",
                    "version": document.get("version") if isinstance(document, dict) else None,
                    "desired": state.get("desired"),
                    "reported": state.get("reported"),
                    "delta": state.get("delta"),
                }
            )
        return found

    def cloud_objects(self) -> list[dict[str, Any]]:
        """The newest objects in the embedded cloud's buckets (bucket, key, size)."""
        s3 = self._client("s3")
        if s3 is None:
            return []
        objects: list[dict[str, Any]] = []
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for entry in page.get("Contents", []):
                    objects.append(
                        {
                            "bucket": name,
                            "key": entry["Key"],
                            "size": entry["Size"],
                            "modified": entry["LastModified"].timestamp(),
                        }
                    )
        objects.sort(key=lambda entry: entry["modified"], reverse=True)
        return objects[:MAX_OBJECTS_LISTED]

    def cloud_object(self, bucket: str, key: str) -> bytes:
        """One object's bytes; ``KeyError`` when there is no such object."""
        s3 = self._client("s3")
        if s3 is None:
            raise KeyError(f"{bucket}/{key}")
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey as err:
            raise KeyError(f"{bucket}/{key}") from err
        except s3.exceptions.NoSuchBucket as err:
            raise KeyError(f"{bucket}/{key}") from err
        return body

    def cloud_alerts(self) -> list[dict[str, Any]]:
        """Items of the embedded cloud's alert tables (a table whose name mentions alerts)."""
        dynamodb = self._client("dynamodb")
        if dynamodb is None:
            return []
        items: list[dict[str, Any]] = []
        for table in dynamodb.list_tables().get("TableNames", []):
            if "alert" not in table.lower():
                continue
            for item in dynamodb.scan(TableName=table, Limit=MAX_ALERT_ITEMS).get("Items", []):
                items.append({"table": table, **{name: _plain(value) for name, value in item.items()}})
        return items[:MAX_ALERT_ITEMS]

    def inspection_image(self, name: str) -> bytes | None:
        """A spooled inspection image by file name: from the spool, or uploaded to the cloud."""
        if "/" in name or name.startswith("."):
            return None
        path = self.root / SPOOL_DIR / name
        if path.is_file():
            try:
                return path.read_bytes()
            except OSError:
                pass  # uploaded and removed meanwhile: look in the cloud
        for entry in self.cloud_objects():
            if entry["key"].rsplit("/", 1)[-1] == name:
                return self.cloud_object(entry["bucket"], entry["key"])
        return None

    # --- actions (the control channel) ------------------------------------------------------------
    def lifecycle(self, action: str, component: str) -> dict[str, Any]:
        """``restart`` or ``stop`` a component."""
        if action not in ("restart", "stop"):
            raise ActionRefused(f"unknown action {action!r}; expected restart or stop")
        return self._request(action, {"component": component})

    def set_link(self, state: str) -> dict[str, Any]:
        """Take the cloud link ``online`` or ``offline`` (or ``flaky``)."""
        return self._request("cloud.connectivity", {"state": state})

    def set_configuration(self, component: str, key_path: list[str], value: Any) -> dict[str, Any]:
        """Merge ``value`` at ``key_path`` into ``component``'s configuration (``config.set``)."""
        return self._request("config.set", {"component": component, "keyPath": key_path, "value": value})

    def _request(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            result = control_request(self.root, command, args)
        except ControlError as err:
            raise ActionRefused(str(err)) from err
        return result if isinstance(result, dict) else {"result": result}

    def _client(self, service: str) -> Any:
        if service in self._aws:
            return self._aws[service]
        url = getattr(getattr(getattr(self._core, "cloud", None), "moto", None), "url", None)
        if not url:
            return None
        import boto3

        self._aws[service] = boto3.client(  # type: ignore[call-overload]  # service is s3 or dynamodb
            service,
            endpoint_url=url,
            region_name=getattr(self._core, "region", "us-east-1"),
            aws_access_key_id="console",
            aws_secret_access_key="console",
        )
        return self._aws[service]


def _plain(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as plain JSON."""
    (kind, inner), *_ = value.items()
    if kind == "N":
        return float(inner)
    if kind == "M":
        return {name: _plain(item) for name, item in inner.items()}
    if kind == "L":
        return [_plain(item) for item in inner]
    if kind in ("S", "BOOL"):
        return inner
    return json.dumps(inner, default=str)
