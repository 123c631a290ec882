"""diffcrew.sandbox: the temporary worktree a run writes into, and the checks judged on it.

- workspace: Workspace (a detached worktree at the base commit, removed at the end), prune_stale
- checks:    Check, CheckResult, run_checks (built-in syntax check + user commands, differential)
- settings:  load_checks (pyproject.toml [tool.diffcrew], .diffcrew.toml, --check, --run-pre-commit)
- process:   scrubbed_env (the environment a check command sees), stop_all (on interrupt)
"""

from diffcrew.sandbox.checks import Check, CheckResult, run_checks
from diffcrew.sandbox.process import scrubbed_env, stop_all
from diffcrew.sandbox.settings import load_checks
from diffcrew.sandbox.workspace import Workspace, prune_stale

__all__ = ["Check", "CheckResult", "Workspace", "load_checks", "prune_stale", "run_checks", "scrubbed_env", "stop_all"]
