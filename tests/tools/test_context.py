"""Repository context: ranking on small fixture repositories, secrets, budget, cache reuse."""

from __future__ import annotations

from pathlib import Path

from conftest import git, make_repo

from diffcrew.tools import ctxcache, lexicon
from diffcrew.tools.context import build_context, context_report
from diffcrew.tools.tokens import estimate_tokens
from diffcrew.tools.git import GitRepo
from diffcrew.tools.inventory import DEFAULT_MAX_FILE_BYTES
from diffcrew.tools.repomap import outline

SECRET = "sk-live-DO-NOT-LEAK-4242"


def app_files() -> dict[str, str | bytes]:
    """A small project: a function defined once, called from a few modules, plus noise."""
    files: dict[str, str | bytes] = {
        "shop/pricing.py": "def compute_total(items, tax):\n    return sum(i.price for i in items) * (1 + tax)\n",
        "shop/cart.py": "from shop.pricing import compute_total\n\n\nclass Cart:\n"
                        "    def total(self):\n        return compute_total(self.items, 0.2)\n",
        "shop/checkout.py": "from shop import pricing\n\n\ndef pay(cart):\n"
                            "    return pricing.compute_total(cart.items, cart.tax)\n",
        "reports/monthly.py": "from shop.pricing import compute_total\n\n\ndef month(rows):\n"
                              "    return [compute_total(r, 0) for r in rows]\n",
        "README.md": "# Shop\n\nA shop with a cart, checkout and monthly reports about totals and tax.\n",
        ".env": f"API_KEY={SECRET}\n",
        "config/.env.production": f"TOKEN={SECRET}\n",
        "deploy/id_rsa": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n",
        "notes/creds.txt": f"-----BEGIN RSA PRIVATE KEY-----\n{SECRET}\n-----END RSA PRIVATE KEY-----\n",
        "private/internal.py": f"def compute_total_secret():\n    return '{SECRET}'\n",
        "package-lock.json": '{"compute_total": "compute_total compute_total"}\n',
        "static/app.min.js": "function compute_total(){return 1}\n",
        "logo.png": b"\x89PNG\r\n\x1a\n\0\0compute_total",
    }
    for n in range(30):
        files[f"misc/module_{n}.py"] = f"def helper_{n}(x):\n    return x + {n}\n"
    return files


def context_for(tmp_path: Path, request: str, **kwargs: object):
    root = make_repo(tmp_path / "repo", app_files())
    repo = GitRepo(root)
    return repo, build_context(repo, repo.resolve("HEAD"), request, **kwargs)  # type: ignore[arg-type]


def test_callers_of_a_renamed_function_rank_in_the_top_five(tmp_path: Path) -> None:
    _, ctx = context_for(tmp_path, "Rename compute_total to compute_order_total")
    top = [r.path for r in ctx.ranked[:5]]
    for path in ("shop/pricing.py", "shop/cart.py", "shop/checkout.py", "reports/monthly.py"):
        assert path in top, (path, top)
    assert "defines compute_total" in ctx.ranked[0].reasons or any(
        "defines compute_total" in r.reasons for r in ctx.ranked[:5])


def test_an_exact_path_in_the_request_ranks_first(tmp_path: Path) -> None:
    _, ctx = context_for(tmp_path, "In misc/module_7.py make helper_7 add seven, and update compute_total")
    assert ctx.ranked[0].path == "misc/module_7.py"
    assert "path named in the request" in ctx.ranked[0].reasons


def test_secrets_never_appear_in_the_context(tmp_path: Path) -> None:
    _, ctx = context_for(tmp_path, f"Use the API_KEY and TOKEN from .env, {SECRET}, id_rsa, compute_total",
                         deny=("private/",))
    assert SECRET not in ctx.text
    for path in (".env", "config/.env.production", "deploy/id_rsa", "notes/creds.txt", "private/internal.py"):
        assert path not in ctx.text_paths
        assert all(r.path != path for r in ctx.ranked)
        assert path not in ctx.text
    assert "shop/pricing.py" in ctx.text_paths


def test_binaries_generated_and_vendored_files_are_not_context(tmp_path: Path) -> None:
    _, ctx = context_for(tmp_path, "compute_total")
    ranked = {r.path for r in ctx.ranked}
    assert {"package-lock.json", "static/app.min.js", "logo.png"}.isdisjoint(ranked)
    assert "logo.png" not in ctx.text_paths
    assert "package-lock.json" in ctx.text_paths  # generated text stays patchable
    assert len(ctx.files) == len(app_files())


def test_context_fits_the_budget_and_counts_tokens(tmp_path: Path) -> None:
    _, ctx = context_for(tmp_path, "Rename compute_total", budget_tokens=600)
    assert ctx.tokens == estimate_tokens(ctx.text)
    assert ctx.tokens <= 600
    _, big = context_for(tmp_path / "b", "Rename compute_total")
    assert "def compute_total(items, tax)" in big.text  # the top file in full
    assert "## Files ranked for this request" in big.text


def test_context_report_lists_ranked_files_best_first(tmp_path: Path) -> None:
    _, ctx = context_for(tmp_path, "Rename compute_total")
    report = context_report(ctx)
    assert report["tokens"] == ctx.tokens
    scores = [f["score"] for f in report["files"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert set(report["files"][0]) == {"path", "score", "reasons"}


def test_gitattributes_linguist_generated_is_left_out(tmp_path: Path) -> None:
    files = {"gen/api.py": "def compute_total(): pass\n", "src/main.py": "def compute_total(): pass\n",
             ".gitattributes": "gen/** linguist-generated\n"}
    repo = GitRepo(make_repo(tmp_path / "repo", files))
    ctx = build_context(repo, repo.resolve("HEAD"), "compute_total")
    assert "gen/api.py" not in {r.path for r in ctx.ranked}
    assert "src/main.py" in {r.path for r in ctx.ranked}


def test_second_run_reuses_the_cache_and_a_one_file_change_reads_one_blob(tmp_path: Path, monkeypatch) -> None:
    root = make_repo(tmp_path / "repo", app_files())
    repo = GitRepo(root)
    first = build_context(repo, repo.resolve("HEAD"), "Rename compute_total")
    assert (repo.common_dir / "diffcrew" / "cache").is_dir()
    read: dict[str, list[str]] = {"textcheck": [], "lexicon": [], "context": []}
    searches: list[list[str]] = []
    original_grep = lexicon._Grep

    def counting(module: str):
        def read_blobs(root_dir: Path, blobs: list[str]):
            read[module].extend(blobs)
            return ctxcache.read_blobs(root_dir, blobs)
        return read_blobs

    def grep(root_dir: Path, tree: str, terms: list[str], perl: bool = True):
        searches.append(terms)
        return original_grep(root_dir, tree, terms, perl)

    for module in read:
        monkeypatch.setattr(f"diffcrew.tools.{module}.read_blobs", counting(module))
    monkeypatch.setattr(lexicon, "_Grep", grep)
    again = build_context(repo, repo.resolve("HEAD"), "Rename compute_total")
    assert again.ranked == first.ranked and again.text == first.text
    assert not read["textcheck"] and not read["lexicon"] and not searches  # nothing judged or searched
    assert len(read["context"]) <= 8  # only the few files rendered in full
    (root / "shop" / "cart.py").write_text("from shop.pricing import compute_total\n\n\nclass Cart:\n"
                                           "    def total(self):\n        return compute_total(self.items, 0.25)\n")
    git(root, "commit", "-q", "-am", "change one file")
    for found in read.values():
        found.clear()
    changed = build_context(repo, repo.resolve("HEAD"), "Rename compute_total")
    cart = git(root, "rev-parse", "HEAD:shop/cart.py").strip()
    assert read["textcheck"] == [cart]  # the contents judged: only the changed blob
    assert read["lexicon"] == [cart] and not searches  # its words: only the changed blob read, no search
    assert "shop/cart.py" in [r.path for r in changed.ranked[:5]]
    cold = build_context(repo, repo.resolve("HEAD"), "Rename compute_total", cache=False)
    assert changed.ranked == cold.ranked and changed.text == cold.text  # derived equals built afresh


def test_cache_off_still_works(tmp_path: Path) -> None:
    repo, ctx = context_for(tmp_path, "compute_total", cache=False)
    assert not (repo.common_dir / "diffcrew" / "cache").exists()
    assert ctx.ranked[0].score > 0


def test_outlines_for_the_main_languages() -> None:
    samples = {
        "a.py": ("class A:\n    def f(self, x: int) -> int:\n        return x\n", {"A", "f"}),
        "a.js": ("class A { m() {} }\nfunction f(a) {}\nconst g = (b) => b;\n", {"A", "m", "f", "g"}),
        "a.ts": ("interface I { x(): void }\nexport function f(a: number): number { return a }\n", {"I", "f"}),
        "a.go": ("package p\ntype T struct{}\nfunc (t *T) M() {}\nfunc F() {}\n", {"T", "M", "F"}),
        "a.rs": ("struct S;\nimpl S { fn m(&self) {} }\npub fn f() {}\n", {"S", "m", "f"}),
        "A.java": ("class A { int m(String s) { return 1; } }\n", {"A", "m"}),
        "a.c": ("struct P { int x; };\nstatic int f(char *s) { return 0; }\n", {"P", "f"}),
        "a.cpp": ("namespace n { class K { void m(); }; }\nint g(int x) { return x; }\n", {"n", "K", "m", "g"}),
    }
    for path, (text, names) in samples.items():
        symbols = outline(path, text)
        assert symbols is not None and names <= {s.name for s in symbols}, (path, symbols)
    assert outline("notes.txt", "hello") is None


def test_a_blob_missing_from_a_damaged_copy_is_noted_and_the_next_commit_is_still_derived(tmp_path: Path) -> None:
    """Not a partial clone: an object gone from the store (a trimmed snapshot) is skipped, never a crash."""
    root = make_repo(tmp_path / "repo", app_files())
    repo = GitRepo(root)
    before = repo.resolve("HEAD")
    # Both commits are made before the object goes: `commit -a` would read a racily clean file's blob.
    (root / "shop" / "cart.py").write_text("from shop.pricing import compute_total\n")
    git(root, "commit", "-q", "-am", "change one file")
    lost = git(root, "rev-parse", "HEAD:misc/module_3.py").strip()
    (repo.common_dir / "objects" / lost[:2] / lost[2:]).unlink()
    first = build_context(repo, before, "Rename compute_total")
    assert first.notes and "misc/module_3.py" in first.notes[0]
    second = build_context(repo, repo.resolve("HEAD"), "Rename compute_total")
    tree = git(root, "rev-parse", "HEAD^{tree}").strip()
    index = ctxcache.ContextCache(repo.common_dir).load_tree(f"{tree}-{DEFAULT_MAX_FILE_BYTES}")
    assert index is not None and index["derived_from"] is not None  # derived, not listed afresh
    assert second.notes == first.notes and "misc/module_3.py" not in {f.path for f in second.files}


def test_a_cache_of_an_earlier_format_is_removed_when_the_new_one_starts(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", app_files())
    old = GitRepo(root).common_dir / "diffcrew" / "cache" / "v3" / "trees"
    old.mkdir(parents=True)
    (old / ("f" * 40)).write_bytes(b"an index of another format")
    checks = old.parent.parent / "checks"  # another kind of cache stays
    checks.mkdir()
    repo = GitRepo(root)
    ctx = build_context(repo, repo.resolve("HEAD"), "Rename compute_total")
    assert ctx.ranked and not old.parent.exists() and checks.is_dir()
    assert (old.parent.parent / ctxcache.FORMAT / "trees").is_dir()


def test_users_of_the_top_files_names_are_searched_for_only_on_a_tree_where_it_is_cheap(
        tmp_path: Path, monkeypatch) -> None:
    from diffcrew.tools import rank
    files: dict[str, str | bytes] = {
        "billing/pricing.py": "def compute_total(items):\n    return apply_discount_rules(items)\n\n\n"
                              "def apply_discount_rules(items):\n    return items\n\n\n"
                              "def compute_total_cents(items):\n    return 100\n",
        "shop/checkout.py": "from billing.pricing import apply_discount_rules\n\n\ndef pay(items):\n"
                            "    return apply_discount_rules(items)\n",
        "reports/cents.py": "from billing.pricing import compute_total_cents\n\n\ndef report(items):\n"
                            "    return compute_total_cents(items)\n",
    }
    files.update({f"misc/module_{n}.py": f"def helper_{n}(x):\n    return x + {n}\n" for n in range(20)})
    searched: list[list[str]] = []
    original = lexicon._Grep
    monkeypatch.setattr(lexicon, "_Grep", lambda root, tree, terms, perl=True: searched.append(terms) or original(
        root, tree, terms, perl))

    def reasons(tmp: Path) -> dict[str, tuple[str, ...]]:
        repo = GitRepo(make_repo(tmp, files))
        return {r.path: r.reasons for r in build_context(repo, repo.resolve("HEAD"), "Round compute_total",
                                                         cache=False).ranked}

    small = reasons(tmp_path / "small")
    assert "uses apply_discount_rules from pricing.py" in small["shop/checkout.py"]
    assert any("n:apply_discount_rules" in terms for terms in searched)
    searched.clear()
    monkeypatch.setattr(rank, "NAME_SEARCH_BYTES", 100)  # as if the tree were large
    large = reasons(tmp_path / "large")
    assert not any(t.startswith("n:") for terms in searched for t in terms)  # only the request's words
    assert "uses apply_discount_rules from pricing.py" not in large["shop/checkout.py"]
    assert "uses compute_total_cents from pricing.py" in large["reports/cents.py"]  # found by the words
