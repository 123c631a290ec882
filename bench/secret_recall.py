"""Secret redaction: recall on a corpus of known secret shapes, false positives on this repository.

Not a test. The corpus (bench/secrets_corpus.jsonl, one {"rule", "text", "secret"} per line) holds
the shapes documented by public secret-scanning rule sets, each labelled with its source: gitleaks
(config/gitleaks.toml, the rule ids of cmd/generate/config/rules/*.go), Yelp's detect-secrets
plugins (detect_secrets/plugins/*.py), and the vendors' own documented examples where they publish
one (AWS's AKIAIOSFODNN7EXAMPLE, Stripe's sk_test_4eC39HqLyjWDarjtT1zdp7dc, jwt.io's token, Slack's
webhook URL). As in gitleaks' own rule tests, the random part of a token is generated from the
rule's documented alphabet and length (seeded, so the file is stable). Context shapes (a password
in .env, YAML, JSON, TOML, Java, Go, Ruby, PHP, XML; a URL with credentials) come from the generic
and keyword rules of both.

bench/secrets_negatives.jsonl holds the lines gitleaks' generic rule documents as *not* secrets
(its `fps`: ids, names, URLs, public keys, CSRF tokens); the corpus's last 11 shapes are that rule's
documented `tps`. Both were added after the rules were first written, as a check on over-fitting.

Recall: a shape counts as caught when the secret no longer appears in the redacted text (the real
Redactor, no environment secrets). False positives: every span the rules find in this repository's
own tracked files (the corpus excepted), listed, and counted apart for tests/ (whose fixtures hold
deliberate fake secrets) and for everything else.

    python bench/secret_recall.py [--show-hits] [--scan DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from diffcrew.tools import secretrules
from diffcrew.tools.redact import Redactor

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).with_name("secrets_corpus.jsonl")
NEGATIVES = Path(__file__).with_name("secrets_negatives.jsonl")  # gitleaks' generic-api-key `fps`


def recall() -> tuple[int, list[dict[str, str]]]:
    """(shapes in the corpus, the shapes whose secret survived redaction)."""
    entries = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    missed = [e for e in entries if e["secret"] in Redactor(extra=()).redact(e["text"])]
    return len(entries), missed


def negatives() -> tuple[int, list[tuple[str, str]]]:
    """(lines in the negatives file, (line, text found) for each one where a span is found)."""
    texts = [json.loads(line)["text"] for line in NEGATIVES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return len(texts), [(t, t[a:b]) for t in texts for a, b in secretrules.spans(t)]


def repository_hits(root: Path = ROOT) -> tuple[int, int, list[tuple[str, int, str]]]:
    """(files scanned, lines scanned, (path, line number, text found) for every span found) over the
    tracked files of this repository, or over every .py/.md/.toml/.json/.y*ml file under `root`."""
    if root == ROOT:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        paths = listed.split()
    else:
        paths = [str(p.relative_to(root)) for p in sorted(root.rglob("*"))
                 if p.suffix in (".py", ".md", ".toml", ".json", ".yaml", ".yml", ".cfg", ".ini")]
    files = lines = 0
    hits: list[tuple[str, int, str]] = []
    for name in paths:
        path = root / name
        quotes_secrets = path.name.startswith("secrets") or path == Path(__file__).resolve()
        if path.parent == CORPUS.parent and quotes_secrets or not path.is_file():
            continue  # the corpus, and this file's docstring, quote documented secrets on purpose
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        files, lines = files + 1, lines + text.count("\n") + 1
        for start, end in secretrules.spans(text):
            hits.append((name, text.count("\n", 0, start) + 1, text[start:end][:60]))
    return files, lines, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show-hits", action="store_true", help="list every span found in this repository")
    parser.add_argument("--scan", type=Path, help="also count the spans found in another source tree (e.g. a "
                        "virtualenv's site-packages): code that holds no secrets, so every span is a false positive")
    args = parser.parse_args()
    total, missed = recall()
    print(f"recall: {total - len(missed)}/{total} = {(total - len(missed)) / total:.1%} of the corpus's shapes")
    for entry in missed:
        print(f"  missed  {entry['rule']}: {entry['text'][:70]!r}")
    total, flagged = negatives()
    print(f"false positives on gitleaks' documented non-secrets: {len(flagged)}/{total}")
    for text, found in flagged:
        print(f"  flagged {found!r} in {text[:70]!r}")
    files, lines, hits = repository_hits()
    source = [h for h in hits if not h[0].startswith("tests/")]
    print(f"false positives on this repository: {len(source)} span(s) outside tests/ in {files} files "
          f"({lines:,} lines) = {len(source) / lines:.3%} of lines; {len(hits) - len(source)} in tests/ "
          "(fixtures, mostly deliberate fake secrets)")
    for path, line, found in (hits if args.show_hits else source):
        print(f"  {path}:{line}: {found!r}")
    if args.scan:
        files, lines, hits = repository_hits(args.scan.resolve())
        print(f"false positives on {args.scan}: {len(hits)} span(s) in {files} files ({lines:,} lines) = "
              f"{len(hits) / max(lines, 1):.4%} of lines")
        for path, line, found in hits if args.show_hits else hits[:20]:
            print(f"  {path}:{line}: {found!r}")


if __name__ == "__main__":
    main()
