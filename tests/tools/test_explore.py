"""Exploration tools: answered from the base commit, confined to the repository, secrets excluded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import git, make_repo

from diffcrew.tools.context import build_context
from diffcrew.tools.explore import EXPLORE_TOOLS, MAX_LINES, answer_tool
from diffcrew.tools.git import GitRepo

SECRET = "sk-live-DO-NOT-LEAK-4242"


@pytest.fixture()
def setup(tmp_path: Path):
    files = {
        "src/app.py": "import os\n\n\ndef handler(event):\n    return os.environ['TOKEN']\n",
        "src/util.py": "def handler_helper():\n    return 1\n",
        "long.txt": "".join(f"line {n}\n" for n in range(1, 1001)),
        ".env": f"TOKEN={SECRET}\n",
        "keys/server.pem": f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n",
        "docs/handler.md": f"handler notes {SECRET}\n",
    }
    root = make_repo(tmp_path / "repo", files)
    os.symlink("/etc/passwd", root / "outside")
    os.symlink("../../etc/hostname", root / "src" / "up")
    os.symlink("app.py", root / "src" / "alias.py")
    git(root, "add", "--all")
    git(root, "commit", "-q", "-m", "links")
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    ctx = build_context(repo, base, "handler", deny=("docs/",))
    # An uncommitted edit: tools must answer from the base commit, not the working tree.
    (root / "src" / "util.py").write_text("def changed_in_worktree():\n    pass\n")
    return repo, base, ctx.text_paths


def ask(setup, name: str, **input: object) -> tuple[str, bool]:
    repo, base, allowed = setup
    return answer_tool(repo, base, name, dict(input), allowed)


def test_schemas_are_anthropic_tools() -> None:
    assert [t["name"] for t in EXPLORE_TOOLS] == ["read_file", "search_code", "list_files"]
    for tool in EXPLORE_TOOLS:
        assert tool["description"] and tool["input_schema"]["type"] == "object"


def test_read_file_reads_the_base_commit_with_line_ranges(setup) -> None:
    text, error = ask(setup, "read_file", path="src/util.py")
    assert not error and "handler_helper" in text and "changed_in_worktree" not in text
    text, error = ask(setup, "read_file", path="src/app.py", start_line=4, end_line=4)
    assert not error and "def handler(event)" in text and "import os" not in text


def test_long_output_is_truncated_with_a_note(setup) -> None:
    text, error = ask(setup, "read_file", path="long.txt")
    assert not error and "output cut" in text
    assert f"line {MAX_LINES}\n" in text + "\n" and "line 1000" not in text


@pytest.mark.slow
@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "src/../../x", ".git/config", ".git/HEAD",
                                  "outside", "src/up", "C:/x", "src\\app.py", ""])
def test_paths_outside_the_repository_are_refused(setup, path: str) -> None:
    text, error = ask(setup, "read_file", path=path)
    assert error, text
    assert "root:" not in text


def test_symlinks_inside_the_repository_are_followed(setup) -> None:
    text, error = ask(setup, "read_file", path="src/alias.py")
    assert not error and "def handler" in text


def test_secrets_are_excluded_from_every_tool(setup) -> None:
    for path in (".env", "keys/server.pem", "docs/handler.md"):
        text, error = ask(setup, "read_file", path=path)
        assert error and SECRET not in text
    outputs = [ask(setup, "search_code", pattern="TOKEN|PRIVATE|handler|sk-live"),
               ask(setup, "search_code", pattern="sk-live", path_glob="**")]
    outputs += [ask(setup, "list_files", path=p) for p in ("", ".", "keys", "docs")]
    for out, error in outputs:
        assert SECRET not in out and "server.pem" not in out
        if not error:  # a refusal may repeat the path asked for, never more
            assert not any(line.startswith((".env", "keys", "docs")) for line in out.splitlines()), out


def test_search_code_uses_git_grep_on_the_base(setup) -> None:
    text, error = ask(setup, "search_code", pattern=r"def handler\w*", path_glob="src/*.py")
    assert not error and "src/app.py:4:def handler(event):" in text and "src/util.py:1:" in text
    assert ask(setup, "search_code", pattern="changed_in_worktree")[0].startswith("no match")
    assert ask(setup, "search_code", pattern="x", path_glob="../*")[1]
    assert ask(setup, "search_code", pattern="--output=/tmp/x")[0].startswith("no match")


def test_list_files_and_unknown_tools(setup) -> None:
    text, error = ask(setup, "list_files", path="")
    assert not error and "src/" in text and "long.txt" in text
    assert ask(setup, "list_files", path="nowhere")[1]
    assert ask(setup, "delete_file", path="src/app.py")[1]


@pytest.mark.parametrize("name, path", [("read_file", "src/app.py\x00"), ("read_file", "src/app.py\nx"),
                                        ("list_files", "src\x1b"), ("read_file", "src/.GIT/config"),
                                        ("read_file", "a" * 300)])
def test_control_characters_git_parts_and_long_names_are_refused(setup, name: str, path: str) -> None:
    repo, base, allowed = setup
    text, is_error = answer_tool(repo, base, name, {"path": path}, allowed)
    assert is_error and ("control character" in text or ".git directory" in text or "longer than" in text), text


def test_an_output_cut_never_leaves_half_a_token(tmp_path: Path) -> None:
    from diffcrew.tools.explore import MAX_MATCH_CHARS, clip

    assert clip("abc def ghijkl", 10) == "abc def " and clip("abc def gh ijkl", 10) == "abc def gh"
    assert clip("TOKEN=abcdefgh", 9) == "TOKEN=" and clip("short", 10) == "short"
    key = "AKIA" + "Q" * 36  # an access-key-like token across the cut
    line = "x = 1  # " + "pad " * ((MAX_MATCH_CHARS - 20) // 4) + key
    assert len(line.split(key)[0]) < MAX_MATCH_CHARS < len(line)
    repo = GitRepo(make_repo(tmp_path / "repo", {"conf.py": line + "\n"}))
    base = repo.resolve("HEAD")
    allowed = build_context(repo, base, "pad").text_paths
    found = answer_tool(repo, base, "search_code", {"pattern": "pad"}, allowed)[0]
    assert "conf.py:1:x = 1" in found and "AKIA" not in found
