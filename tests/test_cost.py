"""--max-cost is a hard cap: no call is sent that could break it, and the run fails clean."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import diffcrew_branches, make_repo, run_cli, snapshot
from scenarios import doubling_script

FILES = {f"m{i}.py": f"value = {i}\n" for i in range(4)}


def script() -> dict:
    return doubling_script(FILES)


def test_a_cap_below_the_runs_needs_is_never_exceeded(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    before = snapshot(repo)
    # the plan call's worst case (32,000 output tokens at Haiku's $0.50/MTok) fits; a worker's (at $10) does not
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--model", "claude-haiku-5-5",
                      "--max-cost", "0.12", "double"], server)
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert "--max-cost $0.12" in report["errors"][0] and report["cost_usd"] <= 0.12
    assert [r.key for r in server.requests] == ["orchestrator"]  # no worker call was sent
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


def test_concurrent_workers_cannot_overshoot_together(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    server.latency = 0.2
    # room for the plan and two workers' worst cases ($0.32 each), not four
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--model", "claude-haiku-5-5",
                      "--max-cost", "0.7", "double"], server)
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["cost_usd"] <= 0.7
    # two reservations fit; the third fails the run, which cancels what has not been sent yet
    assert 1 <= len([r for r in server.requests if r.key and r.key.startswith("worker:")]) <= 2


def test_a_sufficient_cap_lets_the_run_finish_and_reports_the_cost(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-cost", "2", "double"], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0 < report["cost_usd"] <= 2 and len(diffcrew_branches(repo)) == 1


def test_an_unpriced_model_cannot_be_capped(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--model", "local-llama", "--max-cost", "1", "x"], server)
    assert result.exit_code == 3 and "no price is known for local-llama" in result.stderr
    assert not server.requests
