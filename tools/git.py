"""Git through GitPython: read the base commit, and build a commit and branch from objects alone.

Nothing here touches the user's working tree, index, HEAD or stash: trees are built in a
temporary index file (GIT_INDEX_FILE, in the state folder: tools/scratch.py), commits with
`commit-tree` (which runs no hooks), and the branch is created with `update-ref` against the
all-zero id, so an existing branch is never overwritten. Every command runs with
GIT_OPTIONAL_LOCKS=0 so that even read-only commands never refresh the user's index behind their back.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import git
from gitdb.base import IStream

from diffcrew.tools.errors import GitError, UsageError
from diffcrew.tools.gitconst import FILE_MODE
from diffcrew.tools.paths import path_problem
from diffcrew.tools.scratch import scratch_file, scratch_folder

ZERO_OID = "0" * 40
SIGNING_HELP = ("fix the signing setup (`git commit -S` must work in this repository), or run with --no-sign "
                "to commit unsigned; no branch was made")
NO_HOOKS = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": os.devnull}
# For diffcrew's own reads of the base commit: a partial clone's absent blob is never fetched on demand
# (git >= 2.39.4 / 2.45 honours it; such reads fail instead of fetching, so absent blobs are found first).
NO_LAZY_FETCH = {"GIT_NO_LAZY_FETCH": "1"}
# A diff shown to the user names non-ASCII paths as they are, not as octal escapes (git still quotes
# a path with a control character, a quote or a backslash; tools/difftext.py undoes that).
READABLE_PATHS = {**NO_HOOKS, "GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_1": "core.quotePath",
                  "GIT_CONFIG_VALUE_1": "false"}
FALLBACK_IDENTITY = {"GIT_AUTHOR_NAME": "diffcrew", "GIT_AUTHOR_EMAIL": "diffcrew@localhost",
                     "GIT_COMMITTER_NAME": "diffcrew", "GIT_COMMITTER_EMAIL": "diffcrew@localhost"}


UNREADABLE_REMOTE = "fatal: Could not read from remote repository."


def stderr_of(exc: git.GitCommandError) -> str:
    """git's own stderr, without the `stderr: '...'` that GitPython wraps around it."""
    text = str(exc.stderr or "").strip()
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '"):-1]
    return text.strip()


def telling_line(stderr: str) -> str:
    """The line of git's stderr that says what went wrong: the first `fatal:` line, else a push's
    rejection (`! [remote rejected] ...`), else the first `error:` line, else the last line (git's
    last lines are often advice, such as "and the repository exists.")."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for start in ("fatal:", "! [", "error:"):
        at = next((i for i, line in enumerate(lines) if line.startswith(start)), None)
        if at is not None:  # ssh says why before git's generic "Could not read from remote repository."
            return f"{lines[at - 1]}; {lines[at]}" if at and lines[at] == UNREADABLE_REMOTE else lines[at]
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class TreeEntry:
    """A file in a commit's tree."""

    path: str
    mode: str
    blob: str
    size: int


@dataclass(frozen=True)
class IndexEntry:
    """A file as staged in the index: stage 0 normally, 1-3 while a merge conflict is unresolved."""

    path: str
    mode: str
    blob: str
    stage: int


@dataclass(frozen=True)
class TreeChange:
    """A file to write (data) or remove (data None) when building a tree."""

    path: str
    data: bytes | None
    mode: str = FILE_MODE


class GitRepo:
    """The user's repository, read-only except for new objects, diffcrew's branches and its own files."""

    def __init__(self, path: str | Path, hint: str = "run diffcrew inside one, or pass --repo DIR") -> None:
        """The repository at or above `path`; `hint` says what to do when there is none (a command
        without --repo says so)."""
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UsageError(f"not a git repository: {path} ({hint})") from None
        if self.repo.bare or self.repo.working_tree_dir is None:
            raise UsageError(f"{path} is a bare repository; diffcrew needs a checkout")
        self.root = Path(self.repo.working_tree_dir)
        self.git = self.repo.git
        # No user hook runs on diffcrew's own plumbing (post-index-change on the throwaway index,
        # reference-transaction on the new branch): hooks are for the user's own git actions.
        self.git.update_environment(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", **NO_HOOKS)

    def _run(self, *args: str, **kwargs: object) -> str:
        try:
            return self.git.execute(["git", *args], **kwargs)  # type: ignore[call-overload]
        except git.GitCommandError as exc:
            raise GitError(f"git {args[0]} failed: {telling_line(stderr_of(exc)) or exc}") from None

    def input(self, data: bytes) -> BinaryIO:
        """A command's standard input holding `data`: a file in the state folder, not the system temp dir."""
        return scratch_file(self.common_dir, data)

    @functools.cached_property
    def common_dir(self) -> Path:
        """The git directory shared by all worktrees (where diffcrew keeps transcripts and caches)."""
        value = Path(self._run("rev-parse", "--git-common-dir"))
        return value if value.is_absolute() else (self.root / value).resolve()

    def resolve(self, ref: str) -> str:
        """The full commit id of `ref`; a clear error for an unknown ref or an empty repository."""
        try:
            return self.git.execute(
                ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"])
        except git.GitCommandError:
            pass
        if not self.repo.head.is_valid():
            raise UsageError("the repository has no commits yet: make a first commit, then run diffcrew")
        raise UsageError(f"unknown base ref {ref!r}: pass --base with a branch, tag or commit that exists")

    def ls_tree(self, commit: str, missing: list[str] | None = None) -> list[TreeEntry]:
        """Every file (blob) in the commit's tree, with its mode, blob id and size.

        In a partial clone, blobs absent from the object store are left out (their paths are
        appended to `missing`), and none is fetched: `ls-tree -l` would fetch them one by one."""
        absent = self.absent_blobs(commit) if self.is_partial_clone() else set()
        long = [] if absent else ["-l"]
        out = self._run("ls-tree", "-r", *long, "-z", "--full-tree", commit, strip_newline_in_stdout=False,
                        env=NO_LAZY_FETCH)
        entries, skipped = [], missing if missing is not None else []
        for record in out.split("\0"):
            if not record:
                continue
            meta, path = record.split("\t", 1)
            mode, kind, blob, *size = meta.split()
            if kind != "blob":
                continue
            if blob in absent or (size and not size[0].isdigit()):  # '-'/'BAD': no object to size
                skipped.append(path)
            else:
                entries.append(TreeEntry(path=path, mode=mode, blob=blob, size=int(size[0]) if size else -1))
        if absent:
            sizes = self.blob_sizes([e.blob for e in entries])
            entries = [TreeEntry(e.path, e.mode, e.blob, sizes[e.blob]) for e in entries if e.blob in sizes]
        return entries

    def is_partial_clone(self) -> bool:
        """Whether objects may be absent locally, promised by a remote (`clone --filter=...`)."""
        try:
            out = self.git.execute(["git", "config", "--get-regexp",
                                    r"^(extensions\.partialclone|remote\..*\.promisor)$"])
        except git.GitCommandError:  # exit 1: none of these is set
            return False
        for line in out.splitlines():
            key, _, value = line.partition(" ")
            if key.startswith("extensions.") or value.strip().lower() in ("true", "yes", "on", "1"):
                return True
        return False

    def absent_blobs(self, commit: str) -> set[str]:
        """Ids of the commit tree's objects missing locally (`rev-list --missing=print` never fetches)."""
        out = self._run("rev-list", "--objects", "--no-object-names", "--missing=print", f"{commit}^{{tree}}",
                        env=NO_LAZY_FETCH)
        return {line[1:] for line in out.splitlines() if line.startswith("?")}

    def blob_sizes(self, blobs: list[str]) -> dict[str, int]:
        """Sizes of blobs known to be present, in one `cat-file --batch-check`."""
        if not blobs:
            return {}
        with self.input("".join(f"{b}\n" for b in dict.fromkeys(blobs)).encode()) as stdin:
            out = self._run("cat-file", "--batch-check=%(objectname) %(objectsize)", istream=stdin,
                            env=NO_LAZY_FETCH)
        sizes = {}
        for line in out.splitlines():
            blob, _, size = line.partition(" ")
            if size.isdigit():
                sizes[blob] = int(size)
        return sizes

    def gitlinks(self, commit: str) -> list[TreeEntry]:
        """The submodules (gitlinks) in the commit's tree: never edited, but plans must see them."""
        out = self._run("ls-tree", "-r", "-z", "--full-tree", commit, strip_newline_in_stdout=False)
        links = []
        for record in out.split("\0"):
            if record:
                meta, path = record.split("\t", 1)
                mode, kind, target = meta.split()
                if kind == "commit":
                    links.append(TreeEntry(path=path, mode=mode, blob=target, size=0))
        return links

    def read_blob(self, blob: str) -> bytes:
        return self.repo.odb.stream(bytes.fromhex(blob)).read()

    def write_blob(self, data: bytes) -> str:
        return self.repo.odb.store(IStream("blob", len(data), BytesIO(data))).hexsha.decode()

    def worktree_changes(self, commit: str, paths: list[str]) -> list[str]:
        """Which of `paths` differ between the commit and the user's working tree (for warnings)."""
        if not paths:
            return []
        out = self._run("diff", "--name-only", "-z", "--no-ext-diff", commit, "--", *paths,
                        strip_newline_in_stdout=False)
        return [p for p in out.split("\0") if p]

    def index_entries(self, paths: list[str]) -> list[IndexEntry]:
        """The index's entries for exactly these paths (root-relative; no globbing)."""
        if not paths:
            return []
        out = self._run("ls-files", "--stage", "-z", "--full-name", "--", *(f":(literal){p}" for p in paths),
                        strip_newline_in_stdout=False)
        wanted, entries = set(paths), []
        for record in out.split("\0"):
            if record:
                meta, path = record.split("\t", 1)
                mode, blob, stage = meta.split()
                if path in wanted:
                    entries.append(IndexEntry(path=path, mode=mode, blob=blob, stage=int(stage)))
        return entries

    def worktree_blobs(self, paths: list[str]) -> dict[str, str]:
        """The blob id each working-tree file would get if it were staged now (nothing is written)."""
        if not paths:
            return {}
        return dict(zip(paths, self._run("hash-object", "--", *paths).split()))

    def index_commit(self, refresh: list[str], message: str) -> str:
        """A commit (on no branch; parent HEAD, if any) of the index as staged, with the `refresh`
        paths re-read from the working tree. It is built in a copy, so the index is not touched."""
        index = Path(self._run("rev-parse", "--git-path", "index"))  # honours GIT_INDEX_FILE
        index = index if index.is_absolute() else self.root / index
        with scratch_folder(self.common_dir) as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            if index.is_file():
                shutil.copyfile(index, env["GIT_INDEX_FILE"])
            if refresh:
                self._run("update-index", "--", *refresh, env=env)
            tree = self._run("write-tree", env=env)
        parents = ["-p", "HEAD"] if self.repo.head.is_valid() else []
        with self.input(message.encode("utf-8")) as stdin:
            return self._run("commit-tree", tree, *parents, "-F", "-", istream=stdin,
                             env={} if self._has_identity() else FALLBACK_IDENTITY)

    def build_tree(self, base: str, changes: list[TreeChange]) -> str:
        """A tree id: the base commit's tree with `changes` applied, built in a throwaway index."""
        records = []
        for change in changes:
            problem = path_problem(change.path)
            if problem:  # a NUL or newline would inject records into update-index -z --index-info
                raise UsageError(f"{change.path!r}: not written to the tree: {problem}")
            if change.data is None:
                records.append(f"0 {ZERO_OID}\t{change.path}")
            else:
                records.append(f"{change.mode} {self.write_blob(change.data)}\t{change.path}")
        with scratch_folder(self.common_dir) as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            self._run("read-tree", base, env=env)
            if records:  # update-index refuses an empty list
                with self.input(("\0".join(records) + "\0").encode("utf-8")) as stdin:
                    self._run("update-index", "-z", "--index-info", env=env, istream=stdin)
            return self._run("write-tree", env=env)

    def commit_tree(self, tree: str, parent: str | None, message: str, sign: bool = False) -> str:
        """A new commit object (no hooks run, no ref moved); falls back to a diffcrew identity.
        `sign`: signed as `git commit -S` would (gpg.format, user.signingkey, gpg.program)."""
        env = {} if self._has_identity() else FALLBACK_IDENTITY
        with self.input(message.encode("utf-8")) as stdin:
            args = ["commit-tree", *(["-S"] if sign else []), tree, *(["-p", parent] if parent else []), "-F", "-"]
            try:
                return self._run(*args, env=env, istream=stdin)
            except GitError as exc:
                if not sign:
                    raise
                detail = exc.summary.removeprefix("git commit-tree failed: ")
                # git's own ssh-key errors end in a question mark ("...: No such file or directory?")
                detail = detail.removeprefix("error: ").removeprefix("fatal: ").removesuffix("?")
                raise GitError(f"signing the commit failed ({detail}); {SIGNING_HELP}") from None

    def signs_commits(self) -> bool:
        """Whether `git commit` signs here: commit.gpgsign, as git reads it (any config level)."""
        try:
            value = self.git.execute(["git", "config", "--type=bool", "--get", "commit.gpgsign"])
        except git.GitCommandError:  # unset (or not a boolean, which git commit refuses too)
            return False
        return value.strip() == "true"

    def check_signing(self, base: str, asked_by: str) -> None:
        """Sign a throwaway commit of the base tree (an unreferenced object, never a ref) so that a
        signing setup that cannot work is found before anything is spent. `asked_by`: what asked
        for signing (`--sign`, `commit.gpgsign`), named in the error."""
        try:
            self.commit_tree(f"{base}^{{tree}}", None, "diffcrew: signing check\n", sign=True)
        except GitError as exc:
            raise UsageError(f"{asked_by} asks for a signed commit, but {exc.summary}") from None

    def _has_identity(self) -> bool:
        try:
            self.git.execute(["git", "var", "GIT_COMMITTER_IDENT"])
            self.git.execute(["git", "var", "GIT_AUTHOR_IDENT"])
            return True
        except git.GitCommandError:
            return False

    def branch_exists(self, name: str) -> bool:
        try:
            self.git.execute(["git", "show-ref", "--verify", "--quiet", f"refs/heads/{name}"])
            return True
        except git.GitCommandError:
            return False

    def create_branch(self, name: str, commit: str, reason: str) -> None:
        """Create refs/heads/<name> at commit; fails rather than overwrite an existing branch.

        The zero old value makes git refuse a branch that exists by then, atomically: checking
        first and creating after would let two runs racing for one name both pass the check."""
        try:
            self._run("update-ref", "-m", reason, f"refs/heads/{name}", commit, ZERO_OID)
        except GitError as exc:
            if self.branch_exists(name):
                raise UsageError(f"branch {name!r} already exists; pass another --branch") from None
            detail = exc.summary.removeprefix("git update-ref failed: ")
            raise GitError(f"the branch {name} could not be made ({detail}); no branch was made: "
                           "pass another --branch") from None

    def worktree_of(self, name: str) -> str | None:
        """The path of a worktree (this one or another) that has branch `name` checked out, if any."""
        listing = self.git.execute(["git", "worktree", "list", "--porcelain"])
        path: str | None = None
        for line in listing.splitlines():
            if line.startswith("worktree "):
                path = line[len("worktree "):]
            elif line == f"branch refs/heads/{name}":
                return path
        return None

    def delete_branch(self, name: str, expected: str) -> None:
        """Delete refs/heads/<name>, only if it still points at `expected`."""
        self._run("update-ref", "-d", f"refs/heads/{name}", expected)

    def has_remote(self, remote: str) -> bool:
        """Whether `remote` names a configured remote, or is a URL or path git can push to."""
        if "://" in remote or remote.startswith(("/", "./", "../", "git@")):
            return True
        try:
            self.git.execute(["git", "remote", "get-url", "--", remote])
            return True
        except git.GitCommandError:
            return False

    def push(self, remote: str, branch: str) -> None:
        """Push one new branch to a remote (never forced, so nothing there is overwritten)."""
        # A push is the user's own request: their pre-push hook, if any, has its say.
        self._run("push", "--quiet", remote, f"refs/heads/{branch}:refs/heads/{branch}",
                  env={"GIT_CONFIG_COUNT": "0"})

    def pushed_to(self, branch: str) -> list[str]:
        """The remotes whose remote-tracking ref shows `branch` there (as of the last push or fetch)."""
        remotes = self._run("remote").split()
        if not remotes:
            return []
        found = set(self._run("for-each-ref", "--format=%(refname)",
                              *(f"refs/remotes/{r}/{branch}" for r in remotes)).splitlines())
        return [r for r in remotes if f"refs/remotes/{r}/{branch}" in found]

    def delete_remote_branch(self, remote: str, branch: str, expected: str) -> None:
        """Delete `branch` on `remote`, only if it still holds `expected` there (never anything else)."""
        self._run("push", "--quiet", f"--force-with-lease=refs/heads/{branch}:{expected}", remote,
                  f":refs/heads/{branch}", env={"GIT_CONFIG_COUNT": "0"})

    def diff(self, base: str, target: str) -> str:
        """`git diff` between two commits or trees (text, no colour, no external tools).

        Raw text: what is shown goes through `tools/difftext.py`'s `git_diff`, which parses it back.
        """
        args = ["diff", "--no-color", "--no-ext-diff", "--no-renames"]
        return self._run(*args, base, target, strip_newline_in_stdout=False, env=READABLE_PATHS)
