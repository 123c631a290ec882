"""diffcrew's configuration file: where it is, and reading it.

Settings live in `.diffcrew.toml` (top level), or else in `[tool.diffcrew]` of pyproject.toml; the
first that exists wins. This module only finds and parses the tables; `agent/config.py` owns what
the settings mean and `sandbox/settings.py` what the `checks` entry means. It imports nothing
heavy, because `diffcrew --help` reads no config but start-up imports the settings' defaults.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from diffcrew.tools.errors import UsageError

DEDICATED = ".diffcrew.toml"
DEFAULT_CHECK_TIMEOUT = 300.0  # seconds a check command may take, unless configured


def config_tables(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """diffcrew's config tables in the working tree, first wins: `.diffcrew.toml` (top level), then
    `[tool.diffcrew]` in pyproject.toml, each named as error messages should name it."""
    tables = []
    dedicated = Path(root) / DEDICATED
    if dedicated.is_file():
        tables.append((DEDICATED, _read_toml(dedicated)))
    pyproject = Path(root) / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("diffcrew")
        if table is not None and not isinstance(table, dict):
            raise UsageError("pyproject.toml: [tool.diffcrew] must be a table")
        if table is not None:
            tables.append(("pyproject.toml [tool.diffcrew]", table))
    return tables


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path.name} is not valid TOML ({exc}): fix it, or remove the file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
