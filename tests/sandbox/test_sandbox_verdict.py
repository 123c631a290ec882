"""The differential rule and output trimming, on outputs shaped like real tools' (no processes)."""

from __future__ import annotations

from diffcrew.sandbox.verdict import files_named, is_new_failure, new_lines, normalise, trim

PYTEST_BASE = """\
.F.                                                                      [100%]
=================================== FAILURES ===================================
_____________________________ test_known_broken ______________________________
tests/test_old.py:2: in test_known_broken
E       assert 1 == 2
=========================== short test summary info ============================
FAILED tests/test_old.py::test_known_broken - assert 1 == 2
1 failed, 2 passed in 0.05s
"""


def test_normalise_hides_what_changes_between_runs_but_keeps_names() -> None:
    assert normalise("tests/test_2.py:41: in test_x 0x7f3a2b 1.25s /tmp/diffcrew-wt-x/a.py") == \
        "tests/test_2.py:N: in test_x <hex> <time> <tmp>"
    assert normalise("a.py:12:5: F401 `os` imported but unused") == "a.py:N:N: F401 `os` imported but unused"


def test_a_sandbox_named_another_way_compares_equal_between_base_and_change() -> None:
    """Base and change run in different sandboxes (`<git-common-dir>/diffcrew/sandboxes/<name>`); the
    exact path is stripped at capture, but not another spelling of it, nor the folder's name alone."""
    change = ("E   error: /r/.git/diffcrew/sandboxes/../sandboxes/diffcrew-wt-20261202-ab12-5f3e9a0c/a.py:3 bad\n"
              "FAILED: cannot build diffcrew-wt-20261202-ab12-5f3e9a0c (see log)\n")
    base = change.replace("ab12-5f3e9a0c", "ab12-base-0d1c2b3a")
    assert normalise(change.splitlines()[0]) == "E   error: <sandbox>/a.py:N bad"
    assert normalise(change.splitlines()[1]) == normalise(base.splitlines()[1]) == \
        "FAILED: cannot build <sandbox> (see log)"
    assert not is_new_failure("fail", "fail", change, base)


def test_same_failures_with_more_tests_and_shifted_lines_are_not_new() -> None:
    changed = PYTEST_BASE.replace(".F.", ".F....").replace("2 passed in 0.05s", "5 passed in 0.31s") \
        .replace("test_old.py:2:", "test_old.py:7:")
    assert not is_new_failure("fail", "fail", changed, PYTEST_BASE)


def test_another_failing_test_is_new() -> None:
    changed = PYTEST_BASE + "FAILED tests/test_mod.py::test_add - assert 3 == 4\n"
    assert is_new_failure("fail", "fail", changed, PYTEST_BASE)
    assert new_lines(changed, PYTEST_BASE) == ["FAILED tests/test_mod.py::test_add - assert N == N"]


def test_a_grown_failure_tally_is_new_and_a_shrunk_one_is_not() -> None:
    assert is_new_failure("fail", "fail", "Found 3 errors.", "Found 2 errors.")
    assert not is_new_failure("fail", "fail", "Found 1 error.", "Found 2 errors.")


def test_a_repeated_lint_message_counts_each_time() -> None:
    base = "a.py:3:1: F401 `os` imported but unused\nFound 1 error.\n"
    changed = "a.py:3:1: F401 `os` imported but unused\na.py:9:1: F401 `os` imported but unused\nFound 2 errors.\n"
    assert is_new_failure("fail", "fail", changed, base)


def test_a_new_warning_alone_does_not_make_a_failure_new() -> None:
    base = "E   assert 1 == 2\nFAILED t.py::test_a\n"
    assert not is_new_failure("fail", "fail", base + "src/m.py:3: DeprecationWarning: old api\n", base)


def test_statuses_decide_before_outputs() -> None:
    assert not is_new_failure("pass", "fail", "", "")
    assert is_new_failure("fail", "pass", "", "")
    assert is_new_failure("timeout", "fail", "", "")
    assert not is_new_failure("timeout", "timeout", "", "")
    assert not is_new_failure("fail", "timeout", "error: x", "")
    assert not is_new_failure("error", "error", "sh: 1: nope: not found", "sh: 1: nope: not found")
    assert is_new_failure("fail", "error", "oops", "")


def test_outputs_without_diagnostics_compare_line_by_line() -> None:
    assert not is_new_failure("fail", "fail", "oops 12\n", "oops 7\n")
    assert is_new_failure("fail", "fail", "oops\nsomething else\n", "oops\n")


def test_trim_keeps_head_and_tail_and_says_what_was_cut() -> None:
    text = "\n".join(f"line {i}" for i in range(1000))
    trimmed = trim(text)
    assert trimmed.startswith("line 0\n") and trimmed.endswith("line 999")
    assert "[... 920 lines cut ...]" in trimmed
    wide = trim("x" * 20_000)
    assert len(wide) < 8200 and "characters cut" in wide
    assert trim("short\n") == "short"


def test_files_named_matches_whole_paths_only() -> None:
    text = 'File "pkg/a.py", line 3\nsrc/data.py:1: error\nmy dir/b c.py::test_x\npkg/a.pyc'
    assert files_named(text, ["pkg/a.py", "a.py", "data.py", "my dir/b c.py", "src/data.py"]) == \
        ("pkg/a.py", "my dir/b c.py", "src/data.py")
