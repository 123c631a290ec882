"""Run options with their documented defaults (the config-file layer comes with the CLI issue)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "claude-sonnet-5-5"          # orchestrator: plans the change
DEFAULT_WORKER_MODEL = "claude-sonnet-5-5"   # workers: one diff per file
DEFAULT_SUMMARY_MODEL = "claude-haiku-5-5"   # synthesizer: the commit message
DEFAULT_MAX_WORKERS = 8
DEFAULT_REPAIR_ROUNDS = 2
DEFAULT_REQUEST_TIMEOUT = 600.0
DEFAULT_CONTEXT_TOKENS = 24_000
DEFAULT_PLAN_TURNS = 8
DEFAULT_MAX_FILES = 50
DEFAULT_MAX_FILE_BYTES = 262_144  # ~64k tokens: the largest file sent whole to a worker
DEFAULT_MAX_CALLS = 200
MAX_REQUEST_BYTES = 64 * 1024
DEFAULT_CHECK_TIMEOUT = 300.0


@dataclass(frozen=True)
class RunOptions:
    """Everything `diffcrew run` needs besides the model client."""

    request: str
    repo: Path = Path(".")
    base: str = "HEAD"
    branch: str | None = None
    model: str = DEFAULT_MODEL
    worker_model: str = DEFAULT_WORKER_MODEL
    summary_model: str = DEFAULT_SUMMARY_MODEL
    max_workers: int = DEFAULT_MAX_WORKERS
    repair_rounds: int = DEFAULT_REPAIR_ROUNDS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    plan_turns: int = DEFAULT_PLAN_TURNS
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
