"""The lexicon (issue 17): git grep and the in-process scan agree, whatever the user's grep settings
or the paths, and a tree derived from a cached one carries its terms over."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffcrew.tools.ctxcache import ContextCache, NoCache
from diffcrew.tools.git import GitRepo
from diffcrew.tools.lexicon import Lexicon, _parse
from diffcrew.tools.listing import index_key, load_index, tree_id

FILES: dict[str, str | bytes] = {
    "src/parser.py": "def parseError(msg):\n    raise ParseError(msg)  # sparse parse_args\n2parse x_parse\n",
    "src/sub dir/with: colon.py": "PARSE_LIMIT = 3\nparser = Parser()\nparse(parse(1))\n",
    "src/ünïcode.py": "def parse_ünï(): return parse_args\n",
    "docs/notes.md": "Sparse notes about nothing\n",
    "src/Names.java": "class Names { void compute_total() { compute_total(); computeTotal(); } }\n",
    "bin/data.bin": b"\0parse\0parse_args",
}
WORDS = ["parse", "compute", "total", "args", "ünï", "nothing_here"]
NAMES = ["compute_total", "ParseError", "parse", "Parser"]


def lexicon(repo: GitRepo, searched: bool) -> Lexicon:
    tree = tree_id(repo, "HEAD")
    store = NoCache()
    index = load_index(repo, tree, store, 1 << 20)
    lex = Lexicon(repo, store, index_key(tree, 1 << 20))
    lex.attach(index, None)
    lex.partial = not searched  # a partial clone scans here instead of running git grep
    lex.prefetch(words=WORDS, names=NAMES)
    return lex


def by_path(lex: Lexicon) -> dict[str, object]:
    assert lex.index is not None
    return {term: {lex.index.doc_path(d): v for d, v in sorted(
        (lex.word_hits(term[2:]) if term.startswith("w:") else dict.fromkeys(lex.name_users(term[2:]), 1)).items())}
            for term in sorted(lex.terms)}


def test_git_grep_and_the_scan_find_the_same_terms(tmp_path: Path) -> None:
    repo = GitRepo(make_repo(tmp_path / "repo", FILES))
    searched, scanned = by_path(lexicon(repo, True)), by_path(lexicon(repo, False))
    assert searched == scanned
    parse = searched["w:parse"]
    assert parse["src/parser.py"] == {"parseError": 1, "ParseError": 1, "parse_args": 1, "2parse": 1, "x_parse": 1}
    assert "docs/notes.md" not in parse  # 'Sparse' has no part 'parse'
    assert parse["src/sub dir/with: colon.py"] == {"PARSE_LIMIT": 1, "parse": 2}  # 'parser' is another word
    assert searched["n:parse"] == {"src/sub dir/with: colon.py": 1}  # '2parse' is not the token 'parse'
    assert parse["src/ünïcode.py"] == {"parse_": 1, "parse_args": 1}  # identifiers are ASCII runs
    assert "bin/data.bin" not in parse  # binary: not a document
    assert searched["n:compute_total"] == {"src/Names.java": 1}  # computeTotal is another token
    assert searched["w:nothing_here"] == {}


def test_the_users_grep_settings_change_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    repo = GitRepo(root)
    plain = by_path(lexicon(repo, True))
    for key, value in (("grep.lineNumber", "true"), ("grep.column", "true"), ("grep.fullName", "true"),
                       ("grep.patternType", "perl"), ("color.grep", "always"), ("grep.extendedRegexp", "true")):
        git(root, "config", key, value)
    assert by_path(lexicon(repo, True)) == plain


def test_a_git_without_perl_regexes_falls_back_to_extended_ones(tmp_path: Path, monkeypatch) -> None:
    repo = GitRepo(make_repo(tmp_path / "repo", FILES))
    plain = by_path(lexicon(repo, True))
    from diffcrew.tools import lexicon as module
    original = module._grep_args

    def without_perl(terms: list[str], perl: bool) -> list[str]:
        args = original(terms, perl)
        return ["--no-such-option"] if perl and "-P" in args else args  # git refuses it: exit 129

    monkeypatch.setattr(module, "_grep_args", without_perl)
    assert by_path(lexicon(repo, True)) == plain


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(blacklist_characters="\0\n/", blacklist_categories=("Cs",)), min_size=1,
                        max_size=12), min_size=1, max_size=4, unique=True),
       st.lists(st.from_regex(r"[0-9A-Za-z_]{1,6}", fullmatch=True), min_size=1, max_size=6))
def test_grep_output_parses_back_to_its_paths(tmp_path: Path, paths: list[str], tokens: list[str]) -> None:
    tree = "0" * 40
    out = "".join(f"{tree}:{p}\0{t}\n" for p in paths for t in tokens)
    parsed = _parse(tree, out)
    assert set(parsed) == set(paths)
    for counts in parsed.values():
        assert counts == {t: tokens.count(t) for t in tokens}


def test_a_derived_tree_carries_its_terms_over_and_reads_only_what_changed(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    repo = GitRepo(root)
    store = ContextCache(repo.common_dir)
    first = tree_id(repo, "HEAD")
    index = load_index(repo, first, store, 1 << 20)
    lex = Lexicon(repo, store, index_key(first, 1 << 20))
    lex.attach(index, None)
    lex.prefetch(words=["parse"])
    (root / "src" / "parser.py").write_text("def parse_more(): pass\n")
    git(root, "rm", "-q", "docs/notes.md")
    git(root, "commit", "-q", "-am", "change")
    second = tree_id(repo, "HEAD")
    derived = load_index(repo, second, store, 1 << 20)
    assert derived.derived_from == first and derived.changed == ["docs/notes.md", "src/parser.py"]
    lex2 = Lexicon(repo, store, index_key(second, 1 << 20))
    lex2.attach(derived, index_key(first, 1 << 20))
    lex2.partial = True  # any search would scan every file; the derivation must not need one
    lex2.prefetch(words=["parse"])
    hits = {derived.doc_path(d): t for d, t in lex2.word_hits("parse").items()}
    assert hits["src/parser.py"] == {"parse_more": 1}
    fresh = by_path(lexicon(repo, True))["w:parse"]
    assert hits == fresh


@pytest.mark.parametrize("partial", [True, False])
def test_nothing_is_searched_twice_in_a_run(tmp_path: Path, partial: bool) -> None:
    repo = GitRepo(make_repo(tmp_path / "repo", FILES))
    lex = lexicon(repo, not partial)
    before = dict(lex.terms)
    lex.prefetch(words=WORDS, names=NAMES)
    assert lex.terms == before


def test_grep_output_is_counted_per_file_even_with_a_newline_in_a_path() -> None:
    tree = "0123abcd"
    plain = f"{tree}:a.py\0parse_args\n{tree}:a.py\0parse_args\n{tree}:b.py\0ParseError\n"
    assert _parse(tree, plain) == {"a.py": {"parse_args": 2}, "b.py": {"ParseError": 1}}
    odd = f"{tree}:odd\nname.py\0parse_args\n{tree}:odd\nname.py\0parse_args\n{tree}:c.py\0parser\n"
    assert _parse(tree, odd) == {"odd\nname.py": {"parse_args": 2}, "c.py": {"parser": 1}}


def test_names_with_a_known_word_are_taken_from_its_hits_without_a_search(tmp_path: Path, monkeypatch) -> None:
    repo = GitRepo(make_repo(tmp_path / "repo", FILES))
    searched = by_path(lexicon(repo, True))
    from diffcrew.tools import lexicon as module
    tree = tree_id(repo, "HEAD")
    store = NoCache()
    lex = Lexicon(repo, store, index_key(tree, 1 << 20))
    lex.attach(load_index(repo, tree, store, 1 << 20), None)
    lex.prefetch(words=WORDS)
    greps: list[list[str]] = []
    original = module._Grep
    monkeypatch.setattr(module, "_Grep", lambda root, tree, terms, perl=True: greps.append(terms) or original(
        root, tree, terms, perl))
    lex.prefetch(names=NAMES)
    assert greps == [["n:Parser"]]  # 'parser' is not among the words; the other names' words are
    assert by_path(lex) == searched
