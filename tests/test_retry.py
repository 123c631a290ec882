"""`diffcrew retry` rescues a failed run, `show --patch` prints only its applied diff, and a failed
run's replay says what to do instead of failing half-way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn, udiff

FILES = {f"m{i}.py": f"value = {i}\n\n\ndef get():\n    return value\n" for i in range(4)}
NEW = {path: text.replace("value = ", "value = 10 * ") for path, text in FILES.items()}
FAILING = "m2.py"
OVERLOADED = {"http_error": 529, "times": 50, "retry_after": 0, "message": "Overloaded"}
APPROVE = {"tool": "approve_change", "input": {"note": "All four agree."}}


def script(failing: bool) -> dict[str, list[dict[str, Any]]]:
    turns: dict[str, list[dict[str, Any]]] = {
        "orchestrator": [plan_turn("Scale the values.", [(p, "modify", "multiply value by 10") for p in FILES])],
        "review": [APPROVE], "synthesizer": [summary_turn("Scale the values")]}
    for path in FILES:
        turns[f"worker:{path}"] = [patch_turn(udiff(path, FILES[path], NEW[path]))]
    if failing:
        turns[f"worker:{FAILING}"] = [OVERLOADED, *turns[f"worker:{FAILING}"]]
    return turns


def tree(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", f"{ref}^{{tree}}").strip()


def failed_run(tmp_path: Path, server) -> tuple[Path, dict[str, Any]]:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script(failing=True))
    first = run_cli(["run", "--repo", str(repo), "--yes", "--json", "scale the values"], server)
    assert first.exit_code == 1, first.output
    report = json.loads(first.stdout)
    assert [f["status"] for f in report["files"]] == ["ok", "ok", "failed", "ok"] and report["branch"] is None
    return repo, report


def test_retry_reuses_the_good_files_and_makes_the_tree_a_good_run_makes(tmp_path: Path, server) -> None:
    good_repo = make_repo(tmp_path / "good", FILES)
    server.set_script(script(failing=False))
    good = run_cli(["run", "--repo", str(good_repo), "--yes", "--json", "scale the values"], server)
    assert good.exit_code == 0, good.output
    good_tree = tree(good_repo, json.loads(good.stdout)["branch"])

    repo, failed = failed_run(tmp_path, server)
    before, sent = snapshot(repo), len(server.requests)
    server.set_script(script(failing=False))
    retried = run_cli(["retry", failed["run_id"], "--repo", str(repo), "--yes", "--json"], server)
    assert retried.exit_code == 0, retried.output
    report = json.loads(retried.stdout)
    assert tree(repo, report["branch"]) == good_tree and report["base"] == failed["base"]
    asked = [r.key for r in server.requests[sent:] if r.endpoint == "messages"]
    assert sorted(asked) == ["review", "synthesizer", f"worker:{FAILING}"]  # no plan, no reused worker
    assert report["usage"]["worker"]["calls"] == 1 and "orchestrator" not in report["usage"]
    paid = sum(r.usage.get("output_tokens", 0) for r in server.requests[sent:])
    assert report["usage"]["worker"]["output_tokens"] + report["usage"]["review"]["output_tokens"] + \
        report["usage"]["synthesizer"]["output_tokens"] == paid  # the reused files cost nothing
    # byte for byte: the reused files are the blobs the failed run recorded
    recorded = [json.loads(line) for line in Path(failed["transcript"]).read_text().splitlines()]
    blobs = {e["path"]: e["blob"] for e in recorded if e.get("kind") == "file" and e["ok"]}
    assert set(blobs) == set(FILES) - {FAILING}
    for path, blob in blobs.items():
        assert git(repo, "rev-parse", f"{report['branch']}:{path}").strip() == blob
    assert snapshot(repo) == before and diffcrew_branches(repo) == [report["branch"]]


def test_a_review_follow_up_for_a_reused_file_starts_a_worker_on_the_amended_edit(tmp_path: Path, server) -> None:
    repo, failed = failed_run(tmp_path, server)
    turns = script(failing=False)
    documented = "# scaled by ten\n" + NEW["m0.py"]
    turns["review"] = [{"tool": "amend_plan", "input": {"summary": "Say why.", "edits": [
        {"path": "m0.py", "action": "modify", "instructions": "add a comment saying it is scaled"}]}}, APPROVE]
    turns["worker:m0.py"] = [patch_turn(udiff("m0.py", FILES["m0.py"], documented))]  # a new conversation
    server.set_script(turns)
    sent = len(server.requests)
    report = json.loads(run_cli(["retry", failed["run_id"], "--repo", str(repo), "--yes", "--json"], server).stdout)
    assert report["status"] == "ok", report["errors"]
    assert git(repo, "show", f"{report['branch']}:m0.py") == documented
    (worker,) = [r.body for r in server.requests[sent:] if r.key == "worker:m0.py"]
    assert len(worker["messages"]) == 1  # started afresh: the reused result had no conversation
    assert "Follow-up from the review: add a comment saying it is scaled" in json.dumps(worker["messages"])


def test_retry_refuses_what_it_cannot_rescue(tmp_path: Path, server) -> None:
    repo, failed = failed_run(tmp_path, server)
    server.set_script(script(failing=False))
    done = json.loads(run_cli(["retry", "last", "--repo", str(repo), "--yes", "--json"], server).stdout)
    again = run_cli(["retry", done["run_id"], "--repo", str(repo), "--yes"], server)
    assert again.exit_code == 2 and f"run {done['run_id']} succeeded (branch {done['branch']})" in again.stderr
    # a transcript written before files were recorded: one clear line
    path = Path(failed["transcript"])
    lines = path.read_text().splitlines()
    start = json.loads(lines[0])
    del start["files_recorded"]
    path.write_text("\n".join([json.dumps(start), *lines[1:]]) + "\n")
    old = run_cli(["retry", failed["run_id"], "--repo", str(repo), "--yes"], server)
    assert old.exit_code == 2 and "recorded by an older diffcrew" in old.stderr


def test_retry_pushes_where_the_failed_run_was_to_push_and_writes_the_pr_body_it_is_given(tmp_path: Path,
                                                                                          server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    server.set_script(script(failing=True))
    first = run_cli(["run", "--repo", str(repo), "--yes", "--push", "origin", "--pr-body", str(tmp_path / "pr.md"),
                     "scale the values"], server)
    assert first.exit_code == 1 and not (tmp_path / "pr.md").exists()
    server.set_script(script(failing=False))
    sent = len(server.requests)
    # --pr-body is checked before the first model call, as `run` checks it
    for bad in (["--pr-body", str(tmp_path / "no-such-dir" / "pr.md")], ["--pr-body", "-", "--json"]):
        refused = run_cli(["retry", "last", "--repo", str(repo), "--yes", *bad], server)
        assert refused.exit_code == 2 and "--pr-body" in refused.stderr and len(server.requests) == sent, bad
    retried = run_cli(["retry", "last", "--repo", str(repo), "--yes", "--pr-body", str(tmp_path / "pr.md")], server)
    assert retried.exit_code == 0, retried.output
    (branch,) = diffcrew_branches(repo)
    assert f"Pushed:     {branch} to origin" in retried.stdout
    assert git(remote, "rev-parse", f"refs/heads/{branch}").strip() == git(repo, "rev-parse", branch).strip()
    assert "Scale the values" in (tmp_path / "pr.md").read_text()
    assert "--pr-body FILE" in run_cli(["retry", "--help"]).stdout


def test_retry_push_names_another_remote_checked_before_the_first_call(tmp_path: Path, server) -> None:
    repo, failed = failed_run(tmp_path, server)  # pushed nowhere
    server.set_script(script(failing=False))
    sent = len(server.requests)
    refused = run_cli(["retry", "last", "--repo", str(repo), "--yes", "--push", "upstream"], server)
    assert refused.exit_code == 2 and "no remote named 'upstream'" in refused.stderr
    assert len(server.requests) == sent and diffcrew_branches(repo) == []


def test_a_run_whose_worker_was_overloaded_ends_with_the_retry_command(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script(failing=True))
    failed = run_cli(["run", "--repo", str(repo), "--yes", "scale the values"], server)
    assert failed.exit_code == 1 and "529" in failed.stderr
    hint = failed.stderr.strip().splitlines()[-1]
    (transcript,) = (repo / ".git" / "diffcrew" / "runs").glob("*.jsonl")
    short = transcript.stem.rsplit("-", 1)[-1]
    assert f"`diffcrew retry {short}`" in hint
    server.set_script(script(failing=False))
    assert run_cli(["retry", short, "--repo", str(repo), "--yes"], server).exit_code == 0  # the hint works
    # a run that failed before its plan has nothing to reuse: no hint
    server.set_script({"orchestrator": [OVERLOADED]})
    unplanned = run_cli(["run", "--repo", str(repo), "--yes", "scale the values again"], server)
    assert unplanned.exit_code == 1 and "529" in unplanned.stderr and "diffcrew retry" not in unplanned.stderr


def test_replay_of_a_failed_run_points_to_retry(tmp_path: Path, server) -> None:
    repo, failed = failed_run(tmp_path, server)
    before = snapshot(repo)
    replayed = run_cli(["replay", failed["run_id"], "--repo", str(repo), "--yes"])
    assert replayed.exit_code == 2 and replayed.stdout == ""
    (line,) = replayed.stderr.splitlines()
    assert f"got no answer ({FAILING})" in line and f"diffcrew retry {failed['run_id']}" in line
    assert snapshot(repo) == before


def test_replay_of_a_retry_names_the_run_it_retried(tmp_path: Path, server) -> None:
    repo, failed = failed_run(tmp_path, server)
    server.set_script(script(failing=False))
    retried = json.loads(run_cli(["retry", "last", "--repo", str(repo), "--yes", "--json"], server).stdout)
    before = snapshot(repo)
    replayed = run_cli(["replay", retried["run_id"], "--repo", str(repo), "--yes"])
    assert replayed.exit_code == 2 and replayed.stdout == ""
    (line,) = replayed.stderr.splitlines()
    assert f"run {retried['run_id']} is a retry of run {failed['run_id']}" in line and "cannot be replayed" in line
    assert snapshot(repo) == before


def test_show_patch_prints_the_applied_diff_only_and_applies_back(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    turns = script(failing=False)
    wrong = udiff(FAILING, FILES[FAILING].replace("get", "fetch"), NEW[FAILING])  # context that is not there
    turns[f"worker:{FAILING}"] = [patch_turn(wrong)]  # the failed attempt, which `show` lists
    server.set_script(turns)
    failed = json.loads(run_cli(["run", "--repo", str(repo), "--yes", "--json", "--repair-rounds", "0", "scale"],
                                server).stdout)
    assert [f["status"] for f in failed["files"]] == ["ok", "ok", "failed", "ok"]
    assert f"# patch for {FAILING}" in run_cli(["show", failed["run_id"], "--repo", str(repo)]).stdout
    shown = run_cli(["show", failed["run_id"], "--repo", str(repo), "--patch"])
    assert shown.exit_code == 0, shown.output
    assert FAILING not in shown.stdout and shown.stdout.count("diff --git") == 3
    applied = run_cli(["apply", "-", "--repo", str(repo)], input=shown.stdout)
    assert applied.exit_code == 0, applied.output
    for path in FILES:
        assert (repo / path).read_text() == (FILES[path] if path == FAILING else NEW[path])
    git(repo, "checkout", "-q", "--", ".")
    server.set_script(script(failing=False))
    done = json.loads(run_cli(["retry", "last", "--repo", str(repo), "--yes", "--json"], server).stdout)
    committed = run_cli(["show", done["run_id"], "--repo", str(repo), "--patch"]).stdout
    assert committed == git(repo, "diff", "--no-color", "--no-renames", done["base"], done["commit"])


def test_a_recorded_plan_is_held_to_the_plan_rules_again(tmp_path: Path, server) -> None:
    """A transcript is a file anyone can edit: the plan a retry carries out is checked as a
    planner's would be, before any call."""
    repo, failed = failed_run(tmp_path, server)
    path = Path(failed["transcript"])
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    for entry in entries:
        if entry.get("kind") == "end":
            entry["report"]["plan"]["edits"].append(
                {"path": ".git/hooks/pre-commit", "action": "create", "instructions": "run this"})
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    before, calls = snapshot(repo), len(server.requests)
    again = run_cli(["retry", failed["run_id"], "--repo", str(repo), "--yes"], server)
    assert again.exit_code == 2, again.output
    assert f"the plan of run {failed['run_id']} cannot be carried out again: .git/hooks/pre-commit" in again.stderr
    assert len(server.requests) == calls and snapshot(repo) == before and diffcrew_branches(repo) == []


def test_an_amendment_the_user_declined_is_not_carried_out_by_a_retry(tmp_path: Path, seam) -> None:
    from test_review import APP, MOD, MOD_NEW, PLAN_MOD_ONLY, RENAME, Declines, amend

    from diffcrew.agent.config import RunOptions
    from diffcrew.agent.retry import load_retry
    from diffcrew.agent.run import run_change
    from diffcrew.tools.git import GitRepo

    repo = make_repo(tmp_path / "repo", {"mod.py": MOD, "app.py": APP})
    seam.set_script({"orchestrator": [PLAN_MOD_ONLY], "worker:mod.py": [patch_turn(udiff("mod.py", MOD, MOD_NEW))],
                     "review": [amend("the caller", [("app.py", "modify", "Use hello.")])],
                     "synthesizer": [summary_turn()]})
    report = run_change(RunOptions(request=RENAME, repo=repo), Declines(), lambda: seam)
    assert "you declined the review's amendment (it adds app.py)" in report.errors[0]
    _, resume = load_retry(GitRepo(repo), report.run_id, None)
    assert [e.path for e in resume.plan.edits] == ["mod.py"] and resume.again == ()
