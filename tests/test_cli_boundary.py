"""The CLI's one error boundary: any DiffcrewError is one line and its exit code, Ctrl-C is 130,
and the exit codes README documents are exactly `ExitCode`'s."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from diffcrew.agent.cli.group import DiffcrewGroup
from diffcrew.tools.errors import BudgetExceeded, ExitCode, Interrupted, UsageError

README = Path(__file__).resolve().parent.parent / "README.md"


def _group(raised: BaseException, name: str = "cmd") -> click.Group:
    group = DiffcrewGroup("diffcrew")

    @group.command(name)
    def command() -> None:
        raise raised

    return group


@pytest.mark.parametrize(("error", "code"), [(UsageError("no such repository\nmore detail"), ExitCode.USAGE),
                                             (BudgetExceeded("over --max-cost"), ExitCode.BUDGET),
                                             (Interrupted("terminated by SIGTERM", 143), ExitCode.TERMINATED),
                                             (UsageError("five", exit_code=ExitCode.FIX_FAILED), 5)])
def test_an_error_is_one_line_on_stderr_and_its_own_exit_code(error: Exception, code: int) -> None:
    result = CliRunner().invoke(_group(error), ["cmd"])
    assert result.exit_code == code
    assert result.stderr == f"diffcrew: error: {str(error).splitlines()[0]}\n" and result.stdout == ""


@pytest.mark.parametrize(("name", "note"), [("run", "your repository is unchanged"), ("fix", "nothing was written")])
def test_ctrl_c_is_130_and_says_what_was_left(name: str, note: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("diffcrew.agent.signals._received", [])  # no SIGTERM forwarded earlier in this process
    result = CliRunner().invoke(_group(KeyboardInterrupt(), name), [name])
    assert result.exit_code == ExitCode.INTERRUPTED == 130
    assert result.stderr == f"diffcrew: error: interrupted; {note}\n"


def test_a_bug_is_not_hidden_behind_a_message() -> None:
    result = CliRunner().invoke(_group(RuntimeError("bug")), ["cmd"])
    assert isinstance(result.exception, RuntimeError)


def test_readme_exit_codes_are_the_enums() -> None:
    table = README.read_text(encoding="utf-8").split("### Exit codes", 1)[1].split("###", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    documented |= {int(code) for code in re.findall(r"\b(1[0-9]{2})\b", table)}  # 143 and 129 in the last row
    assert documented == {int(code) for code in ExitCode}
