"""What the host sees when a session ends badly: pending requests answered, the whole process
group signalled, usage errors named."""
import os
import signal
import subprocess
import sys
import time

from conftest import run_brig


def test_pending_requests_are_answered_when_the_server_exits(brig):
    """A server that dies with requests in flight: each gets -32603 with its own id, none hangs."""
    p = subprocess.Popen([brig, "--", "sh", "-c", "head -c 10 >/dev/null; exit 3"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = p.communicate(b'{"jsonrpc":"2.0","id":1,"method":"x"}\n{"jsonrpc":"2.0","id":"b","method":"y"}\n', timeout=20)
    assert p.returncode == 3
    lines = out.decode().splitlines()
    assert len(lines) == 2
    assert '"id":1,' in lines[0] and "-32603" in lines[0] and "exit code 3" in lines[0]
    assert '"id":"b"' in lines[1] and "-32603" in lines[1]


def test_sigterm_reaches_a_server_behind_a_wrapper(brig, python, fixture_path, tmp_path):
    """brig signals the child's process group: `sh -c 'server; :'` still lets the server exit gracefully."""
    marker = tmp_path / "got-term"
    script = (f"import signal,sys,time\n"
              f"def h(*a):\n open({str(marker)!r},'w').write('x'); sys.exit(0)\n"
              f"signal.signal(signal.SIGTERM, h)\n"
              f"print('ready', file=sys.stderr, flush=True)\n"
              f"time.sleep(30)\n")
    # --profile python: the grandchild interpreter is not the command itself, so it needs the profile's grants.
    p = subprocess.Popen([brig, "--profile", "python", "--rw", str(tmp_path), "--", "sh", "-c", f"{python} -c \"$0\"; :", script],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stderr.readline()
        if b"ready" in line or not line:
            break
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)
    assert marker.exists(), "the grandchild never saw SIGTERM"


def test_missing_workdir_is_a_usage_error(brig):
    r = run_brig(brig, ["--workdir", "/nonexistent-brig-dir", "--", "true"])
    assert r.returncode == 125
    assert "--workdir /nonexistent-brig-dir: no such directory" in r.stderr.decode()


def test_run_help_lists_the_run_options(brig):
    r = subprocess.run([brig, "run", "--help"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0
    for option in ("--profile", "--max-message-size", "--grace", "--no-sandbox"):
        assert option in r.stdout


def test_an_id_with_a_leading_zero_is_not_misread(brig):
    p = subprocess.run([brig, "--", "cat"], input=b'{"jsonrpc":"2.0","id":007,"method":"a"}\n',
                       capture_output=True, timeout=20)
    assert b'"id":null' in p.stdout and b"-32700" in p.stdout
