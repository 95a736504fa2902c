"""Fixtures for brig's end-to-end tests.

  brig          path of the brig binary under test (env BRIG_BIN, default .build/debug/brig)
  python        the venv's Python (the one running pytest), which has the MCP SDK and servers
  workdir       a fresh temporary directory
  fixture_path  path of a fixture server under Tests/e2e/fixtures/
  start_brig    starts brig over raw pipes: start_brig(server_argv, options=[...]) -> BrigProcess
  brig_state_home  (session, autouse) XDG_STATE_HOME for the whole run: a fresh directory outside
                every test's workdir, so brig's audit trail, key and pins never land in the real
                home. At the end of the run the final item `conftest.py::audit-trail` validates
                every record of every log under it against docs/audit.schema.json and runs
                `brig audit verify` on each log: a test whose log under it is invalid or does not
                verify with the default key fails the run there. Tests that tamper with logs or
                use another key set their own XDG_STATE_HOME or --audit-log elsewhere.
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
import warnings
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


def host_pid(ns_pid: int, under: int) -> int:
    """The pid, as this test sees it, of the process that calls itself `ns_pid` and descends from
    `under` (brig). In brig's namespace view the server has its own pid namespace, so the pid a
    fixture reports (os.getpid()) is its pid there; /proc/PID/status's NSpid line has both."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            nspid = next((l.split()[1:] for l in status.splitlines() if l.startswith("NSpid:")), [])
            if not nspid or int(nspid[-1]) != ns_pid:
                continue
            # Walk up to brig.
            p = int(entry)
            while p > 1:
                if p == under:
                    return int(entry)
                try:
                    p = int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    break
        time.sleep(0.05)
    raise AssertionError(f"no process {ns_pid} under brig (pid {under})")


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


# --- brig's state for the whole run, and the check of every audit trail written there -----------

AUDIT_SCHEMA = REPO / "docs" / "audit.schema.json"
_state: dict = {}   # "home": the run's XDG_STATE_HOME, "started": time.time() at setup


def brig_binary() -> str:
    return os.environ.get("BRIG_BIN") or str(REPO / ".build" / "debug" / "brig")


@pytest.fixture(scope="session", autouse=True)
def brig_state_home(tmp_path_factory) -> Path:
    """XDG_STATE_HOME of every brig the suite starts (unless a test passes its own): a fresh
    directory beside the tests' own tmp_path directories, never inside one of them (brig refuses
    an audit trail inside the sandbox's grants). The MCP SDK's stdio client passes only a few
    variables to the servers it starts: XDG_STATE_HOME is added to them for the run."""
    home = tmp_path_factory.mktemp("brig-state", numbered=True)
    home.chmod(0o700)
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(home)
    inherited = None
    try:
        from mcp.client import stdio as mcp_stdio
        inherited = mcp_stdio.DEFAULT_INHERITED_ENV_VARS
        if isinstance(inherited, list) and "XDG_STATE_HOME" not in inherited:
            inherited.append("XDG_STATE_HOME")
        else:
            inherited = None
    except Exception:
        inherited = None
    _state.update(home=home, started=time.time(), real=saved)
    yield home
    if inherited is not None and "XDG_STATE_HOME" in inherited:
        inherited.remove("XDG_STATE_HOME")
    if saved is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = saved


def audit_logs(directory: Path) -> tuple[list[Path], list[Path]]:
    """(the logs under directory: NAME.jsonl, or a rotated set without one; every log file,
    rotated NAME.jsonl.N included)."""
    files = sorted(p for p in directory.rglob("*.jsonl*") if p.is_file()
                   and (p.suffix == ".jsonl" or (p.suffix[1:].isdigit() and p.stem.endswith(".jsonl"))))
    bases = sorted({p if p.suffix == ".jsonl" else p.with_suffix("") for p in files})
    return bases, files


def audit_schema_problems(files: list[Path]) -> list[str]:
    """Every record of files against docs/audit.schema.json, plus the layout the chain relies on
    (brig the last member, brig.mac the last of brig). One line per bad record."""
    try:
        import jsonschema
    except ImportError:
        return ["the jsonschema package is missing from the venv: run scripts/bootstrap"]
    validator = jsonschema.Draft202012Validator(json.loads(AUDIT_SCHEMA.read_text()))
    problems = []
    for f in files:
        data = f.read_bytes()
        lines = data.split(b"\n")
        for n, line in enumerate(lines, 1):
            if not line:
                continue
            if n == len(lines) and not data.endswith(b"\n"):
                continue  # an incomplete last record: a brig killed mid-write (verify reports it)
            where = f"{f}:{n}"
            try:
                record = json.loads(line)
            except ValueError as e:
                if ended_by_next_session(lines, n):
                    continue  # the same, after which a later session ended the line and noted it
                problems.append(f"{where}: not JSON ({e}): {line[:200]!r}")
                continue
            errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
            for e in errors[:3]:
                path = "/".join(str(x) for x in e.absolute_path) or "(record)"
                problems.append(f"{where}: {path}: {e.message[:300]}")
            if not errors and (list(record)[-1] != "brig" or list(record["brig"])[-1] != "mac"):
                problems.append(f"{where}: brig must be the record's last member and brig.mac the last of brig")
    return problems


def ended_by_next_session(lines: list[bytes], n: int) -> bool:
    """Whether line n (1-based) is the incomplete record of a brig killed mid-write that the next
    session ended: the following record is a session start whose chain notes a partial line."""
    for later in lines[n:]:
        if not later:
            continue
        try:
            record = json.loads(later)
        except ValueError:
            return False
        chain = record.get("brig", {}).get("chain", {})
        return record.get("event", {}).get("action") == "session-start" and chain.get("previous_tail") == "partial-line"
    return False


def audit_verify_problems(brig: str, log: Path, key: Path) -> list[str]:
    """`brig audit verify` over log (with its rotated files): exit 0 with no warning other than
    what a brig the test killed leaves: a session without its end record, and its incomplete last
    record (at the end, or ended by a later session)."""
    r = subprocess.run([brig, "audit", "verify", "--key-file", str(key), str(log)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0:
        return [f"{log}: brig audit verify exited {r.returncode}: {out}"]
    odd = [ln for ln in r.stdout.splitlines()
           if ln.startswith("warning:") and "ended without its end record" not in ln
           and "the last record is incomplete" not in ln
           and "a partial record (a write was cut short; noted by the next session)" not in ln]
    return [f"{log}: brig audit verify: {ln}" for ln in odd]


class AuditTrailCheck(pytest.Item):
    """The run's last item: the audit trails every brig of the suite wrote under brig_state_home."""

    def runtest(self) -> None:
        home = _state.get("home")
        if home is None:
            pytest.skip("no test used brig_state_home")
        bases, files = audit_logs(home)
        self.add_report_section("call", "audit", f"{len(bases)} logs, {len(files)} files under {home}")
        problems = audit_schema_problems(files)
        key = home / "brig" / "audit.key"
        brig = brig_binary()
        if bases and not key.is_file():
            problems.append(f"{key}: missing, but there are logs: {', '.join(map(str, bases[:5]))}")
        elif os.access(brig, os.X_OK):
            for log in bases:
                problems += audit_verify_problems(brig, log, key)
        self._warn_about_real_home()
        if problems:
            shown = problems[:40] + ([f"... and {len(problems) - 40} more"] if len(problems) > 40 else [])
            pytest.fail(f"the suite's audit trails under {home} ({len(bases)} logs):\n" + "\n".join(shown),
                        pytrace=False)

    def _warn_about_real_home(self) -> None:
        """brig started with a scrubbed environment falls back to ~/.local/state: say so."""
        real = _state.get("real") or str(Path.home() / ".local" / "state")
        audit_dir = Path(real) / "brig" / "audit"
        try:
            touched = [p for p in audit_dir.iterdir() if p.stat().st_mtime >= _state["started"]]
        except OSError:
            return
        if touched:
            warnings.warn(pytest.PytestWarning(
                f"brig wrote audit logs outside the run's state directory, in {audit_dir}: "
                + ", ".join(sorted(p.name for p in touched)[:8]) + " (a test started brig without XDG_STATE_HOME)"))

    def reportinfo(self):
        return Path(__file__), None, "audit trails of the run"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    """Appends AuditTrailCheck after everything else (also after -k/-m selection)."""
    if items:
        items.append(AuditTrailCheck.from_parent(session, name="audit-trail",
                                                 nodeid="conftest.py::audit-trail"))
