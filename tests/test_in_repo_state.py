"""Nothing outside the repository is written: a run's throwaway files (tools/scratch.py) and its
sandboxes (sandbox/workspace.py) live in `<git-common-dir>/diffcrew/`, never in the system temp dir.

The temp directory is watched two ways: it must be empty afterwards, and an audit hook records
every file or folder this process opens or makes in it while the run is under way (a file made
with O_TMPFILE, or removed at the end, leaves no name behind to find afterwards)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import git, make_repo, run_cli, snapshot
from scenarios import FILES, four_file_script

from diffcrew.tools.errors import UsageError
from diffcrew.tools.git import GitRepo, TreeChange
from diffcrew.tools.statedir import sandboxes_dir, scratch_dir

_watched: list[str] = []  # the temp directory under watch, while a test watches it
_touched: list[str] = []  # what this process opened or made in it


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _watched or event not in ("open", "os.mkdir", "os.rename", "os.symlink") or not args:
        return
    if isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path == _watched[0] or path.startswith(_watched[0] + os.sep):
            _touched.append(f"{event} {path}")


sys.addaudithook(_audit)  # audit hooks cannot be removed: this one is idle unless a test watches


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty directory as the system temp directory (TMPDIR, and tempfile's cached choice), watched."""
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    _watched.append(str(temp))
    _touched.clear()
    try:
        yield temp
    finally:
        _watched.clear()


def checkout_state(repo: Path) -> dict[str, Any]:
    """conftest.snapshot for a checkout whose `.git` may be a file (a linked worktree, a submodule)."""
    index = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    return {"tree": {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
                     if p.is_file() and ".git" not in p.relative_to(repo).parts},
            "index": index.read_bytes(), "HEAD": git(repo, "symbolic-ref", "HEAD"),
            "head_commit": git(repo, "rev-parse", "HEAD"), "stash": git(repo, "stash", "list"),
            "status": git(repo, "status", "--porcelain", "--ignored"),
            "refs": [r for r in git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
                     if not r.startswith("refs/heads/diffcrew/")]}


def in_state(common_dir: Path, folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("checks", [[], ["--check", "python -c 'import pkg.util, pkg.version'"]],
                         ids=["syntax-check-only", "with-a-check"])
def test_a_run_writes_nothing_in_the_temp_directory(tmp_path: Path, seam, temp_dir: Path, checks: list[str]) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", *checks, "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    assert _touched == []
    assert list(temp_dir.iterdir()) == []
    assert snapshot(repo) == before  # the user's tree, index, HEAD, refs, stash and `git status`
    common = repo / ".git"  # and what the run kept in the state folder is gone too
    assert in_state(common, scratch_dir(common)) == [] and in_state(common, sandboxes_dir(common)) == []
    assert stat_mode(scratch_dir(common)) == 0o700 and stat_mode(sandboxes_dir(common)) == 0o700


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _linked(tmp_path: Path) -> tuple[Path, Path]:
    main = make_repo(tmp_path / "main", FILES)
    git(main, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "linked"))
    return tmp_path / "linked", main / ".git"


def _submodule(tmp_path: Path) -> tuple[Path, Path]:
    inner = make_repo(tmp_path / "inner", FILES)
    outer = make_repo(tmp_path / "outer", {"top.txt": "top\n"})
    git(outer, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "sub")
    git(outer, "commit", "-q", "-m", "add sub")
    return outer / "sub", outer / ".git" / "modules" / "sub"


def _plain(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo", FILES)
    return repo, repo / ".git"


@pytest.mark.parametrize("layout", [_plain, _linked, _submodule], ids=["checkout", "linked-worktree", "submodule"])
def test_a_check_in_its_sandbox_sees_the_sandbox_as_its_checkout(tmp_path: Path, seam, temp_dir: Path,
                                                                  layout: Any) -> None:
    repo, common = layout(tmp_path)
    (repo / "mine.txt").write_text("the user's untracked file\n")
    before = checkout_state(repo)
    seen = tmp_path / "seen.txt"
    check = (f"(pwd -P; git rev-parse --show-toplevel --path-format=absolute --git-common-dir; "
             f"git status --porcelain) > '{seen}'")
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--check", check, "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    cwd, toplevel, common_seen, *status = seen.read_text().splitlines()
    sandboxes = sandboxes_dir(common.resolve())
    assert Path(cwd).parent == sandboxes and toplevel == cwd
    assert Path(common_seen) == common.resolve()
    # the change as written into the sandbox, and nothing of the user's checkout (mine.txt)
    assert sorted(status) == [" D old.py", " M pkg/mod.py", " M pkg/util.py", "?? pkg/version.py"]
    assert checkout_state(repo) == before
    assert not Path(cwd).exists() and in_state(common, sandboxes) == [] and in_state(common, scratch_dir(common)) == []
    assert _touched == [] and list(temp_dir.iterdir()) == []


def test_a_check_failing_alike_in_both_sandboxes_is_not_blamed_on_the_change(tmp_path: Path, seam) -> None:
    """The base runs in another sandbox than the change: output naming the sandbox in a way the capture
    does not strip (its folder's name, a path through `..`) must still compare equal."""
    repo = make_repo(tmp_path / "repo", FILES)
    check = ('echo "error: cannot build $(basename "$PWD")"; '
             'echo "error: at $(dirname "$PWD")/../sandboxes/$(basename "$PWD")/setup.cfg"; exit 1')
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--check", check, "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    (checked,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] != "syntax"]
    assert checked["verdict"] == "pre-existing" and checked["base_status"] == "fail", checked


CHILD = textwrap.dedent("""
    import sys, time
    from diffcrew.tools.scratch import scratch_folder
    with scratch_folder(sys.argv[1]) as folder:
        (folder / "index").write_bytes(b"half-built")
        print(folder, flush=True)
        time.sleep(120)
""")


def test_what_a_killed_process_left_in_the_scratch_folder_is_pruned_by_the_next_run(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    common = repo / ".git"
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(common)], stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    try:
        killed, alive = (Path(child.stdout.readline().strip()) for child in children)  # type: ignore[union-attr]
        children[0].kill()  # SIGKILL: no cleanup runs
        children[0].wait()
        assert killed.is_dir() and killed.parent == scratch_dir(common)
        other_host = scratch_dir(common) / "1_1_another-host_abc"  # a run elsewhere on a shared disk: left alone
        other_host.mkdir()
        seam.set_script(four_file_script())
        result = run_cli(["run", "--repo", str(repo), "--yes", "type the greeting"], seam)
        assert result.exit_code == 0, result.output
        assert not killed.exists()
        assert alive.is_dir() and (alive / "index").read_bytes() == b"half-built"  # its owner still runs
        assert other_host.is_dir()
    finally:
        for child in children:
            child.kill()
            child.wait()


def test_a_scratch_folder_that_cannot_be_made_is_one_clear_line(tmp_path: Path, seam) -> None:
    """Root ignores permissions, so a file stands where the folder would go: the same OSError."""
    repo = make_repo(tmp_path / "repo", FILES)
    scratch_dir(repo / ".git").parent.mkdir(parents=True, exist_ok=True)
    scratch_dir(repo / ".git").write_text("not a folder\n")
    with pytest.raises(UsageError, match=r"^cannot write to .*/\.git/diffcrew/tmp \(") as caught:
        GitRepo(repo).build_tree("HEAD", [TreeChange("a.txt", b"a\n")])
    assert "\n" not in caught.value.summary
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "type the greeting"], seam)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write to" in lines[0] and "diffcrew/tmp" in lines[0], result.stderr
    assert seam.requests == []  # refused before any model call


def test_tools_that_take_the_checkout_above_for_their_root_keep_their_caches_in_the_sandbox(
        tmp_path: Path, seam) -> None:
    """The sandbox sits below the user's checkout: with an untracked pytest.ini there (and none in the
    commit), pytest takes the checkout for its rootdir, and its cache must still not land in it."""
    repo = make_repo(tmp_path / "repo", {**FILES, "test_ok.py": "def test_ok():\n    assert True\n"})
    (repo / "pytest.ini").write_text("[pytest]\n")  # the user's own, not committed
    before = snapshot(repo)
    seam.set_script(four_file_script())
    check = f"{sys.executable} -m pytest -q -p no:randomly test_ok.py && {sys.executable} -m pytest -q --lf test_ok.py"
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--check", check, "type the greeting"], seam)
    assert result.exit_code == 0, result.output
    (checked,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] != "syntax"]
    assert checked["status"] == "pass", checked
    assert not (repo / ".pytest_cache").exists() and snapshot(repo) == before
