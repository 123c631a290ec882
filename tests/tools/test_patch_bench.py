"""Regression tests for engine bugs found by bench/apply.py (issue 3): one test per bug, minimal files."""

from __future__ import annotations

import pytest

from diffcrew.tools.errors import PatchError
from diffcrew.tools.patch import PatchRejected, apply_diff


def rejected(old: str, diff: str, path: str = "m.py") -> PatchRejected:
    with pytest.raises(PatchError) as info:
        apply_diff(old, diff, path)
    assert isinstance(info.value, PatchRejected)
    return info.value


# --- already-applied must rest on added text ----------------------------------------------------


def test_removal_at_end_whose_removed_line_is_absent_is_not_already_applied() -> None:
    # What a removal leaves is in the file whether or not it was done: no evidence. (Was: applied as a no-op.)
    rejected("a = 1\nb = 2\nc = 3\n", "@@ -2,3 +2,1 @@\n b = 2\n-c = 30\n-d = 4\n")


def test_removal_at_start_whose_removed_line_is_absent_is_not_already_applied() -> None:
    rejected("# header\nimport os\nimport sys\n", "@@ -1,3 +1,2 @@\n-# header, edited\n import os\n import sys\n")


def test_removal_whose_new_side_repeats_nearby_is_not_already_applied() -> None:
    # The new side (keep, tail) occurs at lines 3-4, where the removed block ends like its context.
    old = "keep\nbody()\nkeep\ntail\n"
    rejected(old, "@@ -1,4 +1,2 @@\n keep\n-body(1)\n-keep\n tail\n")


def test_removal_really_already_done_is_refused_not_guessed() -> None:
    # The price of the rule: a pure removal that was done already is refused (with repair text), never applied.
    error = rejected("a\nc\n", "@@ -1,3 +1,2 @@\n a\n-b\n c\n")
    assert "hunk 1" in str(error)


def test_whitespace_only_change_is_not_already_applied_at_a_loose_tier() -> None:
    # The hunk strips trailing spaces; the file still has them, so the added line is not there byte for byte.
    old = "x = 1   \ny = 2\n"
    rejected(old, "@@ -1,2 +1,2 @@\n-x = 1    # edited\n+x = 1\n y = 2\n")


def test_added_blank_line_missing_from_file_is_not_already_applied() -> None:
    old = "def f():\n    return 1\ndef g():\n    return 2\n"
    rejected(old, "@@ -1,4 +1,5 @@\n def f():\n-    return 0\n+    return 1\n+\n def g():\n")


def test_already_applied_needs_the_final_newline_state_the_hunk_sets() -> None:
    diff = "@@ -1,2 +1,2 @@\n a\n-b = 0\n\\ No newline at end of file\n+b\n"
    rejected("a\nb", diff)  # the diff adds the final newline; the file still lacks it (was: no-op)
    result = apply_diff("a\nb\n", diff, "m.py")
    assert result.new_text == "a\nb\n" and result.hunks[0].tier == "already-applied"


def test_already_applied_that_removes_the_final_newline() -> None:
    diff = "@@ -1,2 +1,2 @@\n a\n-b = 0\n+b\n\\ No newline at end of file\n"
    rejected("a\nb\n", diff)
    assert apply_diff("a\nb", diff, "m.py").hunks[0].tier == "already-applied"


def test_already_applied_still_works_for_real_additions() -> None:
    old = "def f():\n    return 2\n"
    result = apply_diff(old, "@@ -1,2 +1,2 @@\n def f():\n-    return 1\n+    return 2\n", "m.py")
    assert result.new_text == old and result.hunks[0].tier == "already-applied"


# --- re-indenting added lines ---------------------------------------------------------------------


def test_whitespace_only_added_line_is_kept_verbatim_when_the_hunk_is_reindented() -> None:
    old = "class A:\n    def f(self):\n        x = 1\n        return x\n"
    hunk = ["   def f(self):", "       x = 1", "+        ", "       return x"]  # 2 spaces short, but the blank
    diff = "@@ -2,3 +2,4 @@\n" + "\n".join(hunk) + "\n"
    assert apply_diff(old, diff, "m.py").new_text == old.replace("x = 1\n", "x = 1\n        \n")
