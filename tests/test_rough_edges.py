"""Issue 18, item 9: the smaller rough edges a new user hits."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (diffcrew_branches, git, make_repo, patch_refusal, patch_turn, plan_turn, run_cli, summary_turn,
                      udiff)
from diffcrew.agent.run import slugify
from diffcrew.tools.errors import EXIT_CODES, ExitCode

README = Path(__file__).resolve().parents[1] / "README.md"


# -- (a) a binary hunk says diffcrew does not apply it, and points to `git apply` ----------------

def test_a_binary_patch_from_a_worker_points_to_git_apply() -> None:
    diff = ("diff --git a/logo.png b/logo.png\nindex 1111111..2222222 100644\nGIT binary patch\nliteral 3\n"
            "KcmZ?wbhEHb6krfw;9vj%08;=0\n\n")
    summary = patch_refusal("\x89PNG", diff, "logo.png").summary
    assert "binary patches are not applied by diffcrew's workers" in summary and "`git apply`" in summary


def test_apply_of_a_text_hunk_to_a_binary_file_points_to_git_apply(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"x.bin": b"a\0b\n"})
    monkeypatch.chdir(repo)
    result = run_cli(["apply", "-"], input="--- a/x.bin\n+++ b/x.bin\n@@ -1 +1 @@\n-a\n+b\n")
    assert result.exit_code == ExitCode.REFUSED
    assert "diffcrew does not apply text hunks to binary files" in result.stderr and "`git apply`" in result.stderr
    assert (repo / "x.bin").read_bytes() == b"a\0b\n"


def test_apply_of_binary_files_differ_says_what_to_make_instead(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"x.bin": b"a\0b\n"})
    monkeypatch.chdir(repo)
    result = run_cli(["apply", "-"], input="diff --git a/x.bin b/x.bin\nindex 1111111..2222222 100644\n"
                                           "Binary files a/x.bin and b/x.bin differ\n")
    assert result.exit_code == ExitCode.REFUSED
    assert "neither diffcrew nor `git apply` can apply" in result.stderr and "git diff --binary" in result.stderr


# -- (b) `fix` outside a repository does not mention an option it lacks --------------------------

def test_fix_outside_a_repository_names_no_repo_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(["fix", "a.py"], env={"ANTHROPIC_API_KEY": "k"})
    assert result.exit_code == ExitCode.USAGE
    assert "not a git repository" in result.stderr and "run diffcrew fix inside one" in result.stderr
    assert "--repo" not in result.stderr
    assert "--repo" not in run_cli(["fix", "--help"]).stdout  # and it has none


# -- (c) an unknown config key suggests the closest one ------------------------------------------

@pytest.mark.parametrize("key, meant", [("max_worker", "max_workers"), ("worker-modle", "worker_model"),
                                        ("chekcs", "checks"), ("summary_modle", "synthesizer_model")])
def test_an_unknown_setting_suggests_the_closest(tmp_path: Path, key: str, meant: str) -> None:
    repo = make_repo(tmp_path / "repo", {".diffcrew.toml": f'{key} = "x"\n'})
    result = run_cli(["config", "--repo", str(repo)])
    assert result.exit_code == ExitCode.USAGE
    assert f"unknown setting {key!r}; did you mean {meant}? the settings are" in result.stderr


def test_an_unknown_setting_far_from_any_suggests_none(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {".diffcrew.toml": "colour = 1\n"})
    result = run_cli(["config", "--repo", str(repo)])
    assert result.exit_code == ExitCode.USAGE and "did you mean" not in result.stderr


# -- (d) a non-ASCII request gives a readable branch name ---------------------------------------

@pytest.mark.parametrize("request_text, slug", [
    ("ünïcödé", "unicode"), ("Straße café", "strasse-cafe"), ("İstanbul", "istanbul"), ("ＡＢＣ ﬁle", "abc-file"),
    ("переименовать функцию", "переименовать-функцию"), ("重命名函数 load", "重命名函数-load"),
    ("한국어 이름", "한국어-이름"), ("😀 !!", "change"), ("Rename Config.load to X", "rename-config-load-to-x"),
])
def test_slugs_keep_the_words_readable(request_text: str, slug: str, tmp_path: Path) -> None:
    assert slugify(request_text) == slug
    ref = f"diffcrew/{slug}-abc123"
    assert subprocess.run(["git", "check-ref-format", "--branch", ref], capture_output=True).returncode == 0


def test_a_non_ascii_run_makes_a_readable_branch(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"café.py": "x = 1\n"})
    seam.set_script({"orchestrator": [plan_turn("Double x.", [("café.py", "modify", "double x")])],
                     "worker:café.py": [patch_turn(udiff("café.py", "x = 1\n", "x = 2\n"))],
                     "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--review-rounds", "0", "dóble la x en café"], seam)
    assert result.exit_code == 0, result.output
    (branch,) = diffcrew_branches(repo)
    assert re.fullmatch(r"diffcrew/doble-la-x-en-cafe-[0-9a-f]{6}", branch)
    # (e) the diffstat after the run names the file as it is
    assert " café.py | 2 +-" in result.stdout and "\\303" not in result.stdout


def test_a_dry_run_diff_names_non_ascii_paths_as_they_are(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"ünï/名前.py": "x = 1\n"})
    seam.set_script({"orchestrator": [plan_turn("Double x.", [("ünï/名前.py", "modify", "double x")])],
                     "worker:ünï/名前.py": [patch_turn(udiff("ünï/名前.py", "x = 1\n", "x = 2\n"))]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", "--review-rounds", "0", "double x"], seam)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("diff --git a/ünï/名前.py b/ünï/名前.py\n")
    applied = subprocess.run(["git", "apply", "--check", "-"], cwd=repo, input=result.stdout.encode(),
                             capture_output=True)
    assert applied.returncode == 0, applied.stderr  # and git still applies it


# -- (f) the demo leaves nothing behind, and its review command works from here -----------------

def demo_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name.startswith("diffcrew-"))


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary directory, as the demo sees it."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_the_demo_removes_its_repository(temp_root: Path) -> None:
    result = run_cli(["demo"], env={"ANTHROPIC_API_KEY": None})
    assert result.exit_code == 0, result.output
    assert demo_dirs(temp_root) == []
    assert "Review:" not in result.stdout  # no command that points at a removed repository
    assert "+    def from_file(cls, path: str)" in result.stdout  # the change itself is shown
    assert "diffcrew demo --keep" in result.stdout


def test_the_demo_removes_its_repository_when_interrupted(temp_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffcrew.agent.cli import running

    seen: list[Path] = []

    def interrupted(options, view, make_client=None):  # type: ignore[no-untyped-def]
        seen.append(Path(options.repo))
        assert Path(options.repo).is_dir()
        raise KeyboardInterrupt

    monkeypatch.setattr(running, "execute", interrupted)
    result = run_cli(["demo"], env={"ANTHROPIC_API_KEY": None})
    assert result.exit_code == ExitCode.INTERRUPTED and "interrupted" in result.stderr
    assert seen and not seen[0].exists() and demo_dirs(temp_root) == []


@pytest.mark.slow
def test_the_demo_removes_its_repository_when_terminated(tmp_path: Path) -> None:
    import os
    import signal
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["TMPDIR"] = str(tmp_path)
    child = subprocess.Popen([sys.executable, "-m", "diffcrew.agent", "demo", "-q"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60  # a bound, not a timing
    # the run's sandbox (inside the demo repository's state folder) shows it is under way
    while not any(tmp_path.glob("diffcrew-demo-*/.git/diffcrew/sandboxes/diffcrew-wt-*")) and child.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is None, "the demo ended before it could be terminated"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert list(tmp_path.iterdir()) == []  # the sample repository and the run's sandbox are gone


def test_the_demo_keeps_its_repository_with_keep_and_its_review_command_works_elsewhere(
        temp_root: Path, tmp_path: Path) -> None:
    result = run_cli(["demo", "--keep"], env={"ANTHROPIC_API_KEY": None})
    assert result.exit_code == 0, result.output
    (kept,) = demo_dirs(temp_root)
    review = re.search(r"^Review: +(.+)$", result.stdout, re.MULTILINE)
    assert review and review.group(1).startswith(f"git -C {kept} diff ")
    elsewhere = subprocess.run(review.group(1), shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert elsewhere.returncode == 0 and "def from_file(cls, path: str)" in elsewhere.stdout
    assert git(kept, "branch", "--list", "diffcrew/demo").strip()


# -- (g) the README and --help agree ------------------------------------------------------------

def help_text(*command: str) -> str:
    result = run_cli([*command, "--help"])
    assert result.exit_code == 0
    return result.stdout


def readme_exit_codes() -> list[tuple[str, str]]:
    section = README.read_text().split("### Exit codes", 1)[1].split("\n###", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE)
    return [(code, meaning.replace("`", "")) for code, meaning in rows]


def help_exit_codes(text: str) -> list[tuple[str, str]]:
    section = text.split("Exit codes:\n", 1)[1]
    return re.findall(r"^  +(\d+) +(.+)$", section, re.MULTILINE)


def test_the_exit_codes_of_the_readme_are_those_of_help_and_of_the_code() -> None:
    documented = readme_exit_codes()
    assert documented == list(EXIT_CODES)
    assert help_exit_codes(help_text()) == documented
    assert help_exit_codes(help_text("run")) == documented
    assert {int(code) for code, _ in documented} >= {int(c) for c in ExitCode if c < 128} | {130}


def test_the_readme_names_every_command_and_only_real_ones() -> None:
    listed = re.findall(r"^  (\w+) {2,}", help_text().split("Commands:\n", 1)[1].split("\n\n", 1)[0], re.MULTILINE)
    readme = README.read_text()
    named = set(re.findall(r"`diffcrew (\w+)", readme))
    assert set(listed) <= named, set(listed) - named
    assert named <= set(listed), named - set(listed)


def test_the_readme_options_of_run_exist() -> None:
    table = README.read_text().split("the main ones:\n\n", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`(--[a-z-]+|-[a-z])\b", table))
    shown = help_text("run")
    assert documented and all(re.search(rf"(^|[ ,]){re.escape(o)}\b", shown, re.MULTILINE) for o in documented), \
        [o for o in documented if o not in shown]


@pytest.mark.parametrize("command", ["apply", "config", "context", "demo", "discard", "doctor", "fix", "log",
                                     "replay", "run", "show"])
def test_every_command_s_help_starts_with_its_examples(command: str) -> None:
    """Examples come right after the one-line summary, before the details (as the README says)."""
    text = help_text(command)
    paragraphs = [p for p in text.split("Options:", 1)[0].split("\n\n") if p.strip()]
    assert paragraphs[0].startswith("Usage: ") and paragraphs[2].strip().startswith("Example:"), paragraphs[:3]
    assert "help starts with examples" in README.read_text().replace("`--help`", "help")
