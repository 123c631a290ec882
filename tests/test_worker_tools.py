"""Workers that read (issue 16): read_file and search_code on the base commit, for --worker-turns turns.

Every run goes through the real CLI and the real SDK to the strict fake Messages API server, which
refuses a conversation whose thinking blocks or tools changed between turns, a forced tool_choice,
or a tool_use left without its tool_result.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from children import finish
from conftest import diffcrew_branches, git, make_repo, plan_turn, run_cli, summary_turn, udiff
from diffcrew.agent.transcript import read_transcript

OLD = "def load(path):\n    return open(path).read()\n"
NEW = "def from_file(path):\n    return open(path).read()\n"
APP = "from cfg import load\n\nprint(load('x'))\n"
LIB = "import cfg\n\n\ndef read_all(paths):\n    return [cfg.load(p) for p in paths]\n"
SECRET = "sk-secret-0123456789abcdef"
FILES = {"cfg.py": OLD, "app.py": APP, "lib.py": LIB, ".env": f"API_KEY={SECRET}\n",
         "private/keys.py": f"TOKEN = '{SECRET}'\n"}
PATCH = udiff("cfg.py", OLD, NEW)
WORKER_TOOLS = ["read_file", "search_code", "submit_patch"]


def call(name: str, **tool_input: object) -> dict[str, Any]:
    return {"tool": name, "input": tool_input}


def submit(note: str | None = None) -> dict[str, Any]:
    return call("submit_patch", patch=PATCH, **({"note": note} if note is not None else {}))


def script(worker: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {"orchestrator": [plan_turn("Rename load.", [("cfg.py", "modify", "Rename load to from_file.")])],
            "worker:cfg.py": worker, "synthesizer": [summary_turn()]}


def run(tmp_path: Path, server, worker: list[dict[str, Any]], *args: str, code: int = 0) -> tuple[Path, Any]:
    repo = tmp_path / "repo" if (tmp_path / "repo").exists() else make_repo(tmp_path / "repo", FILES)
    server.set_script(script(worker))
    result = run_cli(["run", "--repo", str(repo), "--yes", *args, "rename load"], server)
    assert result.exit_code == code, result.output
    return repo, result


def asks(server) -> list[Any]:
    return [r for r in server.requests if r.key == "worker:cfg.py"]


def answers(request) -> list[dict[str, Any]]:
    """The last user message of a request: the answers to the turn before it."""
    return request.body["messages"][-1]["content"]


def results(request) -> list[dict[str, Any]]:
    return [b for b in answers(request) if b.get("type") == "tool_result"]


def test_a_worker_reads_two_files_and_searches_the_base_commit_before_its_patch(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    (repo / "app.py").write_text("print('only in the working tree')\n")  # uncommitted: workers see the base
    _, result = run(tmp_path, server, [call("read_file", path="app.py"), call("read_file", path="lib.py", start_line=4),
                                       call("search_code", pattern=r"load\("), submit()])
    worker = asks(server)
    assert len(worker) == 4 and all(r.status == 200 for r in server.requests)
    # the same tools and tool_choice auto on every turn (thinking is bound to the tools)
    assert all([t["name"] for t in r.body["tools"]] == WORKER_TOOLS for r in worker)
    assert all(r.body["tool_choice"] == {"type": "auto"} for r in worker)
    # every earlier assistant turn goes back as it came, its signed thinking block first
    for number, ask in enumerate(worker):
        turns = [m["content"] for m in ask.body["messages"] if m["role"] == "assistant"]
        assert len(turns) == number
        assert all(t[0]["type"] == "thinking" and t[0]["signature"] for t in turns)
    (read_app,), (read_lib,), (searched,) = (results(r) for r in worker[1:])
    assert not read_app["is_error"] and "print(load('x'))" in read_app["content"]
    assert "only in the working tree" not in str([r.body for r in server.requests])
    assert "lines 4-5 of 5" in read_lib["content"] and "cfg.load(p)" in read_lib["content"]
    assert "app.py:3:" in searched["content"] and "lib.py:5:" in searched["content"]
    assert "worker  cfg.py: explore read_file path='app.py'" in result.stderr
    assert "worker  cfg.py: done after 4 attempt(s)" in result.stderr
    explored = [e for e in read_transcript(transcript(repo)) if e["kind"] == "explore"]
    assert [(e.get("path"), e["tool"]) for e in explored] == [("cfg.py", "read_file"), ("cfg.py", "read_file"),
                                                             ("cfg.py", "search_code")]
    assert git(repo, "show", f"{diffcrew_branches(repo)[0]}:cfg.py") == NEW


def transcript(repo: Path) -> Path:
    (path,) = (repo / ".git" / "diffcrew" / "runs").glob("*.jsonl")
    return path


def test_exploring_past_worker_turns_is_refused_and_the_worker_then_submits(tmp_path: Path, server) -> None:
    reads = [call("read_file", path=p) for p in ("app.py", "lib.py", "app.py")]
    repo, result = run(tmp_path, server, [*reads, submit()], "--worker-turns", "2", "--repair-rounds", "1")
    worker = asks(server)
    assert len(worker) == 4
    # the answer to the last allowed turn says so, in the conversation (the tools stay the same)
    last_words = answers(worker[2])[-1]
    assert last_words["type"] == "text" and "your next answer must call `submit_patch`" in last_words["text"]
    assert worker[2].body["tools"] == worker[0].body["tools"]
    (refused,) = results(worker[3])
    assert refused["is_error"] and "No turns for reading or searching are left" in refused["content"]
    assert "print(load('x'))" not in refused["content"]  # the third read was not answered
    assert "worker  cfg.py: repairing (No turns for reading" in result.stderr
    assert len(diffcrew_branches(repo)) == 1


def test_a_refused_exploration_costs_a_repair_round(tmp_path: Path, server) -> None:
    """With --repair-rounds 0, the one answer that is not an allowed exploration must be the patch."""
    reads = [call("read_file", path="app.py")] * 3
    repo, result = run(tmp_path, server, [*reads, submit()], "--worker-turns", "2", "--repair-rounds", "0", code=1)
    assert len(asks(server)) == 3
    assert "cfg.py: no usable patch after 1 attempt(s): No turns for reading" in result.stderr
    assert diffcrew_branches(repo) == []


@pytest.mark.parametrize("tool_input", [
    {"path": ".env"}, {"path": ".git/config"}, {"path": "../x"}, {"path": "/etc/passwd"},
    {"path": "private/keys.py"}, {"path": "nope.py"}])
def test_a_worker_cannot_read_a_denied_secret_or_escaping_path(tmp_path: Path, server,
                                                               tool_input: dict[str, str]) -> None:
    run(tmp_path, server, [call("read_file", **tool_input), submit()], "--deny", "private/*")
    (answer,) = results(asks(server)[1])
    assert answer["is_error"]
    assert SECRET not in answer["content"] and "[core]" not in answer["content"]
    assert SECRET not in json.dumps([r.body for r in server.requests])


def test_a_worker_search_never_shows_secret_or_denied_files(tmp_path: Path, server) -> None:
    run(tmp_path, server, [call("search_code", pattern="sk-secret|TOKEN|API_KEY"), submit()], "--deny", "private/*")
    (answer,) = results(asks(server)[1])
    assert not answer["is_error"] and answer["content"].startswith("0 matching line(s)")
    assert SECRET not in json.dumps([r.body for r in server.requests])


def test_with_worker_turns_0_every_exploration_is_refused_from_the_first_turn(tmp_path: Path, server) -> None:
    repo, result = run(tmp_path, server, [call("search_code", pattern="load"), submit()], "--worker-turns", "0")
    first, second = asks(server)
    # the same tools are offered (one request shape); the instructions say there are no turns
    assert [t["name"] for t in first.body["tools"]] == WORKER_TOOLS == [t["name"] for t in second.body["tools"]]
    system = first.body["system"][0]["text"]
    assert "no turns to read or search" in system and "at most" not in system
    (refused,) = results(second)
    assert refused["is_error"] and "No turns for reading" in refused["content"] and "app.py" not in refused["content"]
    assert not any(b.get("type") == "text" for b in answers(second))  # no "last turn" note: there was none
    assert len(diffcrew_branches(repo)) == 1


def test_the_default_turns_are_in_the_instructions_and_settable_by_variable_and_config(tmp_path: Path,
                                                                                      server) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": "worker_turns = 1\n"})
    shown = json.loads(run_cli(["config", "--repo", str(repo), "--json"]).stdout)["settings"]["worker_turns"]
    assert shown["value"] == 1 and ".diffcrew.toml" in shown["source"]
    env = run_cli(["config", "--repo", str(repo), "--json"], env={"DIFFCREW_WORKER_TURNS": "0"})
    assert json.loads(env.stdout)["settings"]["worker_turns"] == {"value": 0, "source": "environment"}
    bad = run_cli(["config", "--repo", str(repo)], env={"DIFFCREW_WORKER_TURNS": "-1"})
    assert bad.exit_code == 2 and "worker_turns must not be negative" in bad.stderr
    run(tmp_path, server, [call("read_file", path="app.py"), submit()])
    first, second = asks(server)
    assert "for at most 1 turn(s)" in first.body["system"][0]["text"]
    assert "your next answer must call `submit_patch`" in answers(second)[-1]["text"]
    start = read_transcript(transcript(repo))[0]
    assert start["options"]["worker_turns"] == 1


def test_a_note_reaches_the_result_the_report_the_transcript_and_show(tmp_path: Path, server) -> None:
    note = "app.py and lib.py still call load(); rename them too."
    repo, result = run(tmp_path, server, [call("read_file", path="app.py"), submit(note)], "--json")
    report = json.loads(result.stdout)
    assert [f["note"] for f in report["files"]] == [note]
    end = read_transcript(Path(report["transcript"]))[-1]
    assert end["kind"] == "end" and end["report"]["files"][0]["note"] == note
    shown = run_cli(["show", report["run_id"], "--repo", str(repo)])
    assert f"note: {note}" in shown.stdout


def test_a_note_is_kept_on_the_file_result_and_an_empty_one_is_none(tmp_path: Path, server, monkeypatch) -> None:
    from diffcrew.agent.cli.running import execute
    from diffcrew.agent.config import RunOptions
    from diffcrew.agent.llm.anthropic_client import AnthropicClient
    from diffcrew.agent.view import choose_view

    repo = make_repo(tmp_path / "repo", FILES)
    for note, kept in (("  Callers in app.py need the new name.\n", "Callers in app.py need the new name."),
                       ("  ", None), (None, None)):
        server.set_script(script([submit(note)]))
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        report = execute(RunOptions("rename load", repo=repo, dry_run=True),
                         choose_view(quiet=True, verbose=False, ask=False), lambda: AnthropicClient(timeout=30))
        assert report.status == "dry-run", report.errors
        assert report.results[0].note == kept


def test_a_worker_exploration_turn_mixed_with_its_patch_gets_every_call_answered(tmp_path: Path, server) -> None:
    """A read and the patch in one answer: the patch is taken; a check failure answers both calls."""
    both = {"content": [{"type": "tool_use", "id": "toolu_read", "name": "read_file", "input": {"path": "app.py"}},
                        {"type": "tool_use", "id": "toolu_patch", "name": "submit_patch",
                         "input": {"patch": PATCH}}], "stop_reason": "tool_use"}
    run(tmp_path, server, [both, submit()], "--check", "! grep -q from_file cfg.py || test -e fixed",
        "--allow-failing", "--repair-rounds", "1")
    worker = asks(server)
    assert len(worker) == 2
    by_id = {r["tool_use_id"]: r for r in results(worker[1])}
    assert set(by_id) == {"toolu_read", "toolu_patch"} and all(r["is_error"] for r in by_id.values())
    assert "checks on the result failed" in by_id["toolu_patch"]["content"]
    assert "Not run" in by_id["toolu_read"]["content"]


def test_replay_of_a_run_with_worker_explorations_is_byte_identical(tmp_path: Path, server) -> None:
    repo, result = run(tmp_path, server, [call("read_file", path="app.py"), call("search_code", pattern="load"),
                                          submit("callers")], "--json", "--worker-turns", "4")
    original = json.loads(result.stdout)
    replayed = run_cli(["replay", original["run_id"], "--repo", str(repo), "--yes", "--json"],
                       env={"ANTHROPIC_API_KEY": None, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert replayed.exit_code == 0, replayed.output
    again = json.loads(replayed.stdout)
    tree = lambda ref: git(repo, "rev-parse", f"{ref}^{{tree}}").strip()  # noqa: E731
    assert tree(again["branch"]) == tree(original["branch"])
    assert again["files"] == original["files"]

    def worker_calls(report: dict[str, Any]) -> list[Any]:
        return [(e["request"]["messages"], e["request"]["system"], e["request"]["tools"])
                for e in read_transcript(Path(report["transcript"])) if e["kind"] == "call" and e["role"] == "worker"]

    first, second = worker_calls(original), worker_calls(again)
    assert len(first) == 3 and first == second  # the same worker conversation, turn for turn, byte for byte


@pytest.mark.slow
def test_timeout_and_ctrl_c_end_a_worker_stuck_in_a_search(tmp_path: Path, server) -> None:
    from test_bounds import CATASTROPHIC
    from test_user_faults import processes_with, start, wait_until

    repo = make_repo(tmp_path / "repo", {**FILES, "long.txt": "a" * 200 + "!\n"})
    server.set_script(script([call("search_code", pattern=CATASTROPHIC), submit()]))
    code, _, err = finish(start(repo, server, "--timeout", "3", request="rename load"), 30)
    assert code == 3, (code, err)
    assert "--timeout" in err and "Traceback" not in err
    assert len(asks(server)) == 1 and processes_with(CATASTROPHIC, repo) == []
    server.set_script(script([call("search_code", pattern=CATASTROPHIC), submit()]))
    child = start(repo, server, request="rename load")
    wait_until(lambda: processes_with(CATASTROPHIC, repo) != [])
    os.kill(child.pid, signal.SIGINT)
    code, _, err = finish(child, 30)
    assert code == 130, (code, err)
    assert len(asks(server)) == 2 and processes_with(CATASTROPHIC, repo) == []


def test_a_secret_in_a_note_is_redacted_in_the_report(tmp_path: Path, server) -> None:
    key = "sk-ant-api03-zyxwvutsrqponmlkjihgfedcba9876543210"
    _, result = run(tmp_path, server, [submit(f"set ANTHROPIC_API_KEY={key} in CI")], "--json")
    (note,) = [f["note"] for f in json.loads(result.stdout)["files"]]
    assert note.startswith("set ANTHROPIC_API_KEY=") and key not in result.stdout
