"""The child's lifecycle under brig: shutdown after host EOF (grace, SIGTERM, SIGKILL), exit-code
passthrough, signal forwarding, crashes, brig's own death, and what the child inherits."""
import json
import os
import signal
import time

import pytest

from conftest import b64, host_pid, process_gone


def test_host_eof_closes_child_stdin_and_child_exits(start_brig):
    p = start_brig(["echo_server.py", "--eof-exit", "3"], options=["--grace", "10"])
    p.read_notification("fixture/ready")
    t0 = time.monotonic()
    p.close_stdin()
    # The child saw end of input (it says so on its way out) and its own exit code comes back,
    # long before the grace period would have ended in a SIGTERM.
    p.read_notification("fixture/eof")
    assert p.wait(timeout=8) == 3
    assert time.monotonic() - t0 < 5


def test_output_written_after_host_eof_still_reaches_host(start_brig):
    p = start_brig(["echo_server.py"], options=["--grace", "5"])
    p.read_notification("fixture/ready")
    p.send_json({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    p.close_stdin()
    rest = [json.loads(x) for x in p.read_rest()]
    assert [m.get("id", m.get("method")) for m in rest] == [1, "fixture/eof"]
    assert p.wait() == 0


@pytest.mark.parametrize("code", [0, 1, 7, 42, 255])
def test_exit_code_passthrough(echo, code):
    echo.send_json({"jsonrpc": "2.0", "id": 1, "method": "fixture/exit", "params": {"code": code}})
    assert echo.wait(timeout=10) == code


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT],
                         ids=lambda s: s.name)
def test_child_killed_by_signal_gives_128_plus_n(echo, sig):
    echo.send_json({"jsonrpc": "2.0", "id": 1, "method": "fixture/die", "params": {"signal": int(sig)}})
    assert echo.wait(timeout=10) == 128 + int(sig)


def test_child_crash_mid_request(echo):
    # One request is answered; the next makes the server write a progress notification and half
    # of its answer, then die. Everything it wrote in whole lines before dying reaches the host,
    # and brig exits promptly although the host has not closed stdin.
    assert echo.request("tools/list", id=1)["result"]["method"] == "tools/list"
    before = (b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p2","progress":0.5}}\n'
              b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"error","data":"about to crash"}}\n'
              b'{"jsonrpc":"2.0","id":2,"result":{"conte')
    t0 = time.monotonic()
    echo.send_json({"jsonrpc": "2.0", "id": 2, "method": "fixture/die",
                    "params": {"signal": int(signal.SIGKILL), "before": b64(before)}})
    assert echo.read_line() == before.split(b"\n")[0]
    assert echo.read_line() == before.split(b"\n")[1]
    assert echo.wait(timeout=10) == 128 + signal.SIGKILL
    assert time.monotonic() - t0 < 3
    # The unterminated half line is not JSON-RPC: whatever brig does with it, the host only
    # ever gets JSON (an error answer for id 2 would be fine).
    rest = echo.read_rest()
    for line in rest:
        msg = json.loads(line)
        assert msg.get("id") == 2 and "error" in msg, msg
    assert len(rest) <= 1, rest


def test_child_ignoring_sigterm_after_host_eof_gets_sigkill(start_brig):
    grace, kill_after = 0.5, 0.5
    p = start_brig(["stubborn_server.py"], options=["--grace", str(grace), "--kill-after", str(kill_after)])
    pid = host_pid(p.read_notification("fixture/ready")["params"]["pid"], p.proc.pid)
    t0 = time.monotonic()
    p.close_stdin()
    eof = p.read_notification("fixture/eof")["params"]["t"]
    term = p.read_notification("fixture/sigterm", timeout=5)["params"]["t"]
    assert term - eof >= grace - 0.1, "SIGTERM came before the grace period ended"
    assert p.wait(timeout=10) == 128 + signal.SIGKILL
    elapsed = time.monotonic() - t0
    assert grace + kill_after - 0.1 <= elapsed < grace + kill_after + 2, elapsed
    assert process_gone(pid)


def test_child_that_stays_after_host_eof_gets_sigterm_after_grace(start_brig):
    grace = 0.6
    p = start_brig(["stubborn_server.py", "--exit-on-term"], options=["--grace", str(grace), "--kill-after", "10"])
    p.read_notification("fixture/ready")
    t0 = time.monotonic()
    p.close_stdin()
    p.read_notification("fixture/eof")
    assert p.wait(timeout=8) == 128 + signal.SIGTERM
    assert grace - 0.1 <= time.monotonic() - t0 < grace + 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT],
                         ids=lambda s: s.name)
def test_signal_to_brig_is_forwarded_to_child(start_brig, sig):
    p = start_brig(["echo_server.py", "--report-signals"])
    p.read_notification("fixture/ready")
    p.proc.send_signal(sig)
    note = p.read_notification("fixture/signal")
    assert note["params"]["signal"] == int(sig)
    # brig did not die of the signal itself: it exits with the child's code.
    assert p.wait(timeout=10) == 100 + int(sig)


def test_child_is_killed_when_brig_dies(start_brig):
    p = start_brig(["stubborn_server.py"])
    pid = host_pid(p.read_notification("fixture/ready")["params"]["pid"], p.proc.pid)
    assert not process_gone(pid)
    p.proc.kill()
    p.wait(timeout=5)
    deadline = time.monotonic() + 5
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(pid), "the child outlived brig"


def test_child_sees_only_fds_0_1_2(start_brig):
    # brig itself is given extra inheritable descriptors; none may reach the child.
    r, w = os.pipe()
    extra = os.open("/dev/null", os.O_RDONLY)
    for fd in (r, w, extra):
        os.set_inheritable(fd, True)
    try:
        p = start_brig(["fds_server.py"], pass_fds=(r, w, extra))
    finally:
        for fd in (r, w, extra):
            os.close(fd)
    fds = p.read_notification("fixture/fds")["params"]["fds"]
    assert sorted(fds) == ["0", "1", "2"], fds
    assert fds["0"].startswith("pipe:") and fds["1"].startswith("pipe:"), fds
    assert fds["0"] != fds["1"]
    # stderr is brig's own stderr (the pipe this test reads), unchanged.
    assert fds["2"] == f"pipe:[{os.fstat(p.proc.stderr.fileno()).st_ino}]", fds
    assert p.wait() == 0


def test_child_exit_while_host_still_writing(echo):
    # The child is gone; the host keeps writing. brig must not die of SIGPIPE (141).
    echo.send_json({"jsonrpc": "2.0", "id": 1, "method": "fixture/exit", "params": {"code": 5}})
    try:
        for i in range(200):
            echo.send_json({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/list"})
    except BrokenPipeError:
        pass
    assert echo.wait(timeout=10) == 5


def test_grandchild_holding_stdout_does_not_hang_brig(start_brig, python):
    # The server leaves a background process holding its stdout open, then exits.
    script = ("import subprocess, sys; subprocess.Popen(['sleep', '8']); "
              "sys.stdout.write('{\"jsonrpc\":\"2.0\",\"method\":\"bye\"}\\n'); sys.exit(4)")
    p = start_brig([python, "-c", script])
    t0 = time.monotonic()
    assert p.read_json()["method"] == "bye"
    assert p.wait(timeout=7) == 4
    assert time.monotonic() - t0 < 5


def test_child_starts_with_no_blocked_or_ignored_signals(start_brig):
    # brig blocks the signals it waits for and ignores SIGPIPE; none of that may leak into the
    # child (a server with SIGTERM blocked could never be stopped). A shell reads its own status.
    script = ('blk=; ign=; while read -r k v; do case "$k" in SigBlk:) blk=$v;; SigIgn:) ign=$v;; esac; '
              'done < /proc/self/status; '
              'printf \'{"jsonrpc":"2.0","method":"sigs","params":{"blk":"%s","ign":"%s"}}\\n\' "$blk" "$ign"')
    p = start_brig(["/bin/sh", "-c", script])
    params = p.read_notification("sigs")["params"]
    assert int(params["blk"], 16) == 0, params
    assert int(params["ign"], 16) == 0, params
    assert p.wait() == 0
