"""The rules a plan must keep, for the first plan and for every amendment the review asks for.

A plan is checked against the base commit's tree: each path through the one path rule
(tools/paths.py), then the scope of the run, protected paths, what may be created, modified or
deleted, sizes, and collisions between planned paths. The problems are sentences the model can
act on; the orchestrator sends them back once before the run fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AbstractSet

from diffcrew.agent.config import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FILES
from diffcrew.agent.scope import DEFAULT_PROTECTED, ignored_paths, matches
from diffcrew.agent.types import FileEdit, Plan
from diffcrew.tools.git import GitRepo, TreeEntry
from diffcrew.tools.gitconst import REGULAR_MODES, SUBMODULE_MODE
from diffcrew.tools.paths import option_problem


@dataclass(frozen=True)
class PlanRules:
    """Limits a plan must respect besides the tree itself (configurable by the user)."""

    protected: tuple[str, ...] = DEFAULT_PROTECTED
    allowed: tuple[str, ...] = ()  # --allow-path: protected paths the user lets the plan touch
    max_files: int = DEFAULT_MAX_FILES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # `diffcrew fix`: the only paths the plan may modify (None: any path, any action). The request is
    # then a standing one that may not apply, so an empty list of edits is a valid answer too.
    scope: tuple[str, ...] | None = None



def check_plan(plan: Plan, repo: GitRepo, tree: dict[str, TreeEntry], text_paths: AbstractSet[str],
               rules: PlanRules) -> list[str]:
    """`plan_problems` for a plan the model gave, with the paths it creates that git ignores."""
    ignored = ignored_paths(repo, [e.path for e in plan.edits if e.action == "create"])
    return plan_problems(plan, tree, text_paths, rules, ignored)


def plan_problems(plan: Plan, tree: dict[str, TreeEntry], text_paths: AbstractSet[str],
                  rules: PlanRules = PlanRules(), ignored: frozenset[str] = frozenset()) -> list[str]:
    """Why a plan cannot be carried out on this tree under these rules (empty when it can);
    `ignored`: the paths it creates that git ignores."""
    problems: list[str] = []
    if len(plan.edits) > rules.max_files:
        problems.append(f"the plan has {len(plan.edits)} files; at most {rules.max_files} are allowed (--max-files)")
    directories = {p.rsplit("/", i)[0] for p in tree for i in range(1, p.count("/") + 1)}
    folded = {p.casefold(): p for p in tree}
    planned = {e.path for e in plan.edits if e.action != "delete"}
    seen: set[str] = set()
    for edit in plan.edits:
        problem = option_problem(edit.path) or _edit_problem(edit, tree, text_paths, rules, directories)
        if problem is None:
            problem = _nesting_problem(edit.path, planned)
        if problem is None and edit.path in ignored and not matches(edit.path, rules.allowed):
            problem = ("ignored by git (a virtualenv, build output, local settings); a file created there would "
                       "be checked out over the user's own; the user must allow it with --allow-path")
        if problem is None and edit.path in seen:
            problem = "listed more than once; give each file one edit"
        twin = folded.get(edit.path.casefold())
        if problem is None and twin is not None and twin != edit.path:
            problem = f"differs from {twin} only in letter case (a collision on case-insensitive file systems)"
        folded.setdefault(edit.path.casefold(), edit.path)
        seen.add(edit.path)
        if problem:
            problems.append(f"{edit.path}: {problem}")
    return problems


def _nesting_problem(path: str, planned: set[str]) -> str | None:
    """A planned path that another planned path puts files under (in any letter case, as
    case-insensitive file systems see it): one tree cannot hold both."""
    inside = sorted(p for p in planned if p.casefold().startswith(path.casefold() + "/"))
    if inside:
        return (f"the plan also has {inside[0]} under it; a path cannot be both a file and a directory "
                "(drop one of them)")
    return None


def _edit_problem(edit: FileEdit, tree: dict[str, TreeEntry], text_paths: AbstractSet[str], rules: PlanRules,
                  directories: set[str]) -> str | None:
    path, parts = edit.path, edit.path.split("/")
    if rules.scope is not None and path not in rules.scope:
        return "not one of the files this run may change; plan edits only to the files the request names"
    if rules.scope is not None and edit.action != "modify":
        return f"this run may only modify the files the request names, not {edit.action} them"
    if matches(path, rules.protected) and not matches(path, rules.allowed):
        return ("a protected path (CI, workflows, hooks, git attributes, diffcrew's config); the user must allow it "
                "with --allow-path")
    if edit.action == "create":
        if path in tree or path in directories:
            return "cannot create it, it already exists (use modify)"
        if any("/".join(parts[:i]) in tree for i in range(1, len(parts))):
            return "cannot create it, a parent of it is a file or a submodule"
        return None
    if path not in tree:
        return "no such file in the repository (use create for a new file)"
    if tree[path].mode == SUBMODULE_MODE:
        return "a submodule; diffcrew does not edit submodules"
    if tree[path].mode not in REGULAR_MODES:
        return "not a regular file (a symlink), it cannot be edited"
    if tree[path].size > rules.max_file_bytes:
        return f"too large to edit ({tree[path].size:,} bytes; the limit is {rules.max_file_bytes:,}, --max-file-bytes)"
    if path not in text_paths:
        return "not a UTF-8 text file diffcrew may edit (binary, another encoding, generated, or a secret)"
    return None
