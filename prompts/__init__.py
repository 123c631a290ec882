"""diffcrew.prompts: one Markdown template per role, rendered with strict substitution.

A template file `<role>.md` holds sections that start with a line `<!-- section: NAME -->`.
Placeholders are `{{name}}`. Rendering is strict: a placeholder without a value, or a value
without a placeholder, raises; substituted values are never scanned again, so repository text
that happens to contain `{{...}}` stays as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

_SECTION = re.compile(r"^<!-- section: ([a-z_]+) -->\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


class TemplateError(KeyError):
    """A template and its values do not match."""


@lru_cache(maxsize=None)
def sections(role: str) -> dict[str, str]:
    """The named sections of `prompts/<role>.md`."""
    text = resources.files(__name__).joinpath(f"{role}.md").read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {name: body.strip("\n") for name, body in zip(parts[1::2], parts[2::2])}


def render(role: str, section: str, **values: str) -> str:
    """Fill one section of a role's template; every placeholder needs a value and every value a use."""
    try:
        template = sections(role)[section]
    except KeyError:
        raise TemplateError(f"prompts/{role}.md has no section {section!r}") from None
    wanted = set(_PLACEHOLDER.findall(template))
    missing, unused = wanted - values.keys(), values.keys() - wanted
    if missing or unused:
        raise TemplateError(f"prompts/{role}.md [{section}]: missing {sorted(missing)}, unused {sorted(unused)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
