"""An ``Interpreter``-like model in numpy, for the runtime's batching and state rules.

It behaves as the three kinds of third-party model the generic host must not get wrong (issue
#20): ``interleaved``, whose output keeps a batch of one whatever the input batch (the items'
rows mixed into it); ``static``, whose input cannot be resized; and ``stateful``, which adds
every input it has seen to its output (a streaming model's state, in resource variables).
Plain ``batch_first`` doubles its input, one row per item.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class FakeInterpreter:
    """See the module docstring; ``kind`` is set by :func:`fake_of`."""

    kind = "batch_first"

    def __init__(self, model_content: bytes = b"", num_threads: int = 1) -> None:
        self.batch = 1
        self.state = np.zeros(4, dtype=np.float32)
        self.invokes = 0
        self._input = np.zeros((1, 4), dtype=np.float32)
        self._output = np.zeros((1, 4), dtype=np.float32)

    def get_input_details(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "x",
                "index": 0,
                "shape": np.array([self.batch, 4]),
                "dtype": np.float32,
                "quantization": (0.0, 0),
            }
        ]

    def get_output_details(self) -> list[dict[str, Any]]:
        rows = 1 if self.kind == "interleaved" else self.batch
        return [
            {
                "name": "y",
                "index": 1,
                "shape": np.array([rows, 4]),
                "dtype": np.float32,
                "quantization": (0.0, 0),
            }
        ]

    def resize_tensor_input(self, index: int, shape: list[int]) -> None:
        if self.kind == "static":
            raise RuntimeError("tensor 0 has a fixed batch of 1")
        self.batch = int(shape[0])

    def allocate_tensors(self) -> None:
        self._input = np.zeros((self.batch, 4), dtype=np.float32)

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        if value.shape != self._input.shape:
            raise ValueError(f"shape {value.shape}, tensor is {self._input.shape}")
        self._input = value.copy()

    def invoke(self) -> None:
        self.invokes += 1
        if self.kind == "interleaved":
            self._output = self._input.sum(axis=0, keepdims=True)  # every item mixed into one row
        elif self.kind == "stateful":
            self.state = self.state + self._input.sum(axis=0)
            self._output = self._input * 0 + self.state
        else:
            self._output = self._input * 2.0

    def get_tensor(self, index: int) -> np.ndarray:
        return self._output.copy()

    def _get_ops_details(self) -> list[dict[str, Any]]:
        ops = ["FULLY_CONNECTED"] + (["VAR_HANDLE", "ASSIGN_VARIABLE"] if self.kind == "stateful" else [])
        return [{"op_name": name} for name in ops]


def fake_of(kind: str) -> type[FakeInterpreter]:
    """A fake interpreter class of one kind."""
    return type(f"Fake_{kind}", (FakeInterpreter,), {"kind": kind})
