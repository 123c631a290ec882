"""The one error tree of diffcrew.

It lives in `tools` because every layer raises from it and imports only go
agent -> tools/sandbox/prompts. `diffcrew.agent.errors` re-exports it.

    DiffcrewError                 anything diffcrew reports to a user; exit_code says how
    ├── UsageError        (2)     bad input: options, request, repository, base ref
    ├── PatchError        (1)     a diff that cannot be applied exactly; carries repair text
    ├── GitError          (1)     a git operation failed
    ├── ModelError        (1)     the model could not be reached or answered unusably
    ├── PlanError         (1)     the orchestrator's plan stayed invalid after the re-ask
    ├── RunFailed         (1)     workers failed; no branch was made
    ├── BudgetExceeded    (3)     a cost or resource cap was reached; no branch was made
    └── Interrupted     (130)     the user interrupted the run (128 + N for signal N: SIGTERM 143)

Messages are written for users: the first line says what happened and what to do next.
"""

from __future__ import annotations


class DiffcrewError(Exception):
    """Base of every error diffcrew reports to a user."""

    exit_code = 1

    @property
    def summary(self) -> str:
        """The first line of the message, for one-line reports."""
        text = str(self)
        return text.splitlines()[0] if text else type(self).__name__


class UsageError(DiffcrewError):
    """The user's input (options, request, repository, ref) cannot be used."""

    exit_code = 2


class PatchError(DiffcrewError):
    """A diff could not be applied exactly. str() is the full text for the repair loop."""


class GitError(DiffcrewError):
    """A git command failed."""


class ModelError(DiffcrewError):
    """The model service failed or its answer could not be used."""


class PlanError(DiffcrewError):
    """The orchestrator did not produce a valid plan."""


class RunFailed(DiffcrewError):
    """The run ended without a branch because some files failed."""


class BudgetExceeded(DiffcrewError):
    """A cost or resource cap was reached."""

    exit_code = 3


class Interrupted(DiffcrewError):
    """The run was interrupted (Ctrl-C, or SIGTERM/SIGHUP with their own exit codes)."""

    exit_code = 130

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
