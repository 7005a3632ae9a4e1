"""One publisher -> one subscriber through localcore's IPC server, next to the same flow through
mosquitto, with real clients on both sides.

- localcore: ``GreengrassCoreIPCClientV2`` publisher (async style, a window of requests in flight)
  and subscriber, each in its own process; the server runs in this process.
- mosquitto: the Debian broker started here on 127.0.0.1 on a free port (stopped by its PID),
  paho-mqtt publisher and subscriber at QoS 0, each in its own process.

CPU per message is measured for each side (publisher, server or broker, subscriber) over the flow,
which shows where the time goes. Messages are JSON of about 100 B and 4 KB carrying a sequence number and a send time
(``time.monotonic()``, system-wide on Linux, so comparable across processes). Printed per flow:
delivered msgs/s (received / (last receive - first send)), loss, p50/p99 latency, and the
localcore/mosquitto ratio.

    .venv/bin/python benchmarks/ipc_pubsub.py [--count 40000] [--window 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOPIC = "bench/pubsub"
IDLE_SECONDS = 3.0  # a subscriber stops this long after its last message once the publisher is done


@dataclass
class FlowResult:
    """What one publisher -> subscriber run measured."""

    sent: int
    received: int
    seconds: float
    latencies_ms: list[float]
    in_order: bool
    cpu_us: tuple[float, float, float] = (0.0, 0.0, 0.0)  # publisher, server/broker, subscriber per message

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    @property
    def loss(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def make_message(seq: int, size: int) -> dict[str, Any]:
    """A JSON message of about ``size`` bytes once serialized."""
    body: dict[str, Any] = {"seq": seq, "ts": time.monotonic(), "pad": ""}
    pad = size - len(json.dumps(body))
    body["pad"] = "x" * max(0, pad)
    return body


def _cpu() -> float:
    """CPU seconds this process used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _proc_cpu(pid: int) -> float:
    """CPU seconds another process used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Receipts:
    """Subscriber-side bookkeeping shared by both flows."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seqs: list[int] = []
        self.latencies: list[float] = []
        self.last = 0.0

    def record(self, message: dict[str, Any]) -> None:
        now = time.monotonic()
        with self.lock:
            self.seqs.append(message["seq"])
            self.latencies.append((now - message["ts"]) * 1000.0)
            self.last = now


def _wait_idle(receipts: _Receipts, count: int, publisher_done: MpEvent) -> None:
    while True:
        time.sleep(0.05)
        with receipts.lock:
            got, last = len(receipts.seqs), receipts.last
        if got >= count:
            return
        if publisher_done.is_set() and time.monotonic() - max(last, 0) > IDLE_SECONDS:
            return


# --- localcore -------------------------------------------------------------------------------------
def _ipc_client(socket_path: str, token: str) -> Any:
    import awsiot.greengrasscoreipc
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    connection = awsiot.greengrasscoreipc.connect(ipc_socket=socket_path, authtoken=token)
    return GreengrassCoreIPCClientV2(client=connection, executor=None)


def ipc_subscriber(socket_path: str, token: str, count: int, ready: MpEvent, done: MpEvent, out: Any) -> None:
    """Subscribe, count and time every message, report."""
    receipts = _Receipts()
    client = _ipc_client(socket_path, token)
    # executor=None: events are handled on the CRT thread, as a lean subscriber would.
    client.subscribe_to_topic(topic=TOPIC, on_stream_event=lambda e: receipts.record(e.json_message.message))
    cpu = _cpu()
    ready.set()
    _wait_idle(receipts, count, done)
    out.put((receipts.seqs, receipts.latencies, receipts.last, _cpu() - cpu))
    client.close()


def ipc_publisher(
    socket_path: str, token: str, count: int, size: int, window: int, ready: MpEvent, done: MpEvent, out: Any
) -> None:
    """Publish ``count`` messages with at most ``window`` requests in flight."""
    from collections import deque

    from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

    client = _ipc_client(socket_path, token)
    ready.wait(30)
    pending: deque[Any] = deque()
    cpu = _cpu()
    start = time.monotonic()
    for seq in range(count):
        message = PublishMessage(json_message=JsonMessage(message=make_message(seq, size)))
        pending.append(client.publish_to_topic_async(topic=TOPIC, publish_message=message))
        if len(pending) >= window:
            pending.popleft().result()
    while pending:
        pending.popleft().result()
    done.set()
    out.put((start, _cpu() - cpu))
    client.close()


def run_localcore(count: int, size: int, window: int) -> FlowResult:
    """The flow through localcore's IpcServer."""
    from localcore.ipc.recording_cloud import RecordingCloudAdapter
    from localcore.ipc.server import IpcServer

    workdir = Path(tempfile.mkdtemp(prefix="lc-bench-"))
    server = IpcServer(
        socket_path=workdir / "ipc.socket", shadows=None, config=None, cloud=RecordingCloudAdapter()
    )
    policy = {"aws.greengrass.ipc.pubsub": {"bench": {"operations": ["*"], "resources": [TOPIC]}}}
    pub_token = server.register_component("bench.Publisher", policy)
    sub_token = server.register_component("bench.Subscriber", policy)
    server.start()
    try:
        return _run_pair(
            (ipc_subscriber, (str(server.socket_path), sub_token, count)),
            (ipc_publisher, (str(server.socket_path), pub_token, count, size, window)),
            count,
        )
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- mosquitto -------------------------------------------------------------------------------------
def _paho_client(port: int, client_id: str) -> Any:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_queued_messages_set(0)  # unbounded, as the IPC client's own queue
    client.connect("127.0.0.1", port)
    return client


def mqtt_subscriber(port: int, count: int, ready: MpEvent, done: MpEvent, out: Any) -> None:
    """Subscribe at QoS 0, count and time every message, report."""
    receipts = _Receipts()
    client = _paho_client(port, "bench-sub")
    subscribed = threading.Event()
    client.on_message = lambda c, u, msg: receipts.record(json.loads(msg.payload))
    client.on_subscribe = lambda *args: subscribed.set()
    client.loop_start()
    client.subscribe(TOPIC, qos=0)
    subscribed.wait(10)
    cpu = _cpu()
    ready.set()
    _wait_idle(receipts, count, done)
    out.put((receipts.seqs, receipts.latencies, receipts.last, _cpu() - cpu))
    client.loop_stop()
    client.disconnect()


def mqtt_publisher(
    port: int, count: int, size: int, window: int, ready: MpEvent, done: MpEvent, out: Any
) -> None:
    """Publish ``count`` messages at QoS 0 as fast as paho takes them."""
    client = _paho_client(port, "bench-pub")
    client.loop_start()
    ready.wait(30)
    cpu = _cpu()
    start = time.monotonic()
    last = None
    for seq in range(count):
        last = client.publish(TOPIC, json.dumps(make_message(seq, size)), qos=0)
    if last is not None:
        last.wait_for_publish(60)
    done.set()
    out.put((start, _cpu() - cpu))
    client.loop_stop()
    client.disconnect()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_mosquitto(count: int, size: int, window: int) -> FlowResult:
    """The same flow through a mosquitto broker started for it."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(binary):
        raise SystemExit("mosquitto is not installed: apt-get install -y mosquitto (make bench does this)")
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lc-mosq-"))
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n"
    )
    broker = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline or broker.poll() is not None:
                raise SystemExit(f"mosquitto did not start on port {port}")
            time.sleep(0.05)
        return _run_pair(
            (mqtt_subscriber, (port, count)), (mqtt_publisher, (port, count, size, window)), count
        )
    finally:
        broker.terminate()
        try:
            broker.wait(5)
        except subprocess.TimeoutExpired:
            broker.kill()
        shutil.rmtree(workdir, ignore_errors=True)


# --- harness ---------------------------------------------------------------------------------------
def _run_pair(
    subscriber: tuple[Any, tuple[Any, ...]],
    publisher: tuple[Any, tuple[Any, ...]],
    count: int,
    middle_cpu: Any = _cpu,
) -> FlowResult:
    ctx = mp.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    sub_out, pub_out = ctx.Queue(), ctx.Queue()
    sub = ctx.Process(target=subscriber[0], args=(*subscriber[1], ready, done, sub_out))
    pub = ctx.Process(target=publisher[0], args=(*publisher[1], ready, done, pub_out))
    sub.start()
    pub.start()
    ready.wait(120)
    middle_before = middle_cpu()
    start, pub_cpu = pub_out.get(timeout=600)
    seqs, latencies, last, sub_cpu = sub_out.get(timeout=600)
    middle = middle_cpu() - middle_before
    pub.join(30)
    sub.join(30)
    return FlowResult(
        sent=count,
        received=len(seqs),
        seconds=max(last - start, 1e-9),
        latencies_ms=latencies,
        in_order=seqs == sorted(seqs),
        cpu_us=(pub_cpu / count * 1e6, middle / count * 1e6, sub_cpu / count * 1e6),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--count", type=int, default=40_000, help="messages per flow at 100 B (4 KB uses a quarter)"
    )
    parser.add_argument(
        "--window", type=int, default=200, help="IPC publish requests in flight (more adds latency, not rate)"
    )
    args = parser.parse_args()
    rows = []
    for size, count in ((100, args.count), (4096, max(1, args.count // 4))):
        core = run_localcore(count, size, args.window)
        broker = run_mosquitto(count, size, args.window)
        rows.append((size, core, broker))
    header = (
        f"{'size':>6} {'flow':<10} {'sent':>7} {'recv':>7} {'msgs/s':>9} {'loss':>7} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'order':>6}  {'CPU us/msg pub/core/sub':>24}"
    )
    print(header)
    print("-" * len(header))
    for size, core, broker in rows:
        for name, result in (("localcore", core), ("mosquitto", broker)):
            print(
                f"{size:>6} {name:<10} {result.sent:>7} {result.received:>7} {result.rate:>9.0f} "
                f"{result.loss:>7.2%} {result.percentile(50):>8.1f} {result.percentile(99):>8.1f} "
                f"{'yes' if result.in_order else 'NO':>6}  "
                f"{'/'.join(f'{v:.0f}' for v in result.cpu_us):>24}"
            )
        ratio = core.rate / broker.rate if broker.rate else float("inf")
        print(f"{size:>6} {'ratio':<10} localcore/mosquitto delivered rate = {ratio:.2f}")


if __name__ == "__main__":
    main()
