"""Child `diffcrew` processes that tests and benchmarks start (each in a session of its own)."""

from __future__ import annotations

import os
import signal
import subprocess


def finish(child: subprocess.Popen[str], timeout: float) -> tuple[int | None, str, str]:
    """(exit code or None when it did not end in time, stdout, stderr); never leaves the child
    or its process group running."""
    try:
        out, err = child.communicate(timeout=timeout)
        return child.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        return None, out, err
