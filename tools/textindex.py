"""What the ranking knows of a tree without reading its contents: its files and their status.

A tree's index (`TreeIndex`: paths, modes, blob ids, sizes, statuses) is built from the listing
alone and cached by tree id. A status is decided by path, mode and size: a secret or binary name,
a link or submodule, a file over the size limit, a generated file (lock files, minified, vendored,
`linguist-generated`), else a document. Whether a document's content is text and free of secrets
is a separate verdict per blob (`analyse_blob`), checked when a file is about to be shown, read or
modified (textcheck.py): reading every blob of a large tree for it would cost as much as searching
the tree. Which files use which words is not kept here either: `lexicon.py` finds it per request
word with `git grep` and caches it per tree. Words are split from identifiers the same way on both
sides (`word_parts`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from diffcrew.tools import inventory
from diffcrew.tools.git import TreeEntry
from diffcrew.tools.gitconst import SUBMODULE_MODE, SYMLINK_MODE

_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_WORDS = re.compile(r"[A-Za-z0-9]+")

# Per-file status, stored in the tree index.
DOC = "doc"                 # a ranking document, shown as context when its content is text without secrets
GENERATED = "generated"     # patchable when text, not shown as context (lock files, minified, vendored)
BINARY, LARGE, SECRET, OTHER = "binary", "large", "secret", "other"


def text_of(data: bytes) -> str | None:
    """A blob's text, or None when it is not text: text means UTF-8 without NUL bytes, what diffcrew
    can show a model and patch safely."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_text(data: bytes) -> bool:
    """Whether a blob is text (`text_of`)."""
    return text_of(data) is not None


def analyse_blob(data: bytes) -> str:
    """What one blob's content says: "text", "binary" (NUL bytes, not UTF-8) or "secret"."""
    text = text_of(data)
    if text is None:
        return "binary"
    return "secret" if inventory.has_secret_content(text) else "text"


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light stemmer, enough for 'blueprints' to find 'Blueprint' and 'parsing' to find 'parse'."""
    for suffix in ("ing", "es", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=1 << 18)
def word_parts(token: str) -> frozenset[str]:
    """The lower-cased, stemmed words of an identifier: getUserName -> get, user, name, getusername."""
    parts = {stem(p.lower()) for p in _PARTS.findall(token) if len(p) >= 2}
    parts.add(stem(token.lower().strip("_")))
    return frozenset(parts)


def path_has_word(path: str, word: str) -> bool:
    """Whether the word is one of the path's words: its directories', its file name's (with and
    without extension) and their parts."""
    return any(word in word_parts(piece) for piece in _WORDS.findall(path))


def classify(entry: TreeEntry, attrs: tuple[tuple[str, str], ...], max_bytes: int) -> str:
    """The status of one file from its path, mode and size (its content is judged apart: a DOC or
    GENERATED file is shown or patched only once its blob is found to be text without secrets)."""
    if inventory.is_secret_path(entry.path):
        return SECRET
    if entry.mode in (SUBMODULE_MODE, SYMLINK_MODE):
        return OTHER
    if inventory.is_binary_name(entry.path):
        return BINARY
    if entry.size > max_bytes:
        return LARGE
    if inventory.generated_reason(entry.path) or inventory.matches_attributes(entry.path, attrs):
        return GENERATED
    return DOC


@dataclass
class TreeIndex:
    """One tree's files (sorted by path) and each one's status (by path, mode and size); `docs` are
    the entries that are ranking documents (status DOC), numbered by their position in `docs`. `derived_from` names the
    cached tree this one was derived from and `changed` the paths whose content differs from it,
    so that what is cached per tree (lexicon.py) carries over to the next commit."""

    tree: str
    paths: list[str]
    modes: list[str]
    blobs: list[str]
    sizes: list[int]
    statuses: list[str]
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    derived_from: str | None = None
    changed: list[str] = field(default_factory=list)
    _docs: list[int] | None = field(default=None, repr=False)
    _doc_of: dict[str, int] | None = field(default=None, repr=False)
    _lowered: tuple[str, list[int]] | None = field(default=None, repr=False)

    PLAIN = ("tree", "paths", "modes", "blobs", "sizes", "statuses", "ignored", "missing", "derived_from",
             "changed")

    def to_plain(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.PLAIN}

    @classmethod
    def from_plain(cls, value: Any) -> TreeIndex | None:
        """The index from its cached form, or None when the record is damaged or of another format."""
        if not isinstance(value, dict) or set(value) != set(cls.PLAIN):
            return None
        index = cls(**value)
        lists = (index.paths, index.modes, index.blobs, index.sizes, index.statuses)
        return index if len({len(x) for x in lists}) == 1 else None

    @property
    def docs(self) -> list[int]:
        if self._docs is None:
            self._docs = [i for i, s in enumerate(self.statuses) if s == DOC]
        return self._docs

    @property
    def lengths(self) -> list[int]:
        """Each document's length for BM25's normalisation: its size in bytes."""
        return [max(1, self.sizes[i]) for i in self.docs]

    def doc_of(self, path: str) -> int | None:
        if self._doc_of is None:
            self._doc_of = {self.paths[i]: d for d, i in enumerate(self.docs)}
        return self._doc_of.get(path)

    def doc_path(self, doc: int) -> str:
        return self.paths[self.docs[doc]]

    def path_docs(self, word: str) -> list[int]:
        """Documents whose path has the (stemmed, lower-case) word among its words. A word's parts
        are prefixes of pieces of the path, so a substring scan finds every candidate first."""
        if self._lowered is None:
            text, starts, at = [], [], 0
            for i in self.docs:
                starts.append(at)
                text.append(self.paths[i].lower())
                at += len(text[-1]) + 1
            self._lowered = ("\n".join(text), starts)
        lowered, starts = self._lowered
        found: list[int] = []
        at = lowered.find(word)
        while at >= 0:
            doc = bisect_right(starts, at) - 1
            if path_has_word(self.doc_path(doc), word):
                found.append(doc)
            nxt = starts[doc + 1] if doc + 1 < len(starts) else len(lowered)
            at = lowered.find(word, nxt)
        return found

