"""`diffcrew apply` gives the files it creates the line endings git would check them out with.

Every case is checked against git itself: the created file is committed, removed and checked
out again by git, and the bytes must be the same as diffcrew wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, make_repo, run_cli
from diffcrew.tools.applyfiles import plan_changes, write_changes
from diffcrew.tools.eolattrs import checkout_bytes, wants_crlf

CONTENT = b"one\ntwo\n"
CRLF = b"one\r\ntwo\r\n"


@pytest.fixture(autouse=True)
def no_user_git_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The user's ~/.gitconfig and /etc/gitconfig must not decide these tests (a global file of our own)."""
    glob = tmp_path / "global.gitconfig"
    glob.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(glob))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return glob


def creation(path: str, content: bytes = CONTENT) -> str:
    lines = content.decode().split("\n")[:-1]  # a CR is content here, not a line break
    added = "".join(f"+{line}\n" for line in lines)
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{added}"


def apply(root: Path, diff: str) -> None:
    write_changes(root, plan_changes(root, diff))


def repo_with(tmp_path: Path, attributes: dict[str, str], config: dict[str, str]) -> Path:
    repo = make_repo(tmp_path / "repo", {"README": "r\n", **attributes})
    for key, value in config.items():
        git(repo, "config", key, value)
    return repo


def git_checks_out(repo: Path, path: str) -> bytes:
    """What git itself puts in the work tree for `path` once committed (after diffcrew wrote it)."""
    git(repo, "add", "--", path)
    git(repo, "commit", "-q", "-m", "created")
    (repo / path).unlink()
    git(repo, "checkout", "--", path)
    return (repo / path).read_bytes()


CASES = [  # (attributes files, config, created path, bytes expected in the work tree)
    ({}, {"core.autocrlf": "true"}, "new.txt", CRLF),
    ({}, {"core.autocrlf": "input"}, "new.txt", CONTENT),
    ({}, {}, "new.txt", CONTENT),
    ({".gitattributes": "*.txt eol=crlf\n"}, {}, "a/new.txt", CRLF),
    ({".gitattributes": "*.txt eol=crlf\n"}, {}, "a b/\u00fcber \"q\".txt", CRLF),  # check-attr -z: no quoting
    ({".gitattributes": "*.sh eol=lf\n"}, {"core.autocrlf": "true"}, "run.sh", CONTENT),
    ({".gitattributes": "*.dat -text\n"}, {"core.autocrlf": "true"}, "x.dat", CONTENT),
    ({".gitattributes": "*.dat binary\n"}, {"core.autocrlf": "true"}, "x.dat", CONTENT),
    ({".gitattributes": "* text=auto eol=lf\n"}, {"core.autocrlf": "true"}, "new.txt", CONTENT),
    ({"sub/.gitattributes": "*.bat text eol=crlf\n"}, {}, "sub/deep/go.bat", CRLF),
    ({"sub/.gitattributes": "*.bat text eol=crlf\n"}, {}, "go.bat", CONTENT),
    ({".gitattributes": "* text\n"}, {"core.eol": "crlf"}, "new.txt", CRLF),
    ({".gitattributes": "* text=auto\n"}, {"core.eol": "crlf"}, "new.txt", CRLF),
    ({}, {"core.eol": "crlf"}, "new.txt", CONTENT),  # core.eol only concerns files marked text
    ({".gitattributes": "* text\n"}, {"core.eol": "crlf", "core.autocrlf": "input"}, "new.txt", CONTENT),
]


@pytest.mark.parametrize("attributes, config, path, expected", CASES)
def test_created_file_gets_the_line_endings_git_checks_out(
    tmp_path: Path, attributes: dict[str, str], config: dict[str, str], path: str, expected: bytes,
) -> None:
    repo = repo_with(tmp_path, attributes, config)
    apply(repo, creation(path))
    assert (repo / path).read_bytes() == expected
    assert git_checks_out(repo, path) == expected


@pytest.mark.parametrize("content", [b"a\0b\nc\n", b"lone\rcr\n"])
def test_content_with_crs_or_nul_is_never_converted(tmp_path: Path, content: bytes) -> None:
    repo = repo_with(tmp_path, {".gitattributes": "*.txt eol=crlf\n"}, {"core.autocrlf": "true"})
    apply(repo, creation("n.txt", content))
    assert (repo / "n.txt").read_bytes() == content
    assert checkout_bytes(repo, {"n.txt": content, "c.txt": CRLF, "l.txt": CONTENT}) == {"l.txt": CRLF}


def test_outside_a_git_repository_the_bytes_stay_as_given(tmp_path: Path, no_user_git_config: Path) -> None:
    no_user_git_config.write_text("[core]\n\tautocrlf = true\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / ".gitattributes").write_text("* eol=crlf\n")
    apply(plain, creation("new.txt"))
    assert (plain / "new.txt").read_bytes() == CONTENT


def test_global_autocrlf_counts_inside_a_repository(tmp_path: Path, no_user_git_config: Path) -> None:
    no_user_git_config.write_text("[core]\n\tautocrlf = true\n")
    repo = repo_with(tmp_path, {}, {})
    result = run_cli(["apply", "--repo", str(repo), "-"], input=creation("cli.txt"))
    assert result.exit_code == 0, result.output
    assert (repo / "cli.txt").read_bytes() == CRLF


@pytest.mark.parametrize("attributes, config", [
    ({}, {"core.autocrlf": "true"}),
    ({".gitattributes": "* text eol=crlf\n"}, {}),
])
def test_added_lines_of_a_modified_crlf_file_keep_crlf(
    tmp_path: Path, attributes: dict[str, str], config: dict[str, str],
) -> None:
    repo = repo_with(tmp_path, attributes, config)
    (repo / "m.txt").write_bytes(b"one\ntwo\n")
    git(repo, "add", "m.txt")
    git(repo, "commit", "-q", "-m", "m")
    (repo / "m.txt").unlink()
    git(repo, "checkout", "--", "m.txt")
    assert (repo / "m.txt").read_bytes() == CRLF  # git's own checkout of it
    apply(repo, "--- a/m.txt\n+++ b/m.txt\n@@ -1,2 +1,3 @@\n one\n+one and a half\n two\n")
    assert (repo / "m.txt").read_bytes() == b"one\r\none and a half\r\ntwo\r\n"


def test_the_rules_without_git() -> None:
    assert wants_crlf({"text": "unset", "eol": "crlf"}, {"core.autocrlf": "true"}) is False
    assert wants_crlf({"eol": "crlf"}, {"core.autocrlf": "input"}) is True
    assert wants_crlf({}, {"core.autocrlf": "Yes"}) is True
    assert wants_crlf({"text": "auto"}, {"core.eol": "CRLF"}) is True
