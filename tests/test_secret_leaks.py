"""Secrets that must never leave diffcrew: the API key to the checks, a repository's secrets to the
model or to anything diffcrew writes (issue 13, items 2, 3, 6 and 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from children import finish
from conftest import make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff

KEY = "sk-ant-api03-the-users-real-key-0123456789abcdefXYZ"
OLD = "def area(w, h):\n    return w * h\n"
NEW = "def area(w: float, h: float) -> float:\n    return w * h\n"

# Walks from the check up through its ancestors (the shell, diffcrew, ...), reading each one's
# environment the way any same-user process can, and records where the key was readable.
PROBE = r'''
import json, os, sys
key, out = sys.argv[1], sys.argv[2]
found, pid = {}, os.getpid()
while pid > 1:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            found[pid] = "KEY" if key.encode() in handle.read() else "clean"
    except OSError as exc:
        found[pid] = f"unreadable: {exc.strerror}"
    with open(f"/proc/{pid}/status") as handle:
        pid = int(next(line for line in handle if line.startswith("PPid:")).split()[1])
found["own"] = "KEY" if key in json.dumps(dict(os.environ)) else "clean"
json.dump({str(k): v for k, v in found.items()}, open(out, "w"))
'''


def _script() -> dict[str, list[dict[str, Any]]]:
    return {"orchestrator": [plan_turn("Type area.", [("geo.py", "modify", "Add float hints.")])],
            "worker:geo.py": [patch_turn(udiff("geo.py", OLD, NEW))], "synthesizer": [summary_turn("Type area")]}


@pytest.mark.slow
def test_a_check_cannot_read_the_api_key_from_any_ancestor(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    probe, out = tmp_path / "probe.py", tmp_path / "found.json"
    probe.write_text(PROBE)
    server.set_script(_script())
    env = {**os.environ, **server.env(), "ANTHROPIC_API_KEY": KEY}
    env.pop("DIFFCREW_REQUEST_TIMEOUT", None)
    check = f"{sys.executable} {probe} {KEY} {out}"
    child = subprocess.Popen(["diffcrew", "run", "--repo", str(repo), "--yes", "--check", check, "type area"],
                             env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    code, _, err = finish(child, 120)
    assert code == 0, err
    found = json.loads(out.read_text())
    assert str(child.pid) in found, found  # the probe did reach diffcrew's own process
    assert "KEY" not in found.values(), found


def test_sealing_makes_the_process_non_dumpable_and_keeps_the_key_for_the_client() -> None:
    code = ("import ctypes, os\nfrom diffcrew.tools import credentials\ncredentials.seal()\n"
            "libc = ctypes.CDLL(None)\n"
            "print(libc.prctl(3, 0, 0, 0, 0), 'ANTHROPIC_API_KEY' in os.environ, credentials.get('ANTHROPIC_API_KEY'))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ANTHROPIC_API_KEY": KEY},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", KEY]


LEAKY_ENV = {"TOKEN": "tok-0123456789", "APIKEY": "apikey-0123456789", "CI_JOB_JWT": "eyJhbGciOiJIUzI1NiJ9.e30.sig",
             "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
             "TEAMS_HOOK": "https://example.webhook.office.com/webhookb2/abc", "NODE_AUTH_TOKEN": "npm-auth-0123",
             "HTTPS_PROXY": "http://user:hunter2@proxy:3128", "SOME_TOOL_SETTING": "not-on-the-list"}


def test_the_check_environment_is_an_allowlist(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    dump = tmp_path / "env.txt"
    server.set_script(_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--check", f"env > '{dump}'", "type area"], server,
                     env={**LEAKY_ENV, "LC_ALL": "C.UTF-8", "VIRTUAL_ENV": "/venv", "PYTHONPATH": "/py"})
    assert result.exit_code == 0, result.output
    seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    leaked = {name for name in LEAKY_ENV if name in seen} | {v for v in LEAKY_ENV.values() if v in str(seen)}
    assert not leaked
    assert {"PATH", "HOME", "LC_ALL", "VIRTUAL_ENV", "PYTHONPATH"} <= set(seen)


def test_a_variable_named_in_diffcrew_check_env_reaches_the_checks(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    dump = tmp_path / "env.txt"
    server.set_script(_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--check", f"env > '{dump}'", "type area"], server,
                     env={"DATABASE_URL": "postgres://localhost/test", "DIFFCREW_CHECK_ENV": "DATABASE_URL"})
    assert result.exit_code == 0, result.output
    assert "DATABASE_URL=postgres://localhost/test" in dump.read_text()


TOKEN = "ghp_" + "R3alDeployT0ken" * 3  # a GitHub token shape, 45 characters after the prefix


def _runs(repo: Path) -> Path:
    return repo / ".git" / "diffcrew" / "runs"


def test_secrets_in_the_request_and_checks_are_redacted_at_rest(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    body = tmp_path / "pr.md"
    server.set_script(_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--pr-body", str(body),
                      "--check", f"test -n {TOKEN}", f"type area; deploy with {TOKEN}"], server)
    assert result.exit_code == 0, result.output
    [transcript] = _runs(repo).glob("*.jsonl")
    written = {"transcript": transcript.read_text(), "pr body": body.read_text(), "--json": result.stdout,
               "branch": "\n".join(p.name for p in (repo / ".git" / "refs" / "heads").rglob("*"))}
    assert {where for where, text in written.items() if TOKEN in text} == set()
    assert "[REDACTED-SECRET-" in written["transcript"] and "[REDACTED-SECRET-" in written["pr body"]
    assert transcript.stat().st_mode & 0o777 == 0o600 and _runs(repo).stat().st_mode & 0o777 == 0o700


def test_credentials_in_the_base_url_are_masked(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    server.set_script({"orchestrator": [{"http_error": 401, "message": "invalid x-api-key"}]})
    url = server.url.replace("://", "://deploy:Sup3rS3cretPw@")
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "type area"], server,
                     env={"ANTHROPIC_BASE_URL": url})
    assert result.exit_code != 0
    [transcript] = _runs(repo).glob("*.jsonl")
    assert "401" in result.stdout + result.stderr
    leaked = [where for where, text in (("stderr", result.stderr), ("--json", result.stdout),
                                        ("transcript", transcript.read_text())) if "Sup3rS3cretPw" in text]
    assert leaked == []


PASSWORD = "correct-horse-battery-staple-42"
SETTINGS = f'password = "{PASSWORD}"\nTIMEOUT = 10\n'


def test_a_secret_found_by_context_never_goes_out_again_whatever_the_model_echoes(tmp_path: Path, server) -> None:
    import hashlib
    import hmac

    repo = make_repo(tmp_path / "repo", {"settings.py": SETTINGS})
    key = bytes(range(32))
    (repo / ".git" / "diffcrew").mkdir()
    (repo / ".git" / "diffcrew" / "redaction.key").write_bytes(key)
    token = f"[REDACTED-SECRET-{hmac.new(key, PASSWORD.encode(), hashlib.sha256).hexdigest()[:12]}]"
    note = f"notes/{token}.md"
    new_settings = SETTINGS.replace("TIMEOUT = 10", "TIMEOUT = 30").replace(PASSWORD, token)
    server.set_script({
        "orchestrator": [
            {"tool": "read_file", "input": {"path": f"{token}.txt"}, "text": f"The password is {token}."},
            plan_turn(f"Raise the timeout; keep {token}.", [
                ("settings.py", "modify", f"Raise TIMEOUT to 30; keep password {token}."),
                (note, "create", f"Record that the password {token} is unchanged.")])],
        "worker:settings.py": [patch_turn(udiff("settings.py", SETTINGS.replace(PASSWORD, token), new_settings))],
        f"worker:{note}": [patch_turn(udiff(note, None, f"Password {token} unchanged.\n"))],
        "synthesizer": [summary_turn(f"Raise the timeout, keep {token}", f"The password {token} stays.")]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "raise the timeout"], server)
    assert result.exit_code == 0, result.output
    branch = json.loads(result.stdout)["branch"]
    assert token in json.dumps([r.body for r in server.requests])  # the model's echoes did go back out
    sent = [i for i, r in enumerate(server.requests) if PASSWORD in json.dumps(r.body)]
    message = subprocess.run(["git", "log", "-1", "--format=%B", branch], cwd=repo, capture_output=True,
                             text=True, check=True).stdout
    [transcript] = _runs(repo).glob("*.jsonl")
    assert (sent, PASSWORD in message, PASSWORD in transcript.read_text()) == ([], False, False), message
    # the repository itself keeps the real value: the change applied to the real file
    assert subprocess.run(["git", "show", f"{branch}:settings.py"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout == SETTINGS.replace("TIMEOUT = 10", "TIMEOUT = 30")
