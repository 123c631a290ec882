"""The `--json` report against schemas/run-report.v2.schema.json: real reports from the real CLI.

Every report here comes from `diffcrew run --json` (in-process, the SDK talking HTTP to the fake
Messages API server) or from `diffcrew demo --json` in a subprocess, and must validate. The schema
also has to stay the documentation: every property has a description, and its enums match the
code's own lists.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import git, make_repo, patch_turn, plan_turn, run_cli, udiff
from diffcrew.agent.types import ACTIONS, REPORT_VERSION, RunReport
from diffcrew.tools.patch import TIERS
from scenarios import FILES, MOD, MOD_NEW, four_file_script

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
SCHEMA_PATH = SCHEMAS / "run-report.v2.schema.json"


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def assert_valid(report: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(report), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def script(overrides: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, list[dict[str, Any]]]:
    return four_file_script(overrides)


def run_json(tmp_path: Path, server, args: list[str], turns: dict[str, Any], code: int = 0) -> dict[str, Any]:
    repo = tmp_path / "repo" if (tmp_path / "repo").exists() else make_repo(tmp_path / "repo", FILES)
    server.set_script(turns)
    result = run_cli(["run", "--repo", str(repo), "--json", *args, "type the greeting"], server)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


# -- the schema itself ---------------------------------------------------------------------------

def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    data = schema()
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(data)
    assert data["additionalProperties"] is False
    assert data["properties"]["version"] == {"description": data["properties"]["version"]["description"], "const": 2}
    assert data["$id"].endswith(":v2") and minimal_report()["version"] == REPORT_VERSION == 2


def test_version_1_is_kept_as_the_record_of_version_1() -> None:
    """v2 is v1 plus the review: the old file stays as it was, and a v2 report is not a v1 report."""
    old = json.loads((SCHEMAS / "run-report.v1.schema.json").read_text(encoding="utf-8"))
    assert old["properties"]["version"]["const"] == 1 and "reviews" not in old["properties"]
    assert set(schema()["properties"]) - set(old["properties"]) == {"reviews"}
    assert set(schema()["$defs"]["file"]["properties"]) - set(old["$defs"]["file"]["properties"]) == {"note"}
    assert list(jsonschema.Draft202012Validator(old).iter_errors(minimal_report()))


def _properties(node: Any, where: str = "") -> typing.Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, subschema) declared under a `properties` keyword, anywhere in the schema."""
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict):
                yield f"{where}/{name}", sub
        for key, sub in node.items():
            yield from _properties(sub, f"{where}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{where}/{i}")


def test_every_declared_property_is_documented() -> None:
    data = schema()
    declared = [(path, sub) for path, sub in _properties(data) if "/if/" not in path and "/then/" not in path
                and "/else/" not in path]
    assert len(declared) > 40
    undocumented = [path for path, sub in declared if not str(sub.get("description", "")).strip()]
    assert undocumented == []
    assert all(str(d.get("description", "")).strip() for d in data["$defs"].values())


def minimal_report(**changes: Any) -> dict[str, Any]:
    """The smallest report `RunReport.to_dict()` makes: a failed run that stopped before planning."""
    report = RunReport(run_id="20260101-000000-abcdef", status="failed", exit_code=1, request="x", repo="/r",
                       base="0" * 40, base_ref="HEAD", branch=None, commit=None, plan=None, results=(),
                       usage_by_role={}, cost_usd=None, duration_s=0.0, errors=("it broke",)).to_dict()
    report.update(changes)
    return report


def test_top_level_properties_are_exactly_what_to_dict_prints() -> None:
    report = minimal_report()
    assert_valid(report)
    data = schema()
    assert set(data["properties"]) == set(report)
    assert set(data["required"]) == set(report)


def test_schema_enums_match_the_code() -> None:
    data = schema()
    assert set(data["properties"]["status"]["enum"]) == set(typing.get_args(typing.get_type_hints(RunReport)["status"]))
    assert tuple(data["$defs"]["action"]["enum"]) == ACTIONS
    assert tuple(data["$defs"]["file"]["properties"]["tiers"]["items"]["enum"]) == TIERS


def test_drift_is_caught(tmp_path: Path, server) -> None:
    report = run_json(tmp_path, server, ["--dry-run"], script())
    assert_valid(report)
    for mutate in (lambda r: r.update(timings={}), lambda r: r.pop("branch"), lambda r: r.update(version=1),
                   lambda r: r["files"][0].update(extra=1), lambda r: r.update(status="done"),
                   lambda r: r["usage"]["worker"].pop("calls"), lambda r: r.update(exit_code=1),
                   lambda r: r["files"][0].pop("note"), lambda r: r["reviews"][0].update(verdict="rejected"),
                   lambda r: r["reviews"][0]["edits"].append({"path": "x", "action": "modify", "instructions": ""})):
        broken = copy.deepcopy(report)
        mutate(broken)
        assert list(validator().iter_errors(broken)), broken


# -- real reports --------------------------------------------------------------------------------

def test_successful_run_report_validates(tmp_path: Path, server) -> None:
    report = run_json(tmp_path, server, ["--yes"], script())
    assert_valid(report)
    assert report["status"] == "ok" and report["commit"] and report["remote"] is None
    assert [c["name"] for c in report["checks"]] == ["syntax"]
    assert set(report["usage"]) == {"orchestrator", "worker", "review", "synthesizer"}


def test_amended_run_report_validates_with_its_reviews_and_notes(tmp_path: Path, server) -> None:
    """A review that amends the plan (a follow-up for a planned file and a file it adds), then approves."""
    noted = {"tool": "submit_patch", "input": {"patch": udiff("pkg/mod.py", MOD, MOD_NEW),
                                               "note": "README.md should mention the types."}}
    amend = {"tool": "amend_plan", "input": {"summary": "Document the types.", "edits": [
        {"path": "README.md", "action": "modify", "instructions": "Say that greet is typed."},
        {"path": "pkg/mod.py", "action": "modify", "instructions": "Keep the hints as they are."}]}}
    turns = script({"worker:pkg/mod.py": [noted, patch_turn(udiff("pkg/mod.py", MOD, MOD_NEW))],
                    "worker:README.md": [patch_turn(udiff("README.md", "# demo\n", "# demo\n\ngreet is typed.\n"))],
                    "review": [amend, {"tool": "approve_change", "input": {"note": "Complete now."}}]})
    report = run_json(tmp_path, server, ["--yes", "--review-rounds", "2"], turns)
    assert_valid(report)
    assert report["reviews"] == [
        {"round": 1, "verdict": "amended", "note": "Document the types.", "edits": [
            {"path": "README.md", "action": "modify", "instructions": "Say that greet is typed.", "added": True},
            {"path": "pkg/mod.py", "action": "modify", "instructions": "Keep the hints as they are.", "added": False}]},
        {"round": 2, "verdict": "approved", "note": "Complete now.", "edits": []}]
    assert {f["path"]: f["status"] for f in report["files"]}["README.md"] == "ok"
    assert [e["path"] for e in report["plan"]["edits"]][-1] == "README.md"
    assert report["usage"]["review"]["calls"] == 2


def test_a_workers_note_is_in_its_file_entry(tmp_path: Path, server) -> None:
    noted = {"tool": "submit_patch", "input": {"patch": udiff("pkg/mod.py", MOD, MOD_NEW),
                                               "note": "README.md should mention the types."}}
    report = run_json(tmp_path, server, ["--yes"], script({"worker:pkg/mod.py": [noted]}))
    assert_valid(report)
    notes = {f["path"]: f["note"] for f in report["files"]}
    assert notes == {"pkg/mod.py": "README.md should mention the types.", "pkg/util.py": None,
                     "pkg/version.py": None, "old.py": None}
    assert [r["verdict"] for r in report["reviews"]] == ["approved"]


def test_dry_run_report_validates(tmp_path: Path, server) -> None:
    report = run_json(tmp_path, server, ["--dry-run"], script())
    assert_valid(report)
    # a dry run checks like a run does (the built-in syntax check here), and makes no branch
    assert report["status"] == "dry-run" and report["diff"] and [c["name"] for c in report["checks"]] == ["syntax"]


def test_failed_run_report_validates(tmp_path: Path, server) -> None:
    bad = udiff("pkg/mod.py", MOD, MOD_NEW).replace("-def greet(name):", "-def greet(nme):")
    report = run_json(tmp_path, server, ["--yes"], script({"worker:pkg/mod.py": [patch_turn(bad)] * 3}), code=1)
    assert_valid(report)
    assert report["status"] == "failed" and report["branch"] is None and report["errors"]
    failed = [f for f in report["files"] if f["status"] == "failed"]
    assert [f["path"] for f in failed] == ["pkg/mod.py"] and failed[0]["attempts"] == 3 and failed[0]["error"]


def test_run_without_a_plan_validates(tmp_path: Path, server) -> None:
    turns = {"orchestrator": [plan_turn("x", [(".git/config", "modify", "x")])] * 2}
    report = run_json(tmp_path, server, ["--yes"], turns, code=1)
    assert_valid(report)
    assert report["plan"] is None and report["files"] == []


def test_partial_run_report_validates(tmp_path: Path, server) -> None:
    turns = script({"worker:pkg/mod.py": [{"text": "I would rather not."}] * 3})
    report = run_json(tmp_path, server, ["--yes", "--allow-partial"], turns, code=4)
    assert_valid(report)
    assert report["status"] == "partial" and report["commit"]


def test_run_with_checks_report_validates(tmp_path: Path, server) -> None:
    """A passing check, one that fails on the base too, and a new failure committed with --allow-failing."""
    checks = ["python -c 'import pkg.mod'", "exit 3", "test ! -e pkg/version.py"]
    args = ["--yes", "--repair-rounds", "0", "--allow-failing"] + [a for c in checks for a in ("--check", c)]
    report = run_json(tmp_path, server, args, script())
    assert_valid(report)
    verdicts = {c["name"]: (c["verdict"], c["base_status"]) for c in report["checks"]}
    assert verdicts["syntax"] == ("pass", None)
    assert sorted(verdicts.values()) == [("new-failure", "pass"), ("pass", None), ("pass", None),
                                         ("pre-existing", "fail")]


def test_pushed_run_report_validates(tmp_path: Path, server) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = make_repo(tmp_path / "repo", FILES)
    git(repo, "remote", "add", "origin", str(remote))
    report = run_json(tmp_path, server, ["--yes", "--push", "origin"], script())
    assert_valid(report)
    assert report["remote"] == "origin"
    assert git(remote, "rev-parse", f"refs/heads/{report['branch']}").strip() == report["commit"]


@pytest.mark.slow
def test_demo_json_report_validates(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["TMPDIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "diffcrew.agent", "demo", "--json"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert_valid(report)
    assert report["status"] == "ok" and report["branch"] == "diffcrew/demo"
    assert max(f["attempts"] for f in report["files"]) == 2


@pytest.mark.parametrize("changes", [{"status": "failed", "exit_code": 0}, {"status": "failed", "errors": []},
                                     {"status": "failed", "exit_code": 4}, {"status": "ok"},
                                     {"status": "dry-run", "exit_code": 0, "branch": "diffcrew/x"},
                                     {"base": "abc123"}, {"run_id": "today"}, {"cost_usd": -1}])
def test_inconsistent_reports_are_rejected(changes: dict[str, Any]) -> None:
    assert list(validator().iter_errors(minimal_report(**changes)))
