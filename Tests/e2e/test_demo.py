"""scripts/demo_client.py (what scripts/demo runs) still works through brig, every section."""
import os
import re
import subprocess
import time

import pytest

from conftest import REPO


def test_demo_client_runs_every_step(brig, python):
    check_demo(brig, python)


def check_demo(brig: str, python: str) -> None:
    """Runs scripts/demo_client.py through `brig` and checks every section of its output (also
    used by test_package.py on the installed binary)."""
    started = time.monotonic()
    r = subprocess.run([python, str(REPO / "scripts" / "demo_client.py"), "--brig", brig],
                       capture_output=True, timeout=60, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.monotonic() - started < 30, "the demo must finish in well under a minute"
    out = r.stdout
    assert "server: mcp-time" in out
    assert "convert_time" in out and "get_current_time" in out
    # 6 hours apart most of the year, 5 in the weeks when only one side is on DST.
    assert re.search(r"09:30 in Europe/Berlin is 0[34]:30 in America/New_York", out), out
    last = out.splitlines()[-1]
    m = re.fullmatch(r"(\d+) of (\d+) steps succeeded, and nothing escaped", last)
    assert m and m.group(1) == m.group(2), last
    assert "FAILED" not in out
    # The hostile child ran every attempt and was refused each time.
    assert len(re.findall(r"^    blocked  ", out, re.M)) == 8, out  # the ssh-agent stand-in included
    assert "started from /" in out and "blocked  connect to the ssh agent's socket" in out
    # The message policy: a filtered list, a denied tool, an argument violation.
    assert "listed: get_current_time  (convert_time is hidden)" in out
    assert "JSON-RPC error -32602: Unknown tool: convert_time" in out
    assert re.search(r"isError=True: brig denied this call to get_current_time: argument timezone .*mcp\.tools\.rules\[1\]", out), out
    # Content defenses: sanitized text, flagged poisoning, redacted secrets.
    assert "brig: noticed sanitized in tool:notes" in out and "brig: noticed sanitized in result" in out
    assert "brig: noticed poisoning in tool:helper" in out
    assert "[REDACTED:secret:DEMO_DB_PASSWORD]" in out and "pg-demo-Pa55word-4242" not in out
    assert "\U000e0069" not in out and "\x1b" not in out
    # The audit trail: shown, and intact.
    assert re.search(r"brig audit show .*\(exit 0, \d+ records\)", out), out
    assert re.search(r"brig audit verify .*\(exit 0\)\n\s+intact: \d+ records, 2 sessions", out), out


def test_long_dash_c_command_runs_with_default_audit(brig, python, tmp_path):
    wd = tmp_path / "wd"
    wd.mkdir()
    code = "from sys import stderr\nprint('ran', file=stderr)  # " + "x" * 300  # no dot, no slash
    r = subprocess.run([brig, "--workdir", str(wd), "--", python, "-c", code], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state")))
    assert r.returncode == 0 and "ran" in r.stderr, r.stderr
