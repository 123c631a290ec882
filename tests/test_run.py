"""The whole run through the real CLI: what it decides at the model seam (`seam`: the fake API
in-process), and end to end over the real SDK and HTTP (`server`) for the main run and the dry
run, and for what needs the wire (requests in flight at once)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import (diffcrew_branches, gather_workers, git, make_repo, patch_turn, plan_turn, run_cli, snapshot,
                      summary_turn, udiff)
from scenarios import FILES, MOD, MOD_NEW, NEW, UTIL, UTIL_NEW, four_file_script

def first_text(body: dict) -> str:
    """The text of a request's first user message."""
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def show(repo: Path, rev: str, path: str) -> bytes:
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, check=True).stdout


def test_four_file_change_lands_exactly_on_a_new_branch(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    base = git(repo, "rev-parse", "HEAD").strip()
    server.set_script(four_file_script())
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "type the greeting"], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "ok" and report["run_id"]
    branch = report["branch"]
    assert diffcrew_branches(repo) == [branch]
    assert git(repo, "rev-parse", f"{branch}^").strip() == base
    assert git(repo, "rev-list", "--count", f"{base}..{branch}").strip() == "1"
    assert show(repo, branch, "pkg/mod.py") == MOD_NEW.encode()
    assert show(repo, branch, "pkg/util.py") == UTIL_NEW.encode()
    assert show(repo, branch, "pkg/version.py") == NEW.encode()
    assert "old.py" not in git(repo, "ls-tree", "-r", "--name-only", branch).split()
    assert git(repo, "diff", "--name-only", base, branch).split() == ["old.py", "pkg/mod.py", "pkg/util.py",
                                                                       "pkg/version.py"]
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert message.startswith("Type greet and add a version module\n")
    assert "- pkg/util.py (modify): Also print shout('world')." in message
    assert f"Diffcrew-Run: {report['run_id']}" in message
    assert snapshot(repo) == before
    assert [f["status"] for f in report["files"]] == ["ok"] * 4
    assert report["usage"]["worker"]["calls"] == 3 and report["usage"]["orchestrator"]["calls"] == 1
    transcript = Path(report["transcript"])
    assert transcript.is_relative_to(repo / ".git")
    roles = [json.loads(line).get("role") for line in transcript.read_text().splitlines()]
    assert roles.count("worker") == 3 and roles.count("synthesizer") == 1


def test_dirty_tree_index_head_and_stash_stay_byte_identical(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    (repo / "README.md").write_text("# stashed edit\n")
    git(repo, "stash", "-q")
    (repo / "pkg/mod.py").write_text(MOD + "# uncommitted work\n")
    (repo / "pkg/util.py").write_text(UTIL + "# staged work\n")
    git(repo, "add", "pkg/util.py")
    (repo / "scratch.txt").write_text("untracked\n")
    seam.set_script(four_file_script())
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    assert "uncommitted changes are not included" in result.stderr and "pkg/mod.py" in result.stderr
    assert snapshot(repo) == before
    branch = diffcrew_branches(repo)[0]
    assert show(repo, branch, "pkg/mod.py") == MOD_NEW.encode()  # built from the base commit, not the tree
    # run from another directory (--repo): the review command names the repository, so it works from here
    assert f"git -C {repo} diff {before['head_commit'].strip()[:12]}...{branch}" in result.stdout


def test_patch_that_does_not_apply_is_repaired_with_the_engine_error(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    bad = udiff("pkg/mod.py", MOD, MOD_NEW).replace("-def greet(name):", "-def greet(nme):")
    script = four_file_script()
    script["worker:pkg/mod.py"] = [patch_turn(bad), patch_turn(udiff("pkg/mod.py", MOD, MOD_NEW))]
    seam.set_script(script)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {f["path"]: f["attempts"] for f in report["files"]}["pkg/mod.py"] == 2
    second = [r for r in seam.requests if r.key == "worker:pkg/mod.py"][1].body
    feedback = second["messages"][-1]["content"][0]
    assert feedback["type"] == "tool_result" and feedback["is_error"] is True
    assert "hunk 1" in feedback["content"].lower()
    assert show(repo, report["branch"], "pkg/mod.py") == MOD_NEW.encode()


def test_worker_that_never_succeeds_fails_the_run_without_a_branch(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    bad = udiff("pkg/mod.py", MOD, MOD_NEW).replace("-def greet(name):", "-def greet(nme):")
    script = four_file_script()
    script["worker:pkg/mod.py"] = [patch_turn(bad)] * 3
    seam.set_script(script)
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "type the greeting"], seam)
    assert result.exit_code == 1
    assert "pkg/mod.py" in result.stderr and "no branch was made" in result.stderr
    assert len([r for r in seam.requests if r.key == "worker:pkg/mod.py"]) == 3  # 1 + 2 repair rounds
    assert diffcrew_branches(repo) == []
    assert snapshot(repo) == before


def test_allow_partial_commits_the_rest_and_exits_4(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    script = four_file_script()
    script["worker:pkg/mod.py"] = [{"text": "I would rather not."}] * 3
    seam.set_script(script)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--allow-partial", "type the greeting"], seam)
    assert result.exit_code == 4, result.output
    branch = diffcrew_branches(repo)[0]
    assert show(repo, branch, "pkg/mod.py") == MOD.encode()
    assert show(repo, branch, "pkg/util.py") == UTIL_NEW.encode()
    assert "Left out (--allow-partial)" in git(repo, "log", "-1", "--format=%B", branch)


def test_invalid_plan_is_rejected_and_asked_again(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    script = four_file_script()
    bad_plan = plan_turn("Edit outside.", [("../outside.py", "modify", "x"), ("pkg/nope.py", "modify", "y")])
    script["orchestrator"] = [bad_plan, script["orchestrator"][0]]
    seam.set_script(script)
    result = run_cli(["run", "--repo", str(repo), "--yes", "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    asks = [r for r in seam.requests if r.key == "orchestrator"]
    assert len(asks) == 2
    feedback = asks[1].body["messages"][-1]["content"][0]
    assert feedback["is_error"] is True
    assert "../outside.py" in feedback["content"] and "pkg/nope.py: no such file" in feedback["content"]
    assert not (tmp_path / "outside.py").exists()


def test_plan_invalid_twice_fails_clean(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script({"orchestrator": [plan_turn("x", [(".git/config", "modify", "x")])] * 2})
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "do it"], seam)
    assert result.exit_code == 1
    assert "plan was still invalid" in result.stderr and ".git" in result.stderr
    assert snapshot(repo) == before and diffcrew_branches(repo) == []


def doubling_repo(root: Path, count: int, server) -> Path:
    """A repo of `count` one-line modules, and a script that doubles the value in each."""
    files = {f"m{i}.py": f"value = {i}\n" for i in range(count)}
    script = {"orchestrator": [plan_turn("Double all values.", [(p, "modify", "double it") for p in files])],
              "synthesizer": [summary_turn()]}
    for path, text in files.items():
        script[f"worker:{path}"] = [patch_turn(udiff(path, text, text.replace("value = ", "value = 2 * ")))]
    server.set_script(script)
    return make_repo(root, files)


@pytest.mark.slow
def test_workers_run_concurrently(tmp_path: Path, server) -> None:
    repo = doubling_repo(tmp_path / "repo", 5, server)
    server.latency = 0.4
    gather_workers(server, 5, 5)
    result = run_cli(["run", "--repo", str(repo), "--yes", "double"], server)
    assert result.exit_code == 0, result.output
    assert server.peak_in_flight == 5
    workers = [r for r in server.requests if r.key and r.key.startswith("worker:")]
    assert len(workers) == 5 and all(r.stream for r in workers)
    # one cached prefix for all: system prompt, then repository context + request + plan
    prefixes = {json.dumps([r.body["system"], r.body["messages"][0]["content"][0]]) for r in workers}
    assert len(prefixes) == 1
    shared = workers[0].body["messages"][0]["content"][0]
    assert shared["cache_control"] == {"type": "ephemeral"} and "# Repository" in shared["text"]
    assert "File: " not in shared["text"] and "- m3.py" in shared["text"]


@pytest.mark.slow
def test_max_workers_bounds_concurrency(tmp_path: Path, server) -> None:
    repo = doubling_repo(tmp_path / "repo", 4, server)
    server.latency = 0.2
    gather_workers(server, 2, 4)  # two at once when they may: a peak of 2, never 3
    result = run_cli(["run", "--repo", str(repo), "--yes", "--max-workers", "2", "double"], server)
    assert result.exit_code == 0, result.output
    assert server.peak_in_flight == 2


def test_dry_run_prints_one_applicable_diff_and_makes_no_branch(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(four_file_script())
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--dry-run", "type the greeting"], server)
    assert result.exit_code == 0, result.output
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before
    assert "Plan:" in result.stderr and "dry run, no branch made" in result.stderr
    assert result.stdout.count("diff --git") == 4
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "apply", "--index", input=result.stdout.encode())
    assert (clone / "pkg/mod.py").read_text() == MOD_NEW and not (clone / "old.py").exists()
    assert not [r for r in server.requests if r.key == "synthesizer"]


def test_dry_run_json_report_has_plan_files_and_diff(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--dry-run", "--json", "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "dry-run" and report["branch"] is None and report["commit"] is None
    assert [e["path"] for e in report["plan"]["edits"]] == ["pkg/mod.py", "pkg/util.py", "pkg/version.py", "old.py"]
    assert "+def greet(name: str) -> str:" in report["diff"]
    planner = report["usage"]["orchestrator"]  # input as the API bills it: plain, cache writes, cache reads
    assert report["cost_usd"] > 0 and planner["input_tokens"] + planner["cache_write_tokens"] > 0


def test_request_from_stdin_and_from_file(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", "-"], seam, input="type the greeting\n")
    assert result.exit_code == 0, result.output
    assert "type the greeting" in first_text(seam.requests[0].body)
    request_file = tmp_path / "request.txt"
    request_file.write_text("from a file please\n")
    result = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", "-F", str(request_file)], seam)
    assert result.exit_code == 0, result.output
    assert "from a file please" in first_text(seam.requests[-4].body)


def test_default_branch_name_is_a_slug_and_never_overwrites(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(four_file_script())
    first = run_cli(["run", "--repo", str(repo), "--yes", "Type the greeting!"], seam)
    assert first.exit_code == 0, first.output
    (name,) = diffcrew_branches(repo)
    assert name.startswith("diffcrew/type-the-greeting-")
    git(repo, "branch", "mine")
    taken = run_cli(["run", "--repo", str(repo), "--yes", "--branch", "mine", "again"], seam)
    assert taken.exit_code == 2 and "already exists" in taken.stderr
