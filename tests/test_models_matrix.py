"""Every model id the SDK lists drives a whole run against the strict fake.

The fake refuses, per model, what the API documentation says that model refuses (forced tool
choice, sampling parameters, prefill, effort levels it lacks, thinking blocks not sent back...),
so a request shape that one model turns away fails here before it fails for a user.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from anthropic.types.model import Model

from conftest import diffcrew_branches, make_repo, run_cli, snapshot
from scenarios import four_file_script, FILES

pytestmark = pytest.mark.slow  # the slow tier: a run per model

SDK_MODELS = [name for name in typing.get_args(typing.get_args(Model)[0])]


def test_the_sdk_lists_models() -> None:
    assert len(SDK_MODELS) >= 10 and "claude-opus-5-5" in SDK_MODELS


@pytest.mark.parametrize("model", SDK_MODELS)
def test_a_whole_run_works_on_every_model(tmp_path: Path, server, model: str) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(four_file_script())
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--model", model, "--worker-model", model,
                      "--effort", "xhigh", "type greet and add a version"], server,
                     env={"DIFFCREW_SUMMARY_MODEL": model})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "ok" and len(diffcrew_branches(repo)) == 1
    assert snapshot(repo)["status"] == before["status"]
    assert {r.body["model"] for r in server.requests} == {model}
    assert all(r.status == 200 for r in server.requests), [(r.key, r.status) for r in server.requests]
