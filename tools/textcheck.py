"""Whether a file's content may be shown to a model or patched: judged when it is first needed.

The tree's index (listing.py) decides what it can by path, mode and size. The rest needs the
blob: text means UTF-8 without NUL bytes, and no secret content (a private key or a cloud access
key pasted into an ordinary file). Reading every blob of a large tree for that costs as much as
searching the whole tree, so it is done on demand: for the files ranked at the top, for the files
listed to the model, for each file a role asks to read, a search matches or a plan modifies. Each
verdict is cached by blob id (ContextCache.blobs), so a blob is judged once per repository.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Set
from pathlib import Path
from typing import AbstractSet, TypeVar

from diffcrew.tools.ctxcache import ContextCache, read_blobs
from diffcrew.tools.textindex import analyse_blob

TEXT = "text"
_S = TypeVar("_S")


class ContentCheck:
    """The verdicts on blobs' contents ("text", "binary", "secret"), read when first asked for."""

    def __init__(self, root: Path, store: ContextCache) -> None:
        self.root, self.store = root, store
        self._lock = threading.Lock()  # roles ask from several threads at once

    def verdicts(self, blobs: Iterable[str]) -> dict[str, str]:
        """blob id -> verdict; a blob that cannot be read (absent from a partial clone) is left out."""
        wanted = list(dict.fromkeys(blobs))
        with self._lock:
            records = self.store.blobs.load()
            unread = [blob for blob in wanted if not isinstance(records.get(blob), str)]
            if unread:
                self.store.blobs.add({blob: analyse_blob(data) for blob, data in read_blobs(self.root, unread)})
            return {blob: records[blob] for blob in wanted if isinstance(records.get(blob), str)}

    def texts(self, blobs: Iterable[str]) -> set[str]:
        """The blobs whose content is text without secrets."""
        return {blob for blob, verdict in self.verdicts(blobs).items() if verdict == TEXT}


class TextPaths(Set[str]):
    """The files a role may read and a plan may modify: those the index lets through by path
    (`candidates`: path -> blob id) whose content is text without secrets, judged on first ask."""

    def __init__(self, candidates: dict[str, str], check: ContentCheck) -> None:
        self._candidates, self._check = candidates, check
        self._all: frozenset[str] | None = None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path in self._candidates and bool(self.keep([path]))

    def keep(self, paths: Iterable[str]) -> set[str]:
        """Those of the paths that are readable, judged together (one read for all that are new)."""
        wanted = {path: self._candidates[path] for path in paths if path in self._candidates}
        texts = self._check.texts(wanted.values())
        return {path for path, blob in wanted.items() if blob in texts}

    def under(self, prefix: str) -> set[str]:
        """The readable paths that start with `prefix` (a directory's files, judged together)."""
        return self.keep(path for path in self._candidates if path.startswith(prefix))

    def __iter__(self) -> Iterator[str]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())

    def _everything(self) -> frozenset[str]:
        if self._all is None:
            self._all = frozenset(self.keep(self._candidates))
        return self._all

    __hash__ = Set._hash  # hashable as the frozenset it stands for

    @classmethod
    def _from_iterable(cls, it: Iterable[_S], /) -> frozenset[_S]:
        """What `&`, `|` and `-` make (Set builds it with cls(it)): the plain set of those paths."""
        return frozenset(it)


def readable(allowed: AbstractSet[str], paths: Iterable[str]) -> set[str]:
    """Those of the paths in `allowed`, asked in one batch when it is a TextPaths."""
    if isinstance(allowed, TextPaths):
        return allowed.keep(paths)
    return {path for path in paths if path in allowed}


def readable_under(allowed: AbstractSet[str], prefix: str) -> set[str]:
    """The paths in `allowed` that start with `prefix`, judged together when it is a TextPaths."""
    if isinstance(allowed, TextPaths):
        return allowed.under(prefix)
    return {path for path in allowed if path.startswith(prefix)}


__all__ = ["ContentCheck", "TextPaths", "readable", "readable_under"]
