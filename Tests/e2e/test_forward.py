"""`brig audit forward` against a real rsyslog (Debian's rsyslog, rsyslog-gnutls, rsyslog-relp), started
by the tests with a private configuration: plain TCP with octet counting (imptcp), TLS (imtcp with
gtls, a test CA made with openssl), RELP (imrelp). The collector writes each message's MSG as one
line (`%msg%\\n`), so its file is the records as brig wrote them, and `brig audit verify
--interleaved` checks it with the same key.

Covered: a session shipped byte for byte; the collector killed in the middle of a burst and started
again (every record arrives, verify passes, resent records are duplicates); edits, drops and reorders
of the collector's file named; two brig processes with rotation, two forwarders, one collector file;
a forwarder restart resuming at the right record; a file rotated away before it was forwarded (a
loud gap); a denial at the collector within a second during a burst; TLS with a checked certificate
(and a wrong CA refused), a client certificate; RELP."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FIXTURES

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
pytestmark = pytest.mark.skipif(not os.path.exists(RSYSLOGD),
                                reason="rsyslogd is missing: run scripts/bootstrap (rsyslog, rsyslog-gnutls, rsyslog-relp)")

# The collector configuration the README shows (ports, paths and TLS files filled in by the tests).
COLLECTOR_CONF = """\
# Before any input: messages up to 4 MiB (a record with a full payload can be large), and
# control characters kept as they are (JSON has none raw; nothing is rewritten).
global(maxMessageSize="4m" workDirectory="{work}"
       parser.escapeControlCharactersOnReceive="off"{tls_global})
# No queue between input and file: what the collector acknowledged is in the file.
main_queue(queue.type="Direct")
{modules}
# The record is the message: one line per record, unchanged.
template(name="brigRecord" type="string" string="%msg%\\n")
ruleset(name="brig") {{
    if $app-name == "brig" and $msgid == "audit" then {{
        action(type="omfile" file="{out}" template="brigRecord" flushOnTXEnd="on")
    }}
}}
{inputs}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CertificateAuthority:
    """A CA and a server certificate for 127.0.0.1 / localhost, and a client certificate."""

    def __init__(self, d: Path):
        d.mkdir(parents=True, exist_ok=True)
        self.dir = d
        self.ca_key, self.ca = d / "ca.key", d / "ca.pem"
        self.key, self.cert = d / "server.key", d / "server.pem"
        self.client_key, self.client_cert = d / "client.key", d / "client.pem"

        def run(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=brig test CA",
            "-keyout", str(self.ca_key), "-out", str(self.ca))
        for name, key, cert, ext in [("localhost", self.key, self.cert, "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                                     ("brig-client", self.client_key, self.client_cert, "extendedKeyUsage=clientAuth")]:
            csr = d / f"{name}.csr"
            (d / f"{name}.ext").write_text(ext + "\n")
            run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr))
            run("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key), "-CAcreateserial",
                "-days", "2", "-out", str(cert), "-extfile", str(d / f"{name}.ext"))


class Collector:
    """rsyslogd -n with a private configuration; `out` is the collector's file."""

    def __init__(self, d: Path, transport: str, ca: CertificateAuthority | None = None, client_auth: bool = False):
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)
        self.transport = transport
        self.port = free_port()
        self.out = d / "collector.jsonl"
        self.conf = d / "rsyslog.conf"
        self.pidfile = d / "rsyslogd.pid"
        tls_global = ""
        if transport == "tcp":
            modules = 'module(load="imptcp")'
            inputs = f'input(type="imptcp" port="{self.port}" address="127.0.0.1" ruleset="brig")'
        elif transport == "tls":
            assert ca
            tls_global = (f'\n       defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{ca.ca}"'
                          f'\n       defaultNetstreamDriverCertFile="{ca.cert}" defaultNetstreamDriverKeyFile="{ca.key}"')
            auth = "x509/certvalid" if client_auth else "anon"
            modules = f'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="{auth}")'
            inputs = f'input(type="imtcp" port="{self.port}" address="127.0.0.1" ruleset="brig")'
        else:
            modules = 'module(load="imrelp")'
            inputs = f'input(type="imrelp" port="{self.port}" address="127.0.0.1" ruleset="brig")'
        self.conf.write_text(COLLECTOR_CONF.format(work=d, tls_global=tls_global, modules=modules, out=self.out,
                                                   inputs=inputs))
        self.proc: subprocess.Popen | None = None
        self.log = d / "rsyslogd.out"

    @property
    def url(self) -> str:
        return f"{self.transport}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.pidfile.unlink(missing_ok=True)
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"rsyslogd did not listen on {self.port}: {self.log.read_text()}")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def raw_lines(self) -> list[bytes]:
        try:
            return [ln for ln in self.out.read_bytes().split(b"\n") if ln]
        except FileNotFoundError:
            return []

    def lines(self) -> list[bytes]:
        """The collector's records: a line a SIGKILL tore (the start of a record, then the next
        one written after the restart) counts as the record after the torn bytes."""
        return [piece for ln in self.raw_lines() for piece in torn_split(ln)[1:]]

    def torn(self) -> list[bytes]:
        """The torn starts of records in the collector's file."""
        return [head for ln in self.raw_lines() if (head := torn_split(ln)[0])]

    def wait_for(self, wanted: list[bytes], timeout: float = 30) -> list[bytes]:
        """Waits until every line of `wanted` is in the collector's file; returns its lines."""
        deadline = time.monotonic() + timeout
        want = set(wanted)
        while True:
            got = self.lines()
            if want <= set(got):
                return got
            if time.monotonic() > deadline:
                missing = want - set(got)
                raise AssertionError(f"{len(missing)} of {len(want)} records not at the collector after {timeout}s "
                                     f"(it has {len(got)} lines); rsyslogd: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)


RECORD_START = b'{"@timestamp":'


def torn_split(line: bytes) -> tuple[bytes, bytes]:
    """(torn head, record): a line that is no JSON but ends in one after a record start is a
    collector's torn write followed by the next record; any other line is (b"", line)."""
    try:
        json.loads(line)
        return b"", line
    except ValueError:
        pass
    k = line.rfind(RECORD_START, 1)
    while k > 0:
        try:
            json.loads(line[k:])
            return line[:k], line[k:]
        except ValueError:
            k = line.rfind(RECORD_START, 1, k)
    return b"", line


class Forwarding:
    """One test's brig state, logs, forwarders and collectors."""

    def __init__(self, tmp: Path, brig: str, python: str):
        self.tmp = tmp
        self.brig = brig
        self.python = python
        self.state = tmp / "state"
        self.work = tmp / "work"
        self.work.mkdir()
        self.key = self.state / "brig" / "audit.key"
        self.env = dict(os.environ, XDG_STATE_HOME=str(self.state))
        self.forwarders: list[subprocess.Popen] = []
        self.collectors: list[Collector] = []

    def collector(self, transport: str = "tcp", name: str = "collector", **kw) -> Collector:
        c = Collector(self.tmp / name, transport, **kw)
        c.start()
        self.collectors.append(c)
        return c

    def profile(self, body: str, name: str) -> Path:
        path = self.tmp / f"{name}.yaml"
        path.write_text(f"version: 1\nname: {name}\nextends: default\n{body}")
        return path

    def session(self, log: Path, requests: list[dict], profile: Path | None = None, wait: bool = True):
        """brig in front of the echo fixture, fed `requests` at once (a burst), then end of input."""
        argv = [self.brig, "run", "--workdir", str(self.work), "--ro", str(FIXTURES), "--audit-log", str(log)]
        if profile:
            argv += ["--profile", str(profile)]
        argv += ["--", self.python, "-u", str(FIXTURES / "echo_server.py")]
        data = b"".join(json.dumps(r).encode() + b"\n" for r in requests)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        if not wait:
            return p, data
        _, err = p.communicate(data, timeout=120)
        assert p.returncode == 0, err.decode(errors="replace")
        return p

    def forward(self, log: Path, collector: Collector, state: Path | None = None, extra=()) -> subprocess.Popen:
        argv = [self.brig, "audit", "forward", str(log), "--to", collector.url,
                "--state", str(state or self.tmp / (log.stem + ".position")), *extra]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self.forwarders.append(p)
        return p

    def stop(self, p: subprocess.Popen) -> str:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=20)
        assert p.returncode == 0, err.decode(errors="replace")
        return err.decode(errors="replace")

    def local(self, log: Path) -> list[bytes]:
        """The records of log and its rotated files, oldest first."""
        rotated = sorted(log.parent.glob(log.name + ".*"), key=lambda f: -int(f.suffix[1:]))
        return [ln for f in [*rotated, log] if f.exists() for ln in f.read_bytes().split(b"\n") if ln]

    def verify(self, *files: Path) -> subprocess.CompletedProcess:
        return subprocess.run([self.brig, "audit", "verify", "--interleaved", "--key-file", str(self.key), *map(str, files)],
                              capture_output=True, text=True, timeout=60, env=self.env, stdin=subprocess.DEVNULL)

    def close(self) -> None:
        for p in self.forwarders:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for c in self.collectors:
            c.kill()


@pytest.fixture
def fwd(tmp_path, brig, python):
    f = Forwarding(tmp_path, brig, python)
    yield f
    f.close()


def counts(n: int, start: int = 1, note: str = "") -> list[dict]:
    return [{"jsonrpc": "2.0", "id": i, "method": "fixture/count", "params": {"note": note}} for i in range(start, start + n)]


DENY = "mcp:\n  tools:\n    rules:\n      - {name: forbidden, allow: false}\n"


# --- shipping, verification at the collector -----------------------------------------------------

@pytest.mark.parametrize("transport", ["tcp", "relp"])
def test_a_session_arrives_unchanged(fwd: Forwarding, transport: str):
    c = fwd.collector(transport)
    log = fwd.tmp / "audit" / "one.jsonl"
    fwd.session(log, counts(20))
    p = fwd.forward(log, c)
    local = fwd.local(log)
    got = c.wait_for(local)
    assert got == local  # byte for byte, in order, once
    err = fwd.stop(p)
    assert "WARNING" not in err, err
    r = fwd.verify(c.out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"intact: {len(local)} records, 1 chain, 1 sessions, 0 duplicates" in r.stdout, r.stdout
    pos = json.loads((fwd.tmp / "one.position").read_text())
    assert pos["sequence"] == json.loads(local[-1])["event"]["sequence"]
    assert pos["offset"] == log.stat().st_size and pos["inode"] == log.stat().st_ino


def tampered_collector_file(fwd: Forwarding) -> tuple[Collector, list[bytes]]:
    c = fwd.collector("tcp")
    logs = [fwd.tmp / "audit" / f"m{i}.jsonl" for i in (1, 2)]
    for log in logs:
        fwd.session(log, counts(6))
    ps = [fwd.forward(log, c) for log in logs]
    lines = c.wait_for(fwd.local(logs[0]) + fwd.local(logs[1]))
    for p in ps:
        fwd.stop(p)
    ok = fwd.verify(c.out)
    assert ok.returncode == 0 and "2 chains, 2 sessions, 0 duplicates" in ok.stdout, ok.stdout + ok.stderr
    return c, lines


@pytest.mark.parametrize("how", ["edit", "drop", "reorder", "duplicate-run"])
def test_damage_at_the_collector_is_named(fwd: Forwarding, how: str):
    c, lines = tampered_collector_file(fwd)
    target = 6  # a message record in the middle of a session
    seq = json.loads(lines[target])["event"]["sequence"]
    if how == "edit":
        lines[target] = lines[target].replace(b'"fixture/count"', b'"fixture/other"')
    elif how == "drop":
        del lines[target]
    elif how == "reorder":
        session = json.loads(lines[target])["brig"]["session"]["id"]
        later = next(i for i in range(target + 1, len(lines)) if json.loads(lines[i])["brig"]["session"]["id"] == session)
        lines[target], lines[later] = lines[later], lines[target]
    else:
        lines = lines + lines[4:9]
    c.out.write_bytes(b"\n".join(lines) + b"\n")
    r = fwd.verify(c.out)
    if how == "duplicate-run":
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count("duplicate: ") == 5 and "5 duplicates" in r.stdout, r.stdout
        return
    assert r.returncode == 1, r.stdout + r.stderr
    kind = {"edit": "modified", "drop": "deleted", "reorder": "reordered"}[how]
    damaged = [ln for ln in r.stdout.splitlines() if ln.startswith("damaged: ")]
    assert len(damaged) == 1 and f": {kind}: " in damaged[0], r.stdout
    if how == "drop":
        assert f"record {seq} is missing" in damaged[0], damaged
    else:
        assert f"{c.out}:" in damaged[0], damaged
    assert f"brig: damaged: 1 problem, the first {c.out}" in r.stderr


# --- the collector down, slow, restarted ---------------------------------------------------------

@pytest.mark.timeout(180)
@pytest.mark.parametrize("transport", ["tcp", "relp"])
def test_collector_killed_in_a_burst_loses_nothing(fwd: Forwarding, transport: str):
    c = fwd.collector(transport)
    log = fwd.tmp / "audit" / "burst.jsonl"
    fwd.session(log, counts(1))
    p = fwd.forward(log, c)
    brig, data = fwd.session(log, counts(4000, start=2, note="n" * 100), wait=False)
    brig.stdin.write(data)
    brig.stdin.flush()
    deadline = time.monotonic() + 30
    while len(c.lines()) < 500 and time.monotonic() < deadline:
        time.sleep(0.01)
    c.kill(signal.SIGKILL)
    killed_at = len(c.lines())
    time.sleep(1.5)
    brig.stdin.close()
    assert brig.wait(60) == 0
    c.start()
    local = fwd.local(log)
    assert killed_at < len(local)  # the kill was in the middle
    got = c.wait_for(local, timeout=60)
    err = fwd.stop(p)
    assert "records wait in the local trail" in err and "connected again" in err, err
    r = fwd.verify(c.out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert f"intact: {len(local)} records, 1 chain" in r.stdout, r.stdout[-500:]
    assert len(got) - len(local) == r.stdout.count("duplicate: ")
    # A SIGKILL in the middle of the collector's write tears a record: verify names it, and the
    # record is whole elsewhere (the forwarder sent it again), so nothing is lost or damaged.
    assert len(c.torn()) == r.stdout.count(": a torn write (the collector stopped in the middle of sequence "), r.stdout[-2000:]


def test_restart_resumes_at_the_next_record(fwd: Forwarding):
    c = fwd.collector("tcp")
    log = fwd.tmp / "audit" / "resume.jsonl"
    fwd.session(log, counts(5))
    p = fwd.forward(log, c)
    c.wait_for(fwd.local(log))
    fwd.stop(p)
    first = len(fwd.local(log))
    pos = json.loads((fwd.tmp / "resume.position").read_text())
    assert pos["sequence"] == first
    fwd.session(log, counts(7))
    fwd.session(log, counts(3))
    p = fwd.forward(log, c)
    local = fwd.local(log)
    got = c.wait_for(local)
    fwd.stop(p)
    assert got == local  # the restart sent exactly the records after the position, once
    r = fwd.verify(c.out)
    assert r.returncode == 0 and "3 sessions, 0 duplicates" in r.stdout, r.stdout + r.stderr


def test_two_brig_processes_and_rotation_while_forwarding(fwd: Forwarding):
    c = fwd.collector("tcp")
    profile = fwd.profile("audit:\n  rotate: {max_bytes: 4096, keep: 50}\n", "rot")
    logs = [fwd.tmp / "audit" / f"host{i}.jsonl" for i in (1, 2)]
    ps = [fwd.forward(log, c) for log in logs]
    time.sleep(0.3)
    brigs = [fwd.session(log, counts(60, note="r" * 150), profile=profile, wait=False) for log in logs]
    for b, data in brigs:
        b.stdin.write(data)
        b.stdin.flush()
        b.stdin.close()
    for b, _ in brigs:
        assert b.wait(60) == 0, b.stderr.read().decode(errors="replace")
    for log in logs:
        assert len(list(log.parent.glob(log.name + ".*"))) >= 5  # rotated while forwarding
    local = fwd.local(logs[0]) + fwd.local(logs[1])
    got = c.wait_for(local)
    for p in ps:
        assert "WARNING" not in fwd.stop(p)
    assert len(got) == len(local)
    r = fwd.verify(c.out)
    assert r.returncode == 0 and "2 chains, 2 sessions, 0 duplicates" in r.stdout, r.stdout + r.stderr


def test_a_file_rotated_away_before_it_was_forwarded_is_a_loud_gap(fwd: Forwarding):
    c = fwd.collector("tcp")
    profile = fwd.profile("audit:\n  rotate: {max_bytes: 4096, keep: 2}\n", "gap")
    log = fwd.tmp / "audit" / "gap.jsonl"
    fwd.session(log, counts(2), profile=profile)
    p = fwd.forward(log, c)
    c.wait_for(fwd.local(log))
    fwd.stop(p)
    fwd.session(log, counts(80, note="g" * 150), profile=profile)  # many rotations, only 2 kept
    p = fwd.forward(log, c)
    local = fwd.local(log)
    c.wait_for(local)
    err = fwd.stop(p)
    assert "WARNING" in err and "rotated away" in err, err
    pos = json.loads((fwd.tmp / "gap.position").read_text())
    assert pos["gaps"], pos
    r = fwd.verify(c.out)
    assert r.returncode == 1 and ": deleted: " in r.stdout, r.stdout  # the records lost are named at the collector


def test_a_denial_reaches_the_collector_within_a_second_in_a_burst(fwd: Forwarding):
    """A denial in the middle of a burst of allowed calls: at the collector within a second of its
    record's @timestamp (when brig handed it to the log), though the writer holds the burst's
    records back (a denial is urgent) and the forwarder is busy shipping them."""
    c = fwd.collector("tcp")
    profile = fwd.profile(DENY, "deny")
    log = fwd.tmp / "audit" / "deny.jsonl"
    fwd.session(log, counts(1), profile=profile)
    p = fwd.forward(log, c)
    c.wait_for(fwd.local(log))
    burst = counts(6000, start=10)
    denial = {"jsonrpc": "2.0", "id": 999999, "method": "tools/call", "params": {"name": "forbidden", "arguments": {}}}
    brig, data = fwd.session(log, burst[:3000] + [denial] + burst[3000:], profile=profile, wait=False)
    brig.stdin.write(data)
    brig.stdin.flush()
    arrived, offset, pending = None, 0, b""
    deadline = time.monotonic() + 60
    while arrived is None and time.monotonic() < deadline:
        try:
            with c.out.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        pending += chunk
        *done, pending = pending.split(b"\n")
        now = time.time()
        for ln in done:
            if b'"tool":"forbidden"' in ln and b'"host-to-server"' in ln:
                arrived = (now, json.loads(ln))
        time.sleep(0.01)
    brig.stdin.close()
    assert brig.wait(60) == 0
    fwd.stop(p)
    assert arrived is not None, "the denial never reached the collector"
    seen, record = arrived
    assert record["event"]["type"] == ["denied"]
    stamp = record["@timestamp"]
    from datetime import datetime
    t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=__import__("datetime").timezone.utc).timestamp()
    # Records after the denial were still being written: the burst was going on.
    later = [json.loads(ln) for ln in fwd.local(log) if b'"fixture/count"' in ln]
    assert sum(1 for r in later if r["@timestamp"] > stamp) > 100
    assert seen - t < 1.0, f"the denial reached the collector {seen - t:.3f}s after its record's time"


# --- TLS -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


def test_tls_checks_the_collector_certificate(fwd: Forwarding, ca: CertificateAuthority):
    c = fwd.collector("tls", ca=ca)
    log = fwd.tmp / "audit" / "tls.jsonl"
    fwd.session(log, counts(10))
    p = fwd.forward(log, c, extra=["--ca", str(ca.ca)])
    local = fwd.local(log)
    assert c.wait_for(local) == local
    fwd.stop(p)
    assert fwd.verify(c.out).returncode == 0
    # Another CA: the certificate is refused, said once, nothing sent, the forwarder keeps trying.
    other = CertificateAuthority(fwd.tmp / "other-ca")
    c2 = fwd.collector("tls", name="c2", ca=ca)
    p = fwd.forward(log, c2, state=fwd.tmp / "other.position", extra=["--ca", str(other.ca)])
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=20)
    assert "certificate is not accepted" in err.decode(), err
    assert c2.lines() == []
    assert not (fwd.tmp / "other.position").exists()


def test_tls_with_a_client_certificate(fwd: Forwarding, ca: CertificateAuthority):
    c = fwd.collector("tls", ca=ca, client_auth=True)
    log = fwd.tmp / "audit" / "mtls.jsonl"
    fwd.session(log, counts(3))
    p = fwd.forward(log, c, extra=["--ca", str(ca.ca), "--cert", str(ca.client_cert), "--key", str(ca.client_key)])
    local = fwd.local(log)
    assert c.wait_for(local) == local
    fwd.stop(p)


def test_bad_arguments_are_one_line_exit_125(fwd: Forwarding):
    log = fwd.tmp / "audit" / "x.jsonl"
    for args, text in [(["--to", "udp://127.0.0.1:1"], "unknown scheme"),
                       (["--to", "tls://127.0.0.1:514", "--ca", str(fwd.tmp / "missing.pem")], "missing.pem")]:
        r = subprocess.run([fwd.brig, "audit", "forward", str(log), *args], capture_output=True, text=True, env=fwd.env,
                           timeout=20)
        assert r.returncode in (64, 125) and text in r.stderr, (args, r.returncode, r.stderr)
    (fwd.tmp / "bad.position").write_text("{\"log\": 3}\n")
    r = subprocess.run([fwd.brig, "audit", "forward", str(log), "--to", "tcp://127.0.0.1:1", "--state",
                        str(fwd.tmp / "bad.position")], capture_output=True, text=True, env=fwd.env, timeout=20)
    assert r.returncode == 125 and "bad.position:1: log" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
