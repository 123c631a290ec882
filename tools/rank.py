"""Ranking the files of a tree for a change request.

Three passes. The lexical pass scores every ranking document from the request's words as the
lexicon finds them (lexicon.py: cached per tree, else one `git grep`): BM25 of the request's words
against each file's identifiers (split into words, lightly stemmed; a file's length is its size), words
in the path, an exact path or file name named in the request, and the identifiers the request
names (`get_user_name`, `UserStore`) used as whole tokens, which is how callers of a function
to rename come up. The graph pass then looks at the top candidates only: their outlines (parsed
on demand) say which of them define the named identifiers, and which rare symbols they define;
the files that use those symbols (on a large tree, those whose names share the request's words),
and the tests named after them, get a share of their score.
The history pass (history.py) last: files that changed together with the top files in the base's
recent commits get a share of their score (the second and third file of a change rarely share its
words), the files of past commits whose subjects share the request's rarest words (a version bump,
a fix in the same feature) a share of the best score, and files changed lately a small lift. All
three won on bench/context.py together; recency alone did not.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from diffcrew.tools.history import MAX_FILES, History
from diffcrew.tools.lexicon import Lexicon
from diffcrew.tools.textindex import TreeIndex, stem, word_parts

K1, B = 1.2, 0.75
W_PATH, W_IDENT, W_DEFINES, W_GRAPH, W_TEST = 2.0, 3.0, 8.0, 0.6, 0.5
NAMED_PATH, NAMED_FILE = 1000.0, 40.0
SEEDS, SYMBOLS_PER_SEED, RARE_DF = 8, 24, 0.02
W_COCHANGE, CO_SEEDS, W_RECENT, RECENT = 0.5, 5, 0.3, 100
W_ALIKE, ALIKE_MIN = 0.5, 0.5
NAME_SEARCH_BYTES = 32 << 20  # above this many bytes of documents, seeds' names are not searched for
_WORD = re.compile(r"`[^`]+`|[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[\w.\-/]*[\w\-]\.[A-Za-z0-9]+|[\w.\-]+/[\w.\-/]+")
_STOP = frozenset(
    "the and for with from into that this then them are was were has have had not but all any add use make "
    "change update file files code function functions class method rename new old its their should must can "
    "will also each when where what which how why fix fixed fixes support allow remove don doesn isn "
    "instead more less only some other like just via after before than there here now get set".split())


@dataclass(frozen=True)
class Query:
    """The request as ranking sees it: weighted words, and identifiers to match as whole tokens."""

    text: str
    words: dict[str, float]
    identifiers: frozenset[str]


def parse_request(request: str) -> Query:
    """Words (stemmed, stop words out), identifiers (snake_case, camelCase, `backticked`), file names."""
    words: dict[str, float] = {}
    identifiers: set[str] = set()
    for raw in _WORD.findall(request):
        token = raw.strip("`").strip()
        for piece in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", token):
            looks_like_code = raw.startswith("`") or "_" in piece.strip("_") or bool(re.search(r"[a-z][A-Z]", piece))
            if looks_like_code and len(piece) >= 3:
                identifiers.add(piece.lower())
            for part in word_parts(piece):
                if len(part) >= 3 and part not in _STOP:
                    words[part] = max(words.get(part, 0.0), 1.5 if looks_like_code else 1.0)
    return Query(request, dict(sorted(words.items())), frozenset(identifiers))


@dataclass
class Scores:
    """Scores and reasons per document index, built up pass by pass."""

    score: dict[int, float] = field(default_factory=dict)
    parts: dict[int, dict[str, float]] = field(default_factory=dict)

    def add(self, doc: int, amount: float, reason: str) -> None:
        self.score[doc] = self.score.get(doc, 0.0) + amount
        found = self.parts.setdefault(doc, {})
        found[reason] = found.get(reason, 0.0) + amount

    def drop(self, doc: int) -> None:
        """Take a document out of the ranking (its content cannot be shown)."""
        self.score.pop(doc, None)
        self.parts.pop(doc, None)

    def reasons(self, doc: int, limit: int = 6) -> tuple[str, ...]:
        """The reasons that weigh most, heaviest first."""
        found = self.parts.get(doc, {})
        if limit == 1 and found:
            return (max(found, key=lambda r: (found[r], r)),)
        return tuple(sorted(found, key=lambda r: (-found[r], r))[:limit])

    def top(self, n: int) -> list[int]:
        return sorted(self.score, key=lambda d: -self.score[d])[:n]


def _idf(df: int, n: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def query_words(query: Query) -> list[str]:
    """The words the lexical pass looks up: the request's, and each named identifier whole."""
    return [*query.words, *(stem(ident) for ident in sorted(query.identifiers))]


def lexical_pass(index: TreeIndex, lex: Lexicon, query: Query, allowed: set[int]) -> Scores:
    """BM25 over content, path words, named paths and file names, named identifiers."""
    lex.prefetch(words=query_words(query))
    scores, n = Scores(), max(1, len(index.docs))
    lengths = index.lengths
    avgdl = (sum(lengths) / n) or 1.0
    for word, weight in query.words.items():
        hits = {d: sum(t.values()) for d, t in lex.word_hits(word).items() if d in allowed}
        idf = _idf(len(hits), n)
        for doc, tf in hits.items():
            norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[doc] / avgdl))
            scores.add(doc, weight * idf * norm, f"mentions {word}")
        path_docs = [d for d in index.path_docs(word) if d in allowed]
        path_idf = _idf(len(path_docs), n)
        for doc in path_docs:
            scores.add(doc, W_PATH * weight * path_idf, f"path matches {word}")
    _identifier_hits(lex, query, allowed, scores, n)
    _named_files(index, query, allowed, scores)
    return scores


def _identifier_hits(lex: Lexicon, query: Query, allowed: set[int], scores: Scores, n: int) -> None:
    """Files that use an identifier the request names, as a whole token (any case)."""
    for ident in query.identifiers:
        docs = {d for d, tokens in lex.word_hits(stem(ident)).items()
                if d in allowed and any(t.lower() == ident for t in tokens)}
        idf = _idf(len(docs), n)
        for doc in docs:
            scores.add(doc, W_IDENT * idf, f"uses {ident}")


def _named_files(index: TreeIndex, query: Query, allowed: set[int], scores: Scores) -> None:
    """An exact path in the request ranks first; a file name (`helpers.py`) ranks high."""
    paths, docs = index.paths, index.docs
    named = {m.strip("./") for m in _PATHLIKE.findall(query.text)}
    if not named:
        return
    names = {n.rsplit("/", 1)[-1].lower() for n in named}
    for doc in allowed:
        path = paths[docs[doc]]
        if path in named:
            scores.add(doc, NAMED_PATH, "path named in the request")
        elif path[path.rfind("/") + 1:].lower() in names:
            scores.add(doc, NAMED_FILE, "file name named in the request")


def graph_pass(index: TreeIndex, lex: Lexicon, query: Query, scores: Scores,
               outlines: dict[int, tuple[str, ...]], allowed: set[int]) -> None:
    """Definitions of named identifiers, users of the top files' rare symbols, and their tests.

    `outlines` maps candidate docs to the names of the symbols they define. Their users are found
    with one search of the tree (lexicon.py). Over NAME_SEARCH_BYTES of documents that search would
    cost as much as the request's own, so only names with one of the request's words among their
    parts are followed there: the request's search already found every file that uses them. (On the
    two benchmark repositories over that size, ruff and spring-boot, following every name moved
    recall@10 by -6.7 to +3.3 points on 30-commit samples: no gain worth a second search.)"""
    n = max(1, len(index.docs))
    for doc, names in outlines.items():
        lowered = {name.lower() for name in names}
        for ident in query.identifiers & lowered:
            scores.add(doc, W_DEFINES * _idf(1, n), f"defines {ident}")
    seeds = scores.top(SEEDS)
    if not seeds:
        return
    best = scores.score[seeds[0]] or 1.0
    if sum(index.lengths) > NAME_SEARCH_BYTES:  # a second search of the tree would cost as much as the first:
        words = set(query_words(query))     # only the names the request's words found the users of
        outlines = {d: tuple(n for n in names if words & word_parts(n)) for d, names in outlines.items()}
    lex.prefetch(names=sorted({name for seed in seeds for name in outlines.get(seed, ()) if len(name) >= 4}))
    tests = set(index.path_docs("test")) & allowed
    for seed in seeds:
        share = scores.score[seed] / best
        seed_path = index.doc_path(seed)
        _spread_to_users(index, lex, seed, outlines.get(seed, ()), share, scores, allowed)
        _spread_to_tests(index, seed, seed_path, share, scores, tests)


def _spread_to_users(index: TreeIndex, lex: Lexicon, seed: int, names: tuple[str, ...], share: float,
                     scores: Scores, allowed: set[int]) -> None:
    """Files that use the seed's rarest symbols: its callers and importers."""
    n = max(1, len(index.docs))
    rated = []
    for name in set(names):
        if len(name) < 4:
            continue
        users = lex.name_users(name) - {seed}
        if users and len(users) <= max(3, RARE_DF * n):
            rated.append((_idf(len(users), n), name, users))
    rated.sort(reverse=True)
    base = index.doc_path(seed).rsplit("/", 1)[-1]
    for idf, name, users in rated[:SYMBOLS_PER_SEED]:
        for doc in users & allowed:
            scores.add(doc, W_GRAPH * share * idf / 4, f"uses {name} from {base}")


def _spread_to_tests(index: TreeIndex, seed: int, seed_path: str, share: float, scores: Scores,
                     tests: set[int]) -> None:
    """Tests named after the seed file (test_x.py, x_test.go, x.test.ts, XTest.java); `tests` holds
    the allowed docs with 'test' in their path."""
    name = seed_path.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    if len(name) < 3 or "test" in name:
        return
    best = max(scores.score.values())
    for doc in tests.intersection(index.path_docs(stem(name))):
        if doc != seed and name in index.doc_path(doc).lower():
            scores.add(doc, W_TEST * share * best / 4, f"test of {seed_path.rsplit('/', 1)[-1]}")


def history_pass(index: TreeIndex, query: Query, scores: Scores, history: History, allowed: set[int]) -> None:
    """Files that changed together with the top files (the second and third file of a change), and
    a small lift for files changed lately. Only files some pass already scored, or partners of a top
    file, move."""
    paths, docs = index.paths, index.docs
    by_path = {paths[docs[d]]: d for d in allowed}
    best = max(scores.score.values(), default=0.0) or 1.0
    for seed in scores.top(CO_SEEDS):
        seen, together = history.partners(paths[docs[seed]])
        if seen < 2:
            continue
        share = scores.score[seed] / best
        name = paths[docs[seed]].rsplit("/", 1)[-1]
        for path, count in together.items():
            doc = by_path.get(path)
            if doc is not None and doc != seed and count >= 2:
                scores.add(doc, W_COCHANGE * best * share * count / (seen + 1), f"changes with {name}")
    # A vote of the like commits: a file all of them changed (the version file of the last bumps)
    # gets the whole share, one of five like sweeps over different modules a fifth.
    alike = [(sim, history.commits[c]) for sim, c in history.like(query.text)
             if sim >= ALIKE_MIN and len(history.commits[c]) <= MAX_FILES]
    votes: dict[str, float] = {}
    for similarity, files in alike:
        for path in files:
            votes[path] = votes.get(path, 0.0) + similarity
    for path, vote in votes.items():
        doc = by_path.get(path)
        if doc is not None:
            scores.add(doc, W_ALIKE * best * vote / len(alike), "changed by a like request")
    ages = history.last_changed()
    for doc in list(scores.score):
        age = ages.get(paths[docs[doc]])
        if age is not None and age < RECENT:
            scores.add(doc, W_RECENT * scores.score[doc] * (1 - age / RECENT), "changed lately")
