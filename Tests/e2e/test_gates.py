"""brig's seccomp gates (docs/unix-gate.md): named UNIX sockets are reachable only under
sandbox.filesystem.unix (--unix), and an ELF in a memfd cannot be executed.

Sockets made by the test sit outside every grant, in a 0777 directory under the hostile base dir
(0777 sockets, so the unprivileged user reaches them unconfined): each probe must ESCAPE
unconfined and be BLOCKED under brig, as root and as brigtest, with brig's report naming the path.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from test_confinement import (EACCES, EPERM, Runner, assert_blocked, assert_escaped_unconfined, hostile,  # noqa: F401
                              listener, require_brig_runs, runner)


class Listener:
    """A stream socket that answers every connection with `reply`, or a datagram socket that
    counts what it receives."""

    def __init__(self, path: Path, kind: int = socket.SOCK_STREAM, reply: bytes = b"pong"):
        self.path = path
        self.received: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, kind)
        self.sock.bind(str(path))
        path.chmod(0o777)
        if kind == socket.SOCK_STREAM:
            self.sock.listen(128)
        self.kind, self.reply = kind, reply
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                if self.kind == socket.SOCK_DGRAM:
                    data = self.sock.recv(4096)
                    if not self.stopping.is_set():
                        self.received.append(data)
                    continue
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                if self.stopping.is_set():
                    return
                try:
                    c.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        # The thread ends before the descriptor is released: a thread still calling accept()
        # on a closed number would take the connections of whatever socket gets that number
        # next (it did: an HTTP server of test_egress.py answered "pong").
        self.stopping.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept() or recv()
        except OSError:
            pass
        self.thread.join(5)
        assert not self.thread.is_alive(), f"the listener thread for {self.path} did not end"
        self.sock.close()
        self.path.unlink(missing_ok=True)


@pytest.fixture
def outside(hostile):
    """A 0777 directory outside every grant, for the test's sockets."""
    d = Path(tempfile.mkdtemp(prefix="sockets-", dir=hostile.base))
    d.chmod(0o777)
    made: list[Listener] = []

    def make(name: str, kind: int = socket.SOCK_STREAM, reply: bytes = b"pong") -> Listener:
        sub = d / name
        sub.parent.mkdir(parents=True, exist_ok=True)
        sub.parent.chmod(0o777)
        made.append(Listener(sub, kind, reply))
        return made[-1]

    yield make
    for m in made:
        m.close()


def assert_reported(res, path) -> None:
    assert any(f"to unix socket {path} from pid" in line and "not under sandbox.filesystem.unix" in line
               and f'answered EACCES; to allow: sandbox.filesystem.unix: ["{path}"]' in line
               for line in res.stderr.splitlines()), \
        "brig's report does not name the socket:\n" + res.describe()


PROBES = [("unix_connect", socket.SOCK_STREAM), ("unix_sendto", socket.SOCK_DGRAM), ("unix_sendmsg", socket.SOCK_DGRAM),
          ("unix_sendmmsg", socket.SOCK_DGRAM)]


@pytest.mark.parametrize("fixture,kind", PROBES, ids=[p[0] for p in PROBES])
@pytest.mark.parametrize("name", ["agent/ssh-agent.sock", "run/docker.sock"])
def test_named_socket_outside_grants_refused(runner: Runner, outside, fixture, kind, name):
    sock = outside(name, kind)
    argv = [runner.h.fixture(fixture), str(sock.path)]
    assert_escaped_unconfined(runner.unconfined(argv))
    require_brig_runs(runner)
    for profile in ("default", "strict"):
        res = runner.brig(argv, ["--profile", profile])
        assert_blocked(res, EACCES)
        assert_reported(res, sock.path)


@pytest.mark.parametrize("fixture,kind", PROBES, ids=[p[0] for p in PROBES])
def test_granted_socket_works(runner: Runner, outside, fixture, kind):
    """--unix naming the socket itself, or a directory above it, lets the same probe through."""
    require_brig_runs(runner)
    sock = outside("granted/dir/app.sock", kind)
    for grant in (sock.path, sock.path.parent.parent):
        res = runner.brig([runner.h.fixture(fixture), str(sock.path)], ["--unix", str(grant)])
        assert res.verdict == "ESCAPED" and res.rc == 0, f"--unix {grant}:\n" + res.describe()
    if kind == socket.SOCK_DGRAM:
        assert len(sock.received) >= 2, sock.received


def test_granted_prefix_is_not_a_sibling(runner: Runner, outside):
    """A grant of DIR covers DIR/... and not DIR-other/...."""
    require_brig_runs(runner)
    sock = outside("granted-other/app.sock")
    res = runner.brig([runner.h.fixture("unix_connect"), str(sock.path)], ["--unix", str(sock.path.parent)[:-len("-other")]])
    assert_blocked(res, EACCES)


def test_symlink_into_a_grant_is_judged_by_its_target(runner: Runner, outside, hostile):
    """A symlink inside a grant pointing outside is refused; one outside pointing in works."""
    require_brig_runs(runner)
    outer = outside("docker/docker.sock")
    inner = outside("granted/app.sock")
    grant = inner.path.parent
    out_link = grant / "sneaky.sock"
    out_link.symlink_to(outer.path)
    in_link = outer.path.parent / "link-in.sock"
    in_link.symlink_to(inner.path)
    try:
        # --no-view: the gate judges the links itself (in the view the outside one does not exist at all).
        res = runner.brig([runner.h.fixture("unix_connect"), str(out_link)], ["--unix", str(grant), "--no-view"])
        assert_blocked(res, EACCES)
        assert_reported(res, outer.path)
        res = runner.brig([runner.h.fixture("unix_connect"), str(in_link)], ["--unix", str(grant), "--no-view"])
        assert res.verdict == "ESCAPED", res.describe()
    finally:
        out_link.unlink()
        in_link.unlink()


def test_own_socket_in_private_tmp_works(runner: Runner):
    """$TMPDIR is granted in the built-in profiles: a server's own sockets keep working."""
    require_brig_runs(runner)
    for profile in ("default", "strict"):
        res = runner.brig([runner.h.fixture("unix_self")], ["--profile", profile])
        assert res.verdict == "ESCAPED" and res.rc == 0, f"{profile}:\n" + res.describe()


def test_connect_race_never_reaches_the_denied_socket(runner: Runner, outside):
    allowed = outside("granted/allowed.sock", reply=b"allowd")
    denied = outside("docker/denied.sock", reply=b"denied")
    argv = [runner.h.fixture("unix_connect_race"), str(allowed.path), str(denied.path)]
    assert_escaped_unconfined(runner.unconfined(argv))
    require_brig_runs(runner)
    res = runner.brig(argv, ["--unix", str(allowed.path.parent)], timeout=120)
    assert res.verdict != "ESCAPED", "ESCAPED under brig:\n" + res.describe()
    assert "every connection reached the allowed socket or was refused" in res.stderr, res.describe()


@pytest.mark.parametrize("profile", ["default", "strict"])
def test_memfd_exec_refused(runner: Runner, profile):
    argv = [runner.h.fixture("memfd_exec")]
    assert_escaped_unconfined(runner.unconfined(argv))
    require_brig_runs(runner)
    res = runner.brig(argv, ["--profile", profile])
    assert_blocked(res)
    # The memfd itself is brig's MFD_NOEXEC_SEAL one (not only Landlock's exec rule at work),
    # execveat(AT_EMPTY_PATH) is refused in the filter, and MFD_EXEC is refused and reported.
    assert "execveat: Operation not permitted" in res.stderr, res.describe()
    assert "fchmod +x: Operation not permitted" in res.stderr, res.describe()
    assert "memfd_create(MFD_EXEC): Operation not permitted" in res.stderr, res.describe()
    assert "brig: blocked memfd_create with MFD_EXEC from pid" in res.stderr, res.describe()


def test_tcp_through_the_gate(runner: Runner, listener):
    """connect goes through brig now: network: all still connects, a port rule still refuses
    another port (Landlock does not bind brig, so the gate checks the port itself)."""
    require_brig_runs(runner)
    argv = [runner.h.fixture("inet_connect"), str(listener)]
    res = runner.brig(argv, ["--profile", "default"])
    assert res.verdict == "ESCAPED" and res.rc == 0, res.describe()
    res = runner.brig(argv, ["--net", str(listener)])
    assert res.verdict == "ESCAPED" and res.rc == 0, res.describe()
    other = listener + 1 if listener < 65535 else listener - 1
    res = runner.brig(argv, ["--net", str(other)])
    assert_blocked(res, EACCES)
    assert f"blocked connect to TCP port {listener} from pid" in res.stderr, res.describe()


def test_check_shows_the_gate(hostile):
    import subprocess
    r = subprocess.run([str(hostile.brig), "check", "--profile", "default", "--", "/bin/true"], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert "unix sockets: pathname connect/sendto/sendmsg/sendmmsg only under " in out, out
    assert "fileless exec: memfds are created MFD_NOEXEC_SEAL" in out, out


def test_refusal_is_in_the_audit_trail(runner: Runner, outside):
    """The refused connect is an audit event naming the path, valid against docs/audit.schema.json."""
    jsonschema = pytest.importorskip("jsonschema")
    require_brig_runs(runner)
    sock = outside("run/docker.sock")
    log = Path(tempfile.mkdtemp(prefix="audit-", dir=runner.state_home())) / "gates.jsonl"
    if os.geteuid() == 0:
        os.chown(log.parent, *runner.ids)
    res = runner.brig([runner.h.fixture("unix_connect"), str(sock.path)], ["--audit-log", str(log)])
    assert_blocked(res, EACCES)
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "audit.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    for r in records:
        assert not list(validator.iter_errors(r)), r
    refused = [r for r in records if r["event"]["action"] == "gated-call-refused"]
    assert len(refused) == 1, records
    detail = refused[0]["brig"]["detail"]
    assert detail["path"] == str(sock.path) and detail["syscall"] == "connect", detail
