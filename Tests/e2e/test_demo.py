"""scripts/demo_client.py (what scripts/demo runs) still works through brig."""
import re
import subprocess

from conftest import REPO


def test_demo_client_runs_every_step(brig, python):
    r = subprocess.run([python, str(REPO / "scripts" / "demo_client.py"), "--brig", brig],
                       capture_output=True, timeout=60, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "server: mcp-time" in r.stdout
    assert "convert_time" in r.stdout and "get_current_time" in r.stdout
    # 6 hours apart most of the year, 5 in the weeks when only one side is on DST.
    assert re.search(r"09:30 in Europe/Berlin is 0[34]:30 in America/New_York", r.stdout), r.stdout
    assert "steps succeeded" in r.stdout.splitlines()[-1]
    assert "FAILED" not in r.stdout
