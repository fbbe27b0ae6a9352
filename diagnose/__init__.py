"""diagnose: a diagnostician for neural-network training runs.

ingest (any log -> one canonical Run) -> detectors (signals -> events) -> rule engine
(events -> findings with ranked causes) -> reports (terminal, JSON, Markdown).
"""

__version__ = "0.1.0"

__all__ = ["__version__", "diagnose_run"]


def __getattr__(name: str):
    # Lazy, so `import diagnose` stays cheap and the CLI's --help does not load pandas.
    if name == "diagnose_run":
        from diagnose.api import diagnose_run

        return diagnose_run
    raise AttributeError(name)
