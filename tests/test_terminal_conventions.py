"""What a shell user expects of files and Ctrl-C (issue 18, item 4): `-F <(cmd)`, `apply <(git diff)`,
/dev/stdin and FIFOs are read like files (once), and Ctrl-C in the first seconds of a run ends it at
once, however long the SDK's import still has to go. (Colour: tests/test_colour.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from children import like_a_terminal
from conftest import diffcrew_branches, make_repo, run_cli, snapshot, udiff
from test_user_faults import FILES, GEO_NEW, GEO_OLD, script, transcript_lines, wait_until

REQUEST = "type the area function"


@contextlib.contextmanager
def fifo_holding(path: Path, data: bytes) -> Iterator[Path]:
    """A FIFO at `path` whose writer (a thread) gives `data` to the first reader, then closes."""
    os.mkfifo(path)
    writer = threading.Thread(target=path.write_bytes, args=(data,), daemon=True)
    writer.start()
    try:
        yield path
    finally:
        if writer.is_alive():  # nobody read it: open the other end so that the writer can finish
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            writer.join(10)
            os.close(descriptor)


def child_env(server) -> dict[str, str]:
    env = {**os.environ, **{k: v for k, v in server.env().items() if v is not None}}
    env.pop("DIFFCREW_REQUEST_TIMEOUT", None)
    return env


# -- -F and apply read pipes, FIFOs and /dev/stdin ---------------------------------------------------

def test_message_file_may_be_a_fifo(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(script())
    with fifo_holding(tmp_path / "request.fifo", f"{REQUEST}\n".encode()) as fifo:
        result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "-q", "-F", str(fifo)], seam)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["request"] == REQUEST


def test_message_file_may_be_dev_stdin(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    done = subprocess.run(["diffcrew", "run", "--repo", str(repo), "--yes", "--json", "-q", "-F", "/dev/stdin"],
                          input=f"{REQUEST}\n", env=child_env(server), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["request"] == REQUEST


def test_message_file_that_is_a_directory_or_missing_is_one_line(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    folder = run_cli(["run", "--repo", str(repo), "--yes", "-F", str(tmp_path)], seam)
    missing = run_cli(["run", "--repo", str(repo), "--yes", "-F", str(tmp_path / "none.txt")], seam)
    assert folder.exit_code == missing.exit_code == 2 and seam.requests == []
    assert folder.stderr == f"diffcrew: error: request file is a directory: {tmp_path}\n"
    assert missing.stderr == f"diffcrew: error: request file not found: {tmp_path / 'none.txt'}\n"


def test_apply_reads_a_fifo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    with fifo_holding(tmp_path / "change.fifo", udiff("geo.py", GEO_OLD, GEO_NEW).encode()) as fifo:
        result = run_cli(["apply", "--repo", str(repo), str(fifo)])
    assert result.exit_code == 0, result.output
    assert (repo / "geo.py").read_text() == GEO_NEW


def test_apply_reads_dev_stdin_and_process_substitution(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    patch = udiff("geo.py", GEO_OLD, GEO_NEW)
    checked = subprocess.run(["diffcrew", "apply", "--check", "/dev/stdin"], cwd=repo, input=patch,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stdout.startswith("would apply: geo.py"), checked.stderr
    written = subprocess.run(["bash", "-c", 'diffcrew apply <(printf %s "$PATCH")'], cwd=repo,
                             env={**os.environ, "PATCH": patch}, capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    assert (repo / "geo.py").read_text() == GEO_NEW


# -- Ctrl-C while the SDK is still being imported -------------------------------------------------

def slow_sdk(folder: Path, marker: Path) -> Path:
    """A package named `anthropic` whose import never ends (within any test's patience): put first
    on PYTHONPATH, it stands for the real SDK's import on a loaded machine."""
    package = folder / "anthropic"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\n"
                                         "time.sleep(600)\n", encoding="utf-8")
    return folder


def ctrl_c_during_import(repo: Path, env: dict[str, str], marker: Path) -> tuple[int | None, str, str]:
    """`diffcrew run` in `repo`, given Ctrl-C once it has read the context and the SDK's import has
    begun (`marker` exists); its exit code (None: still running after 60 s, then killed), stderr and stdout."""
    child = subprocess.Popen(["diffcrew", "run", "--repo", str(repo), "--yes", REQUEST], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                             preexec_fn=like_a_terminal)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    wait_until(lambda: marker.exists() and any("tracked files" in line for line in lines) or child.poll() is not None)
    time.sleep(0.2)  # not a bound: the run is then surely awaiting the import (it has nothing else to do)
    os.kill(child.pid, signal.SIGINT)
    try:  # the import sleeps 600 s: a run that waited for it cannot end within this bound
        code: int | None = child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        code = None
    reader.join(10)
    return code, "".join(lines), child.stdout.read() if child.stdout is not None else ""


@pytest.mark.slow
def test_ctrl_c_while_the_sdk_is_imported_exits_at_once_with_130(tmp_path: Path, server) -> None:
    """The run has read the context and waits for the SDK's import (started once its input was
    checked) to make its client: Ctrl-C ends it there. Before, the event loop sat on the import
    lock until the import ended, and so did the interruption (here: never)."""
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script(script())
    marker = tmp_path / "import-started"
    env = {**child_env(server), "PYTHONPATH": str(slow_sdk(tmp_path / "sdk", marker))}
    code, err, out = ctrl_c_during_import(repo, env, marker)
    assert code == 130, err
    assert err.endswith("diffcrew: error: interrupted; your repository is unchanged\n"), err
    assert "Traceback" not in err and out == ""
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
    assert transcript_lines(repo)[-1]["status"] == "interrupted"
    assert server.requests == []  # no model call was made
