"""Second red-team pass: inputs on which the engine returned a wrong result (or refused what it must
apply), found after the drift, punctuation and trimming relaxations. One test per behaviour; each
comment says what GNU patch and git apply do with the same input."""

from __future__ import annotations

import pytest

from diffcrew.tools.errors import PatchError
from diffcrew.tools.patch import PatchRejected, apply_diff


def refused(old: str, diff: str, path: str = "m.py") -> PatchRejected:
    with pytest.raises(PatchError) as info:
        apply_diff(old, diff, path)
    assert isinstance(info.value, PatchRejected)
    return info.value


BODY = "def f(x):\n    if x:\n        a = 1\n        b = 2\n    return x\n"


@pytest.mark.parametrize("diff", [
    # The if-body flattened to the `if`'s column: three lines vote for no shift, two for +4. The added
    # line is level with `b = 2` and with `return x` alike; it once went after the block, silently.
    "@@ -1,5 +1,6 @@\n def f(x):\n     if x:\n     a = 1\n     b = 2\n+    c = 3\n     return x\n",
    # The mirror image: `return x` drifted into the block; the added line once went into it.
    "@@ -1,5 +1,6 @@\n def f(x):\n     if x:\n         a = 1\n         b = 2\n+        c = 3\n         return x\n",
])
def test_drift_refuses_an_added_line_between_levels_the_hunk_flattened(diff: str) -> None:
    # GNU patch and git apply refuse both (the context differs in whitespace).
    assert refused(BODY, diff).failures[0].reason == "unclear-indent"
