"""mypy and ruff, run as part of the suite so `.ci/run` (pip install, then pytest) checks them too.

mypy cannot see the package through the editable install's import hook, so it checks a `diffcrew/`
folder of links to the four top-level folders: the same modules under the same names. Both tools
read their settings from pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "tools", "sandbox", "prompts")

pytestmark = pytest.mark.slow


def test_mypy_is_clean(tmp_path: Path) -> None:
    tree = tmp_path / "diffcrew"
    tree.mkdir()
    for name in PACKAGES:
        (tree / name).symlink_to(ROOT / name, target_is_directory=True)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", "diffcrew", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *PACKAGES, "bench", "tests"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_layers_import_only_downwards() -> None:
    # ARCHITECTURE.md: tools/ imports neither agent nor sandbox; sandbox/ does not import agent.
    import ast

    forbidden = {"tools": ("diffcrew.agent", "diffcrew.sandbox"), "sandbox": ("diffcrew.agent",)}
    found = []
    for folder, banned in forbidden.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                found += [f"{folder}/{path.name} imports {n}" for n in names if n.startswith(banned)]
    assert found == []
