"""A first repository context for the orchestrator: tracked files with sizes, ranked against the
request, and the full text of the most relevant ones within a token budget.

Ranking here is lexical (path and content against the request's words and identifiers); the
repository-context issue deepens it with symbols, a reference graph and a cache.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from diffcrew.tools.git import GitRepo, TreeEntry

MAX_TEXT_BYTES = 256 * 1024
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STOP = frozenset("the and for with from into that this then them are was were has have had not but all any "
                  "add use make change update file files code function functions class method rename new old "
                  "its their should must can will also each when where what which how why".split())


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
    ranked: tuple[RankedFile, ...]
    text: str
    tokens: int
    text_paths: frozenset[str]


def estimate_tokens(text: str) -> int:
    """Offline token estimate: about four characters per token."""
    return (len(text) + 3) // 4


def is_text(data: bytes) -> bool:
    """Text means UTF-8 without NUL bytes: what diffcrew can show a model and patch safely."""
    if b"\0" in data[:8192]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def fenced(text: str, info: str = "") -> str:
    """A Markdown code fence that the text itself cannot close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{ticks}{info}\n{body}{ticks}"


def request_terms(request: str) -> set[str]:
    """Lower-cased words and identifier parts of the request that can point at files."""
    terms: set[str] = set()
    for word in _WORD.findall(request):
        parts = {word} | set(re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", word)) | set(word.split("_"))
        terms.update(p.lower() for p in parts if len(p) >= 3)
    return terms - _STOP


def _score(entry: TreeEntry, text: str | None, request: str, terms: set[str]) -> RankedFile:
    score, reasons = 0.0, []
    if entry.path in request:
        score += 100.0
        reasons.append("path named in the request")
    path_words = {w.lower() for w in re.findall(r"[A-Za-z0-9]+", entry.path)}
    if hits := sorted(terms & path_words):
        score += 5.0 * len(hits)
        reasons.append("path matches " + ", ".join(hits))
    if text:
        lowered = text.lower()
        found = {t: lowered.count(t) for t in terms if t in lowered}
        if found:
            score += sum(1.0 + math.log1p(n) for n in found.values())
            reasons.append("mentions " + ", ".join(sorted(found)[:6]))
    return RankedFile(entry.path, round(score, 3), tuple(reasons))


def build_context(repo: GitRepo, base: str, request: str, budget_tokens: int = 24_000) -> RepoContext:
    """Rank the base commit's files for the request and render what fits the token budget."""
    entries = repo.ls_tree(base)
    terms = request_terms(request)
    texts: dict[str, str] = {}
    for entry in entries:
        if entry.size <= MAX_TEXT_BYTES and entry.mode != "160000":
            data = repo.read_blob(entry.blob)
            if is_text(data):
                texts[entry.path] = data.decode("utf-8")
    ranked = sorted((_score(e, texts.get(e.path), request, terms) for e in entries),
                    key=lambda r: (-r.score, r.path))
    text = _render(entries, ranked, texts, budget_tokens)
    return RepoContext(base, tuple(entries), tuple(ranked), text, estimate_tokens(text), frozenset(texts))


def _render(entries: list[TreeEntry], ranked: list[RankedFile], texts: dict[str, str], budget: int) -> str:
    listing = [f"- {e.path} ({e.size} bytes{'' if e.path in texts else ', not text'})" for e in entries]
    head = f"## Tracked files ({len(entries)})\n\n" + "\n".join(listing)
    if estimate_tokens(head) > budget // 3:
        keep = [f"- {r.path}" for r in ranked[:200]]
        head = f"## Tracked files ({len(entries)}; the 200 most relevant listed)\n\n" + "\n".join(keep)
    parts, used = [head, "\n\n## Contents of the most relevant files\n"], estimate_tokens(head)
    for item in ranked:
        if item.score <= 0 and len(parts) > 2:
            break
        body = texts.get(item.path)
        if body is None:
            continue
        block = f"\n### {item.path}\n\n{fenced(body)}\n"
        cost = estimate_tokens(block)
        if used + cost > budget:
            continue
        parts.append(block)
        used += cost
    return "".join(parts)
