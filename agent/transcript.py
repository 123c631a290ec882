"""The JSONL transcript of a run: one line per event, flushed as written, kept under the git directory.

Every entry passes through the run's redactor on its way to the file (the request, the check
commands and anything else a secret may hide in: nothing is written raw), and the file is readable
by its owner only (0600, in a 0700 folder): it holds the repository's code and the model's answers.

Flushing per line (to the operating system; no fsync, which costs milliseconds a call and
guards only against power loss) means a crashed or killed run can still be read; the file
lives in `<git-common-dir>/diffcrew/runs/`, never in the working tree.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from diffcrew.agent.events import Event, Explored, Reviewed


class Transcript:
    """Append-only JSONL file, safe to write from several threads."""

    def __init__(self, path: Path, redact: Callable[[Any], Any] | None = None) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)  # a folder made by an older version, or under another umask
        self._redact = redact
        self._lock = threading.Lock()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(descriptor, "a", encoding="utf-8")

    def append(self, entry: dict[str, Any]) -> None:
        if self._redact is not None:
            entry = self._redact(entry)
        line = json.dumps({"time": round(time.time(), 3), **entry}, ensure_ascii=False, default=str)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()

    def record(self, event: Event) -> None:
        """Keep the progress events a replay or a reader needs (the explorations; the plan, the
        calls and the end are recorded by the flow and the model seam with more detail)."""
        match event:
            case Explored(tool=tool, input=given, path=path):
                self.append({"kind": "explore", "tool": tool, "input": given, **({"path": path} if path else {})})
            case Reviewed(round=number, note=note, edits=edits, added=added):
                self.append({"kind": "review", "round": number, "verdict": "approved" if event.approved else "amended",
                             "note": note, "edits": [vars(e) for e in edits], "added": list(added)})
            case _:
                pass

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


def entry_of(entries: list[dict[str, Any]], kind: str, *, last: bool = False) -> dict[str, Any]:
    """The first (or last) entry of `kind` in a transcript's entries; {} when it has none."""
    return next((e for e in (reversed(entries) if last else entries) if e.get("kind") == kind), {})
