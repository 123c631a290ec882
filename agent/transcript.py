"""The JSONL transcript of a run: one line per event, flushed as written, kept under the git directory.

Flushing per line (to the operating system; no fsync, which costs milliseconds a call and
guards only against power loss) means a crashed or killed run can still be read; the file
lives in `<git-common-dir>/diffcrew/runs/`, never in the working tree.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class Transcript:
    """Append-only JSONL file, safe to write from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps({"time": round(time.time(), 3), **entry}, ensure_ascii=False, default=str)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_transcript(path: Path) -> list[dict[str, Any]]:
    """All complete entries of a transcript; a torn last line (a killed run) is skipped."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries
