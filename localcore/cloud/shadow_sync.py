"""ShadowManager-style sync between the local ShadowStore and the cloud's shadows (moto iot-data).

Configuration has ShadowManager's ``synchronize`` shape (reference 6.6): ``coreThing``,
``shadowDocuments``, ``shadowDocumentsMap`` and ``direction``. Only listed shadows sync.

* Local changes (any ``source`` but ``"cloud"``) mark the shadow pending; while offline they stay
  one merged pending update per shadow (the next sync sends the whole difference at once).
* Cloud changes are found by polling the listed shadows' versions (moto has no push), and
  right away after :meth:`ShadowSync.poll_now` (the CLI calls it after ``cloud shadow update``).
* A sync is a 3-way merge against the last synced state: desired from the cloud wins, reported
  from the device wins. A shadow missing on one side is, as in ShadowManager's
  ``FullShadowSyncRequest``, copied over when it never synced (first sync) and deleted on the other
  side too when it did (a one-sided delete propagates); both are logged.
* Its own writes are never echoed: local writes carry ``source="cloud"`` and are ignored by the
  listener, cloud writes are remembered by the version they produced.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localcore.cloud.connectivity import Connectivity
from localcore.cloud.exceptions import ShadowSyncConfigError
from localcore.cloud.shadow_merge import sections, state_patch, three_way
from localcore.contracts import ShadowService
from localcore.logfmt import kv

log = logging.getLogger("localcore.cloud.shadow_sync")

BOTH, DEVICE_TO_CLOUD, CLOUD_TO_DEVICE = "betweenDeviceAndCloud", "deviceToCloud", "cloudToDevice"
DIRECTIONS = (BOTH, DEVICE_TO_CLOUD, CLOUD_TO_DEVICE)
ShadowKey = tuple[str, str]  # (thing, shadow name; "" for the classic shadow)


@dataclass(frozen=True)
class SyncConfig:
    """Which shadows sync, and which way."""

    shadows: frozenset[ShadowKey]
    direction: str = BOTH


def _shadows_of(thing: str, entry: Any, where: str) -> set[ShadowKey]:
    if not isinstance(entry, dict):
        raise ShadowSyncConfigError(f"{where}: expected an object with classic/namedShadows, got {entry!r}")
    found: set[ShadowKey] = set()
    classic = entry.get("classic", True)
    if not isinstance(classic, bool):
        raise ShadowSyncConfigError(f"{where}.classic: expected true or false, got {classic!r}")
    if classic:
        found.add((thing, ""))
    named = entry.get("namedShadows", [])
    if not isinstance(named, list) or not all(isinstance(n, str) and n for n in named):
        raise ShadowSyncConfigError(f"{where}.namedShadows: expected a list of shadow names, got {named!r}")
    found.update((thing, name) for name in named)
    return found


def parse_sync_config(config: dict[str, Any] | None, core_thing: str) -> SyncConfig:
    """Read ShadowManager's ``synchronize`` object (or the whole component config holding it)."""
    if not config:
        return SyncConfig(frozenset())
    sync = config.get("synchronize", config)
    if not isinstance(sync, dict):
        raise ShadowSyncConfigError(f"synchronize: expected an object, got {sync!r}")
    shadows: set[ShadowKey] = set()
    if "coreThing" in sync:
        shadows |= _shadows_of(core_thing, sync["coreThing"], "synchronize.coreThing")
    documents = sync.get("shadowDocuments", [])
    if not isinstance(documents, list):
        raise ShadowSyncConfigError(f"synchronize.shadowDocuments: expected a list, got {documents!r}")
    for index, entry in enumerate(documents):
        thing = entry.get("thingName") if isinstance(entry, dict) else None
        if not isinstance(thing, str) or not thing:
            raise ShadowSyncConfigError(
                f"synchronize.shadowDocuments[{index}].thingName: expected a thing name"
            )
        shadows |= _shadows_of(thing, entry, f"synchronize.shadowDocuments[{index}]")
    mapping = sync.get("shadowDocumentsMap", {})
    if not isinstance(mapping, dict):
        raise ShadowSyncConfigError(f"synchronize.shadowDocumentsMap: expected an object, got {mapping!r}")
    for thing, entry in mapping.items():
        shadows |= _shadows_of(thing, entry, f"synchronize.shadowDocumentsMap.{thing}")
    direction = sync.get("direction", BOTH)
    if direction not in DIRECTIONS:
        raise ShadowSyncConfigError(
            f"synchronize.direction: expected one of {', '.join(DIRECTIONS)}, got {direction!r}"
        )
    return SyncConfig(frozenset(shadows), direction)


class ShadowSync:
    """Keep the configured local shadows and the cloud's in step."""

    def __init__(
        self,
        local: ShadowService,
        iot_data: Any,
        connectivity: Connectivity,
        config: SyncConfig,
        *,
        poll_interval: float = 2.0,
        state_path: Path | None = None,
        on_cloud_update: Callable[[str, str, bytes], None] | None = None,
    ) -> None:
        self.local = local
        self.iot_data = iot_data
        self.connectivity = connectivity
        self.config = config
        self.poll_interval = poll_interval
        self._state_path = state_path
        self._on_cloud_update = on_cloud_update  # (thing, shadow, accepted payload): cloud-side topics
        self._base: dict[ShadowKey, dict[str, Any] | None] = {}
        self._cloud_version: dict[ShadowKey, int] = {}
        self._pending: set[ShadowKey] = set()
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()  # one sync at a time, whichever thread asks
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribes: list[Callable[[], None]] = []
        self.syncs = 0
        self._load_state()

    # --- lifecycle
    def start(self) -> None:
        """Listen to local changes and connectivity, and poll the cloud in a background thread."""
        self._unsubscribes.append(self.local.add_listener(self._on_local_change))
        self._unsubscribes.append(self.connectivity.add_listener(self._on_connectivity))
        with self._lock:
            self._pending |= set(self.config.shadows)  # a full sync at start, as on reconnect
        self._thread = threading.Thread(target=self._run, name="shadow-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop syncing (pending updates are kept in the state file for the next start)."""
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._save_state()

    def poll_now(self) -> None:
        """Check the cloud now (e.g. right after a CLI ``cloud shadow update``)."""
        with self._lock:
            self._pending |= set(self.config.shadows)
        self._wake.set()

    def pending(self) -> set[ShadowKey]:
        """Shadows with a change not yet synced."""
        with self._lock:
            return set(self._pending)

    # --- events
    def _on_local_change(self, thing: str, shadow: str, document: dict[str, Any] | None, source: str) -> None:
        if source == "cloud" or (thing, shadow) not in self.config.shadows:
            return
        if self.config.direction == CLOUD_TO_DEVICE:
            return
        with self._lock:
            self._pending.add((thing, shadow))
        self._wake.set()

    def _on_connectivity(self, _state: str, _drop: float) -> None:
        if self.connectivity.is_up():
            self.poll_now()  # full sync on reconnect

    def _run(self) -> None:
        while not self._stop.is_set():
            woke = self._wake.wait(self.poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not woke:
                with self._lock:
                    self._pending |= set(self.config.shadows)
            self.sync_pending()

    # --- syncing
    def sync_pending(self) -> int:
        """Sync every pending shadow if the cloud is reachable; return how many synced."""
        done = 0
        with self._lock:
            keys = sorted(self._pending)
        for key in keys:
            if not self.connectivity.is_up():
                break
            if self.sync_one(*key):
                done += 1
        return done

    def sync_one(self, thing: str, shadow: str) -> bool:
        """3-way sync of one shadow; ``False`` (and still pending) if the cloud could not be reached."""
        key = (thing, shadow)
        with self._lock:
            self._pending.add(key)
        if self.connectivity.should_drop():
            return False
        with self._sync_lock:
            try:
                self._sync(key)
            except (ClientError, BotoCoreError) as err:
                log.warning(kv(event="shadow_sync_failed", thing=thing, shadow=shadow, error=err))
                return False
            except Exception as err:  # e.g. the local store refuses the cloud's document (size)
                # Kept pending and retried: the sync thread must outlive one bad document.
                log.exception(kv(event="shadow_sync_error", thing=thing, shadow=shadow, error=repr(err)))
                return False
        with self._lock:
            self._pending.discard(key)
        self.syncs += 1
        return True

    def _sync(self, key: ShadowKey) -> None:
        thing, shadow = key
        local_doc = self._local_document(thing, shadow)
        cloud_doc = self._cloud_document(thing, shadow)
        base = self._base.get(key)
        local_state, cloud_state = sections(local_doc), sections(cloud_doc)
        push, pull = self.config.direction != CLOUD_TO_DEVICE, self.config.direction != DEVICE_TO_CLOUD

        # One side missing (ShadowManager FullShadowSyncRequest.execute): never synced before ->
        # a first sync copies the other side over; synced before -> the shadow was deleted on
        # that side, and the delete is carried over. Both are logged: a vanished shadow is news.
        synced_before = key in self._base and base is not None
        if cloud_doc is None and local_doc is not None and pull and synced_before:
            log.warning(
                kv(
                    event="shadow_deleted_locally",
                    thing=thing,
                    shadow=shadow or "classic",
                    reason="the cloud shadow is gone since the last sync (a cloud-side delete)",
                )
            )
            self.local.delete(thing, shadow, source="cloud")
            self._remember(key, None, None)
            return
        if local_doc is None and cloud_doc is not None and push and synced_before:
            log.warning(
                kv(
                    event="shadow_deleted_in_cloud",
                    thing=thing,
                    shadow=shadow or "classic",
                    reason="the local shadow is gone since the last sync (a device-side delete)",
                )
            )
            self._delete_cloud(thing, shadow)
            self._remember(key, None, None)
            return
        if local_doc is None and cloud_doc is None:
            self._remember(key, None, None)
            return
        if (cloud_doc is None) != (local_doc is None):
            log.info(
                kv(
                    event="shadow_first_sync",
                    thing=thing,
                    shadow=shadow or "classic",
                    copy="device to cloud" if cloud_doc is None else "cloud to device",
                )
            )

        base_state = base or {}
        merged: dict[str, Any] = {}
        for section, prefer in (("desired", "cloud"), ("reported", "local")):
            if not push:
                prefer = "cloud"
            elif not pull:
                prefer = "local"
            value = three_way(
                base_state.get(section), local_state.get(section), cloud_state.get(section), prefer
            )
            if value is not None:
                merged[section] = value

        cloud_version = cloud_doc.get("version") if cloud_doc else None
        to_cloud = state_patch(cloud_state, merged) if push else {}
        to_local = state_patch(local_state, merged) if pull else {}
        if to_cloud or (cloud_doc is None and push and merged):
            payload = json.dumps({"state": to_cloud or merged}).encode()
            cloud_version = self._update_cloud(thing, shadow, payload)
        if to_local or (local_doc is None and pull and merged):
            self.local.update(
                thing, shadow, json.dumps({"state": to_local or merged}).encode(), source="cloud"
            )
        if to_cloud or to_local:
            log.info(
                kv(
                    event="shadow_synced",
                    thing=thing,
                    shadow=shadow or "classic",
                    up=bool(to_cloud),
                    down=bool(to_local),
                )
            )
        self._remember(key, merged, cloud_version)

    def _remember(self, key: ShadowKey, merged: dict[str, Any] | None, cloud_version: int | None) -> None:
        unchanged = (
            key in self._base and self._base[key] == merged and self._cloud_version.get(key) == cloud_version
        )
        self._base[key] = merged
        if cloud_version is None:
            self._cloud_version.pop(key, None)
        else:
            self._cloud_version[key] = cloud_version
        if not unchanged:  # a quiet poll writes nothing to disk
            self._save_state()

    # --- the two sides
    def _local_document(self, thing: str, shadow: str) -> dict[str, Any] | None:
        reader = getattr(self.local, "document", None)
        if callable(reader):  # ShadowStore.document reads without publishing get/accepted
            found: dict[str, Any] | None = reader(thing, shadow)
            return found
        try:
            loaded: dict[str, Any] = json.loads(self.local.get(thing, shadow))
            return loaded
        except Exception as err:
            if getattr(err, "code", None) == 404:
                return None
            raise

    def _shadow_args(self, thing: str, shadow: str) -> dict[str, str]:
        return {"thingName": thing, **({"shadowName": shadow} if shadow else {})}

    def _cloud_document(self, thing: str, shadow: str) -> dict[str, Any] | None:
        try:
            response = self.iot_data.get_thing_shadow(**self._shadow_args(thing, shadow))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        document: dict[str, Any] = json.loads(response["payload"].read())
        return document

    def _update_cloud(self, thing: str, shadow: str, payload: bytes) -> int | None:
        response = self.iot_data.update_thing_shadow(payload=payload, **self._shadow_args(thing, shadow))
        accepted = response["payload"].read()
        if self._on_cloud_update is not None:
            self._on_cloud_update(thing, shadow, accepted)
        version = json.loads(accepted).get("version")
        return int(version) if version is not None else None

    def _delete_cloud(self, thing: str, shadow: str) -> None:
        try:
            self.iot_data.delete_thing_shadow(**self._shadow_args(thing, shadow))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise

    # --- sync bookkeeping survives restarts, like ShadowManager's sync table
    def _load_state(self) -> None:
        if self._state_path is None or not self._state_path.exists():
            return
        try:
            raw = json.loads(self._state_path.read_text(encoding="utf-8"))
            for entry in raw.get("shadows", []):
                key = (entry["thing"], entry["shadow"])
                self._base[key] = entry.get("base")
                if entry.get("cloudVersion") is not None:
                    self._cloud_version[key] = int(entry["cloudVersion"])
                if entry.get("pending"):
                    self._pending.add(key)
        except (ValueError, KeyError, TypeError) as err:
            # A damaged bookkeeping file only costs a full merge with no base; never a crash.
            log.warning(kv(event="shadow_sync_state_unreadable", path=self._state_path, error=err))

    def _save_state(self) -> None:
        if self._state_path is None:
            return
        with self._lock:
            pending = set(self._pending)
        keys = sorted(set(self._base) | pending)
        document = {
            "shadows": [
                {
                    "thing": thing,
                    "shadow": shadow,
                    "base": self._base.get((thing, shadow)),
                    "cloudVersion": self._cloud_version.get((thing, shadow)),
                    "pending": (thing, shadow) in pending,
                }
                for thing, shadow in keys
            ]
        }
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
        temporary.replace(self._state_path)
