"""RepoPath.parse is the one rule; path_problem and option_problem say the same thing as text."""

from __future__ import annotations

import pytest

from diffcrew.tools.paths import PathRefused, RepoPath, option_problem, path_problem

REFUSED = ["", ".", "a/../b", "/etc/passwd", "~/x", "C:/x", "a\\b", "a//b", "sub/.GIT/config", "a/.git./x",
           "nul\x00here", "line\nbreak", "x" * 256, "/".join(["d" * 200] * 21)]


@pytest.mark.parametrize("text", REFUSED)
def test_parse_refuses_what_path_problem_names(text: str) -> None:
    with pytest.raises(PathRefused) as refused:
        RepoPath.parse(text)
    assert refused.value.problem == path_problem(text) and refused.value.text == text


def test_a_plain_path_parses_into_its_parts() -> None:
    parsed = RepoPath.parse("src/pkg/mod.py")
    assert parsed.parts == ("src", "pkg", "mod.py") and str(parsed) == "src/pkg/mod.py"
    assert path_problem("src/pkg/mod.py") is None


def test_option_shaped_parts_are_refused_only_when_asked() -> None:
    assert RepoPath.parse("src/-rf.py").text == "src/-rf.py"
    with pytest.raises(PathRefused):
        RepoPath.parse("src/-rf.py", options=False)
    assert option_problem("src/-rf.py") is not None and option_problem("src/ok.py") is None
