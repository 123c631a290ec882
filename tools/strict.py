"""Tool definitions in the Messages API's strict mode, for every role and the exploration tools.

With `"strict": true` the API guarantees a tool's input matches its schema, on the condition that
the schema keeps to what strict mode accepts: every object closed (`additionalProperties: false`),
and no numeric or string bounds (the handlers check those themselves).
"""

from __future__ import annotations

import copy
from typing import Any


def strict_tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A tool definition in strict mode: the API then guarantees the input matches the schema.

    Strict schemas must close every object (`additionalProperties: false`); numeric and string
    bounds are not part of what strict mode accepts, so the code checks those itself.
    """
    return {"name": name, "description": description, "strict": True,
            "input_schema": closed_schema({"type": "object", "properties": properties, "required": required})}


def closed_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with `additionalProperties: false` on every object in it."""
    schema = copy.deepcopy(schema)
    if schema.get("type") == "object":
        schema["additionalProperties"] = False
        schema["properties"] = {k: closed_schema(v) for k, v in schema.get("properties", {}).items()}
    if isinstance(schema.get("items"), dict):
        schema["items"] = closed_schema(schema["items"])
    return schema
