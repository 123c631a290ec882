"""`diffcrew doctor`: one line per check, exit 1 on any failure, never the key's value."""

from __future__ import annotations

import json
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
