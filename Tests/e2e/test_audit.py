"""The audit trail end to end (docs/audit.md), with real brig sessions in front of the echo fixture:
every event class, payload modes, the chain across sessions, tampering caught by `brig audit
verify` and told apart from a killed brig, rotation, `show`, `tail -f`, `--audit-log -`, file
modes, and `audit.on_failure` when the log's disk is full.

Every test keeps its own XDG_STATE_HOME (key) and log under tmp_path, outside the sandbox's
workdir (tmp_path/work): brig refuses a log inside the grants. Records are validated against
docs/audit.schema.json as they are read."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import resource
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, BrigProcess

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is missing from the venv: run scripts/bootstrap")
VALIDATOR = jsonschema.Draft202012Validator(json.loads((REPO / "docs" / "audit.schema.json").read_text()))

PASSWORD = "hunter2"
GITHUB_TOKEN = "ghp_" + "16C7e42F292c6912E7710c838347Ae178B4a"
INJECTED = "s3cr3t-injected-value-9f8e7d"

# A server that first calls ptrace (refused by the default profile's seccomp filter and reported),
# then becomes the echo fixture.
PTRACE_THEN_ECHO = ("import ctypes, os, sys; ctypes.CDLL(None, use_errno=True).ptrace(0, 0, 0, 0); "
                    "os.execv(sys.executable, [sys.executable, '-u', sys.argv[1]])")


def check_record(record: dict, where: str) -> dict:
    errors = list(VALIDATOR.iter_errors(record))
    assert not errors, f"{where}: {record}\n" + "\n".join(e.message for e in errors)
    return record


def parse_lines(text: str, where: str) -> list[dict]:
    return [check_record(json.loads(line), f"{where}:{n}") for n, line in enumerate(text.splitlines(), 1) if line]


class Trail:
    """One test's brig state, workdir, log and profiles."""

    def __init__(self, tmp_path: Path, start_brig, brig: str, python: str):
        self.tmp = tmp_path
        self.state = tmp_path / "state"
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.log = tmp_path / "audit" / "trail.jsonl"
        self.key = self.state / "brig" / "audit.key"
        self.env = dict(os.environ, XDG_STATE_HOME=str(self.state))
        self.brig = brig
        self.python = python
        self._start = start_brig

    def profile(self, body: str, name: str = "audit-test") -> Path:
        path = self.tmp / f"{name}.yaml"
        path.write_text(f"version: 1\nname: {name}\nextends: default\n{body}")
        return path

    def options(self, profile: Path | None = None, log: Path | str | None = None, extra=()) -> list[str]:
        opts = ["--workdir", str(self.work), "--ro", str(FIXTURES)]
        if log != "profile":
            opts += ["--audit-log", str(log or self.log)]
        if profile:
            opts += ["--profile", str(profile)]
        return opts + list(extra)

    def start(self, profile: Path | None = None, log=None, server=None, extra=(), ready=True, **popen) -> BrigProcess:
        server = server or ["echo_server.py"]
        p = self._start(server, options=self.options(profile, log, extra), env=popen.pop("env", self.env), **popen)
        if ready:
            p.read_notification("fixture/ready")
        return p

    def start_ptrace(self, profile: Path | None = None, extra=()) -> BrigProcess:
        return self.start(profile, extra=extra,
                          server=[self.python, "-c", PTRACE_THEN_ECHO, str(FIXTURES / "echo_server.py")])

    def session(self, requests=(), profile: Path | None = None, log=None) -> None:
        """A whole session: each (method, params) as a request, then end of input."""
        p = self.start(profile, log)
        for i, (method, params) in enumerate(requests, 1):
            p.request(method, params, id=i)
        p.close_stdin()
        assert p.wait() == 0, p.stderr_text()

    def records(self, path: Path | None = None) -> list[dict]:
        path = path or self.log
        return parse_lines(path.read_text(), str(path))

    def run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run([self.brig, *args], capture_output=True, text=True, timeout=30, env=self.env,
                              stdin=subprocess.DEVNULL, **kw)

    def verify(self, *files: Path, anchor: Path | None = None) -> subprocess.CompletedProcess:
        args = ["audit", "verify", "--key-file", str(self.key), *map(str, files or (self.log,))]
        if anchor:
            args += ["--anchor", str(anchor)]
        return self.run(args)


@pytest.fixture
def trail(tmp_path, start_brig, brig, python) -> Trail:
    return Trail(tmp_path, start_brig, brig, python)


def actions(records: list[dict]) -> list[str]:
    return [r["event"]["action"] for r in records]


def by_action(records: list[dict], action: str) -> list[dict]:
    return [r for r in records if r["event"]["action"] == action]


def messages(records: list[dict], method: str | None = None, direction: str | None = None) -> list[dict]:
    return [r for r in records if "mcp" in r and (method is None or r["mcp"].get("method") == method)
            and (direction is None or r["mcp"]["direction"] == direction)]


# --- every event class ---------------------------------------------------------------------------

POLICY = """mcp:
  tools:
    rules:
      - {name: forbidden, allow: false}
      - {name: echo, rate: 1/min}
"""


def test_every_event_class(trail: Trail):
    profile = trail.profile(POLICY)
    p = trail.start_ptrace(profile, extra=["--max-message-size", "2KiB"])
    ok = p.request("tools/call", {"name": "echo", "arguments": {"text": "hi"}}, id=1)
    assert "result" in ok, ok
    limited = p.request("tools/call", {"name": "echo", "arguments": {"text": "again"}}, id=2)
    denied = p.request("tools/call", {"name": "forbidden", "arguments": {}}, id=3)
    p.send(b"this is not json\n")
    bad = p.read_until(lambda m: "error" in m and m.get("id") is None)
    big = p.request("fixture/echo", {"pad": "x" * 4000}, id=4)
    p.close_stdin()
    assert p.wait() == 0, p.stderr_text()
    assert bad["error"]["code"] == -32700 and "error" in big, (bad, big)
    assert ("error" in limited or limited.get("result", {}).get("isError")) and \
        ("error" in denied or denied.get("result", {}).get("isError")), (limited, denied)

    records = trail.records()
    acts = actions(records)
    assert acts[0] == "session-start" and acts[-1] == "session-end", acts
    assert [r["event"]["sequence"] for r in records] == list(range(1, len(records) + 1))
    for needed in ("message", "syscall-blocked", "rate-limited", "malformed-message", "oversized-message", "child-exit"):
        assert needed in acts, f"no {needed} record: {acts}"

    start = records[0]
    exe = Path(start["process"]["executable"])
    assert start["process"]["hash"]["sha256"] == hashlib.sha256(exe.read_bytes()).hexdigest()
    assert start["brig"]["profile"]["name"] == "audit-test"
    assert start["brig"]["profile"]["sha256"] == hashlib.sha256(profile.read_bytes()).hexdigest()
    assert start["brig"]["chain"]["previous_tail"] == "new log"
    assert start["brig"]["audit"] == {"payloads": "redacted", "fsync": "interval", "on_failure": "block"}
    assert start["user"]["id"] == str(os.getuid())

    calls = messages(records, "tools/call")
    requests = [r for r in calls if r["mcp"]["direction"] == "host-to-server"]
    responses = [r for r in calls if r["mcp"]["direction"] == "server-to-host"]
    assert requests and responses, calls
    # Requests and the server's notifications carry the policy's decision; responses (not policed:
    # no decision, outcome unknown) carry how long the request took.
    for r in requests + messages(records, "fixture/ready", "server-to-host"):
        assert {"allowed", "enforced", "rule", "reason", "category"} <= set(r["mcp"]["decision"]), r
    assert all(isinstance(r["mcp"].get("duration_us"), int) for r in responses), responses
    assert responses[0]["mcp"]["id"] == "1" and responses[0]["mcp"]["kind"] == "response"
    forbidden = [r for r in requests if r["mcp"].get("tool") == "forbidden"]
    assert forbidden and forbidden[0]["mcp"]["decision"]["allowed"] is False
    assert forbidden[0]["event"]["kind"] == "alert" and forbidden[0]["event"]["type"] == ["denied"]
    limited_rec = [r for r in requests if r["mcp"]["id"] == "2"]
    assert limited_rec[0]["mcp"]["decision"]["category"] == "rate", limited_rec
    rate = by_action(records, "rate-limited")[0]
    assert rate["brig"]["detail"]["method"] == "tools/call", rate
    assert rate["brig"]["detail"]["rule"].endswith("mcp.tools.rules[1]") and "1/min" in rate["brig"]["detail"]["reason"], rate

    sc = by_action(records, "syscall-blocked")[0]
    assert sc["brig"]["syscall"]["name"] == "ptrace" and sc["event"]["kind"] == "alert"
    assert "intrusion_detection" in sc["event"]["category"]
    assert by_action(records, "malformed-message")[0]["brig"]["detail"]["direction"] == "host-to-server"
    over = by_action(records, "oversized-message")[0]["brig"]["detail"]
    assert over["size"] > 4000 and over["limit"] == 2048, over

    ex = by_action(records, "child-exit")[0]
    assert ex["process"]["exit_code"] == 0 and ex["process"]["pid"] == start["process"]["pid"]
    e = ex["brig"]["exit"]
    assert e["user_cpu_us"] + e["system_cpu_us"] > 0 and e["max_rss_kib"] > 1000 and e["wall_us"] > 0, e

    end = records[-1]["brig"]["session"]
    assert end["records"] == len(records) and end["denied"] >= 2 and end["lost"] == 0 and end["dropped"] == 0, end
    assert end["messages"] == len(messages(records))
    assert len({r["brig"]["session"]["id"] for r in records}) == 1

    ok = trail.verify()
    assert ok.returncode == 0 and ok.stdout.startswith("intact:"), ok.stdout + ok.stderr

    # brig audit show --outcome denied: the denials, and only them.
    shown = trail.run(["audit", "show", str(trail.log), "--outcome", "denied"])
    assert shown.returncode == 0, shown.stderr
    rows = shown.stdout.splitlines()[1:]
    assert any("forbidden" in r for r in rows) and len(rows) == 2 and all("denied" in r for r in rows), shown.stdout
    as_json = parse_lines(trail.run(["audit", "show", str(trail.log), "--outcome", "denied", "--json"]).stdout, "show")
    assert {r["mcp"]["id"] for r in as_json} == {"2", "3"}
    assert all(r["mcp"]["decision"]["allowed"] is False for r in as_json)


# --- payloads ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["redacted", "hash", "none", "full"])
def test_payload_modes(trail: Trail, mode: str):
    secret_file = trail.tmp / "injected.txt"
    secret_file.write_text(INJECTED + "\n")
    profile = trail.profile(f"""sandbox:
  env:
    secrets: {{API_SECRET: {{file: "{secret_file}"}}}}
audit:
  payloads: {mode}
""")
    params = {"name": "echo", "arguments": {"password": PASSWORD, "note": f"token {GITHUB_TOKEN} here",
                                            "other": f"the key is {INJECTED}", "n": 5}}
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}, separators=(",", ":"))
    p = trail.start(profile)
    p.send(line.encode() + b"\n")
    p.read_until(lambda m: m.get("id") == 1)
    p.close_stdin()
    assert p.wait() == 0, p.stderr_text()
    text = trail.log.read_text()
    records = trail.records()
    assert records[0]["brig"]["audit"]["payloads"] == mode
    request = [r for r in messages(records, "tools/call", "host-to-server")][0]["mcp"]
    if mode == "redacted":
        assert PASSWORD not in text and GITHUB_TOKEN not in text and INJECTED not in text
        args = request["payload"]["params"]["arguments"]
        assert args == {"password": "[REDACTED:key:password]", "note": "token [REDACTED:github-token] here",
                        "other": "the key is [REDACTED:secret:API_SECRET]", "n": 5}, args
    elif mode == "hash":
        assert PASSWORD not in text and GITHUB_TOKEN not in text and INJECTED not in text
        assert request["payload"] == {"sha256": hashlib.sha256(line.encode()).hexdigest()}
    elif mode == "none":
        assert PASSWORD not in text and GITHUB_TOKEN not in text and INJECTED not in text
        assert all("payload" not in r["mcp"] for r in messages(records)), text
    else:
        assert request["payload"] == {"params": params}
    assert trail.verify().returncode == 0


# --- the chain -----------------------------------------------------------------------------------

def test_second_session_chains_to_the_first(trail: Trail):
    trail.session([("fixture/count", None)])
    first = trail.records()
    trail.session([("fixture/count", None)])
    records = trail.records()
    second = records[len(first):]
    start = second[0]
    assert start["event"]["action"] == "session-start" and start["event"]["sequence"] == len(first) + 1
    assert start["brig"]["prev_mac"] == first[-1]["brig"]["mac"]
    assert start["brig"]["chain"] == {"previous_sequence": len(first), "previous_mac": first[-1]["brig"]["mac"],
                                      "previous_tail": "intact", "previous_session_ended": True}
    assert start["brig"]["session"]["id"] != first[0]["brig"]["session"]["id"]
    ok = trail.verify()
    assert ok.returncode == 0, ok.stdout
    assert f"intact: {len(records)} records, 2 sessions, sequences 1-{len(records)}, 1 file" in ok.stdout, ok.stdout


@pytest.fixture(scope="module")
def anchored_log(tmp_path_factory, brig, python) -> tuple[Path, Path, Path, dict]:
    """Two whole sessions in one log with an anchor: (dir, log, key, env); each test copies it."""
    base = tmp_path_factory.mktemp("anchored")
    (base / "work").mkdir()
    log, anchor = base / "audit" / "a.jsonl", base / "anchor" / "a.anchor"
    profile = base / "anchored.yaml"
    profile.write_text(f"version: 1\nname: anchored\nextends: default\naudit:\n  path: \"{log}\"\n  anchor: \"{anchor}\"\n")
    env = dict(os.environ, XDG_STATE_HOME=str(base / "state"))
    lines = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "fixture/count"}).encode() + b"\n" for i in range(3))
    for _ in range(2):
        r = subprocess.run([brig, "--workdir", str(base / "work"), "--ro", str(FIXTURES), "--profile", str(profile),
                            "--", python, "-u", str(FIXTURES / "echo_server.py")],
                           input=lines, capture_output=True, timeout=20, env=env)
        assert r.returncode == 0, r.stderr
    return log, anchor, base / "state" / "brig" / "audit.key", env


def tamper(lines: list[str], how: str) -> tuple[list[str], int, str]:
    """The damaged lines, the 1-based line verify should name (0: none), the damage kind."""
    ends = [i for i, ln in enumerate(lines) if '"action":"session-end"' in ln]
    mid = ends[0] // 2 + 1  # a message record inside the first session
    out = list(lines)
    if how == "flip-byte":
        i = out[mid].index('Z"') - 1  # the last digit of @timestamp's microseconds
        ch = out[mid][i]
        assert ch.isdigit(), out[mid]
        out[mid] = out[mid][:i] + ("1" if ch != "1" else "2") + out[mid][i + 1:]
        return out, mid + 1, "modified"
    if how == "delete-line":
        del out[mid]
        return out, mid + 1, "deleted"
    if how == "swap-lines":
        out[mid], out[mid + 1] = out[mid + 1], out[mid]
        return out, mid + 1, "reordered"
    if how == "duplicate-line":
        out.insert(mid + 1, out[mid - 1])
        return out, mid + 2, "inserted"
    if how == "cut-first-session-end":
        # The first session's last records removed: the second session's start links to them.
        del out[ends[0] - 1:ends[0] + 1]
        return out, ends[0], "truncated"
    if how == "cut-tail":
        return out[:-3], 0, "truncated"
    raise ValueError(how)


@pytest.mark.parametrize("how", ["flip-byte", "delete-line", "swap-lines", "duplicate-line", "cut-first-session-end",
                                 "cut-tail"])
def test_tampering_is_caught(anchored_log, brig, tmp_path, how):
    log, anchor, key, env = anchored_log
    copy = tmp_path / "a.jsonl"
    damaged, line, kind = tamper(log.read_text().splitlines(), how)
    copy.write_text("\n".join(damaged) + "\n")
    r = subprocess.run([brig, "audit", "verify", "--key-file", str(key), "--anchor", str(anchor), str(copy)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r.stdout + r.stderr
    where = f"{copy}:{line}: " if line else f"{copy}: "
    assert f"damaged: {where}" in r.stdout and f": {kind}: " in r.stdout, r.stdout
    if how == "cut-tail":
        # Without the anchor a cut tail looks like a killed brig: a warning that says so.
        plain = subprocess.run([brig, "audit", "verify", "--key-file", str(key), str(copy)], capture_output=True,
                               text=True, timeout=20)
        assert plain.returncode == 0 and "ended without its end record" in plain.stdout and "--anchor" in plain.stdout, \
            plain.stdout
    # The untouched log verifies with the same key and anchor.
    ok = subprocess.run([brig, "audit", "verify", "--key-file", str(key), "--anchor", str(anchor), str(log)],
                        capture_output=True, text=True, timeout=20)
    assert ok.returncode == 0 and "2 sessions" in ok.stdout, ok.stdout


def test_sigkill_is_a_warning_not_damage(trail: Trail):
    p = trail.start()
    p.request("fixture/count", id=1)
    deadline = time.monotonic() + 5
    while '"server-to-host"' not in (trail.log.read_text() if trail.log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(p.proc.pid, signal.SIGKILL)
    p.wait()
    killed = trail.records()
    assert "session-end" not in actions(killed)
    r = trail.verify()
    assert r.returncode == 0 and "damaged" not in r.stdout, r.stdout
    assert f"warning: session {killed[0]['brig']['session']['id']} ended without its end record" in r.stdout, r.stdout
    # The next session notes it, and the whole file still verifies: killed, not tampered with.
    trail.session([("fixture/count", None)])
    records = trail.records()
    start = records[len(killed)]
    assert start["brig"]["chain"]["previous_session_ended"] is False
    assert start["brig"]["chain"]["previous_tail"] == "intact"
    r = trail.verify()
    assert r.returncode == 0 and "2 sessions" in r.stdout and "ended without its end record" in r.stdout, r.stdout


# --- rotation, show, tail, stderr, modes ---------------------------------------------------------

def test_rotation_keeps_one_chain(trail: Trail):
    profile = trail.profile("audit:\n  rotate: {max_bytes: 4096, keep: 20}\n")
    p = trail.start(profile)
    for i in range(1, 25):
        p.request("fixture/count", {"note": "x" * 200}, id=i)
    p.close_stdin()
    assert p.wait() == 0, p.stderr_text()
    files = sorted(trail.log.parent.iterdir())
    rotated = [f for f in files if f.name != trail.log.name]
    assert len(rotated) >= 3, files
    ordered = sorted(rotated, key=lambda f: -int(f.suffix[1:])) + [trail.log]
    records = [r for f in ordered for r in trail.records(f)]
    assert [r["event"]["sequence"] for r in records] == list(range(1, len(records) + 1))
    for f in files:
        assert f.stat().st_size <= 4096 and oct(f.stat().st_mode & 0o777) == "0o600", f
    ok = trail.verify()
    assert ok.returncode == 0 and f"{len(records)} records" in ok.stdout and f"{len(ordered)} files" in ok.stdout, ok.stdout
    # A rotated file removed from the middle: deleted records.
    ordered[1].unlink()
    bad = trail.verify()
    assert bad.returncode == 1 and ": deleted: " in bad.stdout, bad.stdout


def test_tail_follows_denials(trail: Trail):
    profile = trail.profile(POLICY)
    trail.session([("fixture/count", None)], profile=profile)
    tail = subprocess.Popen([trail.brig, "audit", "tail", str(trail.log), "-f", "-n", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=trail.env)
    try:
        time.sleep(0.3)
        p = trail.start(profile)
        p.request("tools/call", {"name": "forbidden", "arguments": {}}, id=1)
        out = b""
        deadline = time.monotonic() + 8
        while b"forbidden" not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([tail.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(tail.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        p.close_stdin()
        p.wait()
        assert b"DENIED" in out and b"tools/call tool=forbidden" in out, (out, tail.poll())
        assert b"fixture/count" not in out  # only denials, only new ones
    finally:
        tail.kill()
        tail.wait(5)


def test_tail_follows_across_rotation(trail: Trail):
    """Many rotations between two of tail's polls: every denial is still printed once."""
    profile = trail.profile("audit:\n  rotate: {max_bytes: 4096, keep: 50}\n" + POLICY)
    trail.session([("fixture/count", None)], profile=profile)
    tail = subprocess.Popen([trail.brig, "audit", "tail", str(trail.log), "-f", "-n", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=trail.env)
    try:
        time.sleep(0.3)
        lines = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                     "params": {"name": "forbidden", "arguments": {"x": "y" * 300}}}).encode() + b"\n"
                         for i in range(30))
        r = subprocess.run([trail.brig, *trail.options(profile), "--", trail.python, "-u", str(FIXTURES / "echo_server.py")],
                           input=lines, capture_output=True, env=trail.env, timeout=20)
        assert r.returncode == 0, r.stderr
        assert len(list(trail.log.parent.iterdir())) > 5
        out = b""
        deadline = time.monotonic() + 8
        while out.count(b"DENIED") < 30 and time.monotonic() < deadline:
            ready, _, _ = select.select([tail.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(tail.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        time.sleep(0.3)
        ready, _, _ = select.select([tail.stdout], [], [], 0)
        if ready:
            out += os.read(tail.stdout.fileno(), 65536)
        assert out.count(b"DENIED") == 30, out.decode(errors="replace")[-2000:]
    finally:
        tail.kill()
        tail.wait(5)


def test_audit_log_to_stderr(trail: Trail):
    p = trail.start(log="-")
    p.request("tools/call", {"name": "echo", "arguments": {"password": PASSWORD}}, id=1)
    p.close_stdin()
    assert p.wait() == 0
    err = p.stderr_bytes().decode()
    record_lines = [ln for ln in err.splitlines() if ln.startswith("{")]
    records = parse_lines("\n".join(record_lines), "stderr")
    assert actions(records)[0] == "session-start" and actions(records)[-1] == "session-end", err
    assert records[0]["brig"]["chain"]["previous_tail"] == "none (stderr)"
    assert PASSWORD not in err and messages(records, "tools/call")
    assert not trail.log.exists()
    saved = trail.tmp / "stderr.jsonl"
    saved.write_text("\n".join(record_lines) + "\n")
    assert trail.verify(saved).returncode == 0


def test_file_and_directory_modes(trail: Trail):
    anchor = trail.tmp / "anchors" / "deep" / "a.anchor"
    profile = trail.profile(f"audit:\n  anchor: \"{anchor}\"\n")
    log = trail.tmp / "logs" / "nested" / "x.jsonl"
    os.umask(old := os.umask(0o022))
    trail.session([("fixture/count", None)], profile=profile, log=log)
    for f in (log, trail.key, anchor):
        assert oct(f.stat().st_mode & 0o777) == "0o600", f
    for d in (log.parent, log.parent.parent, anchor.parent, anchor.parent.parent, trail.key.parent, trail.state):
        assert oct(d.stat().st_mode & 0o777) == "0o700", d


# --- on_failure when the log cannot be written ---------------------------------------------------

class FullDisk:
    """A log on a 64 KiB tmpfs (as root), else in a file brig may only grow a little (RLIMIT_FSIZE)."""

    def __init__(self, trail: Trail):
        self.trail = trail
        self.mount = trail.tmp / "tiny"
        self.mount.mkdir()
        self.filler = self.mount / "filler"
        self.preexec = None
        self.tmpfs = os.geteuid() == 0 and not os.environ.get("BRIG_E2E_NO_TMPFS") and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(self.mount)],
            capture_output=True).returncode == 0
        self.log = self.mount / "audit" / "full.jsonl"

    def limit_after_start(self, start_record_bytes: int) -> None:
        """RLIMIT_FSIZE fallback: brig may write the session-start record and little more."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        limit = start_record_bytes + 300
        self.preexec = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def fill(self) -> None:
        if not self.tmpfs:
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 1024)
        except OSError:
            pass
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)
        self.preexec = None

    def close(self) -> None:
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.mount)], capture_output=True)


@pytest.fixture
def full_disk(trail: Trail):
    disk = FullDisk(trail)
    yield disk
    disk.close()


def start_on_full_disk(trail: Trail, disk: FullDisk, on_failure: str) -> BrigProcess:
    profile = trail.profile(f"audit:\n  on_failure: {on_failure}\n  fsync: always\n")
    if not disk.tmpfs:
        # Measure a session-start record, then start brig allowed only that much file.
        probe = trail.tmp / "probe.jsonl"
        trail.session([], profile=profile, log=probe)
        disk.limit_after_start(len(probe.read_text().splitlines()[0]) + 1)
        if disk.preexec is None:
            pytest.skip("neither a tmpfs mount (needs root) nor RLIMIT_FSIZE is available")
    # On the tmpfs the disk fills once the session runs; with RLIMIT_FSIZE only the session-start
    # record fits, so the server's fixture/ready is already held back.
    p = trail.start(profile, log=disk.log, preexec_fn=disk.preexec, ready=disk.tmpfs)
    disk.fill()
    return p


def drive_blocked_session(trail: Trail, disk: FullDisk) -> dict:
    """Requests until brig refuses one (the log is full, on_failure: block), one more, then the end.
    A request that gets no answer at all is noted (brig forwarded it, then dropped the reply)."""
    p = start_on_full_disk(trail, disk, "block")
    ready_seen = disk.tmpfs
    if not ready_seen:
        try:
            p.read_notification("fixture/ready", timeout=1)
            ready_seen = True
        except TimeoutError:
            pass
    answers, unanswered = [], []
    for i in range(1, 40):
        try:
            answers.append(p.request("fixture/echo", {"pad": "y" * 300}, id=i, timeout=3))
        except TimeoutError:
            unanswered.append(str(i))
            continue
        if "error" in answers[-1]:
            break
    again = p.request("fixture/count", id=100, timeout=3)
    p.close_stdin()
    p.wait()
    disk.free()
    records = trail.records(disk.log)
    return {"answers": answers, "unanswered": unanswered, "again": again, "stderr": p.stderr_text(), "records": records,
            "ready_seen": ready_seen}


def test_on_failure_block_stops_relaying(trail: Trail, full_disk: FullDisk):
    run = drive_blocked_session(trail, full_disk)
    refused = run["answers"][-1]
    assert "error" in refused and "audit" in json.dumps(refused["error"]), run["answers"][-3:]
    # From then on nothing passes: requests are answered by brig with an error.
    assert "error" in run["again"] and "audit" in json.dumps(run["again"]["error"]), run["again"]
    assert "on_failure: block" in run["stderr"], run["stderr"]
    # The log is whole records only and still verifies; brig's refusals are not in it.
    assert str(refused["id"]) not in {r["mcp"]["id"] for r in messages(run["records"], "fixture/echo", "server-to-host")}
    r = trail.verify(full_disk.log)
    assert r.returncode == 0, r.stdout


def test_on_failure_block_passes_nothing_unrecorded(trail: Trail, full_disk: FullDisk):
    run = drive_blocked_session(trail, full_disk)
    assert not run["unanswered"], f"requests forwarded although unrecorded (their answers were then dropped): {run['unanswered']}"
    # When the host got fixture/ready, it must be in the log.
    if run["ready_seen"]:
        assert messages(run["records"], "fixture/ready", "server-to-host"), "fixture/ready reached the host unrecorded"
    sent = {r["mcp"]["id"] for r in messages(run["records"], "fixture/echo", "host-to-server")}
    returned = {r["mcp"]["id"] for r in messages(run["records"], "fixture/echo", "server-to-host")}
    served = {str(a["id"]) for a in run["answers"] if "result" in a}
    assert served <= sent, f"requests forwarded without a record: {sorted(served - sent, key=int)}"
    assert served <= returned, f"server answers passed to the host without a record: {sorted(served - returned, key=int)}"


def test_on_failure_continue_keeps_relaying(trail: Trail, full_disk: FullDisk):
    if not full_disk.tmpfs:
        pytest.skip("needs a tmpfs to free space during the session (mount -t tmpfs needs root)")
    p = start_on_full_disk(trail, full_disk, "continue")
    for i in range(1, 30):
        answer = p.request("fixture/echo", {"pad": "z" * 300}, id=i, timeout=4)
        assert "result" in answer, answer
    assert "brig: audit: cannot write" in p.stderr_text() and "on_failure: continue" in p.stderr_text(), p.stderr_text()
    full_disk.free()
    assert "result" in p.request("fixture/count", id=500, timeout=4)
    p.close_stdin()
    assert p.wait() == 0
    records = trail.records(full_disk.log)
    lost = by_action(records, "audit-records-lost")
    assert lost and lost[0]["brig"]["detail"]["count"] > 0, actions(records)
    assert records[-1]["brig"]["session"]["lost"] >= lost[0]["brig"]["detail"]["count"]
    assert any(r["mcp"].get("id") == "500" for r in messages(records)), "no record after space came back"
    r = trail.verify(full_disk.log)
    assert r.returncode == 0, r.stdout


def test_session_end_counts_every_blocked_call(trail: Trail):
    """10,000 refused calls: 1000 are recorded one by one, the session end has them all, and
    `audit show` prints the totals."""
    p = trail.start(server=[trail.python, str(FIXTURES / "blocked_loop_server.py"), "10000"], ready=False)
    p.close_stdin()
    assert p.wait(timeout=120) == 0, p.stderr_text()[-2000:]
    records = trail.records()
    assert len(by_action(records, "syscall-blocked")) == 1000
    end = by_action(records, "session-end")[-1]["brig"]["session"]
    assert end["blocked_syscalls"] == {"ptrace": 10000}, end
    assert end["blocked_syscalls_suppressed"] == 9000, end
    shown = trail.run(["audit", "show", str(trail.log)])
    assert shown.returncode == 0, shown.stderr
    row = [r for r in shown.stdout.splitlines() if "session-end" in r]
    assert row and "blocked syscalls: ptrace 10000 (9000 not recorded one by one)" in row[-1], shown.stdout[-2000:]
    tail = trail.run(["audit", "tail", "--all", "-n", "1", str(trail.log)])
    assert "blocked syscalls: ptrace 10000" in tail.stdout, tail.stdout
    assert trail.verify().returncode == 0
