"""`diffcrew doctor`: one line per check, exit 1 on any failure, never the key's value."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from conftest import make_repo, run_cli


def test_without_a_key_the_key_check_fails_and_names_the_fix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    result = run_cli(["doctor", "--repo", str(repo), "--json"], env={"ANTHROPIC_API_KEY": None,
                                                                   "ANTHROPIC_AUTH_TOKEN": None})
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["git"]["ok"] and checks["repository"]["ok"] and not checks["key"]["ok"]
    assert "export ANTHROPIC_API_KEY" in checks["key"]["detail"]
    assert "anthropic SDK 2." in checks["versions"]["detail"] and "diffcrew " in checks["versions"]["detail"]
    assert not [name for name in checks if name.startswith("model")]  # nothing asked without a key


def test_outside_a_repository_the_repository_check_fails(tmp_path: Path) -> None:
    result = run_cli(["doctor", "--repo", str(tmp_path)], env={"ANTHROPIC_API_KEY": "sk-ant-secret-value-123",
                                                              "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 1
    assert "FAIL repository" in result.stdout and "not a git repository" in result.stdout
    assert "ANTHROPIC_API_KEY is set (not shown)" in result.stdout
    assert "sk-ant-secret-value-123" not in result.stdout + result.stderr


def test_against_the_strict_fake_every_check_passes(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    result = run_cli(["doctor", "--repo", str(repo)], server)
    assert result.exit_code == 0, result.output
    for role, model, effort in (("orchestrator", "claude-opus-5-5", "high"), ("worker", "claude-sonnet-5-5", "medium"),
                                ("synthesizer", "claude-haiku-5-5", "low")):
        assert re.search(rf"ok +model {role} +{model} accepts the {role} request \(effort {effort}; [\d,]+ input", result.stdout)
    assert not server.requests  # nothing generated, nothing paid: token counting only
    assert len(server.token_counts) == 3 and all(b["tool_choice"] == {"type": "auto"} for b in server.token_counts)


def test_a_model_that_refuses_a_shape_is_named_with_the_services_reason(tmp_path: Path, server, monkeypatch) -> None:
    from fakes import models as fake_models

    # a service whose worker model takes no effort parameter (as Haiku 4.5): the worker shape is refused
    monkeypatch.setitem(fake_models.MODELS, "claude-sonnet-5-5",
                        dataclasses.replace(fake_models.MODELS["claude-sonnet-5-5"], effort_levels=frozenset()))
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    result = run_cli(["doctor", "--repo", str(repo), "--json"], server)
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["model orchestrator"]["ok"] and checks["model synthesizer"]["ok"]
    worker = checks["model worker"]
    assert not worker["ok"] and worker["detail"].startswith("claude-sonnet-5-5 refused diffcrew's worker request: ")
    assert "effort" in worker["detail"]
