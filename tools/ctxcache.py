"""Reading blobs in bulk, and the context cache under `<git-common-dir>/diffcrew/cache/`.

Everything cached is keyed by git object ids, so it never goes stale: a blob's token counts and
outline depend only on the blob, a tree's index only on the tree (and the index format). A run on
a commit that changed a few files finds almost every blob already analysed and reads only the new
ones. Files are written with `marshal` (plain data only, so loading one can never run code) to a
temporary name and renamed into place, so concurrent runs never see half a file.

Layout: `v4/blobs/*.seg` and `v4/outlines/*.seg` are append-only segments of per-blob records (a
new segment per run that analysed something new, merged when there are many); `v4/trees/<id>`
holds one tree's index and `v4/terms/<id>` which of its files use the words asked for so far
(lexicon.py), the few most recently used trees kept.
"""

from __future__ import annotations

import marshal
import os
import re
import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

from diffcrew.tools.statedir import cache_dir

# What is cached is a function of git objects and of diffcrew's rules: bump FORMAT whenever a rule
# behind a record changes (the statuses of textindex.classify, the content verdicts of
# textindex.analyse_blob and inventory.has_secret_content, the lexicon's terms, the outlines), or
# records made under the old rule would be trusted (a blob once judged "text" stays "text").
FORMAT = "v4"  # v4: tree indexes hold path-level statuses; content verdicts are per blob
MAX_SEGMENTS = 8
KEEP_TREES = 8


def read_blobs(root: Path, blobs: list[str]) -> Iterator[tuple[str, bytes]]:
    """(blob id, data) for each id, through one `git cat-file --batch` process: one process for
    thousands of blobs, where one call per blob would spend seconds on process start-up."""
    if not blobs:
        return
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_NO_LAZY_FETCH": "1"}  # an absent blob is skipped
    proc = subprocess.Popen(["git", "-C", str(root), "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=1 << 20)
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:  # a thread, so git never blocks on a full stdout while we still write
        try:
            proc.stdin.write("".join(f"{b}\n" for b in blobs).encode())  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for _ in blobs:
            header = proc.stdout.readline().split()
            if len(header) != 3:
                continue  # "<id> missing": skip it, the caller treats it as unreadable
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)
            yield header[0].decode(), data
    finally:
        proc.stdout.close()
        proc.wait()
        writer.join()


def write_atomic(path: Path, value: Any) -> None:
    """Write one cache record (marshal) so that a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(marshal.dumps(value))
    os.replace(tmp, path)


def read_record(path: Path) -> Any:
    """One cache record, or None when it is absent or damaged."""
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None  # absent or damaged: the caller recomputes


class SegmentStore:
    """Per-blob records (blob id -> plain data) in append-only segment files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._records: dict[str, Any] | None = None

    def load(self) -> dict[str, Any]:
        if self._records is None:
            merged: dict[str, Any] = {}
            for segment in sorted(self.directory.glob("*.seg")):
                records = read_record(segment)
                if isinstance(records, dict):
                    merged.update(records)
            self._records = merged
        return self._records

    def add(self, records: dict[str, Any]) -> None:
        """Persist new records; merge all segments into one when there are too many. A record that
        cannot be written (a full disk) is kept for this run only: records are added while roles
        read files (textcheck.py), and losing the cache must not fail a run under way."""
        if not records:
            return
        self.load().update(records)
        try:
            segments = sorted(self.directory.glob("*.seg"))
            if len(segments) >= MAX_SEGMENTS:
                write_atomic(self.directory / f"{uuid.uuid4().hex}.seg", self._records)
                for old in segments:
                    old.unlink(missing_ok=True)
            else:
                write_atomic(self.directory / f"{uuid.uuid4().hex}.seg", records)
        except OSError:
            pass


class ContextCache:
    """The cache of one repository: blob analyses, outlines, tree indexes."""

    def __init__(self, common_dir: Path) -> None:
        self.root = cache_dir(common_dir, FORMAT)
        self.blobs = SegmentStore(self.root / "blobs")
        self.outlines = SegmentStore(self.root / "outlines")

    def load_tree(self, key: str) -> dict[str, Any] | None:
        value = read_record(self.root / "trees" / key)
        return value if isinstance(value, dict) else None

    def recent_trees(self) -> list[str]:
        """Keys of the cached tree indexes, most recently written first."""
        try:
            found = sorted((self.root / "trees").iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:  # none yet, or another run pruning: nothing to derive from
            return []
        return [p.name for p in found if not p.name.startswith(".")]

    def save_tree(self, key: str, index: dict[str, Any]) -> None:
        if not (self.root / "trees").is_dir():
            self._drop_other_formats()
        write_atomic(self.root / "trees" / key, index)
        for old in self.recent_trees()[KEEP_TREES:]:
            for kind in ("trees", "terms"):
                try:  # another run may be pruning at the same time: losing this race is harmless
                    (self.root / kind / old).unlink(missing_ok=True)
                except OSError:
                    pass

    def _drop_other_formats(self) -> None:
        """Remove the caches an earlier diffcrew wrote in another format (never read again)."""
        try:
            others = [p for p in self.root.parent.iterdir() if p.name != FORMAT and re.fullmatch(r"v\d+", p.name)]
        except OSError:
            return
        for other in others:
            shutil.rmtree(other, ignore_errors=True)

    def load_terms(self, key: str) -> dict[str, Any]:
        value = read_record(self.root / "terms" / key)
        return value if isinstance(value, dict) else {}

    def save_terms(self, key: str, terms: dict[str, Any]) -> None:
        write_atomic(self.root / "terms" / key, terms)


class NoCache(ContextCache):
    """The same interface, keeping nothing (for `cache=False` and benchmarks of the cold path)."""

    def __init__(self) -> None:
        self.blobs = _MemoryStore()
        self.outlines = _MemoryStore()

    def load_tree(self, key: str) -> dict[str, Any] | None:
        return None

    def save_tree(self, key: str, index: dict[str, Any]) -> None:
        return None

    def recent_trees(self) -> list[str]:
        return []

    def load_terms(self, key: str) -> dict[str, Any]:
        return {}

    def save_terms(self, key: str, terms: dict[str, Any]) -> None:
        return None


class _MemoryStore(SegmentStore):
    def __init__(self) -> None:
        self._records = {}

    def add(self, records: dict[str, Any]) -> None:
        self.load().update(records)
