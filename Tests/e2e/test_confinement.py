"""Hostile children: each fixture in Tests/hostile tries one escape. Every case is run twice:

  * unconfined (directly, as the same user) to prove the probe really detects the escape:
    it must print ESCAPED, or the half is skipped with the reason it cannot work even unconfined;
  * under brig, where it must print BLOCKED (or be killed: SIGSYS for the i386/x32 entry points).

Everything runs both as root and as an unprivileged user (`brigtest`, created if missing, reached
through setpriv). The fixtures and a copy of brig live in a 0755 directory under /tmp, so that
the unprivileged user can execute them. A fixture reports on its stderr (stdout is the JSON-RPC
channel brig relays), which brig passes through.

An ESCAPED line under brig is a real sandbox bug: these tests are not to be weakened for it.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import REPO

HOSTILE_SRC = REPO / "Tests" / "hostile"
UNPRIVILEGED_USER = "brigtest"
IS_ROOT = os.geteuid() == 0
SIGSYS_EXIT = 128 + signal.SIGSYS
FAKE_KEY = "BRIG-HOSTILE-FAKE-PRIVATE-KEY"
API_KEY = "sk-brig-hostile-0123456789abcdef"


def sysctl(name: str, default: int | None = None) -> int | None:
    try:
        return int(Path("/proc/sys/" + name.replace(".", "/")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


# --- session set-up ---------------------------------------------------------------------------

@dataclass
class Hostile:
    base: Path                 # 0755, under /tmp
    bin: Path                  # compiled fixtures and the copy of brig
    brig: Path
    home: Path                 # a HOME-like directory nothing grants (1777, with .ssh/id_rsa 0644)
    profiles: dict[str, Path] = field(default_factory=dict)
    unprivileged: tuple[int, int] | None = None  # (uid, gid) of brigtest when running as root
    filecap_error: str | None = None
    unprivileged_brig_error: str | None = None

    def fixture(self, name: str) -> str:
        return str(self.bin / name)


def ensure_user() -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", UNPRIVILEGED_USER],
                       check=True, capture_output=True)
        pw = pwd.getpwnam(UNPRIVILEGED_USER)
    return pw.pw_uid, pw.pw_gid


def compile_fixtures(out: Path) -> None:
    sources = sorted(HOSTILE_SRC.glob("*.c"))
    assert sources, f"no fixtures in {HOSTILE_SRC}"

    def build(src: Path):
        return src, subprocess.run(["gcc", "-O1", "-Wall", "-o", str(out / src.stem), str(src), "-lpthread"],
                                   capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for src, r in pool.map(build, sources):
            assert r.returncode == 0, f"gcc {src.name} failed:\n{r.stderr}"


@pytest.fixture(scope="session")
def hostile(brig) -> Hostile:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the hostile fixtures")
    base = Path(tempfile.mkdtemp(prefix="brig-hostile-", dir="/tmp"))
    try:
        base.chmod(0o755)
        bindir = base / "bin"
        bindir.mkdir(mode=0o755)
        compile_fixtures(bindir)
        brig_copy = bindir / "brig"
        shutil.copy2(brig, brig_copy)
        brig_copy.chmod(0o755)

        home = base / "home"
        (home / ".ssh").mkdir(parents=True)
        home.chmod(0o1777)
        (home / ".ssh").chmod(0o755)
        (home / ".ssh" / "id_rsa").write_text(FAKE_KEY + "\n")
        (home / ".ssh" / "id_rsa").chmod(0o644)

        h = Hostile(base=base, bin=bindir, brig=brig_copy, home=home)
        for name, limit in (("mem", "as: 512MiB"), ("fsize", "fsize: 1MiB")):
            p = base / f"hostile-{name}.yaml"
            p.write_text(f"version: 1\nname: hostile-{name}\nextends: default\nsandbox:\n  rlimits:\n    {limit}\n")
            p.chmod(0o644)
            h.profiles[name] = p

        if IS_ROOT:
            h.unprivileged = ensure_user()
            # A setuid-root copy of the euid probe.
            suid = bindir / "setuid_probe_suid"
            shutil.copy2(bindir / "setuid_probe", suid)
            os.chown(suid, 0, 0)
            suid.chmod(0o4755)
            # A copy of the capability probe with file capabilities.
            cap = bindir / "filecap_probe_cap"
            shutil.copy2(bindir / "filecap_probe", cap)
            cap.chmod(0o755)
            if shutil.which("setcap") is None:
                h.filecap_error = "setcap is not installed"
            else:
                r = subprocess.run(["setcap", "cap_dac_override+ep", str(cap)], capture_output=True, text=True)
                if r.returncode != 0:
                    h.filecap_error = f"setcap failed: {r.stderr.strip()}"

        # Can brig start anything at all as the unprivileged user?
        u = Runner("unprivileged", h)
        if u.possible:
            wd = u.make_workdir()
            r = u.brig(["/bin/true"], workdir=wd)
            if r.rc != 0:
                h.unprivileged_brig_error = f"exit {r.rc}: {r.stderr.strip()}"
        yield h
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- running things ---------------------------------------------------------------------------

LINE = re.compile(r"^(ESCAPED|BLOCKED) (.*)$", re.M)


@dataclass
class Result:
    argv: list[str]
    rc: int
    stdout: str
    stderr: str

    @property
    def line(self) -> str | None:
        m = LINE.search(self.stderr)
        return m.group(0) if m else None

    @property
    def verdict(self) -> str | None:
        m = LINE.search(self.stderr)
        return m.group(1) if m else None

    def describe(self) -> str:
        return f"argv={self.argv}\nexit={self.rc}\nstderr={self.stderr[-3000:]!r}\nstdout={self.stdout[-1000:]!r}"


class Runner:
    """Runs fixtures unconfined or under brig as root or as the unprivileged user."""

    def __init__(self, who: str, h: Hostile):
        self.who = who
        self.h = h
        if who == "root":
            self.possible = IS_ROOT
            self.prefix: list[str] = []
            self.ids = (0, 0)
        elif IS_ROOT:
            self.possible = h.unprivileged is not None
            self.prefix = ["setpriv", f"--reuid={UNPRIVILEGED_USER}", f"--regid={UNPRIVILEGED_USER}", "--init-groups", "--"]
            self.ids = h.unprivileged or (-1, -1)
        else:
            self.possible = True  # pytest itself runs unprivileged
            self.prefix = []
            self.ids = (os.getuid(), os.getgid())

    @property
    def root(self) -> bool:
        return self.ids[0] == 0

    def make_workdir(self) -> Path:
        wd = Path(tempfile.mkdtemp(prefix="work-", dir=self.h.base))
        if IS_ROOT:
            os.chown(wd, *self.ids)
        wd.chmod(0o755)
        return wd

    def state_home(self) -> Path:
        """brig's own state (audit trail, key, pins) for this runner's user: outside every grant."""
        state = self.h.base / f"state-{self.ids[0] if IS_ROOT else os.getuid()}"
        if not state.exists():
            state.mkdir(mode=0o700)
            if IS_ROOT:
                os.chown(state, *self.ids)
        return state

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.h.home), "LANG": "C.UTF-8",
               "TMPDIR": "/tmp", "XDG_STATE_HOME": str(self.state_home())}
        env.update(extra or {})
        return env

    def _run(self, argv: list[str], env_extra=None, timeout: float = 60, **kw) -> Result:
        full = self.prefix + argv
        kw.setdefault("stdin", subprocess.DEVNULL)
        r = subprocess.run(full, env=self.env(env_extra), capture_output=True, timeout=timeout, **kw)
        return Result(full, r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))

    def unconfined(self, argv: list[str], *, parent_shell: bool = False, wrap: list[str] = (), **kw) -> Result:
        """The fixture run directly. `parent_shell` puts a throw-away shell between us and it, so
        that probes aimed at their parent (ptrace, kill, /proc/PPID) hit that shell, not pytest."""
        if parent_shell:
            argv = ["/bin/sh", "-c", '"$@"; echo "fixture exit $?" >/dev/null', "sh", *argv]
        return self._run([*wrap, *argv], **kw)

    def brig(self, argv: list[str], options: list[str] = (), workdir: Path | None = None, **kw) -> Result:
        wd = workdir or self.make_workdir()
        return self._run([str(self.h.brig), *options, "--workdir", str(wd), "--", *argv], cwd=wd, **kw)


@pytest.fixture(params=["root", "unprivileged"])
def runner(request, hostile) -> Runner:
    r = Runner(request.param, hostile)
    if not r.possible:
        pytest.skip("root half: pytest does not run as root" if request.param == "root"
                    else f"no unprivileged user ({UNPRIVILEGED_USER}) could be made")
    return r


def require_brig_runs(r: Runner) -> None:
    if r.who == "unprivileged" and r.h.unprivileged_brig_error:
        pytest.skip(f"brig cannot start any child as an unprivileged user ({r.h.unprivileged_brig_error}); "
                    "see test_unprivileged_brig_starts_a_child")


def assert_escaped_unconfined(res: Result) -> None:
    assert res.verdict == "ESCAPED", "the probe did not detect the escape unconfined:\n" + res.describe()


def assert_blocked(res: Result, errno_text: str | tuple[str, ...] | None = None) -> None:
    assert res.verdict != "ESCAPED", "ESCAPED under brig:\n" + res.describe()
    assert res.verdict == "BLOCKED", "no verdict from the fixture under brig:\n" + res.describe()
    assert res.rc == 1, "brig did not exit with the fixture's status 1:\n" + res.describe()
    if errno_text:
        texts = (errno_text,) if isinstance(errno_text, str) else errno_text
        assert any(res.line.endswith(": " + t) for t in texts), f"expected {texts!r}:\n" + res.describe()


# --- the simple cases: one fixture, default profile ----------------------------------------------

EPERM = "Operation not permitted"
EACCES = "Permission denied"
# A path outside the grants: Landlock refuses it (EACCES) where the server sees the host's tree;
# in the namespace view it is not there at all (ENOENT), or lies on the view's read-only root.
NOT_THERE = (EACCES, "No such file or directory", "Read-only file system")


@dataclass
class Case:
    id: str
    argv: list[str]                       # fixture name and arguments; "{home}" is the fake HOME
    errno: str | None = None              # the errno text expected under brig
    report: str | None = None             # brig must print `blocked syscall NAME(`
    parent_shell: bool = False
    sigsys: bool = False                  # must be killed by SIGSYS (brig exits 159)
    unconfined_root_only: str | None = None  # reason the escape cannot work unprivileged
    unconfined_wrap_root: list[str] = field(default_factory=list)
    unconfined_skip: str | None = None    # reason the escape cannot work on this machine at all
    unconfined_skip_if: tuple[str, str] | None = None  # (text in the unconfined output, reason)


BPF_OPEN = sysctl("kernel.unprivileged_bpf_disabled", 1) == 0
PERF_OPEN = (sysctl("kernel.perf_event_paranoid", 2) or 0) <= 2
URING_DISABLED = sysctl("kernel.io_uring_disabled", 0) or 0

CASES = [
    Case("read-etc-shadow", ["read_file", "/etc/shadow"], NOT_THERE,
         unconfined_root_only="/etc/shadow is unreadable to an unprivileged user even unconfined"),
    Case("read-home-secret", ["read_file", "{home}/.ssh/id_rsa"], NOT_THERE),
    Case("write-tmp", ["write_file", "/tmp"], NOT_THERE),
    Case("write-etc", ["write_file", "/etc"], NOT_THERE,
         unconfined_root_only="/etc is not writable by an unprivileged user even unconfined"),
    Case("write-home", ["write_file", "{home}"], NOT_THERE),
    Case("read-parent-environ", ["parent_environ"], EACCES, parent_shell=True),
    Case("read-parent-mem", ["parent_mem"], EACCES, parent_shell=True),
    Case("ptrace-attach-parent", ["ptrace_parent"], EPERM, report="ptrace", parent_shell=True),
    Case("process-vm-readv-parent", ["vm_readv_parent"], EPERM, report="process_vm_readv", parent_shell=True),
    Case("kill-parent", ["kill_parent"], EPERM, parent_shell=True),
    Case("unshare-userns-then-mount", ["userns_mount"], EPERM, report="unshare",
         unconfined_skip=None if (sysctl("user.max_user_namespaces", 1) or 0) > 0 else "user namespaces are disabled"),
    Case("clone-newuser", ["clone_newuser"], EPERM, report="clone",
         unconfined_skip=None if (sysctl("user.max_user_namespaces", 1) or 0) > 0 else "user namespaces are disabled"),
    Case("mount-tmpfs", ["mount_direct"], EPERM, report="mount",
         unconfined_root_only="mount needs CAP_SYS_ADMIN even unconfined",
         unconfined_wrap_root=["unshare", "--mount", "--propagation", "private"]),
    Case("fsopen", ["fsopen"], EPERM, report="fsopen",
         unconfined_root_only="fsopen needs CAP_SYS_ADMIN even unconfined"),
    Case("socket-af-netlink", ["socket_family", "netlink"], EPERM, report="socket"),
    Case("socket-af-packet", ["socket_family", "packet"], EPERM, report="socket",
         unconfined_root_only="AF_PACKET needs CAP_NET_RAW even unconfined"),
    Case("io_uring_setup", ["io_uring"], EPERM, report="io_uring_setup",
         unconfined_skip="io_uring is disabled by kernel.io_uring_disabled" if URING_DISABLED == 2 else None,
         unconfined_root_only="kernel.io_uring_disabled=1 limits io_uring to privileged users" if URING_DISABLED == 1 else None),
    Case("userfaultfd", ["userfaultfd"], EPERM, report="userfaultfd"),
    Case("bpf", ["bpf"], EPERM, report="bpf",
         unconfined_root_only=None if BPF_OPEN else "kernel.unprivileged_bpf_disabled forbids bpf to unprivileged users"),
    Case("perf_event_open", ["perf_event"], EPERM, report="perf_event_open",
         unconfined_root_only=None if PERF_OPEN else "kernel.perf_event_paranoid > 2 forbids it to unprivileged users"),
    Case("keyctl", ["keyctl"], EPERM, report="keyctl"),
    Case("personality-addr-no-randomize", ["personality"], EPERM, report="personality"),
    Case("ioctl-tiocsti", ["tiocsti"], EPERM, report="ioctl"),  # unconfined half: test_tiocsti_unconfined
    Case("i386-int80", ["int80"], sigsys=True,
         unconfined_skip_if=("killed", "this kernel has no i386 emulation (int $0x80 is not a system call here)")),
    Case("x32-syscall", ["x32"], sigsys=True,
         unconfined_skip_if=("Function not implemented", "this kernel has no x32 ABI (CONFIG_X86_X32_ABI off)")),
]


def case_argv(c: Case, h: Hostile) -> list[str]:
    return [h.fixture(c.argv[0]), *(a.replace("{home}", str(h.home)) for a in c.argv[1:])]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_probe_escapes_unconfined(case: Case, runner: Runner):
    if case.id == "ioctl-tiocsti":
        pytest.skip("needs a controlling terminal: see test_tiocsti_unconfined")
    if case.unconfined_skip:
        pytest.skip(case.unconfined_skip)
    if case.unconfined_root_only and not runner.root:
        pytest.skip(case.unconfined_root_only)
    res = runner.unconfined(case_argv(case, runner.h), parent_shell=case.parent_shell,
                            wrap=case.unconfined_wrap_root if runner.root else [])
    if case.unconfined_skip_if:
        text, reason = case.unconfined_skip_if
        if (text == "killed" and res.rc < 0) or text in (res.line or ""):
            pytest.skip(reason)
    assert_escaped_unconfined(res)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_blocked_under_brig(case: Case, runner: Runner):
    require_brig_runs(runner)
    res = runner.brig(case_argv(case, runner.h))
    if case.sigsys:
        assert res.verdict != "ESCAPED", "ESCAPED under brig:\n" + res.describe()
        assert res.rc == SIGSYS_EXIT, "expected the fixture killed by SIGSYS (brig exit 159):\n" + res.describe()
        return
    assert_blocked(res, case.errno)
    if case.report:
        assert f"blocked syscall {case.report}(" in res.stderr, \
            f"brig did not report the blocked {case.report}:\n" + res.describe()


def test_reports_name_ptrace_and_io_uring(runner: Runner):
    """The report feature, explicitly: the line names the call, the pid and the answer."""
    require_brig_runs(runner)
    for fixture, name in (("ptrace_parent", "ptrace"), ("io_uring", "io_uring_setup")):
        res = runner.brig([runner.h.fixture(fixture)])
        assert_blocked(res, EPERM)
        assert re.search(rf"^brig: blocked syscall {name}\(.*\) from pid \d+; answered EPERM; "
                         rf"to allow: sandbox\.syscalls: \{{allow: \[{name}\]\}} in a profile that extends default", res.stderr, re.M), \
            res.describe()


def test_kill_parent_leaves_brig_running(runner: Runner):
    """The SIGTERM never reaches brig: brig exits with the fixture's status (1), not 143."""
    require_brig_runs(runner)
    res = runner.brig([runner.h.fixture("kill_parent")])
    assert_blocked(res, EPERM)
    assert res.rc == 1, res.describe()


@pytest.mark.parametrize("case", [c for c in CASES if c.id in (
    "read-home-secret", "write-tmp", "read-parent-environ", "ptrace-attach-parent", "io_uring_setup",
    "unshare-userns-then-mount", "socket-af-netlink", "personality-addr-no-randomize", "i386-int80")],
    ids=lambda c: c.id)
def test_blocked_under_strict(case: Case, runner: Runner):
    """The allow-list profile refuses the same escapes (with its own errno for calls outside the list)."""
    require_brig_runs(runner)
    res = runner.brig(case_argv(case, runner.h), ["--profile", "strict"])
    if case.sigsys:
        assert res.rc == SIGSYS_EXIT and res.verdict != "ESCAPED", res.describe()
    else:
        assert_blocked(res)


def test_strict_workdir_is_read_only(runner: Runner):
    require_brig_runs(runner)
    wd = runner.make_workdir()
    control = runner.brig([runner.h.fixture("write_file"), str(wd)], ["--profile", "default"], workdir=wd)
    assert control.verdict == "ESCAPED" and control.rc == 0, "default must let the child write $WORKDIR:\n" + control.describe()
    assert_blocked(runner.brig([runner.h.fixture("write_file"), str(wd)], ["--profile", "strict"], workdir=wd), NOT_THERE)
    assert list(wd.iterdir()) == []


# --- terminal injection: TIOCSTI needs a controlling tty to work unconfined ----------------------

def run_on_pty(argv: list[str], env: dict[str, str], timeout: float = 20) -> tuple[int, str]:
    """Runs argv in a new session whose controlling terminal is a fresh pty; returns (status, output)."""
    pid, master = os.forkpty()
    if pid == 0:  # pragma: no cover - child
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    out = bytearray()
    deadline = time.monotonic() + timeout
    status = None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                if chunk:
                    out.extend(chunk)
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                # Drain what is left.
                while True:
                    ready, _, _ = select.select([master], [], [], 0.1)
                    if not ready:
                        break
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out.extend(chunk)
                break
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        os.close(master)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace").replace("\r", "")


def test_tiocsti_unconfined(runner: Runner):
    rc, out = run_on_pty(runner.prefix + [runner.h.fixture("tiocsti")], runner.env())
    assert "ESCAPED ioctl(0, TIOCSTI)" in out, f"exit {rc}: {out!r}"


def test_tiocsti_refused_even_on_a_terminal(runner: Runner):
    """brig started from a terminal: the child gets no terminal (pipes, new session) and the
    seccomp rule refuses TIOCSTI itself."""
    require_brig_runs(runner)
    wd = runner.make_workdir()
    rc, out = run_on_pty(runner.prefix + [str(runner.h.brig), "--workdir", str(wd), "--",
                                          runner.h.fixture("tiocsti")], runner.env())
    assert "ESCAPED" not in out, out
    assert "BLOCKED ioctl(0, TIOCSTI): Operation not permitted" in out, f"exit {rc}: {out!r}"


# --- network ------------------------------------------------------------------------------------

@pytest.fixture
def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


def test_inet_connect_unconfined(runner: Runner, listener):
    assert_escaped_unconfined(runner.unconfined([runner.h.fixture("inet_connect"), str(listener)]))


@pytest.mark.parametrize("options,errno_text", [
    (["--profile", "offline"], EPERM),
    (["--profile", "default", "--net", "none"], EPERM),
    (["--profile", "strict"], EPERM),
    (["--profile", "default", "--net", "PORT+1"], EACCES),  # Landlock: only that other port
], ids=["offline", "default-net-none", "strict", "default-net-other-port"])
def test_inet_connect_blocked(runner: Runner, listener, options, errno_text):
    require_brig_runs(runner)
    options = [str(listener + 1 if listener < 65535 else listener - 1) if o == "PORT+1" else o for o in options]
    res = runner.brig([runner.h.fixture("inet_connect"), str(listener)], options)
    assert_blocked(res, errno_text)


def test_inet_connect_allowed_when_network_is_open(runner: Runner, listener):
    """Control: under default (network: all) and --net PORT the same probe connects, so the
    blocked results above come from the network setting and not from a broken fixture."""
    require_brig_runs(runner)
    for options in (["--profile", "default"], ["--net", str(listener)]):
        res = runner.brig([runner.h.fixture("inet_connect"), str(listener)], options)
        assert res.verdict == "ESCAPED" and res.rc == 0, res.describe()


@pytest.fixture
def abstract_listener():
    name = f"brig-hostile-{os.getpid()}-{time.monotonic_ns()}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name)
    s.listen(16)
    yield name
    s.close()


def test_abstract_unix_socket(runner: Runner, abstract_listener):
    assert_escaped_unconfined(runner.unconfined([runner.h.fixture("abstract_unix"), abstract_listener]))
    require_brig_runs(runner)
    assert_blocked(runner.brig([runner.h.fixture("abstract_unix"), abstract_listener]), EPERM)


# --- what brig's own process hands down: descriptors and environment ----------------------------

def test_inherited_fds(runner: Runner):
    fd = os.open(runner.h.home / ".ssh" / "id_rsa", os.O_RDONLY)
    try:
        os.set_inheritable(fd, True)
        un = runner.unconfined([runner.h.fixture("inherited_fds")], pass_fds=(fd,))
        assert_escaped_unconfined(un)
        assert "id_rsa" in un.line
        require_brig_runs(runner)
        res = runner.brig([runner.h.fixture("inherited_fds")], pass_fds=(fd,))
        assert_blocked(res)
    finally:
        os.close(fd)


def test_environment_does_not_leak(runner: Runner):
    extra = {"BRIG_TEST_API_KEY": API_KEY, "AWS_SECRET_ACCESS_KEY": API_KEY}
    for name in extra:
        assert_escaped_unconfined(runner.unconfined([runner.h.fixture("env_leak"), name], env_extra=extra))
    require_brig_runs(runner)
    for name in extra:
        res = runner.brig([runner.h.fixture("env_leak"), name], env_extra=extra)
        assert_blocked(res)
        assert API_KEY not in res.stderr + res.stdout


# --- privilege gain at exec: setuid root and file capabilities ----------------------------------

def test_setuid_root_binary(runner: Runner):
    if runner.root:
        pytest.skip("root's euid is 0 already: as root, test_file_capabilities covers exec-time gains")
    if not IS_ROOT:
        pytest.skip("a setuid-root copy can only be made by root")
    suid = runner.h.fixture("setuid_probe_suid")
    assert_escaped_unconfined(runner.unconfined([suid]))
    require_brig_runs(runner)
    res = runner.brig([suid])
    assert_blocked(res)
    assert f"euid stays {runner.ids[0]}" in res.line, res.describe()


def test_file_capabilities(runner: Runner):
    if not IS_ROOT:
        pytest.skip("setcap needs root")
    if runner.h.filecap_error:
        pytest.skip(runner.h.filecap_error)
    probe = runner.h.fixture("filecap_probe_cap")
    un = runner.unconfined([probe])
    assert_escaped_unconfined(un)
    if not runner.root:
        assert "/etc/shadow read" in un.line, un.describe()
    require_brig_runs(runner)
    res = runner.brig([probe])
    assert res.verdict != "ESCAPED", "ESCAPED under brig:\n" + res.describe()
    if res.verdict is None and runner.root:
        # With the bounding set emptied, the kernel refuses to exec a file whose effective file
        # capabilities cannot all be granted: exec fails with EPERM, brig exits 126.
        assert res.rc == 126 and "Operation not permitted" in res.stderr, res.describe()
        return
    assert_blocked(res)
    assert "CapEff 0" in res.line, res.describe()


# --- compatibility: clone3 ---------------------------------------------------------------------

def test_clone3_is_enosys_and_threads_still_work(runner: Runner):
    """Not an escape: clone3 answers ENOSYS under brig, so libc falls back to clone."""
    un = runner.unconfined([runner.h.fixture("clone3")])
    assert un.verdict == "ESCAPED" and "threads ok" in un.line, un.describe()
    require_brig_runs(runner)
    res = runner.brig([runner.h.fixture("clone3")])
    assert_blocked(res, "Function not implemented")
    assert "threads ok" in res.line, res.describe()


# --- bounded bombs ------------------------------------------------------------------------------

def count_in(line: str, pattern: str) -> int:
    m = re.search(pattern, line)
    assert m, line
    return int(m.group(1))


def test_fork_bomb(runner: Runner):
    """nproc 1024 (default): RLIMIT_NPROC for a user, a pids cgroup for root."""
    un = runner.unconfined([runner.h.fixture("fork_bomb"), "1200"], timeout=60)
    assert_escaped_unconfined(un)
    require_brig_runs(runner)
    start = time.monotonic()
    res = runner.brig([runner.h.fixture("fork_bomb"), "1200"], timeout=60)
    assert_blocked(res, "Resource temporarily unavailable")
    assert count_in(res.line, r"after (\d+) forks") < 1024, res.describe()
    assert time.monotonic() - start < 45


def test_memory_bomb(runner: Runner):
    profile = str(runner.h.profiles["mem"])
    assert_escaped_unconfined(runner.unconfined([runner.h.fixture("mem_bomb"), "1024"]))
    require_brig_runs(runner)
    res = runner.brig([runner.h.fixture("mem_bomb"), "1024"], ["--profile", profile])
    assert_blocked(res, "Cannot allocate memory")
    assert count_in(res.line, r"at (\d+) MiB") < 512, res.describe()


def test_strict_bounds_memory(runner: Runner):
    """strict's `memory: 2GiB`: a 4 GiB allocation never completes (a memory cgroup kills it as
    root, RLIMIT_AS fails it otherwise)."""
    require_brig_runs(runner)
    wd = runner.make_workdir()
    # Touching 2 GiB takes seconds on a slow VM: longer than the grace period after stdin ends.
    res = runner.brig([runner.h.fixture("mem_bomb"), "4096"], ["--profile", "strict", "--grace", "120"], workdir=wd, timeout=150)
    assert res.verdict != "ESCAPED", "a 4 GiB allocation succeeded under strict:\n" + res.describe()
    if res.verdict == "BLOCKED":
        assert count_in(res.line, r"at (\d+) MiB") <= 2048, res.describe()
    else:
        assert res.rc == 128 + signal.SIGKILL, "expected ENOMEM or the cgroup's OOM kill:\n" + res.describe()


def test_fd_bomb(runner: Runner):
    def more_fds():
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want) if IS_ROOT else hard))

    un = runner.unconfined([runner.h.fixture("fd_bomb"), "5000"], preexec_fn=more_fds)
    assert_escaped_unconfined(un)
    require_brig_runs(runner)
    res = runner.brig([runner.h.fixture("fd_bomb"), "5000"], preexec_fn=more_fds)
    assert_blocked(res, "Too many open files")
    assert count_in(res.line, r"after (\d+) descriptors") < 4096, res.describe()


def test_file_size_bomb(runner: Runner):
    profile = str(runner.h.profiles["fsize"])
    wd = runner.make_workdir()
    assert_escaped_unconfined(runner.unconfined([runner.h.fixture("fsize_bomb"), str(wd / "bomb.bin"), "8"]))
    require_brig_runs(runner)
    res = runner.brig([runner.h.fixture("fsize_bomb"), "bomb.bin", "8"], ["--profile", profile], workdir=wd)
    assert_blocked(res, "File too large")
    assert count_in(res.line, r"at (\d+) bytes") <= 1 << 20, res.describe()
    assert not (wd / "bomb.bin").exists()


# --- brig itself as an unprivileged user -------------------------------------------------------

def test_unprivileged_brig_starts_a_child(hostile):
    """brig must be able to confine a child when it is not root (it then cannot drop the
    bounding set, and must not try to)."""
    if hostile.unprivileged is None and IS_ROOT:
        pytest.skip(f"no unprivileged user ({UNPRIVILEGED_USER})")
    assert hostile.unprivileged_brig_error is None, \
        f"brig run as {UNPRIVILEGED_USER if IS_ROOT else 'this user'} cannot start /bin/true: {hostile.unprivileged_brig_error}"


# --- real servers keep working ------------------------------------------------------------------

def test_mcp_server_time_under_python_profile(brig, python, tmp_path):
    """A real server through a raw initialize + tools/list exchange under the python profile."""
    if not IS_ROOT:
        pytest.skip("the brief's check is for root")
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                       "clientInfo": {"name": "brig-confinement-test", "version": "0"}}}
    msgs = [init, {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    err = open(tmp_path / "brig.stderr", "w+b")
    p = subprocess.Popen([brig, "--profile", "python", "--workdir", str(tmp_path), "--", python, "-m", "mcp_server_time"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=tmp_path)

    def stderr_text() -> str:
        err.seek(0)
        return err.read().decode("utf-8", "replace")

    try:
        replies = {}
        for m in msgs:
            p.stdin.write((json.dumps(m) + "\n").encode())
            p.stdin.flush()
            if "id" in m:
                deadline = time.monotonic() + 30
                while m["id"] not in replies:
                    assert time.monotonic() < deadline, "no reply to " + m["method"]
                    line = p.stdout.readline()
                    assert line, "brig's stdout ended; stderr: " + stderr_text()
                    msg = json.loads(line)
                    if "id" in msg and "method" not in msg:
                        replies[msg["id"]] = msg
        assert replies[1]["result"]["serverInfo"]["name"], replies[1]
        tools = {t["name"] for t in replies[2]["result"]["tools"]}
        assert {"get_current_time", "convert_time"} <= tools, tools
        p.stdin.close()
        assert p.wait(15) == 0, stderr_text()
        assert "blocked syscall" not in stderr_text()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        err.close()
