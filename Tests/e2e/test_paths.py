"""Every subcommand that reads or writes a path, over the paths people type: a bare name and
`./name` (typed from the file's directory), a missing file, an empty one, an unreadable one
(as the unprivileged user brigtest, since root reads anything), a binary file, a directory, `-`,
a 5000-character name and a name with a newline. Whatever the input, brig answers with an exit
code and, when that code is not 0, one line on stderr starting `brig:`; it never dies of a signal
or of a Swift runtime trap."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import FIXTURES

KINDS = ["bare", "dotslash", "missing", "empty", "unreadable", "binary", "directory", "dash", "long", "newline"]

PROFILE = "version: 1\nname: paths-e2e\nextends: default\n"
TRANSCRIPT = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}\n'


def unprivileged() -> list[str] | None:
    """The prefix that runs a command as brigtest, or None when there is no such user."""
    try:
        pwd.getpwnam("brigtest")
    except KeyError:
        return None
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    return ["setpriv", "--reuid=brigtest", "--regid=brigtest", "--init-groups", "--"]


@pytest.fixture(scope="module")
def sample_log(tmp_path_factory, brig) -> tuple[Path, Path]:
    """A real audit log of one short session and its state directory (with the key)."""
    base = tmp_path_factory.mktemp("paths-log")
    base.chmod(0o755)
    state, work = base / "state", base / "work"
    work.mkdir()
    (base / "logs").mkdir()
    log = base / "logs" / "sample.jsonl"  # beside the workdir, not above it: brig's state stays apart
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    r = subprocess.run([brig, "--workdir", str(work), "--audit-log", str(log), "--", "/bin/true"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=env)
    assert r.returncode == 0 and log.stat().st_size > 0, r.stderr
    return log, state


# Each command: (argv with {P} for the path, the content a valid file of that kind holds).
COMMANDS = {
    "audit-verify": (["audit", "verify", "--key-file", "{KEY}", "{P}"], "log"),
    "audit-show": (["audit", "show", "{P}"], "log"),
    "audit-tail": (["audit", "tail", "{P}"], "log"),
    "pins-list": (["pins", "list", "--profile", "{P}"], PROFILE),
    "pins-diff": (["pins", "diff", "--profile", "{P}"], PROFILE),
    "pins-accept": (["pins", "accept", "--profile", "{P}", "--all"], PROFILE),
    "pins-reset": (["pins", "reset", "--profile", "{P}"], PROFILE),
    "check-explain": (["check", "--explain", "{P}"], TRANSCRIPT),
    "check-profile": (["check", "--profile", "{P}"], PROFILE),
    "learn-replay": (["learn", "--replay", "{P}", "--out", "{OUT}", "--", "/bin/true"], TRANSCRIPT),
    "run-profile": (["--profile", "{P}", "--", "/bin/true"], PROFILE),
    "run-audit-log": (["--workdir", "{WORK}", "--audit-log", "{P}", "--", "/bin/true"], None),
}

# What each reader of a file answers for the inputs that are not a file it can read.
READERS = {"audit-verify", "audit-show", "audit-tail", "check-explain", "learn-replay", "check-profile", "run-profile"}


def make_path(kind: str, where: Path, content, sample: Path) -> str:
    """Creates the input of `kind` in `where` (the command's cwd) and returns the path as typed."""
    suffix = ".yaml" if isinstance(content, str) and content == PROFILE else ".jsonl"
    data = sample.read_bytes() if content == "log" else (content or "").encode()
    name = "input" + suffix
    if kind in ("bare", "dotslash"):
        if content is not None:
            (where / name).write_bytes(data)
        return name if kind == "bare" else "./" + name
    if kind == "missing":
        return "./absent" + suffix
    if kind == "empty":
        (where / name).write_bytes(b"")
        return name
    if kind == "unreadable":
        (where / name).write_bytes(data)
        (where / name).chmod(0)
        return name
    if kind == "binary":
        (where / name).write_bytes(bytes(range(256)) * 8 + b"\xff\xfe\x00\n\x00\x01")
        return name
    if kind == "directory":
        (where / ("dir" + suffix)).mkdir()
        return "dir" + suffix
    if kind == "dash":
        return "-"
    if kind == "long":
        return "x" * 4995 + suffix
    if kind == "newline":
        weird = "in\nput" + suffix
        if content is not None:
            (where / weird).write_bytes(data)
        return weird
    raise AssertionError(kind)


def signalled(code: int) -> bool:
    """A signal death, directly (negative) or as a shell would report it (128+N)."""
    return code < 0 or code in (128 + 4, 128 + 5, 128 + 6, 128 + 7, 128 + 8, 128 + 11)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_paths_get_an_answer(brig, tmp_path, sample_log, command, kind, request):
    log, state = sample_log
    argv, content = COMMANDS[command]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    prefix: list[str] = []
    if kind == "unreadable":
        prefix = unprivileged()
        if prefix is None:
            pytest.skip("needs root and the user brigtest to test a file brig cannot read")
        # pytest's own directories are root's alone: brigtest works in one it can enter.
        tmp_path = Path(tempfile.mkdtemp(prefix="brig-paths-", dir="/tmp"))
        request.addfinalizer(lambda: shutil.rmtree(tmp_path, ignore_errors=True))
        cwd, work = tmp_path / "cwd", tmp_path / "work"
        cwd.mkdir()
        work.mkdir()
        for d in (tmp_path, cwd, work):
            d.chmod(0o777)
        user_state = tmp_path / "user-state"
        user_state.mkdir(mode=0o700)
        shutil.copy(state / "brig" / "audit.key", tmp_path / "key")
        (tmp_path / "key").chmod(0o644)
        os.chown(user_state, pwd.getpwnam("brigtest").pw_uid, pwd.getpwnam("brigtest").pw_gid)
        env = dict(os.environ, XDG_STATE_HOME=str(user_state), HOME=str(user_state))
        key = tmp_path / "key"
    else:
        env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
        (tmp_path / "state" / "brig").mkdir(parents=True)
        key = state / "brig" / "audit.key"
    path = make_path(kind, cwd, content, log)
    args = [a.replace("{P}", path).replace("{KEY}", str(key)).replace("{OUT}", str(tmp_path / "out.yaml"))
            .replace("{WORK}", str(work)) for a in argv]
    r = subprocess.run([*prefix, brig, *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60, env=env)
    err = r.stderr.decode("utf-8", "replace")
    where = f"{command} {kind}: exit {r.returncode}, stderr {err!r}, stdout {r.stdout[:300]!r}"
    assert not signalled(r.returncode), where
    assert "Fatal error" not in err and "Program crashed" not in err, where
    if r.returncode != 0:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("brig:"), where
        if kind not in ("bare", "dotslash", "empty", "binary"):
            shown = path.replace("\n", "\\n")
            assert shown[:60] in lines[0] or shown.lstrip("./")[:60] in lines[0], f"the message names the path: {where}"
    # The legitimate inputs of the readers are answered 0; what they cannot read is brig's own error.
    if command in READERS:
        if kind in ("bare", "dotslash", "newline"):  # a name with a newline in it is a name
            assert r.returncode == 0, where
        elif kind == "empty" and command in ("audit-verify", "audit-show", "audit-tail", "check-explain"):
            assert r.returncode == 0, where
        elif kind in ("missing", "unreadable", "directory", "dash", "long"):
            assert r.returncode == 125, where
        elif kind == "binary":
            assert r.returncode in (1, 125), where


def test_bare_log_name_from_its_directory(brig, sample_log):
    """The crash this file started from: a log named without a slash, from its own directory."""
    log, state = sample_log
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    for args in (["audit", "show", log.name], ["audit", "tail", log.name], ["audit", "verify", log.name]):
        r = subprocess.run([brig, *args], cwd=log.parent, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30, env=env)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    shown = subprocess.run([brig, "audit", "show", log.name, "--json"], cwd=log.parent, capture_output=True,
                           text=True, timeout=30, env=env)
    assert [json.loads(ln)["event"]["action"] for ln in shown.stdout.splitlines()][0] == "session-start"


def test_explain_with_a_bad_line_says_why_on_stderr(brig, tmp_path):
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(TRANSCRIPT + "not json\n")
    r = subprocess.run([brig, "check", "--explain", str(transcript)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert r.stderr.startswith("brig: --explain ") and "1 of 2 lines" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "invalid message" in r.stdout, r.stdout


@pytest.mark.parametrize("source", ["flag", "profile", "default"])
def test_verify_with_the_wrong_key_says_so(brig, tmp_path, sample_log, source):
    """A log none of whose records verifies is a wrong key, named with where the key came from;
    one bad record among good ones stays tampering."""
    log, state = sample_log
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(os.urandom(32))
    wrong.chmod(0o600)
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    args = ["audit", "verify", str(log)]
    if source == "flag":
        args += ["--key-file", str(wrong)]
        named = f"--key-file {wrong}"
    elif source == "profile":
        profile = tmp_path / "keyed.yaml"
        profile.write_text(f"version: 1\nname: keyed\nextends: default\naudit:\n  key_file: {wrong}\n")
        args += ["--profile", str(profile)]
        named = f"audit.key_file {wrong}"
    else:
        env["XDG_STATE_HOME"] = str(tmp_path / "other-state")
        (tmp_path / "other-state" / "brig").mkdir(parents=True)
        shutil.copy(wrong, tmp_path / "other-state" / "brig" / "audit.key")
        named = f"default key file {tmp_path / 'other-state' / 'brig' / 'audit.key'}"
    r = subprocess.run([brig, *args], capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "no record verifies with the key from" in r.stderr, r.stderr
    assert named in r.stderr and "wrong key?" in r.stderr and "modified" not in r.stderr + r.stdout, r.stderr
    # Tampering with the right key: still "modified", on stdout as before and summed up on stderr.
    lines = log.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    lines[1] = lines[1].replace('"child-exit"', '"child-exiT"')
    bad.write_text("\n".join(lines) + "\n")
    t = subprocess.run([brig, "audit", "verify", str(bad)], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, XDG_STATE_HOME=str(state)), stdin=subprocess.DEVNULL)
    assert t.returncode == 1 and ": modified: " in t.stdout and "wrong key" not in t.stdout + t.stderr, (t.stdout, t.stderr)
    assert t.stderr.startswith("brig: damaged: ") and t.stderr.count("\n") == 1, t.stderr


@pytest.mark.parametrize("command", ["verify", "show", "tail"])
def test_a_file_of_no_records_is_not_an_audit_log(brig, tmp_path, sample_log, command):
    """Bytes without a newline are not a record cut short (that starts like one): brig says what
    the file is not, rather than "intact: 0 records" or an empty table."""
    _, state = sample_log
    odd = tmp_path / "odd.jsonl"
    odd.write_bytes(b"\x00\x01\x02\xff" * 64)
    r = subprocess.run([brig, "audit", command, str(odd)], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, XDG_STATE_HOME=str(state)), stdin=subprocess.DEVNULL)
    assert r.returncode == 125 and r.stderr == f"brig: {odd}: not an audit log (no line of it is a record)\n", r
