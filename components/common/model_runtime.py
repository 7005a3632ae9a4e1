"""The one TFLite runtime wrapper, shared by the inference and inspection components.

* Interpreter: ``ai_edge_litert`` where installed (the default that ``pyproject.toml`` installs
  on x86_64 and aarch64), else ``tflite_runtime`` (32-bit ARM). ``EDGEBUNDLE_TFLITE_RUNTIME``
  (``ai-edge-litert`` or ``tflite-runtime``) forces one, for the side-by-side benchmark.
* A file is checked before use: it exists, is a TFLite flatbuffer, is as long as the manifest
  says, has the manifest's sha256, and its tensors match the manifest's specs; each failure is
  its own :class:`~components.common.model_errors.ModelError` subclass naming file and reason.
* :meth:`ModelRuntime.predict_all` takes a float batch (batch first) and returns every output,
  dequantized, with the batch first (:meth:`ModelRuntime.predict`: the first output only). It
  checks shape and dtype and quantizes integer inputs from the tensor's scale and zero point.
* Batches run in one invoke only where that is correct: every input and output is batch-first
  and the model resizes to a batch with its outputs following (checked at load, see
  :attr:`ModelRuntime.batchable`); one interpreter per batch size, sizes rounded up to a power
  of two. Otherwise each item is its own invoke, the results stacked.
* A stateful model (resource variables, or ``stateful=True`` from its card) is never warmed up
  (zeros would enter its state) and never batched; :meth:`ModelRuntime.reset` starts it afresh.

Over 400 lines: the file checks, the batching rules and the state rules all decide how one
interpreter is driven, and are kept beside it.

Example::

    spec = Manifest.load().variant("sensor_anomaly", "int8")
    runtime = ModelRuntime.load(spec.path, expected=spec, num_threads=1)
    scores = runtime.predict(windows)     # (n, 64, 5) float32 -> (n, 1) float32
"""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from components.common.model_errors import (
    BatchResizeError,
    ChecksumMismatchError,
    InputShapeError,
    ModelFileMissingError,
    ModelParseError,
    NotAFlatbufferError,
    RuntimeUnavailableError,
    TensorSpecMismatchError,
    TruncatedModelError,
)
from components.common.model_manifest import TensorSpec, VariantSpec

RUNTIME_ENV = "EDGEBUNDLE_TFLITE_RUNTIME"
RUNTIMES: dict[str, str] = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
}
#: Largest batch one interpreter runs; bigger inputs are split.
MAX_BATCH = 256
#: Ops that hold state between invokes (TFLite resource variables).
STATEFUL_OPS = frozenset({"VAR_HANDLE", "ASSIGN_VARIABLE", "READ_VARIABLE"})
_FLATBUFFER_ID = b"TFL3"  # bytes 4..8 of every TFLite model (schema.fbs file_identifier)


def load_interpreter_class(runtime: str | None = None) -> tuple[str, Callable[..., Any]]:
    """The ``Interpreter`` class to use and its runtime's name.

    Args:
        runtime: ``"ai-edge-litert"`` or ``"tflite-runtime"``; default: ``$EDGEBUNDLE_TFLITE_RUNTIME``,
            else the first installed in that order.

    Raises:
        RuntimeUnavailableError: the requested runtime (or any) is not installed.
    """
    wanted = runtime or os.environ.get(RUNTIME_ENV) or None
    if wanted is not None and wanted not in RUNTIMES:
        raise RuntimeUnavailableError(
            f"unknown TFLite runtime {wanted!r}; expected one of {sorted(RUNTIMES)}"
        )
    candidates = [wanted] if wanted else list(RUNTIMES)
    errors = []
    for name in candidates:
        try:
            module = importlib.import_module(RUNTIMES[name])
        except ImportError as err:
            errors.append(f"{name}: {err}")
            continue
        return name, module.Interpreter
    raise RuntimeUnavailableError("no TFLite runtime installed (" + "; ".join(errors) + ")")


def runtime_version(name: str) -> str:
    """The installed version of a runtime package (``"unknown"`` if it has none)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def quantize(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Float values to the tensor's integer type: ``round(x / scale) + zero_point``, saturated."""
    info = np.iinfo(np.dtype(spec.dtype))
    q = np.rint(values / spec.scale) + spec.zero_point
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantize(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Integer tensor values to float32: ``(q - zero_point) * scale``."""
    return ((values.astype(np.float32) - spec.zero_point) * spec.scale).astype(np.float32)


def _tensor_spec(detail: dict[str, Any]) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        name=str(detail["name"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]).name,
        scale=float(scale),
        zero_point=int(zero_point),
    )


def _bucket(n: int) -> int:
    size = 1
    while size < n:
        size *= 2
    return size


def check_model_bytes(
    content: bytes, path: Path, expected: VariantSpec | None = None, sha256: str | None = None
) -> None:
    """Check a model file's bytes before handing them to an interpreter.

    Raises:
        NotAFlatbufferError: no TFLite identifier.
        TruncatedModelError: shorter than the manifest's ``size_bytes``.
        ChecksumMismatchError: sha256 differs from ``sha256`` (or the manifest's).
    """
    want_sha = sha256 or (expected.sha256 if expected is not None else None)
    if len(content) < 8 or content[4:8] != _FLATBUFFER_ID:
        raise NotAFlatbufferError(
            f"{path}: not a TFLite flatbuffer (bytes 4-8 are {content[4:8]!r}, expected {_FLATBUFFER_ID!r})"
        )
    if expected is not None and sha256 is None and len(content) < expected.size_bytes:
        raise TruncatedModelError(
            f"{path}: {len(content)} bytes, the manifest's {expected.model}/{expected.variant} has {expected.size_bytes}: truncated"
        )
    if want_sha is not None:
        got = hashlib.sha256(content).hexdigest()
        if got != want_sha:
            raise ChecksumMismatchError(f"{path}: sha256 {got}, expected {want_sha}")


class ModelRuntime:
    """A loaded, checked, warmed-up TFLite model; see the module docstring.

    Not thread-safe for concurrent :meth:`predict` calls: one component thread owns it.

    Args:
        content: the model file's bytes (already checked, see :meth:`load`).
        source: where they came from, for messages.
        num_threads: interpreter threads.
        warmup: invocations at load, so the first real one is not the slow one (none for a
            stateful model).
        runtime: force ``"ai-edge-litert"`` or ``"tflite-runtime"``.
        stateful: the model keeps state between invokes (also detected from its ops).
        interpreter_class: an ``Interpreter``-like class to use instead of the runtime's (tests).

    Raises:
        ModelParseError: the interpreter cannot load the bytes.
        TensorSpecMismatchError: the model has more than one input.
    """

    def __init__(
        self,
        content: bytes,
        *,
        source: str = "<bytes>",
        num_threads: int = 1,
        warmup: int = 2,
        runtime: str | None = None,
        stateful: bool = False,
        interpreter_class: Callable[..., Any] | None = None,
    ) -> None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        if interpreter_class is None:
            self.runtime_name, self._interpreter_class = load_interpreter_class(runtime)
        else:
            self.runtime_name, self._interpreter_class = "injected", interpreter_class
        self.source = source
        self.num_threads = num_threads
        self._content = content
        self._interpreters: dict[int, Any] = {}
        self._lock = threading.Lock()
        first = self._interpreter(1)
        details_in, details_out = first.get_input_details(), first.get_output_details()
        self.inputs = tuple(_tensor_spec(d) for d in details_in)
        self.outputs = tuple(_tensor_spec(d) for d in details_out)
        if len(self.inputs) != 1:
            raise TensorSpecMismatchError(
                f"{source}: {len(self.inputs)} inputs ({', '.join(t.name for t in self.inputs)}), "
                "expected exactly 1 (one fed input per model)"
            )
        self._in_index = int(details_in[0]["index"])
        self._out_indices = tuple(int(d["index"]) for d in details_out)
        self.stateful = stateful or _has_state(first)
        self.batchable, self.batch_refusal = (False, "stateful") if self.stateful else self._probe_batching()
        self.warmup(warmup)

    @classmethod
    def load(
        cls,
        path: Path | str,
        *,
        expected: VariantSpec | None = None,
        sha256: str | None = None,
        num_threads: int = 1,
        warmup: int = 2,
        runtime: str | None = None,
        stateful: bool = False,
    ) -> ModelRuntime:
        """Read, check and load a model file.

        Args:
            path: the ``.tflite`` file.
            expected: the manifest's spec: size, sha256 and tensor specs are checked against it.
            sha256: an expected sha256 that overrides the manifest's (a file not shipped in the
                manifest, e.g. a new model version deployed to the device); tensor specs are
                still checked against ``expected``.
            stateful: see the class.

        Raises:
            ModelFileMissingError, NotAFlatbufferError, TruncatedModelError, ModelParseError,
            ChecksumMismatchError, TensorSpecMismatchError: see their docstrings.
        """
        path = Path(path)
        try:
            content = path.read_bytes()
        except FileNotFoundError as err:
            raise ModelFileMissingError(f"model file {path} does not exist") from err
        except OSError as err:
            raise ModelFileMissingError(f"model file {path} cannot be read: {err}") from err
        check_model_bytes(content, path, expected, sha256)
        runtime_obj = cls(
            content, source=str(path), num_threads=num_threads, warmup=0, runtime=runtime, stateful=stateful
        )
        if expected is not None:
            runtime_obj.check_specs(expected)
        runtime_obj.warmup(warmup)
        return runtime_obj

    def warmup(self, invokes: int) -> None:
        """Run ``invokes`` zero inputs through the model, unless it is stateful."""
        if self.stateful:
            return
        for _ in range(invokes):
            self.predict_all(np.zeros((1, *self.inputs[0].shape[1:]), dtype=np.float32))

    def reset(self) -> None:
        """Start afresh: a stateful model's state is back to its initial values."""
        with self._lock:
            self._interpreters.clear()
            self._interpreter(1)

    def _interpreter(self, batch: int) -> Any:
        interpreter = self._interpreters.get(batch)
        if interpreter is not None:
            return interpreter
        try:
            interpreter = self._interpreter_class(model_content=self._content, num_threads=self.num_threads)
        except (ValueError, RuntimeError) as err:
            raise ModelParseError(f"{self.source}: the interpreter cannot load it ({err})") from err
        try:
            if batch != 1:
                detail = interpreter.get_input_details()[0]
                interpreter.resize_tensor_input(detail["index"], [batch, *list(detail["shape"][1:])])
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            if batch == 1:
                raise ModelParseError(f"{self.source}: the interpreter cannot allocate it ({err})") from err
            raise BatchResizeError(f"{self.source}: cannot run a batch of {batch} ({err})") from err
        self._interpreters[batch] = interpreter
        return interpreter

    def _probe_batching(self) -> tuple[bool, str | None]:
        """Whether a batch of 2 runs in one invoke with every output following the batch."""
        for kind, tensors in (("input", self.inputs), ("output", self.outputs)):
            for t in tensors:
                if not t.shape or t.shape[0] != 1:
                    return False, f"{kind} {t.name} of shape {list(t.shape)} is not batch-first"
        try:
            interpreter = self._interpreter(2)
        except BatchResizeError as err:
            return False, str(err)
        self._interpreters.pop(2)  # only kept once a batch needs it: memory on a small device
        # Some output shapes are only known after an invoke (dynamic shapes): run zeros once.
        spec = self.inputs[0]
        try:
            interpreter.set_tensor(self._in_index, np.zeros((2, *spec.shape[1:]), dtype=spec.dtype))
            interpreter.invoke()
        except (ValueError, RuntimeError) as err:
            return False, f"a batch of 2 does not run ({err})"
        for t, index in zip(self.outputs, self._out_indices, strict=True):
            got = tuple(int(d) for d in interpreter.get_tensor(index).shape)
            if got != (2, *t.shape[1:]):
                return False, f"output {t.name} is {list(got)} for a batch of 2, expected {[2, *t.shape[1:]]}"
        return True, None

    def check_specs(self, expected: VariantSpec) -> None:
        """Compare the model's tensors with the manifest's.

        Raises:
            TensorSpecMismatchError: naming the tensor and the difference.
        """
        for kind, got, want in (
            ("input", self.inputs, expected.inputs),
            ("output", self.outputs, expected.outputs),
        ):
            if len(got) != len(want):
                raise TensorSpecMismatchError(
                    f"{self.source}: {len(got)} {kind}s, the manifest's {expected.model}/{expected.variant} has {len(want)}"
                )
            for index, (g, w) in enumerate(zip(got, want, strict=True)):
                problem = w.mismatch(g)
                if problem is not None:
                    raise TensorSpecMismatchError(
                        f"{self.source}: {kind} {index} ({g.name}) has {problem} "
                        f"(manifest {expected.model}/{expected.variant})"
                    )

    def check_input(self, x: np.ndarray) -> None:
        """Check ``x`` is a batch of this model's input.

        Raises:
            InputShapeError: wrong rank, wrong per-item shape, or a dtype that is neither float nor
                the model's own input dtype.
        """
        spec = self.inputs[0]
        if not isinstance(x, np.ndarray):
            raise InputShapeError(f"{self.source}: input must be a numpy array, got {type(x).__name__}")
        if x.ndim != len(spec.shape) or x.shape[1:] != spec.shape[1:] or x.shape[0] < 1:
            raise InputShapeError(
                f"{self.source}: input of shape {list(x.shape)}, expected [n, {', '.join(map(str, spec.shape[1:]))}] with n >= 1"
            )
        if x.dtype.kind != "f" and x.dtype.name != spec.dtype:
            raise InputShapeError(
                f"{self.source}: input dtype {x.dtype.name}, expected float32 or {spec.dtype}"
            )

    def _feed(self, x: np.ndarray) -> np.ndarray:
        spec = self.inputs[0]
        if x.dtype.kind != "f":
            return x
        return quantize(x, spec) if spec.quantized else x.astype(spec.dtype, copy=False)

    def _outputs(self, raw: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        return tuple(
            dequantize(out, spec) if spec.quantized else out.astype(np.float32, copy=False)
            for out, spec in zip(raw, self.outputs, strict=True)
        )

    def predict_all(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """Run the model on a batch; every output as float32, item ``i``'s at index ``i``.

        Float input is quantized for an integer model; an input already in the model's integer
        dtype is passed as is. Integer outputs are dequantized. A batch runs in one invoke where
        :attr:`batchable`, else item by item (an output without a batch axis gains one).

        Raises:
            InputShapeError: see :meth:`check_input`.
        """
        self.check_input(x)
        n = x.shape[0]
        if n > MAX_BATCH:
            parts = [self.predict_all(x[i : i + MAX_BATCH]) for i in range(0, n, MAX_BATCH)]
            return tuple(np.concatenate(chunk) for chunk in zip(*parts, strict=True))
        feed = self._feed(x)
        if n == 1 or self.batchable:
            return self._outputs(self._invoke(feed))
        items = [self._invoke(feed[i : i + 1]) for i in range(n)]
        return self._outputs(
            [
                np.stack([item[k][0] if spec.shape[:1] == (1,) else item[k] for item in items])
                for k, spec in enumerate(self.outputs)
            ]
        )

    def _invoke(self, feed: np.ndarray) -> list[np.ndarray]:
        n = feed.shape[0]
        batch = _bucket(n)
        if batch != n:
            padded = np.zeros((batch, *feed.shape[1:]), dtype=feed.dtype)
            padded[:n] = feed
            feed = padded
        with self._lock:
            interpreter = self._interpreter(batch)
            interpreter.set_tensor(self._in_index, feed)
            interpreter.invoke()
            if batch == 1:
                return [interpreter.get_tensor(i) for i in self._out_indices]
            return [interpreter.get_tensor(i)[:n] for i in self._out_indices]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The first output of :meth:`predict_all` (a one-output model's result)."""
        return self.predict_all(x)[0]

    def invoke_once(self, item: np.ndarray) -> None:
        """Raw invoke on an already prepared batch-of-one input (for benchmarks)."""
        interpreter = self._interpreter(1)
        interpreter.set_tensor(self._in_index, item)
        interpreter.invoke()


def _has_state(interpreter: Any) -> bool:
    """True when the model holds resource variables (a streaming model's state)."""
    try:
        ops = interpreter._get_ops_details()
    except AttributeError:  # a runtime without the op listing: rely on the card's ``stateful``
        return False
    return any(op.get("op_name") in STATEFUL_OPS for op in ops)
