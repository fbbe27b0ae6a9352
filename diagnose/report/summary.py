"""What every human-facing renderer says about a run in one line: verdict, first failure, top cause."""

from __future__ import annotations

from collections.abc import Callable

from diagnose.report.model import Finding, RunReport, SkippedRule, severity_rank

VERDICTS = {"healthy": "HEALTHY", "warning": "WARNING", "failed": "FAILED"}


def verdict(run: RunReport) -> str:
    return VERDICTS[run.status]


def top_finding(run: RunReport) -> Finding | None:
    """The most severe, then most confident finding (the first one on ties)."""
    if not run.findings:
        return None
    return max(run.findings, key=lambda f: (severity_rank(f.severity), f.confidence))


def first_failure_step(run: RunReport) -> int | None:
    """Earliest step of a finding at the run's worst severity; None for a healthy run."""
    if run.status == "healthy":
        return None
    worst = max(severity_rank(f.severity) for f in run.findings)
    steps = [f.step for f in run.findings if severity_rank(f.severity) == worst and f.step is not None]
    return int(min(steps)) if steps else None


def top_cause(run: RunReport) -> str | None:
    top = top_finding(run)
    return top.causes[0].cause if top and top.causes else None


def step_range(start: int | None, end: int | None) -> str:
    """'step 3400', 'steps 3400-3420', or '' when the finding has no step."""
    if start is None:
        return ""
    if end is None or end == start:
        return f"step {start}"
    return f"steps {start}-{end}"


def skipped_text(skipped: SkippedRule, name: Callable[[str], str] = str) -> str:
    """'overfitting (needs val_loss)'; an alternative requirement 'a|b' reads 'a or b'.
    `name` formats the rule and signal names (Markdown sets them as code)."""
    needs = ", ".join(" or ".join(name(alt) for alt in need.split("|")) for need in skipped.missing)
    return f"{name(skipped.rule)} (needs {needs})"


def signals_text(signals: list[str], limit: int = 8) -> str:
    shown = ", ".join(signals[:limit])
    more = len(signals) - limit
    return f"{shown} +{more} more" if more > 0 else shown or "none"

