"""The matching policy (tools/patch.py's docstring): one test per case it applies or refuses."""

from __future__ import annotations

import pytest

from conftest import patch_refusal
from diffcrew.tools.patch import Applied, HunkReport, apply_diff

CODE = """def load(path):
    with open(path) as f:
        data = f.read()
    return data


def save(path, data):
    with open(path, "w") as f:
        f.write(data)
    return len(data)
"""


refused = patch_refusal


def applies(old: str, diff: str, want: str, tier: str = "", path: str = "m.py") -> Applied:
    """Apply, check the result is `want` and (if given) that every hunk was located at `tier`."""
    result = apply_diff(old, diff, path)
    assert result.new_text == want
    assert not tier or {h.tier for h in result.hunks} == {tier}
    return result


# --- content must match: removed lines and the context next to a change ---------------------------


def test_renamed_identifier_in_adjacent_context_is_refused() -> None:
    diff = "@@ -2,3 +2,4 @@\n     with open(path) as fh:\n+        print(path)\n         data = f.read()\n"
    error = refused(CODE, diff)
    failure = error.failures[0]
    assert failure.reason == "context-mismatch"
    assert "'    with open(path) as fh:'" in failure.message
    assert "line 2 is '    with open(path) as f:'" in failure.message
    assert "     2 |     with open(path) as f:" in failure.message
    assert "\n" not in failure.summary and "line 2" in failure.summary


def test_number_changed_in_removed_line_is_refused() -> None:
    old = "x = 1\ny = 2\nz = 3\n"
    assert refused(old, "@@ -1,3 +1,3 @@\n x = 1\n-y = 20\n+y = 4\n z = 3\n").failures[0].reason == "no-match"


def test_outer_context_mismatch_not_adjacent_still_applies_trimmed() -> None:
    diff = (
        "@@ -7,4 +7,4 @@\n def save(path, data, mode):\n     with open(path, \"w\") as f:\n"
        "-        f.write(data)\n+        f.write(data.strip())\n     return len(data)\n"
    )
    want = CODE.replace("f.write(data)", "f.write(data.strip())")
    assert applies(CODE, diff, want).hunks == (HunkReport(1, "trimmed", 8),)


def test_far_context_trimmed_down_to_the_removed_line_alone_applies() -> None:
    # The hunk's only non-blank context, two lines below the change, was misremembered; the blank
    # line next to the change protects nothing, so this hunk is refused ...
    old = "# Title\n\nintro text here\n\n## Usage\n\nold usage line\n"
    refused(old, "@@ -3,3 +3,3 @@\n-intro text here\n+new intro\n \n ## Using it\n")
    # ... while with a real line kept next to the change, the wrong far one is trimmed and the
    # removed line (evidence of the place too) needs no other non-blank context.
    diff = "@@ -2,5 +2,5 @@\n \n-intro text here\n+new intro\n \n ## Usage\n \n more usage\n"
    applies(old, diff, old.replace("intro text here", "new intro"), tier="trimmed")


def test_trimming_never_leaves_only_blank_context_and_added_lines() -> None:
    # An insertion whose only context left after trimming is blank has nothing to place it by.
    old = "alpha\n\nbeta\n\ngamma\n"
    refused(old, "@@ -2,3 +2,4 @@\n \n+inserted\n \n delta\n")


def test_pure_insertion_whose_adjacent_context_contradicts_the_file_is_refused() -> None:
    # Two trimmings used to fit: drop "b2" (insert before "c") or drop "c2" (insert after "b"), and
    # the hunk was applied at one of them although neither line next to the insertion is in the file.
    old = "a\nb\nc\nd\n"
    error = refused(old, "@@ -1,4 +1,5 @@\n a\n b2\n+new\n c2\n d\n")
    assert error.failures[0].reason in ("context-mismatch", "no-match")
    # With only one contradicting line, the message names it and the real line.
    error = refused(old, "@@ -1,4 +1,5 @@\n a\n b\n+new\n c2\n d\n")
    assert error.failures[0].reason == "context-mismatch"
    assert "'c2'" in error.failures[0].message and "line 3 is 'c'" in error.failures[0].message


def test_trimming_keeps_both_lines_next_to_a_removal() -> None:
    old = "one\ntwo\nthree\nfour\nfive\n"
    error = refused(old, "@@ -1,5 +1,4 @@\n one\n two\n-three\n FOUR\n five\n")
    assert error.failures[0].reason == "context-mismatch"


# --- whitespace drift that varies line by line --------------------------------------------------

NESTED = "class A:\n    def f(self):\n        if x:\n            y()\n\n        return 1\n"


def test_context_drifting_differently_per_line_applies_exactly() -> None:
    # One line lost a space, one gained trailing spaces, the blank line lost its leading space;
    # the added line is written right, so it is kept as written.
    diff = (
        "@@ -2,5 +2,6 @@\n     def f(self):\n        if x:\n             y()   \n\n"
        "+        z()\n         return 1\n"
    )
    applies(NESTED, diff, NESTED.replace("\n        return 1", "\n        z()\n        return 1"), "drift", "a.py")


def test_whole_hunk_shifted_with_one_line_drifting_follows_the_majority() -> None:
    # Everything 4 columns short, one context line 5 short: the added line is moved by the majority's 4.
    diff = "@@ -2,3 +2,4 @@\n def f(self):\n    if x:\n         y()\n+        z()\n"
    applies(NESTED, diff, NESTED.replace("y()\n", "y()\n            z()\n"), "drift", "a.py")


RUST = "fn main() {\n    let x = 1;\n    if x > 0 {\n        println!(\"{}\", x);\n    }\n}\n"


def test_non_uniform_tab_space_drift_in_rust_applies_exactly() -> None:
    diff = (
        "@@ -2,4 +2,5 @@\n \tlet x = 1;\n     if x > 0 {\n \t\tprintln!(\"{}\", x);\n"
        "+        let y = x;\n \t}\n"
    )
    applies(RUST, diff, RUST.replace("x);\n", "x);\n        let y = x;\n"), path="main.rs")


def test_tabbed_file_with_context_in_spaces_and_tabs_reindents_added_lines_with_tabs() -> None:
    old = "func f() {\n\tif a {\n\t\tb()\n\t}\n}\n"
    diff = "@@ -2,3 +2,4 @@\n \tif a {\n         b()\n+        c()\n   }\n"
    applies(old, diff, "func f() {\n\tif a {\n\t\tb()\n\t\tc()\n\t}\n}\n", path="f.go")


# --- repeated context, stated line a few lines off -----------------------------------------------

FILLER = "".join(f"# filler {i}\n" for i in range(12))
TWICE = "def a():\n    x = 1\n    return x\n" + FILLER + "def b():\n    x = 1\n    return x\n"
LAST_EDITED = TWICE[: TWICE.rindex("return x")] + "return x + 1\n"


def test_repeated_block_with_stated_line_three_off_applies_to_the_near_one() -> None:
    diff = "@@ -14,2 +14,2 @@\n     x = 1\n-    return x\n+    return x + 1\n"
    assert applies(TWICE, diff, LAST_EDITED, path="t.py").hunks == (HunkReport(1, "exact", 17),)


def test_stated_line_three_off_breaks_the_tie_at_the_drift_tier() -> None:
    # x = 1 a column short, the removed line right: drift, and the added line level with the removed one.
    diff = "@@ -14,2 +14,2 @@\n    x = 1\n-    return x\n+    return x + 1\n"
    result = apply_diff(TWICE, diff, "t.py")
    assert result.hunks[0].tier == "drift"
    assert result.new_text == LAST_EDITED
    assert result.hunks[0].line == 17


def test_stated_line_three_off_breaks_the_tie_when_trimmed() -> None:
    diff = "@@ -13,3 +13,3 @@\n def zzz():\n     x = 1\n-    return x\n+    return x + 1\n"
    assert applies(TWICE, diff, LAST_EDITED, path="t.py").hunks == (HunkReport(1, "trimmed", 17),)


def test_stated_line_off_by_the_carried_offset_and_three_more() -> None:
    # Hunk 1 lands 4 lines below its stated line; hunk 2's stated 14 + 4 is 3 off the second block (21)
    # and far from the first (6); without the carried offset, 14 is not near either.
    old = "# a\n# b\n# c\n# d\n" + TWICE
    diff = (
        "@@ -1,1 +1,1 @@\n-def a():\n+def a0():\n"
        "@@ -14,2 +14,2 @@\n     x = 1\n-    return x\n+    return x + 1\n"
    )
    result = apply_diff(old, diff, "t.py")
    want = old.replace("def a():", "def a0():")
    assert result.new_text == want[: want.rindex("return x")] + "return x + 1\n"
    assert [h.line for h in result.hunks] == [5, 21]


# --- look-alike punctuation ----------------------------------------------------------------------


def test_punctuation_drift_applies_and_leaves_added_lines_alone() -> None:
    old = 'msg = "it\'s done - really..."\nprint(msg)\n'
    diff = (
        "@@ -1,2 +1,3 @@\n msg = \u201cit\u2019s done \u2013 really\u2026\u201d\n"
        "+note = 'plain'\n print(msg)\n"
    )
    applies(old, diff, 'msg = "it\'s done - really..."\nnote = \'plain\'\nprint(msg)\n', "punctuation", "p.py")


def test_punctuation_drift_with_look_alikes_in_the_added_lines_too_is_refused() -> None:
    # The context's quotes were turned typographic; the added line's may have been too ('note = “smart”'
    # is not Python), so the added text is not known.
    old = 'msg = "it\'s done - really..."\nprint(msg)\n'
    diff = (
        "@@ -1,2 +1,3 @@\n msg = \u201cit\u2019s done \u2013 really\u2026\u201d\n"
        "+note = \u201csmart\u201d\n print(msg)\n"
    )
    assert refused(old, diff, "p.py").failures[0].reason == "unclear-punctuation"


def test_punctuation_drift_in_the_file_and_ascii_in_the_diff() -> None:
    old = "title = \u201cHello\u201d\ncount = 1\n"
    result = apply_diff(old, '@@ -1,2 +1,2 @@\n title = "Hello"\n-count = 1\n+count = 2\n', "p.py")
    assert result.new_text == "title = \u201cHello\u201d\ncount = 2\n"


def test_stated_line_three_off_breaks_the_tie_at_the_punctuation_tier() -> None:
    old = "".join(f'say("{w}")\nlog(1)\n' + FILLER for w in ("hi", "hi"))
    diff = "@@ -14,2 +14,2 @@\n say(\u201chi\u201d)\n-log(1)\n+log(2)\n"
    result = apply_diff(old, diff, "t.py")
    assert result.new_text == old[: old.rindex("log(1)")] + "log(2)\n" + FILLER
    assert [(h.tier, h.line) for h in result.hunks] == [("punctuation", 15)]


def test_punctuation_tier_does_not_equate_different_words() -> None:
    old = 'msg = "it\'s done"\nprint(msg)\n'
    assert refused(old, "@@ -1,2 +1,2 @@\n msg = \u201cit\u2019s gone\u201d\n-print(msg)\n+log(msg)\n").failures


# --- hunks sharing an unchanged line -------------------------------------------------------------


SHARED = [  # (file, diff, result): a shared unchanged line is rendered once
    ("a\nb\nc\nd\ne\n", "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -3,3 +3,3 @@\n c\n-d\n+D\n e\n", "a\nB\nc\nD\ne\n"),
    ("a\nb\nc\nd\ne\nf\n", "@@ -1,4 +1,4 @@\n a\n-b\n+B\n c\n d\n@@ -3,4 +3,4 @@\n c\n d\n-e\n+E\n f\n",
     "a\nB\nc\nd\nE\nf\n"),
]


@pytest.mark.parametrize(("old", "diff", "want"), SHARED)
def test_hunks_sharing_unchanged_lines_apply_them_once(old: str, diff: str, want: str) -> None:
    applies(old, diff, want, path="x.txt")


def test_hunks_overlapping_on_a_changed_line_are_still_refused() -> None:
    diff = "@@ -1,3 +1,3 @@\n a\n b\n-c\n+C\n@@ -3,3 +3,3 @@\n c\n-d\n+D\n e\n"
    assert [f.reason for f in refused("a\nb\nc\nd\ne\n", diff, "x.txt").failures] == ["overlap"]


def test_insertion_after_a_shared_line_is_refused() -> None:
    old = "a\nb\nc\nd\ne\n"
    diff = "@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+x\n@@ -3,3 +4,3 @@\n c\n-d\n+D\n e\n"
    assert [f.reason for f in refused(old, diff, "x.txt").failures] == ["overlap"]


# --- -U0 pure additions at the file's edges ------------------------------------------------------


def test_zero_context_insertion_at_the_start() -> None:
    result = apply_diff("a\nb\n", "@@ -0,0 +1,2 @@\n+x\n+y\n", "x.txt")
    assert result.new_text == "x\ny\na\nb\n"
    assert result.hunks == (HunkReport(1, "edge", 1),)


def test_zero_context_insertion_at_the_end() -> None:
    assert apply_diff("a\nb\n", "@@ -2,0 +3,2 @@\n+x\n+y\n", "x.txt").new_text == "a\nb\nx\ny\n"


def test_zero_context_insertion_at_the_end_after_an_offset() -> None:
    # Hunk 1 removes a line: the file the model saw had 4 lines, now 3 before hunk 2 runs on the old file.
    old = "a\nb\nc\n"
    diff = "@@ -1,2 +1,1 @@\n a\n-b\n@@ -3,0 +2,1 @@\n+z\n"
    assert apply_diff(old, diff, "x.txt").new_text == "a\nc\nz\n"
    moved = "@@ -2,1 +2,1 @@\n-c\n+C\n@@ -2,0 +3,1 @@\n+z\n"  # hunk 1 lands 1 below its line: 2 + 1 = 3
    assert apply_diff(old, moved, "x.txt").new_text == "a\nb\nC\nz\n"


def test_zero_context_insertion_in_the_middle_is_refused() -> None:
    assert refused("a\nb\nc\n", "@@ -1,0 +2,1 @@\n+x\n", "x.txt").failures[0].reason == "no-anchor"


def test_zero_context_removal_is_located_by_its_removed_line() -> None:
    assert apply_diff("a\nb\nc\n", "@@ -2,1 +1,0 @@\n-b\n", "x.txt").new_text == "a\nc\n"


def test_offset_is_carried_from_a_trimmed_hunk() -> None:
    # Hunk 1 fits only trimmed ("# wrong" is not in the file) and lands 8 lines below its stated line;
    # hunk 2's stated line 19 plus that offset is exactly the second block (without it: neither).
    old = "".join(f"# gen {i}\n" for i in range(10)) + TWICE
    diff = (
        "@@ -1,4 +1,4 @@\n # wrong\n # gen 9\n-def a():\n+def a0():\n     x = 1\n"
        "@@ -19,2 +19,2 @@\n     x = 1\n-    return x\n+    return x + 1\n"
    )
    want = old.replace("def a():", "def a0():")
    result = applies(old, diff, want[: want.rindex("return x")] + "return x + 1\n", path="t.py")
    assert [(h.tier, h.line) for h in result.hunks] == [("trimmed", 10), ("exact", 27)]


def test_a_hunk_sharing_a_line_is_not_pushed_past_it_to_a_repeat() -> None:
    # Hunk 2's context is at line 3 (shared with hunk 1) and again at line 7: without numbers it is
    # ambiguous, not the later copy; with its line number it applies, sharing line 3.
    old = "a\nb\nc\nd\ne\nX\nc\nd\ne\n"
    first = "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
    error = refused(old, first + "@@ @@\n c\n-d\n+D\n e\n", "x.txt")
    assert [(f.hunk, f.reason) for f in error.failures] == [(2, "ambiguous")]
    applies(old, first + "@@ -3,3 +3,3 @@\n c\n-d\n+D\n e\n", "a\nB\nc\nD\ne\nX\nc\nd\ne\n", path="x.txt")


def test_added_block_beside_one_drifted_neighbour_keeps_its_indentation() -> None:
    # The line right below the added block gained a space of indentation; the line above it did
    # not: the majority (no shift) keeps the block level with the line above, as written.
    old = "OUTPUT MODES:\n!!output-modes!!\n\nLOGGING OPTIONS:\n!!logging!!\n"
    diff = "@@ -1,5 +1,8 @@\n OUTPUT MODES:\n !!output-modes!!   \n\n+INDEXING:\n+!!indexing!!\n+\n  LOGGING OPTIONS:\n !!logging!!\n"
    want = "OUTPUT MODES:\n!!output-modes!!\n\nINDEXING:\n!!indexing!!\n\nLOGGING OPTIONS:\n!!logging!!\n"
    applies(old, diff, want, tier="drift")


def test_added_block_after_a_closing_line_that_gained_one_space() -> None:
    # The only neighbour of the added block drifted by one column: one column is not a nesting level.
    old = "fn a() {\n    let x = 1;\n    check(x);\n}\n"
    diff = "@@ -2,3 +2,6 @@\n     let x = 1;\n     check(x);   \n  }\n+\n+fn b() {\n+}\n"
    applies(old, diff, old + "\nfn b() {\n}\n", tier="drift")


def test_added_line_keeps_a_look_alike_the_file_itself_uses() -> None:
    # The model curled the context's apostrophe; the em dash in both lines is the file's own.
    old = "# Wiki\n\nA mirror of Anthropic's docs \u2014 1,540 articles.\n\nMore.\n"
    diff = ("@@ -1,5 +1,5 @@\n # Wiki\n \n-A mirror of Anthropic\u2019s docs \u2014 1,540 articles.\n"
            "+A mirror of Anthropic's docs \u2014 1,539 articles.\n \n More.\n")
    applies(old, diff, old.replace("1,540", "1,539"), tier="punctuation")
