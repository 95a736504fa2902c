"""Fixtures for brig's end-to-end tests.

  brig          path of the brig binary under test (env BRIG_BIN, default .build/debug/brig)
  python        the venv's Python (the one running pytest), which has the MCP SDK and servers
  workdir       a fresh temporary directory
  fixture_path  path of a fixture server under Tests/e2e/fixtures/
  start_brig    starts brig over raw pipes: start_brig(server_argv, options=[...]) -> BrigProcess
"""
from __future__ import annotations

import base64
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class BrigProcess:
    """brig started with pipes for stdin, stdout and stderr, read with timeouts.

    stdout is read line by line (bytes, without the newline); stderr is collected by a thread
    so that it can never fill up and block brig.
    """

    def __init__(self, argv: list[str], **popen_args):
        self.argv = argv
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0, **popen_args)
        self._out = b""
        self._eof = False
        self._err = bytearray()
        self._err_thread = threading.Thread(target=self._collect_stderr, daemon=True)
        self._err_thread.start()

    def _collect_stderr(self) -> None:
        fd = self.proc.stderr.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self._err.extend(chunk)

    # --- host -> brig ------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send_json(self, obj) -> None:
        self.send(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def request(self, method: str, params=None, id=1, timeout: float = 10):
        """Sends a request and returns the response with that id (skipping notifications)."""
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_json(msg)
        return self.read_until(lambda m: m.get("id") == id and "method" not in m, timeout)

    def close_stdin(self) -> None:
        self.proc.stdin.close()

    # --- brig -> host ------------------------------------------------------------------------
    def read_line(self, timeout: float = 10) -> bytes:
        """The next line on brig's stdout, without its newline. EOFError at end of output."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._out:
            if self._eof:
                raise EOFError(f"brig's stdout ended; unterminated rest: {self._out!r}; stderr: {self.stderr_text()!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line from brig within {timeout}s; stderr so far: {self.stderr_text()!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    self._out += chunk
                else:
                    self._eof = True
        line, self._out = self._out.split(b"\n", 1)
        return line

    def read_json(self, timeout: float = 10):
        line = self.read_line(timeout)
        try:
            return json.loads(line)
        except ValueError as e:
            raise AssertionError(f"brig wrote a line that is not JSON: {line[:300]!r}") from e

    def read_until(self, predicate, timeout: float = 10):
        """Reads messages until one satisfies predicate; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read_json(max(0.0, deadline - time.monotonic()))
            if predicate(msg):
                return msg

    def read_notification(self, method: str, timeout: float = 10):
        return self.read_until(lambda m: m.get("method") == method and "id" not in m, timeout)

    def read_rest(self, timeout: float = 10) -> list[bytes]:
        """Every remaining line up to the end of brig's stdout."""
        rest = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                rest.append(self.read_line(max(0.0, deadline - time.monotonic())))
            except EOFError:
                if self._out:
                    rest.append(self._out)
                    self._out = b""
                return rest

    # --- exit --------------------------------------------------------------------------------
    def wait(self, timeout: float = 10) -> int:
        return self.proc.wait(timeout)

    def stderr_text(self) -> str:
        return self._err.decode("utf-8", "replace")

    def stderr_bytes(self, settle: float = 2) -> bytes:
        """brig's stderr; once brig has exited, all of it."""
        if self.proc.poll() is not None:
            self._err_thread.join(settle)
        return bytes(self._err)

    def brig_lines(self, at_least: int = 0, timeout: float = 5, settle: float = 0.2) -> list[str]:
        """The `brig: ...` report lines on stderr. While brig runs, waits (up to timeout) until
        there are at least `at_least` of them, then `settle` seconds more for any extra."""
        def current():
            text = self.stderr_bytes().decode("utf-8", "replace")
            return [ln for ln in text.splitlines() if ln.startswith("brig:")]
        deadline = time.monotonic() + timeout
        while len(current()) < at_least and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.02)
        if self.proc.poll() is None:
            time.sleep(settle)
        return current()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass


def run_brig(brig: str, args: list[str], timeout: float = 20, **kwargs) -> subprocess.CompletedProcess:
    """Runs brig to completion with stdin closed (for exit-code and usage tests)."""
    return subprocess.run([brig, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, **kwargs)


def process_gone(pid: int) -> bool:
    """True when pid no longer exists or is a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.fixture(scope="session")
def brig() -> str:
    path = os.environ.get("BRIG_BIN") or str(REPO / ".build" / "debug" / "brig")
    if not os.access(path, os.X_OK):
        pytest.fail(f"brig binary not found at {path}: build it (swift build) or set BRIG_BIN")
    return path


@pytest.fixture(scope="session")
def python() -> str:
    """The venv's Python: it runs pytest (scripts/test) and has mcp and the servers."""
    return sys.executable


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def fixture_path():
    def path(name: str) -> str:
        p = FIXTURES / name
        assert p.is_file(), p
        return str(p)
    return path


@pytest.fixture
def start_brig(brig, python, fixture_path):
    """start_brig(["echo_server.py", "--flag"], options=["--grace", "1"]) -> BrigProcess.

    A first element ending in .py is a fixture server run with the venv's Python; otherwise the
    list is the server command as is. Every process is killed at the end of the test.
    """
    started: list[BrigProcess] = []

    def start(server: list[str], options: list[str] = (), **popen_args) -> BrigProcess:
        if server and server[0].endswith(".py"):
            server = [python, "-u", fixture_path(server[0]), *server[1:]]
        p = BrigProcess([brig, *options, "--", *server], **popen_args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


@pytest.fixture
def echo(start_brig):
    """brig in front of the echo fixture server, already past its fixture/ready notification."""
    p = start_brig(["echo_server.py"])
    p.ready = p.read_notification("fixture/ready")
    return p


def signal_name(n: int) -> str:
    return signal.Signals(n).name
