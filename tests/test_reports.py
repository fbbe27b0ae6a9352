"""The renderers: JSON keeps the CONTRACT shape and never emits NaN; Markdown and the terminal
say the verdict, where, why and what to change; sparklines survive empty, flat and non-finite."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from diagnose.report.downsample import downsample
from diagnose.report.json import plain, render_json, report_to_dict
from diagnose.report.markdown import render_markdown
from diagnose.report.model import Cause, EvidenceHit, Finding, Report, RunReport, SkippedRule
from diagnose.report.sparkline import BARS, marker_line, sparkline
from diagnose.report.terminal import render_terminal

RUN_KEYS = {"source", "format", "steps", "signals", "status", "findings"}
RUN_EXTRAS = {"first_step", "last_step", "skipped_rules"}
FINDING_KEYS = {"symptom", "severity", "rule", "step", "end_step", "confidence", "evidence", "causes"}
FINDING_EXTRAS = {"signal", "stats"}
CAUSE_KEYS = {"cause", "score", "fixes"}
CAUSE_EXTRAS = {"evidence"}
ANSI = re.compile(r"\x1b\[")


def failed_run() -> RunReport:
    lr_high = Cause(
        "lr_too_high", np.float64(0.7134), ["lower the peak LR 2-10x", "add or lengthen the warm-up",
                                            "use a decaying schedule"], base=0.45,
        evidence=[EvidenceHit("lr_rose_before", 0.3, 1.0, "lr 1e-3 -> 3e-3 just before step 3400"),
                  EvidenceHit("grad_norm_leads", -0.1, 0.5, "grad_norm x150 before step 3400")],
    )
    clipping = Cause("missing_grad_clipping", 0.52, ["clip the global grad norm at 1.0",
                                                     "log the pre-clip norm", "clip | by value"],
                     base=0.2, evidence=[EvidenceHit("grad_norm_leads", 0.4, 0.8, "")])
    spike = Finding(
        symptom="loss_spike", severity="error", rule="loss-spike", step=np.int64(3400),
        end_step=3420, confidence=np.float32(0.93),
        evidence=["loss 2.1 -> 9.8 (z=41) at step 3400", "grad_norm x150 over 20 steps"],
        causes=[lr_high, clipping], signal="loss",
        stats={"z": np.float64(41.23456), "baseline": float("nan"), "peak": float("inf"),
               "floor": -math.inf, "recovered": np.bool_(False), "layers": np.array([1, 2]),
               "recovery_steps": None, "big": 123456.789},
    )
    plateau = Finding("plateau", "warning", "plateau", 8000, 9000, 0.6, ["loss flat at 1.9"],
                      causes=[Cause("saddle_point", 0.4, ["add momentum"])], signal="loss")
    steps = list(range(0, 12000, 400))
    loss = [2.0 - i * 0.01 for i in range(len(steps))]
    loss[8] = 9.8
    grad = [1.0] * len(steps)
    grad[8] = math.inf
    return RunReport(
        source="runs/a|b.csv", format="csv", steps=12000, signals=["loss", "grad_norm", "lr"],
        findings=[spike, plateau], skipped=[SkippedRule("overfitting", ["val_loss"])],
        first_step=0, last_step=11999,
        series={"loss": (steps, loss), "grad_norm": (steps, grad), "lr": (steps, [3e-3] * len(steps))},
    )


def healthy_run() -> RunReport:
    return RunReport(source="runs/good.jsonl", format="jsonl", steps=500, signals=["loss"],
                     findings=[], first_step=0, last_step=499,
                     skipped=[SkippedRule("exploding-gradients", ["grad_norm|grad_norm/*"])])


def report() -> Report:
    return Report(runs=[failed_run(), healthy_run()])


def test_json_has_the_contract_shape_plus_documented_extras():
    data = json.loads(render_json(report()))
    assert set(data) == {"tool", "version", "runs"}
    assert data["tool"] == "diagnose"
    failed, healthy = data["runs"]
    assert set(failed) == RUN_KEYS | RUN_EXTRAS
    assert [failed["status"], healthy["status"]] == ["failed", "healthy"]
    assert healthy["findings"] == []
    assert failed["skipped_rules"] == [{"rule": "overfitting", "missing": ["val_loss"]}]
    finding = failed["findings"][0]
    assert set(finding) == FINDING_KEYS | FINDING_EXTRAS
    assert (finding["step"], finding["end_step"], finding["confidence"]) == (3400, 3420, 0.93)
    cause = finding["causes"][0]
    assert set(cause) == CAUSE_KEYS | CAUSE_EXTRAS
    assert (cause["cause"], cause["score"]) == ("lr_too_high", 0.713)
    assert cause["evidence"][1] == {"name": "grad_norm_leads", "weight": -0.1, "strength": 0.5,
                                    "delta": -0.05, "detail": "grad_norm x150 before step 3400"}
    assert [c["cause"] for c in finding["causes"]] == ["lr_too_high", "missing_grad_clipping"]


def test_json_never_holds_nan_and_unwraps_numpy():
    text = render_json(report())
    assert not re.search(r"\bNaN\b|\bInfinity\b", text)
    stats = json.loads(text)["runs"][0]["findings"][0]["stats"]
    assert stats == {"z": 41.23, "baseline": "nan", "peak": "inf", "floor": "-inf",
                     "recovered": False, "layers": [1, 2], "recovery_steps": None, "big": 123457.0}


def test_json_dict_is_plain_python():
    data = report_to_dict(report())
    finding = data["runs"][0]["findings"][0]
    assert type(finding["step"]) is int and type(finding["confidence"]) is float
    assert plain({"a": (np.float32(0.1234567), np.int32(3))}) == {"a": [0.1235, 3]}


def test_markdown_has_summary_table_findings_and_checklist():
    md = render_markdown(report())
    assert "| run | verdict | findings | first failure step | top cause |" in md
    assert "| `runs/a\\|b.csv` | ❌ failed | 2 | 3400 | `lr_too_high` |" in md
    assert "| `runs/good.jsonl` | ✅ healthy | 0 | - | - |" in md
    assert "### `loss_spike` (error), steps 3400-3420" in md
    assert "- loss 2.1 -> 9.8 (z=41) at step 3400" in md
    assert "| 1 | `lr_too_high` | 0.71 | +0.30 `lr_rose_before`: lr 1e-3 -> 3e-3" in md
    assert "| 2 | `missing_grad_clipping` | 0.52 | +0.32 `grad_norm_leads` |" in md
    checklist = md.split("### What to change")[1].split("\n\n")[1].splitlines()
    # top causes of the two findings, each fix once
    assert checklist == [
        "- [ ] lower the peak LR 2-10x (`lr_too_high`)",
        "- [ ] add or lengthen the warm-up (`lr_too_high`)",
        "- [ ] use a decaying schedule (`lr_too_high`)",
        "- [ ] add momentum (`saddle_point`)",
    ]
    assert "Skipped rules: `overfitting` (needs `val_loss`)" in md
    assert "`exploding-gradients` (needs `grad_norm` or `grad_norm/*`)" in md


def test_markdown_tables_have_one_cell_per_column():
    tables = re.findall(r"(?:^\|.*\|\n)+", render_markdown(report()), flags=re.M)
    assert len(tables) == 3  # the summary, then the causes of each of the two findings
    for table in tables:
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table.splitlines()}
        assert len(widths) == 1, table


def render_text(rep: Report) -> str:
    out = io.StringIO()
    render_terminal(rep, Console(file=out, no_color=True, width=100))
    return out.getvalue()


def test_terminal_plain_text_says_verdicts_steps_causes_and_fixes():
    text = render_text(report())
    assert not ANSI.search(text)
    assert "FAILED" in text and "HEALTHY" in text
    assert "steps 3400-3420" in text and "confidence 0.93" in text
    assert "lr_too_high" in text and "missing_grad_clipping" in text
    assert "+0.30 lr_rose_before: lr 1e-3 -> 3e-3 just before step 3400" in text
    assert "-0.05 grad_norm_leads" in text
    # top cause: every fix; the others: the first two, and a pointer to the rest
    assert "use a decaying schedule" in text
    assert "log the pre-clip norm" in text and "clip | by value" not in text
    assert "+1 more: diagnose explain missing_grad_clipping" in text
    assert "skipped: overfitting (needs val_loss)" in text
    assert "skipped: exploding-gradients (needs grad_norm or grad_norm/*)" in text
    assert "no problems found" in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100


def test_terminal_wraps_long_lines_or_keeps_them_whole_but_never_cuts_them():
    run = failed_run()
    long_fix = "clip the global L2 norm: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"
    run.findings[0].causes[0].fixes.append(long_fix)
    for soft_wrap in (False, True):
        out = io.StringIO()
        render_terminal(Report(runs=[run]), Console(file=out, width=60, soft_wrap=soft_wrap))
        squeezed = "".join(out.getvalue().split())  # wrapping may split inside a long word
        assert "".join(f"fix: {long_fix}".split()) in squeezed
        assert (f"fix: {long_fix}" in out.getvalue()) == soft_wrap


def test_terminal_summary_table_only_with_several_runs():
    several = render_text(report())
    assert "2 runs in runs" in several and "first failure" in several
    assert several.index("good.jsonl") < several.index("likely causes")
    single = render_text(Report(runs=[failed_run()]))
    assert "first failure" not in single


def test_terminal_sparklines_mark_findings_under_their_signal():
    lines = render_text(Report(runs=[failed_run()])).splitlines()
    loss_i = next(i for i, line in enumerate(lines) if line.lstrip().startswith("loss "))
    loss_line, marks = lines[loss_i], lines[loss_i + 1]
    assert "min 1.71 max 9.8" in loss_line and "█" in loss_line
    bars_at = loss_line.index("█")
    # the spike (step 3400 -> point at 3200) and the plateau (8000-9000 -> 3 points)
    assert marks.strip(" ^") == "" and marks.count("^") == 1 + 3
    assert marks[bars_at] == "^"
    grad_line = next(line for line in lines if line.lstrip().startswith("grad_norm "))
    assert "↑" in grad_line and grad_line.rstrip().endswith("const 1 log")


def test_terminal_prints_brackets_in_user_text_literally():
    run = healthy_run()
    run.source = "runs/[bold]x[/].csv"
    run.findings = [Finding("underfitting", "warning", "underfitting", None, None, 0.5, ["loss [high]"])]
    text = render_text(Report(runs=[run, healthy_run()]))  # the summary table shows it too
    assert "runs/[bold]x[/].csv" in text and text.count("[bold]x[/].csv") == 2 and "• loss [high]" in text


@pytest.mark.parametrize(
    "values, log, expected",
    [
        ([], False, ""),
        ([3.0, 3.0, 3.0], False, "▄▄▄"),
        ([0.0, 1.0, float("nan"), float("inf"), -math.inf], False, "▁█×↑↓"),
        ([1.0, 8.0], False, "▁█"),
        ([1.0, 10.0, 100.0], True, "▁▅█"),
        ([0.0, 1.0, 100.0], True, "▁▁█"),
        ([float("nan"), float("nan")], False, "××"),
    ],
)
def test_sparkline_edge_cases(values, log, expected):
    assert sparkline(values, log=log) == expected


def test_sparkline_is_monotone_in_the_value():
    line = sparkline([float(v) for v in range(16)])
    assert [BARS.index(c) for c in line] == sorted(BARS.index(c) for c in line)
    assert line[0] == BARS[0] and line[-1] == BARS[-1]


def test_marker_line_ranges_and_single_steps():
    steps = [0, 100, 200, 300, 400]
    assert marker_line(steps, []) == "     "
    assert marker_line(steps, [(100, 300)]) == " ^^^ "
    assert marker_line(steps, [(250, None)]) == "  ^  "  # the block starting at 200 holds 250
    assert marker_line(steps, [(-50, -10)]) == "^    "
    assert marker_line(steps, [(None, None), (400, 400)]) == "    ^"
    assert marker_line([], [(1, 2)]) == ""


def test_downsample_keeps_non_finite_blocks_visible_and_medians_of_the_rest():
    values = np.tile(np.arange(10, dtype=float), 8)  # 8 blocks of 10 points, median 5 each
    values[15] = np.nan
    values[33] = np.inf
    values[50:60] = 1e308  # finite, but the block's sum overflows
    steps, points = downsample(pd.Series(values, index=np.arange(0, 800, 10)), points=8)
    assert steps == list(range(0, 800, 100))
    assert math.isnan(points[1]) and points[3] == math.inf and points[5] == 1e308
    assert [points[i] for i in (0, 2, 4, 6, 7)] == [5.0] * 5
