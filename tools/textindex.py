"""The lexical index of a tree: which identifiers each file uses, and how often.

Each blob is analysed once (UTF-8 check, secret scan, identifier counts) and the result cached by
blob id; a tree's index (postings per identifier, the identifier parts that map to them, path
words) is assembled from those records and cached by tree id. The index is plain data (lists,
dicts, bytes) so that it loads with `marshal` in milliseconds on a warm run.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter, defaultdict
from functools import lru_cache
from dataclasses import dataclass
from typing import Any

from diffcrew.tools import inventory
from diffcrew.tools.git import TreeEntry
from diffcrew.tools.gitconst import SUBMODULE_MODE, SYMLINK_MODE

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")
_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_WORDS = re.compile(r"[A-Za-z0-9]+")

# Per-file status, stored in the tree index.
DOC = "doc"                 # text file used for ranking and context
GENERATED = "generated"     # text, patchable, but not shown as context (lock files, minified, vendored)
BINARY, LARGE, SECRET, OTHER = "binary", "large", "secret", "other"


@dataclass(frozen=True)
class BlobRecord:
    """What one blob's content says: text or not, secret content, identifier counts."""

    status: str  # "text", "binary" or "secret"
    length: int
    counts: dict[str, int]

    def to_plain(self) -> tuple[str, int, dict[str, int]]:
        return (self.status, self.length, self.counts)


def analyse_blob(data: bytes) -> BlobRecord:
    """Decode, scan for secrets, count identifiers (at least two characters long)."""
    if b"\0" in data[:8192]:
        return BlobRecord("binary", 0, {})
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return BlobRecord("binary", 0, {})
    if inventory.has_secret_content(text):
        return BlobRecord("secret", 0, {})
    tokens = TOKEN.findall(text)
    return BlobRecord("text", len(tokens), dict(Counter(tokens)))


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


def path_words(path: str) -> set[str]:
    """The words of a path: directories, file name (with and without extension) and their parts."""
    found: set[str] = set()
    for piece in _WORDS.findall(path):
        found |= word_parts(piece)
    return found


def classify(entry: TreeEntry, record: tuple[str, int, Any] | None, attrs: tuple[tuple[str, str], ...],
             max_bytes: int) -> str:
    """The status of one file, from its path, mode, size and (when read) its content."""
    if inventory.is_secret_path(entry.path):
        return SECRET
    if entry.mode in (SUBMODULE_MODE, SYMLINK_MODE):
        return OTHER
    if inventory.is_binary_name(entry.path):
        return BINARY
    if entry.size > max_bytes:
        return LARGE
    if record is None or record[0] == "binary":
        return BINARY
    if record[0] == "secret":
        return SECRET
    if inventory.generated_reason(entry.path) or inventory.matches_attributes(entry.path, attrs):
        return GENERATED
    return DOC


def needs_content(entry: TreeEntry, max_bytes: int) -> bool:
    """Whether the blob must be read to classify it (path rules decide the rest without reading)."""
    return (entry.size <= max_bytes and entry.mode not in (SUBMODULE_MODE, SYMLINK_MODE)
            and not inventory.is_binary_name(entry.path) and not inventory.is_secret_path(entry.path))



def build_index(entries: list[TreeEntry], records: dict[str, Any], attrs: tuple[tuple[str, str], ...],
                max_bytes: int) -> dict[str, Any]:
    """The tree index: entries, statuses, and postings for the files that are ranking documents."""
    statuses = [classify(e, records.get(e.blob), attrs, max_bytes) for e in entries]
    docs = [i for i, s in enumerate(statuses) if s == DOC]
    postings: defaultdict[str, list[int]] = defaultdict(list)
    lengths = []
    for d, i in enumerate(docs):
        record = records[entries[i].blob]
        lengths.append(record[1])
        shifted = d << 16  # one integer per posting: doc in the high bits, count (capped) in the low 16
        for token, count in record[2].items():
            postings[token].append(shifted | (count if count < 0xFFFF else 0xFFFF))
    return {
        "paths": [e.path for e in entries], "modes": [e.mode for e in entries],
        "blobs": [e.blob for e in entries], "sizes": [e.size for e in entries],
        "statuses": statuses, "docs": docs, "lengths": lengths,
        "postings": {t: array("Q", p).tobytes() for t, p in postings.items()},
        # The vocabulary as one string: a query finds identifiers containing a word with one regex scan.
        "vocabulary": "\n".join(postings),
        "path_postings": _path_postings([entries[i].path for i in docs]),
    }


def _path_postings(paths: list[str]) -> dict[str, list[int]]:
    """word -> docs whose path has the word; directory words are computed once per directory."""
    by_dir: dict[str, frozenset[str]] = {}
    found: defaultdict[str, list[int]] = defaultdict(list)
    for doc, path in enumerate(paths):
        directory, _, name = path.rpartition("/")
        words = by_dir.get(directory)
        if words is None:
            words = by_dir[directory] = frozenset(path_words(directory))
        for word in words | path_words(name):
            found[word].append(doc)
    return dict(found)


def tokens_with_word(index: dict[str, Any], word: str) -> list[str]:
    """Identifiers of the tree that contain the (stemmed, lower-case) word as one of their parts."""
    vocabulary: str = index["vocabulary"]
    found: list[str] = []
    for match in re.finditer(re.escape(word), vocabulary, re.IGNORECASE):
        start = vocabulary.rfind("\n", 0, match.start()) + 1
        end = vocabulary.find("\n", match.end())
        token = vocabulary[start:end if end >= 0 else len(vocabulary)]
        if (not found or found[-1] != token) and word in word_parts(token):
            found.append(token)
    return found


def decode_postings(raw: bytes) -> list[tuple[int, int]]:
    """(doc, count) pairs from the packed form kept in the index."""
    values = array("Q")
    values.frombytes(raw)
    return [(v >> 16, v & 0xFFFF) for v in values]
