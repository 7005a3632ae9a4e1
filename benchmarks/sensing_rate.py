"""How fast the sensing component publishes through the local core, and how quickly it alerts.

The real runner starts ``com.edgebundle.Sensing`` from its recipe (its own process) with a
simulated sensor; a subscriber process (a real ``GreengrassCoreIPCClientV2``) counts what
arrives. Measured:

- readings/s delivered to the subscriber at increasing target rates (the sensor's
  ``intervalSeconds`` changed live through the configuration store), counted per reading
  whether it came alone or in an ``edgebundle.reading-batch.v1`` (the component coalesces
  readings above 200 messages/s and while the core lags), the readings that arrived more than once (must be 0), the
  readings per message, and the component process's CPU % (user + system time over wall time,
  of one core);
- alert latency: from the timestamp of the reading that crossed the threshold (stamped by the
  component when it read the sensor) to the alert's arrival at the subscriber, p50/p99, at a
  light load, at 1,000 and at 5,000 readings/s, and at 5,000 with one of the machine's cores
  kept busy by an unrelated process (a gateway also runs other things; a noisy machine here);
- the peer, side by side: a bare publisher process sending pre-built reading messages through
  the same core to the same subscriber as fast as it can (async, 512 in flight), and the same
  publisher's one-message latency, with the component idle and with it at 5,000 readings/s
  (what any message meets through the core at that load) and with the busy core besides.
  Ratios are component / peer.

    .venv/bin/python benchmarks/sensing_rate.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.common import topics  # noqa: E402
from localcore.testing import running_core  # noqa: E402

NAME = "com.edgebundle.Sensing"
PEER_TOPIC = "bench/peer/readings"
HOLDER_RECIPE = """
RecipeFormatVersion: "2020-01-25"
ComponentName: {name}
ComponentVersion: "1.0.0"
ComponentConfiguration:
  DefaultConfiguration:
    accessControl:
      aws.greengrass.ipc.pubsub:
        {name}:pubsub:1:
          operations: [{operation}]
          resources: {resources}
Manifests:
  - Platform: {{os: linux}}
    Lifecycle:
      Run:
        Script: exec python3 -c "import signal; signal.pause()"
"""


def sensor(interval: float, spike_rate: float, count: int = 1) -> dict[str, Any]:
    """``count`` simulated sensors every ``interval`` s (``bench``, ``bench-2``, ...); a rule on the first."""
    return {
        "sensors": [
            {
                "id": "bench" if n == 1 else f"bench-{n}",
                "driver": "simulated",
                "intervalSeconds": interval,
                "simulation": {
                    "seed": n,
                    "readErrorRate": 0.0,
                    "spike": {"rate": spike_rate, "minSamples": 1, "maxSamples": 1, "magnitude": 30.0},
                    "step": {"rate": 0.0, "minSamples": 1, "maxSamples": 1},
                    "stuck": {"rate": 0.0, "minSamples": 1, "maxSamples": 1},
                    "dropout": {"rate": 0.0, "minSamples": 1, "maxSamples": 1},
                },
            }
            for n in range(1, count + 1)
        ],
        "rules": [
            {
                "type": "threshold",
                "id": "hot",
                "sensor": "bench",
                "metric": "temperature",
                "above": 40.0,
                "severity": "critical",
            }
        ],
        "healthIntervalSeconds": 5.0,
    }


def _connect(socket_path: str, token: str) -> Any:
    import awsiot.greengrasscoreipc
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    connection = awsiot.greengrasscoreipc.connect(ipc_socket=socket_path, authtoken=token, timeout=10)
    return GreengrassCoreIPCClientV2(client=connection)


def observer_main(socket_path: str, token: str, conn: Connection) -> None:
    """Subscriber process: on each ("window", seconds) command, count and time what arrives."""
    from components.common.exceptions import MessageError
    from components.common.ipc import decode_subscription_message
    from components.common.messages import iter_readings

    client = _connect(socket_path, token)
    lock = threading.Lock()
    state: dict[str, Any] = {"counting": False, "readings": 0, "peer": 0, "latencies": [], "peer_lat": []}
    state.update(messages=0, duplicates=0, invalid=0)
    # Every reading ever received, to catch one arriving twice: seqs as plain ints per source, as
    # ~100k tracked tuples would make the garbage collector pause this process (and so delay the
    # alerts it times) for milliseconds.
    seen: dict[str, set[int]] = {}

    def on_reading(event: Any) -> None:
        try:
            readings = list(iter_readings(decode_subscription_message(event)))
        except (MessageError, ValueError):
            with lock:
                state["invalid"] += 1
            return
        with lock:
            for reading in readings:
                seqs = seen.setdefault(reading.source, set())
                if reading.seq in seqs:
                    state["duplicates"] += 1
                seqs.add(reading.seq)
            if state["counting"]:
                state["readings"] += len(readings)
                state["messages"] += 1

    def on_alert(event: Any) -> None:
        now = time.time()
        message = decode_subscription_message(event)
        if state["counting"] and message.get("state") == "raised" and message.get("reading"):
            with lock:
                state["latencies"].append((now - message["reading"]["ts"]) * 1000.0)

    def on_peer(event: Any) -> None:
        now = time.time()
        if state["counting"]:
            message = decode_subscription_message(event)
            with lock:
                state["peer"] += 1
                if message.get("timed"):
                    state["peer_lat"].append((now - message["ts"]) * 1000.0)

    for topic, handler in ((topics.READINGS, on_reading), (topics.ALERTS, on_alert), (PEER_TOPIC, on_peer)):
        client.subscribe_to_topic(topic=topic, on_stream_event=handler)
    conn.send("ready")
    while True:
        command = conn.recv()
        if command == "exit":
            break
        with lock:
            state.update(readings=0, messages=0, peer=0, latencies=[], peer_lat=[], counting=True)
        started = time.monotonic()
        threading.Event().wait(command)
        with lock:
            state["counting"] = False
            elapsed = time.monotonic() - started
            conn.send(
                {
                    k: state[k]
                    for k in (
                        "readings",
                        "messages",
                        "duplicates",
                        "invalid",
                        "peer",
                        "latencies",
                        "peer_lat",
                    )
                }
                | {"seconds": elapsed}
            )
    client.close()


def peer_main(socket_path: str, token: str, seconds: float, timed_rate: float, conn: Connection) -> None:
    """Bare publisher: pre-built reading messages, as fast as possible or ``timed_rate``/s with send times."""
    from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

    from components.common.messages import reading_message

    client = _connect(socket_path, token)
    slots = threading.BoundedSemaphore(512)
    base = reading_message(
        "peer",
        0,
        0.0,
        "environment",
        {"temperature": 21.0, "humidity": 40.0},
        {"temperature": "C", "humidity": "%"},
    )
    sent = 0
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while time.monotonic() < deadline:
        message = dict(base, seq=sent, ts=time.time())
        if timed_rate:
            message["timed"] = True
        slots.acquire()
        future = client.publish_to_topic_async(
            topic=PEER_TOPIC, publish_message=PublishMessage(json_message=JsonMessage(message=message))
        )
        future.add_done_callback(lambda _f: slots.release())
        sent += 1
        if timed_rate:
            pause.wait(1.0 / timed_rate)
    for _ in range(512):
        slots.acquire(timeout=10)
    client.close()
    conn.send(sent)


def busy_main(seconds: float) -> None:
    """An unrelated process keeping one core busy for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def component_process() -> psutil.Process:
    for child in psutil.Process().children(recursive=True):
        try:
            if "components.sensing" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    raise RuntimeError("the sensing component's process was not found")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement window per row")
    # ~80 alerts in 8 s made "p99" the largest sample or two; 40 s gives several hundred.
    parser.add_argument(
        "--alert-seconds", type=float, default=40.0, help="measurement window per alert latency row"
    )
    args = parser.parse_args()
    seconds = args.seconds
    ctx = mp.get_context("spawn")

    with tempfile.TemporaryDirectory(prefix="sensing-bench-") as tmp:
        tmp_path = Path(tmp)
        observer_recipe = tmp_path / "bench.Observer.yaml"
        observer_recipe.write_text(
            HOLDER_RECIPE.format(
                name="bench.Observer",
                operation="aws.greengrass#SubscribeToTopic",
                resources=json.dumps([topics.READINGS, topics.ALERTS, PEER_TOPIC]),
            )
        )
        peer_recipe = tmp_path / "bench.Peer.yaml"
        peer_recipe.write_text(
            HOLDER_RECIPE.format(
                name="bench.Peer",
                operation="aws.greengrass#PublishToTopic",
                resources=json.dumps([PEER_TOPIC]),
            )
        )
        deployment = {"components": {NAME: {"configurationUpdate": {"merge": sensor(0.01, 0.0)}}}}
        with running_core(
            tmp_path,
            [ROOT / "recipes" / f"{NAME}.yaml", observer_recipe, peer_recipe],
            thing_name="bench-1",
            deployment=deployment,
            project_root=ROOT,
        ) as core:
            for name in (NAME, "bench.Observer", "bench.Peer"):
                core.wait_for_state(name, "RUNNING")
            core.wait_for_log(NAME, "event=running")
            socket_path = str(core.core.socket_path)
            parent, child = ctx.Pipe()
            observer = ctx.Process(
                target=observer_main, args=(socket_path, core.token("bench.Observer"), child), daemon=True
            )
            observer.start()
            assert parent.recv() == "ready"
            process = component_process()

            def window(seconds: float, busy_core: bool = False) -> tuple[dict[str, Any], float]:
                busy = (
                    ctx.Process(target=busy_main, args=(seconds + 0.5,), daemon=True) if busy_core else None
                )
                if busy is not None:
                    busy.start()
                before = process.cpu_times()
                parent.send(seconds)
                result: dict[str, Any] = parent.recv()
                after = process.cpu_times()
                if busy is not None:
                    busy.join(10)
                cpu = (after.user - before.user + after.system - before.system) / result["seconds"] * 100
                return result, cpu

            def reconfigure(interval: float, spike_rate: float, count: int = 1) -> None:
                # a list is one leaf in the configuration: the merge replaces the sensors whole
                core.config.merge(NAME, sensor(interval, spike_rate, count))
                threading.Event().wait(1.0)  # let the sensor loop restart and reach its pace

            rows = []
            # One sensor reads at most 10,000 times a second (intervalSeconds >= 0.0001); the
            # component's ceiling takes several.
            for target, count in ((1000, 1), (2500, 1), (5000, 1), (10000, 1), (20000, 2), (40000, 4)):
                reconfigure(count / target, 0.0, count)
                result, cpu = window(seconds)
                per_message = result["readings"] / max(result["messages"], 1)
                rows.append((target, count, result["readings"] / result["seconds"], per_message, cpu))

            # The peer: a bare publisher through the same core to the same subscriber.
            def run_peer(
                timed_rate: float, component_interval: float = 1.0, busy_core: bool = False
            ) -> dict[str, Any]:
                peer_parent, peer_child = ctx.Pipe()
                peer = ctx.Process(
                    target=peer_main,
                    args=(socket_path, core.token("bench.Peer"), seconds, timed_rate, peer_child),
                    daemon=True,
                )
                reconfigure(component_interval, 0.0)  # by default the component idles meanwhile
                peer.start()
                result, _ = window(seconds, busy_core)
                peer_parent.recv()
                peer.join(10)
                return result

            peer_flat_out = run_peer(0.0)
            peer_rate = peer_flat_out["peer"] / peer_flat_out["seconds"]
            peer_latency = run_peer(200.0)["peer_lat"]
            # The same one-message latency while the component sends 5,000 readings/s through the
            # same core to the same subscriber: what any message meets on this machine at that load.
            peer_latency_loaded = run_peer(200.0, 1 / 5000)["peer_lat"]
            peer_latency_busy = run_peer(200.0, 1 / 5000, busy_core=True)["peer_lat"]

            latencies = {}
            for label, interval, spike_rate, busy_core in (
                ("200 readings/s", 1 / 200, 0.1, False),
                ("1000 readings/s", 1 / 1000, 0.02, False),
                ("5000 readings/s", 1 / 5000, 0.004, False),
                ("5000/s, busy core", 1 / 5000, 0.004, True),
            ):
                reconfigure(interval, spike_rate)
                result, _ = window(args.alert_seconds, busy_core)
                latencies[label] = result["latencies"]
            final, _cpu = window(0.5)  # duplicates and invalid messages, over the whole run
            duplicates, invalid = final["duplicates"], final["invalid"]
            parent.send("exit")
            observer.join(10)

    print(f"\nsensing component through localcore (simulated DHT22, window {seconds:g} s per row)\n")
    print(
        f"{'target /s':>10} {'sensors':>8} {'delivered /s':>13} {'of target':>10} {'readings/msg':>13} "
        f"{'component CPU %':>16} {'vs peer':>8}"
    )
    for target, count, delivered, per_message, cpu in rows:
        print(
            f"{target:>10} {count:>8} {delivered:>13.0f} {delivered / target:>10.0%} {per_message:>13.1f} "
            f"{cpu:>16.0f} {delivered / peer_rate:>8.2f}"
        )
    print(f"{'peer':>10} {'':>8} {peer_rate:>13.0f} {'':>10} {1.0:>13.1f} {'':>16} {1.0:>8.2f}")
    print(f"\nreadings received more than once: {duplicates}; invalid messages: {invalid}")
    print("\nalert latency, reading timestamp -> alert at the subscriber (ms)\n")
    print(f"{'load':>18} {'alerts':>7} {'p50':>7} {'p99':>7} {'max':>7}")
    for label, values in latencies.items():
        print(
            f"{label:>18} {len(values):>7} {percentile(values, 50):>7.2f} {percentile(values, 99):>7.2f} "
            f"{max(values, default=float('nan')):>7.2f}"
        )
    for label, values in (
        ("peer publish 200/s", peer_latency),
        ("peer, sensing 5k/s", peer_latency_loaded),
        ("peer, 5k/s + busy", peer_latency_busy),
    ):
        print(
            f"{label:>18} {len(values):>7} {percentile(values, 50):>7.2f} "
            f"{percentile(values, 99):>7.2f} {max(values, default=float('nan')):>7.2f}"
        )
    if peer_latency and latencies:
        light = latencies["200 readings/s"]
        if light:
            print(
                f"\nalert p50 / peer one-message p50: {statistics.median(light) / statistics.median(peer_latency):.2f}"
            )


if __name__ == "__main__":
    main()
