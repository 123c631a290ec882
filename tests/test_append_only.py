"""A conversation goes out append-only even while the redactor learns secrets (the current models
bind their thinking to every earlier block, so rewriting one is a 400 on the next request)."""

from __future__ import annotations

from pathlib import Path

from conftest import make_repo, run_cli
from test_planning import FILES, PLAN, base_script, explore

from diffcrew.tools.redact import Redactor


def test_a_secret_learned_later_does_not_rewrite_what_was_sent(tmp_path: Path, server) -> None:
    files = dict(FILES)
    files["cfg.py"] = FILES["cfg.py"] + "\n# staging db pass: hunter2hunter2xx\n"  # no pattern finds it here
    files["legacy/settings.py"] = 'password = "hunter2hunter2xx"\n'  # read while exploring: now it is known
    repo = make_repo(tmp_path / "repo", files)
    server.set_script(base_script([explore("read_file", path="legacy/settings.py"), explore("list_files", path="."),
                                   PLAN]))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--plan-turns", "5", "rename load"], server)
    assert result.exit_code == 0, result.output
    planner = [r for r in server.requests if r.key == "orchestrator"]
    assert [r.status for r in planner] == [200, 200, 200]
    firsts = [r.body["messages"][0]["content"][0]["text"] for r in planner]
    assert firsts[0] == firsts[1] == firsts[2]  # the first message never changes
    read = planner[1].body["messages"][2]["content"][0]["content"]  # the explored file, redacted when first sent
    assert "hunter2hunter2xx" not in read and "REDACTED-SECRET" in read


def test_one_text_is_redacted_the_same_way_every_time() -> None:
    redactor = Redactor(extra=())
    text = 'DB_PASS: hunter2hunter2xx\npassword = "hunter2hunter2xx"\n' * 20
    once, twice = redactor.redact(text), redactor.redact(text)
    assert once == twice and "hunter2hunter2xx" not in once
