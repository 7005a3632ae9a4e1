"""Errors of the model runtime and manifest: each names the file and what was expected.

Callers that host a model (inference, inspection) catch :class:`ModelError` to refuse a model
swap and keep the running model; the subclasses let tests and reports say exactly why.
"""

from __future__ import annotations


class ModelError(Exception):
    """A model file, manifest entry or input cannot be used; the message says why."""


class RuntimeUnavailableError(ModelError):
    """Neither ai-edge-litert nor tflite-runtime is installed."""


class ManifestError(ModelError):
    """``models/manifest.json`` is missing, malformed, or has no such model or variant."""


class ModelFileMissingError(ModelError):
    """The model file does not exist or cannot be read."""


class NotAFlatbufferError(ModelError):
    """The file is not a TFLite flatbuffer (no ``TFL3`` identifier)."""


class TruncatedModelError(ModelError):
    """The file is shorter than the manifest says."""


class ModelParseError(ModelError):
    """The interpreter cannot load the file (corrupt, or an op this runtime does not have)."""


class BatchResizeError(ModelError):
    """A valid model cannot run the requested batch: its input cannot be resized to it, or its
    outputs do not follow the batch (they are not batch-first)."""


class ChecksumMismatchError(ModelError):
    """The file's sha256 differs from the one expected."""


class TensorSpecMismatchError(ModelError):
    """The model's input/output tensors differ from the manifest's (shape, dtype, quantization)."""


class ModelCardError(ModelError):
    """A model card is missing, not JSON, or not a valid card (the message names the key)."""


class ModelCardMismatchError(ModelError):
    """A model file does not fit its card: names the file, the tensor and what was expected."""


class FrameError(ModelError):
    """A frame or image cannot be preprocessed: wrong dtype, rank or size for the configured crop."""


class InputShapeError(ModelError):
    """An input passed to the model has the wrong shape or dtype."""
