"""The pre-commit hook: `diffcrew fix FILES...` applies the standing request to staged files, in place.

The hook's entry point (the installed `diffcrew` console script) runs in a subprocess in a
temporary repository with staged changes, against the loopback fake Messages API server.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pre_commit.clientlib import load_manifest

from conftest import IDENTITY, git, make_repo, patch_turn, plan_turn, udiff

pytestmark = pytest.mark.slow  # the slow tier: real pre-commit and git hooks in child processes

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
REQUEST = "Give every function a docstring."
COMMITTED = "def area(w, h):\n    return w * h\n"
STAGED = "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"
FIXED = ('def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    """Twice the sum of the sides."""\n'
         "    return 2 * (w + h)\n")
LIB = "def double(x):\n    return 2 * x\n"
LIB_STAGED = "def double(x):\n    return x + x\n"
OTHER = "def other():\n    return 1\n"


def fix_repo(tmp_path: Path, config: str | None = f'fix_request = "{REQUEST}"\n') -> Path:
    """A repository whose geometry.py and lib.py have staged (not committed) changes."""
    files = {"geometry.py": COMMITTED, "lib.py": LIB, "other.py": OTHER}
    if config is not None:
        files[".diffcrew.toml"] = config
    repo = make_repo(tmp_path / "repo", files)
    (repo / "geometry.py").write_text(STAGED)
    (repo / "lib.py").write_text(LIB_STAGED)
    git(repo, "add", "geometry.py", "lib.py")
    return repo


def hook_env(server: Any, **extra: str) -> dict[str, str]:
    """The environment of a hook outside pre-commit: no leftovers of a surrounding git or pre-commit."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PRE_COMMIT", "GIT_INDEX_FILE", "GIT_DIR") and not k.startswith("DIFFCREW_")}
    return {**env, **IDENTITY, **(server.env() if server is not None else {}), **extra}


def fix(repo: Path, *args: str, server: Any = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["diffcrew", "fix", *args], cwd=repo, env=hook_env(server, **env), capture_output=True,
                          text=True, timeout=120)


def state(repo: Path) -> dict[str, Any]:
    """What the hook must never touch: the index (bytes and entries), HEAD, every ref, the stash."""
    return {"index": (repo / ".git" / "index").read_bytes(), "staged": git(repo, "ls-files", "--stage"),
            "HEAD": (repo / ".git" / "HEAD").read_text(), "head": git(repo, "rev-parse", "HEAD"),
            "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
            "stash": git(repo, "stash", "list")}


def text(repo: Path, path: str) -> str:
    return (repo / path).read_text()


def first_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def message_text(content: Any) -> str:
    """The text of a message's content: plain text, or its text and tool_result blocks."""
    return content if isinstance(content, str) else " ".join(str(b.get("content", b.get("text", ""))) for b in content)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("diffcrew: error: ")
    return lines[0]


def test_a_change_is_written_in_place_and_the_hook_fails(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path)
    server.set_script({"orchestrator": [plan_turn("Document perimeter.", [
        ("geometry.py", "modify", "Add a docstring to perimeter.")])],
        "worker:geometry.py": [patch_turn(udiff("geometry.py", STAGED, FIXED))]})
    before = state(repo)
    result = fix(repo, "geometry.py", "lib.py", server=server)
    assert result.returncode == 1, result.stderr
    assert text(repo, "geometry.py") == FIXED
    assert text(repo, "lib.py") == LIB_STAGED and text(repo, "other.py") == OTHER
    assert state(repo) == before  # index, HEAD, refs (so no branch) and stash unchanged
    assert git(repo, "show", ":geometry.py") == STAGED  # the staged blob is still the user's version
    assert git(repo, "status", "--porcelain").splitlines() == ["MM geometry.py", "M  lib.py"]
    assert "changed 1 file(s) in place" in result.stderr and "geometry.py" in result.stderr
    assert "cost $" in result.stderr
    planning = next(r.body for r in server.requests if r.key == "orchestrator")
    assert REQUEST in first_text(planning) and "- geometry.py\n- lib.py" in first_text(planning)
    worker = next(r.body for r in server.requests if r.key == "worker:geometry.py")
    assert "perimeter" in first_text(worker)  # the worker saw the staged content, not HEAD's


def test_a_no_change_answer_exits_0_and_writes_nothing(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path)
    server.set_script({"orchestrator": [plan_turn("Every function already has what it needs.", [])]})
    before = state(repo)
    result = fix(repo, "geometry.py", server=server)
    assert result.returncode == 0, result.stderr
    assert "nothing to change" in result.stderr
    assert text(repo, "geometry.py") == STAGED and state(repo) == before
    assert [r.key for r in server.requests] == ["orchestrator"]


def test_a_worker_patch_that_changes_nothing_exits_0(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path)
    unchanged = "--- a/lib.py\n+++ b/lib.py\n@@ -1,2 +1,2 @@\n def double(x):\n     return x + x\n"
    server.set_script({"orchestrator": [plan_turn("Check lib.", [("lib.py", "modify", "Keep it.")])],
                       "worker:lib.py": [patch_turn(unchanged)]})
    result = fix(repo, "lib.py", server=server)
    assert result.returncode == 0, result.stderr
    assert "nothing to change" in result.stderr and text(repo, "lib.py") == LIB_STAGED


def test_no_standing_request_is_a_one_line_usage_error(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path, config=None)
    before = state(repo)
    result = fix(repo, "geometry.py", server=server)
    assert result.returncode == 2
    assert "no standing request: set fix_request" in one_error_line(result.stderr)
    assert not server.requests and state(repo) == before and text(repo, "geometry.py") == STAGED


def test_the_request_comes_from_the_layers_and_args_win(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path)
    shown = subprocess.run(["diffcrew", "config", "--json"], cwd=repo, env=hook_env(None), capture_output=True,
                           text=True, check=True)
    assert '"fix_request": {\n      "value": "Give every function a docstring.",\n      "source": ".diffcrew.toml"' \
        in shown.stdout
    for args, env, wanted in ((["--request", "Sort the imports."], {"DIFFCREW_FIX_REQUEST": "From env."},
                               "Sort the imports."),
                              ([], {"DIFFCREW_FIX_REQUEST": "From env."}, "From env.")):
        server.set_script({"orchestrator": [plan_turn("Nothing to do.", [])]})
        server.requests.clear()
        result = fix(repo, *args, "lib.py", server=server, **env)
        assert result.returncode == 0, result.stderr
        planning = first_text(server.requests[0].body)
        assert f"# Change request\n\n{wanted}\n\nApply this request only to these files" in planning


def test_unstaged_changes_are_refused_and_nothing_is_written(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path)
    (repo / "geometry.py").write_text(STAGED + "# unstaged work\n")
    server.set_script({"orchestrator": [plan_turn("x", [("geometry.py", "modify", "x")])],
                       "worker:geometry.py": [patch_turn(udiff("geometry.py", STAGED, FIXED))]})
    before = state(repo)
    result = fix(repo, "lib.py", "geometry.py", server=server)
    assert result.returncode == 2
    assert "geometry.py: has unstaged changes" in one_error_line(result.stderr)
    assert text(repo, "geometry.py") == STAGED + "# unstaged work\n" and text(repo, "lib.py") == LIB_STAGED
    assert not server.requests and state(repo) == before


def test_files_that_are_not_staged_are_refused(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path)
    (repo / "new.py").write_text("x = 1\n")
    for name, needle in (("new.py", "new.py: not staged"), ("../outside.py", "not inside the repository")):
        result = fix(repo, "geometry.py", name, server=server)
        assert result.returncode == 2 and needle in one_error_line(result.stderr)
    empty = fix(repo, server=server)
    assert empty.returncode == 2 and "no files" in one_error_line(empty.stderr)
    assert not server.requests and text(repo, "new.py") == "x = 1\n"


def test_a_plan_outside_the_passed_files_is_refused_and_re_asked(tmp_path: Path, server) -> None:
    repo = fix_repo(tmp_path)
    wide = plan_turn("Document everything.", [("geometry.py", "modify", "Docstring."),
                                              ("other.py", "modify", "Docstring.")])
    server.set_script({"orchestrator": [wide, plan_turn("Document perimeter.", [
        ("geometry.py", "modify", "Docstring for perimeter.")])],
        "worker:geometry.py": [patch_turn(udiff("geometry.py", STAGED, FIXED))],
        "worker:other.py": [patch_turn(udiff("other.py", OTHER, '"""Other."""\n' + OTHER))]})
    result = fix(repo, "geometry.py", server=server)
    assert result.returncode == 1, result.stderr
    assert text(repo, "geometry.py") == FIXED and text(repo, "other.py") == OTHER
    assert "worker:other.py" not in [r.key for r in server.requests]
    re_ask = message_text(server.requests[1].body["messages"][-1]["content"])
    assert "other.py: not one of the files this run may change" in re_ask


@pytest.mark.parametrize("edit", [("other.py", "modify", "Docstring."), ("geometry.py", "delete", "Unused.")])
def test_a_planner_that_insists_on_going_further_gets_nothing_applied(tmp_path: Path, server, edit) -> None:
    repo = fix_repo(tmp_path)
    wide = plan_turn("Go further.", [edit])
    server.set_script({"orchestrator": [wide, wide],
                       "worker:other.py": [patch_turn(udiff("other.py", OTHER, '"""Other."""\n' + OTHER))]})
    before = state(repo)
    result = fix(repo, "geometry.py", server=server)
    assert result.returncode == 5  # failed, nothing written: not 1, which says files were changed
    assert "plan was still invalid" in result.stderr and "nothing was written" in result.stderr
    why = "not one of the files this run may change" if edit[1] == "modify" else "this run may only modify"
    assert f"{edit[0]}: {why}" in result.stderr
    assert text(repo, "other.py") == OTHER and text(repo, "geometry.py") == STAGED and state(repo) == before
    assert [r.key for r in server.requests] == ["orchestrator", "orchestrator"]


def test_the_manifest_is_valid_and_its_entry_is_the_installed_command() -> None:
    hooks = load_manifest(str(MANIFEST))
    hook = next(h for h in hooks if h["id"] == "diffcrew-fix")
    assert hook["language"] == "python" and hook["pass_filenames"] and hook["require_serial"]
    assert "pre-commit" in hook["stages"] and hook["types"] == ["text"]
    command, *args = shlex.split(hook["entry"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command in scripts and args == ["fix"]
    installed = importlib.metadata.entry_points(group="console_scripts", name=command)
    assert [e.value for e in installed] == [scripts[command]]
    assert shutil.which(command) is not None
    shown = subprocess.run([command, *args, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "staged" in shown.stdout


def test_git_commit_runs_the_hook_through_pre_commit(tmp_path: Path, server) -> None:
    """The manifest's hook, as a local hook, under a real `git commit` with unstaged work elsewhere."""
    manifest = next(h for h in yaml.safe_load(MANIFEST.read_text()) if h["id"] == "diffcrew-fix")
    local = {k: manifest[k] for k in ("id", "name", "entry", "types", "pass_filenames", "require_serial")}
    config = yaml.safe_dump({"repos": [{"repo": "local", "hooks": [{**local, "language": "system"}]}]})
    repo = make_repo(tmp_path / "repo", {"geometry.py": COMMITTED, "lib.py": LIB, ".pre-commit-config.yaml": config,
                                         ".diffcrew.toml": f'fix_request = "{REQUEST}"\n'})
    env = hook_env(server, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    subprocess.run(["pre-commit", "install"], cwd=repo, env=env, check=True, capture_output=True, timeout=60)
    (repo / "geometry.py").write_text(STAGED)
    git(repo, "add", "geometry.py")
    (repo / "lib.py").write_text(LIB_STAGED)  # unstaged: pre-commit stashes it while hooks run
    server.set_script({"orchestrator": [plan_turn("Document perimeter.", [("geometry.py", "modify", "Docstring.")])],
                       "worker:geometry.py": [patch_turn(udiff("geometry.py", STAGED, FIXED))]})
    head = git(repo, "rev-parse", "HEAD")
    first = subprocess.run(["git", "commit", "-m", "add perimeter"], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=120)
    output = first.stdout + first.stderr
    assert first.returncode != 0 and "files were modified by this hook" in output, output
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "show", ":geometry.py") == STAGED
    assert text(repo, "geometry.py") == FIXED and text(repo, "lib.py") == LIB_STAGED
    git(repo, "add", "geometry.py")
    server.set_script({"orchestrator": [plan_turn("Already documented.", [])]})
    second = subprocess.run(["git", "commit", "-m", "add perimeter"], cwd=repo, env=env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert git(repo, "show", "HEAD:geometry.py") == FIXED and text(repo, "lib.py") == LIB_STAGED
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").split() == ["refs/heads/main"]


def test_inside_pre_commit_an_earlier_hooks_edit_is_the_base(tmp_path: Path, server) -> None:
    """Under pre-commit (PRE_COMMIT=1) unstaged work is stashed, so a difference is an earlier hook's fix."""
    repo = fix_repo(tmp_path)
    formatted, unit = STAGED + "\n\nUNIT = 'cm'\n", "\n\nUNIT = 'cm'\n"
    (repo / "geometry.py").write_text(formatted)
    server.set_script({"orchestrator": [plan_turn("Document perimeter.", [("geometry.py", "modify", "Docstring.")])],
                       "worker:geometry.py": [patch_turn(udiff("geometry.py", formatted, FIXED + unit))]})
    before = state(repo)
    result = fix(repo, "geometry.py", server=server, PRE_COMMIT="1")
    assert result.returncode == 1, result.stderr
    assert text(repo, "geometry.py") == FIXED + unit and state(repo) == before
    worker = next(r.body for r in server.requests if r.key == "worker:geometry.py")
    assert "UNIT = 'cm'" in first_text(worker)


def test_the_first_commit_of_a_repository_can_be_fixed(tmp_path: Path, server) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "geometry.py").write_text(STAGED)
    git(repo, "add", "geometry.py")
    server.set_script({"orchestrator": [plan_turn("Document perimeter.", [("geometry.py", "modify", "Docstring.")])],
                       "worker:geometry.py": [patch_turn(udiff("geometry.py", STAGED, FIXED))]})
    index = (repo / ".git" / "index").read_bytes()
    result = fix(repo, "--request", REQUEST, "geometry.py", server=server)
    assert result.returncode == 1, result.stderr
    assert text(repo, "geometry.py") == FIXED and (repo / ".git" / "index").read_bytes() == index
    assert git(repo, "for-each-ref").strip() == ""  # still no commit on any branch, and no branch made
