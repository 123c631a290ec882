"""Throwaway files and folders diffcrew needs while it works: an index built apart from the user's,
a command's input, a check's captured output.

They live in `<git-common-dir>/diffcrew/tmp/` (`statedir.scratch_dir`, mode 0700), never in the
system temp directory: nothing is written outside the repository. Files are unnamed where the
system allows it (O_TMPFILE), so they leave nothing behind whatever happens to the process.

Each named entry starts with its owner, `<pid>_<start time>_<host>_`, so that what a killed process
left (kill -9 cannot clean up) is recognised: the first use of the folder in a process prunes the
entries whose owner no longer runs (`tools/liveness.py`, the rule the sandbox's stale worktrees
follow). Entries of another host (a repository on a shared disk) are left alone: we cannot tell.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

from diffcrew.tools.liveness import process_alive, start_time
from diffcrew.tools.statedir import scratch_dir, unwritable

OWNER = re.compile(r"^(?P<pid>\d+)_(?P<start>\d+|x)_(?P<host>[\w.-]*?)_")
_seen: set[Path] = set()
_lock = threading.Lock()


def scratch(common_dir: os.PathLike[str] | str) -> Path:
    """The scratch folder, created if needed (one clear line when it cannot be); pruned on first use."""
    folder = scratch_dir(common_dir)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(folder, exc) from None
    with _lock:
        first = folder not in _seen
        _seen.add(folder)
    if first:
        prune(folder)
    return folder


@contextlib.contextmanager
def scratch_folder(common_dir: os.PathLike[str] | str) -> Iterator[Path]:
    """A fresh folder in the scratch folder, removed when the block ends."""
    path = Path(tempfile.mkdtemp(prefix=owner_prefix(), dir=scratch(common_dir)))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def scratch_file(common_dir: os.PathLike[str] | str, data: bytes = b"") -> BinaryIO:
    """A temporary file in the scratch folder holding `data`, rewound (a command's stdin; empty, a sink)."""
    handle = tempfile.TemporaryFile(prefix=owner_prefix(), dir=scratch(common_dir))
    if data:
        handle.write(data)
        handle.seek(0)
    return handle


def owner_prefix() -> str:
    """`<pid>_<start time>_<host>_`: who made an entry, read back by `prune`."""
    pid = os.getpid()
    start = start_time(pid)
    return f"{pid}_{'x' if start is None else start}_{_host()}_"


def prune(folder: Path) -> list[str]:
    """Remove the entries of `folder` whose owner (on this host) no longer runs; return their names."""
    pruned = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        owner = OWNER.match(entry.name)
        if owner is None or owner["host"] != _host():
            continue
        start = None if owner["start"] == "x" else int(owner["start"])
        if process_alive(int(owner["pid"]), start):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        pruned.append(entry.name)
    return pruned


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40]
