"""A file without a final newline, and a diff that touches its last line but has no
"\\ No newline at end of file" marker: what the diff's writer meant.

git never writes such a diff: when the old file lacks the final newline, the old side's last
line carries the marker. So either the writer ignored the final newline (a model: it meant no
change to it, the state is kept), or a git diff lost its markers on the way. Only one shape
says which: git shows "the last line gains its newline" as that line removed and added again
unchanged, a pair that means nothing else; then the newline is added.
"""

from __future__ import annotations

import pytest

from diffcrew.tools.patch import apply_diff

RST = "Title\n=====\n\nSome text."  # no final newline


@pytest.mark.parametrize("diff, expected", [
    # edits the last line, no marker: the model meant the new text, not a new final newline
    ("@@ -3,2 +3,2 @@\n \n-Some text.\n+Other text.\n", "Title\n=====\n\nOther text."),
    # appends after the last line (kept as context), no marker: the state stays as it was
    ("@@ -3,2 +3,4 @@\n \n Some text.\n+\n+More.\n", "Title\n=====\n\nSome text.\n\nMore."),
    # git's diff that adds the final newline, its marker lost: re-adding the same line means exactly that
    ("@@ -3,2 +3,2 @@\n \n-Some text.\n+Some text.\n", RST + "\n"),
    # git's diff that appends (and so adds the newline) after a line that lacked it, marker lost
    ("@@ -3,2 +3,4 @@\n \n-Some text.\n+Some text.\n+\n+More.\n", "Title\n=====\n\nSome text.\n\nMore.\n"),
    # the same with an edit before it
    ("@@ -2,3 +2,3 @@\n-=====\n-\n-Some text.\n+-----\n+\n+Some text.\n", "Title\n-----\n\nSome text.\n"),
    # git's full diff, markers present: unchanged behaviour
    ("@@ -3,2 +3,2 @@\n \n-Some text.\n\\ No newline at end of file\n+Some text.\n", RST + "\n"),
    ("@@ -3,2 +3,2 @@\n \n-Some text.\n\\ No newline at end of file\n+Other.\n\\ No newline at end of file\n",
     "Title\n=====\n\nOther."),
])
def test_old_file_without_final_newline(diff: str, expected: str) -> None:
    assert apply_diff(RST, diff, "doc.rst").new_text == expected


def test_a_file_with_the_newline_keeps_it_for_a_same_text_pair() -> None:
    # The mirror case (git's "-x / +x / \\ No newline" with the marker lost) is not guessed:
    # dropping a newline the file has, on a diff that does not say so, would be the riskier guess.
    assert apply_diff(RST + "\n", "@@ -3,2 +3,2 @@\n \n-Some text.\n+Some text.\n", "doc.rst").new_text == RST + "\n"


def test_crlf_file_gets_its_own_ending_when_the_newline_is_added() -> None:
    old = "a\r\nb"
    assert apply_diff(old, "@@ -1,2 +1,2 @@\n a\n-b\n+b\n", "t.rst").new_text == "a\r\nb\r\n"


def test_a_marker_in_the_middle_of_a_hunk_says_nothing_about_the_final_newline() -> None:
    # "\ No newline at end of file" after a line that more lines of its side follow cannot be true:
    # it is ignored, so the file keeps its final newline (it used to lose it).
    diff = "@@ -1,3 +1,3 @@\n a\n\\ No newline at end of file\n-b\n+B\n c\n"
    assert apply_diff("a\nb\nc\n", diff, "f.txt").new_text == "a\nB\nc\n"


def test_markers_after_each_side_s_last_line_still_count() -> None:
    diff = "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+B\n"
    assert apply_diff("a\nb", diff, "f.txt").new_text == "a\nB\n"
    diff = "@@ -1,2 +1,2 @@\n a\n-b\n+B\n\\ No newline at end of file\n"
    assert apply_diff("a\nb\n", diff, "f.txt").new_text == "a\nB"


def test_a_marker_before_a_blank_line_that_lost_its_prefix_still_counts() -> None:
    # The @@ counts promise more lines, so the blank line after the hunk reads as context.
    diff = "@@ -1,8 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n\nThat is all.\n"
    assert apply_diff("a\nb", diff, "f.txt").new_text == "a\nb\n"
