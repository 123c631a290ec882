"""The acceptance run of bench/wire_log.py, held to its verdict: with the default models, a run
with an exploration turn, a repair round and a refusal is never refused by the strict fake, and
every thinking block that a later request of its conversation carries goes back unchanged."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import make_repo, run_cli

_SPEC = importlib.util.spec_from_file_location("wire_log", Path(__file__).resolve().parents[1] / "bench" / "wire_log.py")
assert _SPEC is not None and _SPEC.loader is not None
wire_log = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(wire_log)


def test_a_run_with_every_kind_of_turn_is_accepted_and_echoes_its_thinking(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", wire_log.FILES)
    server.set_script(wire_log.script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--allow-partial", "--plan-turns", "3",
                      "scale every value by ten"], server)
    assert result.exit_code == 4, result.output  # b.py was refused, a.py and c.py landed
    report = json.loads(result.stdout)
    assert [r.status for r in server.requests] == [200] * 8  # plan (2 turns), workers (4), review, summary
    assert [(r.key, r.turn) for r in server.requests if r.turn] == [("orchestrator", 1), ("worker:a.py", 1)]
    assert all(r.body["tool_choice"] == {"type": "auto"} for r in server.requests)
    (refused,) = [f for f in report["files"] if f.get("error")]
    assert refused["path"] == "b.py" and "declined" in refused["error"]
    followed, echoed, problems = wire_log.echo_check(Path(report["transcript"]))
    assert followed == echoed == 2 and not problems
