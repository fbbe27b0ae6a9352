"""Saddle point or minimum: the extreme eigenvalues of the loss Hessian at the saved weights.

Hessian-vector products Hv come from double backpropagation (the gradient of g.v), so the
Hessian is never formed. Lanczos builds a k x k tridiagonal matrix from k products whose extreme
eigenvalues converge to the Hessian's extreme ones first. At a critical point (gradient ~0) the
signs decide: all >= 0 is a minimum, a clearly negative one a saddle, which gradient descent
leaves slowly because the escape direction has a tiny gradient component.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diagnose import __version__
from diagnose.checkpoint.evidence import ramp
from diagnose.checkpoint.scan import init_range
from diagnose.checkpoint.thresholds import Checks, finding, load_checks
from diagnose.checkpoint.user_model import build_model, load_data, load_weights, loss_function
from diagnose.detectors.common import fmt
from diagnose.report.model import Finding, Report, RunReport

REORTHOGONALIZE_UP_TO = 1 << 26  # basis elements kept for full reorthogonalization (512 MB float64)


@dataclass
class HessianEstimate:
    top: float  # largest eigenvalue
    bottom: float  # smallest eigenvalue
    grad_norm: float
    loss: float
    parameters: int
    products: int  # Hessian-vector products used
    verdict: str = ""  # saddle | minimum | not_critical

    def as_dict(self) -> dict[str, Any]:
        return {"lambda_max": self.top, "lambda_min": self.bottom, "grad_norm": self.grad_norm,
                "loss": self.loss, "parameters": self.parameters, "hvp_products": self.products,
                "verdict": self.verdict}


def lanczos_extremes(hvp: Callable[[Any], Any], n: int, iterations: int, seed: int = 0,
                     dtype: Any = None) -> tuple[float, float, int]:
    """(smallest, largest) eigenvalue of the symmetric operator `hvp` on R^n, and the number of
    products used. Exact once iterations >= n (in exact arithmetic)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    v = torch.randn(n, generator=generator, dtype=dtype or torch.float64)
    v /= v.norm()
    keep = n * min(iterations, n) <= REORTHOGONALIZE_UP_TO
    basis, alphas, betas = [v], [], []
    previous, beta = torch.zeros_like(v), 0.0
    for _ in range(min(iterations, n)):
        w = hvp(v)
        alpha = float(w @ v)
        w = w - alpha * v - beta * previous
        for q in basis if keep else ():  # twice is enough (Kahan-Parlett)
            w -= (w @ q) * q
        for q in basis if keep else ():
            w -= (w @ q) * q
        alphas.append(alpha)
        beta = float(w.norm())
        scale = max(map(abs, alphas + betas))
        if beta <= 1e-10 * max(scale, 1e-30) or len(alphas) == min(iterations, n):
            break  # invariant subspace found: the Ritz values are exact
        betas.append(beta)
        previous, v = v, w / beta
        if keep:
            basis.append(v)
    tridiagonal = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
    eigenvalues = np.linalg.eigvalsh(tridiagonal)
    return float(eigenvalues[0]), float(eigenvalues[-1]), len(alphas)


def estimate(model: Any, x: Any, y: Any, loss_fn: Callable, iterations: int, seed: int = 0) -> HessianEstimate:
    """Loss, gradient norm and extreme Hessian eigenvalues of `model` on (x, y), in float64,
    in eval mode (dropout off, BatchNorm on its running statistics: a deterministic loss)."""
    import torch

    model = model.double().eval()
    x = x.double() if x.is_floating_point() else x
    y = y.double() if y.is_floating_point() else y
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    flat_grad = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])

    def hvp(v: torch.Tensor) -> torch.Tensor:
        if not flat_grad.requires_grad:  # the loss is linear in the weights: H = 0
            return torch.zeros_like(v)
        product = torch.autograd.grad(flat_grad, params, grad_outputs=v, retain_graph=True, allow_unused=True)
        return torch.cat([(h if h is not None else torch.zeros_like(p)).reshape(-1)
                          for h, p in zip(product, params)]).detach()

    n = flat_grad.numel()
    bottom, top, products = lanczos_extremes(hvp, n, iterations, seed)
    return HessianEstimate(top, bottom, float(flat_grad.detach().norm()), float(loss.detach()), n, products)


def classify(result: HessianEstimate, params: dict[str, Any]) -> str:
    scale = max(abs(result.top), abs(result.bottom))
    negative = scale > 0 and result.bottom < params["negative_below"] * scale
    if result.grad_norm >= params["grad_norm_below"]:
        return "not_critical"
    return "saddle" if negative else "minimum"


def diagnose_hessian(model_spec: str, checkpoint: Path, data: Path, loss: str = "mse",
                     iterations: int | None = None, seed: int = 0,
                     checks: Checks | None = None) -> tuple[Report, HessianEstimate]:
    checks = checks or load_checks()
    params = checks["hessian"].params
    model = build_model(model_spec)
    load_weights(model, Path(checkpoint))
    x, y = load_data(Path(data))
    result = estimate(model, x, y, loss_function(loss), iterations or params["iterations"], seed)
    result.verdict = classify(result, params)
    findings = [_saddle_finding(result, model, checks)] if result.verdict == "saddle" else []
    run = RunReport(source=str(checkpoint), format="hessian", steps=1,
                    signals=["loss", "gradient", "hessian"], findings=findings)
    return Report(runs=[run], version=__version__), result


def _saddle_finding(result: HessianEstimate, model: Any, checks: Checks) -> Finding:
    lines = [f"Hessian eigenvalues ({result.products} Hessian-vector products, Lanczos): "
             f"max {fmt(result.top)}, min {fmt(result.bottom)}",
             f"gradient norm {fmt(result.grad_norm)} with loss {fmt(result.loss)}: a critical point with "
             "negative curvature, a saddle rather than a minimum",
             "the eigenvector of the negative eigenvalue is the escape direction: momentum, gradient noise "
             "or a small perturbation of the weights moves along it"]
    evidence = {"tiny_weights": _tiny_weights(model)}
    scale = max(abs(result.top), abs(result.bottom))
    return finding(checks, "hessian", evidence, lines, step=None,
                   confidence=0.6 + 0.35 * min(1.0, -result.bottom / scale),
                   stats=result.as_dict())


def _tiny_weights(model: Any) -> tuple[float, str]:
    """Weight matrices far below the init their fan-in implies (a near-zero init sits on a saddle)."""
    orders = [math.log10(init[0] / max(float(p.detach().pow(2).mean().sqrt()), 1e-300))
              for p in model.parameters() if p.dim() >= 2 and (init := init_range(tuple(p.shape)))]
    if not orders:
        return 0.0, ""
    worst = max(orders)
    return ramp(worst, 1.0, 3.0), f"weights up to {worst:.1f} orders of magnitude below their init RMS"
