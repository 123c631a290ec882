"""Bytes the engine must not change behind the diff's back: binary patches, encodings, CRs, deletions."""

from __future__ import annotations

import pytest

from diffcrew.tools.errors import PatchError
from diffcrew.tools.patch import apply_diff

BINARY_CREATION = """diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000000000000000000000000000000000000..4ac7f0d1a5e1c5c2b7a3c0b7e2d1f5a7c3b2e1d0
GIT binary patch
literal 12
TcmZ?wbhEHb6krfw;9vj%08;=0

literal 0
HcmV?d00001

"""


def test_git_binary_creation_is_refused_not_written_empty() -> None:
    with pytest.raises(PatchError) as info:
        apply_diff(None, BINARY_CREATION, "logo.png")
    assert "git apply" in info.value.summary


def test_binary_files_differ_line_is_refused() -> None:
    diff = ("diff --git a/logo.png b/logo.png\nindex 1111111..2222222 100644\n"
            "Binary files a/logo.png and b/logo.png differ\n")
    with pytest.raises(PatchError) as info:
        apply_diff("\x89PNG", diff, "logo.png")
    assert "git apply" in info.value.summary


@pytest.mark.parametrize("stamp", [
    "1970-01-01 00:00:00.000000000 +0000",
    "1970-01-01 00:00:00 +0000",
    "1969-12-31 19:00:00.000000000 -0500",
])
def test_diff_u_deletion_with_epoch_timestamp_deletes_the_file(stamp: str) -> None:
    diff = f"--- a/x.txt\t2024-05-01 10:00:00.000000000 +0200\n+++ b/x.txt\t{stamp}\n@@ -1,2 +0,0 @@\n-one\n-two\n"
    assert apply_diff("one\ntwo\n", diff, "x.txt").new_text is None


def test_diff_u_creation_with_epoch_timestamp_creates_the_file() -> None:
    diff = ("--- a/x.txt\t1970-01-01 00:00:00.000000000 +0000\n+++ b/x.txt\t2024-05-01 10:00:00 +0200\n"
            "@@ -0,0 +1 @@\n+one\n")
    assert apply_diff(None, diff, "x.txt").new_text == "one\n"


def test_ordinary_timestamp_is_not_a_deletion() -> None:
    diff = ("--- a/x.txt\t2024-05-01 10:00:00 +0200\n+++ b/x.txt\t2024-05-02 10:00:00 +0200\n"
            "@@ -1,2 +1,2 @@\n one\n-two\n+2\n")
    assert apply_diff("one\ntwo\n", diff, "x.txt").new_text == "one\n2\n"


MIXED = "a\nb\nc\r\nd\r\ne\r\nf\ng\nh\n"  # LF dominant, a CRLF region in the middle


def test_added_lines_in_a_crlf_region_get_crlf() -> None:
    diff = "@@ -3,3 +3,4 @@\n c\n-d\n+D\n+d2\n e\n"
    assert apply_diff(MIXED, diff, "m.txt").new_text == "a\nb\nc\r\nD\r\nd2\r\ne\r\nf\ng\nh\n"


def test_added_lines_in_an_lf_region_of_a_mixed_file_keep_lf() -> None:
    diff = "@@ -6,2 +6,3 @@\n f\n+f2\n g\n"
    assert apply_diff(MIXED, diff, "m.txt").new_text == "a\nb\nc\r\nd\r\ne\r\nf\nf2\ng\nh\n"


def test_added_line_at_a_crlf_lf_boundary_takes_the_dominant_ending() -> None:
    diff = "@@ -5,2 +5,3 @@\n e\n+between\n f\n"
    assert apply_diff(MIXED, diff, "m.txt").new_text == "a\nb\nc\r\nd\r\ne\r\nbetween\nf\ng\nh\n"


def test_added_line_ending_in_cr_before_no_newline_marker_keeps_its_cr() -> None:
    diff = "--- a/t.txt\n+++ b/t.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+b\r\n\\ No newline at end of file\n"
    assert apply_diff("a\nb\n", diff, "t.txt").new_text == "a\nb\r"


def test_unchanged_last_line_ending_in_cr_without_newline_keeps_its_cr() -> None:
    diff = "@@ -1,2 +1,2 @@\n-a\n+A\n b\r\n\\ No newline at end of file\n"
    assert apply_diff("a\nb\r", diff, "t.txt").new_text == "A\nb\r"
    assert apply_diff("a\nb\r", "@@ -1 +1 @@\n-a\n+A\n", "t.txt").new_text == "A\nb\r"


def test_crlf_diff_with_no_newline_marker_still_drops_the_crs_of_the_diff() -> None:
    diff = "@@ -1,2 +1,2 @@\r\n a\r\n-b\r\n+c\r\n\\ No newline at end of file\r\n"
    assert apply_diff("a\r\nb\r\n", diff, "t.txt").new_text == "a\r\nc"


def test_mixed_file_ending_in_a_bare_cr_keeps_it() -> None:
    old = "x\r\ny\r\nz\nw\nb\r"
    assert apply_diff(old, "@@ -3 +3 @@\n-z\n+Z\n", "t.txt").new_text == "x\r\ny\r\nZ\nw\nb\r"
