"""Confinement where hosts really start servers: from a project directory, from / (Claude Desktop,
Cline, Zed before a worktree) and from $HOME (VS Code without a workspace folder), as root and as
an unprivileged user, with the audit trail on and off. The same probes must be blocked from all
three, brig must start (exit 125 is a failure here), and real servers must answer unchanged."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from test_confinement import (IS_ROOT, NOT_THERE, UNPRIVILEGED_USER, Runner, assert_blocked,  # noqa: F401
                              hostile, require_brig_runs, runner)
from test_sdk_servers import make_repo

PLACES = ["project", "root", "home"]
VIEW_OPTIONS: list[str] = []  # set to ["--no-view"] by hand to see a test fail without the view
AUDIT = {"audit-on": [], "audit-off": ["--no-audit"]}


def place_dir(runner: Runner, place: str) -> Path:
    if place == "project":
        return runner.make_workdir()
    if place == "root":
        return Path("/")
    return runner.h.home  # the runner's $HOME


def brig_from(runner: Runner, place: str, argv: list[str], options: list[str] = ()):
    """brig started the way a host starts it: in `place`, with no --workdir."""
    cwd = place_dir(runner, place)
    return runner._run([str(runner.h.brig), *options, "--", *argv], cwd=cwd)


PROBES = [
    ("read-etc-shadow", ["read_file", "/etc/shadow"]),
    ("read-home-key", ["read_file", "{home}/.ssh/id_rsa"]),
    ("write-etc", ["write_file", "/etc"]),
    ("write-home", ["write_file", "{home}"]),
    ("write-root", ["write_file", "/"]),
]


@pytest.mark.parametrize("audit", AUDIT, ids=list(AUDIT))
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("probe", PROBES, ids=[p[0] for p in PROBES])
def test_blocked_from_every_place(runner: Runner, place, audit, probe):
    require_brig_runs(runner)
    name, argv = probe
    full = [runner.h.fixture(argv[0]), *(a.replace("{home}", str(runner.h.home)) for a in argv[1:])]
    res = brig_from(runner, place, full, AUDIT[audit])
    assert res.rc != 125, "brig refused to start:\n" + res.describe()
    assert_blocked(res, NOT_THERE)
    if place in ("root", "home"):
        assert "working directory" in res.stderr and "not granted" in res.stderr, res.describe()


@pytest.mark.parametrize("place", PLACES)
def test_blocked_without_argument_grants_too(runner: Runner, place):
    """The probe's own target on its command line grants nothing either way."""
    require_brig_runs(runner)
    res = brig_from(runner, place, [runner.h.fixture("read_file"), f"{runner.h.home}/.ssh/id_rsa"], ["--no-argument-grants"])
    assert_blocked(res, NOT_THERE)


def test_explicit_broad_workdir_needs_the_flag(runner: Runner):
    require_brig_runs(runner)
    res = runner._run([str(runner.h.brig), "--workdir", "/", "--", "/bin/true"], cwd="/")
    assert res.rc == 125 and "--allow-broad-grant" in res.stderr, res.describe()
    res = runner._run([str(runner.h.brig), "--rw", str(runner.h.home), "--", "/bin/true"], cwd="/")
    assert res.rc == 125 and "--allow-broad-grant" in res.stderr, res.describe()


def test_check_shows_the_decisions(runner: Runner):
    require_brig_runs(runner)
    outside = runner.make_workdir()
    res = runner._run([str(runner.h.brig), "check", "--", "/bin/ls", str(outside), "/etc/shadow"], cwd="/")
    assert res.rc == 0, res.describe()
    out = res.stdout
    assert "working directory /: not granted" in out
    assert f"{outside}  read+write  (from {outside})" in out
    assert "/etc/shadow  not granted" in out
    assert "confinement: namespace view + Landlock" in out or "confinement: Landlock only" in out


def test_argument_directory_is_granted_read_write(runner: Runner):
    """A directory the command names works from /: written through, and nothing else is."""
    require_brig_runs(runner)
    outside = runner.make_workdir()
    res = brig_from(runner, "root", [runner.h.fixture("write_file"), str(outside)])
    assert res.verdict == "ESCAPED" and res.rc == 0, "the named directory must be writable:\n" + res.describe()


# --- real servers from the three places ------------------------------------------------------

def sdk_env(runner: Runner) -> dict[str, str]:
    return runner.env({"PYTHONDONTWRITEBYTECODE": "1"})


def prefix_params(runner: Runner, command: str, args: list[str], cwd: Path) -> StdioServerParameters:
    if runner.prefix:
        args = [*runner.prefix[1:], command, *args]
        command = runner.prefix[0]
    return StdioServerParameters(command=command, args=args, env=sdk_env(runner), cwd=str(cwd))


async def call_tools(params: StdioServerParameters, calls, errlog):
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(60):
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                results = [await session.call_tool(name, args) for name, args in calls]
                return tools, results


def run_server(runner: Runner, tmp_path: Path, place: str, server: list[str], calls, options=()):
    cwd = place_dir(runner, place)
    params = prefix_params(runner, str(runner.h.brig), [*options, "--", *server], cwd)
    err = tmp_path / "brig.err"
    with open(err, "w") as e:
        tools, results = anyio.run(call_tools, params, calls, e)
    return tools, results, err.read_text(errors="replace")


PUBLIC_VENV = Path("/tmp/brig-e2e-public-venv")


@pytest.fixture(scope="session")
def public_python() -> str | None:
    """A venv an unprivileged user can run: the suite's own venv may sit on an interpreter under
    /root (pyenv), which brigtest cannot read. Made once from the system Python with the same
    pinned servers; None (the unprivileged half is skipped) where that cannot be done."""
    base = Path("/usr/bin/python3")
    if not IS_ROOT or not base.exists():
        return None
    wanted = [ln.strip() for ln in (Path(__file__).resolve().parents[2] / "scripts" / "data" / "requirements-e2e.txt")
              .read_text().splitlines() if ln.strip() and not ln.startswith("#") and ln.split("==")[0] in
              ("mcp", "mcp-server-time", "mcp-server-git", "mcp-server-fetch")]
    stamp = PUBLIC_VENV / ".brig-requirements"
    python = PUBLIC_VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == "\n".join(wanted) and python.exists()):
        shutil.rmtree(PUBLIC_VENV, ignore_errors=True)
        r = subprocess.run([str(base), "-m", "venv", str(PUBLIC_VENV)], capture_output=True, text=True)
        if r.returncode != 0:
            return None
        r = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *wanted],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            return None
        stamp.write_text("\n".join(wanted))
    subprocess.run(["chmod", "-R", "a+rX", str(PUBLIC_VENV)], check=True)
    return str(python)


@pytest.fixture
def venv_python(python, public_python, runner) -> str:
    if runner.who == "unprivileged" and public_python:
        return public_python
    return python


def readable_by_runner(runner: Runner, path: Path) -> bool:
    r = runner._run(["/bin/sh", "-c", f"test -r '{path}'"])
    return r.rc == 0


@pytest.mark.parametrize("profile", ["default", "python"])
@pytest.mark.parametrize("place", PLACES)
def test_time_server_from_every_place(runner: Runner, tmp_path, venv_python, place, profile):
    require_brig_runs(runner)
    if not readable_by_runner(runner, Path(venv_python)):
        pytest.skip(f"{UNPRIVILEGED_USER} cannot read the venv at {venv_python}")
    tools, results, err = run_server(runner, tmp_path, place, [venv_python, "-m", "mcp_server_time", "--local-timezone", "UTC"],
                                     [("convert_time", {"source_timezone": "Europe/Berlin", "time": "09:30",
                                                        "target_timezone": "UTC"})], ["--profile", profile])
    assert tools == {"get_current_time", "convert_time"}, err
    assert not results[0].is_error and "08:30" in str(results[0].content), err


@pytest.mark.parametrize("place", PLACES)
def test_git_server_with_repository_outside_the_working_directory(runner: Runner, tmp_path, venv_python, place):
    require_brig_runs(runner)
    if not readable_by_runner(runner, Path(venv_python)):
        pytest.skip(f"{UNPRIVILEGED_USER} cannot read the venv at {venv_python}")
    repo = runner.make_workdir() / "repo"
    repo.mkdir()
    make_repo(repo)
    if IS_ROOT and runner.ids[0] != 0:
        subprocess.run(["chown", "-R", f"{runner.ids[0]}:{runner.ids[1]}", str(repo)], check=True)
    tools, results, err = run_server(runner, tmp_path, place, [venv_python, "-m", "mcp_server_git", "--repository", str(repo)],
                                     [("git_status", {"repo_path": str(repo)}), ("git_log", {"repo_path": str(repo), "max_count": 5})])
    assert "git_status" in tools, err
    status, log = results
    assert not status.is_error and "notes.txt" in str(status.content), err + str(status.content)
    assert not log.is_error and "Add app" in str(log.content), err + str(log.content)


@pytest.mark.parametrize("place", PLACES)
def test_helper_reads_its_own_proc_self(runner: Runner, tmp_path, venv_python, place):
    require_brig_runs(runner)
    if not readable_by_runner(runner, Path(venv_python)):
        pytest.skip(f"{UNPRIVILEGED_USER} cannot read the venv at {venv_python}")
    # In a directory of its own: the script's directory is granted, and brig's state must not be in it.
    fixture = runner.h.base / "proc-server" / "proc_server.py"
    if not fixture.exists():
        fixture.parent.mkdir(mode=0o755, exist_ok=True)
        shutil.copy(Path(__file__).parent / "fixtures" / "proc_server.py", fixture)
        fixture.chmod(0o644)
    tools, results, err = run_server(runner, tmp_path, place, [venv_python, str(fixture)], [("helper_self", {})], VIEW_OPTIONS)
    text = str(results[0].content)
    assert not results[0].is_error, err + text
    assert "exe=/usr/bin/readlink" in text and "maps=" in text and "maps=0" not in text, err + text


# --- where user namespaces are refused -------------------------------------------------------

@pytest.fixture
def no_user_namespaces(hostile):
    """user.max_user_namespaces=0 for the test (as on hardened kernels and, for unprivileged
    users, like Ubuntu's AppArmor restriction), restored after."""
    knob = Path("/proc/sys/user/max_user_namespaces")
    if not IS_ROOT or not knob.exists():
        pytest.skip("needs root to turn user namespaces off for a moment")
    old = knob.read_text().strip()
    try:
        knob.write_text("0\n")
    except OSError as e:
        pytest.skip(f"cannot turn user namespaces off here ({e.strerror}: a container's /proc/sys is read-only)")
    try:
        yield
    finally:
        knob.write_text(old + "\n")


def test_landlock_alone_where_user_namespaces_are_refused(hostile, no_user_namespaces):
    r = Runner("unprivileged", hostile)
    if not r.possible:
        pytest.skip(f"no unprivileged user ({UNPRIVILEGED_USER})")
    check = r._run([str(hostile.brig), "check"], cwd="/")
    assert check.rc == 0 and "confinement: Landlock only" in check.stdout, check.describe()
    for probe in (["read_file", f"{hostile.home}/.ssh/id_rsa"], ["write_file", str(hostile.home)]):
        res = brig_from(r, "root", [hostile.fixture(probe[0]), *probe[1:]])
        assert_blocked(res, NOT_THERE)
    # A profile that requires the view refuses to start without it.
    profile = hostile.base / "needs-view.yaml"
    profile.write_text("version: 1\nname: needs-view\nextends: default\nsandbox:\n  require: [namespaces]\n")
    profile.chmod(0o644)
    res = r._run([str(hostile.brig), "--profile", str(profile), "--", "/bin/true"], cwd="/")
    assert res.rc == 125 and "namespaces" in res.stderr, res.describe()
