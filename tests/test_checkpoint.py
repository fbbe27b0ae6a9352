"""Checkpoint forensics on checkpoints of really trained small models, saved by torch.save and
safetensors in the layouts people use (state dict, bundle, Lightning, Hugging Face folder)."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
from torch import nn  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from diagnose.checkpoint.analyze import diagnose_checkpoints  # noqa: E402
from diagnose.checkpoint.hessian import diagnose_hessian, lanczos_extremes  # noqa: E402
from diagnose.checkpoint.load import load_checkpoint  # noqa: E402
from diagnose.checkpoint.safetensors_file import SafetensorsFile  # noqa: E402
from diagnose.checkpoint.stats import stream_stats  # noqa: E402
from diagnose.checkpoint.tensors import TorchTensors  # noqa: E402
from diagnose.cli import app  # noqa: E402
from diagnose.errors import InputError  # noqa: E402
from diagnose.report import summary  # noqa: E402

MARKER = "diagnose-pwned-marker"


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models train fastest on one thread (and a busy 2-core CI box stalls on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- training ---------------------------------------------------------------------------------

def blobs(n: int = 256, d: int = 16, k: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, d, generator=g)
    return x, (x @ torch.randn(d, k, generator=g)).argmax(1)


def mlp(depth: int = 3, width: int = 64, act: type[nn.Module] = nn.ReLU, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers, fan_in = [], 16
    for _ in range(depth - 1):
        layers += [nn.Linear(fan_in, width), act()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, 4))


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, nan_at: int | None = None,
          save_at: dict[int, Path] | None = None) -> list[float]:
    """Full-batch cross-entropy steps; `nan_at` feeds one NaN sample at that step (a bad batch)."""
    x, y = blobs()
    losses = []
    for step in range(1, steps + 1):
        batch = x.clone()
        if step == nan_at:
            batch[0, 0] = float("nan")
        loss = nn.functional.cross_entropy(model(batch), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if save_at and step in save_at:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                       save_at[step])
    return losses


def bundle(model: nn.Module, optimizer: torch.optim.Optimizer, path: Path, **extra) -> Path:
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), **extra}, path)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    paths = {}

    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = train(model, optimizer, 40)
    torch.save(model.state_dict(), root / "healthy_state_dict.pt")
    safetensors_torch.save_file(model.state_dict(), root / "healthy.safetensors")
    paths["healthy_state_dict"] = root / "healthy_state_dict.pt"
    paths["healthy_safetensors"] = root / "healthy.safetensors"
    paths["healthy_hf"] = hf_folder(root / "checkpoint-40", model, optimizer, losses)

    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=10.0)  # a huge LR: weights grow 100x
    train(model, optimizer, 40)
    paths["exploded"] = bundle(model, optimizer, root / "exploded.pt")

    model = mlp(depth=10, width=32, act=nn.Sigmoid)  # a deep sigmoid stack
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, optimizer, 40)
    paths["vanished"] = lightning_checkpoint(root / "epoch=0-step=40.ckpt", model, optimizer, 40)

    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train(model, optimizer, 40, nan_at=30)
    paths["nan"] = bundle(model, optimizer, root / "nan.pth")
    return paths


def hf_folder(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, losses: list[float]) -> Path:
    """The files a Hugging Face Trainer checkpoint folder holds."""
    folder.mkdir()
    safetensors_torch.save_file(model.state_dict(), folder / "model.safetensors")
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    history = [{"step": i + 1, "epoch": 0.0, "loss": loss, "grad_norm": 1.0, "learning_rate": 1e-2}
               for i, loss in enumerate(losses)]
    (folder / "trainer_state.json").write_text(json.dumps(
        {"global_step": len(losses), "log_history": history}))
    return folder


def lightning_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int) -> Path:
    """What Lightning's ModelCheckpoint writes (the LightningModule holds the net as `model`)."""
    torch.save({"epoch": 0, "global_step": step, "pytorch-lightning_version": "2.6.0",
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "optimizer_states": [optimizer.state_dict()], "lr_schedulers": [],
                "loops": {}, "callbacks": {}}, path)
    return path


# ---- diagnosis ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["healthy_state_dict", "healthy_safetensors", "healthy_hf"])
def test_healthy_checkpoints_have_no_error_findings(runs, name):
    run = diagnose_checkpoints([runs[name]]).report.runs[0]
    assert [f for f in run.findings if f.severity == "error"] == []
    assert run.status == "healthy", [(f.symptom, f.evidence) for f in run.findings]


@pytest.mark.parametrize("name, symptom, cause", [
    ("exploded", "exploding_gradients", "lr_too_high"),
    ("vanished", "vanishing_gradients", "saturating_activation"),
    ("nan", "non_finite", "bad_input_data"),
])
def test_failed_runs_are_found_with_symptom_and_top_cause(runs, name, symptom, cause):
    run = diagnose_checkpoints([runs[name]]).report.runs[0]
    top = summary.top_finding(run)
    assert run.status == "failed"
    assert (top.symptom, top.causes[0].cause) == (symptom, cause), [(f.symptom, f.rule) for f in run.findings]


def test_exploded_weights_are_orders_above_their_init(runs):
    run = diagnose_checkpoints([runs["exploded"]]).report.runs[0]
    scale = next(f for f in run.findings if f.rule == "checkpoint-weight-scale")
    assert scale.symptom == "exploding_gradients" and scale.stats["max_orders"] > 1.5
    assert scale.causes[0].cause == "lr_too_high"
    assert "adaptive_lr_large" in [hit.name for hit in scale.causes[0].evidence]


def test_vanishing_profile_puts_early_layers_orders_below_late(runs):
    diagnosis = diagnose_checkpoints([runs["vanished"]])
    finding = next(f for f in diagnosis.report.runs[0].findings if f.rule == "checkpoint-gradient-profile")
    grads = list(finding.stats["grad_rms"].values())
    assert finding.stats["orders"] > 3 and grads[0] < 1e-4 * grads[-1]


def test_nan_evidence_names_the_tensors_and_optimizer_moments(runs):
    finding = diagnose_checkpoints([runs["nan"]]).report.runs[0].findings[0]
    assert finding.step == 40 and "0.weight" in finding.stats["tensors"]
    assert "exp_avg_sq" in finding.evidence[0] and "everything_at_once" in [h.name for h in finding.causes[0].evidence]


def test_adam_second_moment_gives_the_gradient_rms(tmp_path):
    """After one Adam step, sqrt(exp_avg_sq / (1 - beta2)) is |g| exactly."""
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, optimizer, 1)
    expected = {n: float(p.grad.pow(2).mean().sqrt()) for n, p in model.named_parameters()}
    scan = diagnose_checkpoints([bundle(model, optimizer, tmp_path / "one.pt")]).scans[0]
    for name, rms in expected.items():
        assert scan.records[name].grad_rms == pytest.approx(rms, rel=1e-5)


# ---- layouts ------------------------------------------------------------------------------------

def test_hugging_face_folder_reads_weights_optimizer_and_trainer_log(runs):
    diagnosis = diagnose_checkpoints([runs["healthy_hf"]])
    scan = diagnosis.scans[0]
    assert (scan.layout, scan.step, scan.optimizer) == ("huggingface", 40, "adam")
    assert all(r.grad_rms is not None for r in scan.weights())  # moments matched to names by shape
    assert [r.format for r in diagnosis.report.runs] == ["checkpoint:huggingface", "hf_trainer"]


def test_lightning_checkpoint_matches_optimizer_states_to_prefixed_names(runs):
    scan = diagnose_checkpoints([runs["vanished"]]).scans[0]
    assert (scan.layout, scan.step) == ("lightning", 40)
    assert scan.records["model.0.weight"].grad_rms < scan.records["model.18.weight"].grad_rms


def test_safetensors_reader_matches_safe_open(tmp_path):
    from safetensors import safe_open

    tensors = {"a.weight": torch.randn(300, 7), "b": torch.randn(11).half(),
               "c": torch.randn(5, 3).bfloat16(), "d.num_batches_tracked": torch.tensor(7)}
    safetensors_torch.save_file(tensors, tmp_path / "m.safetensors")
    reader = SafetensorsFile(tmp_path / "m.safetensors")
    with safe_open(tmp_path / "m.safetensors", framework="pt") as reference:
        for name in tensors:
            expected = reference.get_tensor(name).float().reshape(-1).numpy()
            n = expected.size
            got = np.concatenate([np.array(reader.read(name, s, min(64, n - s))) for s in range(0, n, 64)])
            np.testing.assert_array_equal(got.astype(np.float32), expected)
    assert not reader.is_float("d.num_batches_tracked") and reader.names()[0] == "a.weight"
    reader.close()


def test_streamed_stats_match_numpy_across_many_chunks():
    values = torch.randn(100_003, dtype=torch.float64) * 3
    values[[5, 77_000]] = float("nan")
    values[99_999] = float("inf")
    stats = stream_stats([(TorchTensors({"t": values}), "t")], chunk=1000, extremes=True)
    finite = values[torch.isfinite(values)].numpy()
    assert (stats.numel, stats.nonfinite) == (100_003, 3)
    assert stats.rms == pytest.approx(math.sqrt(np.mean(finite ** 2)), rel=1e-12)
    assert stats.absmax == np.abs(finite).max() and stats.minimum == finite.min()
    lean = stream_stats([(TorchTensors({"t": values}), "t")], chunk=1000, extremes=False)
    assert (lean.nonfinite, lean.sumsq) == (stats.nonfinite, stats.sumsq)  # a NaN shows without extremes


def test_float32_stats_are_accurate_and_survive_squares_beyond_float32():
    values = torch.randn(1_000_000, dtype=torch.float32)
    stats = stream_stats([(TorchTensors({"t": values}), "t")])
    exact = math.sqrt(np.mean(values.numpy().astype(np.float64) ** 2))
    assert stats.rms == pytest.approx(exact, rel=1e-6) and stats.nonfinite == 0
    huge = torch.tensor([3e20, -4e20, 0.0], dtype=torch.float32)  # squares overflow float32
    stats = stream_stats([(TorchTensors({"t": huge}), "t")])
    assert stats.nonfinite == 0 and stats.norm == pytest.approx(5e20, rel=1e-6)


def test_truncated_safetensors_is_an_input_error(tmp_path, runs):
    data = runs["healthy_safetensors"].read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.safetensors")


# ---- refusing code ------------------------------------------------------------------------------

class Malicious:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_pickle_that_needs_code_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / MARKER
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save({"weight": torch.ones(3), "extra": Malicious(marker)}, path)
    else:
        path.write_bytes(pickle.dumps({"weight": [1.0, 2.0], "extra": Malicious(marker)}, protocol=2))
    with pytest.raises(InputError, match="refused: needs arbitrary code.*posix.system"):
        diagnose_checkpoints([path])
    assert not marker.exists()


def test_the_cli_refuses_it_in_one_line_with_exit_2(tmp_path):
    marker = tmp_path / MARKER
    torch.save({"model": {"w": torch.ones(2)}, "extra": Malicious(marker)}, tmp_path / "evil.ckpt")
    result = CliRunner().invoke(app, ["checkpoint", str(tmp_path / "evil.ckpt")])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "refused: needs arbitrary code" in result.stderr
    assert not marker.exists()


# ---- several checkpoints of one run -------------------------------------------------------------

def test_update_ratio_between_checkpoints_is_per_step(tmp_path):
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    saves = {20: tmp_path / "step_20.pt", 40: tmp_path / "step_40.pt"}
    train(model, optimizer, 40, save_at=saves)
    diagnosis = diagnose_checkpoints([saves[40], saves[20]])  # ordered by step, not by argument
    before = torch.load(saves[20], weights_only=True)["model"]["2.weight"]
    after = torch.load(saves[40], weights_only=True)["model"]["2.weight"]
    expected = float((after - before).norm() / before.norm()) / 20
    assert diagnosis.scans[1].records["2.weight"].update_ratio == pytest.approx(expected, rel=1e-5)
    assert 1e-4 < expected < 1e-1 and diagnosis.report.runs[0].status == "healthy"


def test_a_layer_the_optimizer_never_moves_is_reported(tmp_path):
    model = mlp()
    model[0].weight.requires_grad_(False)  # detached by mistake, still handed to the optimizer
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    saves = {10: tmp_path / "step_10.pt", 30: tmp_path / "step_30.pt"}
    train(model, optimizer, 30, save_at=saves)
    run = diagnose_checkpoints(list(saves.values())).report.runs[0]
    still = next(f for f in run.findings if f.rule == "checkpoint-frozen-layers")
    assert still.symptom == "vanishing_gradients" and still.stats["layers"] == ["0.weight"]
    assert "1 parameters in the optimizer never received a gradient" in still.evidence[1]


def test_a_layer_left_out_of_the_optimizer_is_frozen_on_purpose(tmp_path):
    model = mlp()
    optimizer = torch.optim.Adam(list(model.parameters())[1:], lr=1e-2)  # fine-tuning all but 0.weight
    saves = {10: tmp_path / "step_10.pt", 30: tmp_path / "step_30.pt"}
    train(model, optimizer, 30, save_at=saves)
    run = diagnose_checkpoints(list(saves.values())).report.runs[0]
    assert not [f for f in run.findings if f.rule == "checkpoint-frozen-layers"]


def test_layers_that_jump_point_to_the_learning_rate(tmp_path):
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=10.0)
    saves = {1: tmp_path / "step_1.pt", 2: tmp_path / "step_2.pt"}
    train(model, optimizer, 2, save_at=saves)
    run = diagnose_checkpoints(list(saves.values())).report.runs[0]
    jump = next(f for f in run.findings if f.rule == "checkpoint-update-size")
    assert jump.step == 2 and jump.causes[0].cause == "lr_too_high"
    assert min(jump.stats["update_ratio"].values()) > 0.1


def test_the_layer_that_went_non_finite_first_is_named(tmp_path):
    """A trained run's checkpoints where one layer's weights overflowed before the rest."""
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train(model, optimizer, 20)
    bundle(model, optimizer, tmp_path / "step_20.pt", step=20)
    with torch.no_grad():
        model[2].weight[0, :3] = float("inf")
    bundle(model, optimizer, tmp_path / "step_21.pt", step=21)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    bundle(model, optimizer, tmp_path / "step_22.pt", step=22)
    finding = diagnose_checkpoints(sorted(tmp_path.glob("step_*.pt"))).report.runs[0].findings[0]
    assert finding.symptom == "non_finite" and finding.step == 21 and finding.stats["first"] == ["2.weight"]
    assert any(line.startswith("all finite at step_20.pt (step 20): weights in their init range")
               for line in finding.evidence)
    assert any("6 tensors non-finite by step_22.pt" in line for line in finding.evidence)


def test_collapsed_batchnorm_and_dead_layernorm_gains(tmp_path):
    x, y = blobs()
    x[:, 0] = 0.0  # a constant input feature: its BatchNorm channel's variance decays to 0
    model = nn.Sequential(nn.BatchNorm1d(16), nn.Linear(16, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 4))
    norm = list(model[2].parameters())
    rest = [p for p in model.parameters() if all(p is not q for q in norm)]
    # Weight decay applied to the LayerNorm gain and bias: lr x wd = 0.1 shrinks them 10% a step.
    optimizer = torch.optim.AdamW([{"params": rest, "lr": 1e-2},
                                   {"params": norm, "lr": 1e-5, "weight_decay": 1e4}])
    for _ in range(200):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    run = diagnose_checkpoints([bundle(model, optimizer, tmp_path / "norms.pt")]).report.runs[0]
    rules = {(f.rule, f.symptom): f for f in run.findings}
    assert rules[("checkpoint-batchnorm", "vanishing_gradients")].stats["layers"] == ["0"]
    gains = rules[("checkpoint-norm-gain", "vanishing_gradients")]
    assert gains.stats["layers"] == ["2"] and gains.causes[0].cause == "optimizer_choice"


# ---- CLI ----------------------------------------------------------------------------------------

def test_cli_terminal_table_and_exit_codes(runs):
    runner = CliRunner()
    result = runner.invoke(app, ["checkpoint", str(runs["vanished"]), "--no-color"], env={"COLUMNS": "160"})
    assert result.exit_code == 1, result.output
    for column in ("layer", "weight RMS", "init RMS", "grad RMS", "update", "non-finite", "model.18"):
        assert column in result.output
    assert "vanishing_gradients" in result.output and "saturating_activation" in result.output
    healthy = runner.invoke(app, ["checkpoint", str(runs["healthy_state_dict"])])
    assert healthy.exit_code == 0
    relaxed = runner.invoke(app, ["checkpoint", str(runs["vanished"]), "--fail-on", "never"])
    assert relaxed.exit_code == 0


def test_cli_json_keeps_the_contract_and_adds_layers(runs):
    result = CliRunner().invoke(app, ["checkpoint", str(runs["exploded"]), "--format", "json"])
    report = json.loads(result.stdout)
    run = report["runs"][0]
    assert result.exit_code == 1 and run["status"] == "failed"
    assert {"source", "format", "steps", "signals", "status", "findings"} <= set(run)
    assert [row["layer"] for row in run["layers"]] == ["0", "2", "4"]
    assert all(row["weight_rms"] > 10 * row["init_rms"][1] for row in run["layers"])
    assert run["checkpoints"][0]["optimizer"] == "adam"


def test_cli_markdown_has_the_layer_table(runs):
    result = CliRunner().invoke(app, ["checkpoint", str(runs["nan"]), "--format", "markdown"])
    assert result.exit_code == 1
    assert "| layer | shape | weight RMS |" in result.stdout and "`non_finite`" in result.stdout


def test_log_diagnosis_and_safetensors_scans_never_import_torch(runs):
    code = ("import sys, diagnose, diagnose.api, diagnose.cli\n"
            "from diagnose.checkpoint.analyze import diagnose_checkpoints\n"
            f"diagnose_checkpoints([{str(runs['healthy_safetensors'])!r}])\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_thresholds_file_is_not_loaded_as_a_log_rule():
    from diagnose.rules import load_rules

    assert not any(rule_id.startswith(("checkpoint", "hessian")) for rule_id in load_rules().rules)


# ---- Hessian --------------------------------------------------------------------------------

def test_lanczos_finds_the_saddle_of_w1_squared_minus_w2_squared():
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    grad = torch.autograd.grad(w[0] ** 2 - w[1] ** 2, w, create_graph=True)[0]

    def hvp(v):
        return torch.autograd.grad(grad, w, grad_outputs=v, retain_graph=True)[0]

    bottom, top, products = lanczos_extremes(hvp, 2, iterations=30, seed=3)
    assert (bottom, top) == (pytest.approx(-2.0, abs=1e-9), pytest.approx(2.0, abs=1e-9)) and products == 2


def test_lanczos_matches_a_dense_spectrum():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    spectrum = np.linspace(-3, 50, 200)
    matrix = torch.tensor(q @ np.diag(spectrum) @ q.T)
    bottom, top, _ = lanczos_extremes(lambda v: matrix @ v, 200, iterations=60, seed=0)
    assert bottom == pytest.approx(-3, rel=1e-3) and top == pytest.approx(50, rel=1e-6)


HESSIAN_MODELS = '''
import torch

class Product(torch.nn.Module):
    """y = a b x: a two-layer linear net of width 1; a = b = 0 is a saddle of the MSE."""
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.zeros(()))
        self.b = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.a * self.b * x

def product():
    return Product()

def linear():
    return torch.nn.Linear(5, 1)
'''


@pytest.fixture(scope="module")
def hessian_files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hessian")
    (root / "models.py").write_text(HESSIAN_MODELS)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, generator=g)
    torch.save({"x": x, "y": x.clone()}, root / "product_data.pt")
    torch.save({"a": torch.zeros(()), "b": torch.zeros(())}, root / "product.pt")
    features = torch.randn(100, 5, generator=g)
    targets = features @ torch.randn(5, 1, generator=g) + 0.1 * torch.randn(100, 1, generator=g)
    torch.save({"x": features, "y": targets}, root / "linear_data.pt")
    design = torch.cat([features, torch.ones(100, 1)], 1).double()
    solution = torch.linalg.lstsq(design, targets.double()).solution.float()  # the least-squares minimum
    torch.save({"weight": solution[:5].T.contiguous(), "bias": solution[5]}, root / "linear.pt")
    return root


def test_hessian_of_linear_regression_is_two_over_n_xtx(hessian_files):
    root = hessian_files
    report, result = diagnose_hessian(f"{root / 'models.py'}:linear", root / "linear.pt", root / "linear_data.pt")
    data = torch.load(root / "linear_data.pt", weights_only=True)
    design = torch.cat([data["x"], torch.ones(100, 1)], 1).double()
    expected = torch.linalg.eigvalsh(2 / 100 * design.T @ design)
    assert result.bottom == pytest.approx(float(expected[0]), rel=1e-6)
    assert result.top == pytest.approx(float(expected[-1]), rel=1e-6)
    assert result.verdict == "minimum" and report.runs[0].findings == []


def test_hessian_cli_reports_a_saddle_with_its_fixes(hessian_files):
    root = hessian_files
    args = ["hessian", "--model", f"{root / 'models.py'}:product", "--checkpoint", str(root / "product.pt"),
            "--data", str(root / "product_data.pt"), "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output  # a saddle is a warning: below the default --fail-on
    run = json.loads(result.stdout)["runs"][0]
    curvature = 2 * float(torch.load(root / "product_data.pt", weights_only=True)["x"].pow(2).mean())
    assert run["hessian"]["verdict"] == "saddle" and run["hessian"]["grad_norm"] == 0
    assert run["hessian"]["lambda_min"] == pytest.approx(-curvature, rel=1e-3)
    finding = run["findings"][0]
    assert (finding["symptom"], finding["causes"][0]["cause"]) == ("plateau", "saddle_point")
    assert any("momentum" in fix for fix in finding["causes"][0]["fixes"])
    assert CliRunner().invoke(app, [*args, "--fail-on", "warning"]).exit_code == 1


def test_hessian_rejects_weights_that_do_not_fit(hessian_files):
    root = hessian_files
    result = CliRunner().invoke(app, ["hessian", "--model", f"{root / 'models.py'}:linear", "--checkpoint",
                                      str(root / "product.pt"), "--data", str(root / "linear_data.pt")])
    assert result.exit_code == 2 and "does not fit the model" in result.output
