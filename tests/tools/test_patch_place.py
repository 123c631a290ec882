"""Where hunks land when their context repeats: offsets carried forward, line numbers as tie-breakers only."""

from __future__ import annotations


from conftest import patch_refusal
from diffcrew.tools.patch import HunkReport, PatchRejected, apply_diff

BLOCK = "[server {}]\nport = 80\nenabled = true\n\n"
CONFIG = "".join(BLOCK.format(name) for name in ("alpha", "beta", "gamma"))
# The same file with a preamble the model did not see: every true line is 4 below the stated one.
PREAMBLE = "# generated\n# do not edit\n# by hand\n\n"


def refused(old: str, diff: str) -> PatchRejected:
    return patch_refusal(old, diff, "c.ini")


def test_stale_stated_line_follows_the_offset_of_the_hunk_before() -> None:
    # Hunk 1 is unique and lands 4 lines below its stated line; hunk 2's context is the same in all
    # three blocks, and its stated line (10) is exactly beta's port line in the real file. GNU patch
    # carries hunk 1's offset and edits gamma; taking the exact match at line 10 edits beta.
    diff = (
        "@@ -1,2 +1,2 @@\n [server alpha]\n-port = 80\n+port = 8080\n"
        "@@ -10,2 +10,2 @@\n port = 80\n-enabled = true\n+enabled = false\n"
    )
    result = apply_diff(PREAMBLE + CONFIG, diff, "c.ini")
    want = PREAMBLE + CONFIG.replace("port = 80", "port = 8080", 1)
    want = want[: want.rindex("enabled = true")] + "enabled = false\n\n"
    assert result.new_text == want
    assert result.hunks == (HunkReport(1, "exact", 5), HunkReport(2, "exact", 14))


VERSE = "la la la\nsing along\nla la la\n\n"
SONG = "Title\n\n" + VERSE * 3


def test_verse_without_line_numbers_is_refused_even_after_the_verse_edited_before() -> None:
    # Hunk 1 edits verse 2 (lines 7-9, stated); hunk 2 has the same context and no numbers. Verses 1
    # and 3 both fit it. Only verse 3 is after hunk 1, but models send hunks out of order too, so
    # the order alone does not tell (without numbers GNU patch and git apply take neither).
    diff = (
        "@@ -7,3 +7,3 @@\n la la la\n-sing along\n+sing louder\n la la la\n"
        "@@ @@\n la la la\n-sing along\n+sing softly\n"
    )
    error = refused(SONG, diff)
    assert [(f.hunk, f.reason) for f in error.failures] == [(2, "ambiguous")]


def test_verse_without_any_line_numbers_is_still_refused() -> None:
    # Hunk 1 is unique (it names the title); every verse comes after it, so hunk 2 stays ambiguous.
    error = refused(SONG, "@@ @@\n Title\n-\n+(chorus)\n@@ @@\n la la la\n-sing along\n+sing louder\n")
    assert [(f.hunk, f.reason) for f in error.failures] == [(2, "ambiguous")]


def test_hunk_without_line_numbers_is_refused_even_with_one_place_after_the_hunk_before() -> None:
    old = "x = 1\ny = 2\n\ndef f():\n    pass\n\nx = 1\ny = 2\n"
    diff = "@@ @@\n def f():\n-    pass\n+    return 0\n@@ @@\n x = 1\n-y = 2\n+y = 3\n"
    error = refused(old, diff)
    assert [(f.hunk, f.reason, f.lines) for f in error.failures] == [(2, "ambiguous", (1, 7))]


def test_two_places_stated_line_three_off_one_and_far_from_other() -> None:
    filler = "".join(f"line {i}\n" for i in range(20))
    old = "    x = 1\n    return x\n" + filler + "    x = 1\n    return x\n"
    # Places at lines 1 and 23; the header says 20, three lines off the second.
    result = apply_diff(old, "@@ -20,2 +20,2 @@\n     x = 1\n-    return x\n+    return x + 1\n", "t.py")
    assert result.new_text == old[: old.rindex("return x")] + "return x + 1\n"
    assert result.hunks == (HunkReport(1, "exact", 23),)


def test_stated_line_between_two_near_places_is_still_refused() -> None:
    old = "    x = 1\n    return x\n\n\n    x = 1\n    return x\n"
    error = refused(old, "@@ -3,2 +3,2 @@\n     x = 1\n-    return x\n+    return x + 1\n")
    assert error.failures[0].lines == (1, 5)
