"""The command line: thin typer commands over diagnose.api. No diagnosis logic lives here."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from diagnose.errors import DiagnoseError

if TYPE_CHECKING:
    from rich.console import Console  # 16 ms to import: only for reports rich prints

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Diagnose a neural-network training run from its logs: what went wrong, where, why, "
    "and what to change.\n\nUsage: diagnose PATH... [OPTIONS]  (same as `diagnose check`).",
)

SUBCOMMANDS = {"check", "rules", "explain", "watch", "checkpoint", "hessian"}


class OutputFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"
    github = "github"
    junit = "junit"


class FailOn(str, Enum):
    info = "info"
    warning = "warning"
    error = "error"
    never = "never"


RulesOption = Annotated[
    Optional[list[Path]],
    typer.Option("--rules", help="Folder of rule files that add to or override the built-in rules (same id replaces)."),
]


@app.command()
def check(
    paths: Annotated[list[Path], typer.Argument(help="Log files, run folders or folders of runs.")],
    output_format: Annotated[Optional[OutputFormat], typer.Option("--format", "-f", help="Report format (default: terminal, or github under GitHub Actions).")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")] = FailOn.error,
    rules: RulesOption = None,
    input_format: Annotated[Optional[str], typer.Option("--input-format", "-i", help="Force the log reader (e.g. csv, jsonl, tensorboard).")] = None,
    num_classes: Annotated[Optional[int], typer.Option("--num-classes", help="Class count k, for the ln(k) chance-level check.")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text, no colours.")] = False,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Worker processes for a folder of runs (default: all cores).")] = None,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="A known-good run of the same job: report where this run is worse.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write the signals with the findings shaded: FILE.png, or FILE.html for an interactive page (FILE-2... for more runs).")] = None,
) -> None:
    """Diagnose training runs and print a ranked report."""
    from diagnose.api import run_paths
    from diagnose.report.model import Report
    from diagnose.sweep import diagnose_many, ruleset

    output_format = output_format or _default_format()
    with _user_errors():
        rule_set = ruleset(tuple(rules or []))  # a bad rule file is a usage error before any work starts
        targets = [(path, run) for path in paths for run in run_paths(path)]
        with _progress_bar(len(targets)) as progress:
            runs, unreadable = diagnose_many([run for _, run in targets], rules_dirs=rules or [],
                                             input_format=input_format, num_classes=num_classes,
                                             jobs=jobs, progress=progress, baseline=baseline,
                                             sparklines=output_format == OutputFormat.terminal or plot is not None)
        _fail_on_unreadable(unreadable, given={p for p in paths if not p.is_dir()})
        report = Report(runs=runs)
        _print_report(report, output_format, no_color, fail_on, list(rule_set.rules))
        if plot:
            _write_plots(report, plot)
    raise typer.Exit(exit_code(report, fail_on))


def _write_plots(report, plot: Path) -> None:
    html = plot.suffix.lower() in (".html", ".htm")
    try:
        if html:
            import plotly  # noqa: F401

            from diagnose.report.plot_html import render_html as render
        else:
            import matplotlib  # noqa: F401

            from diagnose.report.plot import render_plot as render
    except ImportError as exc:
        raise DiagnoseError(f"--plot {plot.name} needs {exc.name}: pip install 'diagnose[plot]'") from None
    for index, run in enumerate(report.runs, start=1):
        target = plot if index == 1 else plot.with_name(f"{plot.stem}-{index}{plot.suffix}")
        render(run, target)
        sys.stderr.write(f"diagnose: wrote {target}\n")


def _default_format() -> OutputFormat:
    return OutputFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else OutputFormat.terminal


def _fail_on_unreadable(unreadable, given: set[Path]) -> None:
    """A file named on the command line must be readable; one found in a folder is skipped
    with a line on stderr (a sweep should not stop at one broken log)."""
    for item in unreadable:
        if Path(item.path) in given:
            raise DiagnoseError(item.problem)
        sys.stderr.write(f"diagnose: skipped: {item.problem}\n")


class _progress_bar:
    """A rich progress bar on stderr for long sweeps, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = None

    def __enter__(self):
        if self.total < 8 or not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("diagnosing", total=self.total)
        return lambda done, total: self.bar.update(task, completed=done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def exit_code(report, fail_on: FailOn) -> int:
    """CONTRACT.md: 0 nothing at or above --fail-on, 1 a finding at or above it."""
    from diagnose.report.model import reaches

    worst = report.worst_severity()
    return int(worst is not None and reaches(worst, fail_on.value))


def _print_report(report, output_format: OutputFormat, no_color: bool, fail_on: FailOn,
                  rule_ids: list[str]) -> None:
    if output_format is OutputFormat.json:
        from diagnose.report.json import render_json

        sys.stdout.write(render_json(report) + "\n")
    elif output_format is OutputFormat.markdown:
        from diagnose.report.markdown import render_markdown

        sys.stdout.write(render_markdown(report) + "\n")
    elif output_format is OutputFormat.github:
        from diagnose.report.github import append_step_summary, render_github

        sys.stdout.write(render_github(report) + "\n")
        append_step_summary(report)
    elif output_format is OutputFormat.junit:
        from diagnose.report.junit import render_junit

        sys.stdout.write(render_junit(report, rule_ids, fail_on.value) + "\n")
    else:
        from diagnose.report.terminal import render_terminal

        render_terminal(report, _console(no_color))


@app.command("rules")
def list_rules(rules: RulesOption = None, no_color: Annotated[bool, typer.Option("--no-color")] = False) -> None:
    """List the active rules with their detector, parameters and severity."""
    from diagnose.rules import load_rules

    with _user_errors():
        ruleset = load_rules(rules or [])
    console = _console(no_color)
    for rule in ruleset.rules.values():
        console.print(f"[bold]{rule.id}[/bold]  {rule.symptom}  {rule.severity}  "
                      f"detector {rule.detector}  ({Path(rule.path).name})", highlight=False)
        params = ", ".join(f"{k}={v}" for k, v in rule.params.items())
        console.print(f"    {params or 'no parameters'}", markup=False, highlight=False)


@app.command()
def explain(
    topic: Annotated[str, typer.Argument(help="A symptom id, cause id or rule id (e.g. loss_spike, lr_too_high).")],
    rules: RulesOption = None,
) -> None:
    """Explain a symptom or cause: what it means, why it happens, and the fixes."""
    from diagnose.explain import explain as explain_text
    from diagnose.rules import load_rules

    with _user_errors():
        text = explain_text(topic, load_rules(rules or []))
    sys.stdout.write(text + "\n")


@app.command()
def watch(
    path: Annotated[Path, typer.Argument(help="A CSV, JSON Lines or text log, or a TensorBoard folder, still being written.")],
    exit_on: Annotated[FailOn, typer.Option("--exit-on", help="Exit 1 at the first finding at or above this severity.")] = FailOn.never,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 2.0,
    timeout: Annotated[Optional[float], typer.Option(help="Stop after this many seconds.")] = None,
    window: Annotated[int, typer.Option(help="Latest logged steps diagnosed per update.")] = 100_000,
    rules: RulesOption = None,
    num_classes: Annotated[Optional[int], typer.Option("--num-classes")] = None,
) -> None:
    """Follow a growing log; print each new finding once; optionally stop the job at the first one."""
    from diagnose.report.model import reaches
    from diagnose.rules import load_rules
    from diagnose.watch import Watcher, follow

    def fatal(findings) -> bool:
        return any(reaches(f.severity, exit_on.value) for f in findings)

    with _user_errors():
        watcher = Watcher(path, load_rules(rules or []), window=window, num_classes=num_classes)
        for findings in follow(watcher, interval, fatal, timeout):
            for finding in findings:
                where = f"step {finding.step}" if finding.step is not None else "run"
                cause = f" -> {finding.causes[0].cause}" if finding.causes else ""
                sys.stdout.write(f"{finding.severity.upper()} {finding.symptom} at {where}: "
                                 f"{'; '.join(finding.evidence)}{cause}\n")
            sys.stdout.flush()
            if fatal(findings):
                raise typer.Exit(1)


def _console(no_color: bool) -> Console:
    from rich.console import Console

    piped = not sys.stdout.isatty()
    # A pipe or a CI log has no width: rich's 80-column default would fold the run table.
    width = PIPED_WIDTH if piped and "COLUMNS" not in os.environ else None
    return Console(no_color=no_color or "NO_COLOR" in os.environ, highlight=False, soft_wrap=piped, width=width)


PIPED_WIDTH = 120


class _user_errors:
    """Bad input or usage -> one line on stderr and exit 2; never a traceback."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, (typer.Exit, KeyboardInterrupt, SystemExit)):
            return False  # rich exits 1 itself when the reader of a pipe goes away (| head)
        if isinstance(exc, DiagnoseError):
            message = str(exc)
        elif os.environ.get("DIAGNOSE_DEBUG"):
            return False
        else:
            message = f"internal error: {type(exc).__name__}: {exc} (set DIAGNOSE_DEBUG=1 for the traceback)"
        sys.stderr.write(f"diagnose: error: {message}\n")
        raise typer.Exit(2)


class ReportFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


class LossName(str, Enum):
    mse = "mse"
    ce = "ce"


@app.command("checkpoint")
def checkpoint_command(
    paths: Annotated[list[Path], typer.Argument(help="Checkpoints of one run: .pt/.pth/.bin/.ckpt/.safetensors files, Hugging Face checkpoint folders, or a folder of them.")],
    output_format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format.")] = ReportFormat.terminal,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")] = FailOn.error,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text, no colours.")] = False,
) -> None:
    """Diagnose a run from its checkpoints: weights, optimizer moments, and how they changed."""
    from diagnose.checkpoint.analyze import diagnose_checkpoints
    from diagnose.checkpoint.render import render

    with _user_errors():
        diagnosis = diagnose_checkpoints(paths)
        text = render(diagnosis, output_format.value, _console(no_color))
        if text is not None:
            sys.stdout.write(text.rstrip("\n") + "\n")
    raise typer.Exit(exit_code(diagnosis.report, fail_on))


@app.command()
def hessian(
    model: Annotated[str, typer.Option("--model", help="MODULE:FACTORY (module name or .py file) returning the torch.nn.Module.")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="The weights to examine (any checkpoint layout `diagnose checkpoint` reads).")],
    data: Annotated[Path, typer.Option("--data", help="A torch.save file with tensors x and y (one batch; the loss is taken over all of it).")],
    loss: Annotated[LossName, typer.Option("--loss", help="mse, or ce (cross-entropy on logits).")] = LossName.mse,
    iterations: Annotated[Optional[int], typer.Option("--iterations", help="Lanczos iterations (Hessian-vector products); default from the thresholds file.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the Lanczos start vector.")] = 0,
    output_format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format.")] = ReportFormat.terminal,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")] = FailOn.error,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text, no colours.")] = False,
) -> None:
    """Saddle point or minimum: the extreme eigenvalues of the loss Hessian at a checkpoint."""
    from diagnose.checkpoint.hessian import diagnose_hessian
    from diagnose.checkpoint.render import render_hessian

    with _user_errors():
        report, result = diagnose_hessian(model, checkpoint, data, loss.value, iterations, seed)
        text = render_hessian(report, result, output_format.value, _console(no_color))
        if text is not None:
            sys.stdout.write(text.rstrip("\n") + "\n")
    raise typer.Exit(exit_code(report, fail_on))


def main() -> None:
    """Entry point: `diagnose PATH...` is `diagnose check PATH...`."""
    argv = sys.argv[1:]
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("--help", "-h"):
        argv = ["check", *argv]
    app(args=argv, prog_name="diagnose")


if __name__ == "__main__":
    main()
