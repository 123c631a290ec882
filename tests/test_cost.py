"""--max-cost is a hard cap: no call is sent that could break it, and the run fails clean."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import diffcrew_branches, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn, udiff

FILES = {f"m{i}.py": f"value = {i}\n" for i in range(4)}


def script() -> dict:
    turns = {"orchestrator": [plan_turn("Double.", [(p, "modify", "double it") for p in FILES])],
             "synthesizer": [summary_turn()]}
    for path, text in FILES.items():
        turns[f"worker:{path}"] = [patch_turn(udiff(path, text, text.replace("= ", "= 2 * ")))]
    return turns


def test_a_cap_below_the_runs_needs_is_never_exceeded(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    before = snapshot(repo)
    # the plan call's worst case (8,192 output tokens at $10/MTok) fits; a worker's (16,000) does not
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-cost", "0.12", "double"], server)
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert "--max-cost $0.12" in report["errors"][0] and report["cost_usd"] <= 0.12
    assert [r.key for r in server.requests] == ["orchestrator"]  # no worker call was sent
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


def test_concurrent_workers_cannot_overshoot_together(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    server.latency = 0.2
    # room for the plan and two workers' worst cases, not four
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-cost", "0.45", "double"], server)
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["cost_usd"] <= 0.45
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


def test_rate_limited_server_is_met_by_lowering_concurrency(tmp_path: Path, server) -> None:
    files = {f"r{i}.py": f"value = {i}\n" for i in range(12)}
    repo = make_repo(tmp_path / "repo", files)
    turns = {"orchestrator": [plan_turn("Double.", [(p, "modify", "double it") for p in files])],
             "synthesizer": [summary_turn()]}
    for path, text in files.items():
        turns[f"worker:{path}"] = [patch_turn(udiff(path, text, text.replace("= ", "= 2 * ")))]
    server.set_script(turns)
    server.latency = 0.3
    server.max_concurrent = 2
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-workers", "8", "double"], server)
    assert result.exit_code == 0, result.output
    assert all(f["status"] == "ok" for f in json.loads(result.stdout)["files"])
    refused = [r for r in server.requests if r.status == 429]
    assert server.peak_in_flight <= 2 and len(refused) < 12  # halving stops the flood of 429s


def test_adaptive_limit_halves_once_per_burst_and_grows_back() -> None:
    import asyncio

    from diffcrew.agent.limits import AdaptiveLimit

    limit = AdaptiveLimit(8)
    limit.throttled(0)
    limit.throttled(0)  # sent before the decrease: the same burst, counted once
    assert limit.limit == 4 and limit.epoch == 1
    limit.throttled(1)
    assert limit.limit == 2
    limit.limit = 4
    for _ in range(4):
        limit.succeeded()
    assert limit.limit == 5

    async def hold(n: int) -> int:
        gate = AdaptiveLimit(n)
        async def one() -> None:
            async with gate:
                await asyncio.sleep(0.01)
        await asyncio.gather(*(one() for _ in range(10)))
        return gate.peak
    assert asyncio.run(hold(3)) == 3
