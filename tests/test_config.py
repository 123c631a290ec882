"""Settings come from the command line, then DIFFCREW_* variables, then the repo's config, then defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import diffcrew_branches, gather_workers, git, make_repo, run_cli
from scenarios import doubling_script

FILES = {f"m{i}.py": f"value = {i}\n" for i in range(4)}
CONFIG = 'model = "claude-opus-5"\nmax-workers = 3\nbranch_prefix = "bot/"\ndeny = ["secrets/*"]\n'


def script() -> dict:
    return doubling_script(FILES)


def settings(repo: Path, env: dict | None = None) -> dict:
    result = run_cli(["config", "--repo", str(repo), "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["settings"]


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": CONFIG})
    shown = settings(repo, env={"DIFFCREW_MAX_WORKERS": "2", "DIFFCREW_REQUEST_TIMEOUT": "30"})
    # `model` in the file is the old name of orchestrator_model
    assert shown["orchestrator_model"] == {"value": "claude-opus-5", "source": ".diffcrew.toml"} and "model" not in shown
    assert shown["max_workers"] == {"value": 2, "source": "environment"}
    assert shown["request_timeout"] == {"value": 30.0, "source": "environment"}
    assert shown["deny"] == {"value": ["secrets/*"], "source": ".diffcrew.toml"}
    assert shown["repair_rounds"] == {"value": 2, "source": "default"}


def test_yes_no_settings_from_toml_and_the_environment(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": "warm_cache = true\n"})
    assert settings(repo)["warm_cache"] == {"value": True, "source": ".diffcrew.toml"}
    assert settings(repo, env={"DIFFCREW_WARM_CACHE": "off"})["warm_cache"] == {"value": False, "source": "environment"}
    plain = make_repo(tmp_path / "plain", FILES)
    assert settings(plain)["warm_cache"] == {"value": False, "source": "default"}


def test_pyproject_table_is_read_when_there_is_no_dedicated_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, "pyproject.toml": "[tool.diffcrew]\nmax_calls = 9\n"})
    assert settings(repo)["max_calls"] == {"value": 9, "source": "pyproject.toml [tool.diffcrew]"}


@pytest.mark.slow
def test_a_run_uses_the_layers_and_the_command_line_wins(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": CONFIG})
    server.set_script(script())
    server.latency = 0.3
    gather_workers(server, 2, len(FILES))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "double"], server,
                     env={"DIFFCREW_MAX_WORKERS": "2"})
    assert result.exit_code == 0, result.output
    assert server.peak_in_flight == 2  # environment over the config's 3
    assert {r.body["model"] for r in server.requests if r.key == "orchestrator"} == {"claude-opus-5"}
    assert diffcrew_branches(repo) == [] and json.loads(result.stdout)["branch"].startswith("bot/double-")
    server.set_script(script())
    server.peak_in_flight, server.on_pause = 0, None
    again = run_cli(["run", "--repo", str(repo), "--yes", "--max-workers", "1", "--model", "claude-sonnet-5-5",
                     "double"], server, env={"DIFFCREW_MAX_WORKERS": "2"})
    assert again.exit_code == 0, again.output
    assert server.peak_in_flight == 1
    assert server.requests[-6].body["model"] == "claude-sonnet-5-5"


def test_bad_config_is_a_one_line_usage_error(tmp_path: Path, server) -> None:
    for text, needle in (('max_workres = 3\n', "unknown setting 'max_workres'"),
                         ('max_workers = "many"\n', "max_workers must be a whole number"),
                         ('warm_cache = "maybe"\n', "warm_cache must be true or false"),
                         ('max_workers = [\n', "not valid TOML")):
        repo = make_repo(tmp_path / text.split()[0].strip("[=\"").replace("_", "") / "repo", {".diffcrew.toml": text})
        result = run_cli(["run", "--repo", str(repo), "--yes", "x"], server)
        assert result.exit_code == 2 and needle in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not server.requests


def efforts(server) -> dict[str, set]:
    found: dict[str, set] = {}
    for r in server.requests:
        found.setdefault(r.key.split(":")[0], set()).add((r.body.get("output_config") or {}).get("effort"))
    return found


def test_effort_per_role_from_the_config_and_for_every_role_from_the_command_line(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": 'plan_effort = "max"\nworker_effort = "low"\n'})
    server.set_script(script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "double"], server)
    assert result.exit_code == 0, result.output
    # the review is the orchestrator's too, so it thinks as hard as the planning
    assert efforts(server) == {"orchestrator": {"max"}, "review": {"max"}, "worker": {"low"}, "synthesizer": {"low"}}
    server.requests.clear()
    result = run_cli(["run", "--repo", str(repo), "--yes", "--effort", "medium", "double"], server)
    assert result.exit_code == 0, result.output
    assert efforts(server) == {"orchestrator": {"medium"}, "review": {"medium"}, "worker": {"medium"},
                               "synthesizer": {"medium"}}


def test_an_unknown_effort_is_refused_with_the_levels(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": 'worker_effort = "extreme"\n'})
    result = run_cli(["config", "--repo", str(repo)])
    assert result.exit_code == 2
    assert "worker_effort must be one of low, medium, high, xhigh, max, not 'extreme'" in result.stderr


def test_each_role_has_one_name_and_the_old_names_still_work(tmp_path: Path, server) -> None:
    models = {"orchestrator": "claude-sonnet-5-5", "worker": "claude-sonnet-5-5", "review": "claude-sonnet-5-5",
              "synthesizer": "claude-opus-5-5"}
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": 'orchestrator_model = "claude-sonnet-5-5"\n'
                                                                     'synthesizer_model = "claude-opus-5-5"\n'})
    server.set_script(script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "double"], server)
    assert result.exit_code == 0, result.output
    assert {r.key.split(":")[0]: r.body["model"] for r in server.requests} == models
    # the old spellings: --model and --summary-model on the command line, DIFFCREW_MODEL, summary_model in a file
    for args, env, text in ((["--model", "claude-sonnet-5-5", "--summary-model", "claude-opus-5-5"], {}, ""),
                            ([], {"DIFFCREW_MODEL": "claude-sonnet-5-5"}, 'summary_model = "claude-opus-5-5"\n')):
        (repo / ".diffcrew.toml").write_text(text)
        git(repo, "commit", "-qam", "config")
        server.requests.clear()
        server.set_script(script())
        result = run_cli(["run", "--repo", str(repo), "--yes", *args, "double"], server, env=env)
        assert result.exit_code == 0, result.output
        assert {r.key.split(":")[0]: r.body["model"] for r in server.requests} == models


def test_a_setting_given_under_its_old_and_new_name_is_refused(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".diffcrew.toml": 'model = "a"\norchestrator_model = "b"\n'})
    result = run_cli(["run", "--repo", str(repo), "--yes", "double"], server)
    assert result.exit_code == 2 and not server.requests
    assert "orchestrator_model is set twice (once by its old name model); keep one" in result.stderr
