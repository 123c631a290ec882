"""Run options, their documented defaults, and the layers that set them.

Precedence, highest first: the command line, then `DIFFCREW_<NAME>` environment variables,
then the repository's config (`.diffcrew.toml`, else `[tool.diffcrew]` in pyproject.toml, read
from the working tree like git reads its config), then the defaults below. `diffcrew config`
prints every setting with the layer it came from. `checks` live in the same tables and are read
by sandbox/settings.py.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from diffcrew.agent.models import EFFORTS
from diffcrew.tools.configfile import DEFAULT_CHECK_TIMEOUT, config_tables
from diffcrew.tools.errors import UsageError
from diffcrew.tools.inventory import DEFAULT_MAX_FILE_BYTES  # ~64k tokens: the largest file sent whole to a worker

# Models and reasoning effort per role; README "Models and effort" gives the reasons from the
# documentation. Effort is sent as output_config.effort where the model takes it (agent/models.py).
DEFAULT_ORCHESTRATOR_MODEL = "claude-opus-5-5"            # orchestrator: plans the change
DEFAULT_WORKER_MODEL = "claude-sonnet-5-5"   # workers: one diff per file
DEFAULT_SYNTHESIZER_MODEL = "claude-haiku-5-5"   # synthesizer: the commit message
DEFAULT_ORCHESTRATOR_EFFORT = "high"
DEFAULT_WORKER_EFFORT = "medium"
DEFAULT_SYNTHESIZER_EFFORT = "low"
EFFORT_SETTINGS = ("orchestrator_effort", "worker_effort", "synthesizer_effort")
# Each role has one name across its module, prompt, transcript, setting and flag. The spellings
# from before that rule are still read, from config files, DIFFCREW_* variables, the command line
# (--model, --summary-model) and recorded transcripts.
ALIASES = {"model": "orchestrator_model", "summary_model": "synthesizer_model", "plan_effort": "orchestrator_effort",
           "summary_effort": "synthesizer_effort"}
DEFAULT_MAX_WORKERS = 8
DEFAULT_REPAIR_ROUNDS = 2
DEFAULT_REQUEST_TIMEOUT = 600.0
DEFAULT_CONTEXT_TOKENS = 24_000
DEFAULT_PLAN_TURNS = 8
DEFAULT_REVIEW_ROUNDS = 1
DEFAULT_WORKER_TURNS = 3  # exploration turns a worker may take before it must submit its patch
DEFAULT_MAX_FILES = 50
DEFAULT_MAX_CALLS = 200
MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True)
class RunOptions:
    """Everything `diffcrew run` needs besides the model client."""

    request: str
    repo: Path = Path(".")
    base: str = "HEAD"
    branch: str | None = None
    orchestrator_model: str = DEFAULT_ORCHESTRATOR_MODEL
    worker_model: str = DEFAULT_WORKER_MODEL
    synthesizer_model: str = DEFAULT_SYNTHESIZER_MODEL
    orchestrator_effort: str = DEFAULT_ORCHESTRATOR_EFFORT
    worker_effort: str = DEFAULT_WORKER_EFFORT
    synthesizer_effort: str = DEFAULT_SYNTHESIZER_EFFORT
    max_workers: int = DEFAULT_MAX_WORKERS
    repair_rounds: int = DEFAULT_REPAIR_ROUNDS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    plan_turns: int = DEFAULT_PLAN_TURNS
    review_rounds: int = DEFAULT_REVIEW_ROUNDS  # reviews of the combined change by the orchestrator (0: none)
    worker_turns: int = DEFAULT_WORKER_TURNS
    dry_run: bool = False
    allow_partial: bool = False
    checks: tuple[str, ...] = ()
    run_pre_commit: bool = False
    allow_failing: bool = False
    check_timeout: float = DEFAULT_CHECK_TIMEOUT
    allow_paths: tuple[str, ...] = ()
    max_files: int = DEFAULT_MAX_FILES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_calls: int = DEFAULT_MAX_CALLS
    timeout: float | None = None
    push: str | None = None
    deny: tuple[str, ...] = ()
    max_cost: float | None = None
    branch_prefix: str = "diffcrew/"
    fix_request: str | None = None  # `diffcrew fix`: the standing request applied to staged files
    scope: tuple[str, ...] | None = None  # `diffcrew fix`: the only paths a plan may modify (None: any)
    warm_cache: bool = False  # one worker writes the shared prompt cache before the others start
    run_checks: bool = True  # False for `diffcrew fix` only: no sandbox, no checks (a dry run checks like a run)
    sign: bool | None = None  # sign the commit (None: as git commit would, when commit.gpgsign is set)


# Settings a user may put in config files or DIFFCREW_* variables, with their types.
SETTINGS: dict[str, type] = {
    "orchestrator_model": str, "worker_model": str, "synthesizer_model": str, "orchestrator_effort": str,
    "worker_effort": str, "synthesizer_effort": str, "max_workers": int, "repair_rounds": int,
    "request_timeout": float, "plan_turns": int, "worker_turns": int, "review_rounds": int, "check_timeout": float,
    "max_files": int,
    "max_file_bytes": int, "max_calls": int, "max_cost": float, "timeout": float, "allow_paths": list,
    "deny": list, "branch_prefix": str, "fix_request": str, "warm_cache": bool,
}
DEFAULTS: dict[str, Any] = {name: getattr(RunOptions("x"), name) for name in SETTINGS}


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = SETTINGS[name]
    if kind is bool:
        return _flag(name, value, where)
    if kind is list:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise UsageError(f"{where}: {name} must be a list of strings")
        return tuple(i.strip() for i in items if i.strip())
    try:
        if kind is str:
            if not isinstance(value, str) or not value.strip():
                raise ValueError
            if name in EFFORT_SETTINGS and value.strip() not in EFFORTS:
                raise UsageError(f"{where}: {name} must be one of {', '.join(EFFORTS)}, not {value!r}")
            return value.strip()
        if isinstance(value, bool):
            raise ValueError
        number = kind(value)
    except (TypeError, ValueError):
        wanted = {int: "a whole number", float: "a number", str: "a non-empty string"}[kind]
        raise UsageError(f"{where}: {name} must be {wanted}, not {value!r}") from None
    if number <= 0 and name not in ("repair_rounds", "review_rounds", "max_cost", "worker_turns"):
        raise UsageError(f"{where}: {name} must be positive, not {value!r}")
    if number < 0:
        raise UsageError(f"{where}: {name} must not be negative, not {value!r}")
    return number


def _flag(name: str, value: Any, where: str) -> bool:
    """A yes/no setting: a TOML boolean, or in a variable 1/0, true/false, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{where}: {name} must be true or false, not {value!r}")


def read_config(root: Path) -> tuple[dict[str, Any], str]:
    """The settings of `.diffcrew.toml` (or else `[tool.diffcrew]` in pyproject.toml), and where from."""
    tables = config_tables(root)
    if not tables:
        return {}, ""
    where, table = tables[0]
    values: dict[str, Any] = {}
    for key, value in table.items():
        setting = key.replace("-", "_")
        if setting == "checks":
            continue
        setting = ALIASES.get(setting, setting)
        if setting not in SETTINGS:
            raise UsageError(f"{where}: unknown setting {key!r}; {_closest(setting)}the settings are checks, "
                             + ", ".join(sorted(SETTINGS)))
        if setting in values:
            raise UsageError(f"{where}: {setting} is set twice (once by its old name {old_names(setting)[0]}); "
                             "keep one")
        values[setting] = _coerce(setting, value, where)
    return values, where


def _closest(name: str) -> str:
    """'did you mean max_workers? ' for a misspelt setting name, or nothing when none is close."""
    known = ["checks", *SETTINGS, *ALIASES]
    found = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    return f"did you mean {ALIASES.get(found[0], found[0])}? " if found else ""


def old_names(setting: str) -> tuple[str, ...]:
    """The names a setting had before (ALIASES), still read."""
    return tuple(old for old, new in ALIASES.items() if new == setting)


def env_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings given as DIFFCREW_<NAME> variables (lists comma-separated)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name in SETTINGS:
        for spelling in (name, *old_names(name)):
            variable = f"DIFFCREW_{spelling.upper()}"
            if env.get(variable):
                values.setdefault(name, _coerce(name, env[variable], variable))  # the new name wins
    return values


def layered(root: Path, command_line: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Every setting's value and the layer it came from: command line > environment > config > default."""
    config, where = read_config(root)
    env = env_settings()
    values, sources = {}, {}
    for name in SETTINGS:
        for layer, found in (("command line", command_line), ("environment", env), (where, config)):
            if name in found:
                values[name], sources[name] = found[name], layer
                break
        else:
            values[name], sources[name] = DEFAULTS[name], "default"
    return values, sources
