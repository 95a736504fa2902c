"""brig's command line: exit codes for a missing or unrunnable command and for bad usage (125,
with one `brig:` line on stderr and nothing on stdout), options that change the run."""
import json
import os
import stat
import subprocess
import tempfile

import pytest

from conftest import run_brig


def assert_one_brig_line(result) -> str:
    assert result.stdout == b"", result.stdout
    lines = result.stderr.decode("utf-8", "replace").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("brig: "), lines
    return lines[0]


def test_command_not_found_is_127(brig):
    r = run_brig(brig, ["--", "brig-test-no-such-command-xyz"])
    assert r.returncode == 127
    assert "brig-test-no-such-command-xyz" in assert_one_brig_line(r)


def test_missing_path_is_127(brig, workdir):
    r = run_brig(brig, ["--", str(workdir / "missing-server")])
    assert r.returncode == 127
    assert_one_brig_line(r)


def test_not_executable_file_is_126(brig, workdir):
    script = workdir / "server.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    r = run_brig(brig, ["--", str(script)])
    assert r.returncode == 126
    assert "server.sh" in assert_one_brig_line(r)


def test_directory_is_126(brig, workdir):
    r = run_brig(brig, ["--", str(workdir)])
    assert r.returncode == 126
    assert_one_brig_line(r)


def test_not_executable_on_path_is_126(brig, workdir):
    (workdir / "brig-test-plain-file").write_text("not a program\n")
    env = dict(os.environ, PATH=str(workdir))
    r = run_brig(brig, ["--", "brig-test-plain-file"], env=env)
    assert r.returncode == 126
    assert_one_brig_line(r)


def test_executable_without_valid_format_is_126(brig, workdir):
    # Executable bit set, but the kernel cannot run it (no #! line, not ELF): exec fails.
    bogus = workdir / "bogus"
    bogus.write_bytes(b"\x00\x01\x02garbage")
    bogus.chmod(0o755)
    r = run_brig(brig, ["--", str(bogus)])
    assert r.returncode == 126, (r.returncode, r.stderr)
    assert_one_brig_line(r)


@pytest.mark.parametrize("args", [
    pytest.param(["--bogus", "--", "true"], id="unknown-option"),
    pytest.param(["-x", "--", "true"], id="unknown-short-option"),
    pytest.param(["--max-message-size", "lots", "--", "true"], id="bad-size"),
    pytest.param(["--max-message-size", "-5", "--", "true"], id="negative-size"),
    pytest.param(["--grace", "soon", "--", "true"], id="grace-not-a-number"),
    pytest.param(["--grace=-1", "--", "true"], id="negative-grace"),
    pytest.param(["--kill-after=-2", "--", "true"], id="negative-kill-after"),
    pytest.param(["--grace"], id="missing-value"),
    pytest.param([], id="no-command"),
    pytest.param(["--"], id="nothing-after-dashes"),
    pytest.param(["run", "--bogus", "--", "true"], id="run-unknown-option"),
])
def test_bad_usage_is_125_with_one_line(brig, args):
    r = run_brig(brig, args)
    assert r.returncode == 125, (r.returncode, r.stderr)
    assert_one_brig_line(r)


@pytest.mark.parametrize("option", ["--grace", "--kill-after"])
@pytest.mark.parametrize("value", ["inf", "1e30"])
def test_unrepresentable_timeouts_are_usage_errors(brig, option, value):
    r = run_brig(brig, [option, value, "--", "true"])
    assert r.returncode == 125, (r.returncode, r.stderr[:200])
    assert_one_brig_line(r)


def test_unusable_workdir_is_125(brig, workdir):
    r = run_brig(brig, ["--workdir", str(workdir / "does-not-exist"), "--", "true"])
    assert r.returncode == 125
    assert_one_brig_line(r)


def test_version_and_help_exit_0(brig):
    v = run_brig(brig, ["--version"])
    assert v.returncode == 0 and v.stdout.strip(), v
    h = run_brig(brig, ["--help"])
    assert h.returncode == 0 and b"USAGE" in h.stdout


def test_run_subcommand_and_default_are_the_same(brig, python):
    script = "import sys; sys.exit(6)"
    assert run_brig(brig, ["run", "--", python, "-c", script]).returncode == 6
    assert run_brig(brig, ["--", python, "-c", script]).returncode == 6


def test_options_after_the_command_belong_to_the_command(brig, python):
    script = "import json, sys; print(json.dumps({'jsonrpc': '2.0', 'method': 'argv', 'params': sys.argv[1:]}))"
    r = run_brig(brig, ["--grace", "1", "--", python, "-c", script, "--grace", "7", "--", "-x"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"] == ["--grace", "7", "--", "-x"]


def test_workdir_sets_the_child_cwd_and_resolves_relative_commands(brig, python, workdir):
    server = workdir / "server.py"
    server.write_text("#!" + python + "\nimport json, os\n"
                      "print(json.dumps({'jsonrpc': '2.0', 'method': 'cwd', 'params': {'cwd': os.getcwd()}}))\n")
    server.chmod(server.stat().st_mode | stat.S_IXUSR)
    r = run_brig(brig, ["--workdir", str(workdir), "--", "./server.py"], cwd="/")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"]["cwd"] == str(workdir)


def test_env_option_passes_variables(brig, python):
    # The profile decides which variables pass by default; --env NAME and --env NAME=VALUE add one.
    script = ("import json, os; print(json.dumps({'jsonrpc': '2.0', 'method': 'env', "
              "'params': {'a': os.environ.get('BRIG_E2E_A'), 'b': os.environ.get('BRIG_E2E_B')}}))")
    env = dict(os.environ, BRIG_E2E_A="marker-\u00e9")
    r = run_brig(brig, ["--env", "BRIG_E2E_A", "--env", "BRIG_E2E_B=set here", "--", python, "-c", script], env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"] == {"a": "marker-\u00e9", "b": "set here"}


def private_dirs() -> set[str]:
    import glob
    return set(glob.glob("/tmp/brig-" + "?" * 6))


def test_brig_errors_leave_no_private_directory(brig, workdir, tmp_path):
    """A confined run that ends in one of brig's own errors (exit 125) removes the private
    /tmp/brig-XXXXXX it made: a bad profile, a bad policy, a wrong executable hash, an audit
    trail inside a grant."""
    bad_profile = tmp_path / "bad.yaml"
    bad_profile.write_text("version: 1\nname: bad\nsandbox:\n  bogus: 1\n")
    bad_policy = tmp_path / "policy.yaml"
    bad_policy.write_text("version: 1\nname: badpolicy\nextends: default\nmcp:\n  roles: {r: [a]}\n")
    cases = [
        ["--profile", str(bad_profile)],
        ["--profile", str(bad_policy), "--role", "nosuchrole"],
        ["--expect-sha256", "ab" * 32],
        ["--audit-log", str(workdir / "audit.jsonl")],
    ]
    env = dict(os.environ, XDG_STATE_HOME=tempfile.mkdtemp())
    for options in cases:
        before = private_dirs()
        r = subprocess.run([brig, "--workdir", str(workdir), *options, "--", "/bin/true"], capture_output=True, text=True,
                           timeout=20, env=env, stdin=subprocess.DEVNULL)
        assert r.returncode == 125, (options, r.stderr)
        assert private_dirs() - before == set(), (options, r.stderr)


@pytest.mark.parametrize("words", [["--help"], ["run", "--help"], ["check", "--help"], ["check", "-h"], ["learn", "--help"],
                                   ["audit", "--help"], ["pins", "--help"], ["wrap", "--help"], ["unwrap", "--help"],
                                   ["profiles", "--help"], ["help", "check"]])
def test_every_subcommand_answers_help(brig, words):
    r = subprocess.run([brig, *words], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "USAGE:" in r.stdout, (words, r.returncode, r.stderr)
