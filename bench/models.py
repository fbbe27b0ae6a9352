"""Small torch models built from a plain-dict spec, so a run's spec is also its description."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def build(spec: dict, in_features: int, out_features: int) -> nn.Module:
    """The model a spec describes: kind mlp | cnn | rnn | deep_linear, plus its options."""
    kind = spec["kind"]
    model = _BUILDERS[kind](spec, in_features, out_features)
    _rescale(model, spec)
    if spec.get("softmax_out"):
        # the "double softmax" fault: CrossEntropyLoss applies log-softmax again on top
        model = nn.Sequential(model, nn.Softmax(dim=-1))
    return model


def describe(spec: dict) -> str:
    """A short model name for the manifest, e.g. `mlp[64x64 relu]`."""
    kind = spec["kind"]
    if kind == "mlp":
        sizes = "x".join(str(h) for h in spec.get("hidden", [])) or "linear"
        text = f"mlp[{sizes} {spec.get('act', 'relu')}]"
    elif kind == "cnn":
        text = f"cnn[{'-'.join(str(c) for c in spec.get('channels', (8, 16)))}]"
    elif kind == "rnn":
        text = f"{spec.get('cell', 'rnn')}[{spec.get('hidden', 32)} {spec.get('act', 'tanh')}]"
    else:
        text = f"deep_linear[{spec['depth']}x{spec['width']}]"
    if spec.get("init_scale", 1.0) != 1.0:
        text += f" init x{spec['init_scale']:g}"
    if spec.get("init_std"):
        text += f" init N(0,{spec['init_std']:g})"
    return text + (" +softmax" if spec.get("softmax_out") else "")


def _mlp(spec: dict, n_in: int, n_out: int) -> nn.Module:
    layers: list[nn.Module] = []
    width = n_in
    for hidden in spec.get("hidden", []):
        layers += [nn.Linear(width, hidden), ACTIVATIONS[spec.get("act", "relu")]()]
        if spec.get("dropout"):
            layers.append(nn.Dropout(spec["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class _Cnn(nn.Module):
    """Two 3x3 convolutions on the 8x8 digits, a pooling step and a linear head."""

    def __init__(self, channels: tuple[int, int], n_out: int) -> None:
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.head = nn.Linear(c2 * 16, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 8, 8)
        x = torch.relu(self.conv1(x))
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))


def _cnn(spec: dict, n_in: int, n_out: int) -> nn.Module:
    return _Cnn(tuple(spec.get("channels", (8, 16))), n_out)


class _Recurrent(nn.Module):
    """A single-layer RNN or LSTM reading the whole sequence; the last state feeds the head."""

    def __init__(self, cell: str, n_in: int, hidden: int, act: str, n_out: int) -> None:
        super().__init__()
        if cell == "lstm":
            self.rnn = nn.LSTM(n_in, hidden, batch_first=True)
        else:
            self.rnn = nn.RNN(n_in, hidden, nonlinearity=act, batch_first=True)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def _rnn(spec: dict, n_in: int, n_out: int) -> nn.Module:
    return _Recurrent(spec.get("cell", "rnn"), n_in, spec.get("hidden", 32), spec.get("act", "tanh"), n_out)


def _deep_linear(spec: dict, n_in: int, n_out: int) -> nn.Module:
    widths = [n_in] + [spec["width"]] * spec["depth"] + [n_out]
    layers = [nn.Linear(a, b, bias=False) for a, b in pairwise(widths)]
    for layer in layers:
        nn.init.normal_(layer.weight, std=spec["init_std"])
    return nn.Sequential(*layers)


def _rescale(model: nn.Module, spec: dict) -> None:
    """Multiply every weight matrix by `init_scale` (the bad-initialization fault)."""
    scale = spec.get("init_scale", 1.0)
    if scale == 1.0:
        return
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.mul_(scale)


_BUILDERS = {"mlp": _mlp, "cnn": _cnn, "rnn": _rnn, "deep_linear": _deep_linear}
