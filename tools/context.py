"""The repository context for the orchestrator: what it is shown about the base commit.

`build_context` runs the whole deterministic pipeline: the tree's index (listing.py: from the
cache when the tree was seen before, derived from a cached tree when one was, else built from the
listing), the inventory rules (secrets and the deny list out, generated files not used as context),
the ranking (rank.py, with the request's words found by lexicon.py), outlines of the top
candidates (repomap.py), and a rendering that fits the token budget: a tree summary, the ranked
files with reasons, the full text of the top few and the outlines of the next ones. Content is
judged only where it is used (textcheck.py): the head of the ranking is kept to files that are
text without secrets, and `text_paths` judges the rest when a role or a plan names them. Nothing
here calls a model.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import AbstractSet, Any

from diffcrew.tools import inventory, rank, repomap
from diffcrew.tools.ctxcache import ContextCache, NoCache, read_blobs
from diffcrew.tools.git import GitRepo, TreeEntry
from diffcrew.tools.history import HistoryLoad
from diffcrew.tools.inventory import DEFAULT_MAX_FILE_BYTES
from diffcrew.tools.lexicon import Lexicon
from diffcrew.tools.listing import index_key, load_index, tree_id
from diffcrew.tools.textcheck import ContentCheck, TextPaths
from diffcrew.tools.textindex import DOC, GENERATED, SECRET, TreeIndex, text_of
from diffcrew.tools.tokens import estimate_tokens, tokens_in

CANDIDATES = 40      # files whose outline is parsed for the graph pass and the rendering
FULL_FILES = 5       # at most this many files shown in full
LISTED = 30          # ranked files listed with their reasons
JUDGED = 100         # the head of the ranking, kept to files whose content is readable


@dataclass(frozen=True)
class RankedFile:
    path: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RepoContext:
    """What the orchestrator is shown about the repository."""

    base: str
    files: tuple[TreeEntry, ...]
    ranked: tuple[RankedFile, ...]  # the head of the ranking: at most JUDGED readable files, best first
    text: str
    tokens: int
    text_paths: AbstractSet[str]  # what a role may read and a plan modify (a TextPaths: judged on ask)
    notes: tuple[str, ...] = ()


class MissingBlobsWarning(UserWarning):
    """Files of the base commit left out because their blobs are absent (a partial clone)."""


def fenced(text: str, info: str = "") -> str:
    """A Markdown code fence that the text itself cannot close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{ticks}{info}\n{body}{ticks}"


def build_context(repo: GitRepo, base: str, request: str, budget_tokens: int = 24_000, *,
                  deny: tuple[str, ...] = (), max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                  cache: bool = True) -> RepoContext:
    """Rank the base commit's files for the request and render what fits the token budget."""
    store: ContextCache = ContextCache(repo.common_dir) if cache else NoCache()
    query = rank.parse_request(request)
    history = HistoryLoad(repo.root, base, store)
    tree = tree_id(repo, base)
    lex = Lexicon(repo, store, index_key(tree, max_file_bytes))
    index = load_index(repo, tree, store, max_file_bytes,
                       on_cold=lambda partial: lex.start(tree, rank.query_words(query), partial))
    lex.attach(index, index_key(index.derived_from, max_file_bytes) if index.derived_from else None)
    paths, docs = index.paths, index.docs
    check = ContentCheck(repo.root, store)
    statuses = [SECRET if inventory.is_denied(p, deny) else s for p, s in zip(paths, index.statuses)]
    ignored = set(index.ignored)
    allowed = {d for d, i in enumerate(docs) if statuses[i] == DOC and paths[i] not in ignored}
    scores = rank.lexical_pass(index, lex, query, allowed)
    _keep_readable(index, check, scores, allowed, CANDIDATES)
    texts: dict[str, str] = {}
    outlines: dict[int, tuple[repomap.Symbol, ...] | None] = {}
    _prepare(repo, store, index, scores.top(CANDIDATES), texts, outlines)
    rank.graph_pass(index, lex, query, scores, {d: tuple(s.name for s in o or ()) for d, o in outlines.items()},
                    allowed)
    _keep_readable(index, check, scores, allowed, rank.CO_SEEDS)  # the graph pass may have lifted unjudged users
    rank.history_pass(index, query, scores, history.result(), allowed)
    head = _judged_head(index, scores, allowed, check)
    _prepare(repo, store, index, [d for d in head[:LISTED] if d in scores.score and d not in outlines], texts,
             outlines)
    ranked = [RankedFile(paths[docs[d]], round(scores.score.get(d, 0.0), 3), scores.reasons(d)) for d in head]
    by_path = {paths[docs[d]]: o for d, o in outlines.items()}
    notes = _missing_note(index.missing)
    patchable = {p: b for p, b, s in zip(paths, index.blobs, statuses) if s in (DOC, GENERATED)}
    text_paths = TextPaths(patchable, check)
    visible = _visible(paths, statuses, patchable, check, budget_tokens // 10)
    text = render(_Render(len(paths), visible, ranked, texts, by_path, budget_tokens, notes))
    files = tuple(TreeEntry(p, m, b, s) for p, m, b, s in zip(paths, index.modes, index.blobs, index.sizes))
    return RepoContext(base, files, tuple(ranked), text, estimate_tokens(text), text_paths, notes)


def _keep_readable(index: TreeIndex, check: ContentCheck, scores: rank.Scores, allowed: set[int], head: int) -> None:
    """Judge the content of the top `head` files and drop those that are not text without secrets
    (binary without a binary name, another encoding, a pasted key), until the top is all readable."""
    judged: set[int] = set()
    while True:
        top = [d for d in scores.top(head) if d not in judged]
        if not top:
            return
        blobs = {d: index.blobs[index.docs[d]] for d in top}
        texts = check.texts(blobs.values())
        for doc, blob in blobs.items():
            if blob not in texts:
                scores.drop(doc)
                allowed.discard(doc)
        judged.update(top)


def _visible(paths: list[str], statuses: list[str], patchable: dict[str, str], check: ContentCheck,
             budget: int) -> list[str]:
    """The paths the tree summary may name: not secret by path, nor by content when the summary is
    small enough to list files one by one (a directory's file count names no file). `patchable`:
    path -> blob of the files whose content decides."""
    visible = [p for p, s in zip(paths, statuses) if s != SECRET]
    if not _lists_files(visible, budget):
        return visible
    verdicts = check.verdicts(patchable.values())
    secret = {p for p, b in patchable.items() if verdicts.get(b) == SECRET}
    return [p for p in visible if p not in secret]


def _missing_note(missing: list[str]) -> tuple[str, ...]:
    """One note (and one warning) naming how many files were skipped for an absent blob."""
    if not missing:
        return ()
    note = (f"{len(missing)} file{'s' if len(missing) != 1 else ''} of the base commit skipped: blob not in "
            f"this partial clone (not fetched), e.g. {missing[0]}")
    warnings.warn(note, MissingBlobsWarning, stacklevel=3)
    return (note,)


def _prepare(repo: GitRepo, store: ContextCache, index: TreeIndex, docs: list[int], texts: dict[str, str],
             outlines: dict[int, tuple[repomap.Symbol, ...] | None]) -> None:
    """Read the texts and outlines of these docs (parse only what ranking and rendering need)."""
    entries = [index.docs[d] for d in docs]
    texts.update(_read_texts(repo, [(index.paths[i], index.blobs[i]) for i in entries]))
    outlines.update(_outlines(store, index, docs, texts))


def _read_texts(repo: GitRepo, items: list[tuple[str, str]]) -> dict[str, str]:
    """path -> text for the given (path, blob) pairs; binary blobs are left out."""
    by_blob: dict[str, list[str]] = {}
    for path, blob in items:
        by_blob.setdefault(blob, []).append(path)
    texts: dict[str, str] = {}
    for blob, data in read_blobs(repo.root, list(by_blob)):
        text = text_of(data)
        if text is not None:
            for path in by_blob[blob]:
                texts[path] = text
    return texts


def _outlines(store: ContextCache, index: TreeIndex, docs: list[int],
              texts: dict[str, str]) -> dict[int, tuple[repomap.Symbol, ...] | None]:
    """Outlines of the given docs, from the cache by blob id or parsed now (and cached)."""
    cached, fresh = store.outlines.load(), {}
    found: dict[int, tuple[repomap.Symbol, ...] | None] = {}
    for doc in docs:
        entry = index.docs[doc]
        path, blob = index.paths[entry], index.blobs[entry]
        key = f"{blob}:{repomap.language_of(path)}"
        if key not in cached and path in texts:
            symbols = repomap.outline(path, texts[path])
            fresh[key] = None if symbols is None else tuple(
                (s.name, s.kind, s.line, s.signature, s.depth) for s in symbols)
        plain = fresh.get(key, cached.get(key))
        found[doc] = None if plain is None else tuple(repomap.Symbol(*s) for s in plain)
    store.outlines.add(fresh)
    return found


def _judged_head(index: TreeIndex, scores: rank.Scores, allowed: set[int], check: ContentCheck) -> list[int]:
    """The head of the ranking (JUDGED docs): scored ones best first, then the rest by path, each
    one's content judged readable."""
    paths, docs = index.paths, index.docs
    scored = sorted((d for d in scores.score if d in allowed), key=lambda d: (-scores.score[d], paths[docs[d]]))
    head: list[int] = []

    def fill(order: list[int]) -> None:
        while order and len(head) < JUDGED:
            batch, order = order[:JUDGED - len(head)], order[JUDGED - len(head):]
            texts = check.texts(index.blobs[docs[d]] for d in batch)
            head.extend(d for d in batch if index.blobs[docs[d]] in texts)

    fill(scored)
    if len(head) < JUDGED:  # few files scored: the head is filled with the others, by path
        fill(sorted(allowed - set(scores.score), key=lambda d: paths[docs[d]]))
    return head


@dataclass(frozen=True)
class _Render:
    total: int
    visible: list[str]
    ranked: list[RankedFile]
    texts: dict[str, str]
    outlines: dict[str, tuple[repomap.Symbol, ...] | None]
    budget: int
    notes: tuple[str, ...] = ()


def render(r: _Render) -> str:
    """Tree summary, ranked list, full text of the top files, outlines of the next: within budget."""
    parts = [_tree_summary(r.total, r.visible, r.budget // 10)]
    parts.extend(f"\nNote: {note}\n" for note in r.notes)
    parts.append(_ranked_list(r.ranked[:LISTED]))
    used = sum(estimate_tokens(p) for p in parts)
    full, shown = [], set()
    for item in r.ranked[:FULL_FILES]:
        body = r.texts.get(item.path)
        if item.score <= 0 or body is None:
            continue
        block = f"\n### {item.path}\n\n{fenced(body)}\n"
        if used + estimate_tokens(block) > r.budget * 0.6:
            continue
        full.append(block)
        shown.add(item.path)
        used += estimate_tokens(block)
    if full:
        parts.append("\n## Full text of the most relevant files\n" + "".join(full))
    outlines = []
    for item in r.ranked[:CANDIDATES + LISTED]:
        if item.path in shown or item.score <= 0 or item.path not in r.texts:
            continue
        block = _outline_block(item.path, r.texts[item.path], r.outlines.get(item.path))
        if used + estimate_tokens(block) > r.budget:
            continue
        outlines.append(block)
        used += estimate_tokens(block)
    if outlines:
        parts.append("\n## Outlines of other relevant files\n" + "".join(outlines))
    return "".join(parts)


def _outline_block(path: str, text: str, symbols: tuple[repomap.Symbol, ...] | None) -> str:
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if symbols:
        return f"\n### {path} ({lines} lines; outline)\n\n{fenced(repomap.render_outline(symbols))}\n"
    return f"\n### {path} ({lines} lines; first lines)\n\n{fenced(repomap.head_excerpt(text))}\n"


def _tree_summary(total: int, visible: list[str], budget: int) -> str:
    """Directories with file counts, as deep as the budget allows (a list of files when small)."""
    head = f"## Repository: {total} tracked files\n\n"
    if _lists_files(visible, budget):
        return head + "\n".join(f"- {p}" for p in visible) + "\n"
    # Count per directory once, then fold the (far fewer) directories to the depth that fits.
    per_dir = Counter(p[:p.rfind("/")] if "/" in p else "." for p in visible)
    for depth in (3, 2, 1):
        counts: Counter[str] = Counter()
        for directory, n in per_dir.items():
            counts["/".join(directory.split("/")[:depth])] += n
        listing = "\n".join(f"- {d}/ ({n} files)" for d, n in sorted(counts.items()))
        if estimate_tokens(listing) <= budget or depth == 1:
            return head + "Directories (file counts):\n" + listing[: budget * 4] + "\n"
    return head


def _lists_files(visible: list[str], budget: int) -> bool:
    """Whether the tree summary lists the files one by one (they fit its budget)."""
    return tokens_in(sum(len(p) + 3 for p in visible)) <= budget  # '- p\n' a line


def _ranked_list(ranked: list[RankedFile]) -> str:
    lines = [f"- {r.path} (score {r.score:g}: {'; '.join(r.reasons) or 'no match'})" for r in ranked if r.score > 0]
    return "\n## Files ranked for this request\n\n" + ("\n".join(lines) or "(no file matched the request)") + "\n"


def context_report(ctx: RepoContext, limit: int = 50) -> dict[str, Any]:
    """The object `diffcrew context --json` prints (the caller adds `estimated_cost`)."""
    files = [{"path": r.path, "score": r.score, "reasons": list(r.reasons)} for r in ctx.ranked[:limit]
             if r.score > 0]
    report = {"base": ctx.base, "files": files, "tokens": ctx.tokens, "tracked_files": len(ctx.files)}
    return {**report, "notes": list(ctx.notes)} if ctx.notes else report


__all__ = ["MissingBlobsWarning", "RankedFile", "RepoContext", "build_context", "context_report", "fenced"]
