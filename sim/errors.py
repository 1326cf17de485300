"""The one exception tree of bootstorm.

    BootstormError
    ├── InvalidInput               bad input: exit code 2, a clear message, no traceback
    │   ├── InvalidScenario        a scenario file (or an override) fails validation
    │   ├── InvalidArgument        a command-line argument is wrong
    │   └── InvalidRunFolder       a run folder read back is missing a file or is corrupt
    └── RunFailed                  the harness itself could not carry out a run
        └── FakeFailed             a fake server did not start or died

A failure *inside* a run (a boot that failed, a dependency that throttled) is never an
exception: it is data in the Run.
"""

from __future__ import annotations

__all__ = [
    "BootstormError",
    "InvalidInput",
    "InvalidScenario",
    "InvalidArgument",
    "InvalidRunFolder",
    "RunFailed",
    "FakeFailed",
    "Problem",
]

from dataclasses import dataclass


class BootstormError(Exception):
    """Root of every error bootstorm raises on purpose."""


class InvalidInput(BootstormError):
    """Bad input from the user. The CLI prints it and exits with code 2."""


@dataclass(frozen=True)
class Problem:
    """One validation problem: where (field path, line), what was expected, what was given."""

    path: str
    message: str
    line: int | None = None

    def render(self, file: str | None) -> str:
        where = file or "<scenario>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        field = self.path or "(top level)"
        return f"{where}: {field}: {self.message}"


class InvalidScenario(InvalidInput):
    """A scenario failed validation; carries every problem found, not only the first."""

    def __init__(self, file: str | None, problems: list[Problem]):
        self.file = file
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.file or '<scenario>'}: invalid scenario ({len(self.problems)} problem" + (
            "s)" if len(self.problems) != 1 else ")"
        )
        return "\n".join([head] + ["  " + p.render(self.file) for p in self.problems])


class InvalidArgument(InvalidInput):
    """A command-line argument is wrong (unknown engine, bad --set syntax, ...)."""


class InvalidRunFolder(InvalidInput):
    """A run folder read back (``bootstorm report``, ``compare``) has a missing, truncated or
    hand-edited file. The message names the file, the row/column or field, what was expected
    and what was given."""


class RunFailed(BootstormError):
    """The harness could not carry out a run (not: a boot failed inside the run)."""


class FakeFailed(RunFailed):
    """A fake server failed to start, or died while the harness needed it."""
