"""Issue #16 item 4: every refusal brig reports ends with the profile line or flag that would
allow it. Each test provokes one kind of refusal, takes the suggestion from brig's stderr line as
a user would, applies it (a profile that extends the one in use, a flag, a `brig pins` command),
and reruns: the same call must then succeed. The audit record carries the same suggestion."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import textwrap
from pathlib import Path

from mcp.shared.exceptions import MCPError

from test_content import audit_actions, hostile, hostile_profile, list_tools, pins
from test_policy import TIME, brig_lines, isolated, sdk, text_of, write_profile

ADVICE = re.compile(r"; to allow: (.*)$")


def advice(err: str, marker: str) -> str:
    """The suggestion on the first stderr line that contains `marker`."""
    for line in brig_lines(err):
        if marker in line:
            m = ADVICE.search(line)
            assert m, f"no suggestion on: {line}"
            return m.group(1)
    raise AssertionError(f"no line with {marker!r} in:\n{err}")


def profile_from(tmp_path: Path, suggestion: str, extends: str, name: str) -> str:
    """A profile that extends `extends` with the suggested line: `a.b.c: VALUE` (the dotted key
    naming the nesting, the value a YAML flow value), cut before ` in a profile that extends`."""
    line = suggestion.split(" in a profile that extends ")[0]
    key, value = line.split(": ", 1)
    parts = key.split(".")
    body = ""
    for depth, part in enumerate(parts):
        body += "  " * depth + part + ":" + (" " + value if depth == len(parts) - 1 else "") + "\n"
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"version: 1\nname: {name}\nextends: {extends}\n" + body)
    return str(path)


def run(brig: str, tmp_path: Path, options: list[str], command: list[str]) -> subprocess.CompletedProcess:
    env, wd = isolated(tmp_path)
    return subprocess.run([brig, "--workdir", str(wd), *options, "--", *command], capture_output=True, text=True,
                          timeout=60, env=env, cwd=wd, stdin=subprocess.DEVNULL)


def test_blocked_syscall_names_the_profile_line(brig, tmp_path):
    src = tmp_path / "numa.c"
    src.write_text(textwrap.dedent("""\
        #include <errno.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/syscall.h>
        #include <unistd.h>
        int main(void) {
            long rc = syscall(SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, NULL, 0);
            fprintf(stderr, rc == 0 ? "probe: allowed\\n" : "probe: refused %s\\n", strerror(errno));
            return rc == 0 ? 0 : 1;
        }
        """))
    probe = tmp_path / "numa"
    subprocess.run(["cc", "-O2", "-o", str(probe), str(src)], check=True)
    log = tmp_path / "audit" / "trail.jsonl"
    first = run(brig, tmp_path, ["--audit-log", str(log)], [str(probe)])
    assert "probe: refused" in first.stderr, first.stderr
    suggestion = advice(first.stderr, "blocked syscall set_mempolicy")
    assert suggestion.startswith("sandbox.syscalls: {allow: [set_mempolicy]} in a profile that extends default"), suggestion
    records = [r for r in audit_actions(log) if r["event"]["action"] == "syscall-blocked"]
    assert "(brig learn --profile default -- COMMAND lists all a run needs)" in suggestion, suggestion
    assert records and records[0]["brig"]["syscall"]["suggestion"] == suggestion.split(" (brig learn")[0], records

    profile = profile_from(tmp_path, suggestion, "default", "numa-allowed")
    second = run(brig, tmp_path, ["--profile", profile, "--no-audit"], [str(probe)])
    assert second.returncode == 0 and "probe: allowed" in second.stderr, second.stderr


def test_refused_unix_socket_names_the_path_to_grant(brig, python, tmp_path):
    import socket
    import threading

    env, wd = isolated(tmp_path)
    path = wd / "agent.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                conn.sendall(b"hello\n")
                conn.close()
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client = [python, "-c", textwrap.dedent(f"""\
        import socket, sys
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect({str(path)!r})
        except OSError as e:
            print("client: refused", e.errno, file=sys.stderr); sys.exit(1)
        print("client: got", s.recv(16).decode().strip(), file=sys.stderr)
        """)]
    try:
        first = run(brig, tmp_path, ["--no-audit"], client)
        assert "client: refused" in first.stderr, first.stderr
        suggestion = advice(first.stderr, "connect to unix socket")
        assert suggestion == f'sandbox.filesystem.unix: ["{path}"]', suggestion
        profile = profile_from(tmp_path, suggestion, "default", "unix-allowed")
        second = run(brig, tmp_path, ["--profile", profile, "--no-audit"], client)
        assert second.returncode == 0 and "client: got hello" in second.stderr, second.stderr
    finally:
        stop.set()
        t.join()
        listener.close()


def test_denied_tool_names_the_flag(brig, python, tmp_path):
    profile = write_profile(tmp_path, "mcp:\n  tools:\n    default: deny\n", name="tools-denied")
    log = tmp_path / "audit" / "trail.jsonl"

    async def body(s):
        try:
            return await s.call_tool("get_current_time", {"timezone": "UTC"})
        except MCPError as e:
            return e

    denied, err = sdk(brig, python, tmp_path, ["--profile", profile, "--audit-log", str(log)], "initialize", body)
    assert getattr(denied, "is_error", True), denied
    suggestion = advice(err, "denied tool get_current_time")
    assert suggestion == "--allow-tool get_current_time", suggestion
    decisions = [r["mcp"]["decision"] for r in audit_actions(log)
                 if r["event"]["action"] == "message" and r["mcp"].get("decision", {}).get("allowed") is False]
    assert decisions and decisions[0]["suggestion"] == suggestion, decisions

    allowed, err2 = sdk(brig, python, tmp_path, ["--profile", profile, "--no-audit", *shlex.split(suggestion)],
                        "initialize", body)
    assert not allowed.is_error and "UTC" in text_of(allowed), text_of(allowed)
    assert not [ln for ln in brig_lines(err2) if "denied" in ln], err2


def test_denied_method_names_the_profile_line(brig, python, tmp_path):
    profile = write_profile(tmp_path, 'mcp:\n  methods: {"tools/list": deny}\n', name="method-denied")

    async def body(s):
        try:
            return await list_tools(s)
        except MCPError as e:
            return e

    denied, err = sdk(brig, python, tmp_path, ["--profile", profile, "--no-audit"], "initialize", body)
    assert isinstance(denied, MCPError), denied
    suggestion = advice(err, "tools/list")
    assert suggestion == 'mcp: {methods: {"tools/list": allow}}', suggestion
    allowed_profile = profile_from(tmp_path, suggestion, profile, "method-allowed")
    listed, _ = sdk(brig, python, tmp_path, ["--profile", allowed_profile, "--no-audit"], "initialize", body)
    assert "get_current_time" in listed, listed


def test_withheld_tool_names_the_pins_command(brig, python, tmp_path):
    profile = hostile_profile(tmp_path, "  pins: block\n", name="pins-suggest")
    opts = ["--profile", profile, "--no-audit"]
    sdk(brig, python, tmp_path, opts, "initialize", list_tools, server=hostile())

    async def call(s):
        await list_tools(s)
        try:
            return await s.call_tool("fetch", {"url": "https://example.com"})
        except MCPError as e:
            return e

    refused, err = sdk(brig, python, tmp_path, opts, "initialize", call, server=hostile("--variant", "2"))
    assert isinstance(refused, MCPError) or refused.is_error, refused
    suggestion = advice(err, "refused tools/call fetch")
    command = suggestion.split(" if its definition changed")[0]
    assert command == "brig pins accept tool:fetch", suggestion
    listed_line = advice(err, "blocked pin-changed in tool:fetch")
    assert listed_line.startswith("brig pins accept tool:fetch"), listed_line
    accepted = pins(brig, tmp_path, *shlex.split(command)[2:], "--profile", profile)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    result, _ = sdk(brig, python, tmp_path, opts, "initialize", call, server=hostile("--variant", "2"))
    assert not isinstance(result, MCPError) and not result.is_error and "example.com" in text_of(result), result
