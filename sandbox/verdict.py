"""The differential verdict: does a check's failure after the change show anything the base lacks?

A check that passes after the change is fine. One that fails (or times out) after the change but
passed on the base is a new failure. When it fails on both, we compare outputs:

1. Each line is normalised: the workspace path is already gone (outputs are made relative at
   capture), temp paths become <tmp>, what still names a sandbox (another spelling of its path,
   its folder's name: base and change run in different ones) becomes <sandbox>, hex ids and
   addresses become <hex>, durations <time>, and free-standing numbers N (so line numbers that
   shift when code moves do not count, while digits inside names such as test_2 or F401 are kept).
2. A line is a *diagnostic* if it names a failure (FAIL, error, Traceback, assert, panic, ...),
   points at a place (`file.ext:N`, `file.ext(N`), or starts with a rule code (E501, F401, TS2304).
   Tally lines ("N failed, N passed", "Found N errors") are not diagnostics; their counts are
   compared instead.
3. The failure is new if the changed output holds some diagnostic line more often than the base
   output does, or a failure tally (failed / error / failure) grew. If neither output has any
   diagnostic line at all, any normalised line the base output lacks makes it new.

A run that stopped at its first failure(s) (`pytest -x`, `--maxfail`, a collection error) after the
change saw only part of the suite: when a failure already on the base stops both runs at the same
place, the outputs compare equal whatever the change broke further on. What the run could not see
cannot be compared, so a failing check that stopped early counts as new, with a note saying why.

A time-out on both sides is not new (we cannot tell); a time-out after the change when the base
finished is new; a failure after the change when the base timed out is not counted (the base gave
us nothing to compare with: the check is unreliable, and blocking on it would blame the change).
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter

from diffcrew.tools.statedir import SANDBOX_PREFIX

FAILURE_WORD = re.compile(
    r"\b(fail(ed|ure|ures|s)?|errors?|exception|traceback|panic(ked)?|fatal|assert(ion)?\w*|abort(ed)?"
    r"|segmentation fault|undefined|not found|cannot|unable|invalid|denied)\b|\bE\s{2,}", re.IGNORECASE)
# A warning is not a failure: a change that adds one to an already failing check is not to blame.
WARNING = re.compile(r"warn(ing)?", re.IGNORECASE)
# `name.ext:N` or `name.ext(N`. Written without a leading `[\w.\-/]+`, which backtracked over every
# start position of a long line (quadratic: a minute on one 120 KB line); the match is the same.
PLACE = re.compile(r"[\w.\-/]\.\w+(?::N|\(N)")
RULE_CODE = re.compile(r"^\s*(-->\s*)?[A-Z]{1,5}\d{2,5}\b")
TALLY = re.compile(r"\b(\d+)\s+(failed|failures?|errors?)\b", re.IGNORECASE)
TALLY_NORMALISED = re.compile(r"\bN\s+(failed|failures?|errors?)\b", re.IGNORECASE)
HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,64}\b")
DURATION = re.compile(r"\b\d+(\.\d+)?\s*(ms|µs|us|ns|s|sec|secs|seconds?|min|minutes?|h)\b")
NUMBER = re.compile(r"(?<![\w.])\d+(\.\d+)*(?![\w])")
TEMP_PATH = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^\s:'\"),]*")
# A path up to and including a sandbox's folder (`.../.git/diffcrew/sandboxes/diffcrew-wt-<run>-<hex>`),
# or that folder's name alone. Only tried on lines holding the name (the optional prefix backtracks).
SANDBOX_PATH = re.compile(r"(?:[^\s:'\"(),]*/)?" + re.escape(SANDBOX_PREFIX) + r"[\w-]*")
STOPPED_EARLY = re.compile(r"stopping after \d+ failures?|Interrupted: \d+ errors? during collection", re.IGNORECASE)
STOPPED_NOTE = ("[diffcrew: this check stopped at its first failure (pytest -x or --maxfail), so it could not show "
                "failures after that point; counted against the change. Drop -x from the check to compare whole runs]")
TRIM_HEAD_LINES, TRIM_TAIL_LINES, TRIM_CHARS = 20, 60, 8000


def normalise(line: str) -> str:
    line = TEMP_PATH.sub("<tmp>", line.strip())
    if SANDBOX_PREFIX in line:
        line = SANDBOX_PATH.sub("<sandbox>", line)
    line = HEX.sub("<hex>", line)
    line = DURATION.sub("<time>", line)
    return NUMBER.sub("N", line)


def diagnostics(output: str) -> Counter[str]:
    """The normalised diagnostic lines of an output, with how often each occurs."""
    return _classify(output)[0]


def _classify(output: str) -> tuple[Counter[str], Counter[str]]:
    """(diagnostic lines, other lines), normalised; tally-only lines are in neither (compared as counts)."""
    found: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for raw in output.splitlines():
        line = normalise(raw)
        if not line:
            continue
        untallied = TALLY_NORMALISED.sub("", line)
        if FAILURE_WORD.search(untallied):
            found[line] += 1
        elif (PLACE.search(line) or RULE_CODE.search(line)) and not WARNING.search(line):
            found[line] += 1
        elif not TALLY.search(raw):
            other[line] += 1
    return found, other


def tallies(output: str) -> Counter[str]:
    """Failure counts reported by the tool itself ("3 failed", "Found 2 errors"), summed per kind."""
    counts: Counter[str] = Counter()
    for number, word in TALLY.findall(output):
        kind = word.lower().rstrip("s")
        counts["failure" if kind == "failed" else kind] += int(number)
    return counts


def new_lines(changed: str, base: str) -> list[str]:
    """Diagnostic lines of `changed` beyond those of `base` (or all lines, if neither has diagnostics)."""
    (after, after_other), (before, before_other) = _classify(changed), _classify(base)
    if not after and not before:
        after, before = after_other, before_other
    extra = after - before
    return [line for line in after if line in extra]


def is_new_failure(status: str, base_status: str | None, changed: str, base: str) -> bool:
    """The differential rule of the module docstring."""
    if status == "pass":
        return False
    if base_status in (None, "pass"):
        return True
    if base_status == "timeout":
        return False
    if status == "timeout":
        return True  # it finished (failing) on the base and hangs now: the change made it hang
    if base_status == "error":
        return status != "error"
    if stopped_early(changed):
        return True
    before = tallies(base)
    if any(count > before[kind] for kind, count in tallies(changed).items()):
        return True
    return bool(new_lines(changed, base))


def stopped_early(output: str) -> bool:
    """Whether the check says it stopped before running everything (see the module docstring)."""
    return bool(STOPPED_EARLY.search(output))


def trim(output: str) -> str:
    """The head and tail of an output, within TRIM_CHARS, saying what was cut."""
    lines = output.rstrip("\n").splitlines()
    if len(lines) > TRIM_HEAD_LINES + TRIM_TAIL_LINES:
        cut = len(lines) - TRIM_HEAD_LINES - TRIM_TAIL_LINES
        lines = [*lines[:TRIM_HEAD_LINES], f"[... {cut} lines cut ...]", *lines[-TRIM_TAIL_LINES:]]
    text = "\n".join(lines)
    if len(text) > TRIM_CHARS:
        head = text[: TRIM_CHARS // 4]
        tail = text[-(TRIM_CHARS * 3 // 4):]
        text = f"{head}\n[... {len(text) - len(head) - len(tail)} characters cut ...]\n{tail}"
    return text


def files_named(text: str, paths: list[str]) -> tuple[str, ...]:
    """Which of `paths` (repository-relative) `text` mentions as a whole path."""
    named = []
    for path in paths:
        if re.search(r"(?<![\w.\-/])(\./)?" + re.escape(path) + r"(?![\w\-/]|\.\w)", text):
            named.append(path)
    return tuple(named)
