"""Model-named paths (issue 13, items 1, 4, 7, 11): attacks through the real CLI against the strict fake."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from conftest import diffcrew_branches, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn, udiff

from diffcrew.tools.paths import option_problem, path_problem

FILES = {"app.py": "print('hi')\n", "notes.txt": "notes\n", "sub/keep.py": "X = 1\n"}


def script(orchestrator: list[dict], worker: dict[str, list[dict]] | None = None) -> dict:
    return {"orchestrator": orchestrator, **{f"worker:{p}": t for p, t in (worker or {}).items()},
            "synthesizer": [summary_turn()]}


def refused_plan(tmp_path: Path, seam, edits: list[tuple[str, str, str]], *args: str):
    """A plan the model sends twice (the first answer is re-asked once); the run must end clean."""
    repo = make_repo(tmp_path / "repo", FILES)
    plan = plan_turn("Do it.", edits)
    seam.set_script(script([plan, plan]))
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", *args, "change it"], seam)
    assert result.exit_code == 1, result.output
    assert "still invalid after one re-ask" in result.stderr
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
    return result


def test_a_nul_in_a_plan_path_cannot_add_tree_entries(tmp_path: Path, seam) -> None:
    evil = "notes.txt\x00100755 " + "0" * 40 + "\t.github/workflows/evil.yml"
    result = refused_plan(tmp_path, seam, [(evil, "create", "Add the notes.")], "--dry-run")
    assert "control character" in result.stderr and "evil.yml" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("path", ["notes\nSigned-off-by: Mallory <m@x>.txt", "tab\there.txt", "esc\x1b[2J.txt"])
def test_control_characters_in_plan_paths_are_refused(tmp_path: Path, seam, path: str) -> None:
    result = refused_plan(tmp_path, seam, [(path, "create", "Add it.")], "--dry-run")
    assert "control character" in result.stderr


def test_an_option_shaped_plan_path_is_refused(tmp_path: Path, seam) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n")
    path = f"--basetemp={victim}/x.py"
    check = f"{shlex.quote(sys.executable)} -c 'import sys; print(sys.argv)' {{files}}"
    result = refused_plan(tmp_path, seam, [(path, "create", "Add a module.")], "--check", check)
    assert "starts with '-'" in result.stderr
    assert (victim / "precious.txt").read_text() == "keep me\n"


@pytest.mark.slow
@pytest.mark.parametrize("path", ["sub/.git/hooks/post-checkout", "sub/.GIT/config", ".Git/config", "a/.git./x"])
def test_git_directories_at_any_depth_are_refused_in_plans(tmp_path: Path, seam, path: str) -> None:
    result = refused_plan(tmp_path, seam, [(path, "create", "Add a hook.")], "--dry-run")
    assert ".git directory" in result.stderr


def test_a_file_and_a_directory_of_the_same_name_are_refused(tmp_path: Path, seam) -> None:
    edits = [("lib", "create", "A module."), ("lib/util.py", "create", "Helpers.")]
    result = refused_plan(tmp_path, seam, edits, "--dry-run")
    assert "lib: the plan also has lib/util.py under it" in result.stderr


def test_a_300_character_name_is_refused_with_a_reason(tmp_path: Path, seam) -> None:
    result = refused_plan(tmp_path, seam, [("a" * 300 + ".py", "create", "Add it.")])
    assert "longer than 255 bytes" in result.stderr


def test_the_refused_plan_is_reasked_once_and_a_good_one_goes_through(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    bad = plan_turn("Do it.", [("-rf.py", "create", "Add it.")])
    good = plan_turn("Do it.", [("rf.py", "create", "Add it.")])
    seam.set_script(script([bad, good], {"rf.py": [patch_turn(udiff("rf.py", None, "X = 2\n"))]}))
    result = run_cli(["run", "--repo", str(repo), "--yes", "change it"], seam)
    assert result.exit_code == 0, result.output
    asks = [r for r in seam.requests if r.key == "orchestrator"]
    assert "starts with '-'" in str(asks[1].body["messages"][-1]["content"])


@pytest.mark.parametrize("path, problem", [
    ("ok/file.py", None), ("-x", None), ("a\x00b", "control character"), ("a\u0085b", "control character"),
    ("/etc/passwd", "relative"), ("a//b", "empty"), ("a/../b", "'..'"), ("x/.GiT /y", ".git directory"),
    ("é" * 128, "longer than 255 bytes"),
])
def test_path_problem(path: str, problem: str | None) -> None:
    found = path_problem(path)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_option_problem() -> None:
    assert option_problem("a/-b") and option_problem("--x=y/z") and option_problem("a/b-c") is None


def test_build_tree_refuses_a_record_injection(tmp_path: Path) -> None:
    from diffcrew.tools.errors import UsageError
    from diffcrew.tools.git import GitRepo, TreeChange

    repo = GitRepo(make_repo(tmp_path / "repo", FILES))
    base = repo.resolve("HEAD")
    evil = "notes.txt\x00100755 " + "0" * 40 + "\t.github/workflows/evil.yml"
    with pytest.raises(UsageError, match="control character"):
        repo.build_tree(base, [TreeChange(evil, b"x\n")])


@pytest.mark.parametrize("first, second", [("lib", "lib/util.py"), ("Lib", "lib/util.py"), ("a/b", "A/B/c.py")])
def test_nesting_is_refused_in_any_letter_case(first: str, second: str) -> None:
    from diffcrew.agent.planrules import plan_problems
    from diffcrew.agent.types import Plan

    plan = Plan.from_tool_input({"summary": "s", "edits": [
        {"path": p, "action": "create", "instructions": "i"} for p in (first, second)]})
    problems = plan_problems(plan, {}, frozenset())
    assert any(p.startswith(f"{first}: the plan also has {second} under it") for p in problems), problems
