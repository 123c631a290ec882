"""Quick exits of the installed command, and inputs that never end.

A process that ended while the background import of the SDK (agent/llm/sdkimport.py) was inside an
import crashed now and then (SIGSEGV, exit 139) or hung in the interpreter's finalization: usage
errors must not race that import, and an exit during it must skip the finalization. `-F`, `run -`
and `apply` read at most one byte past their limit, so /dev/zero and `yes |` end in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import diffcrew_branches, make_repo, snapshot
from test_terminal_conventions import REQUEST, child_env, ctrl_c_during_import
from test_user_faults import FILES, script, transcript_lines

from diffcrew.agent.cli.options import read_input
from diffcrew.agent.config import MAX_REQUEST_BYTES
from diffcrew.tools.errors import UsageError

PATIENCE = 120  # seconds: a guard against a hang, not a bound on speed


# -- usage errors never race the SDK's import ------------------------------------------------------

@pytest.mark.slow
def test_usage_errors_of_run_exit_2_every_time(tmp_path: Path) -> None:
    """Before, the import started with the process and a usage error ended it mid-import: exit 139
    in about 3 runs of 10 (`-F DIR`), 1 of 10 (`--pr-body` into a missing directory)."""
    cases = (["-q", "--yes", "-F", str(tmp_path)], ["--pr-body", str(tmp_path / "no" / "x.md"), REQUEST])
    codes = [subprocess.run(["diffcrew", "run", *cases[i % 2]], cwd=tmp_path, capture_output=True, text=True,
                            timeout=PATIENCE).returncode for i in range(30)]
    assert codes == [2] * 30


# -- an exit while the SDK is still being imported skips the interpreter's finalization ---------------

def stuck_sdk(folder: Path, marker: Path) -> Path:
    """An `anthropic` whose import never ends and leaves a thread that finalization would wait for:
    an interpreter that finalizes under a live import hangs on it (the real SDK's C extensions
    crash it instead, now and then)."""
    package = folder / "anthropic"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import pathlib, threading, time\n"
        "threading.Thread(target=time.sleep, args=(600,), daemon=False).start()\n"
        f"pathlib.Path({str(marker)!r}).touch()\n"
        "time.sleep(600)\n", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_ctrl_c_during_the_import_exits_130_without_finalizing(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script(script())
    marker = tmp_path / "import-started"
    env = {**child_env(server), "PYTHONPATH": str(stuck_sdk(tmp_path / "sdk", marker))}
    code, err, out = ctrl_c_during_import(repo, env, marker)  # a process that finalized would wait 600 s
    assert code == 130, err
    assert err.endswith("diffcrew: error: interrupted; your repository is unchanged\n") and out == "", err
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
    assert transcript_lines(repo)[-1]["status"] == "interrupted"  # written and closed before the exit
    assert server.requests == []


# -- bounded reads ---------------------------------------------------------------------------------

def test_read_input_takes_the_limit_and_refuses_one_byte_more(tmp_path: Path) -> None:
    exact, over = tmp_path / "exact.txt", tmp_path / "over.txt"
    exact.write_bytes(b"x" * MAX_REQUEST_BYTES)
    over.write_bytes(b"x" * (MAX_REQUEST_BYTES + 1))
    assert read_input(str(exact), "request file", MAX_REQUEST_BYTES) == b"x" * MAX_REQUEST_BYTES
    with pytest.raises(UsageError, match="the request file is too long: the limit is 65,536 bytes"):
        read_input(str(over), "request file", MAX_REQUEST_BYTES)


def refused(command: str, what: str, cwd: Path) -> None:
    """`command` (a shell line) ends with exit 2 and one line naming the limit, however much input there is."""
    done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=PATIENCE)
    limit = f"{MAX_REQUEST_BYTES:,}" if what.startswith("request") else f"{64 * 1024 * 1024:,}"
    assert (done.returncode, done.stderr) == (2, f"diffcrew: error: the {what} is too long: the limit is "
                                                 f"{limit} bytes\n"), command


@pytest.mark.skipif(not Path("/dev/zero").exists() or sys.platform == "win32", reason="needs /dev/zero and bash")
def test_endless_inputs_are_refused_at_the_limit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    refused("diffcrew run -q --yes -F /dev/zero", "request file", repo)
    refused("yes | diffcrew run -q --yes -", "request", repo)
    refused("yes | diffcrew apply -", "patch", repo)
    refused("diffcrew apply /dev/zero", "patch file", repo)
    assert snapshot(repo) == before
