"""Named tensors read a chunk at a time: the one interface the statistics and checks see,
whatever the file format (torch pickle, safetensors, optimizer state)."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

NUMPY_FLOATS = {"torch.float16", "torch.float32", "torch.float64"}


class TensorSource(Protocol):
    def names(self) -> list[str]: ...

    def shape(self, name: str) -> tuple[int, ...]: ...

    def is_float(self, name: str) -> bool: ...

    def read(self, name: str, start: int, count: int) -> np.ndarray:
        """Elements [start, start + count) of the flattened tensor as a 1-D float array. It may
        be a view of a buffer the next read on the same thread reuses: consume it first."""
        ...


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


class TorchTensors:
    """Tensors torch.load returned (memory-mapped where the file format allows it)."""

    def __init__(self, tensors: dict[str, Any]) -> None:
        # A non-contiguous view would be copied whole on every chunk read; copy it once here.
        self.tensors = {k: t if t.is_contiguous() else t.contiguous() for k, t in tensors.items()}

    def names(self) -> list[str]:
        return list(self.tensors)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.tensors[name].shape)

    def is_float(self, name: str) -> bool:
        tensor = self.tensors[name]
        return tensor.is_floating_point() and str(tensor.layout) == "torch.strided"

    def read(self, name: str, start: int, count: int) -> np.ndarray:
        flat = self.tensors[name].detach().reshape(-1)[start:start + count]
        if str(flat.dtype) not in NUMPY_FLOATS:  # bfloat16, float8: numpy has no such dtype
            flat = flat.float()
        return flat.numpy()

    def close(self) -> None:
        self.tensors = {}
