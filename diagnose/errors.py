"""Errors that reach the user as one line and exit code 2."""

from __future__ import annotations


class DiagnoseError(Exception):
    """Bad input or bad usage: shown as one line, exit code 2, never a traceback."""


class InputError(DiagnoseError):
    """A file that cannot be read as a training log. The message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class RuleError(DiagnoseError):
    """A rule file that is malformed or names an unknown detector, evidence or cause."""


def one_line(exc: BaseException) -> str:
    """What a library's exception says, cut to one line and its first sentence."""
    text = str(exc).strip()
    return text.splitlines()[0].split(". ")[0][:160] if text else type(exc).__name__
