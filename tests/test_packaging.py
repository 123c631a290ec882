"""The distribution installs everything under the one namespace `diffcrew`, and the CLI starts."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_has_only_the_diffcrew_namespace(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("diffcrew-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"diffcrew"}
    for package in ("agent", "tools", "prompts", "sandbox"):
        assert f"diffcrew/{package}/__init__.py" in names
    for subpackage in ("agent/cli", "agent/llm"):  # pyproject.toml lists each package by name
        assert f"diffcrew/{subpackage}/__init__.py" in names
    assert "diffcrew/prompts/worker.md" in names
    assert "diffcrew/agent/demo_data/script.json" in names
    assert "diffcrew/agent/demo_data/sample/inventory/store.py" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "diffcrew = diffcrew.agent.cli:entry" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_help_imports_neither_the_sdk_nor_git_nor_rich() -> None:
    code = ("import sys\nfrom click.testing import CliRunner\nfrom diffcrew.agent.cli import main\n"
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output\n"
            "r2 = CliRunner().invoke(main, ['run', '--help']); assert 'Example' in r2.output\n"
            "r3 = CliRunner().invoke(main, ['demo', '--help']); assert r3.exit_code == 0, r3.output\n"
            "print(sorted(m for m in ('rich', 'anthropic', 'git') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_runs() -> None:
    out = subprocess.run(["diffcrew", "--version"], capture_output=True, text=True, check=True,
                         env={**os.environ})
    assert out.stdout.strip() == "diffcrew, version 0.1.0"


def test_shell_completion_through_click() -> None:
    """The completion scripts the README tells users to install, and what they complete."""
    def complete(words: str, index: int, shell: str = "bash") -> str:
        env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(index), "_DIFFCREW_COMPLETE": f"{shell}_complete"}
        return subprocess.run(["diffcrew"], capture_output=True, text=True, check=True, env=env).stdout

    for shell in ("bash", "zsh", "fish"):
        script = subprocess.run(["diffcrew"], capture_output=True, text=True, check=True,
                                env={**os.environ, "_DIFFCREW_COMPLETE": f"{shell}_source"}).stdout
        assert "_DIFFCREW_COMPLETE" in script and f"{shell}_complete" in script
    assert complete("diffcrew re", 1).split() == ["plain,replay", "plain,retry"]
    assert "plain,--max-workers" in complete("diffcrew run --max-w", 2).split()
