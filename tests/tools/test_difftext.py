"""tools/difftext.py: every diff diffcrew shows parses back with unidiff, and its counts come from there.

The oracle for the counts is git itself (`git diff --numstat -z`), never the code under test.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git, make_repo
from diffcrew.tools.difftext import GRAPH_WIDTH, CheckedDiff, FileCount, git_diff, parse_back
from diffcrew.tools.errors import DiffcrewError, DiffFormatError
from diffcrew.tools.git import GitRepo

_repo_names = (f"repo{i}" for i in itertools.count())


def numstat(repo: Path, base: str, head: str) -> dict[str, tuple[int, int, bool]]:
    """git's own per-file counts: path -> (added, removed, binary)."""
    out = git(repo, "diff", "--no-renames", "--numstat", "-z", base, head)
    counts = {}
    for record in filter(None, out.split("\0")):
        added, removed, path = record.split("\t", 2)
        binary = added == "-"
        counts[path] = (0 if binary else int(added), 0 if binary else int(removed), binary)
    return counts


def change(root: Path, before: dict[str, str | bytes], after: dict[str, str | bytes | None]) -> tuple[Path, str, str]:
    """A repository with `before` committed, then `after` (None deletes) committed on top."""
    repo = make_repo(root, before)
    base = git(repo, "rev-parse", "HEAD").strip()
    for path, content in after.items():
        target = repo / path
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    git(repo, "add", "--all")
    git(repo, "commit", "-q", "--allow-empty", "-m", "change")
    return repo, base, git(repo, "rev-parse", "HEAD").strip()


def assert_counts_match_git(repo: Path, base: str, head: str) -> CheckedDiff:
    checked = git_diff(GitRepo(repo), base, head)
    assert {f.path: (f.added, f.removed, f.binary) for f in checked.files} == numstat(repo, base, head)
    return checked


# -- the tricky content, one case each --------------------------------------------------------------

TRICKY: dict[str, tuple[dict[str, str | bytes], dict[str, str | bytes | None]]] = {
    "name with spaces": ({"my file.txt": "a\nb\n"}, {"my file.txt": "a\nB\n"}),
    "non-ASCII name (git quotes it)": ({"café/ünï ç.md": "x\n"}, {"café/ünï ç.md": "y\nz\n"}),
    "no trailing newline": ({"n.txt": "a\nb"}, {"n.txt": "a\nc"}),
    "newline added at the end": ({"n.txt": "a\nb"}, {"n.txt": "a\nb\n"}),
    "deleted file": ({"gone.py": "1\n2\n3\n", "keep.py": "k\n"}, {"gone.py": None}),
    "created empty file": ({"a.py": "a\n"}, {"empty.txt": ""}),
    "deleted empty file": ({"a.py": "a\n", "empty.txt": ""}, {"empty.txt": None}),
    "CRLF content": ({"w.txt": "one\r\ntwo\r\n"}, {"w.txt": "one\r\nTWO\r\nthree\r\n"}),
    "lone CR inside a line": ({"cr.txt": "a\rb\n"}, {"cr.txt": "a\rc\n"}),
    "binary file": ({"img.bin": b"\x00\x01\x02"}, {"img.bin": b"\x00\x09\x02\x03"}),
    "created binary file": ({"a.py": "a\n"}, {"new.bin": b"\x00\xff"}),
    "lines that look like file headers": ({"h.txt": "-- a\n++ b\nc\n"}, {"h.txt": "--- a\n+++ b\nc\n"}),
    "removed lines that look like file headers": ({"h.txt": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n"}, {"h.txt": "kept\n"}),
    "diff --git inside a line": ({"d.txt": "x\n"}, {"d.txt": "diff --git a/q b/q\n"}),
    "blank lines as context": ({"b.txt": "a\n\n\nb\n"}, {"b.txt": "a\n\n\nB\n"}),
    "several files at once": ({"a.py": "a\n", "b.py": "b\n", "c d.py": "c\n"},
                              {"a.py": "A\n", "b.py": None, "c d.py": "c\nd\n", "e.py": "e\n"}),
}


@pytest.mark.parametrize("case", TRICKY)
def test_git_diff_of_tricky_content_parses_back_with_git_s_own_counts(tmp_path: Path, case: str) -> None:
    before, after = TRICKY[case]
    repo, base, head = change(tmp_path / "repo", before, after)
    checked = assert_counts_match_git(repo, base, head)
    assert checked.text == GitRepo(repo).diff(base, head)  # the text shown is the text parsed, unchanged
    assert checked.files, "every case changes something"


def test_paths_are_the_repository_paths_not_git_s_quoting(tmp_path: Path) -> None:
    repo, base, head = change(tmp_path / "repo", {"a.py": "a\n"}, {"café/ünï ç.md": "x\n", "my file.txt": "y\n"})
    checked = git_diff(GitRepo(repo), base, head)
    assert "diff --git a/café/ünï ç.md b/café/ünï ç.md" in checked.text  # shown as it is, not as octal escapes
    assert "\\303" not in checked.text and "\\303" not in checked.stat()
    assert [f.path for f in checked.files] == ["café/ünï ç.md", "my file.txt"]  # ...and the counts use the real one
    assert checked.stat().splitlines()[0].startswith(" café/ünï ç.md | 1 +")


def test_a_path_git_must_still_quote_is_counted_under_its_real_name(tmp_path: Path) -> None:
    repo, base, head = change(tmp_path / "repo", {"a.py": "a\n"}, {'say "ünï".txt': "x\n", "tab\there.txt": "y\n"})
    checked = git_diff(GitRepo(repo), base, head)
    assert '"b/say \\"ünï\\".txt"' in checked.text  # a quote is still quoted; the letters are as they are
    assert [f.path for f in checked.files] == ['say "ünï".txt', "tab\there.txt"]


def test_the_diffstat_lines_up_wide_characters_as_a_terminal_shows_them(tmp_path: Path) -> None:
    import unicodedata

    repo, base, head = change(tmp_path / "repo", {"a.py": "a\n"}, {"名前/ファイル.txt": "x\n", "ünï.txt": "y\n"})
    stat = git_diff(GitRepo(repo), base, head).stat().splitlines()[:-1]
    columns = [sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line.split("|")[0]) for line in stat]
    assert len(stat) == 2 and len(set(columns)) == 1, stat  # every bar in one column


def test_a_rename_is_counted_under_its_new_name(tmp_path: Path) -> None:
    body = "".join(f"line {i}\n" for i in range(20))
    repo, base, head = change(tmp_path / "repo", {"old name.txt": body, "ö.txt": body},
                              {"old name.txt": None, "new name.txt": body,
                               "ö.txt": None, "ä.txt": body.replace("line 3\n", "line three\n")})
    text = git(repo, "diff", "-M", base, head)  # diffcrew's own diffs say --no-renames; a rename must parse too
    assert "rename from old name.txt" in text and "rename to \"\\303\\244.txt\"" in text
    assert parse_back(text, expected={"new name.txt", "ä.txt"}).files == (
        FileCount("new name.txt", 0, 0), FileCount("ä.txt", 1, 1))


def test_the_stat_is_git_s_stat_for_plain_names(tmp_path: Path) -> None:
    repo, base, head = change(tmp_path / "repo", {"a.py": "1\n2\n3\n", "old.py": "x\n"},
                              {"a.py": "1\nTWO\n3\n4\n", "new.md": "n\n" * 6, "old.py": None})
    ours = git_diff(GitRepo(repo), base, head).stat()
    assert ours == git(repo, "diff", "--no-renames", "--stat=100", base, head)
    assert ours.splitlines()[-1] == " 3 files changed, 8 insertions(+), 2 deletions(-)"


def test_the_stat_scales_long_runs_and_says_bin_for_binary() -> None:
    checked = CheckedDiff("", (FileCount("big.py", 400, 100), FileCount("small.py", 1, 0),
                               FileCount("img.png", 0, 0, binary=True)))
    lines = checked.stat().splitlines()
    assert lines[0] == " big.py   | 500 " + "+" * 40 + "-" * 10 and len("+" * 40 + "-" * 10) == GRAPH_WIDTH
    assert lines[1] == " small.py |   1 +"
    assert lines[2] == " img.png  | Bin"
    assert lines[3] == " 3 files changed, 401 insertions(+), 100 deletions(-)"
    assert CheckedDiff("", ()).stat() == ""
    assert CheckedDiff("", (FileCount("one", 1, 1),)).stat().splitlines()[-1] == \
        " 1 file changed, 1 insertion(+), 1 deletion(-)"


# -- what must never be shown ------------------------------------------------------------------------

GOOD = ("diff --git a/m.py b/m.py\nindex 1111111..2222222 100644\n--- a/m.py\n+++ b/m.py\n"
        "@@ -1,2 +1,2 @@\n a\n-b\n+B\n")
SECOND = "diff --git a/n.py b/n.py\nindex 3333333..4444444 100644\n--- a/n.py\n+++ b/n.py\n@@ -1 +1 @@\n-x\n+y\n"

MALFORMED = {
    "a hunk longer than its header": GOOD.replace("@@ -1,2 +1,2 @@", "@@ -1,1 +1,1 @@"),
    "a hunk shorter than its header": GOOD.replace("@@ -1,2 +1,2 @@", "@@ -1,3 +1,3 @@"),
    "a diff cut off in a hunk": (GOOD + SECOND)[:-4],
    "a stray line between files": GOOD + "this line belongs to no file\n" + SECOND,
    "a stray line at the end": GOOD + SECOND + "trailing words\n",
    "a header with no file after it": GOOD + "diff --git a/n.py\n",
    "a hunk line with no prefix": GOOD.replace(" a\n", "a\n"),
    "hunks without file headers": GOOD.replace("--- a/m.py\n+++ b/m.py\n", ""),
    "a target header naming another file": GOOD.replace("+++ b/m.py", "+++ b/other.py"),
    "the same file twice": GOOD + GOOD,
    "a 'GIT binary patch' (its data would be dropped)": (
        "diff --git a/i.bin b/i.bin\nindex 1111111..2222222 100644\nGIT binary patch\nliteral 3\n"
        "KcmZQzWMT#Y01f~L\n\nliteral 3\nKcmZQzWMT#Y01f~L\n\n"),
    "a quoted path with a bad escape": GOOD.replace("a/m.py b/m.py", '"a/m\\q.py" "b/m\\q.py"')
                                           .replace("--- a/m.py\n+++ b/m.py", '--- "a/m\\q.py"\n+++ "b/m\\q.py"'),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_diff_is_an_internal_error_never_text(case: str) -> None:
    with pytest.raises(DiffFormatError) as info:
        parse_back(MALFORMED[case])
    assert isinstance(info.value, DiffcrewError) and info.value.exit_code == 1
    assert str(info.value).startswith("internal error: a diff diffcrew made is not a well-formed unified diff")


def test_the_good_diffs_the_malformed_ones_come_from_parse() -> None:
    assert parse_back(GOOD).files == (FileCount("m.py", 1, 1),)
    assert parse_back(GOOD + SECOND).files == (FileCount("m.py", 1, 1), FileCount("n.py", 1, 1))
    assert parse_back("").files == ()


def test_a_file_outside_the_expected_paths_is_refused() -> None:
    assert parse_back(GOOD, expected={"m.py"}).files[0].path == "m.py"
    with pytest.raises(DiffFormatError, match="changes n.py, which is not one of the files"):
        parse_back(GOOD + SECOND, expected={"m.py"})


# -- property: whatever the content, git's diff round-trips with git's counts -----------------------

_piece = st.sampled_from(["a", "b", " ", "-", "+", "@", "\\", "é", "\r", "\t", "diff --git ", "--- ", "+++ ", "@@ "])
_line = st.lists(_piece, max_size=5).map("".join)
_content = st.lists(_line, max_size=8).map("\n".join) | st.lists(_line, max_size=8).map(
    lambda lines: "".join(line + "\n" for line in lines))
_name = st.sampled_from(["a.txt", "b c.txt", "é/ü.md", "-dash.py", "x\\y.txt", 'q"uote.txt'])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.dictionaries(_name, _content, min_size=1, max_size=3),
       after=st.dictionaries(_name, st.none() | _content | st.binary(min_size=1, max_size=4).map(lambda b: b"\0" + b),
                             max_size=3))
def test_any_git_diff_parses_back_with_git_s_counts(tmp_path: Path, before: dict[str, str],
                                                     after: dict[str, str | bytes | None]) -> None:
    after = {path: content for path, content in after.items() if content is not None or path in before}
    repo, base, head = change(tmp_path / next(_repo_names), dict(before), after)
    assert_counts_match_git(repo, base, head)
