"""Where a plan may write (issue 13, item 8): diffcrew's own config, ignored paths, letter case,
and the protected list narrowed to what runs code or holds CI credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn, udiff

PYPROJECT = '[project]\nname = "demo"\nversion = "1.0"\n\n[tool.diffcrew]\nmax_files = 5\n'
FILES = {"app.py": "print('hi')\n", ".gitignore": ".venv/\nbuild/\n", "pyproject.toml": PYPROJECT,
         ".diffcrew.toml": "max_calls = 50\n", ".github/workflows/ci.yml": "on: push\n"}


def script(orchestrator: list[dict], worker: dict[str, list[dict]] | None = None) -> dict:
    return {"orchestrator": orchestrator, **{f"worker:{p}": t for p, t in (worker or {}).items()},
            "synthesizer": [summary_turn()]}


def run(tmp_path: Path, seam, turns: dict, *args: str):
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(turns)
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", *args, "change it"], seam)
    return result, repo, before


def refused(tmp_path: Path, seam, edit: tuple[str, str, str], needle: str, *args: str) -> None:
    plan = plan_turn("Do it.", [edit])
    result, repo, before = run(tmp_path, seam, script([plan, plan]), *args)
    assert result.exit_code == 1, result.output
    assert needle in result.stderr, result.stderr
    assert snapshot(repo) == before and diffcrew_branches(repo) == []


def test_diffcrew_toml_is_protected(tmp_path: Path, seam) -> None:
    refused(tmp_path, seam, (".diffcrew.toml", "modify", "Add checks = ['sh evil.sh']."), "protected path")


@pytest.mark.slow
@pytest.mark.parametrize("path", [".GITHUB/workflows/x.yml", ".github/Workflows/x.yml", ".Diffcrew.toml",
                                  "sub/.GITMODULES"])
def test_protected_paths_match_in_any_letter_case(tmp_path: Path, seam, path: str) -> None:
    refused(tmp_path, seam, (path, "create", "Add it."), "protected path")


def test_creating_under_an_ignored_directory_is_refused(tmp_path: Path, seam) -> None:
    path = ".venv/lib/python3.12/site-packages/sitecustomize.py"
    refused(tmp_path, seam, (path, "create", "Print a greeting."), "ignored by git")


def test_an_ignored_path_can_be_allowed(tmp_path: Path, seam) -> None:
    path = "build/gen.py"
    plan = plan_turn("Do it.", [(path, "create", "Add it.")])
    turns = script([plan], {path: [patch_turn(udiff(path, None, "X = 1\n"))]})
    result, repo, _ = run(tmp_path, seam, turns, "--allow-path", "build/")
    assert result.exit_code == 0, result.output
    assert git(repo, "show", f"{diffcrew_branches(repo)[0]}:{path}") == "X = 1\n"


def test_gitignore_and_github_docs_are_not_protected(tmp_path: Path, seam) -> None:
    docs = ".github/ISSUE_TEMPLATE/bug.md"
    plan = plan_turn("Docs.", [(".gitignore", "modify", "Ignore dist/."), (docs, "create", "A bug template.")])
    turns = script([plan], {".gitignore": [patch_turn(udiff(".gitignore", FILES[".gitignore"],
                                                             FILES[".gitignore"] + "dist/\n"))],
                            docs: [patch_turn(udiff(docs, None, "# Bug\n"))]})
    result, repo, _ = run(tmp_path, seam, turns)
    assert result.exit_code == 0, result.output
    branch = diffcrew_branches(repo)[0]
    assert sorted(git(repo, "diff", "--name-only", f"{branch}^", branch).split()) == [".github/ISSUE_TEMPLATE/bug.md",
                                                                                      ".gitignore"]


def widened(new: str, *args: str, tmp_path: Path, seam):
    plan = plan_turn("Bump.", [("pyproject.toml", "modify", "Bump the version.")])
    turns = script([plan], {"pyproject.toml": [patch_turn(udiff("pyproject.toml", PYPROJECT, new))]})
    return run(tmp_path, seam, turns, *args)


def test_a_change_to_tool_diffcrew_in_pyproject_is_refused(tmp_path: Path, seam) -> None:
    new = PYPROJECT.replace("version = \"1.0\"", "version = \"1.1\"") + 'allow_paths = ["*"]\nchecks = ["sh x.sh"]\n'
    result, repo, before = widened(new, tmp_path=tmp_path, seam=seam)
    assert result.exit_code == 1, result.output
    assert "pyproject.toml: the change edits [tool.diffcrew]" in result.stderr and "--allow-path" in result.stderr
    assert snapshot(repo) == before and diffcrew_branches(repo) == []


@pytest.mark.slow
def test_other_pyproject_changes_and_allowed_ones_go_through(tmp_path: Path, seam) -> None:
    bump = PYPROJECT.replace("version = \"1.0\"", "version = \"1.1\"")
    result, _, _ = widened(bump, tmp_path=tmp_path, seam=seam)
    assert result.exit_code == 0, result.output
    result, _, _ = widened(bump.replace("max_files = 5", "max_files = 6"), "--allow-path", "pyproject.toml",
                           tmp_path=tmp_path / "again", seam=seam)
    assert result.exit_code == 0, result.output
