"""The training-loop logger and the framework callbacks, in real training loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from diagnose.api import diagnose_run  # noqa: E402
from diagnose.ingest import read_runs  # noqa: E402


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y)


def _train(path, lr: float, nan_at: int | None = None, steps: int = 300):
    from diagnose.torch import GradientLogger

    torch.manual_seed(0)
    x, y = _digits()
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with GradientLogger(model, path) as logger:
        for step in range(steps):
            idx = torch.randint(0, len(x), (32,))
            batch = x[idx].clone()
            if nan_at is not None and step == nan_at:
                batch[0, 0] = float("nan")
            loss = torch.nn.functional.cross_entropy(model(batch), y[idx])
            optimizer.zero_grad()
            loss.backward()
            logger.step(loss, optimizer)
            optimizer.step()


def test_gradient_logger_output_diagnoses_healthy_and_nan_runs(tmp_path):
    _train(tmp_path / "ok.csv", lr=0.1)
    _train(tmp_path / "nan.csv", lr=0.1, nan_at=120)
    (run,) = read_runs(tmp_path / "ok.csv")
    assert {"loss", "grad_norm", "lr", "grad_norm/0.weight", "grad_norm/2.bias"} <= set(run.names)
    layers = [run.series(n) for n in run.layer_names]
    total = math.sqrt(sum(float(s.iloc[0]) ** 2 for s in layers))
    assert run.series("grad_norm").iloc[0] == pytest.approx(total)
    assert diagnose_run(tmp_path / "ok.csv").runs[0].status == "healthy"
    report = diagnose_run(tmp_path / "nan.csv").runs[0]
    (finding,) = [f for f in report.findings if f.symptom == "non_finite"]
    assert finding.step == 120


def test_lightning_callback_in_a_real_trainer(tmp_path):
    lightning = pytest.importorskip("lightning")
    from diagnose.integrations.lightning import DiagnoseCallback

    x, y = _digits()

    class Classifier(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))

        def training_step(self, batch, batch_idx):
            inputs, labels = batch
            return torch.nn.functional.cross_entropy(self.net(inputs), labels)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    trainer = lightning.Trainer(max_epochs=3, callbacks=[DiagnoseCallback(tmp_path / "metrics.csv")],
                                logger=False, enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, gradient_clip_val=0.01, accelerator="cpu")
    trainer.fit(Classifier(), loader)
    (run,) = read_runs(tmp_path / "metrics.csv")
    assert len(run.series("loss")) == 3 * len(loader)
    assert run.series("grad_norm").median() > 0.01  # logged before Lightning clipped to 0.01
    assert diagnose_run(tmp_path / "metrics.csv").runs[0].status == "healthy"


def test_hugging_face_callback_in_a_real_trainer(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from diagnose.integrations.hf import DiagnoseCallback

    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, num_labels=2)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    ids = torch.randint(0, 50, (64, 8))
    labels = (ids[:, 0] > 25).long()
    data = [{"input_ids": i, "labels": l} for i, l in zip(ids, labels)]
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8,
                                          num_train_epochs=3, logging_steps=2, report_to=[],
                                          save_strategy="no", use_cpu=True, disable_tqdm=True,
                                          max_grad_norm=0.001)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data,
                                   callbacks=[DiagnoseCallback(tmp_path / "metrics.jsonl")])
    trainer.train()
    (run,) = read_runs(tmp_path / "metrics.jsonl")
    assert len(run.series("loss")) == 12 and run.has("grad_norm") and run.has("lr")
    assert run.series("loss").index[-1] == 24
    # max_grad_norm clips every step here; the per-parameter norms are the unclipped ones
    layers = [run.series(name) for name in run.layer_names]
    assert len(layers) == sum(1 for p in model.parameters() if p.requires_grad)
    combined = np.sqrt(sum(layer.to_numpy() ** 2 for layer in layers))
    assert np.allclose(combined, run.series("grad_norm").to_numpy(), rtol=1e-4)
    assert run.series("grad_norm").min() > 10 * args.max_grad_norm
    report = diagnose_run(tmp_path / "metrics.jsonl").runs[0]
    assert report.status in ("healthy", "warning")
