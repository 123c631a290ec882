"""Symbol outlines: the definitions of a file (classes, functions, methods, types) with signatures.

Outlines come from tree-sitter, through the official per-language grammar packages
(tree-sitter-python, -javascript, -typescript, -go, -rust, -java, -c, -cpp). A grammar is loaded
on first use only, so a warm run that finds every outline in the cache never imports one.
Files in other languages (or whose grammar is not installed) get a head-of-file excerpt instead.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_SYMBOLS = 300
MAX_SIGNATURE = 160
HEAD_LINES = 20
HEAD_CHARS = 1200

# extension -> (grammar module, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "py": ("tree_sitter_python", "language"), "pyi": ("tree_sitter_python", "language"),
    "js": ("tree_sitter_javascript", "language"), "jsx": ("tree_sitter_javascript", "language"),
    "mjs": ("tree_sitter_javascript", "language"), "cjs": ("tree_sitter_javascript", "language"),
    "ts": ("tree_sitter_typescript", "language_typescript"),
    "mts": ("tree_sitter_typescript", "language_typescript"),
    "cts": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"), "rs": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"), "c": ("tree_sitter_c", "language"),
    "h": ("tree_sitter_cpp", "language"),  # C++ parses C headers well, and C++ headers too
    "cc": ("tree_sitter_cpp", "language"), "cpp": ("tree_sitter_cpp", "language"),
    "cxx": ("tree_sitter_cpp", "language"), "hpp": ("tree_sitter_cpp", "language"),
    "hh": ("tree_sitter_cpp", "language"), "hxx": ("tree_sitter_cpp", "language"),
}

# node type -> kind shown in the outline. Containers are descended into; callables are not
# (a nested helper inside a function body is noise for planning).
_CONTAINERS = {
    "class_definition": "class", "class_declaration": "class", "abstract_class_declaration": "class",
    "interface_declaration": "interface", "enum_declaration": "enum", "record_declaration": "record",
    "trait_item": "trait", "impl_item": "impl", "mod_item": "mod", "class_specifier": "class",
    "struct_specifier": "struct", "namespace_definition": "namespace", "internal_module": "namespace",
    "enum_item": "enum", "struct_item": "struct", "union_item": "union",
}
_CALLABLES = {
    "function_definition": "def", "function_declaration": "function", "generator_function_declaration": "function",
    "method_definition": "method", "method_declaration": "method", "constructor_declaration": "constructor",
    "function_item": "fn", "function_signature_item": "fn", "method_signature": "method",
    "function_signature": "function", "abstract_method_signature": "method",
    "type_alias_declaration": "type", "type_spec": "type", "type_item": "type", "type_definition": "typedef",
    "enum_specifier": "enum", "macro_definition": "macro",
}
# Skipped without descending: bodies of code, where definitions are local.
_OPAQUE = {"block", "statement_block", "compound_statement", "function_body"}
_NAME_TYPES = {"identifier", "field_identifier", "type_identifier", "qualified_identifier", "destructor_name",
               "operator_name", "property_identifier", "namespace_identifier", "scoped_identifier"}


@dataclass(frozen=True)
class Symbol:
    """One definition: its name, kind, 1-based line, signature text and nesting depth."""

    name: str
    kind: str
    line: int
    signature: str
    depth: int


def language_of(path: str) -> str | None:
    """The grammar module that outlines this path, or None for a head-of-file excerpt."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    grammar = _GRAMMARS.get(ext)
    return f"{grammar[0]}.{grammar[1]}" if grammar else None


@lru_cache(maxsize=None)
def _parser(grammar: str) -> Any:
    """A tree-sitter parser for 'module.function', or None when the grammar cannot be loaded."""
    module_name, func = grammar.rsplit(".", 1)
    try:
        import tree_sitter
        module = importlib.import_module(module_name)
        return tree_sitter.Parser(tree_sitter.Language(getattr(module, func)()))
    except (ImportError, AttributeError, ValueError):
        return None


def outline(path: str, text: str) -> tuple[Symbol, ...] | None:
    """The definitions of the file, or None when its language has no outline (use head_excerpt)."""
    grammar = language_of(path)
    parser = _parser(grammar) if grammar else None
    if parser is None:
        return None
    data = text.encode("utf-8")
    tree = parser.parse(data)
    found: list[Symbol] = []
    try:
        _walk(tree.root_node, data, 0, found)
    except RecursionError:  # nested deeper than the walk can follow (issue 13): no outline, the head instead
        return None
    return tuple(found)


def _walk(node: Any, data: bytes, depth: int, found: list[Symbol]) -> None:
    """Collect definitions depth-first; stop at MAX_SYMBOLS and at bodies of code."""
    for child in node.named_children:
        if len(found) >= MAX_SYMBOLS:
            return
        kind = (_CONTAINERS.get(child.type) or _CALLABLES.get(child.type) or _c_declaration_kind(child)
                or _js_binding_kind(child))
        if kind and (child.type not in ("struct_specifier", "enum_specifier", "class_specifier")
                     or child.child_by_field_name("body") is not None):
            name = _name_of(child)
            if name:
                found.append(Symbol(name, kind, child.start_point[0] + 1, _signature(child, data), depth))
            if child.type in _CONTAINERS:  # a class body is a `block`: walk it even so
                _walk(child.child_by_field_name("body") or child, data, depth + 1, found)
            continue
        if child.type not in _OPAQUE:
            _walk(child, data, depth, found)


def _c_declaration_kind(node: Any) -> str | None:
    """C/C++ prototypes (`int f(int);`, methods declared in a class) are declarations, not definitions."""
    if node.type not in ("declaration", "field_declaration"):
        return None
    declarator = node.child_by_field_name("declarator")
    return "prototype" if declarator is not None and declarator.type == "function_declarator" else None


def _js_binding_kind(node: Any) -> str | None:
    """`const f = (a) => ...` defines a function in JavaScript and TypeScript."""
    if node.type != "variable_declarator":
        return None
    value = node.child_by_field_name("value")
    return "function" if value is not None and value.type in ("arrow_function", "function_expression",
                                                               "function") else None


def _name_of(node: Any) -> str:
    """The defined name: the `name` field, or the end of a C declarator chain, or a Rust impl's type."""
    target = node.child_by_field_name("name")
    if target is None and node.type == "impl_item":
        target = node.child_by_field_name("type")
        trait = node.child_by_field_name("trait")
        if target is not None and trait is not None:
            return f"{_text(trait)} for {_text(target)}"
    declarator = node.child_by_field_name("declarator")
    while target is None and declarator is not None:
        if declarator.type in _NAME_TYPES:
            target = declarator
        else:
            declarator = declarator.child_by_field_name("declarator") or declarator.child_by_field_name("name")
    return _text(target) if target is not None else ""


def _text(node: Any) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _signature(node: Any, data: bytes) -> str:
    """The definition's head: its text up to the body, on one line, shortened."""
    end = node.end_byte
    value = node.child_by_field_name("value") if node.type == "variable_declarator" else None
    body = (value or node).child_by_field_name("body")
    if body is not None:
        end = body.start_byte
    head = data[node.start_byte:min(end, node.start_byte + 4 * MAX_SIGNATURE)].decode("utf-8", "replace")
    head = re.sub(r"\s+", " ", head).strip().rstrip("{:").strip()
    return head if len(head) <= MAX_SIGNATURE else head[:MAX_SIGNATURE - 1] + "…"


def head_excerpt(text: str) -> str:
    """The first lines of a file without an outline, capped in lines and characters."""
    lines = text.splitlines()[:HEAD_LINES]
    excerpt = "\n".join(line[:200] for line in lines)
    return excerpt[:HEAD_CHARS]


def render_outline(symbols: tuple[Symbol, ...]) -> str:
    """One line per symbol: line number, indentation by depth, signature."""
    return "\n".join(f"{s.line:>5}: {'    ' * s.depth}{s.signature}" for s in symbols)
