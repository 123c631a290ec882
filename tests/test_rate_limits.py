"""A rate-limited model service, met end to end: concurrency lowered on 429s, and new calls held
while the `anthropic-ratelimit-*` headers say the quota is spent (fake server, real SDK)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import make_repo, run_cli
from scenarios import doubling_script

pytestmark = pytest.mark.slow  # the slow tier: runs against rate-limited fakes


def test_a_concurrency_limit_is_met_by_lowering_concurrency(tmp_path: Path, server) -> None:
    files = {f"r{i}.py": f"value = {i}\n" for i in range(12)}
    repo = make_repo(tmp_path / "repo", files)
    server.set_script(doubling_script(files))
    server.latency = 0.3
    server.max_concurrent = 2
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-workers", "8", "double"], server)
    assert result.exit_code == 0, result.output
    assert all(f["status"] == "ok" for f in json.loads(result.stdout)["files"])
    refused = [r for r in server.requests if r.status == 429]
    assert server.peak_in_flight <= 2 and len(refused) < 12  # lowering the limit stops the flood of 429s


def test_the_request_quota_in_the_headers_is_honoured_before_any_429(tmp_path: Path, server) -> None:
    files = {f"q{i}.py": f"value = {i}\n" for i in range(7)}
    repo = make_repo(tmp_path / "repo", files)
    server.set_script(doubling_script(files))
    server.latency = 0.05
    # 3 requests per 1 s window: the plan, 7 workers, the review and the summary need at least 4. The
    # first answer says 2 are left; without reading that, 7 workers would be sent at once.
    server.requests_per_window = (3, 1.0)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--max-workers", "8", "double"], server)
    assert result.exit_code == 0, result.output
    assert all(f["status"] == "ok" for f in json.loads(result.stdout)["files"])
    assert [r.status for r in server.requests] == [200] * 10  # no request was refused
    assert all("anthropic-ratelimit-requests-remaining" in r.ratelimit for r in server.requests)
    # Was: the first and last arrivals >= 1.0 s apart. Now the fake's windows, named by their reset:
    # three at least, none holding more than its 3 requests.
    windows = Counter(r.ratelimit["anthropic-ratelimit-requests-reset"] for r in server.requests)
    assert len(windows) >= 4 and max(windows.values()) <= 3, windows
