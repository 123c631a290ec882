"""The orchestrator's review closes the loop (issue 16): it sees the combined change and approves it,
or amends the plan; a planned file's worker continues with follow-up instructions, a new path gets a
new worker, and the checks and the review run again, within --review-rounds.

Every run here goes through the real CLI and the real SDK to the strict fake Messages API, which
checks every request against the protocol (thinking blocks echoed unchanged, tool_choice, tool pairs).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from children import finish
from conftest import (diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn,
                      udiff)
from test_user_faults import slow, start, transcript_lines, wait_until

MOD = "def greet(name):\n    return 'hello ' + name\n"
MOD_NEW = "def hello(name):\n    return 'hello ' + name\n"
MOD_DOC = "def hello(name):\n    \"\"\"Say hello.\"\"\"\n    return 'hello ' + name\n"
APP = "from mod import greet\n\nprint(greet('world'))\n"
APP_NEW = "from mod import hello\n\nprint(hello('world'))\n"
FILES = {"mod.py": MOD, "app.py": APP, "README.md": "# hello\n"}
RENAME = "rename greet to hello and update callers"
PLAN_MOD_ONLY = plan_turn("Rename greet to hello.", [("mod.py", "modify", "Rename greet to hello.")])


def approve(note: str = "Complete.") -> dict[str, Any]:
    return {"tool": "approve_change", "input": {"note": note}}


def amend(summary: str, edits: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {"tool": "amend_plan", "input": {"summary": summary, "edits": [
        {"path": p, "action": a, "instructions": i} for p, a, i in edits]}}


def show(repo: Path, branch: str, path: str) -> str:
    return git(repo, "show", f"{branch}:{path}")


def review_requests(server) -> list[Any]:
    return [r for r in server.requests if r.key == "review"]


def last_user_text(record: Any) -> str:
    """Every text of the request's last user message (text blocks and tool_result contents)."""
    content = record.body["messages"][-1]["content"]
    texts = []
    for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
        inner = block.get("content", block.get("text", ""))
        texts.append(inner if isinstance(inner, str) else "".join(b.get("text", "") for b in inner))
    return "\n".join(texts)


def test_a_review_adds_the_caller_the_plan_left_out_and_the_branch_holds_the_whole_change(tmp_path: Path,
                                                                                          server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY],
                       "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [amend("app.py still imports greet.", [("app.py", "modify", "Import and call hello.")]),
                                  approve("mod.py and its caller agree.")],
                       "worker:app.py": [patch_turn(udiff("app.py", APP, APP_NEW))],
                       "synthesizer": [summary_turn("Rename greet to hello")]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--review-rounds", "2", RENAME], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    branch = report["branch"]
    assert show(repo, branch, "mod.py") == MOD_NEW and show(repo, branch, "app.py") == APP_NEW
    assert git(repo, "diff", "--name-only", f"{branch}~1", branch).split() == ["app.py", "mod.py"]
    assert [e["path"] for e in report["plan"]["edits"]] == ["mod.py", "app.py"]  # the amended plan
    first, second = review_requests(server)
    assert "diff --git a/mod.py b/mod.py" in last_user_text(first) and "app.py" not in last_user_text(first)
    assert "diff --git a/app.py b/app.py" in last_user_text(second)  # round 2 sees the amended change
    # the new worker sees the amended plan, with app.py in it
    (new_worker,) = [r for r in server.requests if r.key == "worker:app.py"]
    assert "app.py (modify): Import and call hello." in json.dumps(new_worker.body["messages"][0])
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert "Review 1 asked for more: app.py still imports greet.\n- added app.py\n" in message
    assert "- app.py (modify, added by review 1): Import and call hello." in message
    assert snapshot(repo) == before  # the user's checkout, index, HEAD and refs are untouched


def test_a_review_redirects_a_planned_file_and_its_worker_continues_its_conversation(tmp_path: Path,
                                                                                     server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY],
                       "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW)),
                                         patch_turn(udiff("mod.py", MOD, MOD_DOC))],
                       "review": [amend("hello needs a docstring.", [("mod.py", "modify", "Add a docstring.")])],
                       "synthesizer": [summary_turn("Rename greet to hello")]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", RENAME], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert show(repo, report["branch"], "mod.py") == MOD_DOC
    first, follow_up = [r for r in server.requests if r.key == "worker:mod.py"]
    # the same conversation: the first turn comes back as it was (the fake checks its thinking block)
    assert follow_up.body["messages"][:2] == first.body["messages"][:1] + [follow_up.body["messages"][1]]
    assert follow_up.body["messages"][1]["content"][0]["type"] == "thinking"
    answer = follow_up.body["messages"][-1]["content"][0]
    assert answer["type"] == "tool_result" and not answer.get("is_error") and "Add a docstring." in answer["content"]
    assert len(review_requests(server)) == 1  # --review-rounds 1: the amendment is checked, not reviewed again
    assert report["files"][0]["attempts"] == 2


def test_a_check_failure_in_an_unplanned_file_is_fixed_by_a_worker_the_review_adds(tmp_path: Path,
                                                                                   server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY],
                       "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [amend("app.py fails to import greet.", [("app.py", "modify", "Use hello.")])],
                       "worker:app.py": [patch_turn(udiff("app.py", APP, APP_NEW))],
                       "synthesizer": [summary_turn("Rename greet to hello")]})
    check = f"{sys.executable} app.py"
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--repair-rounds", "0", "--check", check,
                      RENAME], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (review,) = review_requests(server)
    shown = last_user_text(review)
    assert "ImportError" in shown and "app.py" in shown  # the new failure, named by the check's output
    assert [c["new_failure"] for c in report["checks"] if c["name"] == check] == [False]  # passes after the amendment
    assert show(repo, report["branch"], "app.py") == APP_NEW


def test_an_amendment_that_breaks_the_plan_rules_is_asked_again_once_then_fails_cleanly(tmp_path: Path,
                                                                                        server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    bad = amend("also fix the helper", [("helpers.py", "modify", "Rename there too.")])  # no such file
    server.set_script({"orchestrator": [PLAN_MOD_ONLY],
                       "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [bad, amend("again", [("mod.py", "delete", "Remove it.")])],
                       "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", RENAME], server)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["branch"] is None and diffcrew_branches(repo) == [] and snapshot(repo) == before
    assert "the review's answer was still unusable after one re-ask" in report["errors"][0]
    assert "already planned as modify" in report["errors"][0]
    first, again = review_requests(server)
    reask = again.body["messages"][-1]["content"][0]
    assert reask["type"] == "tool_result" and reask["is_error"] and "helpers.py: no such file" in reask["content"]
    assert not [r for r in server.requests if r.key == "synthesizer"]


def test_review_rounds_zero_sends_no_review(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [amend("x", [("app.py", "modify", "y")])], "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--review-rounds", "0", RENAME], server)
    assert result.exit_code == 0, result.output
    assert review_requests(server) == [] and "review" not in result.stderr
    assert [r.key for r in server.requests] == ["orchestrator", "worker:mod.py", "synthesizer"]


def test_a_workers_note_reaches_the_review_request(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    noted = {"tool": "submit_patch", "input": {"patch": udiff("mod.py", MOD, MOD_NEW),
                                               "note": "app.py imports greet and must change too."}}
    server.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [noted],
                       "review": [approve()], "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", RENAME], server)
    assert result.exit_code == 0, result.output
    (review,) = review_requests(server)
    assert "- mod.py: app.py imports greet and must change too." in last_user_text(review)
    assert "  review  round 1: approved (Complete.)" in result.stderr


def test_a_review_in_a_dry_run_amends_the_diff_and_is_told_the_checks(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [amend("the caller", [("app.py", "modify", "Use hello.")])],
                       "worker:app.py": [patch_turn(udiff("app.py", APP, APP_NEW))]})
    result = run_cli(["run", "--repo", str(repo), "--dry-run", RENAME], server)
    assert result.exit_code == 0, result.output
    assert "diff --git a/app.py b/app.py" in result.stdout and "diff --git a/mod.py b/mod.py" in result.stdout
    assert "## New check failures (not failing on the base commit)\n\nNone." in last_user_text(review_requests(server)[0])
    assert diffcrew_branches(repo) == []


def test_a_review_that_cannot_be_had_leaves_the_checked_change_with_a_warning(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [{"refusal": "cyber"}], "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", RENAME], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any(w.startswith("the review failed, so the change was not reviewed: the model declined the review")
               for w in report["warnings"]), report["warnings"]
    assert show(repo, report["branch"], "mod.py") == MOD_NEW


def test_replay_of_an_amended_run_makes_the_same_tree(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY],
                       "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW)),
                                         patch_turn(udiff("mod.py", MOD, MOD_DOC))],
                       "review": [amend("docstring and caller", [("mod.py", "modify", "Add a docstring."),
                                                                 ("app.py", "modify", "Use hello.")])],
                       "worker:app.py": [patch_turn(udiff("app.py", APP, APP_NEW))],
                       "synthesizer": [summary_turn("Rename greet to hello")]})
    first = run_cli(["run", "--repo", str(repo), "--yes", "--json", RENAME], server)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    offline = {"ANTHROPIC_API_KEY": None, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    again = run_cli(["replay", report["run_id"], "--repo", str(repo), "--yes", "--json"], env=offline)
    assert again.exit_code == 0, again.output
    replayed = json.loads(again.stdout)
    tree = git(repo, "rev-parse", f"{report['branch']}^{{tree}}")
    assert git(repo, "rev-parse", f"{replayed['branch']}^{{tree}}") == tree
    assert show(repo, replayed["branch"], "app.py") == APP_NEW and show(repo, replayed["branch"], "mod.py") == MOD_DOC


@pytest.mark.slow
def test_ctrl_c_during_the_review_leaves_the_repository_unchanged(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [approve()], "synthesizer": [summary_turn()]})
    slow(server, 300, "review")  # far longer than the bound below: a run that waited for it cannot pass
    child = start(repo, server, "--check", "true", request=RENAME)
    wait_until(lambda: bool(review_requests(server)))
    os.kill(child.pid, signal.SIGINT)
    code, _, err = finish(child, 60)
    assert code == 130, err
    assert "your repository is unchanged" in err and "Traceback" not in err
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
    assert transcript_lines(repo)[-1]["status"] == "interrupted"


def test_a_failed_file_is_shown_to_the_review_which_sends_its_worker_back(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    wrong = patch_turn("--- a/mod.py\n+++ b/mod.py\n@@ -1,2 +1,2 @@\n-def welcome(name):\n+def hello(name):\n"
                       "     return 'hello ' + name\n")  # context that is not in the file: refused
    server.set_script({"orchestrator": [PLAN_MOD_ONLY],
                       "worker:mod.py": [wrong, wrong, patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [amend("mod.py failed", [("mod.py", "modify", "The function is greet, line 1.")])],
                       "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--repair-rounds", "1", RENAME], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert show(repo, report["branch"], "mod.py") == MOD_NEW and report["status"] == "ok"
    (review,) = review_requests(server)
    assert "- mod.py (modify): FAILED, no usable patch after 2 attempt(s)" in last_user_text(review)
    # the failed conversation goes on: our unanswered re-ask now also carries the follow-up
    *_, again = [r for r in server.requests if r.key == "worker:mod.py"]
    last = again.body["messages"][-1]["content"]
    assert last[0]["type"] == "tool_result" and last[0]["is_error"]
    assert last[-1]["type"] == "text" and "The function is greet, line 1." in last[-1]["text"]


class Declines:
    """A person at the go-ahead prompt: yes to the plan, no to an amendment that adds files."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def emit(self, event: object) -> None:
        pass

    def confirm(self, plan: Any) -> bool:
        self.asked.append([e.path for e in plan.edits])
        return len(self.asked) == 1


def test_an_amendment_that_adds_files_is_put_to_the_go_ahead_prompt(tmp_path: Path, seam) -> None:
    from diffcrew.agent.config import RunOptions
    from diffcrew.agent.run import run_change

    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    seam.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                     "review": [amend("the caller", [("app.py", "modify", "Use hello.")])],
                     "worker:app.py": [patch_turn(udiff("app.py", APP, APP_NEW))], "synthesizer": [summary_turn()]})
    person = Declines()
    report = run_change(RunOptions(request=RENAME, repo=repo), person, lambda: seam)
    assert person.asked == [["mod.py"], ["mod.py", "app.py"]]  # the whole amended plan is shown
    assert report.exit_code == 1 and report.branch is None
    assert "you declined the review's amendment (it adds app.py)" in report.errors[0]
    assert not [r for r in seam.requests if r.key == "worker:app.py"]
    assert snapshot(repo) == before and diffcrew_branches(repo) == []


@pytest.mark.slow
def test_the_installed_command_makes_the_full_change_byte_for_byte_when_the_review_amends(tmp_path: Path,
                                                                                          server) -> None:
    """Issue 16's acceptance: `diffcrew run --yes` as a user runs it, against a server that follows the
    protocol; the first plan misses app.py, the review adds it, and the branch's tree is exactly the
    tree of the full change made by hand with git."""
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script({"orchestrator": [PLAN_MOD_ONLY],
                       "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                       "review": [amend("app.py still imports greet.", [("app.py", "modify", "Use hello.")]),
                                  approve()],
                       "worker:app.py": [patch_turn(udiff("app.py", APP, APP_NEW))],
                       "synthesizer": [summary_turn("Rename greet to hello")]})
    child = start(repo, server, "--review-rounds", "2", request=RENAME)
    code, out, err = finish(child, 120)
    assert code == 0, err
    (branch,) = diffcrew_branches(repo)
    expected = tmp_path / "expected"
    git(tmp_path, "clone", "-q", str(repo), str(expected))
    (expected / "mod.py").write_text(MOD_NEW)
    (expected / "app.py").write_text(APP_NEW)
    git(expected, "add", "--all")
    assert git(repo, "rev-parse", f"{branch}^{{tree}}") == git(expected, "write-tree")
    assert [r.key for r in server.requests] == ["orchestrator", "worker:mod.py", "review", "worker:app.py", "review",
                                                "synthesizer"]
