"""Which checks a run uses: the built-in syntax check, then the user's commands.

Commands come from `.diffcrew.toml` (top-level `checks = [...]`) if that file defines them, else
from `[tool.diffcrew] checks = [...]` in pyproject.toml; then every `--check CMD`; then pre-commit
when `--run-pre-commit` is given. An entry is a command string, or a table
`{ command = "...", name = "...", timeout = 60 }`. `{files}` in a command expands to the changed
files, shell-quoted, never as an option (`./-x.py`). Config that cannot be used raises UsageError
naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path

from diffcrew.sandbox.checks import Check
from diffcrew.tools.configfile import DEDICATED, DEFAULT_CHECK_TIMEOUT, config_tables
from diffcrew.tools.errors import UsageError

SYNTAX = "syntax"
PRE_COMMIT = "pre-commit run --color=never --show-diff-on-failure --files {files}"
ENTRY_KEYS = {"command", "name", "timeout"}


def load_checks(root: Path, cli_checks: tuple[str, ...] = (), run_pre_commit: bool = False,
                timeout: float = DEFAULT_CHECK_TIMEOUT) -> list[Check]:
    """Syntax first, then configured commands, then --check commands, then pre-commit if asked."""
    if not timeout > 0:
        raise UsageError(f"the check timeout must be positive, not {timeout}")
    checks = [Check(SYNTAX, None, timeout)]
    checks += _configured(Path(root), timeout)
    for command in cli_checks:
        if not command.strip():
            raise UsageError("--check needs a command, e.g. --check 'pytest -q'")
        checks.append(Check(command, command, timeout))
    if run_pre_commit:
        checks.append(Check("pre-commit", PRE_COMMIT, timeout))
    return _unique(checks)


def _configured(root: Path, timeout: float) -> list[Check]:
    for where, table in config_tables(root):
        if "checks" in table:
            key = "checks" if where == DEDICATED else "[tool.diffcrew] checks"
            return _entries(table["checks"], where.split()[0], key, timeout)
    return []


def _entries(value: object, file: str, key: str, timeout: float) -> list[Check]:
    if not isinstance(value, list):
        raise UsageError(f"{file}: {key} must be a list of commands, e.g. checks = [\"pytest -q\"]")
    return [_entry(item, f"{file}: {key}[{index}]", timeout) for index, item in enumerate(value)]


def _entry(item: object, where: str, timeout: float) -> Check:
    if isinstance(item, str):
        item = {"command": item}
    if not isinstance(item, dict):
        raise UsageError(f"{where} must be a command string or a table with `command`")
    unknown = set(item) - ENTRY_KEYS
    if unknown:
        raise UsageError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(ENTRY_KEYS))}")
    command = item.get("command")
    if not isinstance(command, str) or not command.strip():
        raise UsageError(f"{where}: `command` must be a non-empty string")
    name = item.get("name", command)
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{where}: `name` must be a non-empty string")
    limit = item.get("timeout", timeout)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise UsageError(f"{where}: `timeout` must be a positive number of seconds")
    return Check(name, command, float(limit))


def _unique(checks: list[Check]) -> list[Check]:
    """Drop repeats of the same command; give distinct commands that share a name distinct names."""
    seen_commands: set[str | None] = set()
    names: set[str] = set()
    result = []
    for check in checks:
        if check.command in seen_commands:
            continue
        seen_commands.add(check.command)
        name, n = check.name, 2
        while name in names:
            name, n = f"{check.name} ({n})", n + 1
        names.add(name)
        result.append(Check(name, check.command, check.timeout))
    return result
