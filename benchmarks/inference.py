"""Benchmark: raw TFLite invoke per model variant, and the inference component end to end.

Prints four tables, measured in one run on this machine:

1. raw ``invoke`` latency (p50/p99, microseconds) per model and variant at 1 and 2 threads with
   ai-edge-litert (the default runtime), beside tflite-runtime measured the same way in
   ``.venv-tflite`` (a throwaway venv: tflite-runtime needs numpy<2) when that venv exists;
2. the component end to end through localcore's IPC server with real awsiotsdk clients: a
   reading published at 100 readings/s to its anomaly event received (p50/p99, ms), beside the
   component's own share (window complete to event published) and raw invoke of the same variant;
3. windows/s at saturation (readings published as fast as the core takes them);
4. the generic host's overhead over a raw invoke per shipped model at batch 1: a plain
   interpreter's ``set_tensor`` + ``invoke`` + ``get_tensor`` against ``predict_all`` on the
   same input (checks, invoke, every output dequantized: the host's overhead, target under
   20 us), on float input (the host also quantizes it), and ``HostedModel.run`` (plus the card's
   interpretation: top-k, NMS); each paired with a raw run so the machine's drift cancels.

Run: ``.venv/bin/python benchmarks/inference.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.common.model_manifest import Manifest  # noqa: E402
from components.common.model_runtime import (  # noqa: E402
    ModelRuntime,
    load_interpreter_class,
    quantize,
    runtime_version,
)

TFLITE_VENV_PYTHON = ROOT / ".venv-tflite" / "bin" / "python"


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) of a list."""
    array = np.asarray(samples)
    return float(np.percentile(array, 50)), float(np.percentile(array, 99))


def raw_invoke(runs: int, runtime: str | None = None) -> dict[str, dict[str, float]]:
    """``{"model/variant/threads": {"p50": us, "p99": us}}`` for every shipped variant."""
    manifest = Manifest.load()
    results: dict[str, dict[str, float]] = {}
    for name in manifest.models:
        for variant in manifest.variants(name):
            spec = manifest.variant(name, variant)
            for threads in (1, 2):
                model = ModelRuntime.load(
                    spec.path, expected=spec, num_threads=threads, runtime=runtime, warmup=20
                )
                x = np.random.default_rng(0).uniform(0, 1, (1, *spec.inputs[0].shape[1:])).astype(np.float32)
                item = quantize(x, spec.inputs[0]) if spec.inputs[0].quantized else x
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    model.invoke_once(item)
                    times.append((time.perf_counter() - start) * 1e6)
                p50, p99 = percentiles(times)
                results[f"{name}/{variant}/{threads}"] = {"p50": p50, "p99": p99}
    return results


def tflite_runtime_raw(runs: int) -> dict[str, dict[str, float]] | None:
    """The same measurement with tflite-runtime in ``.venv-tflite``, or None if it is not there."""
    if not TFLITE_VENV_PYTHON.exists():
        return None
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGEBUNDLE_TFLITE_RUNTIME": "tflite-runtime"}
    done = subprocess.run(
        [str(TFLITE_VENV_PYTHON), __file__, "--raw-json", "--runs", str(runs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        print(f"tflite-runtime run failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    result: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def host_overhead(runs: int) -> dict[str, dict[str, float]]:
    """Per ``model/variant``: raw, predict and run p50 (us) and the paired overheads' medians."""
    from components.common.model_host import load_hosted_model

    manifest = Manifest.load()
    results: dict[str, dict[str, float]] = {}
    _, interpreter_class = load_interpreter_class()
    for name in manifest.models:
        for variant in manifest.variants(name):
            spec = manifest.variant(name, variant)
            hosted = load_hosted_model(
                where=name,
                model=name,
                variant=variant,
                path=None,
                sha256=None,
                card=None,
                version=None,
                manifest_path=None,
                num_threads=1,
                probe=lambda runtime, _card: np.zeros((1, *runtime.inputs[0].shape[1:]), np.float32),
            )
            raw = interpreter_class(model_path=str(spec.path), num_threads=1)
            raw.allocate_tensors()
            in_index = raw.get_input_details()[0]["index"]
            out_indices = [d["index"] for d in raw.get_output_details()]
            low = -1.0 if name.startswith("shelf") else 0.0
            x = np.random.default_rng(0).uniform(low, 1.0, (1, *spec.inputs[0].shape[1:])).astype(np.float32)
            item = quantize(x, spec.inputs[0]) if spec.inputs[0].quantized else x
            raw_t, predict_t, float_t, run_t = [], [], [], []
            for _ in range(runs + 50):
                start = time.perf_counter()
                raw.set_tensor(in_index, item)
                raw.invoke()
                for index in out_indices:
                    raw.get_tensor(index)
                t1 = time.perf_counter()
                hosted.runtime.predict_all(item)  # the same input as raw: the host's own overhead
                t2 = time.perf_counter()
                hosted.runtime.predict_all(x)  # float input: the host quantizes it
                t3 = time.perf_counter()
                hosted.run(item)  # plus the card's interpretation (top-k, NMS)
                t4 = time.perf_counter()
                raw_t.append((t1 - start) * 1e6)
                predict_t.append((t2 - t1) * 1e6)
                float_t.append((t3 - t2) * 1e6)
                run_t.append((t4 - t3) * 1e6)
            raw_a, predict_a, float_a, run_a = (
                np.asarray(t[50:]) for t in (raw_t, predict_t, float_t, run_t)
            )
            results[f"{name}/{variant}"] = {
                "raw": float(np.median(raw_a)),
                "predict": float(np.median(predict_a)),
                "predict_over": float(np.median(predict_a - raw_a)),
                "float_over": float(np.median(float_a - raw_a)),
                "run_over": float(np.median(run_a - raw_a)),
                "batchable": float(hosted.runtime.batchable),
            }
    return results


def component_run(variant: str, readings: int, rate: float | None) -> dict[str, Any]:
    """Run the component on real IPC; publish ``readings`` at ``rate``/s (None: flat out)."""
    import yaml

    from components.common import topics
    from components.common.ipc import ComponentIpc
    from components.common.messages import reading_message
    from components.inference.__main__ import build_and_run
    from components.sensing.drivers.simulated import UNITS, Dht22Simulator, SimulationSettings
    from localcore.config.store import ConfigStore
    from localcore.ipc.testing import ipc_server

    name, thing = "com.edgebundle.Inference", "bench-1"
    recipe = yaml.safe_load((ROOT / "recipes" / f"{name}.yaml").read_text())
    defaults = json.loads(
        json.dumps(recipe["ComponentConfiguration"]["DefaultConfiguration"]).replace("{iot:thingName}", thing)
    )
    store = ConfigStore()
    store.set_defaults(name, defaults)
    store.merge(name, {"models": [{"name": "sensor-anomaly", "variant": variant, "publish": "all"}]})
    acl = {
        "aws.greengrass.ipc.pubsub": {
            "pub": {"operations": ["aws.greengrass#PublishToTopic"], "resources": [topics.READINGS]},
            "sub": {"operations": ["aws.greengrass#SubscribeToTopic"], "resources": [topics.ANOMALIES]},
        }
    }
    sim = Dht22Simulator(SimulationSettings(seed=11).without_anomalies(), period_s=0.01, start_ts=1.79e9)
    messages = [
        reading_message(
            "line1", i, s.ts, "environment", {"temperature": s.temperature, "humidity": s.humidity}, UNITS
        )
        for i, s in enumerate(sim.samples(0, readings + 63))
    ]
    sent_at: dict[float, float] = {}
    latencies: list[float] = []
    done = threading.Event()
    expected = readings
    import tempfile

    with (
        tempfile.TemporaryDirectory() as tmp,
        ipc_server(
            Path(tmp), components={name: defaults["accessControl"], "bench.Line": acl}, config=store
        ) as core,
    ):
        line = ComponentIpc(core.client("bench.Line"), "bench.Line", thing)

        def on_event(event: dict[str, Any]) -> None:
            latencies.append((time.perf_counter() - sent_at[event["windowEnd"]]) * 1000.0)
            if len(latencies) >= expected:
                done.set()

        subscription = line.subscribe_json(topics.ANOMALIES, on_event)
        ipc = ComponentIpc(core.client(name), name, thing)
        stop = threading.Event()
        component_thread = threading.Thread(target=build_and_run, args=(ipc, stop), daemon=True)
        component_thread.start()
        deadline = time.monotonic() + 30
        while core.server.reported_state(name) != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.01)
        # The first 63 readings fill the window; they produce no event.
        for message in messages[:63]:
            line.publish_json(topics.READINGS, message)
        start = time.perf_counter()
        futures = []
        for i, message in enumerate(messages[63:]):
            if rate is not None:
                wait = start + i / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            sent_at[message["ts"]] = time.perf_counter()
            if rate is None:
                futures.append(line.publish_json_async(topics.READINGS, message))
                if len(futures) >= 64:
                    futures.pop(0).result(10)
            else:
                line.publish_json(topics.READINGS, message)
        done.wait(60)
        elapsed = time.perf_counter() - start
        stop.set()
        component_thread.join(10)
        subscription.close()
    p50, p99 = percentiles(latencies) if latencies else (float("nan"), float("nan"))
    return {"events": len(latencies), "p50": p50, "p99": p99, "per_s": len(latencies) / elapsed}


def component_share(variant: str, windows: int) -> tuple[float, float]:
    """The component's own per-window cost, no IPC: ``on_reading`` to event published (p50/p99 ms)."""
    from components.common.messages import reading_message
    from components.inference.config import HostedModelConfig
    from components.inference.host import load_model
    from components.inference.worker import ModelWorker
    from components.sensing.drivers.simulated import UNITS, Dht22Simulator, SimulationSettings

    class Null:
        def publish(self, topic: str, message: dict[str, Any]) -> None:
            pass

    model = load_model(HostedModelConfig(variant=variant, publish="all"), 1)
    worker = ModelWorker(model, Null(), lambda _s, _t: 0, max_batch=32, max_pending=10_000)
    sim = Dht22Simulator(SimulationSettings(seed=12).without_anomalies(), period_s=0.01, start_ts=1.79e9)
    times = []
    for i, s in enumerate(sim.samples(0, windows + 63)):
        message = reading_message(
            "s", i, s.ts, "environment", {"temperature": s.temperature, "humidity": s.humidity}, UNITS
        )
        start = time.perf_counter()
        worker.on_reading(message)
        batch = worker.queue.take(32, timeout=0.0)
        if batch:
            worker.score(batch)
            times.append((time.perf_counter() - start) * 1000.0)
    return percentiles(times)


def main() -> None:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description="inference benchmark")
    parser.add_argument("--runs", type=int, default=1000, help="raw invokes per variant and thread count")
    parser.add_argument("--readings", type=int, default=1000, help="readings per end-to-end run (at 100/s)")
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--raw-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_json:  # the child run in .venv-tflite
        print(json.dumps(raw_invoke(args.runs)))
        return
    if args.quick:
        args.runs, args.readings = 300, 200

    manifest = Manifest.load()
    print("\n## Shipped models (manifest; held-out data)\n")
    print("| model | variant | size B | gzip B | sparsity | held-out | predict p50/p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for name in manifest.models:
        for variant, entry in sorted(manifest.model(name)["variants"].items()):
            m, lat = entry["metrics"], entry["latency_ms"]
            shown = ", ".join(
                f"{k} {v:.4f}" for k, v in m.items() if k not in ("samples", "positives", "objects")
            )
            print(
                f"| {name} | {variant} | {entry['size_bytes']} | {entry['gzip_bytes']} | {entry.get('sparsity', 0):.2f} "
                f"| {shown} | {lat['p50']:.3f}/{lat['p99']:.3f} |"
            )

    print(
        "\n## Host overhead over a raw invoke, batch 1, 1 thread, microseconds (p50; overheads: paired medians)\n"
    )
    print(
        "| model | variant | batchable | raw invoke | predict_all | host overhead "
        "| float input (host quantizes) - raw | run (card: top-k, NMS) - raw |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key, value in host_overhead(args.runs).items():
        name, variant = key.split("/")
        print(
            f"| {name} | {variant} | {'yes' if value['batchable'] else 'no'} | {value['raw']:.1f} "
            f"| {value['predict']:.1f} | {value['predict_over']:.1f} | {value['float_over']:.1f} "
            f"| {value['run_over']:.1f} |"
        )

    litert = raw_invoke(args.runs)
    tflite = tflite_runtime_raw(args.runs)
    print(f"\n## Raw invoke, microseconds (ai-edge-litert {runtime_version('ai-edge-litert')}", end="")
    print(", tflite-runtime 2.14 in .venv-tflite)\n" if tflite else "; tflite-runtime not installed)\n")
    print(
        "| model | variant | threads | litert p50 | litert p99 | tflite-rt p50 | tflite-rt p99 | tflite-rt/litert p50 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key, value in litert.items():
        name, variant, threads = key.split("/")
        other = (tflite or {}).get(key)
        ratio = f"{other['p50'] / value['p50']:.2f}x" if other else "-"
        o50 = f"{other['p50']:.1f}" if other else "-"
        o99 = f"{other['p99']:.1f}" if other else "-"
        print(
            f"| {name} | {variant} | {threads} | {value['p50']:.1f} | {value['p99']:.1f} | {o50} | {o99} | {ratio} |"
        )

    print("\n## Inference component, sensor_anomaly, real IPC (localcore), 1 thread\n")
    print(
        "| variant | raw invoke p99 ms | component share p50/p99 ms | end-to-end p50 ms | end-to-end p99 ms "
        "| e2e p99 - raw p99 ms | events | saturation windows/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for variant in manifest.variants("sensor_anomaly"):
        raw99 = litert[f"sensor_anomaly/{variant}/1"]["p99"] / 1000.0
        share = component_share(variant, args.readings)
        paced = component_run(variant, args.readings, rate=100.0)
        flat = component_run(variant, args.readings * 5, rate=None)
        print(
            f"| {variant} | {raw99:.3f} | {share[0]:.3f}/{share[1]:.3f} | {paced['p50']:.3f} | {paced['p99']:.3f} "
            f"| {paced['p99'] - raw99:.3f} | {paced['events']}/{args.readings} | {flat['per_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
