"""Hangs and bounds (issue 13, items 12-14): a hostile pattern, output line or answer must not stall a run.

`--timeout` and Ctrl-C must always work, and no single input may take unbounded time or memory.
"""

from __future__ import annotations

import json
import os
import sys
import signal
from pathlib import Path

import pytest

from children import finish
from conftest import make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff
from test_user_faults import processes_with, start, wait_until, worktrees

pytestmark = pytest.mark.slow  # the slow tier: hostile inputs run to their bounds, in child processes

OLD = "def load(path):\n    return open(path).read()\n"
NEW = "def from_file(path):\n    return open(path).read()\n"
# glibc's ERE engine backtracks on back-references: this pattern runs for minutes on a 200-character line.
CATASTROPHIC = r"(a*)*(a*)*\1\2b"
FILES = {"cfg.py": OLD, "long.txt": "a" * 200 + "!\n"}
PLAN = plan_turn("Rename load.", [("cfg.py", "modify", "Rename load to from_file.")])


def script(orchestrator: list[dict]) -> dict:
    return {"orchestrator": orchestrator, "worker:cfg.py": [patch_turn(udiff("cfg.py", OLD, NEW))],
            "synthesizer": [summary_turn()]}


def search(pattern: str) -> dict:
    return {"tool": "search_code", "input": {"pattern": pattern}}


# --- 12: search_code --------------------------------------------------------------------------------------

def test_a_catastrophic_search_pattern_is_cut_off_and_the_model_told(tmp_path: Path, server, monkeypatch) -> None:
    from diffcrew.tools import explore

    monkeypatch.setattr(explore, "SEARCH_TIMEOUT_S", 0.5)
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script([search(CATASTROPHIC), search("load"), {**PLAN}]))
    # Was: the run took < 10 s. Now the run's own --timeout is the guard (the search would run for
    # minutes): exit 0 means the search was cut off, and its answer says at 0.5 s.
    result = run_cli(["run", "--repo", str(repo), "--yes", "--timeout", "60", "rename load"], server)
    assert result.exit_code == 0, result.output
    answers = [b for r in server.requests if r.key == "orchestrator" for b in r.body["messages"][-1]["content"]
               if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert answers[0]["is_error"] and "0.5 s" in answers[0]["content"]
    assert "cfg.py:1:" in answers[1]["content"]
    assert processes_with(CATASTROPHIC, repo) == []


def test_timeout_and_ctrl_c_end_a_run_stuck_in_a_search(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script([search(CATASTROPHIC), PLAN]))
    # Were: exit within 8 s (timeout) and 5 s (Ctrl-C). Now: the run ended while still in the search,
    # before the search's own 10 s cut-off could answer the model (one orchestrator request only).
    # --timeout 6: under the search's 10 s cut-off, and past the start-up of a loaded machine
    code, _, err = finish(start(repo, server, "--timeout", "6", request="rename load"), 30)
    assert code == 3, (code, err)
    assert "--timeout" in err and "Traceback" not in err
    assert [r.key for r in server.requests] == ["orchestrator"]
    server.set_script(script([search(CATASTROPHIC), PLAN]))
    child = start(repo, server, request="rename load")
    wait_until(lambda: processes_with(CATASTROPHIC, repo) != [])
    os.kill(child.pid, signal.SIGINT)
    code, _, err = finish(child, 30)
    assert code == 130, (code, err)
    assert [r.key for r in server.requests] == ["orchestrator"] * 2  # one per run
    assert processes_with(CATASTROPHIC, repo) == [] and len(worktrees(repo)) == 1


# --- 13: the verdict on a long output line ------------------------------------------------------------------

def test_a_check_printing_one_huge_line_is_judged_quickly(tmp_path: Path, server) -> None:
    """A 120 KB line, on the base and after the change: the same failure, judged pre-existing in well
    under a second (the PLACE pattern used to backtrack for a minute, past --timeout)."""
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script([PLAN]))
    check = f"{sys.executable} -c \"print('a' * 120_000 + ' x.py'); raise SystemExit(1)\""
    # Was also: the run took < 8 s. The run's --timeout 20 is the guard: a minute of backtracking
    # ends it with exit 3.
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--timeout", "20", "--check", check,
                      "rename load"], server)
    assert result.exit_code == 0, result.output
    (checked,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] != "syntax"]
    assert checked["verdict"] == "pre-existing"


# --- 14: a worker answer with 1,000 failing hunks -----------------------------------------------------------

def test_a_thousand_failing_hunks_cost_little_time_and_a_small_repair_text(tmp_path: Path, server) -> None:
    old = "".join(f"def function_number_{i}(argument):\n    return argument * {i} + offset\n" for i in range(1000))
    new = old.replace("argument * 7 + offset", "argument * 7")
    hunks = "".join(f"@@ -{2 * k + 1},2 +{2 * k + 1},2 @@\n def functoin_numbr_{k}(argumnt):\n"
                    f"-    return argumnt * {k} + ofset\n+    return argument * {k}\n" for k in range(1000))
    repo = make_repo(tmp_path / "repo", {"m.py": old})
    server.set_script({"orchestrator": [plan_turn("Drop the offset of 7.", [("m.py", "modify", "Drop it.")])],
                       "worker:m.py": [patch_turn("--- a/m.py\n+++ b/m.py\n" + hunks), patch_turn(udiff("m.py", old, new))],
                       "synthesizer": [summary_turn()]})
    # Was: the run took < 10 s. The run's --timeout is the guard (exit 3); the work itself is counted
    # by tests/tools/test_patch.py and timed by bench/patch_speed.py.
    result = run_cli(["run", "--repo", str(repo), "--yes", "--timeout", "60", "drop the offset of 7"], server)
    assert result.exit_code == 0, result.output
    repair = [r for r in server.requests if r.key == "worker:m.py"][1]
    (answer,) = [b for b in repair.body["messages"][-1]["content"] if b.get("type") == "tool_result"]
    text = answer["content"] if isinstance(answer["content"], str) else answer["content"][0]["text"]
    assert len(text) < 20_000 and "1000 of 1000 hunks failed" in text.splitlines()[0]
    assert "more" in text
