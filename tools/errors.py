"""The one error tree of diffcrew.

It lives in `tools` because every layer raises from it and imports only go
agent -> tools/sandbox/prompts. `diffcrew.agent.errors` re-exports it.

    DiffcrewError                 anything diffcrew reports to a user; exit_code says how
    ├── UsageError        (2)     bad input: options, request, repository, base ref
    ├── PatchError        (1)     a diff that cannot be applied exactly; carries repair text
    ├── GitError          (1)     a git operation failed
    ├── DiffFormatError   (1)     a diff diffcrew was about to show did not parse back (an internal error)
    ├── ModelError        (1)     the model could not be reached or answered unusably
    ├── PlanError         (1)     the orchestrator's plan stayed invalid after the re-ask
    ├── RunFailed         (1)     workers failed; no branch was made
    ├── BudgetExceeded    (3)     a cost or resource cap was reached; no branch was made
    └── Interrupted     (130)     the user interrupted the run (128 + N for signal N: SIGTERM 143)

Messages are written for users: the first line says what happened and what to do next.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Every exit code of `diffcrew` (README, "Exit codes"); an error carries its own."""

    OK = 0
    FAILED = 1  # a run failed, no branch; `apply` refused; `doctor` found a failing check
    USAGE = 2  # usage or input error
    BUDGET = 3  # a cost, call or time budget was reached
    PARTIAL = 4  # --allow-partial made a branch without some files
    FIX_FAILED = 5  # `diffcrew fix` only: its 1 means "files changed"
    BRANCH_MADE = 6  # the branch was made, but a step after it failed (--push, --pr-body); the report names it
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
    HANGUP = 129  # SIGHUP, handled like Ctrl-C
    TERMINATED = 143  # SIGTERM, handled like Ctrl-C

    REFUSED = 1  # `diffcrew apply`: nothing was written
    CHANGED = 1  # `diffcrew fix`: files were changed in place


# What each exit code means, as `diffcrew --help` and the README's "Exit codes" table say it.
EXIT_CODES: tuple[tuple[str, str], ...] = (
    ("0", "the branch was made (or the dry run printed its diff)"),
    ("1", "the run failed; no branch was made, nothing changed"),
    ("2", "usage or input error (no key, not a repository, unknown base, empty request, a run name that fits "
          "no run or several, ...)"),
    ("3", "a budget was exceeded (--max-cost, --max-calls, --timeout); no branch was made"),
    ("4", "--allow-partial made a branch without some files (they are named)"),
    ("5", "diffcrew fix only: the run failed, nothing was written (its 1 means \"files changed\")"),
    ("6", "the branch was made, but a later step failed (--push, --pr-body); the output names the branch"),
    ("130", "interrupted (Ctrl-C); 143 for SIGTERM, 129 for SIGHUP, handled the same way"),
)


def exit_codes_help() -> str:
    """The "Exit codes" section of `--help`, lines kept as they are (click's \\b)."""
    return "\b\nExit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


class DiffcrewError(Exception):
    """Base of every error diffcrew reports to a user."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, *args: object, exit_code: int | None = None) -> None:
        super().__init__(*args)
        if exit_code is not None:  # a command whose codes differ (`diffcrew fix` fails with 5)
            self.exit_code = exit_code

    @property
    def summary(self) -> str:
        """The first line of the message, for one-line reports."""
        text = str(self)
        return text.splitlines()[0] if text else type(self).__name__


class UsageError(DiffcrewError):
    """The user's input (options, request, repository, ref) cannot be used."""

    exit_code = ExitCode.USAGE


class PatchError(DiffcrewError):
    """A diff could not be applied exactly. str() is the full text for the repair loop."""


class GitError(DiffcrewError):
    """A git command failed."""


class DiffFormatError(DiffcrewError):
    """A diff diffcrew made did not parse back as a well-formed unified diff; it is never shown."""


class ModelError(DiffcrewError):
    """The model service failed or its answer could not be used."""


class PlanError(DiffcrewError):
    """The orchestrator did not produce a valid plan."""


class RunFailed(DiffcrewError):
    """The run ended without a branch because some files failed."""


class BudgetExceeded(DiffcrewError):
    """A cost or resource cap was reached."""

    exit_code = ExitCode.BUDGET


class Interrupted(DiffcrewError):
    """The run was interrupted (Ctrl-C, or SIGTERM/SIGHUP with their own exit codes)."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, exit_code: int = ExitCode.INTERRUPTED, branch: str | None = None) -> None:
        super().__init__(message, exit_code=exit_code)
        self.branch = branch  # set when the run was interrupted after making its branch (during the push)
        self.report: Any = None  # the run's report so far (agent.types.RunReport), for --json to print
