"""The error tree, re-exported for the agent layer (it is defined in `diffcrew.tools.errors`)."""

from diffcrew.tools.errors import (BudgetExceeded, DiffcrewError, DiffFormatError, ExitCode, GitError, Interrupted,
                                   ModelError, PatchError, PlanError, RunFailed, UsageError)

__all__ = ["BudgetExceeded", "DiffcrewError", "DiffFormatError", "ExitCode", "GitError", "Interrupted", "ModelError",
           "PatchError", "PlanError", "RunFailed", "UsageError"]
