"""What the logged numbers of a run show: pure measurements, then the symptom labels they imply.

Every label in the manifest comes from here, never from the injected fault alone. Measurements
work on numpy arrays indexed by logged row (`steps[i]` is the step of row `i`); trend measures
use the rows before the first non-finite value. Thresholds live in `T`; the README of the
corpus restates them.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

T = {
    "spike_ratio": 3.0,        # loss > 3x its trailing median ...
    "spike_floor": 0.25,       # ... and by more than 0.25x the initial loss (noise near 0 is no cliff)
    "spike_above_max": 1.5,    # ... and >= 1.5x the highest loss of the window before
    "spike_held": 2.0,         # ... and the median of it and the next 2 rows stays >= 2x,
    "spike_alone": 10.0,       #     or the jump alone is >= 10x
    "diverge_ratio": 1.5,      # final level >= 1.5x the best level, and >= best + 0.25x initial
    "diverge_floor": 0.25,
    "explode_orders": 2.0,     # grad norm 100x its early level or its trailing median
    "explode_onset": 1.0,      # growth onset: the climb from 10x
    "vanish_ratio": 1e-2,      # first/last layer grad norm ratio (median over the run)
    "vanish_orders": 2.0,      # or the global grad norm falls 100x ...
    "unsolved": 0.5,           # ... while the loss stays above 0.5x its initial level
    "chance_band": 0.05,       # |loss - ln k| <= 5% of ln k over the last half
    "flat": 0.05,              # block medians within 5% of each other = flat
    "plateau_blocks": 3,       # of 20: a plateau lasts >= 15% of the run
    "high": 0.3,               # converged to >= 0.3x the initial loss = underfitting
    "swing": 0.15,             # (p90 - p10) / median of the 20-row mean loss, second half
    "swing_window": 20,
    "no_progress": 0.5,        # oscillation: the final loss stays >= 0.5x the initial
    "overfit_ratio": 1.2,      # final val >= 1.2x min val while train loss still falls
    "train_falls": 0.9,
}
BLOCKS = 20


# ---- small helpers -------------------------------------------------------------------------

def first_bad_row(*series: np.ndarray) -> int | None:
    """Index of the first row where any series is NaN or +-Inf."""
    rows = [int(np.flatnonzero(~np.isfinite(s))[0]) for s in series if s is not None and len(s)
            and not np.isfinite(s).all()]
    return min(rows) if rows else None


def rolling_median(x: np.ndarray, window: int) -> np.ndarray:
    """Centered rolling median (edges padded with the edge values)."""
    if len(x) < window or window < 2:
        return x.astype(float)
    half = window // 2
    padded = np.pad(x.astype(float), (half, window - 1 - half), mode="edge")
    return np.median(sliding_window_view(padded, window), axis=1)


def trailing(x: np.ndarray, window: int, stat=np.nanmedian, gap: int = 0) -> np.ndarray:
    """`stat` of the `window` rows that end `gap` rows before each row (excluding it); NaN
    where there is no such row."""
    padded = np.concatenate([np.full(window + gap, np.nan), x.astype(float)])
    views = sliding_window_view(padded, window)[: len(x)]
    out = np.full(len(x), np.nan)
    ok = np.arange(len(x)) >= 1 + gap
    if ok.any():
        out[ok] = stat(views[ok], axis=1)
    return out


def trailing_median(x: np.ndarray, window: int) -> np.ndarray:
    """Median of the `window` rows before each row (excluding it); NaN for row 0."""
    return trailing(x, window)


def window_rows(n: int) -> int:
    """The trailing window for spikes, in rows: 5% of the run, between 10 and 50."""
    return int(min(50, max(10, n // 20)))


def level(x: np.ndarray, start: float, end: float) -> float:
    """Median of the rows in the fraction [start, end) of the series (at least 3 rows)."""
    n = len(x)
    a = int(start * n)
    b = max(a + 3, int(end * n))
    return float(np.median(x[a:min(b, n)])) if n else math.nan


def initial_level(loss: np.ndarray) -> float:
    """Median of the first 2% of rows, 5 to 20 of them (a long run has trained by its 2%)."""
    return float(np.median(loss[: min(20, max(5, len(loss) // 50))]))


def final_level(loss: np.ndarray) -> float:
    return float(np.median(loss[-max(5, len(loss) // 20):]))


def blocks(x: np.ndarray, count: int = BLOCKS) -> list[np.ndarray]:
    return [b for b in np.array_split(x, count) if len(b)]


# ---- measurements --------------------------------------------------------------------------

def loss_jumps(loss: np.ndarray) -> dict:
    """Largest loss / trailing-median ratio, and the first row of a cliff: the loss jumps to
    >= 3x its trailing median, by >= 0.25x the initial loss, to >= 1.5x the highest loss of
    the window before (so the tail of minibatch noise is no cliff), and either stays >= 2x
    the median over the next rows or is >= 10x it."""
    n = len(loss)
    if n < 10:
        return {"max_jump_ratio": None, "max_jump_row": None, "spike_row": None}
    w = window_rows(n)
    base = np.maximum(trailing_median(loss, w), 1e-30)
    with np.errstate(invalid="ignore"):
        ratio = np.nan_to_num(loss / base)
        recent_max = np.fmax(trailing(loss, w, np.nanmax, gap=3), loss[0])
        held = rolling_median(np.append(loss, np.repeat(loss[-1], 2)), 3)[1: n + 1] / base
        big = ((ratio >= T["spike_ratio"]) & (loss - base >= T["spike_floor"] * initial_level(loss))
               & (loss >= T["spike_above_max"] * recent_max)
               & ((held >= T["spike_held"]) | (ratio >= T["spike_alone"])))
    ratio[0] = 0.0  # the first row has no history
    big[0] = False
    top = int(np.argmax(ratio))
    return {"max_jump_ratio": float(ratio[top]), "max_jump_row": top,
            "spike_row": int(np.flatnonzero(big)[0]) if big.any() else None}


def divergence(loss: np.ndarray) -> dict:
    """Does the (smoothed) loss end far above its best and stay there? Onset: the row after
    the last one at or below 2x the best (or halfway to the final level)."""
    n = len(loss)
    if n < 10:
        return {"best_loss": None, "end_loss": None, "diverge_row": None}
    smooth = rolling_median(loss, int(min(25, max(3, n // 50))) | 1)
    best, end = float(smooth.min()), final_level(loss)
    diverged = end >= T["diverge_ratio"] * best and end - best >= T["diverge_floor"] * max(initial_level(loss), best)
    row = None
    if diverged:
        threshold = min(2 * best, best + 0.5 * (end - best))
        below = np.flatnonzero(smooth <= threshold)
        row = int(below[-1]) + 1 if len(below) else 0
    return {"best_loss": best, "end_loss": end, "diverge_row": row}


def grad_explosion(grad: np.ndarray, loss: np.ndarray) -> dict:
    """Growth of the grad norm over its early level (sustained, 5-row median) and over its
    trailing median (spikes), in orders of magnitude. Counts only if the loss does not improve
    across the event (a saddle escape grows the gradient while the loss falls). Onset: for
    growth, the start of the climb to the peak (the last row below 10x before it); for a
    spike, the first row at 100x."""
    n = len(grad)
    if n < 10:
        return {"grad_growth_orders": None, "grad_spike_orders": None, "explode_row": None}
    growth = rolling_median(grad, 5) / max(initial_level(grad), 1e-30)
    with np.errstate(invalid="ignore", divide="ignore"):
        spikes = np.nan_to_num(grad / trailing_median(grad, window_rows(n)))
    spikes[0] = 0.0
    orders = {name: float(np.log10(max(np.max(v), 1e-30))) for name, v in (("growth", growth), ("spike", spikes))}
    rows = []
    if orders["growth"] >= T["explode_orders"]:
        peak = int(np.argmax(growth))
        below = np.flatnonzero(growth[:peak] < 10 ** T["explode_onset"])
        onset = int(below[-1]) + 1 if len(below) else 0
        if _loss_not_improving(loss, onset, peak, n):
            rows.append(onset)
    # a spike counts from the early level up: tiny gradients of a solved loss jumping 100x are no explosion
    events = np.flatnonzero((spikes >= 10 ** T["explode_orders"]) & (grad >= initial_level(grad)))
    rows += [int(i) for i in events[:20] if _loss_not_improving(loss, int(i), int(i), n)][:1]
    return {"grad_growth_orders": orders["growth"], "grad_spike_orders": orders["spike"],
            "explode_row": min(rows) if rows else None}


def _loss_not_improving(loss: np.ndarray, onset: int, peak: int, n: int) -> bool:
    w = window_rows(n)
    before = float(np.median(loss[max(0, onset - w):onset])) if onset > 0 else float(loss[0])
    after = float(np.median(loss[peak:peak + max(3, w // 5)]))
    return after >= 0.9 * before


def vanishing(grad: np.ndarray, loss: np.ndarray, layers: dict[str, np.ndarray]) -> dict:
    """First/last layer grad-norm ratio (median) and the fall of the global norm, while the
    loss stays unsolved."""
    n = len(grad)
    out = {"layer_ratio": None, "grad_collapse_orders": None, "vanish_row": None}
    if n < 10:
        return out
    unsolved = final_level(loss) >= T["unsolved"] * initial_level(loss)
    early = initial_level(grad)
    late = float(np.median(grad[-max(5, n // 5):]))
    out["grad_collapse_orders"] = float(np.log10(max(early, 1e-30) / max(late, 1e-30)))
    rows = []
    if len(layers) >= 2:
        names = list(layers)
        first, last = layers[names[0]][:n], layers[names[-1]][:n]
        ratio = rolling_median(first / np.maximum(last, 1e-30), 5)
        out["layer_ratio"] = float(np.median(ratio))
        if unsolved and out["layer_ratio"] < T["vanish_ratio"]:
            rows.append(int(np.flatnonzero(ratio < T["vanish_ratio"])[0]))
    if unsolved and out["grad_collapse_orders"] >= T["vanish_orders"]:
        small = rolling_median(grad, 5) < early * 10 ** -T["vanish_orders"]
        rows.append(int(np.flatnonzero(small)[0]))
    out["vanish_row"] = min(rows) if rows else None
    return out


def chance(loss: np.ndarray, k: int | None) -> dict:
    """Final loss against ln(k); stuck if every quarter of the last half sits in the band."""
    if not k or k < 2 or len(loss) < 20:
        return {"chance_level": None, "chance_ratio": None, "chance_row": None}
    ln_k = math.log(k)
    half = loss[len(loss) // 2:]
    parts = [float(np.median(b)) for b in blocks(half, 4)]
    stuck = all(abs(p - ln_k) <= T["chance_band"] * ln_k for p in parts)
    row = None
    if stuck:
        smooth = rolling_median(loss, int(min(25, max(3, len(loss) // 50))) | 1)
        outside = np.flatnonzero(np.abs(smooth - ln_k) > 2 * T["chance_band"] * ln_k)
        row = int(outside[-1]) + 1 if len(outside) else 0
    return {"chance_level": ln_k, "chance_ratio": final_level(loss) / ln_k, "chance_row": row}


def oscillation(loss: np.ndarray, grad: np.ndarray) -> dict:
    """Swings of the loss level in the second half: the spread of its 20-row mean (a mean
    that minibatch noise alone leaves nearly flat), with no progress over the second half,
    a loss that did not go down, and gradients that stay large. Onset: the first block at
    the floor the loss never gets clearly below (within 15% of the lowest block median)."""
    n = len(loss)
    if n < 60:
        return {"swing": None, "oscillation_row": None}
    w = T["swing_window"]
    mean = np.convolve(loss, np.ones(w) / w, mode="valid")
    half = mean[len(mean) // 2:]
    swing = float((np.percentile(half, 90) - np.percentile(half, 10)) / max(np.median(half), 1e-12))
    stalled = level(loss, 0.75, 1.0) >= 0.9 * level(loss, 0.25, 0.5)
    high = final_level(loss) >= T["no_progress"] * initial_level(loss)
    grads_large = level(grad, 0.5, 1.0) >= 0.5 * level(grad, 0.0, 0.1)
    row = None
    if swing >= T["swing"] and stalled and high and grads_large:
        parts = blocks(loss)
        medians = np.array([np.median(b) for b in parts])
        first_block = int(np.flatnonzero(medians <= 1.15 * medians.min())[0])
        row = sum(len(b) for b in parts[:first_block])
    return {"swing": swing, "oscillation_row": row}


def flat_segments(loss: np.ndarray) -> list[tuple[int, int, float]]:
    """Maximal runs of blocks whose medians stay within `flat` of each other:
    (first block, block count, median level)."""
    medians = [float(np.median(b)) for b in blocks(loss)]
    segments, start = [], 0
    while start < len(medians):
        end = start + 1
        while end < len(medians) and _flat(medians[start:end + 1]):
            end += 1
        segments.append((start, end - start, float(np.median(medians[start:end]))))
        start = end
    return segments


def _flat(values: list[float]) -> bool:
    lo, hi = min(values), max(values)
    return lo > 0 and hi / lo <= 1 + T["flat"]


def plateau_and_underfit(loss: np.ndarray) -> dict:
    """Plateau: a flat stretch (>= 15% of the run) high above where the loss ends, or in a run
    that never moved. Underfitting: converged (the last 15% within 5% of the 15% before) at a
    high level (>= 0.3x initial) after the loss did move earlier."""
    n = len(loss)
    out = {"drop_fraction": None, "plateau_row": None, "plateau_blocks": None, "plateau_level": None,
           "underfit_row": None}
    if n < 60:
        return out
    init, end = initial_level(loss), final_level(loss)
    out["drop_fraction"] = 1 - end / init if init > 0 else None
    parts = blocks(loss)
    starts = np.cumsum([0] + [len(b) for b in parts])
    never_moved = end >= 0.9 * init
    for first, count, value in flat_segments(loss):
        high = value >= end + 0.5 * (init - end)
        if count >= T["plateau_blocks"] and (high or never_moved) and value >= T["high"] * init:
            out["plateau_row"], out["plateau_blocks"], out["plateau_level"] = int(starts[first]), count, value
            break
    converged = abs(level(loss, 0.85, 1.0) - level(loss, 0.7, 0.85)) <= T["flat"] * end
    if converged and end >= T["high"] * init and not never_moved:
        medians = [float(np.median(b)) for b in parts]
        first = len(medians) - 1
        while first > 0 and abs(medians[first - 1] - end) <= 2 * T["flat"] * end:
            first -= 1
        out["underfit_row"] = int(starts[first])
    return out


def overfitting(val_steps: np.ndarray, val_loss: np.ndarray, steps: np.ndarray, loss: np.ndarray) -> dict:
    """Validation minimum vs final validation loss, and whether the training loss still fell
    after the minimum. Onset: the step of the validation minimum."""
    out = {"val_min": None, "val_min_step": None, "val_final": None, "train_fall_after_val_min": None,
           "overfit_step": None}
    ok = np.isfinite(val_loss)
    if ok.sum() < 4 or len(loss) < 10:
        return out
    vs, vl = val_steps[ok], val_loss[ok]
    i = int(np.argmin(vl))
    final = float(np.median(vl[-2:]))
    out.update(val_min=float(vl[i]), val_min_step=int(vs[i]), val_final=final)
    at_min = np.searchsorted(steps, vs[i])
    w = window_rows(len(loss))
    train_then = float(np.median(loss[max(0, at_min - w):at_min + w]))
    train_end = final_level(loss)
    out["train_fall_after_val_min"] = train_end / train_then if train_then > 0 else None
    rises = final >= T["overfit_ratio"] * vl[i] and len(vl) - i > 2
    if rises and train_end <= T["train_falls"] * train_then:
        out["overfit_step"] = int(vs[i])
    return out


# ---- labels --------------------------------------------------------------------------------

def measure(steps: np.ndarray, loss: np.ndarray, grad_norm: np.ndarray, val_steps: np.ndarray,
            val_loss: np.ndarray, layers: dict[str, np.ndarray], num_classes: int | None) -> dict:
    """Every measurement of one run, in row indices where a row is meant (`*_row`)."""
    val_rows = np.searchsorted(steps, val_steps)
    val_bad = first_bad_row(val_loss)
    bad = first_bad_row(loss, grad_norm, *layers.values())
    if val_bad is not None:
        bad = min(bad, int(val_rows[val_bad])) if bad is not None else int(val_rows[val_bad])
    n = bad if bad is not None else len(loss)
    fl, fg = loss[:n], grad_norm[:n]
    m: dict = {"rows": len(loss), "finite_rows": n, "non_finite_row": bad,
               "initial_loss": initial_level(fl) if n else None, "final_loss": final_level(fl) if n else None,
               "min_loss": float(fl.min()) if n else None}
    m.update(loss_jumps(fl))
    m.update(divergence(fl))
    m.update(grad_explosion(fg, fl))
    m.update(vanishing(fg, fl, {k: v[:n] for k, v in layers.items()}))
    m.update(chance(fl, num_classes))
    m.update(oscillation(fl, fg))
    m.update(plateau_and_underfit(fl))
    m.update(overfitting(val_steps, val_loss, steps[:n], fl))
    return m


def symptoms(m: dict, steps: np.ndarray) -> list[dict]:
    """The symptom labels the measurements imply, each with its onset step, in onset order.

    Precedence among the level symptoms: a diverged or oscillating loss is neither a plateau
    nor underfitting; a loss stuck at ln(k) at the end is not also underfitting, nor a plateau
    at that same level."""
    found: dict[str, int] = {}
    for symptom, key in (("non_finite", "non_finite_row"), ("loss_spike", "spike_row"),
                         ("divergence", "diverge_row"), ("exploding_gradients", "explode_row"),
                         ("vanishing_gradients", "vanish_row"), ("stuck_at_chance", "chance_row"),
                         ("oscillation", "oscillation_row"), ("plateau", "plateau_row"),
                         ("underfitting", "underfit_row")):
        if m.get(key) is not None:
            found[symptom] = int(steps[min(m[key], len(steps) - 1)])
    if m.get("overfit_step") is not None:
        found["overfitting"] = m["overfit_step"]
    if "divergence" in found or "oscillation" in found:
        found.pop("plateau", None)
        found.pop("underfitting", None)
    if "stuck_at_chance" in found:
        found.pop("underfitting", None)
        if "plateau" in found and abs(m["plateau_level"] - m["chance_level"]) <= 2 * T["chance_band"] * m["chance_level"]:
            found.pop("plateau", None)  # the same flat stretch, at ln(k)
    return [{"symptom": s, "onset": step} for s, step in sorted(found.items(), key=lambda kv: kv[1])]
