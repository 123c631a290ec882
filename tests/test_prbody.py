"""`render_pr_body`: the pull-request description, read back with a CommonMark + GFM-tables parser.

The parser (markdown-it-py) is how these tests see what GitHub would render: which headings, table
cells, code spans and fenced blocks there are, so an escape that fails shows as a broken table, a
stray heading or raw HTML, not as a string that merely looks different.
"""

from __future__ import annotations

import copy
import json
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from diffcrew.agent.prbody import BODY_LIMIT, render_pr_body

markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py (a dev dependency) reads the Markdown back")

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "run-report.v2.schema.json").read_text())
BASE = "8732afe6b1b418c35095a03d7ed9393fc6ace76c"
HEADINGS = ["Summary", "Files", "Review", "Checks", "Usage and cost", "Reproduce"]


def sample(**changes: Any) -> dict[str, Any]:
    """A committed run's report, valid against the schema (checked, so the sample cannot drift)."""
    report = {
        "version": 2, "run_id": "20261122-162645-20d11f", "status": "ok", "exit_code": 0,
        "request": "Rename Store.load to Store.from_file", "repo": "/tmp/repo", "base": BASE, "base_ref": "HEAD",
        "branch": "diffcrew/rename-store-load-20d11f", "commit": "7565bc944cca55b212e1292a1997f26269d4bea7",
        "remote": "origin", "reviews": [{"round": 1, "verdict": "approved", "note": "Complete.", "edits": []}],
        "plan": {"summary": "Rename the classmethod and update its caller.", "edits": [
            {"path": "inventory/store.py", "action": "modify", "instructions": "Rename `Store.load` to `from_file`."},
            {"path": "inventory/report.py", "action": "modify", "instructions": "Call `Store.from_file(path)`."},
            {"path": "old.py", "action": "delete", "instructions": "No longer used."}]},
        "files": [
            {"path": "inventory/store.py", "action": "modify", "status": "ok", "attempts": 1, "tiers": ["exact"],
             "error": None, "note": None},
            {"path": "inventory/report.py", "action": "modify", "status": "ok", "attempts": 2,
             "tiers": ["exact-line"], "error": None, "note": None},
            {"path": "old.py", "action": "delete", "status": "ok", "attempts": 0, "tiers": [], "error": None,
             "note": None}],
        "usage": {"orchestrator": {"input_tokens": 1850, "output_tokens": 260, "cache_read_tokens": 1200,
                                   "cache_write_tokens": 300, "calls": 1},
                  "worker": {"input_tokens": 5100, "output_tokens": 430, "cache_read_tokens": 0,
                             "cache_write_tokens": 0, "calls": 3}},
        "cost_usd": 0.02088, "duration_s": 12.345,
        "diffstat": " inventory/report.py | 2 +-\n inventory/store.py  | 2 +-\n old.py | 1 -\n",
        "diff": "",
        "checks": [{"name": "syntax", "status": "pass", "new_failure": False, "duration_s": 0.003, "output": "",
                    "files": [], "base_status": None, "verdict": "pass"},
                   {"name": "pytest -q", "status": "fail", "new_failure": False, "duration_s": 2.5,
                    "output": "1 failed\n```\nnot a fence end", "files": [], "base_status": "fail",
                    "verdict": "pre-existing"}],
        "message": "Rename Store.load to Store.from_file\n\nBody.\n\nDiffcrew-Run: 20261122-162645-20d11f\n",
        "warnings": [], "errors": [], "transcript": "/tmp/repo/.git/diffcrew/runs/20261122-162645-20d11f.jsonl",
    }
    report.update(changes)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    return report


def parse(body: str) -> list[Any]:
    return markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(body)


def headings(tokens: list[Any]) -> list[tuple[str, str]]:
    return [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]


def text_of(inline: Any) -> str:
    """What a reader sees in an inline token: its text and code spans, without the markup."""
    return "".join(c.content for c in inline.children if c.type in ("text", "code_inline", "html_inline"))


def table_rows(tokens: list[Any], first_header: str) -> list[list[Any]]:
    """The body rows (lists of inline tokens) of the table whose first header cell is `first_header`."""
    rows: list[list[Any]] = []
    inside = current = None
    for i, token in enumerate(tokens):
        if token.type == "th_open" and inside is None:
            inside = tokens[i + 1].content == first_header
        elif token.type == "table_close":
            if inside:
                return rows
            inside = None
        elif inside and token.type == "tr_open":
            current = []
        elif inside and token.type == "inline" and current is not None:
            current.append(token)
        elif inside and token.type == "tr_close" and current is not None:
            rows.append(current)
            current = None
    raise AssertionError(f"no table headed {first_header!r}")


def fences(tokens: list[Any]) -> list[Any]:
    return [t for t in tokens if t.type == "fence"]


def raw_html(tokens: list[Any]) -> list[str]:
    """Raw HTML the renderer would pass through (the body's own <details> wrappers aside)."""
    found = [t.content for t in tokens if t.type == "html_block"]
    found += [c.content for t in tokens if t.type == "inline" for c in t.children if c.type == "html_inline"]
    return [h for h in found if not h.strip().startswith(("<details>", "</details>"))]


# -- content -------------------------------------------------------------------------------------

def test_sections_title_files_checks_usage_and_reproduce() -> None:
    body = render_pr_body(sample())
    tokens = parse(body)
    assert body.splitlines()[0] == "# Rename Store.load to Store.from\\_file"
    assert headings(tokens) == [("h1", "Rename Store.load to Store.from\\_file")] + [("h2", h) for h in HEADINGS]
    assert "Rename the classmethod and update its caller." in body
    files = [[text_of(cell) for cell in row] for row in table_rows(tokens, "File")]
    assert files == [["inventory/store.py", "modify", "ok", "Rename Store.load to from_file."],
                     ["inventory/report.py", "modify", "ok (2 attempts)", "Call Store.from_file(path)."],
                     ["old.py", "delete", "ok", "No longer used."]]
    checks = [[text_of(cell) for cell in row] for row in table_rows(tokens, "Check")]
    assert checks == [["syntax", "✅ pass", "pass", "not run", "0.0 s"],
                      ["pytest -q", "⚠️ pre-existing", "fail", "fail", "2.5 s"]]
    usage = [[text_of(cell) for cell in row] for row in table_rows(tokens, "Role")]
    assert usage[0] == ["orchestrator", "1", "1,850", "260", "1,200", "300"]
    assert usage[-1] == ["total", "4", "6,950", "690", "1,200", "300"]
    assert "Estimated cost: **$0.0209**. Duration: 12.3 s." in body
    assert f"Base commit: `{BASE}` (`HEAD`)." in body and "`20261122-162645-20d11f`" in body
    blocks = [f.content for f in fences(tokens)]
    assert "diffcrew replay 20261122-162645-20d11f\n" in blocks
    assert f"diffcrew run --base {BASE} 'Rename Store.load to Store.from_file'\n" in blocks
    assert "1 failed\n```\nnot a fence end\n" in blocks  # the failing check's output, whole


AMENDED = [{"round": 1, "verdict": "amended", "note": "The report still calls `Store.load`.", "edits": [
               {"path": "inventory/report.py", "action": "modify", "instructions": "Call `from_file`.", "added": True},
               {"path": "inventory/store.py", "action": "modify", "instructions": "Keep <b>the</b> docstring.",
                "added": False}]},
           {"round": 2, "verdict": "approved", "note": "The rename is complete.", "edits": []}]


def list_items(tokens: list[Any]) -> list[str]:
    """The text of every list item's paragraph, nested items included, in order."""
    return [text_of(tokens[i + 2]) for i, t in enumerate(tokens)
            if t.type == "list_item_open" and tokens[i + 1].type == "paragraph_open"]


def test_the_review_section_says_what_each_round_asked_for_and_the_approval() -> None:
    body = render_pr_body(sample(reviews=AMENDED))
    tokens = parse(body)
    section = body.split("## Review\n")[1].split("\n## ")[0]
    assert [i for i in list_items(parse(section))] == [
        "Round 1: 🔁 asked for more: The report still calls Store.load.",
        "added (modify) inventory/report.py: Call from_file.",
        "follow-up for inventory/store.py: Keep <b>the</b> docstring.",
        "Round 2: ✅ approved: The rename is complete."]
    assert raw_html(tokens) == []  # the model's <b> shows as typed
    files = {text_of(row[0]): text_of(row[1]) for row in table_rows(tokens, "File")}
    assert files == {"inventory/store.py": "modify", "inventory/report.py": "modify (added by review 1)",
                     "old.py": "delete"}


def test_no_review_section_without_reviews() -> None:
    tokens = parse(render_pr_body(sample(reviews=[])))
    assert "Review" not in [h for _, h in headings(tokens)]
    assert all("added by" not in text_of(row[1]) for row in table_rows(tokens, "File"))


def test_pure_same_text_twice_and_the_report_untouched() -> None:
    report = sample()
    before = copy.deepcopy(report)
    assert render_pr_body(report) == render_pr_body(report)
    assert report == before


def test_unknown_cost_and_no_checks() -> None:
    body = render_pr_body(sample(cost_usd=None, checks=[]))
    assert "unknown (a model is not in the price table)" in body and "No checks ran." in body


def test_failed_run_without_a_plan_is_described_from_the_request() -> None:
    report = sample(status="failed", exit_code=1, branch=None, commit=None, remote=None, plan=None, files=[],
                    checks=[], message="", diffstat="", errors=["the plan was still invalid: .git/config"])
    body = render_pr_body(report)
    tokens = parse(body)
    assert headings(tokens)[0] == ("h1", "Rename Store.load to Store.from\\_file")
    assert "No plan was made" in body and "**failed**" in body
    assert "the plan was still invalid: .git/config" in body
    assert "None" not in body and "null" not in body


def test_a_failed_file_shows_its_error_in_its_row() -> None:
    report = sample(status="partial", exit_code=4)
    report["files"][1].update(status="failed", attempts=3, tiers=[], error="hunk 1: these 2 lines | are not in it")
    rows = table_rows(parse(render_pr_body(report)), "File")
    assert len(rows[1]) == 4
    assert text_of(rows[1][2]) == "failed: hunk 1: these 2 lines | are not in it"


# -- escaping ------------------------------------------------------------------------------------

def test_path_with_pipe_and_backticks_stays_in_one_cell() -> None:
    report = sample()
    for path in ("docs/a|b.md", "weird`name`|x.py"):
        report["plan"]["edits"][0]["path"] = report["files"][0]["path"] = path
        rows = table_rows(parse(render_pr_body(report)), "File")
        assert [len(r) for r in rows] == [4, 4, 4]
        assert text_of(rows[0][0]) == path
        assert [c.type for c in rows[0][0].children] == ["code_inline"]


@pytest.mark.parametrize("instructions,seen", [
    ("Use `a | b` then ` unbalanced", "Use a | b then ` unbalanced"),
    ("Close the tag </td></tr> and <script>alert(1)</script>", "Close the tag </td></tr> and <script>alert(1)</script>"),
    ("See [here](http://x.invalid) and *stars* and _under_ ~~gone~~", "See [here](http://x.invalid) and *stars* and _under_ ~~gone~~"),
    ("Two\nlines\n\nand a blank", "Two lines and a blank"),
    ("``code with ` inside`` stays", "code with ` inside stays"),
    ("- looks like a list | pipe", "- looks like a list | pipe"),
])
def test_instructions_render_as_written_in_their_cell(instructions: str, seen: str) -> None:
    report = sample()
    report["plan"]["edits"][0]["instructions"] = instructions
    tokens = parse(render_pr_body(report))
    rows = table_rows(tokens, "File")
    assert [len(r) for r in rows] == [4, 4, 4]
    cell = rows[0][3]
    assert text_of(cell) == seen
    assert not [c for c in cell.children if c.type in ("html_inline", "link_open", "em_open", "s_open")]
    assert raw_html(tokens) == []


def test_model_text_cannot_add_headings_html_or_swallow_the_rest() -> None:
    summary = "## Checks\n\n<!-- hide everything\n\n```\nunclosed fence\n\n<details>\n\n1. fake list\n# Heading"
    report = sample(message="<img src=x onerror=alert(1)> `title`\n\nbody")
    report["plan"]["summary"] = summary
    report["checks"][0]["name"] = "</summary></details># evil"
    report["reviews"] = [{"round": 1, "verdict": "amended", "note": summary, "edits": [
        {"path": "inventory/report.py", "action": "modify", "instructions": summary, "added": False}]}]
    body = render_pr_body(report)
    tokens = parse(body)
    assert headings(tokens) == [("h1", "\\<img src=x onerror=alert(1)\\> `title`")] + [("h2", h) for h in HEADINGS]
    assert raw_html(tokens) == []
    # the review's own list (a round, and its one file), and no list the model's text made
    assert [t.type for t in tokens if t.type in ("bullet_list_open", "ordered_list_open")] == ["bullet_list_open"] * 2
    assert len(list_items(tokens)) == 2
    assert "diffcrew replay 20261122-162645-20d11f\n" in [f.content for f in fences(tokens)]


@pytest.mark.parametrize("request_text", [
    "plain words",
    "it's \"quoted\" and $(rm -rf /) `whoami` ; echo pwned",
    "```\nfenced in the request\n````\n~~~\nmore",
    "--allow-path '*' -- starts like an option\nsecond line\n\n# heading",
])
def test_request_is_quoted_safely_in_a_fenced_block(request_text: str) -> None:
    tokens = parse(render_pr_body(sample(request=request_text)))
    runs = [f.content for f in fences(tokens) if f.content.startswith("diffcrew run ")]
    assert len(runs) == 1
    assert shlex.split(runs[0]) == ["diffcrew", "run", "--base", BASE, request_text]
    assert [h for _, h in headings(tokens)][-1] == "Reproduce"


def test_a_huge_report_stays_under_githubs_body_limit() -> None:
    report = sample(request="x" * 60_000)
    edits = [{"path": f"pkg/m{i}.py", "action": "modify", "instructions": "Do this. " * 700} for i in range(50)]
    report["plan"]["edits"] = edits
    report["files"] = [{"path": e["path"], "action": "modify", "status": "ok", "attempts": 1, "tiers": ["exact"],
                        "error": None, "note": None} for e in edits]
    report["checks"] = [{"name": f"check {i}", "status": "fail", "new_failure": True, "duration_s": 1.0,
                         "output": "E" * 20_000, "files": [], "base_status": "pass", "verdict": "new-failure"}
                        for i in range(20)]
    sample(**report)  # still a valid report
    body = render_pr_body(report)
    assert len(body) <= BODY_LIMIT
    tokens = parse(body)
    assert len(table_rows(tokens, "File")) == 50 and len(table_rows(tokens, "Check")) == 20
    assert [h for _, h in headings(tokens)][-1] == "Reproduce"
    assert "the report has all of it" in body
