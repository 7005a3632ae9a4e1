"""The generic model host: same numbers as a raw interpreter, cards held to the file, batching only where correct.

Issue #20's "done when": a test compares the host's results with a raw interpreter on the same
inputs, batch sizes 1 to 8, for every shipped model; a card that does not fit is refused naming
the file, the tensor and the expected value.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.common.model_card import load_card, parse_card
from components.common.model_errors import ModelCardError
from components.common.model_host import ModelSwapRejected, load_hosted_model
from components.common.model_interpret import interpret
from components.common.model_manifest import Manifest
from components.common.model_runtime import ModelRuntime, load_interpreter_class

from .fake_interpreter import fake_of

MANIFEST = Manifest.load()
VARIANTS = [(name, variant) for name in MANIFEST.models for variant in MANIFEST.variants(name)]


def zeros_probe(runtime: ModelRuntime, _card: Any) -> np.ndarray:
    return np.zeros((1, *runtime.inputs[0].shape[1:]), dtype=np.float32)


def raw_interpreter_outputs(path: Path, x: np.ndarray) -> list[np.ndarray]:
    """Each item through its own plain interpreter invoke, quantized and dequantized by hand from
    the tensor details: nothing of the host's code on this side."""
    _, interpreter_class = load_interpreter_class()
    interpreter = interpreter_class(model_path=str(path))
    interpreter.allocate_tensors()
    detail_in = interpreter.get_input_details()[0]
    per_item: list[list[np.ndarray]] = []
    for item in x:
        feed = item[None]
        scale, zero = detail_in["quantization"]
        if scale:
            info = np.iinfo(detail_in["dtype"])
            feed = np.clip(np.rint(feed / scale) + zero, info.min, info.max).astype(detail_in["dtype"])
        interpreter.set_tensor(detail_in["index"], feed.astype(detail_in["dtype"]))
        interpreter.invoke()
        outs = []
        for detail in interpreter.get_output_details():
            value = interpreter.get_tensor(detail["index"])[0]
            scale, zero = detail["quantization"]
            outs.append((value.astype(np.float32) - zero) * scale if scale else value.astype(np.float32))
        per_item.append(outs)
    return [np.stack([item[k] for item in per_item]) for k in range(len(per_item[0]))]


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_the_host_gives_a_raw_interpreters_numbers_at_batch_1_to_8(name: str, variant: str) -> None:
    # GIVEN a shipped model hosted by its card, and inputs in its input's range
    spec = MANIFEST.variant(name, variant)
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
        probe=zeros_probe,
    )
    low = -1.0 if name.startswith("shelf") else 0.0
    x = np.random.default_rng(3).uniform(low, 1.0, (8, *spec.inputs[0].shape[1:])).astype(np.float32)
    raw = raw_interpreter_outputs(spec.path, x)
    for n in range(1, 9):
        # WHEN the host runs a batch of n
        ours = hosted.runtime.predict_all(x[:n])
        # THEN every output matches the raw interpreter item by item (to one quantization step)
        assert len(ours) == len(raw) == len(spec.outputs)
        for k, (got, want) in enumerate(zip(ours, raw, strict=True)):
            step = spec.outputs[k].scale if spec.outputs[k].quantized else 1e-5
            assert got.shape == (n, *spec.outputs[k].shape[1:])
            assert np.allclose(got, want[:n], atol=step * 1.01, rtol=0), (name, variant, n, k)
        # AND what the card makes of them is what it makes of the raw outputs
        mine = hosted.run(x[:n])
        theirs = interpret(hosted.card, tuple(r[:n] for r in raw))
        for a, b in zip(mine, theirs, strict=True):
            if a.score is not None:
                assert b.score is not None and abs(a.score - b.score) < 0.01
            assert [c for c, _ in a.classes] == [c for c, _ in b.classes]
            assert [d.label for d in a.detections] == [d.label for d in b.detections]


def own_model(tmp_path: Path, name: str, variant: str, card: dict[str, Any]) -> tuple[str, str]:
    spec = MANIFEST.variant(name, variant)
    path = tmp_path / "own.tflite"
    shutil.copy(spec.path, path)
    (tmp_path / "own.card.json").write_text(json.dumps(card))
    return str(path), spec.sha256


def load_own(path: str, sha256: str) -> Any:
    return load_hosted_model(
        where="model 'own'",
        model=None,
        variant="int8",
        path=path,
        sha256=sha256,
        card=None,
        version=None,
        manifest_path=None,
        num_threads=1,
        probe=zeros_probe,
    )


def test_a_model_of_your_own_runs_from_its_card_and_labels_file(tmp_path: Path) -> None:
    # GIVEN a copied classifier with a card beside it and labels in a file
    (tmp_path / "labels.txt").write_text("nothing\ntin\ncarton\nflask\n")
    card = {
        "name": "my-classifier",
        "version": "3.1.0",
        "input": {"source": "image", "colour": "rgb", "normalisation": {"range": [-1, 1]}},
        "output": {"kind": "classification", "activation": "softmax", "labelsFile": "labels.txt", "topK": 2},
    }
    path, sha = own_model(tmp_path, "shelf_products", "int8", card)
    # WHEN it is hosted
    hosted = load_own(path, sha)
    # THEN its name, version and labels are the card's, with the top two classes per item
    assert (hosted.name, hosted.version, hosted.card.labels) == (
        "my-classifier",
        "3.1.0",
        ("nothing", "tin", "carton", "flask"),
    )
    predictions = hosted.run(np.zeros((3, 96, 96, 3), np.float32))
    assert all(len(p.classes) == 2 and p.classes[0][1] >= p.classes[1][1] for p in predictions)


@pytest.mark.parametrize(
    ("name", "output", "expected"),
    [
        # three labels for a four-class output
        (
            "shelf_products",
            {"kind": "classification", "labels": ["a", "b", "c"]},
            r"output 0 \(StatefulPartitionedCall_1:0, shape \[1, 4\]\) does not fit the card .*own.card.json: "
            r"expected \[1, 3\]: one score per label",
        ),
        # a detector card naming an output the model does not have
        (
            "part_defect",
            {
                "kind": "detection",
                "format": "raw",
                "labels": ["x"],
                "boxes": 0,
                "scores": 1,
                "classes": None,
                "count": None,
            },
            r"output 0 \(StatefulPartitionedCall_1:0, shape \[1, 1\]\) does not fit .*expected boxes \[1, N, 4\]",
        ),
        # a score card on a two-output detector's box tensor
        (
            "shelf_detector",
            {"kind": "score", "tensor": 5},
            r"reads output 5 as the score, the model has 2 outputs",
        ),
    ],
)
def test_a_card_that_does_not_fit_is_refused_naming_file_tensor_and_expected(
    tmp_path: Path, name: str, output: dict[str, Any], expected: str
) -> None:
    image = {"source": "image", "colour": "grey" if name == "part_defect" else "rgb"}
    path, sha = own_model(tmp_path, name, "int8", {"name": "own", "input": image, "output": output})
    with pytest.raises(ModelSwapRejected, match=expected) as raised:
        load_own(path, sha)
    assert path in str(raised.value)  # the file


def test_a_card_on_the_wrong_input_is_refused_naming_the_tensor(tmp_path: Path) -> None:
    card = {"name": "own", "input": {"source": "image", "colour": "rgb"}, "output": {"kind": "score"}}
    path, sha = own_model(tmp_path, "part_defect", "int8", card)
    with pytest.raises(
        ModelSwapRejected, match=re.escape("input 0 (serving_default_image:0, shape [1, 64, 64, 1])")
    ):
        load_own(path, sha)


def test_a_missing_card_names_where_it_was_looked_for(tmp_path: Path) -> None:
    spec = MANIFEST.variant("part_defect", "int8")
    with pytest.raises(
        ModelSwapRejected, match=re.escape(f"model card {tmp_path / 'x.card.json'} does not exist")
    ):
        load_hosted_model(
            where="m",
            model=None,
            variant="int8",
            path=str(tmp_path / "x.tflite"),
            sha256=spec.sha256,
            card=str(tmp_path / "x.card.json"),
            version=None,
            manifest_path=None,
            num_threads=1,
            probe=zeros_probe,
        )


def test_card_keys_are_strict_and_checked() -> None:
    base = {"name": "m", "input": {"source": "image"}, "output": {"kind": "score"}}
    cases = [
        ({**base, "inputs": {}}, "Object contains unknown field `inputs`"),
        (
            {**base, "input": {"source": "image", "color": "rgb"}},
            "input: Object contains unknown field `color`",
        ),
        ({**base, "input": {"source": "camera"}}, "input.source: Invalid value 'camera'"),
        ({**base, "output": {"kind": "classification"}}, "give exactly one of 'labels' or 'labelsFile'"),
        (
            {**base, "input": {"source": "image", "normalisation": {"range": [0, 1], "raw": True}}},
            "give exactly one of 'range', 'mean' with 'std', or 'raw'",
        ),
        ({**base, "output": {"kind": "score", "threshold": 2}}, "output.threshold: Expected `float` <= 1.0"),
        (
            {**base, "input": {"source": "sensorWindow", "preprocessing": "sensor_window_v1", "length": 32}},
            "sensor_window_v1 windows are 64 readings long",
        ),
    ]
    for raw, message in cases:
        with pytest.raises(ModelCardError, match=re.escape(message)):
            parse_card(raw, "test")


def test_a_labels_file_that_is_missing_is_named(tmp_path: Path) -> None:
    card = tmp_path / "c.card.json"
    card.write_text(
        json.dumps(
            {
                "name": "m",
                "input": {"source": "image"},
                "output": {"kind": "classification", "labelsFile": "l.txt"},
            }
        )
    )
    with pytest.raises(ModelCardError, match=re.escape(f"labels file {tmp_path / 'l.txt'} cannot be read")):
        load_card(card)


# -- batching rules, on interpreter fakes standing in for third-party models -------------------


def fake_runtime(kind: str, **kwargs: Any) -> ModelRuntime:
    return ModelRuntime(b"", source=f"{kind}.tflite", interpreter_class=fake_of(kind), **kwargs)


def test_a_batch_first_model_batches_in_one_invoke() -> None:
    runtime = fake_runtime("batch_first", warmup=0)
    assert runtime.batchable
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (out,) = runtime.predict_all(x)
    assert np.array_equal(out, x * 2)
    assert runtime._interpreters[4].invokes == 1  # three items, one invoke (bucket of four)


def test_a_model_whose_output_is_not_batch_first_runs_item_by_item_with_the_right_rows() -> None:
    # The bug: two images in, one (1, ...) output with their rows mixed, and no error.
    runtime = fake_runtime("interleaved", warmup=0)
    assert not runtime.batchable and "for a batch of 2" in (runtime.batch_refusal or "")
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    (out,) = runtime.predict_all(x)
    assert out.shape == (2, 4) and np.array_equal(out, x)  # each item alone: its own row


def test_a_model_that_cannot_be_resized_is_not_truncated_but_runs_item_by_item() -> None:
    runtime = fake_runtime("static", warmup=0)
    assert not runtime.batchable and "cannot run a batch of 2" in (runtime.batch_refusal or "")
    x = np.ones((5, 4), dtype=np.float32)
    assert np.array_equal(runtime.predict_all(x)[0], x * 2)


def test_a_stateful_model_is_not_warmed_into_its_state_never_batched_and_resettable() -> None:
    # GIVEN a streaming model (resource variables), loaded with the usual warm-up count
    runtime = fake_runtime("stateful", warmup=2)
    # THEN the warm-up did not run, and it is not batched
    assert runtime.stateful and not runtime.batchable
    assert runtime._interpreters[1].invokes == 0
    one = np.ones((1, 4), dtype=np.float32)
    assert np.array_equal(runtime.predict(one), one)  # state starts at zero
    assert np.array_equal(runtime.predict(one), one * 2)  # and accumulates
    # WHEN it is reset THEN it starts afresh
    runtime.reset()
    assert np.array_equal(runtime.predict(one), one)
