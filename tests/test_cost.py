"""--max-cost is a hard cap: no call is sent that could break it, and the run fails clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import diffcrew_branches, make_repo, run_cli, snapshot
from scenarios import doubling_script

from diffcrew.agent.pricing import cache_minimum, cost_of, price_of
from diffcrew.agent.types import Usage

FILES = {f"m{i}.py": f"value = {i}\n" for i in range(4)}


def script() -> dict:
    return doubling_script(FILES)


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


# --- prices as the API bills them ------------------------------------------------------------------------------

def test_cache_writes_reads_and_thinking_are_billed_at_their_own_prices() -> None:
    # input_tokens excludes the cache reads and writes (each billed at its own price); thinking
    # tokens are part of output_tokens
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000,
                  cache_write_tokens=1_000_000, calls=1)
    assert cost_of("claude-sonnet-5-5", usage) == pytest.approx(2.0 + 10.0 + 0.1 + 2.5)
    assert cost_of("claude-opus-5-5", usage) == pytest.approx(4.0 + 20.0 + 0.2 + 5.0)
    assert cost_of("claude-fable-5-2", usage) == pytest.approx(8.0 + 40.0 + 0.2 + 10.0)


def test_haiku_5_5_prices_a_long_prompt_at_its_higher_rates_output_included() -> None:
    short = Usage(input_tokens=60_000, cache_read_tokens=40_000, output_tokens=1_000, calls=1)
    long = Usage(input_tokens=60_000, cache_read_tokens=40_001, output_tokens=1_000, calls=1)
    assert cost_of("claude-haiku-5-5", short) == pytest.approx((60_000 * 0.1 + 40_000 * 0.01 + 1_000 * 0.5) / 1e6)
    assert cost_of("claude-haiku-5-5", long) == pytest.approx((60_000 * 0.5 + 40_001 * 0.05 + 1_000 * 2.5) / 1e6)


def test_the_caching_minimum_is_the_models() -> None:
    assert cache_minimum("claude-opus-5-5") == 512
    assert cache_minimum("claude-opus-4-7") == 2048
    assert cache_minimum("claude-haiku-4-5-20251001") == 4096
    assert cache_minimum("local-llama") == 1024  # unknown: the most common documented minimum


def test_every_model_the_sdk_lists_is_priced_unless_the_docs_give_no_price() -> None:
    from typing import get_args

    from anthropic.types.model_param import ModelParam
    listed = [m for m in get_args(get_args(ModelParam)[0])]
    undocumented = {"claude-mythos-5-2", "claude-mythos-preview"}
    assert [m for m in listed if price_of(m) is None] == sorted(undocumented, key=listed.index)
