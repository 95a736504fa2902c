"""brig learn: learn a session, run it again under the learned profile with no denials, and check
that what lies outside the learned grants is refused."""
import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "learn-test", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def transcript(path: Path, calls: list[tuple[str, dict]]) -> Path:
    lines = [INIT, INITIALIZED, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    for i, (name, args) in enumerate(calls):
        lines.append({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call", "params": {"name": name, "arguments": args}})
    path.write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    return path


def session(brig: str, options: list[str], server: list[str], messages: list[dict], cwd: Path) -> tuple[dict, str]:
    """Sends the messages through `brig OPTIONS -- SERVER`, returns {id: response} and brig's stderr."""
    p = subprocess.Popen([brig, *options, "--", *server], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=cwd)
    responses = {}
    for m in messages:
        p.stdin.write((json.dumps(m) + "\n").encode())
        p.stdin.flush()
        if "id" in m:
            while True:
                line = p.stdout.readline()
                assert line, f"brig closed stdout; stderr: {p.stderr.read().decode()}"
                r = json.loads(line)
                if r.get("id") == m["id"]:
                    responses[m["id"]] = r
                    break
    p.stdin.close()
    p.wait(timeout=30)
    return responses, p.stderr.read().decode()


class Greeter:
    """A TCP server on 127.0.0.1 that greets each connection."""

    def __init__(self, word: str):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.word = word
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.sendall(f"hello from {self.word}\n".encode())
            c.close()


def texts(responses: dict) -> dict:
    return {k: (r.get("result", {}).get("content") or [{}])[0].get("text", r.get("error")) for k, r in responses.items()}


def test_learn_then_run_a_fixture_that_needs_files_a_port_and_a_helper(brig, python, fixture_path, tmp_path):
    data, out, other = tmp_path / "data", tmp_path / "out", tmp_path / "other"
    for d in (data, out, other):
        d.mkdir()
    (data / "input.txt").write_text("learned\n")
    (other / "secret.txt").write_text("not for the server\n")
    work_dir = tmp_path / "wd"
    work_dir.mkdir()
    allowed, forbidden = Greeter("allowed"), Greeter("forbidden")
    work = ("work", {"data": str(data), "out": str(out), "port": allowed.port})
    server = [python, fixture_path("needs_server.py")]
    profile = tmp_path / "learned.yaml"

    learn = subprocess.run([brig, "learn", "--replay", str(transcript(tmp_path / "t.jsonl", [work])),
                            "--out", str(profile), "--", *server], capture_output=True, text=True, cwd=work_dir, timeout=60)
    assert learn.returncode == 0, learn.stderr
    assert "wrote" in learn.stdout
    text = profile.read_text()
    assert "inherit: false" in text
    assert str(data) in text and str(out) in text
    assert str(other) not in text
    assert "connect: [" + str(allowed.port) + "]" in text
    assert '"work"' in text and '"unused"' not in text

    check = subprocess.run([brig, "check", "--profile", str(profile)], capture_output=True, text=True, cwd=work_dir)
    assert check.returncode == 0, check.stderr

    messages = [INIT, INITIALIZED, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": work[0], "arguments": work[1]}},
                {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "probe", "arguments": {"path": str(other / "secret.txt")}}},
                {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "probe", "arguments": {"port": forbidden.port}}}]
    # Under the learned profile, with the tool allow-list relaxed for the probes (--allow-tool), the
    # learned work runs with no denial, and another directory and another port are refused by the sandbox.
    responses, stderr = session(brig, ["--profile", str(profile), "--allow-tool", "probe"], server, messages, work_dir)
    t = texts(responses)
    assert t[3] == f"LEARNED | hello from allowed | helper ran", (t, stderr)
    assert (out / "result.txt").read_text() == "LEARNED"
    assert t[4].startswith("refused"), t[4]
    assert t[5].startswith("refused"), t[5]
    assert "blocked syscall" not in stderr and "denied" not in stderr, stderr
    tools = [x["name"] for x in responses[2]["result"]["tools"]]
    assert "work" in tools and "unused" not in tools

    # Unconfined, the same probes work: the refusals above are the profile's doing.
    responses, _ = session(brig, ["--no-sandbox"], server, messages, work_dir)
    assert texts(responses)[4].startswith("ok"), texts(responses)
    assert texts(responses)[5] == "ok: hello from forbidden"


def test_learned_profile_is_narrower_than_default(brig, python, tmp_path):
    profile = tmp_path / "time.yaml"
    call = ("get_current_time", {"timezone": "Europe/Paris"})
    server = [python, "-m", "mcp_server_time"]
    learn = subprocess.run([brig, "learn", "--replay", str(transcript(tmp_path / "t.jsonl", [call])), "--out", str(profile),
                            "--", *server], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert learn.returncode == 0, learn.stderr
    text = profile.read_text()
    assert "network: none" in text
    learned = subprocess.run([brig, "check", "--profile", str(profile)], capture_output=True, text=True, cwd=tmp_path)
    default = subprocess.run([brig, "check"], capture_output=True, text=True, cwd=tmp_path)
    def count(out: str, section: str) -> int:
        lines = out.split("filesystem:")[1].split(f"  {section}:")[1].splitlines()[1:]
        return len([l for l in lines if l.startswith("    ")])
    assert count(learned.stdout, "read") < count(default.stdout, "read")
    assert count(learned.stdout, "write") < count(default.stdout, "write")
    responses, stderr = session(brig, ["--profile", str(profile)], server,
                                [INIT, INITIALIZED, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                                     "params": {"name": call[0], "arguments": call[1]}}], tmp_path)
    assert "Europe/Paris" in texts(responses)[3]
    assert "blocked syscall" not in stderr and "denied" not in stderr and "Permission denied" not in stderr, stderr


def test_learn_git_server_on_a_temporary_repository(brig, python, tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    server = [python, "-m", "mcp_server_git", "--repository", str(repo)]
    calls = [("git_status", {"repo_path": str(repo)}), ("git_log", {"repo_path": str(repo)})]
    profile = tmp_path / "git.yaml"
    learn = subprocess.run([brig, "learn", "--workdir", str(repo), "--replay", str(transcript(tmp_path / "t.jsonl", calls)),
                            "--out", str(profile), "--", *server], capture_output=True, text=True, timeout=90)
    assert learn.returncode == 0, learn.stderr
    text = profile.read_text()
    assert '"git_status"' in text and '"git_commit"' not in text
    assert '"repo_path": {under: ["$WORKDIR"]}' in text
    messages = [INIT, INITIALIZED] + [{"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
                                        "params": {"name": n, "arguments": a}} for i, (n, a) in enumerate(calls)]
    messages.append({"jsonrpc": "2.0", "id": 20, "method": "tools/call", "params": {"name": "git_status", "arguments": {"repo_path": "/etc"}}})
    responses, stderr = session(brig, ["--profile", str(profile), "--workdir", str(repo)], server, messages, tmp_path)
    t = texts(responses)
    assert "Repository status" in t[10] or "On branch" in t[10], (t, stderr)
    assert "init" in t[11]
    # A repository outside the learned directory is refused by the learned argument constraint.
    assert responses[20]["result"]["isError"] is True and "brig denied" in t[20]


def test_learn_diff_shows_what_a_new_run_adds(brig, python, fixture_path, tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    (data / "input.txt").write_text("x\n")
    greeter = Greeter("g")
    server = [python, fixture_path("needs_server.py")]
    base = tmp_path / "base.yaml"
    first = subprocess.run([brig, "learn", "--replay", str(transcript(tmp_path / "a.jsonl", [])), "--out", str(base), "--", *server],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert first.returncode == 0, first.stderr
    work = ("work", {"data": str(data), "out": str(out), "port": greeter.port})
    diff = subprocess.run([brig, "learn", "--replay", str(transcript(tmp_path / "b.jsonl", [work])), "--diff", str(base), "--", *server],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert diff.returncode == 0, diff.stderr
    assert f"+ network connect {greeter.port}" in diff.stdout
    assert "+ tool work" in diff.stdout
    assert "+ write $WORKDIR" in diff.stdout, diff.stdout  # out/ lies in the working directory
