"""The built-in syntax check: does each changed file still parse?

Python goes through the interpreter's own compiler (so it also catches `return` outside a
function). TOML and JSON go through the standard library. Other languages go through tree-sitter
when a grammar is importable: first `tree_sitter_language_pack`, then the single-language
`tree_sitter_<lang>` packages. Both are optional and imported lazily; a language we cannot parse
is skipped, never failed. A problem is reported as `path:line:col: message`, like a compiler.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

# File suffix -> tree-sitter language name (as the language pack spells it).
TREE_SITTER_LANGS = {
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp",
    ".hpp": "cpp", ".hh": "cpp", ".java": "java", ".rb": "ruby", ".php": "php", ".cs": "csharp",
    ".kt": "kotlin", ".swift": "swift", ".scala": "scala", ".lua": "lua", ".sh": "bash", ".bash": "bash",
}
# Single-language packages whose entry point is not `language()`.
ENTRY_POINTS = {"typescript": ("tree_sitter_typescript", "language_typescript"),
                "tsx": ("tree_sitter_typescript", "language_tsx"),
                "php": ("tree_sitter_php", "language_php")}
# JSON with comments by convention: strict JSON would call them broken.
JSONC_NAMES = ("tsconfig", "jsconfig", ".eslintrc", "devcontainer")
MAX_PROBLEMS = 5


@dataclass(frozen=True)
class SyntaxProblem:
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


def parse_problems(path: str, data: bytes) -> list[SyntaxProblem] | None:
    """The syntax problems of one file; [] if it parses, None if we cannot parse its language.

    A file nested deeper than the parsers' recursion allows (the JSON and TOML decoders and the
    Python compiler raise RecursionError or MemoryError) is a problem of the file: a failed check,
    not a crash of the run."""
    try:
        return _parse(path, data)
    except (RecursionError, MemoryError):
        return [SyntaxProblem(path, 1, 1, "nested too deeply to parse (the parser ran out of stack)")]


def _parse(path: str, data: bytes) -> list[SyntaxProblem] | None:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in (".py", ".pyi"):
        return _python(path, data)
    if suffix == ".toml":
        return _toml(path, data)
    if suffix == ".json" and not any(name in path for name in JSONC_NAMES) and "/.vscode/" not in f"/{path}":
        return _json(path, data)
    lang = TREE_SITTER_LANGS.get(suffix)
    parser = _parser(lang) if lang else None
    return None if parser is None else _tree_sitter(path, data, parser)


def _python(path: str, data: bytes) -> list[SyntaxProblem]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences warn; they are not our verdict
            compile(data, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return [SyntaxProblem(path, exc.lineno or 1, exc.offset or 1, f"{type(exc).__name__}: {exc.msg}")]
    except ValueError as exc:  # null bytes, before 3.12
        return [SyntaxProblem(path, 1, 1, f"SyntaxError: {exc}")]
    return []


def _toml(path: str, data: bytes) -> list[SyntaxProblem]:
    try:
        tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return [SyntaxProblem(path, 1, 1, f"not UTF-8: {exc.reason}")]
    except tomllib.TOMLDecodeError as exc:
        return [SyntaxProblem(path, *_toml_place(str(exc)), f"TOML: {exc}")]
    return []


def _toml_place(message: str) -> tuple[int, int]:
    # tomllib says "... (at line 3, column 7)" and offers no attributes for it.
    found = re.search(r"line (\d+), column (\d+)", message)
    return (int(found.group(1)), int(found.group(2))) if found else (1, 1)


def _json(path: str, data: bytes) -> list[SyntaxProblem]:
    try:
        json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return [SyntaxProblem(path, 1, 1, f"not UTF-8: {exc.reason}")]
    except json.JSONDecodeError as exc:
        return [SyntaxProblem(path, exc.lineno, exc.colno, f"JSON: {exc.msg}")]
    return []


@lru_cache(maxsize=None)
def _parser(lang: str) -> Any | None:
    """A tree-sitter parser for `lang`, or None when neither the pack nor the grammar is installed."""
    try:
        from tree_sitter_language_pack import get_parser  # type: ignore[import-not-found]

        return get_parser(lang)
    except Exception:  # not installed, or no such language in this version: try the single grammar
        pass
    try:
        import tree_sitter

        module_name, entry = ENTRY_POINTS.get(lang, (f"tree_sitter_{lang}", "language"))
        grammar = getattr(importlib.import_module(module_name), entry)()
        return tree_sitter.Parser(tree_sitter.Language(grammar))
    except Exception:  # missing package or an incompatible grammar ABI: skip the language
        return None


def _tree_sitter(path: str, data: bytes, parser: Any) -> list[SyntaxProblem]:
    tree = parser.parse(data)
    if not tree.root_node.has_error:
        return []
    problems: list[SyntaxProblem] = []
    stack = [tree.root_node]
    while stack and len(problems) < MAX_PROBLEMS:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            row, col = node.start_point
            problems.append(SyntaxProblem(path, row + 1, col + 1, _describe(node, data)))
            continue  # the first error in a region is the useful one
        # Reversed, so the stack pops children in source order.
        stack.extend(child for child in reversed(node.children) if child.has_error)
    return problems or [SyntaxProblem(path, 1, 1, "syntax error")]


def _describe(node: Any, data: bytes) -> str:
    if node.is_missing:
        return f"syntax error: missing `{node.type}`"
    text = data[node.start_byte:node.end_byte].decode("utf-8", "replace").strip().splitlines()
    snippet = text[0][:40] if text else ""
    return f"syntax error near `{snippet}`" if snippet else "syntax error"
