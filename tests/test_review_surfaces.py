"""Everywhere a run is shown, the review is too (issue 16): the plain lines and the live view while
it runs, the estimate shown with the plan, the commit message, `diffcrew show` and `log`, and the
pull-request body. (The `--json` report's `reviews` are in test_report_schema.py.)

One amended run serves most tests: the plan changes mod.py, review 1 adds app.py and sends mod.py's
worker a follow-up, review 2 approves. It goes through the real CLI and the real flow to the strict
fake at the model seam (the `seam` fixture): the subject here is what is shown, not the wire.
"""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import click
import pytest
from rich.console import Console

from conftest import git, make_repo, patch_turn, run_cli, summary_turn, udiff
from diffcrew.agent.config import DEFAULT_ORCHESTRATOR_MODEL
from diffcrew.agent.events import Event, Planned, Reviewed
from diffcrew.agent.liveview import Board, LiveView
from diffcrew.agent.orchestrator import estimate_review_cost
from diffcrew.agent.synthesizer import Summary, commit_message
from diffcrew.agent.types import FileEdit, FileResult, Plan
from test_review import APP, APP_NEW, FILES, MOD, MOD_DOC, MOD_NEW, PLAN_MOD_ONLY, RENAME, amend, approve
from test_view import rendered, row, usage

AMENDED_SCRIPT = {
    "orchestrator": [PLAN_MOD_ONLY],
    "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW)), patch_turn(udiff("mod.py", MOD, MOD_DOC))],
    "review": [amend("app.py still imports greet, and hello has no docstring.",
                     [("app.py", "modify", "Import and call hello."), ("mod.py", "modify", "Add a docstring.")]),
               approve("mod.py and its caller agree.")],
    "worker:app.py": [patch_turn(udiff("app.py", APP, APP_NEW))],
    "synthesizer": [summary_turn("Rename greet to hello")]}


def amended_run(tmp_path: Path, seam, *extra: str) -> tuple[Path, Any]:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(AMENDED_SCRIPT)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--review-rounds", "2", *extra, RENAME], seam)
    assert result.exit_code == 0, result.output
    return repo, result


def plain(text: str) -> list[str]:
    return [click.unstyle(line) for line in text.splitlines()]


# -- the plain lines and the estimate --------------------------------------------------------------

def test_plain_lines_show_each_review_round_and_the_amended_workers(tmp_path: Path, seam) -> None:
    _, result = amended_run(tmp_path, seam)
    lines = plain(result.stderr)
    review = [line for line in lines if line.startswith(("  review  ", "    + ", "    > "))]
    assert review == [
        "  review  round 1: reviewing the combined change",
        "  review  round 1: asked for more: app.py still imports greet, and hello has no docstring.",
        "    + modify app.py: Import and call hello.",
        "    > modify mod.py: Add a docstring.",
        "  review  round 2: reviewing the combined change",
        "  review  round 2: approved (mod.py and its caller agree.)"]
    after = lines[lines.index(review[3]) + 1:lines.index(review[4])]
    assert "  worker  app.py: running" in after and "  worker  app.py: done after 1 attempt(s)" in after
    # a follow-up is one line when it starts, not "repairing" and then "running"
    assert [line for line in after if line.startswith("  worker  mod.py: ")] == [
        "  worker  mod.py: repairing (the review asked for more)", "  worker  mod.py: done after 2 attempt(s)"]


def estimate_of(stderr: str) -> tuple[str, float]:
    (line,) = [line for line in plain(stderr) if "estimated cost" in line]
    return line, float(re.search(r"~\$([0-9.]+)", line).group(1))


def test_the_estimate_shown_with_the_plan_includes_the_review(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                     "synthesizer": [summary_turn()]})
    reviewed = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", RENAME], seam)
    seam.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                     "synthesizer": [summary_turn()]})
    alone = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", "--review-rounds", "0", RENAME], seam)
    assert reviewed.exit_code == alone.exit_code == 0, reviewed.output + alone.output
    line, with_review = estimate_of(reviewed.stderr)
    assert re.fullmatch(r"  1 worker\(s\) and a review, estimated cost ~\$[0-9.]+ \(before repairs and amendments\)",
                        line)
    line, workers = estimate_of(alone.stderr)
    assert re.fullmatch(r"  1 worker\(s\), estimated cost ~\$[0-9.]+ \(before repairs\)", line)
    review = estimate_review_cost(RENAME, Plan("Rename greet to hello.", (
        FileEdit("mod.py", "modify", "Rename greet to hello."),)), {"mod.py": len(MOD)}, DEFAULT_ORCHESTRATOR_MODEL)
    assert review is not None and review > 0.001
    assert with_review - workers == pytest.approx(review, abs=0.0002)


def test_the_review_estimate_grows_with_the_change_and_is_unknown_for_an_unpriced_model() -> None:
    plan = Plan("x", (FileEdit("a.py", "modify", "y"), FileEdit("b.py", "delete", "")))
    small = estimate_review_cost("r", plan, {"a.py": 400, "b.py": 400}, "claude-opus-4-8")
    large = estimate_review_cost("r", plan, {"a.py": 400_000, "b.py": 400}, "claude-opus-4-8")
    deleted = estimate_review_cost("r", plan, {"a.py": 400, "b.py": 400_000}, "claude-opus-4-8")
    assert small is not None and large is not None and deleted is not None
    assert large > small and deleted > small
    assert estimate_review_cost("r", plan, {}, "no-such-model") is None
    assert Planned(plan, 0.01, reviewed=True, review_cost=None).total_cost is None
    assert Planned(plan, 0.01, reviewed=False, review_cost=None).total_cost == 0.01
    assert Planned(plan, 0.01, reviewed=True, review_cost=0.02).total_cost == pytest.approx(0.03)


# -- the live view -------------------------------------------------------------------------------

class Recording(LiveView):
    """A live view on a string buffer that keeps what its region showed after each event."""

    def __init__(self) -> None:
        super().__init__(Console(file=StringIO(), force_terminal=True, width=130), refresh_per_second=1)
        self.frames: list[tuple[Event, list[str]]] = []

    def emit(self, event: Event) -> None:
        super().emit(event)
        self.frames.append((event, rendered(self, width=130)))


def test_the_live_view_shows_the_review_phase_and_rows_for_the_amended_workers(tmp_path: Path, seam,
                                                                               monkeypatch) -> None:
    from diffcrew.agent import view as view_module

    views: list[Recording] = []
    monkeypatch.setattr(view_module, "choose_view", lambda **_: views.append(Recording()) or views[-1])
    amended_run(tmp_path, seam)
    frames = views[0].frames
    reviewing = [lines[-1] for event, lines in frames if type(event).__name__ == "Reviewing"]
    assert len(reviewing) == 2 and "reviewing the combined change (round 1)" in reviewing[0]
    assert "reviewing the combined change (round 2)" in reviewing[1]
    (after,) = [lines for event, lines in frames if isinstance(event, Reviewed) and not event.approved]
    assert row(after, "app.py").split()[1:3] == ["app.py", "queued"] and "added by review 1" in row(after, "app.py")
    assert row(after, "mod.py").split()[1:3] == ["mod.py", "queued"]
    assert "follow-up from review 1" in row(after, "mod.py")
    last = frames[-1][1]
    assert row(last, "app.py").split()[1:3] == ["app.py", "done"] and "added by review 1" in row(last, "app.py")
    assert "follow-up from review 1" in row(last, "mod.py")
    # the figure against the estimate counts what the estimate counts: the workers and the review
    assert re.search(r"workers \+ review \$[0-9.]+ \(est\. ~\$[0-9.]+\)", last[-1]), last[-1]


def test_the_live_figure_compares_like_with_like() -> None:
    plan = Plan("x", (FileEdit("a.py", "modify", "y"),))
    calls = [usage("orchestrator", None, 100, 10, 0.5), usage("worker", "a.py", 100, 10, 0.02),
             usage("review", None, 100, 10, 0.03), usage("synthesizer", None, 100, 10, 0.5)]
    reviewed, alone = Board(), Board()
    reviewed.apply(Planned(plan, 0.04, reviewed=True, review_cost=0.01))
    alone.apply(Planned(plan, 0.04))
    for board in (reviewed, alone):
        for call in calls:
            board.apply(call)
    assert reviewed.estimated_cost == pytest.approx(0.05) and reviewed.spent() == pytest.approx(0.05)
    assert alone.estimated_cost == pytest.approx(0.04) and alone.spent() == pytest.approx(0.02)


# -- the commit message, show, log and the pull-request body --------------------------------------

def test_the_commit_message_tells_a_reviewer_what_the_review_asked_for(tmp_path: Path, seam) -> None:
    repo, result = amended_run(tmp_path, seam, "--json")
    message = git(repo, "log", "-1", "--format=%B", json.loads(result.stdout)["branch"])
    files, rounds = message.split("\nFiles:\n")[1].split("\n\nReview 1 ")
    assert files.splitlines() == [
        "- mod.py (modify): Rename greet to hello. Follow-up from the review: Add a docstring.",
        "- app.py (modify, added by review 1): Import and call hello."]
    assert ("Review 1 " + rounds).splitlines()[:5] == [
        "Review 1 asked for more: app.py still imports greet, and hello has no docstring.",
        "- added app.py", "- follow-up for mod.py", "",
        "Review 2 approved: mod.py and its caller agree."]


def test_an_approval_without_a_note_reads_as_a_sentence() -> None:
    plan = Plan("x", (FileEdit("a.py", "modify", "y"),))
    message = commit_message(Summary("T", "", from_model=True), plan, [FileResult("a.py", "modify", "z")], "run", [],
                             reviews=[{"round": 1, "verdict": "approved", "note": "", "edits": []}])
    assert "\nReview 1 approved.\n" in message


def test_show_prints_the_amended_plan_and_the_review_rounds(tmp_path: Path, seam) -> None:
    repo, result = amended_run(tmp_path, seam, "--json")
    run_id = json.loads(result.stdout)["run_id"]
    shown = run_cli(["show", run_id, "--repo", str(repo)])
    assert shown.exit_code == 0, shown.output
    lines = plain(shown.stdout)
    start = lines.index("Plan: Rename greet to hello.")
    assert lines[start + 1:start + 8] == [
        "  modify mod.py: Rename greet to hello. Follow-up from the review: Add a docstring.",
        "  modify app.py (added by review 1): Import and call hello.",
        "  review  round 1: asked for more: app.py still imports greet, and hello has no docstring.",
        "    + modify app.py: Import and call hello.",
        "    > modify mod.py: Add a docstring.",
        "  review  round 2: approved (mod.py and its caller agree.)",
        "Files:"]
    assert "  modify app.py: ok after 1 attempt(s)" in lines
    as_json = json.loads(run_cli(["show", run_id, "--repo", str(repo), "--json"]).stdout)
    assert [(r["round"], r["verdict"], r["added"]) for r in as_json["reviews"]] == [(1, "amended", ["app.py"]),
                                                                                   (2, "approved", [])]
    assert as_json["report"]["reviews"][0]["edits"][0] == {"path": "app.py", "action": "modify",
                                                           "instructions": "Import and call hello.", "added": True}


def test_log_json_marks_an_amended_run(tmp_path: Path, seam) -> None:
    repo, _ = amended_run(tmp_path, seam)
    seam.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                     "synthesizer": [summary_turn()]})
    assert run_cli(["run", "--repo", str(repo), "--yes", RENAME], seam).exit_code == 0
    listed = json.loads(run_cli(["log", "--repo", str(repo), "--json"]).stdout)
    assert [entry["amended"] for entry in listed] == [False, True]  # newest first


def test_the_pr_body_of_an_amended_run_has_the_review(tmp_path: Path, seam) -> None:
    body = tmp_path / "pr.md"
    amended_run(tmp_path, seam, "--json", "--pr-body", str(body))
    text = body.read_text(encoding="utf-8")
    review = text.split("## Review\n\n")[1].split("\n\n## ")[0]
    assert review.splitlines() == [
        "- Round 1: 🔁 **asked for more**: app.py still imports greet, and hello has no docstring.",
        "  - added (modify) `app.py`: Import and call hello.",
        "  - follow-up for `mod.py`: Add a docstring.",
        "- Round 2: ✅ **approved**: mod.py and its caller agree."]
    assert "| `app.py` | modify (added by review 1) | ok |" in text
