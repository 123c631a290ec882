"""Red-team cases for `diffcrew apply` at the file level: each test is one bug found by crafting
inputs and comparing with `git apply` / `git am` and GNU `patch -p1`."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from conftest import make_repo, run_cli, snapshot
from diffcrew.tools import applyfiles
from diffcrew.tools.applyfiles import plan_changes, write_changes

FIVE = "line1\nline2\nline3\nline4\nline5\n"


def _apply(repo: Path, diff: str, *extra: str) -> tuple[int, str]:
    result = run_cli(["apply", "--repo", str(repo), *extra, "-"], input=diff)
    return result.exit_code, result.output


def _applied(tmp_path: Path, files: dict[str, str], diff: str) -> Path:
    """A repository holding `files` with `diff` applied to it (exit 0 asserted)."""
    repo = make_repo(tmp_path / "r", files)
    code, output = _apply(repo, diff)
    assert code == 0, output
    return repo


def _assert_refused(repo: Path, diff: str, says: str) -> None:
    """The diff is refused (exit 1) with `says` in the output, and the repository is untouched."""
    before = snapshot(repo)
    code, output = _apply(repo, diff)
    assert code == 1, output
    assert says in output
    assert snapshot(repo) == before


def _mail(message: str, diff: str, sha: str = "1" * 40) -> str:
    return (f"From {sha} Mon Sep 17 00:00:00 2001\nFrom: A <a@b.invalid>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
            f"Subject: [PATCH] {message}\n---\n f.txt | 2 +-\n 1 file changed\n\n{diff}-- \n2.43.0\n\n")


def test_hunk_lines_quoted_in_a_commit_message_are_not_applied(tmp_path: Path) -> None:
    # git am applies only what follows the message's '---'; a hunk quoted in prose is no change.
    repo = make_repo(tmp_path / "r", {"f.txt": FIVE})
    message = "Use upper case\n\nI first tried this instead:\n@@ -4 +4 @@\n-line4\n+line4 changed\n\nThanks.\n"
    diff = "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n line1\n-line2\n+LINE2\n line3\n"
    code, output = _apply(repo, _mail(message, diff))
    assert code == 0, output
    assert (repo / "f.txt").read_text() == FIVE.replace("line2", "LINE2")


def test_a_hunkless_deletion_of_a_file_with_content_is_refused(tmp_path: Path) -> None:
    # git writes no hunks only when the deleted file was empty (blob e69de29); git apply refuses
    # with "removal patch leaves file contents". Deleting would lose the user's text.
    repo = make_repo(tmp_path / "r", {"notes.txt": "my own notes\n", "keep.txt": "k\n"})
    diff = "diff --git a/notes.txt b/notes.txt\ndeleted file mode 100644\nindex e69de29..0000000\n"
    _assert_refused(repo, diff, "has content")


def test_a_hunkless_deletion_of_an_empty_file_or_the_named_blob_applies(tmp_path: Path) -> None:
    diff = ("diff --git a/empty.txt b/empty.txt\ndeleted file mode 100644\nindex e69de29..0000000\n"
            "diff --git a/x.txt b/x.txt\ndeleted file mode 100644\nindex 587be6b..0000000\n")
    repo = _applied(tmp_path, {"empty.txt": "", "x.txt": "x\n"}, diff)
    assert not (repo / "empty.txt").exists() and not (repo / "x.txt").exists()


def test_a_patch_given_as_a_pipe_is_read(tmp_path: Path) -> None:
    # `diffcrew apply <(git diff)` passes /dev/fd/N, a FIFO: not a regular file, yet a patch to read.

    repo = make_repo(tmp_path / "r", {"f.txt": FIVE})
    fifo = tmp_path / "patch.fifo"
    os.mkfifo(fifo)
    diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n line1\n-line2\n+LINE2\n"
    writer = threading.Thread(target=fifo.write_text, args=(diff,))
    writer.start()
    result = run_cli(["apply", "--repo", str(repo), str(fifo)])
    writer.join(timeout=10)
    assert result.exit_code == 0, result.output
    assert (repo / "f.txt").read_text() == FIVE.replace("line2", "LINE2")


def test_a_directory_given_as_the_patch_is_a_usage_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"f.txt": FIVE})
    result = run_cli(["apply", "--repo", str(repo), str(tmp_path)])
    assert result.exit_code == 2
    assert "directory" in result.output


def test_a_quoted_printable_mail_is_refused_not_applied_encoded(tmp_path: Path) -> None:
    # Only the added line carries an escape: applied as written, 'x =3D 1' would land in the file.
    repo = make_repo(tmp_path / "r", {"f.py": "a\nb\nc\n"})
    mail = ("From 2222222222222222222222222222222222222222 Mon Sep 17 00:00:00 2001\nFrom: A <a@b.invalid>\n"
            "Subject: [PATCH] x\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: quoted-printable\n\n---\n f.py | 1 +\n\n"
            "diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,4 @@\n a\n b\n+x =3D 1\n c\n")
    _assert_refused(repo, mail, "quoted-printable")


def test_a_relative_name_that_two_readings_resolve_differently_is_refused(tmp_path: Path) -> None:
    # 'tests/util.py' is util.py with one folder too many, or src/tests/util.py with one too few.
    code = "import os\nimport sys\n\nX = 1\n"
    repo = make_repo(tmp_path / "r", {"util.py": code, "src/tests/util.py": code.replace("X", "Y")})
    diff = "--- a/tests/util.py\n+++ b/tests/util.py\n@@ -1,2 +1,3 @@\n import os\n+import re\n import sys\n"
    _assert_refused(repo, diff, "util.py, src/tests/util.py")


def test_one_reading_of_a_relative_name_still_resolves(tmp_path: Path) -> None:
    diff = "--- a/tests/util.py\n+++ b/tests/util.py\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"
    repo = _applied(tmp_path, {"src/tests/util.py": "a\nb\n", "other.py": "a\nb\n"}, diff)
    assert (repo / "src/tests/util.py").read_text() == "a\nB\n"


def test_a_git_header_whose_name_holds_space_b_slash_splits_where_both_sides_agree(tmp_path: Path) -> None:
    # 'diff --git a/d b/y b/d b/y' names 'd b/y' twice; split at the first ' b/' it named 'd'.

    diff = "diff --git a/d b/y b/d b/y\nold mode 100644\nnew mode 100755\n"
    repo = _applied(tmp_path, {"d": "other file\n", "d b/y": "echo\n"}, diff)
    assert os.stat(repo / "d b/y").st_mode & stat.S_IXUSR
    assert not os.stat(repo / "d").st_mode & stat.S_IXUSR


def test_renames_that_swap_two_files_apply(tmp_path: Path) -> None:
    # git diff -M writes a swap as two renames; git apply and patch both swap the files.
    diff = ("diff --git a/a.txt b/b.txt\nsimilarity index 100%\nrename from a.txt\nrename to b.txt\n"
            "diff --git a/b.txt b/a.txt\nsimilarity index 100%\nrename from b.txt\nrename to a.txt\n")
    repo = _applied(tmp_path, {"a.txt": "alpha\n", "b.txt": "beta\n"}, diff)
    assert (repo / "a.txt").read_text() == "beta\n" and (repo / "b.txt").read_text() == "alpha\n"


def test_a_rename_chain_moves_the_files_that_were_there(tmp_path: Path) -> None:
    # a -> b, b -> c in one diff: c gets the old b, as git apply and patch give it.
    diff = ("diff --git a/a.txt b/b.txt\nrename from a.txt\nrename to b.txt\n"
            "diff --git a/b.txt b/c.txt\nrename from b.txt\nrename to c.txt\n"
            "--- a/b.txt\n+++ b/c.txt\n@@ -1 +1 @@\n-beta\n+gamma\n")
    repo = _applied(tmp_path, {"a.txt": "alpha\n", "b.txt": "beta\n"}, diff)
    assert not (repo / "a.txt").exists()
    assert (repo / "b.txt").read_text() == "alpha\n" and (repo / "c.txt").read_text() == "gamma\n"


def test_a_rename_onto_a_file_no_section_moves_away_is_still_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    _assert_refused(repo, "diff --git a/a.txt b/b.txt\nrename from a.txt\nrename to b.txt\n", "already exists")


ROLLBACK_DIFF = ("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+ONE\n"
                 "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100755\n--- a/gone.txt\n+++ /dev/null\n"
                 "@@ -1 +0,0 @@\n-bye\n"
                 "--- /dev/null\n+++ b/sub/deep/z.txt\n@@ -0,0 +1 @@\n+new\n")


def _failing_replace(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """os.replace fails for the last file written (sub/deep/z.txt)."""

    real = os.replace

    def replace(src: str, dst: str) -> None:
        if str(dst).endswith("z.txt"):
            raise error
        real(src, dst)

    monkeypatch.setattr(applyfiles.os, "replace", replace)


def _rollback_repo(tmp_path: Path) -> Path:

    repo = make_repo(tmp_path / "r", {"a.txt": "one\n", "gone.txt": "bye\n"})
    os.chmod(repo / "gone.txt", 0o755)
    return repo


def test_a_failed_write_puts_everything_back_and_json_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    repo = _rollback_repo(tmp_path)
    before = snapshot(repo)
    _failing_replace(monkeypatch, OSError(28, "No space left on device"))
    result = run_cli(["apply", "--repo", str(repo), "--json", "-"], input=ROLLBACK_DIFF)
    assert result.exit_code != 0
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and "put back" in report["errors"][0]
    assert snapshot(repo) == before
    assert os.stat(repo / "gone.txt").st_mode & 0o100
    assert not (repo / "sub").exists()


def test_an_interrupt_while_writing_puts_everything_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    repo = _rollback_repo(tmp_path)
    before = snapshot(repo)
    changes = plan_changes(repo, ROLLBACK_DIFF)
    _failing_replace(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        write_changes(repo, changes)
    assert snapshot(repo) == before
    assert not (repo / "sub").exists()


def test_added_lines_only_under_a_name_that_is_no_file_create_it_not_a_namesake(tmp_path: Path) -> None:
    # '@@ -0,0 +1,2 @@' under util.py: git apply and patch create util.py; resolving the name to
    # src/util.py put the lines on top of another file.
    diff = "--- a/util.py\n+++ b/util.py\n@@ -0,0 +1,2 @@\n+def f():\n+    pass\n"
    repo = _applied(tmp_path, {"src/util.py": "import os\n"}, diff)
    assert (repo / "util.py").read_text() == "def f():\n    pass\n"
    assert (repo / "src/util.py").read_text() == "import os\n"



def test_a_repo_option_naming_no_directory_is_a_usage_error(tmp_path: Path) -> None:
    # find_root walks up from the path given: a typo patched the repository around it.
    repo = make_repo(tmp_path / "r", {"f.txt": FIVE})
    before = snapshot(repo)
    diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n line1\n-line2\n+LINE2\n"
    for wrong in (repo / "typo", repo / "f.txt"):
        result = run_cli(["apply", "--repo", str(wrong), "-"], input=diff)
        assert result.exit_code == 2, result.output
    assert snapshot(repo) == before


def test_a_file_created_in_a_diff_of_two_trees_loses_the_new_trees_root(tmp_path: Path) -> None:
    # `diff -ruN old new`: patch -p1 and git apply create src/n.py; it was created as new/src/n.py.
    diff = ("diff -ruN old/src/n.py new/src/n.py\n"
            "--- old/src/n.py\t1970-01-01 00:00:00.000000000 +0000\n"
            "+++ new/src/n.py\t2024-05-01 10:00:00.000000000 +0200\n@@ -0,0 +1 @@\n+n = 1\n"
            "diff -ruN old/src/x.py new/src/x.py\n"
            "--- old/src/x.py\t2024-05-01 09:00:00.000000000 +0200\n"
            "+++ new/src/x.py\t2024-05-01 10:00:00.000000000 +0200\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n")
    repo = _applied(tmp_path, {"src/x.py": "a\nb\n"}, diff)
    assert (repo / "src/n.py").read_text() == "n = 1\n"
    assert not (repo / "new").exists()
    assert (repo / "src/x.py").read_text() == "a\nB\n"


def test_a_combined_diff_of_a_merge_is_refused(tmp_path: Path) -> None:
    # `git show MERGE` writes '+ b = 2' for a line new against the first parent only: read as one
    # column it was added as 'b = 2' at the wrong indentation.
    repo = make_repo(tmp_path / "r", {"f.py": "def f():\n    a = 1\n    return a\n"})
    diff = ("diff --cc f.py\nindex 1111111,2222222..3333333\n--- a/f.py\n+++ b/f.py\n"
            "@@@ -1,3 -1,3 +1,4 @@@\n  def f():\n      a = 1\n+ b = 2\n      return a\n")
    _assert_refused(repo, diff, "combined diff")


def test_windows_backslash_paths_name_the_file(tmp_path: Path) -> None:
    # A diff written on Windows: git apply and patch find no file 'a\\src\\u.py'; the name is src/u.py.
    diff = ("--- a\\src\\u.py\n+++ b\\src\\u.py\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"
            "--- C:\\proj\\src\\v.py\n+++ C:\\proj\\src\\v.py\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"
            "--- /dev/null\n+++ b\\src\\new.py\n@@ -0,0 +1 @@\n+n\n")
    repo = _applied(tmp_path, {"src/u.py": "a\nb\n", "src/v.py": "a\nb\n"}, diff)
    assert (repo / "src/u.py").read_text() == "a\nB\n" == (repo / "src/v.py").read_text()
    assert (repo / "src/new.py").read_text() == "n\n"


def test_headers_that_share_a_b_prefix_may_name_a_folder_b(tmp_path: Path) -> None:
    # '--- b/x.py' '+++ b/x.py' is no git a/ b/ pair: a diff -p0 of b/x.py, or x.py mis-prefixed.
    diff = "--- b/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"
    _assert_refused(make_repo(tmp_path / "both", {"b/x.py": "a\nb\n", "x.py": "a\nb\n"}), diff, "b/x.py")
    repo = make_repo(tmp_path / "one", {"b/x.py": "a\nb\n"})
    assert _apply(repo, diff)[0] == 0
    assert (repo / "b/x.py").read_text() == "a\nB\n"
