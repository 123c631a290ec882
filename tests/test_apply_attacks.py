"""`diffcrew apply` against hostile or broken patches (issue 13, items 4, 7, 9, 11, 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_repo, run_cli, snapshot

CODE = "a = 1\nb = 2\nc = 3\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"code.py": CODE, "sub/keep.txt": "keep\n", "pkg/mod.py": "X = 1\n"})


def create(path: str, line: str = "pwned") -> str:
    return f"--- /dev/null\n+++ b/{path}\n@@ @@\n+{line}\n"


def refused(repo: Path, patch: str, reason: str) -> None:
    """The patch is refused with one line per reason, exit 1, and the tree is exactly as before."""
    before = snapshot(repo)
    dirs = sorted(p for p in repo.rglob("*") if p.is_dir() and ".git" not in p.relative_to(repo).parts)
    result = run_cli(["apply", "--repo", str(repo), "-"], input=patch)
    assert result.exit_code == 1, result.output
    assert reason in result.stderr and "nothing was written" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert snapshot(repo) == before
    assert sorted(p for p in repo.rglob("*") if p.is_dir() and ".git" not in p.relative_to(repo).parts) == dirs


@pytest.mark.parametrize("path", ["sub/.git/hooks/post-checkout", "sub/.git/config", "Sub/.GIT/config",
                                  ".Git/hooks/pre-commit", "sub/.git./config"])
def test_nested_git_directories_are_never_written(tmp_path: Path, path: str) -> None:
    repo = make_repo(tmp_path / "repo", {"sub/keep.txt": "keep\n"})
    make_repo(repo / "sub", {"inner.txt": "inner\n"})  # a nested repository with its own .git
    hooks = sorted((repo / "sub" / ".git" / "hooks").iterdir())
    refused(repo, create(path, "[core]\n+\tfsmonitor = touch /tmp/pwned"), ".git directory")
    assert sorted((repo / "sub" / ".git" / "hooks").iterdir()) == hooks
    assert "fsmonitor" not in (repo / "sub" / ".git" / "config").read_text()


@pytest.mark.parametrize("path", ["notes.txt\x00100755 x", "del\x7f.txt", "esc\x1b.txt"])
def test_control_characters_in_apply_paths_are_refused(repo: Path, path: str) -> None:
    refused(repo, create(path), "control character")


def test_a_300_character_name_is_one_clear_line(repo: Path) -> None:
    refused(repo, create("deep/er/" + "n" * 300 + ".py"), "longer than 255 bytes")


def test_a_path_that_is_a_directory_is_refused(repo: Path) -> None:
    refused(repo, create("sub"), "sub: a directory, not a file")
    refused(repo, "--- a/pkg\n+++ b/pkg\n@@ @@\n-x\n+y\n", "pkg: a directory, not a file")


def test_a_path_under_a_file_is_refused_and_leaves_no_directories(repo: Path) -> None:
    patch = create("new/dir/ok.py") + create("code.py/inner/x.py")
    refused(repo, patch, "code.py/inner/x.py: code.py is a file, not a directory")


def test_two_sections_for_one_file_apply_in_order(repo: Path) -> None:
    first = "--- a/code.py\n+++ b/code.py\n@@ @@\n a = 1\n-b = 2\n+b = 20\n"
    second = "--- a/code.py\n+++ b/code.py\n@@ @@\n b = 20\n-c = 3\n+c = 30\n"
    result = run_cli(["apply", "--repo", str(repo), "-"], input=f"```diff\n{first}```\n\nand\n\n```diff\n{second}```\n")
    assert result.exit_code == 0, result.output
    assert (repo / "code.py").read_text() == "a = 1\nb = 20\nc = 30\n"
    assert result.stdout.count("applied: code.py") == 1


def test_a_second_section_that_no_longer_matches_is_refused(repo: Path) -> None:
    first = "--- a/code.py\n+++ b/code.py\n@@ @@\n a = 1\n-b = 2\n+b = 20\n"
    second = "--- a/code.py\n+++ b/code.py\n@@ @@\n a = 1\n-b = 2\n+b = 200\n"  # also written on the original
    refused(repo, first + second, "code.py: hunk 2: matches no place")


def test_the_same_section_twice_is_already_applied(repo: Path) -> None:
    first = "--- a/code.py\n+++ b/code.py\n@@ @@\n a = 1\n-b = 2\n+b = 20\n"
    result = run_cli(["apply", "--repo", str(repo), "-"], input=first + first)
    assert result.exit_code == 0 and (repo / "code.py").read_text() == "a = 1\nb = 20\nc = 3\n"


def test_a_failed_write_puts_everything_back_and_leaves_no_directories(repo: Path) -> None:
    from diffcrew.tools.applyfiles import FileChange, WriteFailed, write_changes

    before = snapshot(repo)
    changes = [FileChange("new/deep/x.py", "create", None, b"X = 1\n", ()),
               FileChange("code.py", "modify", CODE.encode(), b"a = 10\n", ()),
               FileChange("sub", "modify", b"", b"not a directory\n", ())]  # os.replace onto a directory fails
    with pytest.raises(WriteFailed, match="sub: could not be written"):
        write_changes(repo, changes)
    assert snapshot(repo) == before and not (repo / "new").exists()
    assert not [p for p in repo.iterdir() if p.name.endswith(".diffcrew")]
