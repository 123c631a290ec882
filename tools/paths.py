"""The one rule for a repository path that a model (or a pasted patch) names.

`RepoPath.parse` is the only place that decides whether text names a file inside the repository:
relative and '/'-separated, no empty, '.' or '..' part, no control character (a NUL or a newline
would inject records into `git update-index -z --index-info` or lines into the commit message), no
`.git` part at any depth and in any letter case (a nested repository's hooks and config run code),
and no part longer than file systems allow. With `options=False` it adds the rule for paths
diffcrew creates or hands to the user's checks: no part may start with '-', which a command would
read as an option. Plan paths, `diffcrew apply` paths, exploration paths and symlink targets,
`diffcrew fix` arguments, tree entries and the sandbox's writes all go through it; each caller adds
only its own rules on top (protected paths, scope, symbolic links on disk). `path_problem` and
`option_problem` are the same rule for callers that want the reason as text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_PART_BYTES = 255  # NAME_MAX on Linux and macOS; NTFS allows 255 UTF-16 units
MAX_PATH_BYTES = 4096  # PATH_MAX on Linux


class PathRefused(ValueError):
    """The text cannot name a file inside the repository; `problem` says why."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"{text!r}: {problem}")
        self.text = text
        self.problem = problem


@dataclass(frozen=True)
class RepoPath:
    """A path relative to the repository root that passed the rule: build it with `parse`."""

    text: str

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.text.split("/"))

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str, *, options: bool = True) -> RepoPath:
        """The path, or PathRefused; `options=False` also refuses a part that starts with '-'."""
        problem = _problem(text)
        if problem is None and not options and any(part.startswith("-") for part in text.split("/")):
            problem = "a part of the path starts with '-', which commands read as an option; such names are refused"
        if problem is not None:
            raise PathRefused(text, problem)
        return cls(text)


def _has_control(text: str) -> bool:
    """Whether text holds a control character (C0, DEL, C1: NUL, newline, tab, escape...)."""
    return any(unicodedata.category(c) == "Cc" for c in text)


def _is_git_part(part: str) -> bool:
    """`.git` in any letter case, also with the trailing dots or spaces Windows drops."""
    return part.rstrip(". ").casefold() == ".git"


def _problem(path: str) -> str | None:
    """The rule itself: why `path` cannot name a file inside the repository, or None."""
    if not path:
        return "an empty path"
    if _has_control(path):
        return "holds a control character (NUL, newline, tab...); such names are refused"
    if path.startswith(("/", "~")) or "\\" in path or (len(path) > 1 and path[1] == ":"):
        return "paths must be relative to the repository root and use '/'"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "paths may not contain empty, '.' or '..' parts"
    if any(_is_git_part(part) for part in parts):
        return "a .git directory (at any depth, in any letter case) is never touched"
    if any(len(part.encode("utf-8")) > MAX_PART_BYTES for part in parts):
        return f"a part of the path is longer than {MAX_PART_BYTES} bytes, more than file systems allow"
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        return f"longer than {MAX_PATH_BYTES} bytes"
    return None


def path_problem(path: str) -> str | None:
    """Why `path` cannot name a file inside the repository, or None when it can (`RepoPath.parse`)."""
    try:
        RepoPath.parse(path)
    except PathRefused as refused:
        return refused.problem
    return None


def option_problem(path: str) -> str | None:
    """`path_problem`, plus: no part may start with '-' (a check command would read it as an option)."""
    try:
        RepoPath.parse(path, options=False)
    except PathRefused as refused:
        return refused.problem
    return None
