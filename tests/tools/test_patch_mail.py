"""git format-patch mails, prose around diffs, and the pure header resolution (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, make_repo
from diffcrew.tools._patch_parse import parse_diff
from diffcrew.tools.applyfiles import ApplyRefused, plan_changes, write_changes
from diffcrew.tools.patch import PatchRejected, apply_diff
from diffcrew.tools.patchpaths import resolve_name, resolve_names

LETTERS = "".join(f"{c}\n" for c in "abcdefghij")


def series(tmp_path: Path) -> tuple[Path, str]:
    """A repository back at its first commit, and the two-mail series of the two commits after it."""
    repo = make_repo(tmp_path / "repo", {"u.txt": LETTERS, "other.txt": "keep\n"})
    (repo / "u.txt").write_text(LETTERS.replace("b\n", "B\n"))
    git(repo, "commit", "-q", "-am", "first: B")
    (repo / "u.txt").write_text(LETTERS.replace("b\n", "B\n").replace("i\n", "I\n"))
    git(repo, "commit", "-q", "-am", "second: I")
    mbox = git(repo, "format-patch", "-2", "--stdout")
    git(repo, "reset", "-q", "--hard", "HEAD~2")
    return repo, mbox


def test_a_two_mail_series_changes_the_same_file_twice(tmp_path: Path) -> None:
    repo, mbox = series(tmp_path)
    assert mbox.count("\n-- \n") == 2 and mbox.startswith("From ")
    changes = plan_changes(repo, mbox)
    write_changes(repo, changes)
    assert (repo / "u.txt").read_bytes() == LETTERS.replace("b\n", "B\n").replace("i\n", "I\n").encode()
    assert [c.path for c in changes] == ["u.txt"] and len(changes[0].hunks) == 2


def mail(number: int, hunk: str) -> str:
    return (f"From {number:040x} Mon Sep 17 00:00:00 2001\nFrom: A <a@example.invalid>\nSubject: [PATCH {number}/2] x\n\n"
            "The why.\n---\n u.txt | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
            f"diff --git a/u.txt b/u.txt\nindex 1..2 100644\n--- a/u.txt\n+++ b/u.txt\n{hunk}-- \n2.39.5\n\n")


def test_the_second_mail_applies_to_the_first_ones_result(tmp_path: Path) -> None:
    """Its context holds the first mail's line: against the original file it would not apply."""
    repo = make_repo(tmp_path / "repo", {"u.txt": LETTERS})
    text = mail(1, "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n") + mail(2, "@@ -1,3 +1,3 @@\n a\n B\n-c\n+C\n")
    write_changes(repo, plan_changes(repo, text))
    assert (repo / "u.txt").read_text() == LETTERS.replace("b\n", "B\n").replace("c\n", "C\n")


def test_the_signature_is_not_a_removed_line() -> None:
    mail = ("From 1234 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] x\n\n---\n a | 2 +-\n\n"
            "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ @@\n x\n-y\n+z\n-- \n2.43.0\n\n")
    (section,) = parse_diff(mail)
    assert [(line.kind, line.text) for line in section.hunks[0].lines] == [(" ", "x"), ("-", "y"), ("+", "z")]


def test_a_removed_dash_space_line_inside_the_counts_stays_a_line() -> None:
    (section,) = parse_diff("--- a/a\n+++ b/a\n@@ -1,2 +1,1 @@\n x\n-- \n")
    assert [(line.kind, line.text) for line in section.hunks[0].lines] == [(" ", "x"), ("-", "- ")]


@pytest.mark.parametrize("prose", ["The header\n@@ -1,3 +1,4 @@ means: old side from line 1, three lines.\n",
                                   "@@ marks where a hunk starts.\n\n", "@@ -1 +1 @@\n"])
def test_prose_with_an_at_at_line_before_the_diff_is_no_hunk(tmp_path: Path, prose: str) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\ny = 2\n"})
    text = f"{prose}Here is the fix:\n\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"
    sections = parse_diff(text)
    assert [s.new_path for s in sections] == ["a.py"] and sections[0].hunks[0].index == 1
    write_changes(repo, plan_changes(repo, text))
    assert (repo / "a.py").read_text() == "x = 1\ny = 3\n"


def test_rename_copy_and_mode_headers_are_read() -> None:
    text = ("diff --git a/a/x.py b/b/y.py\nold mode 100644\nnew mode 100755\nsimilarity index 90%\n"
            "rename from a/x.py\nrename to b/y.py\n")
    (section,) = parse_diff(text)
    assert (section.old_path, section.new_path, section.renamed, section.copied) == ("a/x.py", "b/y.py", True, False)
    assert (section.old_mode, section.mode, section.hunks) == (0o100644, 0o100755, ())


TRACKED = frozenset({"src/util.py", "src/x.py", "lib/x.py", "setup.py", "docs/conf.py"})


@pytest.mark.parametrize("name, path, how", [
    ("src/util.py", "src/util.py", "exact"), ("/app/src/util.py", "src/util.py", "suffix"),
    ("/home/u/proj/setup.py", "setup.py", "suffix"), ("util.py", "src/util.py", "base name"),
    ("proj.orig/src/util.py", "src/util.py", "suffix"), ("x.py", None, "ambiguous"), ("/app/x.py", None, "none"),
    ("../src/util.py", None, "none"), ("nothing.py", None, "none"),
])
def test_resolve_name(name: str, path: str | None, how: str) -> None:
    found = resolve_name(name, TRACKED)
    assert (found.path, found.how) == (path, how)
    if how == "ambiguous":
        assert found.candidates == ("lib/x.py", "src/x.py")


def test_resolve_names_prefers_the_new_name_and_takes_the_one_that_exists() -> None:
    assert resolve_names("src/util.py.orig", "src/util.py", TRACKED).path == "src/util.py"
    assert resolve_names("src/x.py", "lib/x.py", TRACKED).path == "lib/x.py"
    assert resolve_names("old/setup.py", "new/gone.py", TRACKED).path == "setup.py"
    assert resolve_names(None, None, TRACKED).path is None


def test_refusal_of_a_series_names_the_failing_file(tmp_path: Path) -> None:
    repo, mbox = series(tmp_path)
    with pytest.raises(ApplyRefused) as caught:
        plan_changes(repo, mbox.replace("-b\n+B", "-q\n+B"))
    assert caught.value.reasons and all(r.startswith("u.txt: ") for r in caught.value.reasons)


def test_apply_diff_refuses_to_merge_the_mails_of_a_series() -> None:
    text = mail(1, "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n") + mail(2, "@@ -1,3 +1,3 @@\n a\n B\n-c\n+C\n")
    with pytest.raises(PatchRejected) as caught:
        apply_diff(LETTERS, text, "u.txt")
    assert "series of mails" in str(caught.value).splitlines()[0]


def test_a_later_mail_renames_a_file_an_earlier_one_created(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"keep.txt": "keep\n"})
    first = mail(1, "").replace("diff --git a/u.txt b/u.txt\nindex 1..2 100644\n--- a/u.txt\n+++ b/u.txt\n",
                                "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n"
                                "@@ -0,0 +1 @@\n+made\n")
    second = mail(2, "").replace("diff --git a/u.txt b/u.txt\nindex 1..2 100644\n--- a/u.txt\n+++ b/u.txt\n",
                                 "diff --git a/new.txt b/moved.txt\nsimilarity index 100%\nrename from new.txt\n"
                                 "rename to moved.txt\n")
    write_changes(repo, plan_changes(repo, first + second))
    assert (repo / "moved.txt").read_text() == "made\n" and not (repo / "new.txt").exists()


def test_git_quoted_non_ascii_paths_are_unquoted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"caf\u00e9 menu.txt": "tea\n"})
    text = ('diff --git "a/caf\\303\\251 menu.txt" "b/caf\\303\\251 menu.txt"\nindex 1..2 100644\n'
            '--- "a/caf\\303\\251 menu.txt"\t\n+++ "b/caf\\303\\251 menu.txt"\t\n@@ -1 +1 @@\n-tea\n+coffee\n')
    write_changes(repo, plan_changes(repo, text))
    assert (repo / "caf\u00e9 menu.txt").read_text() == "coffee\n"
