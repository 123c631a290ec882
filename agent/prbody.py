"""The pull-request description of a run: Markdown rendered from the `--json` report.

`render_pr_body(report)` is a pure function of the report dict exactly as `diffcrew run --json`
prints it (schemas/run-report.v2.schema.json): no I/O, no clock, so the same report always gives
the same text. `diffcrew run --pr-body FILE` writes it, and the example GitHub workflow hands
the file to `gh pr create --body-file`.

Text from the user and the model (the request, the plan, paths, check output) must not break the
layout or smuggle in markup. The rules, by where such text lands:
- inline (titles, table cells, list items): whitespace collapses to one line; balanced code spans
  (`x`) are kept as code, everything else has its Markdown and HTML characters backslash-escaped,
  so a stray backtick, `<details>`, `# heading` or `[link](...)` shows as typed;
- table cells also escape `|`, which GitHub honours even inside code spans;
- blocks (the request, check output) go in a fenced code block whose fence is longer than any run
  of backticks inside, so nothing can close it early.
Long pieces are cut (saying so) so the body stays under GitHub's 65,536-character limit.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from diffcrew.agent.pricing import money

__all__ = ["render_pr_body"]

BODY_LIMIT = 65_000           # GitHub refuses pull-request bodies over 65,536 characters
REQUEST_LIMIT = 12_000        # characters of the request quoted in the body
OUTPUT_LIMIT = 1_500          # characters of each failing check's output (its tail)
RATIONALE_LIMIT = 600         # characters of each file's instructions in the table
COMPACT_RATIONALE_LIMIT = 120
TITLE_LIMIT = 120

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_ESCAPED = re.compile(r"([\\`*_\[\]<>&|~])")
_LINE_START = re.compile(r"^(\s*)(#|[-+=]|\d+[.)])")
_STATUS_MARK = {"ok": "✅", "partial": "⚠️", "dry-run": "📝", "failed": "❌"}
_VERDICT_MARK = {"pass": "✅ pass", "new-failure": "❌ new failure", "pre-existing": "⚠️ pre-existing"}


def render_pr_body(report: dict[str, Any]) -> str:
    """Markdown for a pull request: title, summary, files, the review, checks, usage and cost, how to reproduce."""
    body = _render(report, compact=False)
    if len(body) > BODY_LIMIT:  # a very large plan or many failing checks: drop the details
        body = _render(report, compact=True)
    return body


def _render(report: dict[str, Any], compact: bool) -> str:
    sections = [_title(report), _summary(report), _files(report, compact), _review(report, compact),
                _checks(report, compact),
                _notes(report), _usage(report), _reproduce(report)]
    return "\n\n".join(s for s in sections if s) + "\n"


# -- sections ------------------------------------------------------------------------------------

def _title(report: dict[str, Any]) -> str:
    """The commit title (first line of the message); for a run without a commit, the plan or request."""
    plan = report.get("plan") or {}
    for text in (report.get("message"), plan.get("summary"), report.get("request")):
        line = _first_line(text or "")
        if line:
            return f"# {inline(_cut(line, TITLE_LIMIT))}"
    return "# diffcrew run"


def _summary(report: dict[str, Any]) -> str:
    status = str(report.get("status", ""))
    mark = _STATUS_MARK.get(status, "")
    head = f"{mark} diffcrew run {code(report.get('run_id', ''))}: **{inline(status)}**"
    if report.get("branch"):
        head += f" on branch {code(report['branch'])}"
    plan = report.get("plan")
    lines = ["## Summary", "", head]
    if plan and plan.get("summary"):
        lines += ["", paragraphs(plan["summary"])]
    return "\n".join(lines)


def _files(report: dict[str, Any], compact: bool) -> str:
    """One row per planned file: action, outcome, and the orchestrator's instructions as rationale."""
    plan = report.get("plan") or {}
    edits = plan.get("edits") or []
    if not edits:
        return "## Files\n\nNo plan was made, so no file was changed."
    outcome = {f.get("path"): f for f in report.get("files") or []}
    added = _added_by_review(report)
    limit = COMPACT_RATIONALE_LIMIT if compact else RATIONALE_LIMIT
    rows = ["| File | Action | Result | Rationale |", "| --- | --- | --- | --- |"]
    for edit in edits:
        result = outcome.get(edit.get("path"), {})
        action = inline(edit.get("action", ""))
        if edit.get("path") in added:
            action += f" (added by review {added[edit.get('path')]})"
        rows.append("| " + " | ".join([code(edit.get("path", ""), cell=True), action,
                                        _file_result(result),
                                        inline(_cut(edit.get("instructions") or "—", limit), cell=True)]) + " |")
    parts = ["## Files", "", "\n".join(rows)]
    if report.get("diffstat"):
        parts += ["", fenced(report["diffstat"].rstrip("\n"), "text")]
    return "\n".join(parts)


def _added_by_review(report: dict[str, Any]) -> dict[str, int]:
    """The files a review added to the plan, with the round that added them."""
    return {e.get("path"): int(r.get("round") or 0) for r in report.get("reviews") or []
            for e in r.get("edits") or [] if e.get("added")}


def _review(report: dict[str, Any], compact: bool) -> str:
    """Each review round: its verdict and note, and for an amendment the files it added or redirected."""
    reviews = report.get("reviews") or []
    if not reviews:
        return ""
    limit = COMPACT_RATIONALE_LIMIT if compact else RATIONALE_LIMIT
    lines = ["## Review", ""]
    for review in reviews:
        note = inline(_cut(str(review.get("note") or ""), limit))
        if review.get("verdict") == "approved":
            lines.append(f"- Round {int(review.get('round') or 0)}: ✅ **approved**" + (f": {note}" if note else ""))
            continue
        lines.append(f"- Round {int(review.get('round') or 0)}: 🔁 **asked for more**" + (f": {note}" if note else ""))
        for edit in review.get("edits") or []:
            how = f"added ({inline(edit.get('action', ''))})" if edit.get("added") else "follow-up for"
            text = inline(_cut(str(edit.get("instructions") or "—"), limit))
            lines.append(f"  - {how} {code(edit.get('path', ''))}: {text}")
    return "\n".join(lines)


def _file_result(result: dict[str, Any]) -> str:
    if not result:
        return "not run"
    if result.get("status") == "ok":
        tries = result.get("attempts", 0)
        return "ok" + (f" ({tries} attempts)" if tries and tries > 1 else "")
    error = _cut(" ".join(str(result.get("error") or "").split()), 200)
    return "**failed**" + (f": {inline(error, cell=True)}" if error else "")


def _checks(report: dict[str, Any], compact: bool) -> str:
    checks = report.get("checks") or []
    if not checks:
        return "## Checks\n\nNo checks ran" + (" (dry run)." if report.get("status") == "dry-run" else ".")
    rows = ["| Check | Verdict | After the change | On the base | Time |", "| --- | --- | --- | --- | --- |"]
    for check in checks:
        verdict = _VERDICT_MARK.get(check.get("verdict", ""), inline(str(check.get("verdict", ""))))
        base = check.get("base_status") or "not run"
        rows.append(f"| {code(check.get('name', ''), cell=True)} | {verdict} | {inline(str(check.get('status')))} "
                    f"| {inline(str(base))} | {float(check.get('duration_s') or 0):.1f} s |")
    parts = ["## Checks", "", "\n".join(rows)]
    if not compact:
        for check in checks:
            if check.get("status") != "pass" and check.get("output"):
                output = _tail(check["output"], OUTPUT_LIMIT)
                parts += ["", f"<details><summary>Output of {inline(check.get('name', ''))}</summary>", "",
                          fenced(output, "text"), "", "</details>"]
    return "\n".join(parts)


def _notes(report: dict[str, Any]) -> str:
    parts = []
    for heading, items in (("Errors", report.get("errors")), ("Warnings", report.get("warnings"))):
        if items:
            parts.append(f"## {heading}\n\n" + "\n".join(f"- {inline(_cut(str(i), 1_000))}" for i in items))
    return "\n\n".join(parts)


def _usage(report: dict[str, Any]) -> str:
    usage = report.get("usage") or {}
    keys = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    rows = ["| Role | Calls | Input | Output | Cache read | Cache write |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    totals = dict.fromkeys(keys, 0)
    for role, counts in usage.items():
        for key in keys:
            totals[key] += int(counts.get(key, 0))
        rows.append(f"| {inline(role, cell=True)} | " + " | ".join(f"{int(counts.get(k, 0)):,}" for k in keys) + " |")
    rows.append("| **total** | " + " | ".join(f"**{totals[k]:,}**" for k in keys) + " |")
    cost = report.get("cost_usd")
    price = money(cost, "unknown (a model is not in the price table)")
    duration = float(report.get("duration_s") or 0)
    return "\n".join(["## Usage and cost", "", "\n".join(rows), "",
                      f"Estimated cost: **{price}**. Duration: {duration:.1f} s."])


def _reproduce(report: dict[str, Any]) -> str:
    base, run_id = str(report.get("base", "")), str(report.get("run_id", ""))
    request = str(report.get("request", ""))
    if len(request) > REQUEST_LIMIT:
        request = request[:REQUEST_LIMIT]
        note = f"\n\nThe request is cut at {REQUEST_LIMIT:,} characters here; the report has all of it."
    else:
        note = ""
    ref = str(report.get("base_ref") or "")
    base_line = f"Base commit: {code(base)}" + (f" ({code(ref)})" if ref and ref != base else "") + "."
    run = f"diffcrew run --base {shlex.quote(base)} {shlex.quote(request)}"
    return "\n".join([
        "## Reproduce", "", base_line, f"Run id: {code(run_id)}.", "",
        "Replay the recorded model answers (needs the run's transcript, "
        f"{code(f'diffcrew/runs/{run_id}.jsonl')} under the git directory):", "",
        fenced(f"diffcrew replay {shlex.quote(run_id)}", "sh"), "",
        "Or run the original request again on the same base (the model may answer differently):", "",
        fenced(run, "sh") + note])


# -- Markdown helpers ----------------------------------------------------------------------------

def inline(text: str, cell: bool = False) -> str:
    """One line of Markdown showing `text` as written: balanced code spans kept, the rest escaped."""
    line = " ".join(str(text).split())
    out: list[str] = []
    last = 0
    for match in _CODE_SPAN.finditer(line):
        out.append(_escape(line[last:match.start()], at_start=not out and last == 0))
        span = match.group(0)
        out.append(span.replace("|", r"\|") if cell else span)
        last = match.end()
    out.append(_escape(line[last:], at_start=not out))
    return "".join(out)


def paragraphs(text: str) -> str:
    """Multi-line prose: paragraphs (blank-line separated) kept, each rendered with `inline`."""
    blocks = re.split(r"\n\s*\n", str(text).strip())
    return "\n\n".join(inline(block) for block in blocks if block.strip())


def code(text: str, cell: bool = False) -> str:
    """`text` as one code span, whatever backticks it holds."""
    value = re.sub(r"[\r\n\t]", " ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value.strip() else ""
    span = f"{fence}{pad}{value}{pad}{fence}"
    return span.replace("|", r"\|") if cell else span


def fenced(text: str, info: str = "") -> str:
    """A fenced code block that no line of `text` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def _escape(text: str, at_start: bool) -> str:
    escaped = _ESCAPED.sub(r"\\\1", text)
    if at_start:  # list markers, block quotes and setext underlines only matter at a line's start
        escaped = _LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], escaped)
    return escaped


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "[… earlier output cut]\n" + text[-limit:]
