"""A tree's index (`TreeIndex`): built once from the blobs, then derived commit to commit.

Cold, every file is listed with its size (`ls-tree -l`) and given its status by path, mode and
size; no blob is read (the content verdicts are taken when needed: textcheck.py). When the cache
holds the index of another tree, the new one is derived from it instead: `diff-tree` names the
paths that differ, only their blobs are sized, and the rest is kept as it was. Partial clones are always
listed afresh (their absent blobs are skipped with a note, never fetched); in another repository
an absent blob (a damaged or trimmed copy) is skipped the same way, and derivation keeps it so.
"""

from __future__ import annotations

import os
import subprocess
from typing import Callable

from diffcrew.tools import inventory
from diffcrew.tools.ctxcache import ContextCache, read_blobs
from diffcrew.tools.git import NO_LAZY_FETCH, GitRepo, TreeEntry
from diffcrew.tools.gitconst import SUBMODULE_MODE, local_git
from diffcrew.tools.textindex import TreeIndex, classify

ATTRIBUTES = ".gitattributes"


def tree_id(repo: GitRepo, base: str) -> str:
    return repo.git.execute(["git", "rev-parse", "--verify", f"{base}^{{tree}}"])


def load_index(repo: GitRepo, tree: str, store: ContextCache, max_file_bytes: int,
               on_cold: Callable[[bool], None] = lambda partial: None) -> TreeIndex:
    """The tree's index from the cache, derived from a cached tree, or built from the blobs;
    `on_cold(partial)` is called just before a build from the blobs (work to start alongside)."""
    index = TreeIndex.from_plain(store.load_tree(index_key(tree, max_file_bytes)))
    if index is not None:
        return index
    ignored = _start_ignored(repo)
    partial = repo.is_partial_clone()
    index = None if partial else _derive(repo, tree, store, max_file_bytes)
    if index is None:
        on_cold(partial)
        index = _build(repo, tree, max_file_bytes)
    index.ignored = _finish_ignored(ignored)
    store.save_tree(index_key(tree, max_file_bytes), index.to_plain())
    return index


def index_key(tree: str, max_file_bytes: int) -> str:
    """The cache key of a tree's index (and of its terms, lexicon.py)."""
    return f"{tree}-{max_file_bytes}"


def _build(repo: GitRepo, tree: str, max_file_bytes: int) -> TreeIndex:
    missing: list[str] = []
    entries = sorted(repo.ls_tree(tree, missing), key=lambda e: e.path)
    attrs = _attributes(repo, entries)
    statuses = [classify(e, attrs, max_file_bytes) for e in entries]
    return TreeIndex(tree, [e.path for e in entries], [e.mode for e in entries], [e.blob for e in entries],
                     [e.size for e in entries], statuses, missing=missing)


def _derive(repo: GitRepo, tree: str, store: ContextCache, max_file_bytes: int) -> TreeIndex | None:
    """The index of `tree` from the most recently cached one, or None when there is none to use."""
    suffix = f"-{max_file_bytes}"
    old = None
    for key in store.recent_trees():
        if key.endswith(suffix) and key != index_key(tree, max_file_bytes):
            old = TreeIndex.from_plain(store.load_tree(key))
            break
    if old is None:
        return None
    proc = local_git(repo.root, "diff-tree", "-r", "-z", "--no-renames", old.tree, tree,
                     env={**NO_LAZY_FETCH, "GIT_OPTIONAL_LOCKS": "0"})
    if proc is None or proc.returncode != 0:
        return None
    changes = _parse_diff_tree(proc.stdout.decode("utf-8", "surrogateescape"))
    if len(changes) > len(old.paths) // 2 + 100 or any(p.rsplit("/", 1)[-1] == ATTRIBUTES for p, _, _ in changes):
        return None  # most of the tree changed, or which files are generated may have: build afresh
    kept = {p: i for i, p in enumerate(old.paths)}
    entries = {p: TreeEntry(p, old.modes[i], old.blobs[i], old.sizes[i]) for p, i in kept.items()}
    statuses = {p: old.statuses[i] for p, i in kept.items()}
    fresh: list[tuple[str, str, str]] = []
    for path, mode, blob in changes:
        entries.pop(path, None)
        statuses.pop(path, None)
        if blob and mode != SUBMODULE_MODE:
            fresh.append((path, mode, blob))
    sizes = repo.blob_sizes([blob for _, _, blob in fresh])
    new_entries = [TreeEntry(p, m, b, sizes[b]) for p, m, b in fresh if b in sizes]
    changed = {p for p, _, _ in changes}
    missing = [p for p in old.missing if p not in changed] + [p for p, _, b in fresh if b not in sizes]
    everything = sorted([*entries.values(), *new_entries], key=lambda e: e.path)
    attrs = _attributes(repo, everything)
    for entry in new_entries:
        statuses[entry.path] = classify(entry, attrs, max_file_bytes)
    return TreeIndex(tree, [e.path for e in everything], [e.mode for e in everything],
                     [e.blob for e in everything], [e.size for e in everything],
                     [statuses[e.path] for e in everything], missing=sorted(missing), derived_from=old.tree,
                     changed=sorted(changed))


def _parse_diff_tree(out: str) -> list[tuple[str, str, str]]:
    """(path, new mode, new blob id or '' when deleted) for each path `diff-tree -r -z` reports."""
    fields = out.split("\0")
    changes = []
    for meta, path in zip(fields[0::2], fields[1::2]):
        if not meta.startswith(":"):
            continue
        _, new_mode, _, new_blob, status = meta[1:].split(" ")
        changes.append((path, new_mode, "" if status.startswith("D") else new_blob))
    return changes


def _attributes(repo: GitRepo, entries: list[TreeEntry]) -> tuple[tuple[str, str], ...]:
    """The generated-file patterns of the tree's .gitattributes files."""
    wanted = {e.blob: e.path for e in entries if e.path.rsplit("/", 1)[-1] == ATTRIBUTES}
    texts = {wanted[blob]: data.decode("utf-8", "replace") for blob, data in read_blobs(repo.root, list(wanted))}
    return inventory.attribute_patterns(texts)


def _start_ignored(repo: GitRepo) -> subprocess.Popen[bytes]:
    """Tracked files that the repository's ignore rules match (started early: it runs alongside)."""
    return subprocess.Popen(["git", "-C", str(repo.root), "ls-files", "-z", "-c", "-i", "--exclude-standard"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})


def _finish_ignored(proc: subprocess.Popen[bytes]) -> list[str]:
    out, _ = proc.communicate()
    return [p for p in out.decode("utf-8", "replace").split("\0") if p] if proc.returncode == 0 else []


__all__ = ["index_key", "load_index", "tree_id"]
