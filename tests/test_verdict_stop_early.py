"""A check that stops at its first failure (`pytest -x`) must not hide new failures (issue 13, item 10).

With a test already failing on the base, `pytest -x` stops there on both sides: the outputs are
the same, yet the change may break any number of tests after it. What neither run could see
cannot be compared, so such a failure is not counted as pre-existing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from conftest import diffcrew_branches, make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff

pytestmark = pytest.mark.slow  # the slow tier: real pytest checks run twice per test

LIB = "def double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x / 2\n"
BROKEN = LIB.replace("return 2 * x", "return 3 * x").replace("return x / 2", "return x / 3")
FILES = {"lib.py": LIB,
         "tests/test_0_old.py": "def test_known_failure():\n    assert 1 == 2\n",
         "tests/test_1_lib.py": "from lib import double, half\n\n\ndef test_double():\n    assert double(2) == 4\n\n\n"
                                "def test_half():\n    assert half(4) == 2\n"}


def _run(tmp_path: Path, seam, pytest_args: str) -> tuple[Path, object]:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script({"orchestrator": [plan_turn("Change lib.", [("lib.py", "modify", "Change both.")])],
                       "worker:lib.py": [patch_turn(udiff("lib.py", LIB, BROKEN))], "synthesizer": [summary_turn()]})
    check = f"{sys.executable} -m pytest -p no:cacheprovider {pytest_args} tests"
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--repair-rounds", "0", "--check", check,
                      "change lib"], seam)
    return repo, result


def test_pytest_x_with_a_failure_on_the_base_does_not_hide_new_failures(tmp_path: Path, seam) -> None:
    repo, result = _run(tmp_path, seam, "-x -q")
    assert result.exit_code == 1, result.output  # two tests newly fail: no branch
    assert diffcrew_branches(repo) == []
    (check,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] != "syntax"]
    assert check["verdict"] == "new-failure" and check["base_status"] == "fail"
    assert "stopped at its first failure" in check["output"]


def test_without_x_the_same_change_is_caught_by_the_comparison(tmp_path: Path, seam) -> None:
    repo, result = _run(tmp_path, seam, "-q")
    assert result.exit_code == 1, result.output
    (check,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] != "syntax"]
    assert check["verdict"] == "new-failure"


def test_readme_does_not_recommend_stopping_at_the_first_failure() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    recommended = re.findall(r"^checks = \[.*\]$|--check '[^']*'", readme, re.MULTILINE)
    assert recommended and not [line for line in recommended if "-x" in line]
    assert "no `pytest -x`" in readme  # and it says why
