"""The orchestrator's read-only exploration turns, answered from the base commit."""

from __future__ import annotations

from pathlib import Path

from conftest import diffcrew_branches, make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff

OLD = "def load(path):\n    return open(path).read()\n"
NEW = "def from_file(path):\n    return open(path).read()\n"
FILES = {"cfg.py": OLD, "app.py": "from cfg import load\n\nprint(load('x'))\n", ".env": "API_KEY=sk-secret-123\n"}
PLAN = plan_turn("Rename load.", [("cfg.py", "modify", "Rename load to from_file.")])


def explore(name: str, **tool_input: object) -> dict:
    return {"tool": name, "input": tool_input}


def base_script(orchestrator: list[dict]) -> dict:
    return {"orchestrator": orchestrator, "worker:cfg.py": [patch_turn(udiff("cfg.py", OLD, NEW))],
            "synthesizer": [summary_turn()]}


def results_of(request) -> list[dict]:
    return [b for b in request.body["messages"][-1]["content"] if b.get("type") == "tool_result"]


def test_exploration_turns_are_answered_then_the_plan_is_taken(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(base_script([explore("read_file", path="app.py"), explore("search_code", pattern="load\\("),
                                   explore("list_files", path=""), PLAN]))
    result = run_cli(["run", "--repo", str(repo), "--yes", "rename load"], seam)
    assert result.exit_code == 0, result.output
    asks = [r for r in seam.requests if r.key == "orchestrator"]
    assert len(asks) == 4
    assert all(r.body["tool_choice"] == {"type": "auto"} for r in asks)
    assert {t["name"] for t in asks[0].body["tools"]} == {"plan_edits", "read_file", "search_code", "list_files"}
    assert "print(load('x'))" in results_of(asks[1])[0]["content"]
    assert "app.py:3:" in results_of(asks[2])[0]["content"]
    listing = results_of(asks[3])[0]["content"]
    assert "cfg.py" in listing and ".env" not in listing
    assert "explore read_file path='app.py'" in result.stderr
    assert len(diffcrew_branches(repo)) == 1


def marks(request) -> list[str]:
    """Where a request puts its prompt-cache breakpoints: 'system', or 'message N block M'."""
    found = ["system" for b in request.body["system"] if b.get("cache_control")]
    for n, message in enumerate(request.body["messages"]):
        content = message["content"] if isinstance(message["content"], list) else []
        found += [f"message {n} block {m}" for m, b in enumerate(content) if b.get("cache_control")]
    return found


def test_exploration_turns_read_the_earlier_turns_from_the_cache(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(base_script([explore("read_file", path="app.py"), explore("read_file", path="cfg.py"), PLAN]))
    server.simulate_cache = True
    # --plan-turns 4: the plan comes on the third turn, before the last allowed one (every turn offers
    # the same tools, so each reads what the turn before it wrote)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--plan-turns", "4", "rename load"], server)
    assert result.exit_code == 0, result.output
    first, second, last = [r for r in server.requests if r.key == "orchestrator"]
    # the fake server's cache simulation: each turn reads all that the turn before it sent
    read = [r.usage["cache_read_input_tokens"] for r in (first, second, last)]
    written = [r.usage["cache_creation_input_tokens"] for r in (first, second, last)]
    assert read[0] == 0 and 0 < read[1] < read[2] and read[1] == written[0] and read[2] == written[0] + written[1]
    assert last.usage["input_tokens"] == 0  # nothing paid at full price
    assert marks(first) == ["system", "message 0 block 0"]
    # each later turn marks its newest block: it reads everything up to the previous mark cached
    assert marks(second) == ["system", "message 0 block 0", "message 2 block 0"]
    assert marks(last) == ["system", "message 0 block 0", "message 4 block 0"]
    assert last.body["tool_choice"] == {"type": "auto"} and len(last.body["tools"]) == 4
    # the conversation itself keeps no stale marks: one tail mark at most, within the API's four
    assert all(len(marks(r)) <= 4 for r in server.requests)


def test_secrets_and_escapes_are_refused_to_the_model(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(base_script([explore("read_file", path=".env"), explore("read_file", path="../../etc/passwd"),
                                   explore("search_code", pattern="sk-secret"), PLAN]))
    result = run_cli(["run", "--repo", str(repo), "--yes", "rename load"], seam)
    assert result.exit_code == 0, result.output
    asks = [r for r in seam.requests if r.key == "orchestrator"]
    for ask in asks[1:]:
        (answer,) = results_of(ask)
        assert "sk-secret-123" not in answer["content"]
    assert results_of(asks[1])[0]["is_error"] and results_of(asks[2])[0]["is_error"]
    assert all("sk-secret-123" not in str(r.body) for r in seam.requests)


def test_the_last_turn_is_announced_in_the_conversation_not_by_changing_tools(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(base_script([explore("read_file", path="app.py"), PLAN]))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--plan-turns", "2", "rename load"], seam)
    assert result.exit_code == 0, result.output
    first, second = [r for r in seam.requests if r.key == "orchestrator"]
    # never a forced tool_choice (today's models refuse it), and the same tools on every turn:
    # thinking is bound to everything before it, tools included (preserved thinking)
    assert first.body["tool_choice"] == second.body["tool_choice"] == {"type": "auto"}
    assert first.body["tools"] == second.body["tools"]
    last_words = second.body["messages"][-1]["content"][-1]
    assert last_words["type"] == "text" and "must call `plan_edits`" in last_words["text"]


def test_exploring_on_the_last_turn_is_answered_once_with_no_more_turns(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(base_script([explore("read_file", path="app.py"), explore("read_file", path="cfg.py"), PLAN]))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--plan-turns", "2", "rename load"], seam)
    assert result.exit_code == 0, result.output
    asks = [r for r in seam.requests if r.key == "orchestrator"]
    (refused,) = results_of(asks[2])
    assert refused["is_error"] and "No exploration turns are left" in refused["content"]
    assert "def load" not in refused["content"]  # the read was not answered


def test_exploring_past_the_turn_limit_fails_clean(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(base_script([explore("read_file", path="app.py")] * 4))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--plan-turns", "2", "rename load"], seam)
    assert result.exit_code == 1
    assert "plan was still invalid" in result.stderr and diffcrew_branches(repo) == []
