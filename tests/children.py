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


def like_a_terminal() -> None:
    """A child's signals as a person's shell leaves them (a `preexec_fn`): a suite started as a
    background job (`cmd &`, some CI runners) has SIGINT ignored, every child inherits that, and
    Python then installs no Ctrl-C handler at all, so the tests of Ctrl-C could not deliver one."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
