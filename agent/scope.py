"""Where a plan may write besides "a path in the tree": the protected paths, git-ignored paths,
and diffcrew's own settings inside pyproject.toml. Each needs `--allow-path` to be touched.

Protected are the files that run code or hold CI credentials (CI and workflow configs, hook
managers, dev containers), what git fetches or how it shows and converts files (`.gitmodules`,
`.gitattributes`), who must review (`CODEOWNERS`), and diffcrew's own config (`.diffcrew.toml`:
a merged branch could add shell checks, allow every path, raise the cost cap). Documentation
under `.github/` and `.gitignore` are ordinary files. Matching ignores letter case: on macOS and
Windows `.GITHUB/workflows/x.yml` lands in `.github/workflows/`.
"""

from __future__ import annotations

import fnmatch
import tomllib

import git

from diffcrew.tools.errors import GitError
from diffcrew.tools.git import GitRepo
from diffcrew.tools.paths import path_problem

DEFAULT_PROTECTED = (
    # CI: runs code with the repository's secrets
    ".github/workflows/", ".github/actions/", ".github/dependabot.yml", ".github/dependabot.yaml",
    ".gitlab-ci.yml", ".gitlab/ci/", ".circleci/", ".travis.yml", "Jenkinsfile", "azure-pipelines.yml",
    ".azure-pipelines/", "bitbucket-pipelines.yml", ".buildkite/", ".drone.yml", ".woodpecker.yml", ".woodpecker/",
    ".devcontainer/", ".devcontainer.json",
    # hooks: run on the developer's machine at the next commit or checkout
    ".pre-commit-config.yaml", ".pre-commit-hooks.yaml", ".husky/", ".githooks/", "lefthook.yml", "lefthook.yaml",
    ".lefthook.yml", ".lefthook.yaml",
    # git: what it fetches, how it shows and converts files
    ".gitmodules", "**/.gitmodules", ".gitattributes", "**/.gitattributes",
    # review and diffcrew's own settings
    "CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".diffcrew.toml",
)
PYPROJECT = "pyproject.toml"  # only the root one holds settings diffcrew reads


def matches(path: str, patterns: tuple[str, ...]) -> bool:
    """A pattern ending in '/' matches everything under it; others are globs on the whole path.
    Letter case is ignored, as case-insensitive file systems do."""
    folded = path.casefold()
    return any(folded.startswith(p.casefold()) if p.endswith("/") else fnmatch.fnmatchcase(folded, p.casefold())
               for p in patterns)


def ignored_paths(repo: GitRepo, paths: list[str]) -> frozenset[str]:
    """Which of `paths` git ignores (.gitignore, info/exclude, core.excludesFile), whether or not they exist."""
    usable = [p for p in paths if path_problem(p) is None]
    if not usable:
        return frozenset()
    with repo.input(("\0".join(usable) + "\0").encode("utf-8")) as stdin:
        try:
            out = repo.git.execute(["git", "check-ignore", "--no-index", "-z", "--stdin"], istream=stdin,
                                   strip_newline_in_stdout=False)
        except git.GitCommandError as exc:
            if exc.status == 1:  # nothing ignored
                return frozenset()
            detail = (exc.stderr or "").strip().splitlines()
            raise GitError(f"git check-ignore failed: {detail[-1] if detail else exc.status}") from None
    return frozenset(p for p in str(out).split("\0") if p)


def settings_problem(path: str, old: bytes | None, new: bytes | None, allowed: tuple[str, ...]) -> str | None:
    """Why a change to the root pyproject.toml may not be committed: it edits [tool.diffcrew]."""
    if path != PYPROJECT or matches(path, allowed):
        return None
    before, after = _diffcrew_table(old), _diffcrew_table(new)
    if after is _UNREADABLE or before == after:
        return None  # an unreadable result is the syntax check's to report; it cannot widen anything
    return (f"{path}: the change edits [tool.diffcrew], diffcrew's own settings (checks, allowed paths, "
            f"limits); no branch was made. To allow it, pass --allow-path {PYPROJECT}")


_UNREADABLE = object()


def _diffcrew_table(data: bytes | None) -> object:
    if data is None:
        return None
    try:
        return tomllib.loads(data.decode("utf-8")).get("tool", {}).get("diffcrew")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        return _UNREADABLE
