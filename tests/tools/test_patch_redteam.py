"""Red-team cases: inputs on which the engine once returned a wrong result, or refused what GNU patch
and git apply apply exactly. One test per behaviour."""

from __future__ import annotations

import pytest

from conftest import patch_refusal
from diffcrew.tools.patch import apply_diff


refused = patch_refusal


NESTED = "def f(x):\n    if x:\n        a = 1\n        b = 2\n    return x\n"


THREE = "def f(x):\n    if x:\n        a = 1\n        b = 2\n        c = 3\n    return x\n"


@pytest.mark.parametrize("old, diff", [
    # Context flattened to column 0: the if-body is off by 8, the rest by 4, two votes each. The added
    # line sits between the if-body and `return`: in the block or after it is not known (it once went
    # to column 0, ending the function).
    (NESTED, "@@ -2,4 +2,5 @@\n if x:\n a = 1\n b = 2\n+log(x)\n return x\n"),
    # Three if-body lines outvote the rest (+8), but the added line follows `return` (+4): the majority
    # once put it 8 deep after `return x`, an IndentationError.
    (THREE, "@@ -2,5 +2,6 @@\n if x:\n a = 1\n b = 2\n c = 3\n return x\n+log(x)\n"),
])
def test_drift_never_guesses_whether_an_added_line_is_inside_a_block(old: str, diff: str) -> None:
    assert refused(old, diff).failures[0].reason == "unclear-indent"


def test_drift_keeps_the_added_line_level_with_the_context_around_it() -> None:
    # One context line drifted, far from the added line: the line is placed as the model wrote it.
    diff = "@@ -2,4 +2,5 @@\n   if x:\n         a = 1\n         b = 2\n+        c = 3\n     return x\n"
    assert apply_diff(NESTED, diff, "m.py").new_text == NESTED.replace("b = 2\n", "b = 2\n        c = 3\n")


TWO_METHODS = (
    "class A:\n    def f(self):\n        x = 1\n        log(x)\n        return x\n\n"
    "class B:\n    def g(self):\n        x = 1\n        return x\n"
)
ADD_LOG = "     def f(self):\n         x = 1\n+        log(x)\n         return x\n"


def test_already_applied_elsewhere_does_not_hide_a_trimmed_fit_at_the_stated_line() -> None:
    # Meant for B.g (line 8) with A's def line copied as outer context: A.f already has the new side,
    # and trimmed, the old side fits B.g right at the stated line. It was once skipped as already
    # applied; GNU patch applies it to B.g with fuzz 1.
    result = apply_diff(TWO_METHODS, "@@ -8,3 +8,4 @@\n" + ADD_LOG, "m.py")
    assert result.new_text == TWO_METHODS.replace("x = 1\n        return", "x = 1\n        log(x)\n        return")
    assert result.hunks[0].tier == "trimmed"


def test_already_applied_at_the_stated_new_line_wins_over_a_trimmed_fit() -> None:
    result = apply_diff(TWO_METHODS, "@@ -2,3 +2,4 @@\n" + ADD_LOG, "m.py")
    assert result.new_text == TWO_METHODS
    assert result.hunks[0].tier == "already-applied"


def test_already_applied_or_trimmed_elsewhere_without_numbers_is_ambiguous() -> None:
    failure = refused(TWO_METHODS, "@@ @@\n" + ADD_LOG).failures[0]
    assert failure.reason == "ambiguous"
    assert failure.lines == (2, 9)


def test_a_diff_whose_first_line_shows_the_bom_matches_the_file_with_its_bom() -> None:
    # git and GNU patch see the BOM as the first line's content, and so does such a diff.
    old = "\ufeffa\nb\nc\n"
    assert apply_diff(old, "@@ -1,3 +1,3 @@\n \ufeffa\n-b\n+B\n c\n", "t.txt").new_text == "\ufeffa\nB\nc\n"


def test_a_diff_that_removes_the_bom_removes_it() -> None:
    # It was once taken as already applied (its new side 'a', 'b' is in the file): the BOM stayed.
    result = apply_diff("\ufeffa\nb\n", "@@ -1,2 +1,2 @@\n-\ufeffa\n+a\n b\n", "t.txt")
    assert result.new_text == "a\nb\n"
    assert result.hunks[0].tier == "exact-line"


def test_a_bom_the_diff_does_not_show_is_kept() -> None:
    assert apply_diff("\ufeffa\nb\n", "@@ -1,2 +1,2 @@\n a\n-b\n+B\n", "t.txt").new_text == "\ufeffa\nB\n"


def test_a_line_ending_conversion_whose_crs_were_lost_is_refused_not_a_no_op() -> None:
    # git's diff of a CRLF -> LF conversion is "-a\r" "+a"; once the CRs are stripped from the diff the
    # hunk adds back what it removes. It was once applied as a no-op (the file kept its CRLF endings,
    # where git apply and GNU patch convert them).
    diff = "--- a/t.txt\n+++ b/t.txt\n@@ -1,2 +1,2 @@\n-a\r\n-b\r\n+a\n+b\n"
    assert refused("a\r\nb\r\n", diff, "t.txt").failures[0].reason == "no-change"


def test_same_text_pair_on_the_last_line_is_still_the_final_newline_shape() -> None:
    assert apply_diff("a\nb", "@@ -1,2 +1,2 @@\n a\n-b\n+b\n", "t.txt").new_text == "a\nb\n"


def test_same_text_pair_over_trailing_whitespace_still_strips_it() -> None:
    # The removed line lost its trailing spaces (a model's copy): the file's line differs, so it is a change.
    assert apply_diff("x = 1  \ny = 2\n", "@@ -1,2 +1,2 @@\n-x = 1\n+x = 1\n y = 2\n", "t.py").new_text == "x = 1\ny = 2\n"


def test_a_moved_line_is_not_a_no_change_hunk() -> None:
    # Removed 'b' and added 'b' are the same text, but in other places: a real change.
    assert apply_diff("b\na\na\n", "@@ -1,3 +1,3 @@\n-b\n a\n a\n+b\n", "t.txt").new_text == "a\na\nb\n"


@pytest.mark.parametrize("old, diff", [
    # Python: the blank lines between two functions were left out of the hunk; the new function goes
    # right after a(), among the blank lines or right before b(): not known. It once went right after
    # a()'s body with no blank line.
    ("def a():\n    pass\n\n\ndef b():\n    pass\n",
     "@@ -1,4 +1,7 @@\n def a():\n     pass\n+def c():\n+    pass\n def b():\n"),
    ("a\n\nb\n", "@@ -1,2 +1,3 @@\n a\n+x\n b\n"),
])
def test_added_lines_where_the_hunk_skipped_blank_lines_are_refused(old: str, diff: str) -> None:
    assert refused(old, diff).failures[0].reason == "ambiguous"


def test_a_change_next_to_skipped_blank_lines_still_applies() -> None:
    # The removed line anchors the added one: the skipped blank line stays where it was.
    assert apply_diff("a\n\nb\nc\n", "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n", "t.txt").new_text == "a\n\nB\nc\n"


def test_a_stated_line_near_two_copies_breaks_no_tie() -> None:
    # Copies of the block at lines 4 and 8; the @@ line says 11: 3 off the second, 7 off the first.
    # A miscount of a few lines cannot tell them apart; it once went to line 8 (within NEAR).
    block = "    x = 1\n    return x\n"
    old = "def a():\n    pass\n\n" + block + "\n\n" + block + "".join(f"# {i}\n" for i in range(10))
    diff = "@@ -11,2 +11,2 @@\n     x = 1\n-    return x\n+    return 2\n"
    failure = refused(old, diff).failures[0]
    assert failure.reason == "ambiguous"
    assert failure.lines == (4, 8)


def test_a_stated_line_near_one_copy_and_far_from_the_other_still_picks_it() -> None:
    block = "    x = 1\n    return x\n"
    old = block + "".join(f"# {i}\n" for i in range(12)) + block
    diff = "@@ -13,2 +13,2 @@\n     x = 1\n-    return x\n+    return 2\n"
    assert apply_diff(old, diff, "t.py").new_text == old[: old.rindex("return x")] + "return 2\n"


def test_out_of_order_hunks_without_numbers_never_land_by_order_alone() -> None:
    # The diff lists the 'd' hunk last though it belongs at line 3; its context also fits line 8,
    # the only place after the hunk before it. The order once put it there.
    old = "a\nd\nd\nb\nc\nz\nz\nd\nd\n"
    diff = "@@ @@\n a\n+x\n d\n@@ @@\n b\n+y\n c\n@@ @@\n d\n+w\n d\n"
    failure = refused(old, diff).failures[0]
    assert (failure.hunk, failure.reason, failure.lines) == (3, "ambiguous", (2, 8))


def test_a_blank_line_next_to_a_removal_must_be_in_the_file() -> None:
    # '-b' then a blank context line: the blank line is what says which 'b'. Blank lines are skipped at
    # the whitespace tier, so this once removed the 'b' at line 5, which has no blank line after it
    # (here the diff had been applied already: line 1's 'b' is gone).
    old = "\nif y:\na\ndef f():\nb\n    z()\n"
    assert refused(old, "--- a/f.py\n+++ b/f.py\n@@ -1,2 +1 @@\n-b\n \n").failures


def test_a_removed_blank_line_the_file_lacks_is_not_removed_silently() -> None:
    # The blank line is gone already (the diff was applied): the added line was once added a second time.
    old = "if y:\ndef f():\n    d\n    return x\n    z()\ndef f():\n"
    diff = "@@ -1,6 +1,6 @@\n if y:\n def f():\n     d\n-\n     return x\n     z()\n+def f():\n"
    result = apply_diff(old, diff, "f.py")
    assert result.new_text == old
    assert result.hunks[0].tier == "already-applied"


def test_trimming_keeps_the_nearest_non_blank_line_next_to_a_change() -> None:
    # The blank line next to the removal protects nothing at the loose tiers; trimming the non-blank
    # 'def f():' after it once let the hunk remove the other 'def f():' (line 5).
    old = "c\n    d\na\n\ndef f():\n    d\n\n"
    diff = "@@ -1,8 +1,7 @@\n c\n     d\n a\n-def f():\n \n def f():\n     d\n \n"
    assert refused(old, diff).failures


def test_a_hunk_sent_again_is_not_applied_to_another_copy_of_its_old_side() -> None:
    # Its new side is right at its stated line: it was applied. Its old side also fits line 4; applying
    # it there would add a second '    e'.
    old = "b\na\n    z()\nif y:\na\nb\n    e\n    e\n    e\nif y:\n    e\na\n"
    diff = "@@ -10,2 +10,3 @@\n if y:\n+    e\n a\n"
    failure = refused(old, diff).failures[0]
    assert (failure.reason, failure.lines) == ("ambiguous", (4, 10))


def test_an_added_line_left_of_the_shift_is_not_clamped_to_column_0() -> None:
    # Context indented 4 too far, the added line at column 0: it was not shifted like the context, so
    # the shift says nothing about it (it was once clamped to column 0, as were any lines after it).
    old = "def f():\n    a = 1\n    b = 2\n"
    diff = "@@ -1,3 +1,5 @@\n     def f():\n         a = 1\n         b = 2\n+\n+def g():\n"
    assert refused(old, diff).failures[0].reason == "unclear-indent"


def test_a_hunk_whose_new_side_is_already_at_its_stated_line_is_not_applied_again() -> None:
    # git's t4113 shape: 'a b +c' on 'a b c'. Old side and new side both sit at line 1: applied already,
    # or meant to add a second 'c'? git apply refuses, GNU patch calls it previously applied; it once
    # gave 'a b c c'.
    diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,3 @@\n a\n b\n+c\n"
    failure = refused("a\nb\nc\n", diff, "f.txt").failures[0]
    assert (failure.reason, failure.lines) == ("ambiguous", (1,))


def test_smart_quotes_in_context_and_added_lines_are_not_guessed() -> None:
    # Something turned the diff's quotes typographic: the context only matches with look-alikes equal
    # to ASCII. The added line has them too; it was once written as is, which is not valid Python.
    old = 'greeting = "hello"\nprint(greeting)\n'
    diff = "@@ -1,2 +1,3 @@\n greeting = \u201chello\u201d\n+name = \u201cworld\u201d\n print(greeting)\n"
    assert refused(old, diff).failures[0].reason == "unclear-punctuation"


@pytest.mark.parametrize("old, diff, want", [
    # git's diff of a mixed-ending file: the edited line is the one CRLF line of an LF file...
    ("a\nb\r\nc\nd\ne\n", "--- a/t.txt\n+++ b/t.txt\n@@ -1,4 +1,4 @@\n a\n-b\r\n+B\r\n c\n d\n", "a\nB\r\nc\nd\ne\n"),
    # ...or the one LF line of a CRLF file. Both once took their neighbours' ending.
    ("a\r\nb\nc\r\nd\r\ne\r\n", "--- a/t.txt\n+++ b/t.txt\n@@ -1,4 +1,4 @@\n a\r\n-b\n+B\n c\r\n d\r\n",
     "a\r\nB\nc\r\nd\r\ne\r\n"),
])
def test_a_line_edited_in_place_keeps_its_own_ending_in_a_mixed_file(old: str, diff: str, want: str) -> None:
    assert apply_diff(old, diff, "t.txt").new_text == want
