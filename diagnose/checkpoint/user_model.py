"""What `diagnose hessian` needs from the user: their model (MODULE:FACTORY), its weights, a
batch of data, and the loss. The model's code is the user's own, imported because they named
it; the weights and data still load only as weights_only pickles."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from diagnose.checkpoint import layout
from diagnose.checkpoint.load import load_checkpoint, torch_load
from diagnose.checkpoint.tensors import TorchTensors, numel
from diagnose.errors import DiagnoseError, InputError

LOSSES = ("mse", "ce")


def build_model(spec: str) -> Any:
    """MODULE:FACTORY -> the torch.nn.Module FACTORY() returns. MODULE is a dotted module name
    (importable from the current folder) or a path to a .py file."""
    import torch

    module_name, _, factory_name = spec.rpartition(":")
    if not module_name or not factory_name:
        raise DiagnoseError(f"--model {spec!r}: expected MODULE:FACTORY, e.g. mypkg.model:build")
    factory = getattr(_import(module_name), factory_name, None)
    if factory is None:
        raise DiagnoseError(f"--model {spec!r}: {module_name} has no {factory_name!r}")
    model = factory if isinstance(factory, torch.nn.Module) else factory()
    if not isinstance(model, torch.nn.Module):
        raise DiagnoseError(f"--model {spec!r}: {factory_name}() returned {type(model).__name__}, "
                            "not a torch.nn.Module")
    return model


def _import(name: str):
    path = Path(name)
    if path.suffix == ".py":
        if not path.is_file():
            raise DiagnoseError(f"--model: no such file {name}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise DiagnoseError(f"--model: cannot import {name} ({exc})") from None


def load_weights(model: Any, path: Path) -> None:
    """The checkpoint's model tensors into `model` (strict: every key must match)."""
    checkpoint = load_checkpoint(path)
    try:
        state = _state_dict(checkpoint.weights)
    finally:
        checkpoint.close()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(path, f"does not fit the model: {' '.join(str(exc).split())[:300]}") from None


def _state_dict(source) -> dict[str, Any]:
    import torch

    if isinstance(source, TorchTensors):
        return dict(source.tensors)
    state = {}
    for name in source.names():
        shape = source.shape(name)
        state[name] = torch.from_numpy(np.array(source.read(name, 0, numel(shape))).reshape(shape))
    return state


def load_data(path: Path) -> tuple[Any, Any]:
    """A torch.save file holding tensors `x` (inputs) and `y` (targets)."""
    saved = torch_load(Path(path))
    tensors = layout.flatten(saved) if isinstance(saved, dict) else {}
    if "x" not in tensors or "y" not in tensors:
        raise InputError(path, "needs tensors 'x' and 'y' (torch.save({'x': inputs, 'y': targets}, path))")
    return tensors["x"], tensors["y"]


def loss_function(name: str) -> Callable[[Any, Any], Any]:
    import torch.nn.functional as F

    if name == "ce":
        return lambda out, y: F.cross_entropy(out, y.long() if not y.is_floating_point() else y)

    def mse(out, y):
        return F.mse_loss(out, y.reshape(out.shape) if y.numel() == out.numel() else y)

    if name != "mse":
        raise DiagnoseError(f"--loss {name!r}: expected one of {', '.join(LOSSES)}")
    return mse
