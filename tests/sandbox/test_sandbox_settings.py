"""Which checks a run uses: pyproject.toml, .diffcrew.toml, --check and --run-pre-commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffcrew.sandbox.checks import Check
from diffcrew.sandbox.settings import PRE_COMMIT, load_checks
from diffcrew.tools.errors import UsageError

SYNTAX = Check("syntax", None, 300.0)


def test_no_config_gives_the_syntax_check_only(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert load_checks(tmp_path) == [SYNTAX]


def test_pyproject_checks_then_cli_checks_then_pre_commit(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.diffcrew]\nchecks = ["ruff check {files}", {command = "pytest -x -q", name = "tests", timeout = 60}]\n')
    checks = load_checks(tmp_path, ("mypy .", "ruff check {files}"), run_pre_commit=True, timeout=120)
    assert checks == [Check("syntax", None, 120.0), Check("ruff check {files}", "ruff check {files}", 120.0),
                      Check("tests", "pytest -x -q", 60.0), Check("mypy .", "mypy .", 120.0),
                      Check("pre-commit", PRE_COMMIT, 120.0)]


def test_dedicated_file_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.diffcrew]\nchecks = ["from-pyproject"]\n')
    (tmp_path / ".diffcrew.toml").write_text('checks = ["make lint", {command = "make test", name = "make lint"}]\n')
    assert load_checks(tmp_path)[1:] == [Check("make lint", "make lint"), Check("make lint (2)", "make test")]


def test_dedicated_file_without_checks_falls_back_to_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.diffcrew]\nchecks = ["from-pyproject"]\n')
    (tmp_path / ".diffcrew.toml").write_text('model = "something"\n')
    assert [c.command for c in load_checks(tmp_path)] == [None, "from-pyproject"]


@pytest.mark.parametrize(("file", "text", "words"), [
    ("pyproject.toml", "[tool.diffcrew\n", ["pyproject.toml", "not valid TOML"]),
    ("pyproject.toml", '[tool.diffcrew]\nchecks = "pytest"\n', ["pyproject.toml", "[tool.diffcrew] checks", "list"]),
    ("pyproject.toml", "[tool.diffcrew]\nchecks = [1]\n", ["pyproject.toml", "[tool.diffcrew] checks[0]"]),
    (".diffcrew.toml", 'checks = ["ok", ""]\n', [".diffcrew.toml", "checks[1]", "command"]),
    (".diffcrew.toml", 'checks = [{command = "x", timeout = 0}]\n', [".diffcrew.toml", "checks[0]", "timeout"]),
    (".diffcrew.toml", 'checks = [{command = "x", timout = 5}]\n', [".diffcrew.toml", "checks[0]", "timout"]),
    (".diffcrew.toml", 'checks = [{name = "x"}]\n', [".diffcrew.toml", "checks[0]", "command"]),
])
def test_bad_config_names_the_file_and_key(tmp_path: Path, file: str, text: str, words: list[str]) -> None:
    (tmp_path / file).write_text(text)
    with pytest.raises(UsageError) as info:
        load_checks(tmp_path)
    for word in words:
        assert word in str(info.value)


def test_bad_cli_values_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--check"):
        load_checks(tmp_path, ("  ",))
    with pytest.raises(UsageError, match="timeout"):
        load_checks(tmp_path, timeout=0)
