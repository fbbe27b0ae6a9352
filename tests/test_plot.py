"""--plot writes a real PNG with the finding band drawn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from diagnose.report.plot import BAND_ALPHA, SEVERITY_COLOR  # noqa: E402


def _blend(hex_color: str) -> np.ndarray:
    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return 255 * (1 - BAND_ALPHA) + rgb * BAND_ALPHA


def _plot(tmp_path, name: str) -> Path:
    """A run that goes NaN from step 1000 of 1500, plotted to tmp_path/name by the CLI."""
    rng = np.random.default_rng(0)
    loss = 2 * np.exp(-np.arange(1500) / 200) + 0.3 + 0.02 * rng.standard_normal(1500)
    loss[1000:] = np.nan
    log = tmp_path / "run.csv"
    log.write_text("step,loss,grad_norm\n" + "".join(f"{i},{v},1.0\n" for i, v in enumerate(loss)))
    result = subprocess.run([sys.executable, "-m", "diagnose", str(log), "--plot", str(tmp_path / name),
                             "--fail-on", "never"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return tmp_path / name


def test_plot_png_shades_the_finding_band(tmp_path):
    png = _plot(tmp_path, "run.png")
    image = np.asarray(Image.open(png).convert("RGB")).astype(float)
    assert image.shape[1] == 1000 and image.shape[0] >= 400
    band = np.all(np.abs(image - _blend(SEVERITY_COLOR["error"])) < 4, axis=2)
    columns = np.flatnonzero(band.any(axis=0))
    assert len(columns) > 50  # the non_finite range 1000-1499 is a third of the x axis
    assert columns.min() > image.shape[1] * 0.5  # and it sits on the right, where the NaNs are


def test_plot_html_is_one_self_contained_page_with_the_band(tmp_path):
    pytest.importorskip("plotly")
    page = _plot(tmp_path, "run.html").read_text()
    assert "<script src=" not in page and "Plotly.newPlot" in page  # plotly.js inlined: works offline
    at = page.index('"shapes":') + len('"shapes":')
    shapes, _ = json.JSONDecoder().raw_decode(page[at:])
    bands = {(s["fillcolor"], s["x0"], s["x1"]) for s in shapes if s["type"] == "rect"}  # one per panel
    assert bands == {(SEVERITY_COLOR["error"], 1000, 1499)}
    assert '"name":"loss"' in page and '"name":"grad_norm"' in page
