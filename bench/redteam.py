"""Replay every attack of the security issue (13) and print, per item, attacks tried and held.

Not a test run of its own: each attack is a test that drives the real CLI (or, where the hole was
in one function, that function) against the strict fake Messages API on loopback, written to fail
before its fix. This script runs exactly those tests, one pytest session, and reads the outcome of
each (a parametrised test is one attack per case), so the table below is what ran, not a list.

    python bench/redteam.py            # about a minute and a half
    python bench/redteam.py --item 4   # one item

An attack "held" when its test passed: the promise kept. A skipped attack (a permission test run
as root) is counted apart and named.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# item -> (what it is, the test node ids that replay its attacks)
ATTACKS: dict[int, tuple[str, list[str]]] = {
    1: ("a model-chosen file name read as an option by a check",
        ["tests/test_path_rules.py::test_an_option_shaped_plan_path_is_refused",
         "tests/test_path_rules.py::test_the_refused_plan_is_reasked_once_and_a_good_one_goes_through",
         "tests/sandbox/test_check_files.py::test_files_expand_to_paths_that_are_not_options"]),
    2: ("the checks reading the API key from diffcrew's /proc environ",
        ["tests/test_secret_leaks.py::test_a_check_cannot_read_the_api_key_from_any_ancestor",
         "tests/test_secret_leaks.py::test_sealing_makes_the_process_non_dumpable_and_keeps_the_key_for_the_client"]),
    3: ("a redaction token echoed by the model sending the secret back",
        ["tests/test_secret_leaks.py::test_a_secret_found_by_context_never_goes_out_again_whatever_the_model_echoes",
         "tests/test_wire.py::test_a_secret_found_by_its_context_is_redacted_wherever_it_comes_back",
         "tests/test_append_only.py"]),
    4: ("a NUL or control character in a plan path adding tree entries",
        ["tests/test_path_rules.py::test_a_nul_in_a_plan_path_cannot_add_tree_entries",
         "tests/test_path_rules.py::test_control_characters_in_plan_paths_are_refused",
         "tests/test_path_rules.py::test_build_tree_refuses_a_record_injection",
         "tests/test_apply_attacks.py::test_control_characters_in_apply_paths_are_refused"]),
    5: ("secret shapes and secret files the rules missed",
        ["tests/test_secret_rules.py"]),
    6: ("raw secrets at rest (transcript, --json, --pr-body, base URL)",
        ["tests/test_secret_leaks.py::test_secrets_in_the_request_and_checks_are_redacted_at_rest",
         "tests/test_secret_leaks.py::test_credentials_in_the_base_url_are_masked"]),
    7: ("apply writing inside a nested repository's .git",
        ["tests/test_apply_attacks.py::test_nested_git_directories_are_never_written",
         "tests/test_path_rules.py::test_git_directories_at_any_depth_are_refused_in_plans"]),
    8: ("scope widened where the protected list did not look",
        ["tests/test_scope.py"]),
    9: ("apply with two sections for one file losing the first",
        ["tests/test_apply_attacks.py::test_two_sections_for_one_file_apply_in_order",
         "tests/test_apply_attacks.py::test_a_second_section_that_no_longer_matches_is_refused",
         "tests/test_apply_attacks.py::test_the_same_section_twice_is_already_applied"]),
    10: ("pytest -x hiding new failures",
         ["tests/test_verdict_stop_early.py"]),
    11: ("a file and a directory of one name; a 300-character name",
         ["tests/test_path_rules.py::test_a_file_and_a_directory_of_the_same_name_are_refused",
          "tests/test_path_rules.py::test_nesting_is_refused_in_any_letter_case",
          "tests/test_path_rules.py::test_a_300_character_name_is_refused_with_a_reason"]),
    12: ("a catastrophic search pattern past --timeout and Ctrl-C",
         ["tests/test_bounds.py::test_a_catastrophic_search_pattern_is_cut_off_and_the_model_told",
          "tests/test_bounds.py::test_timeout_and_ctrl_c_end_a_run_stuck_in_a_search"]),
    13: ("the verdict's regex on a 120 KB line",
         ["tests/test_bounds.py::test_a_check_printing_one_huge_line_is_judged_quickly"]),
    14: ("1,000 failing hunks in one answer",
         ["tests/test_bounds.py::test_a_thousand_failing_hunks_cost_little_time_and_a_small_repair_text"]),
    15: ("deeply nested JSON, TOML, Python",
         ["tests/test_crashes.py::test_a_deeply_nested_new_file_fails_the_syntax_check_cleanly",
          "tests/test_crashes.py::test_a_deeply_nested_base_file_does_not_break_the_run",
          "tests/test_crashes.py::test_a_deeply_nested_python_file_of_short_lines_does_not_break_the_context",
          "tests/test_crashes.py::test_an_unexpected_error_still_closes_the_transcript"]),
    16: ("a lone surrogate in a plan or a patch; a request that is not UTF-8",
         ["tests/test_crashes.py::test_a_lone_surrogate_in_an_answer_ends_the_role_in_one_line",
          "tests/test_crashes.py::test_a_request_that_is_not_utf8_is_a_usage_error"]),
    17: ("a .git diffcrew cannot write",
         ["tests/test_crashes.py::test_a_git_directory_diffcrew_cannot_write_is_one_line_exit_2",
          "tests/test_crashes.py::test_a_read_only_git_directory_is_one_line_exit_2"]),
    18: ("apply onto a directory, under a file, a failed write",
         ["tests/test_apply_attacks.py::test_a_path_that_is_a_directory_is_refused",
          "tests/test_apply_attacks.py::test_a_path_under_a_file_is_refused_and_leaves_no_directories",
          "tests/test_apply_attacks.py::test_a_failed_write_puts_everything_back_and_leaves_no_directories",
          "tests/test_apply_attacks.py::test_a_300_character_name_is_one_clear_line"]),
    19: ("fix when a write fails, or Ctrl-C between two writes",
         ["tests/test_crashes.py::test_fix_when_a_write_fails_exits_5_in_one_line_and_writes_nothing",
          "tests/test_crashes.py::test_ctrl_c_between_two_writes_of_fix_never_leaves_half_a_fix"]),
    20: ("SIGTERM, SIGHUP, setsid daemons, kill -9",
         ["tests/test_signals.py"]),
    21: ("credentials left in the checks' environment",
         ["tests/test_secret_leaks.py::test_the_check_environment_is_an_allowlist",
          "tests/test_secret_leaks.py::test_a_variable_named_in_diffcrew_check_env_reaches_the_checks"]),
}


def item_of(case: ElementTree.Element) -> int | None:
    """The item a test case replays, from its file and name as the junit report gives them."""
    path = case.get("classname", "").replace(".", "/") + ".py"
    name = case.get("name", "").split("[")[0]
    for item, (_, nodes) in ATTACKS.items():
        for node in nodes:
            file, _, test = node.partition("::")
            if path.endswith(file.removeprefix("tests/")) and (not test or test == name):
                return item
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--item", type=int, choices=sorted(ATTACKS), help="replay one item only")
    args = parser.parse_args()
    items = [args.item] if args.item else sorted(ATTACKS)
    nodes = sorted({node for item in items for node in ATTACKS[item][1]})
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                        *nodes], cwd=ROOT, capture_output=True, text=True)
        cases = ElementTree.parse(report).getroot().iter("testcase")
        outcome: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for case in cases:
            item = item_of(case)
            if item is None or item not in items:
                continue
            kind = ("failed" if case.find("failure") is not None or case.find("error") is not None
                    else "skipped" if case.find("skipped") is not None else "held")
            outcome[item][kind].append(case.get("name", ""))
    tried = held = 0
    print(f"{'item':>4}  {'tried':>5}  {'held':>4}  attack")
    for item in items:
        found = outcome[item]
        n = sum(len(v) for v in found.values())
        tried, held = tried + n, held + len(found["held"])
        extra = "".join(f"\n        {kind}: {', '.join(names)}" for kind, names in found.items() if kind != "held")
        print(f"{item:>4}  {n:>5}  {len(found['held']):>4}  {ATTACKS[item][0]}{extra}")
    print(f"attacks tried {tried}, held {held}")
    return 0 if tried and all(not outcome[i]["failed"] for i in items) and all(outcome[i] for i in items) else 1


if __name__ == "__main__":
    sys.exit(main())
