"""The audit trail of a real brig run: every record valid against docs/audit.schema.json, the
chain intact (`brig audit verify`), no secret in the file."""
import json
import os
import subprocess
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "audit.schema.json").read_text())


def run_session(start_brig, tmp_path: Path) -> Path:
    log = tmp_path / "audit" / "echo.jsonl"
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    p = start_brig(["echo_server.py"], options=["--audit-log", str(log)], env=env, cwd=str(REPO))
    p.read_notification("fixture/ready")
    p.request("tools/call", {"name": "echo", "arguments": {"password": "hunter2-hunter2",
                                                           "note": "ghp_16C7e42F292c6912E7710c838347Ae178B4a"}}, id=1)
    p.request("fixture/count", id="two")
    p.send(b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n')
    p.read_notification("fixture/received")
    p.send(b"this is not json\n")
    p.close_stdin()
    assert p.wait() == 0, p.stderr_text()
    assert log.is_file(), p.stderr_text()
    return log


def test_records_match_the_schema(start_brig, tmp_path):
    log = run_session(start_brig, tmp_path)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    lines = log.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for line, record in zip(lines, records):
        errors = sorted(validator.iter_errors(record), key=lambda e: e.path)
        assert not errors, f"{line}\n" + "\n".join(e.message for e in errors)
        assert line.endswith('"}}') and list(record)[-1] == "brig" and list(record["brig"])[-1] == "mac"
    actions = [r["event"]["action"] for r in records]
    assert actions[0] == "session-start" and actions[-1] == "session-end"
    assert "child-exit" in actions
    assert [r["event"]["sequence"] for r in records] == list(range(1, len(records) + 1))
    methods = {r["mcp"].get("method") for r in records if "mcp" in r}
    assert {"tools/call", "fixture/count", "notifications/progress"} <= methods
    text = log.read_text()
    assert "hunter2-hunter2" not in text and "ghp_16C7e42F292c6912E7710c838347Ae178B4a" not in text
    assert "[REDACTED:key:password]" in text and "[REDACTED:github-token]" in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_verify_the_real_log(brig, start_brig, tmp_path):
    if subprocess.run([brig, "audit", "--help"], capture_output=True).returncode != 0:
        pytest.skip("brig audit is not in the root command yet")
    log = run_session(start_brig, tmp_path)
    key = tmp_path / "state" / "brig" / "audit.key"
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    ok = subprocess.run([brig, "audit", "verify", str(log)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("intact:")
    lines = log.read_text().splitlines()
    lines[1] = lines[1].replace('"@timestamp":"2', '"@timestamp":"1', 1)
    log.write_text("\n".join(lines) + "\n")
    bad = subprocess.run([brig, "audit", "verify", "--key-file", str(key), str(log)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert f"{log}:2: sequence 2: modified" in bad.stdout
