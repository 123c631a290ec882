"""The JSON Schema rules of strict tool use (`"strict": true` on a tool), as the docs state them.

Owns the check of every strict tool's `input_schema`. Sources: "Strict tool use"
(agents-and-tools/tool-use/strict-tool-use) and "Structured outputs - JSON Schema limitations"
(build-with-claude/structured-outputs):
  supported: basic types, enum (primitives only), const, anyOf, allOf (not with $ref), internal
  $ref / $defs / definitions, default, required, additionalProperties (must be false for
  objects), the listed string formats, minItems of 0 or 1, pattern;
  not supported: recursive schemas, complex types within enums, external $ref, numerical
  constraints (minimum, maximum, multipleOf, ...), string constraints (minLength, maxLength),
  array constraints beyond minItems of 0 or 1, additionalProperties other than false;
  limits: 20 strict tools per request, 24 optional parameters and 16 parameters with union
  types across all strict schemas.
"If you use an unsupported feature, you'll receive a 400 error with details": the docs give no
wording; the messages below follow the wording observed from the API for schemas
("For 'object' type, 'additionalProperties' must be explicitly set to false",
"For 'integer' type, property 'minimum' is not supported"), prefixed with the tool's path.
"""

from __future__ import annotations

from typing import Any, Callable

NUMERIC = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
STRING = ("minLength", "maxLength")
ARRAY = ("maxItems", "uniqueItems", "contains", "minContains", "maxContains")
LIMITS = {"strict tools": 20, "optional parameters": 24, "parameters with union types": 16}

Refuse = Callable[[str], Exception]


class _Walk:
    """One pass over the strict schemas of a request, counting what the limits count."""

    def __init__(self, refuse: Refuse) -> None:
        self.refuse = refuse
        self.optional = 0
        self.unions = 0

    def schema(self, node: Any, where: str, defs: dict[str, Any], seen: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        label = kind if isinstance(kind, str) else "schema"
        self._keywords(node, where, label)
        self._ref(node, where, defs, seen)
        if "enum" in node and any(isinstance(v, (dict, list)) for v in node["enum"]):
            raise self.refuse(f"{where}: complex types within 'enum' are not supported")
        if isinstance(kind, list) or "anyOf" in node:
            self.unions += 1
        if kind == "object" or "properties" in node:
            self._object(node, where, defs, seen)
        for key in ("items", "not"):
            self.schema(node.get(key), where, defs, seen)
        for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
            for part in node.get(key) or []:
                self.schema(part, where, defs, seen)

    def _keywords(self, node: dict[str, Any], where: str, label: str) -> None:
        for word in (*NUMERIC, *STRING, *ARRAY):
            if word in node:
                raise self.refuse(f"{where}: For '{label}' type, property '{word}' is not supported")
        if node.get("minItems", 0) not in (0, 1):
            raise self.refuse(f"{where}: For '{label}' type, 'minItems' values other than 0 or 1 are not supported")

    def _ref(self, node: dict[str, Any], where: str, defs: dict[str, Any], seen: tuple[str, ...]) -> None:
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return
        if not ref.startswith("#"):
            raise self.refuse(f"{where}: external '$ref' is not supported: {ref}")
        if ref in seen:
            raise self.refuse(f"{where}: recursive schemas are not supported: {ref}")
        if "allOf" in node:
            raise self.refuse(f"{where}: 'allOf' with '$ref' is not supported")
        self.schema(defs.get(ref.rsplit("/", 1)[-1]), where, defs, (*seen, ref))

    def _object(self, node: dict[str, Any], where: str, defs: dict[str, Any], seen: tuple[str, ...]) -> None:
        if node.get("additionalProperties") is not False:
            raise self.refuse(f"{where}: For 'object' type, 'additionalProperties' must be explicitly set to false")
        properties = node.get("properties") or {}
        required = set(node.get("required") or [])
        self.optional += len([name for name in properties if name not in required])
        for child in properties.values():
            self.schema(child, where, defs, seen)


def check_strict_tools(tools: Any, refuse: Refuse) -> None:
    """Raise `refuse(message)` for the first strict tool whose schema breaks a documented rule."""
    strict = [(n, t) for n, t in enumerate(tools if isinstance(tools, list) else [])
              if isinstance(t, dict) and t.get("strict") is True]
    walk = _Walk(refuse)
    for n, tool in strict:
        schema = tool.get("input_schema") or {}
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
        walk.schema(schema, f"tools.{n}.custom.input_schema", defs, ())
    counts = {"strict tools": len(strict), "optional parameters": walk.optional,
              "parameters with union types": walk.unions}
    for name, limit in LIMITS.items():
        if counts[name] > limit:
            raise refuse(f"Too many {name} in strict schemas: {counts[name]} > {limit}")
