"""--max-cost is a hard cap that lets through the runs it can afford: each call's max_tokens is
bounded by what the budget still allows, calls queue while others hold reservations, and the run
stops, clean, only when a useful call can no longer fit. Prices are billed as the API bills them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import diffcrew_branches, make_repo, run_cli, snapshot
from scenarios import doubling_script

from diffcrew.agent.errors import BudgetExceeded
from diffcrew.agent.ledger import FRAMING_TOKENS, Ledger, input_ceiling
from diffcrew.agent.llm.protocol import ModelRequest
from diffcrew.agent.llm.scripted import ScriptedClient
from diffcrew.agent.llm.tracked import TrackedClient
from diffcrew.agent.pricing import cache_minimum, cost_of, price_of
from diffcrew.agent.synthesizer import write_summary
from diffcrew.agent.types import FileEdit, Plan, Usage
from diffcrew.agent.worker import WORKER_MAX_TOKENS

# Six modules of about a thousand tokens each, and answers of the size a thinking model gives
# (the fake's own estimate of a scripted answer is a few dozen tokens, far below a real one).
FILES = {f"m{i}.py": f"value = {i}\n" + "".join(f"\n\ndef helper_{i}_{j}(x):\n    return x * {j} + {i}\n"
                                                for j in range(60)) for i in range(6)}
OUTPUT = {"orchestrator": 1_500, "worker": 1_200, "synthesizer": 300}


def script(files: dict[str, str] = FILES) -> dict:
    turns = doubling_script(files)
    for key, answers in turns.items():
        for turn in answers:
            turn["usage"] = {"output_tokens": OUTPUT[key.split(":")[0]]}
    return turns


def capped_run(tmp_path: Path, server, cap: float | None, name: str = "repo") -> tuple[Any, dict, Path]:
    repo = make_repo(tmp_path / name, FILES)
    server.requests.clear()
    server.token_counts.clear()
    flags = [] if cap is None else ["--max-cost", f"{cap:.6f}"]
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", *flags, "double"], server)
    return result, json.loads(result.stdout), repo


@pytest.fixture
def run_cost(tmp_path: Path, server) -> float:
    """What the scripted run costs without a cap."""
    server.set_script(script())
    result, report, _ = capped_run(tmp_path, server, None, "uncapped")
    assert result.exit_code == 0, result.output
    return report["cost_usd"]


# --- the whole run against the fake server ---------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("share", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_a_cap_below_the_runs_needs_is_never_exceeded(tmp_path: Path, server, run_cost: float, share: float) -> None:
    cap = run_cost * share
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-cost", f"{cap:.6f}", "double"], server)
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["cost_usd"] <= cap
    assert "would exceed --max-cost $" in report["errors"][0]
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


@pytest.mark.slow
def test_three_times_the_runs_cost_lets_six_concurrent_workers_finish(tmp_path: Path, server, run_cost: float) -> None:
    server.latency = 0.2
    for attempt in range(3):
        result, report, repo = capped_run(tmp_path, server, 3 * run_cost, f"repo{attempt}")
        assert result.exit_code == 0, result.output
        # the same run; its cost varies a little with which concurrent worker writes the shared cache
        assert 0 < report["cost_usd"] <= 1.2 * run_cost and len(diffcrew_branches(repo)) == 1
    assert bounded_worker_calls(server)


def bounded_worker_calls(server) -> list[int]:
    workers = [r for r in server.requests if r.key and r.key.startswith("worker:")]
    bounded = [r.body["max_tokens"] for r in workers if r.body["max_tokens"] < WORKER_MAX_TOKENS]
    assert min(bounded, default=2048) >= 2048  # never below a useful answer (min_tokens)
    return bounded


@pytest.mark.slow
def test_a_cap_just_above_the_runs_cost_finishes_with_calls_queued_and_bounded(tmp_path: Path, server,
                                                                               run_cost: float) -> None:
    # The last worker's smallest call (2,048 output tokens) holds about $0.01 more than it costs
    # here: that much over the run's cost is enough, the rest waits for budget given back.
    server.latency = 0.2
    cap = run_cost + 0.015
    result, report, _ = capped_run(tmp_path, server, cap, "tight")
    assert result.exit_code == 0, result.output
    assert report["cost_usd"] <= cap
    assert server.peak_in_flight < len(FILES)  # workers waited for others to give budget back
    assert bounded_worker_calls(server) and server.token_counts  # tight: bounded, and the input counted


@pytest.mark.slow
def test_without_token_counting_the_cap_still_holds(tmp_path: Path, server, run_cost: float) -> None:
    server.count_tokens_status = 404  # an older server: the input is bounded by its size in bytes
    result, report, _ = capped_run(tmp_path, server, 0.5 * run_cost, "below")
    assert result.exit_code == 3 and report["cost_usd"] <= 0.5 * run_cost
    result, report, _ = capped_run(tmp_path, server, 5 * run_cost, "above")
    assert result.exit_code == 0, result.output
    assert server.token_counts  # asked, refused, and the run went on


def test_an_unaffordable_summary_leaves_the_plan_summary_as_the_message() -> None:
    turns = {"synthesizer": [{"tool": "write_summary", "input": {"title": "t", "body": "b"}}]}
    ledger = Ledger(max_cost=0.01)  # less than 2,048 output tokens of Sonnet 5.5
    client = TrackedClient(ScriptedClient(turns), ledger, None)
    plan = Plan("Double every value.", (FileEdit("m0.py", "modify", "double it"),))
    summary = asyncio.run(write_summary(client, "claude-sonnet-5-5", "double", plan, " m0.py | 2 +-"))
    assert not summary.from_model and summary.title == "Double every value" and ledger.spent == 0


def test_the_readmes_hook_setting_lets_a_four_file_change_through(tmp_path: Path, server) -> None:
    files = dict(list(FILES.items())[:4])
    repo = make_repo(tmp_path / "repo", files)
    server.set_script(script(files))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-cost", "0.50", "double"], server)
    assert result.exit_code == 0, result.output  # it used to stop at the third worker's worst case
    assert json.loads(result.stdout)["cost_usd"] < 0.1


def test_an_unpriced_model_cannot_be_capped(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--model", "local-llama", "--max-cost", "1", "x"], server)
    assert result.exit_code == 3 and "no price is known for local-llama" in result.stderr
    assert not server.requests


# --- the ledger on its own ---------------------------------------------------------------------------------------

def request(role: str = "worker", max_tokens: int = 16_000, text: str = "x" * 4_000) -> ModelRequest:
    return ModelRequest(role=role, model="claude-sonnet-5-5", system=[], tools=[],
                        messages=[{"role": "user", "content": text}], max_tokens=max_tokens)


def counter(tokens: int, calls: list[ModelRequest] | None = None):
    async def count(req: ModelRequest) -> int:
        if calls is not None:
            calls.append(req)
        return tokens
    return count


async def failing_count(req: ModelRequest) -> int:
    raise OSError("connection refused")


IN, OUT = 2.5e-6, 10e-6  # Sonnet 5.5: input priced as cache writes at worst, output


def test_a_call_is_bounded_by_what_the_budget_still_allows() -> None:
    ledger = Ledger(max_cost=0.05)
    counted: list[ModelRequest] = []
    sent, held = asyncio.run(ledger.admit(request(), counter(1_000, counted)))
    fixed = (1_000 * 1.02 + 16) * IN
    assert (0.05 - fixed) / OUT - 1 <= sent.max_tokens <= (0.05 - fixed) / OUT
    assert counted  # tight: the real input was counted
    assert held == pytest.approx(fixed + sent.max_tokens * OUT) and ledger.reserved == held <= 0.05


def test_a_roomy_budget_sends_the_request_as_it_is_without_counting() -> None:
    ledger = Ledger(max_cost=5.0)
    counted: list[ModelRequest] = []
    original = request()
    sent, held = asyncio.run(ledger.admit(original, counter(1_000, counted)))
    assert sent is original and not counted
    assert held == pytest.approx(input_ceiling(original) * IN + 16_000 * OUT)
    assert input_ceiling(original) >= 4_000 + FRAMING_TOKENS  # a token is at least a byte


def test_a_queued_call_proceeds_when_an_earlier_one_gives_back_what_it_did_not_use() -> None:
    async def scenario() -> tuple[int, int]:
        ledger = Ledger(max_cost=0.04)
        first, held = await ledger.admit(request(), counter(1_000))
        second = asyncio.create_task(ledger.admit(request(), counter(1_000)))
        await asyncio.sleep(0.01)
        assert not second.done()  # the first holds nearly everything; the second waits
        ledger.add("worker", "claude-sonnet-5-5", Usage(input_tokens=1_000, output_tokens=200, calls=1), held)
        sent, _ = await asyncio.wait_for(second, 1)
        assert ledger.spent + ledger.reserved <= 0.04
        return first.max_tokens, sent.max_tokens
    first, second = asyncio.run(scenario())
    assert 2048 <= second < first < 16_000


def test_while_others_are_in_flight_a_call_waits_rather_than_go_with_less_than_half() -> None:
    async def scenario() -> int:
        ledger = Ledger(max_cost=0.22)
        first, held = await ledger.admit(request(), counter(1_000))
        assert first.max_tokens == 16_000  # roomy: its worst case is held, its input bounded by bytes
        second = asyncio.create_task(ledger.admit(request(), counter(1_000)))
        await asyncio.sleep(0.01)
        assert not second.done()  # about 4,400 tokens would fit: above min_tokens, below half of 16,000
        ledger.add("worker", "claude-sonnet-5-5", Usage(input_tokens=1_000, output_tokens=200, calls=1), held)
        sent, _ = await asyncio.wait_for(second, 1)
        return sent.max_tokens
    assert asyncio.run(scenario()) == 16_000


def test_a_call_that_can_never_fit_fails_at_once_even_while_others_hold_budget() -> None:
    async def scenario() -> None:
        ledger = Ledger(max_cost=0.04, cost_usd=0.02)
        await ledger.admit(request(role="synthesizer", max_tokens=200), counter(1_000))  # held, never settled
        with pytest.raises(BudgetExceeded, match=r"would exceed --max-cost \$0.04 \(spent \$0.0200\)"):
            await asyncio.wait_for(ledger.admit(request(), counter(1_000)), 1)
    asyncio.run(scenario())


def test_a_failed_count_falls_back_to_the_bound_and_never_fails_the_call() -> None:
    ledger = Ledger(max_cost=0.1)
    sent, held = asyncio.run(ledger.admit(request(), failing_count))
    assert held == pytest.approx(input_ceiling(request()) * IN + sent.max_tokens * OUT)
    assert 2048 <= sent.max_tokens < 16_000
    with pytest.raises(BudgetExceeded):  # with the pessimistic bound, a tight cap refuses sooner
        asyncio.run(Ledger(max_cost=0.03).admit(request(), failing_count))


def test_a_cancelled_waiter_holds_nothing() -> None:
    async def scenario() -> Ledger:
        ledger = Ledger(max_cost=0.04)
        _, held = await ledger.admit(request(), counter(1_000))
        waiter = asyncio.create_task(ledger.admit(request(), counter(1_000)))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        ledger.release(held)
        return ledger
    assert asyncio.run(scenario()).reserved == 0


def test_a_cancelled_call_gives_its_reservation_back() -> None:
    turns = {"worker:a.py": [{"tool": "submit_patch", "input": {"patch": "p"}}]}
    ledger = Ledger(max_cost=1.0)

    async def scenario() -> None:
        client = TrackedClient(ScriptedClient(turns, delay=5), ledger, None)
        call = asyncio.create_task(client.call(request(text="File: a.py\n")))
        await asyncio.sleep(0.05)
        assert ledger.reserved > 0
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    asyncio.run(scenario())
    assert ledger.reserved == 0 and ledger.spent == 0


def test_without_a_cap_nothing_is_held_or_counted() -> None:
    counted: list[ModelRequest] = []
    original = request()
    assert asyncio.run(Ledger().admit(original, counter(1, counted))) == (original, 0.0) and not counted


def test_input_is_held_at_the_cache_write_price_of_the_ttl_asked_for() -> None:
    five = request(max_tokens=2_048)
    hour = ModelRequest(**{**five.__dict__, "system": [
        {"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]})
    _, held5 = asyncio.run(Ledger(max_cost=1.0).admit(five, counter(10_000)))
    _, held1 = asyncio.run(Ledger(max_cost=1.0).admit(hour, counter(10_000)))
    assert held5 == pytest.approx(input_ceiling(five) * 2.5e-6 + 2_048 * OUT)
    assert held1 == pytest.approx(input_ceiling(hour) * 4.0e-6 + 2_048 * OUT)


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
