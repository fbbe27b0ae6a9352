"""Datasets for the corpus: sklearn's bundled sets and synthetic ones, standardized, seeded.

Nothing is downloaded. Each loader returns a `Data` with float32 features, a train/val split,
and the class count (None for regression).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn import datasets as skd


@dataclass
class Data:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int | None  # None: regression

    @property
    def in_features(self) -> int:
        return self.x_train.shape[-1]


def load(name: str, seed: int, n_train: int | None = None, **kwargs) -> Data:
    """Dataset `name`, split with `seed`; `n_train` keeps only that many training samples."""
    x, y, k = _RAW[name](seed, **kwargs)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_val = max(len(x) // 5, 20)
    val, train = order[:n_val], order[n_val:]
    if n_train is not None:
        train = train[:n_train]
    if x.ndim == 2:  # synthetic sequences are already unit-scale
        x = _standardize(x, train)
    y_dtype = torch.long if k else torch.float32
    return Data(
        torch.tensor(x[train], dtype=torch.float32), torch.tensor(y[train], dtype=y_dtype),
        torch.tensor(x[val], dtype=torch.float32), torch.tensor(y[val], dtype=y_dtype), k,
    )


def _standardize(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per-feature scaling from the training rows only."""
    mean = x[train].mean(axis=0, keepdims=True)
    std = x[train].std(axis=0, keepdims=True)
    std[std < 1e-6] = 1.0  # a feature constant over the training rows (as sklearn's scaler)
    return (x - mean) / std


def _digits(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    d = skd.load_digits()
    return d.data.astype(np.float64), d.target, 10


def _digits_img(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """8x8 digits as (N, 64) rows; the CNN reshapes to (N, 1, 8, 8)."""
    return _digits(seed)


def _wine(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    d = skd.load_wine()
    return d.data, d.target, 3


def _cancer(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    d = skd.load_breast_cancer()
    return d.data, d.target, 2


def _moons(seed: int, n: int = 2000, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray, int]:
    x, y = skd.make_moons(n_samples=n, noise=noise, random_state=seed)
    return x, y, 2


def _blobs(seed: int, n: int = 3000, k: int = 4, features: int = 20,
           flip: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
    x, y = skd.make_classification(
        n_samples=n, n_features=features, n_informative=min(features, 10), n_redundant=0,
        n_classes=k, n_clusters_per_class=2, class_sep=1.5, flip_y=flip, random_state=seed)
    return x, y, k


def _diabetes(seed: int) -> tuple[np.ndarray, np.ndarray, None]:
    d = skd.load_diabetes()
    y = (d.target - d.target.mean()) / d.target.std()
    return d.data, y, None


def _regression(seed: int, n: int = 2000, features: int = 10) -> tuple[np.ndarray, np.ndarray, None]:
    """A smooth nonlinear target with little noise: a net can fit it well."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * x[:, 3] + 0.05 * rng.standard_normal(n)
    return x, (y - y.mean()) / y.std(), None


def _first_token(seed: int, n: int = 1200, length: int = 60, k: int = 4) -> tuple[np.ndarray, np.ndarray, int]:
    """Sequence classification that needs long memory: the class is the first token's id,
    followed by `length - 1` steps of noise. Shape (N, length, k + 1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = np.zeros((n, length, k + 1))
    x[np.arange(n), 0, y] = 1.0
    x[:, 1:, k] = rng.standard_normal((n, length - 1))
    return x, y, k


def _adding(seed: int, n: int = 1200, length: int = 60) -> tuple[np.ndarray, np.ndarray, None]:
    """The adding problem: sum of the two values marked in a long sequence. Shape (N, length, 2)."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 1, (n, length))
    marks = np.zeros((n, length))
    for i in range(n):
        marks[i, rng.choice(length, 2, replace=False)] = 1.0
    y = (values * marks).sum(1)
    return np.stack([values, marks], -1), (y - y.mean()) / y.std(), None


_RAW = {
    "digits": _digits, "digits_img": _digits_img, "wine": _wine, "cancer": _cancer,
    "moons": _moons, "blobs": _blobs, "diabetes": _diabetes, "regression": _regression,
    "first_token": _first_token, "adding": _adding,
}
