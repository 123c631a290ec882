"""Property tests of the matching policy: a content change in a removed line, or in the unchanged line
next to a change, is refused at every tier, whatever whitespace noise surrounds it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from diffcrew.tools._patch_match import content_key, punct_key, ws_key
from diffcrew.tools.errors import PatchError
from diffcrew.tools.patch import apply_diff

from test_patch_props import edits, exact_diff, files

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOISE = ("none", "dedent", "trailing", "blank", "drift")


def protected(body: list[str]) -> list[int]:
    """Indexes of diff lines the policy says must match: removed lines and context next to a change."""
    out = []
    for k, line in enumerate(body):
        if line[:1] == "-" and not line.startswith("---"):
            out.append(k)
        elif line[:1] == " ":
            near = [body[j][:1] for j in (k - 1, k + 1) if 0 <= j < len(body)]
            if any(c in "+-" for c in near):
                out.append(k)
    return [k for k in out if body[k][1:].strip()]


def noisy(line: str, noise: str, k: int) -> str:
    """A context or removed line with the whitespace noise a model adds (content untouched)."""
    kind, text = line[:1], line[1:]
    if kind not in " -" or line.startswith("---"):
        return line
    if noise == "dedent":
        return kind + (text[4:] if text.startswith("    ") else text)
    if noise == "trailing":
        return line + "  "
    if noise == "blank" and kind == " " and not text.strip():
        return ""  # a blank context line written without its space
    if noise == "drift":
        return kind + (" " + text if k % 3 == 0 else text.lstrip(" ") if k % 3 == 1 else text + " ")
    return line


@st.composite
def exact_diffs(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(old file lines, lines of the exact diff to an edited version)."""
    old = draw(files())
    new = draw(edits(old))
    assume(old != new)
    return old, exact_diff(old, new).splitlines()


@pytest.mark.slow
@FAST
@given(st.data())
def test_a_changed_character_in_a_protected_line_is_always_refused(data: st.DataObject) -> None:
    old, lines = data.draw(exact_diffs())
    body_at = next(k for k, line in enumerate(lines) if line.startswith("@@"))
    body = lines[body_at:]
    targets = protected(body)
    assume(targets)
    k = data.draw(st.sampled_from(targets))
    solid = [i for i, ch in enumerate(body[k]) if i > 0 and not ch.isspace()]
    at = data.draw(st.sampled_from(solid))
    body[k] = body[k][:at] + "Q" + body[k][at + 1:]  # no file line has a capital Q
    noise = data.draw(st.sampled_from(NOISE))
    body = [noisy(line, noise, j) for j, line in enumerate(body)]
    diff = "\n".join(lines[:body_at] + body) + "\n"
    with pytest.raises(PatchError):
        apply_diff("\n".join(old) + "\n", diff, "pkg/f.py")


ALPHABET = st.sampled_from(list("ab1 \t\u00a0\"'\u201c\u2019\u2013-.\u2026_"))


@FAST
@given(st.text(ALPHABET, max_size=12), st.text(ALPHABET, max_size=12))
def test_equal_keys_mean_equal_content(a: str, b: str) -> None:
    def solid(text: str) -> str:
        return "".join(text.split())

    if ws_key(a) == ws_key(b) or content_key(a) == content_key(b):
        assert solid(a) == solid(b)
    if punct_key(a) == punct_key(b):
        # Only look-alike punctuation may differ: letters, digits and underscores stay, in order.
        assert [c for c in solid(a) if c.isalnum() or c == "_"] == [c for c in solid(b) if c.isalnum() or c == "_"]
