"""The run catalog: healthy runs and one injected fault per run, several seeds and sizes each.

A spec is a plain dict (see `bench/train.py`); `FAULTS` names, per fault, the symptoms its
numbers may show (a run showing none of them is reported as inconsistent) and the causes,
primary first.
"""

from __future__ import annotations

FAULTS: dict[str, dict] = {
    "healthy": {"expect": set(), "causes": []},
    "lr_far_too_high": {"expect": {"divergence", "non_finite"}, "causes": ["lr_too_high"]},
    "lr_slightly_too_high": {"expect": {"oscillation"}, "causes": ["lr_too_high", "optimizer_choice"]},
    "lr_too_low": {"expect": {"plateau", "underfitting"}, "causes": ["lr_too_low"]},
    "saturating_deep_stack": {"expect": {"vanishing_gradients"},
                              "causes": ["saturating_activation", "bad_initialization"]},
    "bad_init_scale": {"expect": {"exploding_gradients", "divergence", "non_finite", "loss_spike"},
                       "causes": ["bad_initialization", "missing_normalization"]},
    "rnn_no_clipping": {"expect": {"exploding_gradients"}, "causes": ["missing_grad_clipping", "lr_too_high"]},
    "nan_input": {"expect": {"non_finite"}, "causes": ["bad_input_data"]},
    "log_of_zero": {"expect": {"non_finite"}, "causes": ["numerical_instability"]},
    "warmup_too_high": {"expect": {"loss_spike"}, "causes": ["lr_too_high"]},
    "saddle_deep_linear": {"expect": {"plateau"}, "causes": ["saddle_point", "bad_initialization"]},
    "wrong_loss": {"expect": {"stuck_at_chance", "plateau", "underfitting"}, "causes": ["wrong_loss_function"]},
    "tiny_data_big_model": {"expect": {"overfitting"}, "causes": ["insufficient_regularization"]},
    "too_small_model": {"expect": {"underfitting"}, "causes": ["insufficient_capacity"]},
}


def _s(fault: str, data: str, model: dict, opt: str, lr: float | dict, steps: int, seed: int = 0,
       loss: str = "ce", batch: int = 64, **extra) -> dict:
    """One run spec; `lr` is a peak value or a full schedule dict."""
    data_spec = {"name": data, **extra.pop("data_kw", {})}
    schedule = lr if isinstance(lr, dict) else {"peak": lr}
    spec = {"fault": fault, "seed": seed, "data": data_spec, "model": model,
            "optimizer": {"name": opt, **extra.pop("opt_kw", {})}, "lr": schedule, "loss": loss,
            "steps": steps, "batch": batch}
    spec.update(extra)
    return spec


def mlp(*hidden: int, act: str = "relu", **kw) -> dict:
    return {"kind": "mlp", "hidden": list(hidden), "act": act, **kw}


CNN = {"kind": "cnn", "channels": [8, 16]}
LSTM = {"kind": "rnn", "cell": "lstm", "hidden": 32}


def healthy() -> list[dict]:
    h = "healthy"
    cos = lambda peak, warmup=0: {"peak": peak, "warmup": warmup, "decay": "cosine", "floor": 0.05}
    runs = [_s(h, "digits", mlp(64, 64), "adam", cos(1e-3), 1500, seed=s, val_every=50) for s in (0, 1, 2)]
    runs += [
        _s(h, "digits", mlp(128, 64), "momentum", {"peak": 0.05, "decay": "step", "milestones": [0.5, 0.8]}, 2000, seed=2),
        _s(h, "digits", CNN, "adam", cos(2e-3, 100), 1200, seed=0, val_every=40, layer_norms=True),
        _s(h, "digits", CNN, "adam", cos(2e-3, 100), 1200, seed=1),
        _s(h, "digits", CNN, "momentum", {"peak": 0.02, "decay": "step", "milestones": [0.6]}, 2000, seed=3),
        _s(h, "wine", mlp(32), "sgd", 0.05, 800, seed=0, batch=16),
        _s(h, "wine", mlp(32), "sgd", 0.05, 800, seed=1, batch=16, val_every=20),
        _s(h, "wine", mlp(64, 64), "adam", 1e-3, 200, seed=2, batch=16),
        _s(h, "cancer", mlp(32, 32), "adam", 1e-3, 1000, seed=0, batch=32, val_every=25),
        _s(h, "cancer", mlp(32, 32), "adam", 1e-3, 1000, seed=1, batch=32),
        _s(h, "moons", mlp(16, 16), "momentum", cos(0.02), 50000, seed=0, batch=32),
        _s(h, "moons", mlp(32, 32), "momentum", {"peak": 0.1, "warmup": 200, "decay": "linear"}, 5000, seed=1,
           batch=32, log_every=5),
        _s(h, "blobs", mlp(64, 64), "momentum", cos(0.05, 100), 3000, seed=0, val_every=100),
        _s(h, "blobs", mlp(64, 64), "momentum", cos(0.05, 100), 3000, seed=1),
        _s(h, "blobs", mlp(32), "adam", 1e-3, 20000, seed=2, batch=32),
        _s(h, "regression", mlp(64, 64), "adam", cos(1e-3), 2000, seed=0, loss="mse", val_every=50),
        _s(h, "regression", mlp(64, 64), "adam", cos(1e-3), 2000, seed=1, loss="mse"),
        _s(h, "adding", LSTM, "adam", 5e-3, 800, seed=0, loss="mse", batch=32, clip=1.0, data_kw={"length": 15, "n": 1000}),
        _s(h, "digits", mlp(64, 64, 64, 64, 64, 64), "adam", 1e-3, 1500, seed=0, layer_norms=True),
        _s(h, "digits", mlp(64, 64, 64, 64, 64, 64), "adam", 1e-3, 1500, seed=1, layer_norms=True, log_every=2),
        _s(h, "digits", mlp(64, 64), "sgd", 0.1, 3000, seed=4, batch=32),
        _s(h, "digits", mlp(64, act="tanh"), "adam", 1e-3, 1500, seed=0, layer_norms=True),
        _s(h, "digits", mlp(64, act="tanh"), "adam", 1e-3, 1500, seed=1, log_every=5),
    ]
    # benign spikes: one corrupted-but-finite batch (inputs x3; x1.5 for MSE, which grows with
    # the square of the error, and for moons, whose boundary points flip); the bump recovers
    # within a few steps and stays below the loss-spike test
    runs += [
        _s(h, "digits", mlp(64, 64), "adam", cos(1e-3), 1500, seed=5, inject={"spike_at": 600, "spike_scale": 3.0}),
        _s(h, "cancer", mlp(32, 32), "adam", 1e-3, 1000, seed=2, batch=32, inject={"spike_at": 300, "spike_scale": 3.0}),
        _s(h, "blobs", mlp(64, 64), "momentum", cos(0.05, 100), 3000, seed=2, inject={"spike_at": 1200, "spike_scale": 3.0}),
        _s(h, "moons", mlp(32, 32), "adam", 3e-3, 2000, seed=2, batch=32, inject={"spike_at": 800, "spike_scale": 1.5}),
        _s(h, "regression", mlp(64, 64), "adam", cos(1e-3), 2000, seed=2, loss="mse", inject={"spike_at": 700, "spike_scale": 1.5}),
    ]
    return runs


def lr_far_too_high() -> list[dict]:
    f = "lr_far_too_high"
    return [
        _s(f, "regression", mlp(64, 64), "sgd", 2.0, 600, seed=0, loss="mse"),
        _s(f, "regression", mlp(64, 64), "sgd", 0.5, 800, seed=0, loss="mse", layer_norms=True),
        _s(f, "digits", mlp(64, 64, act="gelu"), "momentum", 3.0, 600, seed=0, stop_after_nonfinite=200),
        _s(f, "diabetes", mlp(64), "sgd", 1.0, 600, seed=1, loss="mse"),
        _s(f, "blobs", mlp(64, 64, act="tanh"), "momentum", 1.0, 800, seed=0),
        # the ReLUs die after the first huge steps: the loss then sits at ln(k)
        _s(f, "digits", mlp(64, 64), "sgd", 3.0, 800, seed=0),
    ]


def lr_slightly_too_high() -> list[dict]:
    # a non-separable problem: steps too large for the valley bounce around the minimum
    f = "lr_slightly_too_high"
    return [
        _s(f, "blobs", mlp(), "adam", 0.5, 1500, seed=0),
        _s(f, "blobs", mlp(), "adam", 0.5, 1000, seed=1),
        _s(f, "blobs", mlp(), "sgd", 20.0, 1200, seed=2),
        _s(f, "moons", mlp(), "adam", 1.0, 1500, seed=0, batch=32),
        _s(f, "moons", mlp(), "adam", 1.0, 1000, seed=1, batch=32),
        _s(f, "blobs", mlp(), "adam", 0.7, 1000, seed=4),
        _s(f, "moons", mlp(), "adam", 1.0, 1200, seed=3, batch=32),
    ]


def lr_too_low() -> list[dict]:
    f = "lr_too_low"
    return [
        _s(f, "digits", mlp(64, 64), "sgd", 1e-3, 2000, seed=0),
        _s(f, "digits", CNN, "sgd", 2e-3, 1500, seed=1),
        _s(f, "cancer", mlp(32, 32), "sgd", 1e-3, 1000, seed=0, batch=32),
        _s(f, "blobs", mlp(64, 64), "adam", 1e-5, 2000, seed=0, log_every=2),
        _s(f, "regression", mlp(64, 64), "sgd", 1e-5, 1500, seed=0, loss="mse"),
        _s(f, "wine", mlp(32), "sgd", 1e-3, 1000, seed=0, batch=16),
        # so low the outputs never leave the uniform prediction of the init
        _s(f, "digits", mlp(64, 64), "sgd", 1e-4, 1500, seed=1),
    ]


def saturating_deep_stack() -> list[dict]:
    f = "saturating_deep_stack"
    deep = lambda depth, act, width=64: mlp(*[width] * depth, act=act)
    return [
        _s(f, "digits", deep(10, "sigmoid"), "sgd", 0.1, 1500, seed=0, layer_norms=True),
        _s(f, "digits", deep(15, "sigmoid"), "adam", 1e-3, 1000, seed=1, layer_norms=True),
        _s(f, "digits", deep(20, "tanh", 32), "sgd", 0.05, 1500, seed=2, layer_norms=True),
        _s(f, "wine", deep(12, "sigmoid", 32), "momentum", 0.01, 800, seed=0, batch=16, layer_norms=True),
        _s(f, "blobs", deep(10, "sigmoid"), "momentum", 0.01, 1500, seed=0, layer_norms=True, log_every=2),
        _s(f, "cancer", deep(8, "sigmoid", 32), "sgd", 0.05, 1000, seed=1, batch=32, layer_norms=True),
        _s(f, "blobs", deep(30, "tanh", 32), "adam", 1e-3, 1000, seed=2, layer_norms=True),
    ]


def bad_init_scale() -> list[dict]:
    # weights x4-x20 after the default init: the first updates overshoot (MSE has no cap)
    f = "bad_init_scale"
    deep = lambda scale, depth: mlp(*[64] * depth, init_scale=scale)
    return [
        _s(f, "regression", deep(4.0, 6), "sgd", 3e-4, 600, seed=0, loss="mse"),
        _s(f, "regression", deep(10.0, 3), "sgd", 0.01, 600, seed=0, loss="mse", stop_after_nonfinite=250),
        _s(f, "regression", deep(4.0, 6), "sgd", 1e-4, 800, seed=0, loss="mse"),
        _s(f, "diabetes", deep(4.0, 5), "sgd", 3e-4, 600, seed=0, loss="mse", batch=32),
        _s(f, "digits", deep(20.0, 3), "momentum", 0.01, 800, seed=1),
        _s(f, "digits", deep(10.0, 3), "momentum", 0.05, 600, seed=0),
    ]


def rnn_no_clipping() -> list[dict]:
    f = "rnn_no_clipping"
    rnn = {"kind": "rnn", "cell": "rnn", "act": "relu", "hidden": 32}
    seq = lambda length: {"length": length, "n": 1000}
    return [
        _s(f, "adding", rnn, "adam", 3e-3, 1200, seed=0, loss="mse", batch=32, data_kw=seq(50)),
        _s(f, "adding", rnn, "adam", 1e-2, 1000, seed=1, loss="mse", batch=32, data_kw=seq(50)),
        _s(f, "adding", rnn, "momentum", 3e-2, 1000, seed=2, loss="mse", batch=32, data_kw=seq(50)),
        _s(f, "adding", rnn, "adam", 5e-3, 1000, seed=3, loss="mse", batch=32, data_kw=seq(40)),
    ]


def nan_input() -> list[dict]:
    f = "nan_input"
    return [
        _s(f, "digits", mlp(64, 64), "adam", 1e-3, 1500, seed=0, inject={"nan_at": 700}),
        _s(f, "cancer", mlp(32, 32), "adam", 1e-3, 1000, seed=1, batch=32, inject={"nan_at": 300, "nan_value": "inf"},
           stop_after_nonfinite=20),
        _s(f, "moons", mlp(16, 16), "adam", 3e-3, 4000, seed=0, batch=32, inject={"nan_at": 2500, "nan_value": "inf"}),
        _s(f, "digits", CNN, "adam", 2e-3, 1200, seed=2, inject={"nan_at": 900}, val_every=50),
        _s(f, "blobs", mlp(64, 64), "momentum", 0.05, 2000, seed=0, inject={"nan_at": 1234, "nan_count": 3},
           stop_after_nonfinite=100),
        _s(f, "regression", mlp(64, 64), "adam", 1e-3, 1500, seed=3, loss="mse", inject={"nan_at": 400, "nan_value": "inf"}),
    ]


def log_of_zero() -> list[dict]:
    f = "log_of_zero"
    unstable = "manual_log_softmax"
    return [
        _s(f, "digits", mlp(64, 64), "adam", 1e-2, 3000, seed=0, loss=unstable, stop_after_nonfinite=200),
        _s(f, "cancer", mlp(64, 64), "adam", 1e-2, 3000, seed=0, loss=unstable, stop_after_nonfinite=200, batch=32),
        _s(f, "digits", mlp(128, 128), "adam", 3e-2, 3000, seed=1, loss=unstable, stop_after_nonfinite=200),
        _s(f, "blobs", mlp(64, 64), "adam", 3e-2, 3000, seed=2, loss=unstable, stop_after_nonfinite=200, log_every=2),
        _s(f, "blobs", mlp(64, 64), "adam", 1e-2, 3000, seed=0, loss=unstable, stop_after_nonfinite=200),
    ]


def warmup_too_high() -> list[dict]:
    f = "warmup_too_high"
    warm = lambda peak, warmup: {"peak": peak, "warmup": warmup, "decay": "cosine", "floor": 0.01}
    return [
        _s(f, "digits", mlp(64, 64), "adam", warm(0.1, 200), 1500, seed=0),
        _s(f, "digits", CNN, "adam", warm(0.2, 150), 1200, seed=1),
        _s(f, "blobs", mlp(64, 64), "adam", warm(0.2, 300), 2000, seed=0),
        _s(f, "digits", mlp(128, 128), "momentum", warm(2.0, 200), 1500, seed=2),
        _s(f, "cancer", mlp(32, 32), "adam", warm(0.3, 200), 1000, seed=0, batch=32),
    ]


def saddle_deep_linear() -> list[dict]:
    f = "saddle_deep_linear"
    lin = lambda depth, width, std: {"kind": "deep_linear", "depth": depth, "width": width, "init_std": std}
    return [
        _s(f, "digits", lin(4, 32, 0.05), "sgd", 0.05, 2000, seed=0),
        _s(f, "digits", lin(5, 32, 0.05), "sgd", 0.05, 3000, seed=1),
        _s(f, "blobs", lin(4, 32, 0.05), "sgd", 0.05, 2000, seed=0),
        _s(f, "regression", lin(4, 32, 0.02), "sgd", 0.05, 2000, seed=0, loss="mse"),
        _s(f, "wine", lin(4, 16, 0.06), "sgd", 0.05, 1500, seed=0, batch=16),
    ]


def wrong_loss() -> list[dict]:
    f = "wrong_loss"
    return [
        _s(f, "digits", mlp(64, 64), "sgd", 0.1, 2000, seed=0, loss="mse_onehot"),
        _s(f, "blobs", mlp(64, 64), "sgd", 0.05, 2000, seed=0, loss="mse_onehot"),
        _s(f, "digits", mlp(64, 64, softmax_out=True), "sgd", 0.1, 2000, seed=1),
        _s(f, "wine", mlp(32, softmax_out=True), "sgd", 0.05, 1000, seed=0, batch=16),
        _s(f, "digits", mlp(64, 64, softmax_out=True), "adam", 1e-3, 2000, seed=2),
    ]


def tiny_data_big_model() -> list[dict]:
    f = "tiny_data_big_model"
    few = lambda n: {"n_train": n}
    return [
        _s(f, "digits", mlp(256, 256), "adam", 1e-3, 3000, seed=0, val_every=25, data_kw=few(80), batch=32),
        _s(f, "cancer", mlp(256, 256), "adam", 1e-3, 2000, seed=0, val_every=20, data_kw=few(40), batch=32),
        _s(f, "diabetes", mlp(256, 256), "adam", 1e-3, 1000, seed=0, val_every=20, data_kw=few(60), batch=32, loss="mse"),
        _s(f, "wine", mlp(256, 256), "adam", 1e-3, 1500, seed=1, val_every=25, data_kw=few(30), batch=16),
        _s(f, "blobs", mlp(256, 256), "adam", 1e-3, 2000, seed=1, val_every=20, data_kw=few(60), batch=32),
        _s(f, "digits", mlp(256, 256), "adam", 1e-3, 2000, seed=2, val_every=50, data_kw=few(50), batch=32),
        _s(f, "blobs", mlp(128, 128, 128), "adam", 1e-3, 1500, seed=3, val_every=30, data_kw=few(80), batch=16),
    ]


def too_small_model() -> list[dict]:
    f = "too_small_model"
    return [
        _s(f, "digits", mlp(2), "adam", 1e-2, 2000, seed=0, batch=256),
        _s(f, "blobs", mlp(), "adam", 1e-2, 2000, seed=0, batch=256),
        _s(f, "moons", mlp(), "adam", 1e-2, 2000, seed=0, batch=256),
        _s(f, "regression", mlp(), "adam", 1e-2, 2000, seed=0, loss="mse", batch=256),
        _s(f, "digits", mlp(2, act="tanh"), "momentum", 0.05, 3000, seed=1, batch=256, log_every=2),
    ]


CATALOG = [healthy, lr_far_too_high, lr_slightly_too_high, lr_too_low, saturating_deep_stack, bad_init_scale,
           rnn_no_clipping, nan_input, log_of_zero, warmup_too_high, saddle_deep_linear, wrong_loss,
           tiny_data_big_model, too_small_model]


def catalog(only: set[str] | None = None) -> list[dict]:
    """All run specs with ids, formats and naming styles assigned (stable across calls)."""
    specs, per_format = [], {"csv": 0, "jsonl": 0}
    for make in CATALOG:
        for j, spec in enumerate(make()):
            spec["id"] = f"{spec['fault']}-{j:02d}-{spec['data']['name']}-{spec['model']['kind']}"
            spec["format"] = "jsonl" if j % 3 == 1 else "csv"
            spec["style"] = per_format[spec["format"]]  # cycles through the column-name styles
            per_format[spec["format"]] += 1
            spec.setdefault("step_base", 1 if j % 4 == 3 else 0)
            specs.append(spec)
    return [s for s in specs if only is None or s["fault"] in only]
