"""Which files of a tree use a request's words, found with `git grep` and cached per tree.

Two kinds of term:
- a word (stemmed, lower-case): the identifiers that have it as one of their parts (`word_parts`),
  counted per file: `pars` finds parseError and parse_args, not sparse;
- a name (a symbol an outline defines): how often each file uses it as a whole token, case kept.

Nothing is indexed ahead for the whole tree. A term no tree has seen costs one `git grep -P`
over the tree (every such term of the run in one process: C speed, on every core), started on a
cold run before the tree's listing is built so that the two overlap. Hits are cached per tree
(`v4/terms/<tree>`) by path; a tree derived from a cached one (listing.py) takes each term's hits
from there and reads only the paths that changed. Partial clones never run git grep (it would
fetch absent blobs): their present blobs are read and scanned here.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from diffcrew.tools.ctxcache import ContextCache, read_blobs
from diffcrew.tools.git import NO_LAZY_FETCH, GitRepo
from diffcrew.tools.textindex import TreeIndex, word_parts

WORD, NAME = "w:", "n:"
_CONFIG = ("-c", "core.quotepath=off", "-c", "grep.lineNumber=false", "-c", "grep.column=false",
           "-c", "grep.fullName=false", "-c", "grep.patternType=basic")
_IDENT = "[A-Za-z0-9_]"
_RUN = re.compile(_IDENT + "+")  # what `git grep -o` prints: whole runs, digits first included
MEMO_BLOBS = 256  # blobs read here whose tokens are kept for the run's next lookup


class _Grep:
    """One `git grep` over a tree, read by a thread so that it never blocks on a full pipe. Its
    stderr (an unreadable object, say) is not read, so it goes nowhere: a pipe left unread could fill
    and stop git."""

    def __init__(self, root: Path, tree: str, terms: list[str], perl: bool = True) -> None:
        self.root, self.tree, self.terms, self.perl = root, tree, terms, perl
        self.proc = subprocess.Popen(["git", *_CONFIG, "grep", *_grep_args(terms, perl), tree, "--"], cwd=root,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **NO_LAZY_FETCH, "GIT_OPTIONAL_LOCKS": "0"})
        self.out: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        self.out.append(self.proc.stdout.read())

    def result(self) -> tuple[int, str]:
        self.reader.join()
        return self.proc.wait(), b"".join(self.out).decode("utf-8", "surrogateescape")


def _grep_args(terms: list[str], perl: bool) -> list[str]:
    """Words: whole identifiers containing any of them, any case. Names: whole identifiers, exact.
    One alternation each: a Perl regex where git has one (many times faster than an extended one,
    and than `-w -F` with hundreds of names), else an extended one."""
    words = [t[len(WORD):] for t in terms if t.startswith(WORD)]
    names = [t[len(NAME):] for t in terms if t.startswith(NAME)]
    common = ["-o", "-I", "-z", "--no-color"]
    if words:
        either = "|".join(re.escape(w) for w in words)
        if perl:
            # Tried only where a token starts, its head taken lazily: a third faster than `[...]*(?:...)`.
            return [*common, "-i", "-P", "-e", f"(?<!{_IDENT}){_IDENT}*?(?:{either}){_IDENT}*"]
        return [*common, "-i", "-E", "-e", f"{_IDENT}*({either}){_IDENT}*"]
    either = "|".join(re.escape(n) for n in names)
    if perl:
        return [*common, "-P", "-e", f"(?<!{_IDENT})(?:{either})(?!{_IDENT})"]
    return [*common, "-E", "-e", f"(^|[^A-Za-z0-9_])({either})([^A-Za-z0-9_]|$)"]  # _parse drops the edges


def _parse(tree: str, out: str) -> dict[str, Counter[str]]:
    """path -> runs of identifier characters found, with counts, from `git grep -o -z` output
    (`TREE:path\\0run\\n`). The same line comes back for each use of an identifier in a file, so the
    lines are counted first (at C speed) and each distinct one is split once."""
    found: dict[str, Counter[str]] = {}
    skip = len(tree) + 1
    for line, count in Counter(out.split("\n")).items():
        nul = line.find("\0")
        if nul < 0:
            if line:
                return _parse_record_by_record(tree, out)  # a path with a newline in it
            continue
        runs = _RUN.findall(line, nul + 1)
        if runs:
            path = line[skip:nul]
            counts = found.get(path)
            if counts is None:
                counts = found[path] = Counter()
            for run in runs:
                counts[run] += count
    return found


def _parse_record_by_record(tree: str, out: str) -> dict[str, Counter[str]]:
    """_parse for output whose paths may hold newlines: each record's path ends at its NUL."""
    found: dict[str, Counter[str]] = {}
    skip, at = len(tree) + 1, 0
    while (nul := out.find("\0", at)) >= 0:
        end = out.find("\n", nul)
        end = len(out) if end < 0 else end
        runs = _RUN.findall(out, nul + 1, end)
        if runs:
            found.setdefault(out[at + skip:nul], Counter()).update(runs)
        at = end + 1
    return found


def _hits(terms: list[str], tokens_by_path: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
    """Each term's cached form, in one pass over the runs found: path -> {token: count} for a word
    (the tokens having it as a part, kept as written: '2parse' is not the name 'parse'), path ->
    count for a name (the token itself)."""
    words = {t[len(WORD):]: t for t in terms if t.startswith(WORD)}
    names = {t[len(NAME):]: t for t in terms if t.startswith(NAME)}
    hits: dict[str, dict[str, Any]] = {term: {} for term in terms}
    for path, runs in tokens_by_path.items():
        for run, count in runs.items():
            if run in names:
                hits[names[run]][path] = count
            if len(run) < 2 or not words:
                continue
            lowered = run.lower()
            inside = [word for word in words if word in lowered]
            if inside:
                parts = word_parts(run)
                for word in inside:
                    if word in parts:
                        hits[words[word]].setdefault(path, {})[run] = count
    return hits


class Lexicon:
    """The terms of one tree: cached, derived from the tree it was derived from, or searched."""

    def __init__(self, repo: GitRepo, store: ContextCache, key: str) -> None:
        self.repo, self.root, self.store, self.key = repo, repo.root, store, key
        self.terms: dict[str, Any] = store.load_terms(key)
        self.index: TreeIndex | None = None
        self.parent_key: str | None = None
        self.partial: bool | None = None  # a partial clone, asked only when a search is needed
        self._pending: _Grep | None = None
        self._tokens: dict[str, Counter[str]] = {}  # blob id -> its tokens, for blobs read here

    def start(self, tree: str, words: Iterable[str], partial: bool) -> None:
        """Start searching the words now (a cold run: the listing is built meanwhile)."""
        self.partial = partial
        wanted = [f"{WORD}{w}" for w in dict.fromkeys(words) if f"{WORD}{w}" not in self.terms
                  and _RUN.fullmatch(w)]
        if wanted and not partial:
            self._pending = _Grep(self.root, tree, wanted)

    def attach(self, index: TreeIndex, parent_key: str | None) -> None:
        self.index, self.parent_key = index, parent_key

    def prefetch(self, words: Iterable[str] = (), names: Iterable[str] = ()) -> None:
        """Make sure these words and names are known (one search for all that are not)."""
        assert self.index is not None
        known = len(self.terms)
        if self._pending is not None:
            self._collect(self._pending)
            self._pending = None
        wanted = [t for t in dict.fromkeys([*(f"{WORD}{w}" for w in words), *(f"{NAME}{n}" for n in names)])
                  if t not in self.terms]
        for term in [t for t in wanted if not _RUN.fullmatch(t[2:])]:
            self.terms[term] = {}  # no identifier can hold it (identifiers are ASCII here)
            wanted.remove(term)
        self._from_words([t for t in wanted if t.startswith(NAME)])
        self._derive([t for t in wanted if t not in self.terms])
        left = [t for t in wanted if t not in self.terms]
        if left and self.partial is None:
            self.partial = self.repo.is_partial_clone()
        for kind in (WORD, NAME):
            batch = [t for t in left if t.startswith(kind)]
            if batch and not self.partial:
                self._collect(_Grep(self.root, self.index.tree, batch))
            elif batch:
                self._scan(batch, self._every_doc())
        if len(self.terms) > known:
            self.store.save_terms(self.key, self.terms)

    def _from_words(self, names: list[str]) -> None:
        """Names that have a known word among their parts: every file using such a name as a token
        already has it among that word's hits (the same runs, case kept), so no search is needed."""
        for term in names:
            name = term[len(NAME):]
            word = next((w for w in sorted(word_parts(name)) if f"{WORD}{w}" in self.terms), None)
            if word is not None:
                self.terms[term] = {path: tokens[name] for path, tokens in self.terms[f"{WORD}{word}"].items()
                                    if tokens.get(name)}

    def _every_doc(self) -> list[int]:
        assert self.index is not None
        return list(range(len(self.index.docs)))

    def word_hits(self, word: str) -> dict[int, dict[str, int]]:
        """doc -> {identifier: occurrences} of the identifiers having the word as a part."""
        return self._by_doc(self.terms.get(f"{WORD}{word}", {}))

    def name_users(self, name: str) -> set[int]:
        """The docs that use the name as a whole token."""
        return set(self._by_doc(self.terms.get(f"{NAME}{name}", {})))

    def _by_doc(self, hits: dict[str, Any]) -> dict[int, Any]:
        assert self.index is not None
        found = {}
        for path, value in hits.items():
            doc = self.index.doc_of(path)
            if doc is not None:
                found[doc] = value
        return found

    def _collect(self, grep: _Grep) -> None:
        """The search's hits, kept for the tree's documents only; a failed search scans instead."""
        assert self.index is not None
        code, out = grep.result()
        if code not in (0, 1) and not out and grep.perl:  # a git built without PCRE: the slower regex
            code, out = (grep := _Grep(grep.root, grep.tree, grep.terms, perl=False)).result()
        if code not in (0, 1) and not out:  # git cannot search the tree at all: read it here
            self._scan(grep.terms, self._every_doc())
            return
        tokens = {p: t for p, t in _parse(grep.tree, out).items() if self.index.doc_of(p) is not None}
        self.terms.update(_hits(grep.terms, tokens))

    def _derive(self, wanted: list[str]) -> None:
        """Terms the parent tree knows: its hits, with the paths that changed read again."""
        assert self.index is not None
        if self.parent_key is None or not wanted:
            return
        parent = self.store.load_terms(self.parent_key)
        known = [t for t in wanted if t in parent]
        if not known:
            return
        changed = set(self.index.changed)
        for term in known:
            self.terms[term] = {p: v for p, v in parent[term].items() if p not in changed}
        docs = [d for d in (self.index.doc_of(p) for p in changed) if d is not None]
        self._scan(known, docs, merge=True)

    def _scan(self, terms: list[str], docs: list[int], merge: bool = False) -> None:
        """Read these docs' blobs and find the terms in them here (few files, or a partial clone)."""
        assert self.index is not None
        by_blob: dict[str, list[str]] = {}
        for doc in docs:
            entry = self.index.docs[doc]
            by_blob.setdefault(self.index.blobs[entry], []).append(self.index.paths[entry])
        found: dict[str, dict[str, Any]] = {term: dict(self.terms.get(term, {})) if merge else {} for term in terms}

        def add(blob: str, counts: Counter[str]) -> None:
            for term, hits in _hits(terms, {path: counts for path in by_blob[blob]}).items():
                found[term].update(hits)

        memo = self._tokens if len(by_blob) <= MEMO_BLOBS else {}  # a whole partial clone is not kept
        for blob in by_blob:
            if blob in memo:
                add(blob, memo[blob])
        for blob, data in read_blobs(self.root, [blob for blob in by_blob if blob not in memo]):
            counts = Counter(_RUN.findall(data.decode("utf-8", "replace")))
            if memo is self._tokens:
                memo[blob] = counts
            add(blob, counts)
        self.terms.update(found)


__all__ = ["Lexicon"]
