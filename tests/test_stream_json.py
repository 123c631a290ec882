"""CI sees progress and can read it (issue 18, item 3): `--json` keeps the plain progress lines on
stderr, and `--stream-json` prints one JSON object per line on stdout as the run goes, the report last.

Every line of real runs (the real CLI in-process, the SDK talking HTTP to the fake Messages API) is
validated against schemas/run-events.v1.schema.json, and the last against the run report's schema;
between them the runs below produce every event type the schema declares.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from conftest import make_repo, patch_turn, run_cli, udiff
from diffcrew.agent.events import ContextRead, Warned, WorkerRunning
from diffcrew.agent.streamjson import STREAM_VERSION, StreamView, event_record
from diffcrew.agent.view import QuietView
from scenarios import FILES, MOD, MOD_NEW, four_file_script
from terminal import run_on_a_terminal

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
EVENTS = json.loads((SCHEMAS / "run-events.v1.schema.json").read_text(encoding="utf-8"))
REPORT = json.loads((SCHEMAS / "run-report.v2.schema.json").read_text(encoding="utf-8"))
REGISTRY = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in (EVENTS, REPORT)])
EVENT_TYPES = {EVENTS["$defs"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"] for ref in EVENTS["oneOf"]}
SECRET = "AKIA" + "QWERTYUIOPASDFGH"  # an AWS access key id's shape: redacted wherever it stands
REQUEST = "type the greeting"


def errors(schema: dict[str, Any], line: dict[str, Any]) -> list[str]:
    checker = jsonschema.Draft202012Validator(schema, registry=REGISTRY,
                                              format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in checker.iter_errors(line)]


def stream_lines(stdout: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the event lines, the report), each line checked against its schema."""
    lines = [json.loads(text) for text in stdout.splitlines()]  # every line one JSON object, nothing else
    *events, report = lines
    assert events[0] == {"type": "start", "version": STREAM_VERSION, "elapsed_s": events[0]["elapsed_s"]}
    for event in events:
        assert errors(EVENTS, event) == [], event
    assert "type" not in report and errors(REPORT, report) == [], report
    times = [e["elapsed_s"] for e in events]
    assert times == sorted(times)
    return events, report


def rich_script() -> dict[str, list[dict[str, Any]]]:
    """Exploration, a retry, a repair, a review that amends the plan and one that approves."""
    bad = udiff("pkg/mod.py", MOD, MOD_NEW).replace("-def greet(name):", "-def greet(nme):")
    amend = {"tool": "amend_plan", "input": {"summary": "Document the types.", "edits": [
        {"path": "README.md", "action": "modify", "instructions": "Say that greet is typed."}]}}
    return four_file_script({
        "orchestrator": [{"tool": "search_code", "input": {"pattern": SECRET}},
                         *four_file_script()["orchestrator"]],
        "worker:pkg/mod.py": [{"http_error": 429, "retry_after": 0.05}, patch_turn(bad),
                              patch_turn(udiff("pkg/mod.py", MOD, MOD_NEW))],
        "worker:README.md": [patch_turn(udiff("README.md", "# demo\n", "# demo\n\ngreet is typed.\n"))],
        "review": [amend, {"tool": "approve_change", "input": {"note": "Complete now."}}]})


def stream_run(tmp_path: Path, server, turns: dict[str, Any], *args: str, code: int = 0) -> Any:
    repo = tmp_path / "repo" if (tmp_path / "repo").exists() else make_repo(tmp_path / "repo", FILES)
    server.set_script(turns)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--stream-json", *args, REQUEST], server)
    assert result.exit_code == code, result.output
    return result


def test_every_line_of_real_runs_validates_and_the_report_comes_last(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    (repo / "pkg" / "util.py").write_text(FILES["pkg/util.py"] + "# mine\n")  # uncommitted: a warning
    rich = stream_run(tmp_path, server, rich_script(), "--review-rounds", "2")
    events, report = stream_lines(rich.stdout)
    assert report["status"] == "ok" and report["reviews"][0]["verdict"] == "amended"
    bad = udiff("pkg/mod.py", MOD, MOD_NEW).replace("-def greet(name):", "-def greet(nme):")
    failed = stream_run(tmp_path, server, four_file_script({"worker:pkg/mod.py": [patch_turn(bad)] * 3}), code=1)
    failed_events, failed_report = stream_lines(failed.stdout)
    assert failed_report["status"] == "failed"
    seen = {e["type"] for e in events + failed_events}
    assert seen == EVENT_TYPES  # every type the schema declares was produced, and validated
    assert {e["state"] for e in events + failed_events if e["type"] == "worker"} == {"running", "repairing", "done",
                                                                                     "failed"}
    kinds = [e["type"] for e in events]
    assert kinds.index("context") < kinds.index("plan") < kinds.index("worker") < kinds.index("checks")
    assert kinds.index("review_started") < kinds.index("review")
    assert [e["review"]["verdict"] for e in events if e["type"] == "review"] == ["amended", "approved"]
    assert [e["review"] for e in events if e["type"] == "review"] == report["reviews"]
    calls = [e for e in events if e["type"] == "model_call"]
    assert len(calls) == sum(u["calls"] for u in report["usage"].values())


def test_stream_strings_are_redacted_with_the_runs_tokens(tmp_path: Path, server) -> None:
    result = stream_run(tmp_path, server, rich_script(), "--review-rounds", "2")
    (explored,) = [e for e in stream_lines(result.stdout)[0] if e["type"] == "explore"]
    assert SECRET not in result.stdout and explored["input"]["pattern"].startswith("[REDACTED-SECRET-")
    (transcript,) = (tmp_path / "repo" / ".git" / "diffcrew" / "runs").glob("*.jsonl")
    recorded = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert [e["input"] for e in recorded if e["kind"] == "explore"] == [explored["input"]]


def test_the_last_line_is_the_json_report(tmp_path: Path, server) -> None:
    """The same report as --json prints (indented there, one line here)."""
    streamed = stream_run(tmp_path, server, four_file_script(), "--dry-run")
    server.set_script(four_file_script())
    plain = run_cli(["run", "--repo", str(tmp_path / "repo"), "--yes", "--json", "--dry-run", REQUEST], server)
    last, report = json.loads(streamed.stdout.splitlines()[-1]), json.loads(plain.stdout)
    assert plain.stdout.startswith("{\n  ") and len(streamed.stdout.splitlines()[-1].splitlines()) == 1
    skip = {"run_id", "duration_s", "transcript", "usage", "cost_usd"}  # the second run reads the cache

    def same_run(report: dict) -> dict:  # what two runs of one script share (a dry run is checked: timed)
        checks = [{k: v for k, v in c.items() if k != "duration_s"} for c in report.get("checks", [])]
        return {**{k: v for k, v in report.items() if k not in skip}, "checks": checks}

    assert same_run(last) == same_run(report)


def test_demo_and_replay_stream_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo's repository
    demo = run_cli(["demo", "--keep", "--stream-json", "-q"])  # kept: the replay runs in it
    assert demo.exit_code == 0, demo.output
    events, report = stream_lines(demo.stdout)
    assert report["branch"] == "diffcrew/demo" and demo.stderr == ""  # -q: no plain lines, the stream stays
    replay = run_cli(["replay", report["run_id"], "--repo", report["repo"], "--stream-json", "--yes"])
    assert replay.exit_code == 0, replay.output
    replayed, again = stream_lines(replay.stdout)
    assert again["status"] == "ok" and sorted(e["type"] for e in replayed) == sorted(e["type"] for e in events)


@pytest.mark.parametrize("command", [["run", REQUEST], ["demo"], ["replay", "20260101-000000-abcdef"]])
def test_json_with_stream_json_is_refused_in_one_line(tmp_path: Path, command: list[str]) -> None:
    result = run_cli([*command, "--json", "--stream-json", "--repo", str(tmp_path)] if command[0] != "demo"
                     else [*command, "--json", "--stream-json"], env={"ANTHROPIC_API_KEY": "sk-ant-test"})
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("diffcrew: error: --json and --stream-json cannot be used together: --stream-json "
                             "ends with the --json report, on one line\n")


# -- --json keeps the progress on stderr ----------------------------------------------------------

def test_json_keeps_plain_progress_on_stderr_and_verbose_adds_the_calls(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    runs = {}
    for flag in ("", "-v", "-q"):
        server.set_script(four_file_script())
        runs[flag] = run_cli(["run", "--repo", str(repo), "--yes", "--json", *([flag] if flag else []), REQUEST],
                             server)
        assert runs[flag].exit_code == 0, runs[flag].output
        assert json.loads(runs[flag].stdout)["status"] == "ok"
    assert "diffcrew: read 5 tracked files" in runs[""].stderr and "  worker  pkg/mod.py: done" in runs[""].stderr
    assert "  call    orchestrator: " not in runs[""].stderr
    assert "  call    orchestrator: " in runs["-v"].stderr and "  worker  pkg/mod.py: done" in runs["-v"].stderr
    assert runs["-q"].stderr == ""


def test_json_on_a_terminal_prints_plain_lines_not_a_live_view(tmp_path: Path) -> None:
    env = {"TERM": "xterm-256color", "TMPDIR": str(tmp_path), "PATH": os.environ["PATH"]}
    code, output = run_on_a_terminal(["diffcrew", "demo", "--json"], env)
    assert code == 0, output
    text = output.decode("utf-8", "replace")
    assert "  worker  inventory/store.py: running" in text and '"branch": "diffcrew/demo"' in text
    assert "\x1b[?25l" not in text and "\x1b[2K" not in text  # no live region: no hidden cursor, no erased lines


# -- the listener itself --------------------------------------------------------------------------

def test_each_event_is_written_when_it_is_emitted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    lines: list[str] = []
    with StreamView(QuietView(), repo, write=lines.append) as view:
        assert [json.loads(line)["type"] for line in lines] == ["start"]
        view.emit(ContextRead(3, 120))
        assert len(lines) == 2 and json.loads(lines[-1])["files"] == 3
        view.emit(WorkerRunning("a.py"))
        view.emit(Warned(f"found {SECRET}"))
        assert [json.loads(line)["type"] for line in lines] == ["start", "context", "worker", "warning"]
    assert SECRET not in lines[-1] and "[REDACTED-SECRET-" in lines[-1]
    assert all(errors(EVENTS, json.loads(line)) == [] for line in lines)
    assert event_record(WorkerRunning("a.py"))["state"] == "running"


def test_the_schema_documents_every_property() -> None:
    jsonschema.Draft202012Validator.check_schema(EVENTS)
    assert EVENTS["$id"].endswith(":v1") and STREAM_VERSION == 1
    for name, definition in EVENTS["$defs"].items():
        assert definition.get("description"), name
        for prop, sub in definition.get("properties", {}).items():
            assert sub.get("description") or sub.get("$ref") == "#/$defs/elapsed_s", f"{name}.{prop}"
