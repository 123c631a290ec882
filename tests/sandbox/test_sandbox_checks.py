"""Checks in the workspace, judged against the base: real git repos, real subprocesses."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import git, make_repo, snapshot

from diffcrew.sandbox.checks import Check, CheckResult, run_checks
from diffcrew.sandbox.process import scrubbed_env
from diffcrew.sandbox.settings import PRE_COMMIT
from diffcrew.sandbox.workspace import Workspace, prune_stale
from diffcrew.tools.git import GitRepo, TreeChange

PY = shlex.quote(sys.executable)
PYTEST = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {PY} -m pytest -q -p no:cacheprovider"
MOD = "def add(a, b):\n    return a + b\n"
TESTS = {
    "mod.py": MOD,
    "test_mod.py": "from mod import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n",
    "test_old.py": "def test_known_broken():\n    assert 1 == 2, 'broken before diffcrew came'\n",
}


def check_run(root: Path, changes: dict[str, bytes | None], checks: list[Check]) -> list[CheckResult]:
    """What the synthesizer does: a workspace at HEAD, write the change, run the checks, remove it."""
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    with Workspace.create(repo, base, "test") as ws:
        ws.write([TreeChange(path, data) for path, data in changes.items()])
        return run_checks(checks, ws, repo, base, changes)


@pytest.mark.slow
def test_pre_existing_failing_test_does_not_block_an_unrelated_change(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", TESTS)
    before = snapshot(root)
    change = {"mod.py": (MOD + "\n\ndef sub(a, b):\n    return a - b\n").encode()}
    [result] = check_run(root, change, [Check("pytest", PYTEST, 60)])
    assert (result.status, result.base_status, result.new_failure, result.verdict) == \
        ("fail", "fail", False, "pre-existing")
    assert "test_known_broken" in result.output and "also fails on the base" in result.output
    broken = {"mod.py": MOD.replace("a + b", "a - b").encode()}
    [result] = check_run(root, broken, [Check("pytest", PYTEST, 60)])
    assert (result.status, result.new_failure, result.verdict) == ("fail", True, "new-failure")
    assert "test_add" in result.output
    assert snapshot(root) == before


def test_a_passing_check_needs_no_base_run_and_reports_json(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"mod.py": MOD})
    results = check_run(root, {"mod.py": b"X = 1\n"}, [Check("syntax", None), Check("ok", "echo fine")])
    report = json.loads(json.dumps([r.to_dict() for r in results]))
    assert [(r["name"], r["verdict"], r["base_status"]) for r in report] == [("syntax", "pass", None),
                                                                            ("ok", "pass", None)]
    assert report[1]["output"].strip() == "fine" and report[1]["duration_s"] >= 0


@pytest.mark.slow
def test_a_hanging_check_is_killed_at_its_timeout_with_its_children(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"mod.py": MOD})
    pidfile = tmp_path / "pid"
    hang = Check("hang", f"sleep 600 & echo $! > {shlex.quote(str(pidfile))}; wait", timeout=0.5)
    loop = Check("import", f"{PY} -c 'import mod'", timeout=1.0)
    # Was: check_run took < 15 s. Now a hang guard far below the 600 s the check would take unkilled.
    done: list = []
    runner = threading.Thread(target=lambda: done.append(check_run(root, {"mod.py": b"while True:\n    pass\n"},
                                                                   [hang, loop])), daemon=True)
    runner.start()
    runner.join(120)
    assert done, "the checks were not killed at their timeouts"
    results = done[0]
    assert [(r.status, r.base_status, r.new_failure) for r in results] == [
        ("timeout", "timeout", False),   # hangs on the base too: not the change's fault
        ("timeout", "pass", True)]       # the change made it hang
    assert "killed after the 0.5s timeout" in results[0].output
    assert wait_gone(int(pidfile.read_text()))


def test_the_check_cannot_see_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("HARMLESS_SETTING", "kept")
    root = make_repo(tmp_path / "repo", {"mod.py": MOD})
    dump = tmp_path / "env.txt"
    [result] = check_run(root, {"mod.py": b"X = 1\n"}, [Check("env", f"env > {shlex.quote(str(dump))}")])
    seen = dump.read_text()
    assert result.status == "pass"
    assert "ANTHROPIC_API_KEY" not in seen and "sk-ant-very-secret" not in seen and "GITHUB_TOKEN" not in seen
    assert "PATH=" in seen and "HARMLESS_SETTING" not in seen  # an allowlist: unknown names stay out
    monkeypatch.setenv("DIFFCREW_CHECK_ENV", "HARMLESS_*, GITHUB_TOKEN")
    check_run(root, {"mod.py": b"X = 1\n"}, [Check("env", f"env > {shlex.quote(str(dump))}")])
    assert "HARMLESS_SETTING=kept" in dump.read_text() and "GITHUB_TOKEN=ghp_secret" in dump.read_text()


def test_scrubbed_env_drops_credentials_and_git_locations() -> None:
    env = {"PATH": "/bin", "HOME": "/h", "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "u", "OPENAI_API_KEY": "k",
           "NPM_TOKEN": "t", "MY_SECRET_THING": "s", "DB_PASSWORD": "p", "AWS_REGION": "r", "STRIPE_KEY": "k",
           "DATABASE_URL": "postgres://user:pw@host/db", "ODD_NAME": "sk-ant-xyz", "GIT_DIR": "/user/.git",
           "GIT_AUTHOR_NAME": "Ann", "SSH_AUTH_SOCK": "/s", "LANG": "C.UTF-8"}
    assert scrubbed_env(env) == {"PATH": "/bin", "HOME": "/h", "GIT_AUTHOR_NAME": "Ann", "LANG": "C.UTF-8",
                                 "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat"}


def test_base_results_are_cached_per_base_commit(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"mod.py": MOD})
    counter = tmp_path / "counter"
    check = Check("counted", f"echo run >> {shlex.quote(str(counter))}; echo 'error: always broken'; exit 1")
    for n in (1, 2, 3):
        [result] = check_run(root, {"mod.py": f"X = {n}\n".encode()}, [check])
        assert (result.status, result.base_status, result.new_failure) == ("fail", "fail", False)
    assert counter.read_text().count("run") == 4  # three changed runs, one base run
    assert len(list((root / ".git" / "diffcrew" / "cache" / "checks").glob("*.json"))) == 1


def test_files_expand_shell_quoted_with_spaces_and_without_deleted(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"my dir/a b.py": "A = 1\n", "gone.py": "G = 1\n", "c.py": "C = 1\n"})
    out = tmp_path / "args.json"
    code = f"import json, sys; json.dump(sys.argv[1:], open({str(out)!r}, 'w'))"
    check = Check("args", f"{PY} -c {shlex.quote(code)} {{files}}")
    changes = {"my dir/a b.py": b"A = 2\n", "new 'q'.py": b"N = 1\n", "gone.py": None}
    [result] = check_run(root, changes, [check])
    assert result.status == "pass"
    assert json.loads(out.read_text()) == ["my dir/a b.py", "new 'q'.py"]


def test_output_is_trimmed_and_names_the_changed_files(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"mod.py": MOD, "other.py": "O = 1\n"})
    script = "for i in range(500): print('line', i)\nprint('mod.py:3:1: error: bad thing')\nraise SystemExit(1)\n"
    check = Check("noisy", f"if grep -q 'O = 2' other.py; then {PY} -c {shlex.quote(script)}; fi")
    [result] = check_run(root, {"mod.py": b"X = 1\n", "other.py": b"O = 2\n"}, [check])
    assert (result.status, result.base_status, result.new_failure) == ("fail", "pass", True)
    assert result.files == ("mod.py",)
    assert "lines cut" in result.output and result.output.rstrip().endswith("error: bad thing")
    assert len(result.output) <= 8200


def test_a_missing_tool_is_an_error_of_the_check_not_of_the_change(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"mod.py": MOD})
    [result] = check_run(root, {"mod.py": b"X = 1\n"}, [Check("lint", "no-such-linter-xyz {files}")])
    assert (result.status, result.base_status, result.new_failure, result.verdict) == \
        ("error", "error", False, "pre-existing")
    assert "no-such-linter-xyz" in result.output


@pytest.mark.slow
def test_pre_commit_runs_the_repos_own_hooks_on_the_changed_files(tmp_path: Path) -> None:
    if shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed")
    config = "repos:\n- repo: local\n  hooks:\n  - id: no-todo\n    name: no TODO\n    entry: '(?i)todo'\n" \
             "    language: pygrep\n    types: [python]\n"
    root = make_repo(tmp_path / "repo", {".pre-commit-config.yaml": config,
                                         "mod.py": MOD, "old.py": "# TODO: pre-existing\n"})
    before = snapshot(root)
    pre_commit = Check("pre-commit", PRE_COMMIT, 120)
    [result] = check_run(root, {"mod.py": MOD.encode() + b"# todo: new\n", "old.py": b"# TODO: still\n"},
                         [pre_commit])
    assert (result.status, result.base_status, result.new_failure) == ("fail", "fail", True)
    assert "mod.py" in result.files and "mod.py:3:# todo: new" in result.output
    [result] = check_run(root, {"old.py": b"X = 1\n# TODO: pre-existing\n"}, [pre_commit])  # the line moved
    assert (result.status, result.new_failure) == ("fail", False)
    assert snapshot(root) == before


def test_syntax_check_blames_only_files_that_parsed_before(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"ok.py": "X = 1\n", "old_broken.py": "def f(:\n", "notes.md": "# hi\n"})
    changes = {"ok.py": b"def g():\n    return (\n", "old_broken.py": b"def f(:\n  pass\n", "notes.md": b"((",
               "ok2.py": b"Y = 2\n"}
    [result] = check_run(root, changes, [Check("syntax", None)])
    assert (result.status, result.new_failure, result.files, result.base_status) == ("fail", True, ("ok.py",), None)
    assert "ok.py:2:" in result.output and "did not parse on the base either" in result.output
    [result] = check_run(root, {"old_broken.py": b"def f(:\n  pass\n", "gone": None}, [Check("syntax", None)])
    assert (result.status, result.new_failure, result.verdict) == ("fail", False, "pre-existing")
    [result] = check_run(root, {"new.py": b"return 1\n"}, [Check("syntax", None)])
    assert (result.new_failure, result.files) == (True, ("new.py",))
    assert "'return' outside function" in result.output


def test_syntax_check_uses_tree_sitter_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("tree_sitter")
    pytest.importorskip("tree_sitter_javascript")
    root = make_repo(tmp_path / "repo", {"app.js": "function f() { return 1; }\n"})
    [result] = check_run(root, {"app.js": b"function f() {\n  return (1;\n}\n"}, [Check("syntax", None)])
    assert (result.status, result.new_failure, result.files) == ("fail", True, ("app.js",))
    assert result.output.startswith("app.js:2:")


def test_a_run_killed_mid_check_leaves_a_worktree_the_next_run_prunes(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"mod.py": MOD})
    before = snapshot(root)
    pidfile = tmp_path / "check.pid"
    script = textwrap.dedent("""
        import sys
        from diffcrew.tools.git import GitRepo, TreeChange
        from diffcrew.sandbox.checks import Check, run_checks
        from diffcrew.sandbox.workspace import Workspace
        repo = GitRepo(sys.argv[1]); base = repo.resolve("HEAD")
        ws = Workspace.create(repo, base, "doomed")
        ws.write([TreeChange("mod.py", b"X = 1\\n")])
        run_checks([Check("slow", "echo $$ > " + sys.argv[2] + "; exec sleep 60")], ws, repo, base, {"mod.py": b"X = 1\\n"})
    """)
    child = subprocess.Popen([sys.executable, "-c", script, str(root), shlex.quote(str(pidfile))])
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
        child.wait()
    check_pid = int(pidfile.read_text())
    assert not gone(check_pid)  # the orphaned check outlived its run...
    pruned = prune_stale(GitRepo(root))
    assert len(pruned) == 1 and not Path(pruned[0]).exists()
    assert wait_gone(check_pid)  # ...until the prune stopped it
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert snapshot(root) == before


def wait_gone(pid: int, seconds: float = 10) -> bool:
    """gone(pid), given the time a SIGKILL takes to land on a loaded machine (the process dies when
    it is next scheduled, not when the signal is sent)."""
    deadline = time.monotonic() + seconds
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return gone(pid)


def gone(pid: int) -> bool:
    """The process has exited (a zombie left for a non-reaping init counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True
