"""A captured request log of one run against the strict fake, and what it shows about the wire.

Not a test (tests/test_wire_log.py holds the same run to its verdict). The real CLI runs with the
default models against the loopback fake Messages API, which refuses what the API refuses
(tests/fakes/rules.py) and opens every answer of a thinking model with a signed thinking block.
The run has every kind of turn the protocol knows:

  orchestrator  one exploration turn (read_file), then the plan of three files
  worker a.py   a patch that does not apply, then a repair round
  worker b.py   a refusal (stop_reason "refusal"): that file fails, the others land
  worker c.py   a patch at once
  synthesizer   the commit message

    python bench/wire_log.py [--log FILE]

It writes one JSON line per request the server received (role, turn, status, model,
tool_choice, tools, thinking blocks sent back, error) and prints the summary: requests refused
by the fake (must be 0), and for every answer that carried thinking and was followed by another
request of the same conversation, whether that request sent the blocks back byte for byte.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.server import FakeMessagesServer  # noqa: E402

FILES = {name: f"def {name[0]}():\n    return {n}\n" for n, name in enumerate(("a.py", "b.py", "c.py"), 1)}
THINKING = ("thinking", "redacted_thinking")


def udiff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"))


def script() -> dict[str, list[dict[str, Any]]]:
    def patch(path: str) -> dict[str, Any]:
        old = FILES[path]
        return {"tool": "submit_patch", "input": {"patch": udiff(path, old, old.replace("return", "return 10 *"))}}

    plan = {"tool": "plan_edits", "input": {"summary": "Scale every value by ten.", "edits": [
        {"path": p, "action": "modify", "instructions": "Return ten times the value."} for p in FILES]}}
    broken = {"tool": "submit_patch", "input": {"patch": "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n"
                                                        " def nothing_like_this():\n-    return 99\n+    return 0\n"}}
    return {"orchestrator": [{"tool": "read_file", "input": {"path": "a.py"}}, plan],
            "worker:a.py": [broken, patch("a.py")],
            "worker:b.py": [{"refusal": {"category": "general_harms", "explanation": "scripted refusal"}}],
            "worker:c.py": [patch("c.py")],
            "synthesizer": [{"tool": "write_summary", "input": {"title": "Scale values by ten", "body": "Ten."}}]}


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    for name, text in FILES.items():
        (root / name).write_text(text)
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
    for args in (["init", "-q"], ["add", "."], ["-c", "commit.gpgsign=false", "commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=root, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    return root


def request_line(record: Any) -> dict[str, Any]:
    body = record.body
    sent_back = [b for m in body.get("messages", []) if m.get("role") == "assistant"
                 for b in (m["content"] if isinstance(m["content"], list) else []) if b.get("type") in THINKING]
    return {"endpoint": record.endpoint, "role": record.key, "turn": record.turn, "status": record.status,
            "model": body.get("model"), "tool_choice": body.get("tool_choice"),
            "effort": (body.get("output_config") or {}).get("effort"), "max_tokens": body.get("max_tokens"),
            "tools": [t.get("name") for t in body.get("tools") or []], "thinking_sent_back": len(sent_back),
            "error": record.error}


def echo_check(transcript: Path) -> tuple[int, int, list[str]]:
    """(answers with thinking that were followed up, of those echoed byte for byte, problems)."""
    calls = [e for e in map(json.loads, transcript.read_text().splitlines()) if e.get("kind") == "call"]
    followed = echoed = 0
    problems = []
    for n, call in enumerate(calls):
        blocks = [b for b in (call.get("reply") or {}).get("content", []) if b.get("type") in THINKING]
        later = [c for c in calls[n + 1:] if (c["role"], c["path"]) == (call["role"], call["path"])]
        if not blocks or not later:
            continue
        followed += 1
        turns = [m["content"] for m in later[0]["request"]["messages"] if m["role"] == "assistant"]
        if any(content[:len(blocks)] == blocks for content in turns):
            echoed += 1
        else:
            problems.append(f"{call['role']} {call['path'] or ''}: thinking not sent back unchanged")
    return followed, echoed, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="where to write the request log (JSONL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeMessagesServer(script()) as server:
        repo = make_repo(Path(tmp) / "repo")
        env = {**{k: v for k, v in __import__("os").environ.items() if not k.startswith("ANTHROPIC_")}, **server.env()}
        run = subprocess.run(["diffcrew", "run", "--repo", str(repo), "--yes", "--json", "--allow-partial",
                              "--plan-turns", "3", "scale every value by ten"], capture_output=True, text=True, env=env)
        report = json.loads(run.stdout)
        lines = [request_line(r) for r in server.requests]
        log = args.log or Path(tmp) / "requests.jsonl"
        log.write_text("".join(json.dumps(line) + "\n" for line in lines))
        followed, echoed, problems = echo_check(Path(report["transcript"]))
    refused = [line for line in lines if line["status"] != 200]
    print(f"exit {run.returncode} ({report['status']}); {len(lines)} requests, {len(refused)} refused by the fake")
    for line in lines:
        print(f"  {line['role']:<14} turn {line['turn']}  {line['status']}  {line['model']}  effort {line['effort']}  "
              f"tool_choice {line['tool_choice']}  thinking sent back {line['thinking_sent_back']}")
    print(f"answers with thinking followed by another request: {followed}; sent back unchanged: {echoed}")
    failed = [f"{r['path']}: {r['error']}" for r in report["files"] if r.get("error")]
    print("failed files: " + ("; ".join(failed) or "none"))
    print(f"log: {log if args.log else '(temporary; pass --log FILE to keep it)'}")
    for problem in problems + [f"refused: {r['role']} turn {r['turn']}: {r['error']}" for r in refused]:
        print("PROBLEM", problem)
    return 0 if not refused and followed == echoed and run.returncode == 4 else 1


if __name__ == "__main__":
    sys.exit(main())
