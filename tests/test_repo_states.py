"""Repository states a user may run diffcrew in: each one either works from the base commit or is refused
clearly, and in every case the user's working tree, index, HEAD, refs, stash (and any merge, rebase or
shallow state) come out byte-identical.

The model is the fake API at the model seam (`seam`, tests/fakes/seam.py: no SDK, no HTTP, the same
rules as the fake server); the CLI runs in-process via run_cli.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import (IDENTITY, diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, snapshot,
                      summary_turn, udiff)

OLD = "def area(w, h):\n    return w * h\n"
NEW = "def area(w: float, h: float) -> float:\n    return w * h\n"
PLAN = plan_turn("Type area.", [("geo.py", "modify", "Add float type hints to area.")])
PATCH = patch_turn(udiff("geo.py", OLD, NEW))


def script(orchestrator: list[dict[str, Any]] | None = None, **workers: list[dict[str, Any]]) -> dict[str, Any]:
    turns: dict[str, Any] = {"orchestrator": orchestrator or [PLAN], "synthesizer": [summary_turn("Type area")]}
    turns["worker:geo.py"] = [PATCH]
    for key, value in workers.items():
        turns[f"worker:{key.replace('__', '.')}"] = value
    return turns


def run(repo: Path, seam, turns: dict[str, Any], *args: str, request: str = "type the area function"):
    seam.set_script(turns)
    return run_cli(["run", "--repo", str(repo), "--yes", "--json", *args, request], seam)


def report_of(result) -> dict[str, Any]:
    return json.loads(result.stdout)


def only_branch(repo: Path) -> str:
    (branch,) = diffcrew_branches(repo)
    return branch


def parent_of(repo: Path, branch: str) -> str:
    return git(repo, "rev-parse", f"{branch}^").strip()


def bodies(seam) -> str:
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in seam.requests)


def tree_hash(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def git_env(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=check, env={**os.environ, **IDENTITY})


# --- the repository itself -------------------------------------------------------------------------------

def test_empty_repository_is_refused_with_a_clear_message(tmp_path: Path, seam) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "draft.py").write_text("x = 1\n")
    head, status = (repo / ".git" / "HEAD").read_text(), git(repo, "status", "--porcelain")
    result = run(repo, seam, script())
    assert result.exit_code == 2
    assert "no commits yet" in result.stderr
    assert seam.requests == []
    assert (repo / ".git" / "HEAD").read_text() == head and git(repo, "status", "--porcelain") == status
    assert git(repo, "for-each-ref") == "" and (repo / "draft.py").read_text() == "x = 1\n"


def test_detached_head_is_the_base_and_stays_detached(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "other.txt").write_text("later\n")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-q", "-m", "later")
    git(repo, "checkout", "-q", "--detach", first)
    before = snapshot(repo)
    result = run(repo, seam, script())
    assert result.exit_code == 0, result.output
    branch = only_branch(repo)
    assert parent_of(repo, branch) == first and report_of(result)["base"] == first
    assert git(repo, "show", f"{branch}:geo.py") == NEW
    assert snapshot(repo) == before and (repo / ".git" / "HEAD").read_text().strip() == first


def test_dirty_tree_and_index_are_left_alone_and_not_included(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD, "notes.txt": "a\n"})
    (repo / "geo.py").write_text(OLD + "# my uncommitted edit\n")
    (repo / "notes.txt").write_text("a\nstaged\n")
    git(repo, "add", "notes.txt")
    (repo / "untracked.txt").write_text("mine\n")
    git(repo, "stash", "list")
    before = snapshot(repo)
    result = run(repo, seam, script())
    assert result.exit_code == 0, result.output
    report = report_of(result)
    assert any("uncommitted" in w and "geo.py" in w for w in report["warnings"])
    branch = only_branch(repo)
    assert git(repo, "show", f"{branch}:geo.py") == NEW  # the base commit's text, patched
    assert git(repo, "show", f"{branch}:notes.txt") == "a\n"
    assert snapshot(repo) == before


def _conflicting_branches(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD, "shape.txt": "square\n"})
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "shape.txt").write_text("circle\n")
    git(repo, "commit", "-q", "-am", "circle")
    git(repo, "checkout", "-q", "main")
    (repo / "shape.txt").write_text("triangle\n")
    git(repo, "commit", "-q", "-am", "triangle")
    return repo


def test_mid_merge_with_conflicts_is_untouched(tmp_path: Path, seam) -> None:
    repo = _conflicting_branches(tmp_path)
    assert git_env(repo, "merge", "other", check=False).returncode != 0
    assert (repo / ".git" / "MERGE_HEAD").exists()
    head = git(repo, "rev-parse", "HEAD").strip()
    before, merge_state = snapshot(repo), {n: (repo / ".git" / n).read_bytes()
                                           for n in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE")}
    result = run(repo, seam, script())
    assert result.exit_code == 0, result.output
    branch = only_branch(repo)
    assert parent_of(repo, branch) == head and git(repo, "show", f"{branch}:shape.txt") == "triangle\n"
    assert snapshot(repo) == before
    assert {n: (repo / ".git" / n).read_bytes() for n in merge_state} == merge_state
    assert "UU shape.txt" in git(repo, "status", "--porcelain")


def test_mid_rebase_is_untouched(tmp_path: Path, seam) -> None:
    repo = _conflicting_branches(tmp_path)
    assert git_env(repo, "rebase", "other", check=False).returncode != 0
    state = repo / ".git" / "rebase-merge"
    assert state.is_dir()
    head = git(repo, "rev-parse", "HEAD").strip()
    before, rebase_state = snapshot(repo), tree_hash(state)
    result = run(repo, seam, script())
    assert result.exit_code == 0, result.output
    branch = only_branch(repo)
    assert parent_of(repo, branch) == head
    assert snapshot(repo) == before and tree_hash(state) == rebase_state
    git(repo, "rebase", "--abort")  # the user can still finish (here: abort) their rebase
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_shallow_clone_works_and_stays_shallow(tmp_path: Path, seam) -> None:
    source = make_repo(tmp_path / "source", {"geo.py": OLD})
    for n in range(3):
        (source / "log.txt").write_text(f"{n}\n")
        git(source, "add", "log.txt")
        git(source, "commit", "-q", "-m", f"commit {n}")
    repo = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{source}", str(repo))
    assert git(repo, "rev-parse", "--is-shallow-repository").strip() == "true"
    shallow = (repo / ".git" / "shallow").read_bytes()
    before = snapshot(repo)
    result = run(repo, seam, script())
    assert result.exit_code == 0, result.output
    branch = only_branch(repo)
    assert parent_of(repo, branch) == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "show", f"{branch}:geo.py") == NEW
    assert snapshot(repo) == before and (repo / ".git" / "shallow").read_bytes() == shallow


def _with_submodule(tmp_path: Path) -> Path:
    lib = make_repo(tmp_path / "lib", {"lib.py": "VALUE = 1\n"})
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendored")
    git(repo, "commit", "-q", "-m", "add submodule")
    return repo


def test_a_change_next_to_a_submodule_keeps_it(tmp_path: Path, seam) -> None:
    repo = _with_submodule(tmp_path)
    gitlink = git(repo, "rev-parse", "HEAD:vendored").strip()
    before, inside = snapshot(repo), tree_hash(repo / "vendored")
    bad = plan_turn("Bump it.", [("vendored", "modify", "Change the submodule."), ("geo.py", "modify", "Hints.")])
    result = run(repo, seam, script(orchestrator=[bad, PLAN]))
    assert result.exit_code == 0, result.output
    re_ask = [r for r in seam.requests if r.key == "orchestrator"][1].body["messages"][-1]["content"][0]
    assert re_ask["is_error"] is True and "vendored" in re_ask["content"]
    branch = only_branch(repo)
    assert git(repo, "rev-parse", f"{branch}:vendored").strip() == gitlink
    assert git(repo, "show", f"{branch}:geo.py") == NEW
    assert snapshot(repo) == before and tree_hash(repo / "vendored") == inside


def test_plan_that_insists_on_a_submodule_fails_clean(tmp_path: Path, seam) -> None:
    repo = _with_submodule(tmp_path)
    before = snapshot(repo)
    bad = plan_turn("Bump it.", [("vendored", "modify", "Change the submodule.")])
    result = run(repo, seam, script(orchestrator=[bad, bad]))
    assert result.exit_code == 1
    assert "vendored" in report_of(result)["errors"][0]
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


SUBMODULE_BUG = ("BUG: GitRepo.ls_tree (tools/git.py) keeps only blobs, so a submodule (gitlink, mode 160000) "
                 "is invisible to plan_problems (agent/planrules.py): it is reported as 'no such file ... use "
                 "create', and a planned create at or under it passes")


def test_the_re_ask_says_the_path_is_a_submodule(tmp_path: Path, seam) -> None:
    repo = _with_submodule(tmp_path)
    bad = plan_turn("Bump it.", [("vendored", "modify", "Change the submodule.")])
    result = run(repo, seam, script(orchestrator=[bad, PLAN]))
    assert result.exit_code == 0, result.output
    re_ask = [r for r in seam.requests if r.key == "orchestrator"][1].body["messages"][-1]["content"][0]
    assert "submodule" in re_ask["content"] and "use create" not in re_ask["content"]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["vendored", "vendored/new.py"])
def test_a_plan_cannot_create_over_a_submodule(tmp_path: Path, seam, path: str) -> None:
    repo = _with_submodule(tmp_path)
    before = snapshot(repo)
    plan = plan_turn("Add it.", [(path, "create", "Create it.")])
    worker = {path.replace(".", "__"): [patch_turn(udiff(path, None, "X = 1\n"))]}
    try:
        result = run(repo, seam, script(orchestrator=[plan, plan], **worker))
    except IsADirectoryError as exc:  # today: an uncaught traceback from the sandbox (Workspace._put)
        pytest.fail(f"crashed: {exc!r}")
    assert result.exit_code == 1 and "vendored" in report_of(result)["errors"][0]
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


def _linked_snapshot(worktree: Path) -> dict[str, Any]:
    gitdir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    files = {str(p.relative_to(worktree)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(worktree.rglob("*")) if p.is_file() and p.name != ".git"}
    return {"tree": files, "HEAD": (gitdir / "HEAD").read_text(), "index": (gitdir / "index").read_bytes(),
            "status": git(worktree, "status", "--porcelain"), "stash": git(worktree, "stash", "list")}


def test_a_linked_worktree_is_a_repository_like_any_other(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(linked))
    (linked / "feature.txt").write_text("feature work\n")
    git(linked, "add", "feature.txt")
    git(linked, "commit", "-q", "-m", "feature work")
    (linked / "geo.py").write_text(OLD + "# uncommitted in the linked worktree\n")
    feature = git(linked, "rev-parse", "HEAD").strip()
    main_before, linked_before = snapshot(repo), _linked_snapshot(linked)
    worktrees = git(repo, "worktree", "list", "--porcelain")
    result = run(linked, seam, script())
    assert result.exit_code == 0, result.output
    branch = only_branch(repo)
    assert parent_of(repo, branch) == feature and git(repo, "show", f"{branch}:feature.txt") == "feature work\n"
    assert git(repo, "show", f"{branch}:geo.py") == NEW
    assert snapshot(repo) == main_before and _linked_snapshot(linked) == linked_before
    assert git(repo, "worktree", "list", "--porcelain") == worktrees  # the user's worktree is still registered
    assert Path(report_of(result)["transcript"]).is_relative_to(repo / ".git" / "diffcrew")


# --- file contents -------------------------------------------------------------------------------------

CRLF_OLD = "first = 1\r\nsecond = 2\r\nthird = 3\r\n"
CRLF_NEW = "first = 1\r\nsecond = 22\r\nthird = 3\r\n"


@pytest.mark.slow
@pytest.mark.parametrize("patch", [udiff("conf.py", CRLF_OLD, CRLF_NEW),
                                   udiff("conf.py", CRLF_OLD.replace("\r", ""), CRLF_NEW.replace("\r", ""))],
                         ids=["patch-with-crlf", "patch-with-lf"])
def test_a_crlf_file_keeps_its_crlf_line_endings(tmp_path: Path, seam, patch: str) -> None:
    repo = make_repo(tmp_path / "repo", {"conf.py": CRLF_OLD, "geo.py": OLD})
    before = snapshot(repo)
    plan = plan_turn("Change second.", [("conf.py", "modify", "Set second to 22.")])
    result = run(repo, seam, script(orchestrator=[plan], conf__py=[patch_turn(patch)]), request="set second to 22")
    assert result.exit_code == 0, result.output
    blob = subprocess.run(["git", "show", f"{only_branch(repo)}:conf.py"], cwd=repo, capture_output=True,
                          check=True).stdout
    assert blob == CRLF_NEW.encode()
    assert snapshot(repo) == before


LATIN1 = "caf\u00e9 = 'cr\u00e8me br\u00fbl\u00e9e'\n".encode("latin-1")


def test_a_latin1_file_is_refused_for_editing_never_corrupted(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"legacy.py": LATIN1, "geo.py": OLD})
    before = snapshot(repo)
    bad = plan_turn("Rename.", [("legacy.py", "modify", "Rename the variable.")])
    result = run(repo, seam, script(orchestrator=[bad, bad]))
    assert result.exit_code == 1
    error = report_of(result)["errors"][0]
    assert "legacy.py" in error and "UTF-8" in error
    assert not [r for r in seam.requests if (r.key or "").startswith("worker:")]
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before
    assert (repo / "legacy.py").read_bytes() == LATIN1


def test_a_latin1_file_next_to_the_change_is_carried_byte_for_byte(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"legacy.py": LATIN1, "geo.py": OLD})
    bad = plan_turn("Both.", [("legacy.py", "modify", "Rename."), ("geo.py", "modify", "Hints.")])
    result = run(repo, seam, script(orchestrator=[bad, PLAN]))
    assert result.exit_code == 0, result.output
    blob = subprocess.run(["git", "show", f"{only_branch(repo)}:legacy.py"], cwd=repo, capture_output=True,
                          check=True).stdout
    assert blob == LATIN1


BINARY = b"\x89PNG\r\n\x1a\n\x00\x00BINARY-CONTENT-MARKER\x00\xff\xfe" + bytes(range(256)) * 4


def test_a_binary_file_is_never_sent_and_cannot_be_planned(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"logo.png": BINARY, "blob.dat": BINARY[::-1] + b"BINARY-CONTENT-MARKER",
                                         "geo.py": OLD})
    before = snapshot(repo)
    explore = {"content": [
        {"type": "tool_use", "id": "toolu_read", "name": "read_file", "input": {"path": "logo.png"}},
        {"type": "tool_use", "id": "toolu_grep", "name": "search_code", "input": {"pattern": "BINARY-CONTENT"}}],
        "stop_reason": "tool_use"}
    bad = plan_turn("Edit the logo.", [("logo.png", "modify", "Change a byte."), ("blob.dat", "delete", "Drop.")])
    bad_create = plan_turn("Edit the logo.", [("logo.png", "modify", "Change a byte.")])
    result = run(repo, seam, script(orchestrator=[explore, bad, bad_create]), "--plan-turns", "3")
    assert result.exit_code == 1
    assert "logo.png" in report_of(result)["errors"][0]
    assert "BINARY-CONTENT-MARKER" not in bodies(seam)
    assert not [r for r in seam.requests if (r.key or "").startswith("worker:")]
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


def test_a_binary_file_survives_a_change_next_to_it(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"logo.png": BINARY, "geo.py": OLD})
    result = run(repo, seam, script())
    assert result.exit_code == 0, result.output
    assert "BINARY-CONTENT-MARKER" not in bodies(seam)
    branch = only_branch(repo)
    assert git(repo, "rev-parse", f"{branch}:logo.png") == git(repo, "rev-parse", "HEAD:logo.png")


BIG = "".join(f"VALUE_{n} = {n}\n" for n in range(400))  # ~5.6 KB


def test_a_file_over_max_file_bytes_is_refused_with_a_clear_message(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"big.py": BIG, "geo.py": OLD})
    before = snapshot(repo)
    bad = plan_turn("Edit big.", [("big.py", "modify", "Add a value.")])
    result = run(repo, seam, script(orchestrator=[bad, bad]), "--max-file-bytes", "4096")
    assert result.exit_code == 1
    error = report_of(result)["errors"][0]
    assert "big.py" in error and "too large" in error and "4,096" in error
    assert not [r for r in seam.requests if (r.key or "").startswith("worker:")]
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


HUGE = "".join(f"ROW_{n:06d} = '{'x' * 40}'\n" for n in range(6000))  # ~340 KB of plain UTF-8


def test_raising_max_file_bytes_makes_a_large_file_editable(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"huge.py": HUGE, "geo.py": OLD})
    new = HUGE.replace("ROW_000001 = ", "ROW_000001: str = ", 1)
    plan = plan_turn("Type one row.", [("huge.py", "modify", "Annotate ROW_000001.")])
    result = run(repo, seam, script(orchestrator=[plan, plan], huge__py=[patch_turn(udiff("huge.py", HUGE, new))]),
                 "--max-file-bytes", "2000000")
    assert result.exit_code == 0, result.stdout
    assert git(repo, "show", f"{only_branch(repo)}:huge.py") == new


def test_a_large_utf8_file_is_refused_for_its_size_not_its_encoding(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"huge.py": HUGE, "geo.py": OLD})
    bad = plan_turn("Type one row.", [("huge.py", "modify", "Annotate ROW_000001.")])
    result = run(repo, seam, script(orchestrator=[bad, bad]))
    assert result.exit_code == 1
    error = report_of(result)["errors"][0]
    assert "huge.py" in error and "UTF-8" not in error and "large" in error


# --- hooks and names -------------------------------------------------------------------------------------

HOOKS = ["pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-checkout", "pre-push",
         "post-rewrite", "pre-auto-gc"]
BUGGY_HOOKS = {
    "reference-transaction": "BUG: create_branch's `git update-ref` (tools/git.py) runs the user's "
                             "reference-transaction hook; a failing one aborts the run (exit 1)",
    "post-index-change": "BUG: build_tree's read-tree/update-index/write-tree on the throwaway index "
                         "(tools/git.py) run the user's post-index-change hook",
}


@pytest.mark.slow
@pytest.mark.parametrize("hook", HOOKS + list(BUGGY_HOOKS))
def test_a_users_failing_hook_is_not_run(tmp_path: Path, seam, hook: str) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    marker = tmp_path / "hook-ran"
    path = repo / ".git" / "hooks" / hook
    path.write_text(f"#!/bin/sh\necho \"$0 $*\" >> '{marker}'\nexit 1\n")
    path.chmod(0o755)
    before = snapshot(repo)
    result = run(repo, seam, script(), "--check", "true")
    assert result.exit_code == 0, result.output
    assert not marker.exists(), marker.read_text()
    assert git(repo, "show", f"{only_branch(repo)}:geo.py") == NEW
    assert snapshot(repo) == before


def test_hooks_under_core_hookspath_are_not_run(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    hooks, marker = tmp_path / "my-hooks", tmp_path / "hook-ran"
    hooks.mkdir()
    for name in ("pre-commit", "commit-msg", "post-commit", "post-checkout"):
        (hooks / name).write_text(f"#!/bin/sh\necho {name} >> '{marker}'\nexit 1\n")
        (hooks / name).chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    result = run(repo, seam, script(), "--check", "true")
    assert result.exit_code == 0, result.output
    assert not marker.exists()


@pytest.mark.parametrize("name", ["feature/x", "main"])
def test_an_existing_branch_name_is_a_usage_error_and_nothing_changes(tmp_path: Path, seam, name: str) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    git(repo, "branch", "feature/x")
    before = snapshot(repo)
    result = run(repo, seam, script(), "--branch", name)
    assert result.exit_code == 2
    assert "already exists" in result.stderr and name in result.stderr
    assert seam.requests == []  # refused before any model call
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
