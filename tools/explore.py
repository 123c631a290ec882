"""Read-only exploration tools the orchestrator may call while planning, answered from the base commit.

`read_file`, `search_code` and `list_files` see the base commit's tree, never the working tree, so
the plan is made on the same files the workers will patch. Every path is checked before use: the
shared rule of tools.paths (relative, no '..', no control character, no `.git` part), and inside
`allowed` (the caller passes RepoContext.text_paths, from which secrets and denied paths are already
gone). Symlinks are followed only when their target stays inside the repository and is itself
allowed. Outputs are cut at MAX_LINES / MAX_CHARS with a note saying so.
"""

from __future__ import annotations

import os
import posixpath
import re
import signal
import subprocess
from typing import AbstractSet, Any

import git

from diffcrew.tools.ctxcache import read_blobs
from diffcrew.tools.git import NO_LAZY_FETCH, GitRepo
from diffcrew.tools.inventory import is_secret_path
from diffcrew.tools.gitconst import SYMLINK_MODE
from diffcrew.tools.paths import PathRefused, RepoPath, path_problem
from diffcrew.tools.strict import strict_tool
from diffcrew.tools.textcheck import readable, readable_under

MAX_LINES = 400
MAX_CHARS = 20_000
MAX_MATCHES = 200
MAX_MATCH_CHARS = 300  # of one matching line
_TOKEN_TAIL = re.compile(r"[^\s\"'`,;:=()\[\]{}<>]+\Z")


def clip(text: str, limit: int) -> str:
    """The text cut to at most `limit` characters, never inside a token: half a key or password is
    no longer recognised by the redaction of what is sent (agent/llm/tracked.py), so the whole
    token is dropped instead."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return _TOKEN_TAIL.sub("", cut) if _TOKEN_TAIL.match(text[limit]) else cut
SEARCH_TIMEOUT_S = 10.0  # seconds one search_code call may take
_searches: set[subprocess.Popen[bytes]] = set()  # running searches, killed when the run is interrupted

EXPLORE_TOOLS: list[dict[str, Any]] = [
    strict_tool("read_file", "Read a file of the repository at the base commit, optionally a range of lines (1-based, "
                f"inclusive). Long output is cut at {MAX_LINES} lines.",
                {"path": {"type": "string", "description": "Relative to the repository root, '/'-separated."},
                 "start_line": {"type": "integer", "description": "First line to read, from 1."},
                 "end_line": {"type": "integer", "description": "Last line to read, inclusive."}},
                ["path"]),
    strict_tool("search_code", "Search the repository at the base commit with a regular expression (git grep -E); "
                "answers path:line:text lines.",
                {"pattern": {"type": "string", "description": "An extended regular expression."},
                 "path_glob": {"type": "string",
                               "description": "Optional glob limiting the files, e.g. 'src/**/*.py'."}},
                ["pattern"]),
    strict_tool("list_files", "List the files and directories directly inside a directory of the repository "
                "('' or '.' for the root).",
                {"path": {"type": "string", "description": "A directory, relative to the repository root."}},
                ["path"]),
]


class _Refused(Exception):
    """A tool input diffcrew will not act on; the message goes back to the model."""


def answer_tool(repo: GitRepo, base: str, name: str, input: dict[str, Any],
                allowed: AbstractSet[str]) -> tuple[str, bool]:
    """The tool_result text for one exploration call, and whether it is an error."""
    handlers = {"read_file": _read_file, "search_code": _search_code, "list_files": _list_files}
    handler = handlers.get(name)
    if handler is None:
        return f"unknown tool {name!r}; the exploration tools are {', '.join(handlers)}", True
    if not isinstance(input, dict):
        return "the tool input must be an object", True
    try:
        return handler(repo, base, input, allowed), False
    except _Refused as exc:
        return str(exc), True


def check_path(path: Any, *, directory: bool = False) -> str:
    """The normalised relative path, or a refusal saying why it cannot be used."""
    if not isinstance(path, str):
        raise _Refused("path must be a string")
    if directory and path.strip() in ("", ".", "./"):
        return ""
    try:
        return RepoPath.parse(path.rstrip("/") if directory else path).text
    except PathRefused as refused:
        raise _Refused(f"{path!r}: {refused.problem}") from None


def _tree_entry(repo: GitRepo, base: str, path: str) -> tuple[str, str] | None:
    """(mode, blob) of a path in the base tree, or None."""
    try:
        out = repo.git.execute(["git", "ls-tree", "-z", "--full-tree", base, "--", path],
                               strip_newline_in_stdout=False)
    except git.GitCommandError:
        return None
    for record in out.split("\0"):
        if record and record.split("\t", 1)[1] == path:
            mode, _kind, blob = record.split("\t", 1)[0].split()
            return mode, blob
    return None


def _resolve(repo: GitRepo, base: str, path: str, allowed: AbstractSet[str]) -> str:
    """The blob to read for path, following in-repository symlinks (a few hops at most)."""
    for _ in range(5):
        entry = _tree_entry(repo, base, path)
        if entry is None:
            raise _Refused(f"{path}: no such file at the base commit")
        mode, blob = entry
        if mode != SYMLINK_MODE:
            if path not in allowed or is_secret_path(path):
                raise _Refused(f"{path}: not readable (a secret, denied, binary or too large file)")
            return blob
        link = dict(read_blobs(repo.root, [blob]))  # never fetched: a partial clone's absent blob stays absent
        if blob not in link:
            raise _Refused(f"{path}: a symlink whose blob is not in this partial clone (diffcrew never downloads it)")
        target = link[blob].decode("utf-8", "replace")
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if path_problem(joined):  # absolute, '..' above the root, a .git part: the shared rule
            raise _Refused(f"{path}: a symlink that leads outside the repository")
        path = joined
    raise _Refused(f"{path}: too many symlinks")


def _read_file(repo: GitRepo, base: str, input: dict[str, Any], allowed: AbstractSet[str]) -> str:
    path = check_path(input.get("path"))
    text = repo.read_blob(_resolve(repo, base, path, allowed)).decode("utf-8", "replace")
    lines = text.splitlines()
    start, end = input.get("start_line") or 1, input.get("end_line") or len(lines)
    if not isinstance(start, int) or not isinstance(end, int) or start < 1 or end < start:
        raise _Refused("start_line and end_line must be integers with 1 <= start_line <= end_line")
    chosen = lines[start - 1:end]
    body = "\n".join(f"{start + i:>6}\t{line}" for i, line in enumerate(chosen[:MAX_LINES]))
    note = ""
    if len(chosen) > MAX_LINES or len(body) > MAX_CHARS:
        last = start + min(len(chosen), MAX_LINES) - 1
        body = clip(body, MAX_CHARS)
        note = (f"\n[output cut: {path} has {len(lines)} lines; shown from line {start}, at most {MAX_LINES} "
                f"lines and {MAX_CHARS} characters (up to about line {last}); ask for a range with start_line]")
    return f"{path} (lines {start}-{min(end, len(lines))} of {len(lines)})\n{body}{note}"


def _search_code(repo: GitRepo, base: str, input: dict[str, Any], allowed: AbstractSet[str]) -> str:
    pattern, glob = input.get("pattern"), input.get("path_glob")
    if not isinstance(pattern, str) or not pattern:
        raise _Refused("pattern must be a non-empty string")
    spec = ["--", f":(glob){check_path(glob)}"] if glob else []
    status, out, err = _grep(repo, ["git", "grep", "-z", "-n", "-I", "-E", "--no-color", "-e", pattern, base, *spec])
    if status == 1 and not err.strip():
        return f"no match for {pattern!r}"
    if status != 0 and ("promisor remote" in err or "lazy fetching disabled" in err):
        raise _Refused("search_code cannot run in this repository: it is a partial clone, and some files' "
                       "contents are not here (diffcrew never downloads them); use read_file on the files "
                       "you need instead")
    if status != 0:
        raise _Refused(f"search failed: {err.strip()[:300]}")
    found = _grep_lines(out, f"{base}:")
    ok = readable(allowed, {path for path, _ in found})  # judged together: one read for the new ones
    matches = [clip(rest, MAX_MATCH_CHARS) for path, rest in found if path in ok and not is_secret_path(path)]
    return _capped(matches, f"{len(matches)} matching line(s) for {pattern!r}", MAX_MATCHES)


def _grep_lines(out: str, prefix: str) -> list[tuple[str, str]]:
    """(path, 'path:line:text') for each line `git grep -z -n` printed. The path and the line
    number each end in a NUL, the text in a newline: a path is read whole, with any ':' or newline
    in it (split at the first ':', `notes:old` would be taken for a file `notes`), and verbatim
    (without -z, git quotes a path that is not plain ASCII)."""
    found: list[tuple[str, str]] = []
    at = 0
    while at < len(out):
        path_end = out.find("\0", at)
        number_end = out.find("\0", path_end + 1) if path_end >= 0 else -1
        if number_end < 0:
            break
        text_end = out.find("\n", number_end + 1)
        text_end = len(out) if text_end < 0 else text_end
        path = out[at:path_end].removeprefix(prefix)
        found.append((path, f"{path}:{out[path_end + 1:number_end]}:{out[number_end + 1:text_end]}"))
        at = text_end + 1
    return found


def _grep(repo: GitRepo, args: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of a search, killed after SEARCH_TIMEOUT_S (a pattern with
    back-references can backtrack for hours) or by stop_searches()."""
    proc = subprocess.Popen(args, cwd=repo.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, **NO_LAZY_FETCH})  # a partial clone's absent blobs stay absent
    _searches.add(proc)
    try:
        out, err = proc.communicate(timeout=SEARCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise _Refused(f"the search took longer than {SEARCH_TIMEOUT_S:g} s and was stopped: use a simpler "
                       "pattern (no back-references or nested repetition), or narrow it with path_glob") from None
    finally:
        _kill(proc)
        _searches.discard(proc)
    if proc.returncode < 0:
        raise _Refused("the search was stopped")
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def stop_searches() -> None:
    """Kill every running search (the run is being interrupted or timed out)."""
    for proc in list(_searches):
        _kill(proc)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _list_files(repo: GitRepo, base: str, input: dict[str, Any], allowed: AbstractSet[str]) -> str:
    directory = check_path(input.get("path", ""), directory=True)
    prefix = f"{directory}/" if directory else ""
    files: list[str] = []
    dirs: dict[str, int] = {}
    for path in readable_under(allowed, prefix):
        if not is_secret_path(path):
            rest = path[len(prefix):]
            if "/" in rest:
                sub = rest.split("/", 1)[0]
                dirs[sub] = dirs.get(sub, 0) + 1
            else:
                files.append(rest)
    if not files and not dirs:
        raise _Refused(f"{directory or '.'}: no such directory, or nothing readable in it")
    lines = [f"{d}/ ({n} files)" for d, n in sorted(dirs.items())] + sorted(files)
    return _capped(lines, f"{directory or '.'}: {len(dirs)} directories, {len(files)} files", MAX_LINES)


def _capped(lines: list[str], head: str, limit: int) -> str:
    body = "\n".join(lines[:limit])
    cut = len(lines) > limit or len(body) > MAX_CHARS
    note = f"\n[output cut: showing {min(limit, len(lines))} of {len(lines)} lines; narrow the request]" if cut else ""
    return f"{head}\n{clip(body, MAX_CHARS)}{note}"
