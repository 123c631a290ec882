"""A child `diffcrew` on a pseudo-terminal, as a person's shell runs it: what it printed, byte for byte."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

from children import like_a_terminal

ESCAPE = re.compile(rb"\x1b")  # every escape sequence (colour, style, cursor movement) starts with ESC


def run_on_a_terminal(argv: list[str], env: dict[str, str], cwd: Path | None = None,
                      timeout: float = 120.0) -> tuple[int | None, bytes]:
    """(exit code or None when it did not end in time, everything it wrote) of `argv` with stdin,
    stdout and stderr on one pseudo-terminal; the child and its group never outlive the call."""
    master, slave = os.openpty()
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                             start_new_session=True, preexec_fn=like_a_terminal)
    os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every copy of the terminal's other side is closed, the child is gone
                break
            if not data:
                break
            output += data
        else:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return None, bytes(output)
        return child.wait(timeout=max(1.0, deadline - time.monotonic())), bytes(output)
    finally:
        os.close(master)
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def escapes(output: bytes | str) -> int:
    """How many escape sequences `output` holds."""
    return len(ESCAPE.findall(output if isinstance(output, bytes) else output.encode("utf-8", "replace")))
