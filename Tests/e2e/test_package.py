"""The Debian package (scripts/package), installed on this machine and removed again.

When BRIG_DEB names a built .deb (scripts/test builds one and sets it when CI=true), the tests
below run in order: `dpkg -i`, the files and Depends: it installed, `brig --version` (the
version and the commit of this tree), `man brig` and `man brig-run`, the bash completion sourced
by bash, postinst's AppArmor handling (with stand-ins for aa-enabled and apparmor_parser), the
demo's MCP sessions through /usr/bin/brig, then `dpkg -r` and `dpkg -P` and nothing
left behind. They need root and a machine without brig installed; without BRIG_DEB they are
skipped. man-db comes with lintian, which scripts/package installs.

test_version_line_of_the_build_under_test runs always, on the brig under test (BRIG_BIN).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, run_brig
from test_demo import check_demo

DEB = os.environ.get("BRIG_DEB")
BIN = Path("/usr/bin/brig")
APPARMOR = Path("/etc/apparmor.d/brig")
VERSION = (REPO / "VERSION").read_text().strip()


def sh(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, **kwargs)
    if check:
        assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


def package_status() -> str:
    """dpkg's status of the package brig ('' when dpkg does not know it)."""
    r = sh("dpkg-query", "-W", "-f=${Status}", "brig", check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


def tree_commit() -> str:
    """The commit scripts/stamp-version stamps for this tree."""
    commit = sh("git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD").stdout.strip()
    if sh("git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no").stdout.strip():
        commit += "+modified"
    return commit


def command_paths(brig: str) -> list[list[str]]:
    """Every command path brig defines (brig, brig run, brig audit verify, ...)."""
    tree = json.loads(sh(brig, "--experimental-dump-help").stdout)["command"]
    paths = []

    def walk(command, above):
        here = above + [command["commandName"]]
        paths.append(here)
        for sub in command.get("subcommands") or []:
            walk(sub, here)
    walk(tree, [])
    return paths


def test_version_line_of_the_build_under_test(brig):
    v = run_brig(brig, ["--version"])
    assert v.returncode == 0, v
    line = v.stdout.decode().strip()
    assert re.fullmatch(rf"brig {re.escape(VERSION)} \(commit ([0-9a-f]{{12}}(\+modified)?"
                        r"|unknown: built without scripts/stamp-version)\)", line), line


@pytest.fixture(scope="module")
def deb() -> Path:
    """The package, installed with dpkg -i; purged at the end if a test stopped before that."""
    if not DEB:
        pytest.skip("BRIG_DEB is not set: build the package with scripts/package and set BRIG_DEB "
                    "to the .deb it prints (scripts/test does both when CI=true)")
    path = Path(DEB)
    assert path.is_file(), f"BRIG_DEB={DEB} is not a file"
    if os.geteuid() != 0:
        pytest.skip("installing the package (dpkg -i) needs root")
    assert package_status() in ("", "unknown ok not-installed"), \
        f"the package brig is already on this machine ({package_status()}): dpkg -P brig first"
    assert not BIN.exists(), f"{BIN} exists and is not from the package: remove it first"
    sh("dpkg", "-i", str(path))
    yield path
    if package_status() not in ("", "unknown ok not-installed"):
        sh("dpkg", "-P", "brig", check=False)


def test_installs_its_files(deb):
    assert package_status() == "install ok installed"
    files = set(sh("dpkg", "-L", "brig").stdout.split())
    expected = {str(BIN), str(APPARMOR), "/usr/share/doc/brig/copyright", "/usr/share/doc/brig/changelog.Debian.gz",
                "/usr/share/bash-completion/completions/brig", "/usr/share/zsh/vendor-completions/_brig",
                "/usr/share/fish/vendor_completions.d/brig.fish", "/usr/lib/systemd/system/brig-forward@.service"}
    expected |= {f"/usr/share/brig/profiles/{p.name}" for p in (REPO / "profiles").glob("*.yaml")}
    expected |= {f"/usr/share/man/man1/{'-'.join(p)}.1.gz" for p in command_paths(str(BIN))}
    assert expected <= files, sorted(expected - files)
    assert os.access(BIN, os.X_OK)
    # The AppArmor profile attaches to the packaged binary, and is a conffile.
    assert re.search(r"^profile brig /usr/bin/brig flags=\(unconfined\) \{$", APPARMOR.read_text(), re.M)
    assert str(APPARMOR) in sh("dpkg-query", "-W", "-f=${Conffiles}", "brig").stdout
    profiles = Path("/sys/kernel/security/apparmor/profiles")
    if profiles.is_file() and shutil.which("apparmor_parser"):
        assert re.search(r"^brig \(", profiles.read_text(), re.M), "postinst did not load the AppArmor profile"


def test_depends_names_every_shared_library(deb):
    """Every library the binary needs is in a package that Depends: names."""
    depends = sh("dpkg-query", "-W", "-f=${Depends}", "brig").stdout
    named = {re.split(r"[\s(]", d.strip())[0] for d in depends.split(",")}
    needed = re.findall(r"^\s*NEEDED\s+(\S+)$", sh("objdump", "-p", str(BIN)).stdout, re.M)
    assert "libseccomp.so.2" in needed and "libc.so.6" in needed, needed
    ldd = sh("ldd", str(BIN)).stdout
    for soname in needed:
        # "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", or for the loader
        # "\t/lib64/ld-linux-x86-64.so.2 (0x...)".
        m = re.search(rf"^\s*(?:{re.escape(soname)} => (/\S+)|(/\S*/{re.escape(soname)})) ", ldd, re.M)
        assert m, f"ldd does not resolve {soname}:\n{ldd}"
        found = m.group(1) or m.group(2)
        real = os.path.realpath(found)
        owners = set()
        for candidate in {found, real, real.replace("/usr/lib/", "/lib/", 1)}:
            r = sh("dpkg", "-S", candidate, check=False)
            owners |= {line.split(":")[0] for line in r.stdout.splitlines() if r.returncode == 0}
        assert owners & named, f"{soname} ({real}) is in {owners or 'no package'}, which Depends: ({depends}) does not name"


def test_version_names_version_and_commit(deb):
    upstream = sh("dpkg-query", "-W", "-f=${Version}", "brig").stdout.rsplit("-", 1)[0]
    assert upstream == VERSION
    out = sh(str(BIN), "--version").stdout.strip()
    assert out == f"brig {VERSION} (commit {tree_commit()})"


def test_man_pages(deb):
    env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    page = sh("man", "-P", "cat", "brig", env=env).stdout
    assert "Run an MCP stdio server confined, policed and audited." in page
    assert "Exit codes: the child's own" in page  # the discussion
    assert re.search(r"SEE ALSO\s+brig-audit\(1\), ", page), page[-800:]
    run = sh("man", "-P", "cat", "brig-run", env=env).stdout
    assert "brig run" in run and "--grace" in run and "--profile" in run
    assert re.search(r"SEE ALSO\s+brig\(1\)", run), run[-400:]
    for path in command_paths(str(BIN)):
        name = "-".join(path)
        where = sh("man", "-w", name, env=env).stdout.strip()
        assert where == f"/usr/share/man/man1/{name}.1.gz"


def test_bash_completion(deb):
    script = "/usr/share/bash-completion/completions/brig"
    r = sh("bash", "-c", f"source {script} && complete -p brig")
    m = re.fullmatch(r"complete (?:.* )?-F (\S+) brig", r.stdout.strip())
    assert m, r.stdout
    function = m.group(1)
    # The function completes a subcommand the way bash would call it: `brig au<TAB>`.
    complete = (f"source {script}; COMP_WORDS=(brig au); COMP_CWORD=1; COMP_LINE='brig au'; COMP_POINT=7; "
                f"{function} brig au brig; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    assert "audit" in sh("bash", "-c", complete).stdout.split()


def test_postinst_loads_the_apparmor_profile_only_where_apparmor_is_enabled(deb, tmp_path):
    """The installed postinst, run again with stand-ins for aa-enabled and apparmor_parser first on
    PATH (AppArmor is not enabled on this machine): enabled -> `apparmor_parser -r -T -W` on the
    profile; disabled -> no call; a parser that fails -> reported, and the install still succeeds."""
    postinst = Path("/var/lib/dpkg/info/brig.postinst")
    assert postinst.is_file()
    stubs, calls = tmp_path / "bin", tmp_path / "calls"
    stubs.mkdir()

    def run(enabled: bool, parser_status: int) -> subprocess.CompletedProcess:
        (stubs / "aa-enabled").write_text(f"#!/bin/sh\nexit {0 if enabled else 1}\n")
        (stubs / "apparmor_parser").write_text(f'#!/bin/sh\necho "$@" >>{calls}\nexit {parser_status}\n')
        for f in stubs.iterdir():
            f.chmod(0o755)
        calls.unlink(missing_ok=True)
        return sh(str(postinst), "configure", "0.1.0-1", check=False,
                  env=dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}"))

    r = run(enabled=True, parser_status=0)
    assert r.returncode == 0, r.stderr
    assert calls.read_text().split() == ["-r", "-T", "-W", str(APPARMOR)]
    r = run(enabled=False, parser_status=0)
    assert r.returncode == 0 and not calls.exists(), r.stderr
    r = run(enabled=True, parser_status=1)
    assert r.returncode == 0 and calls.exists()
    assert f"could not load {APPARMOR}" in r.stderr


def test_demo_through_the_installed_binary(deb, python):
    check_demo(str(BIN), python)


def test_remove_then_purge_leaves_nothing(deb):
    installed = sh("dpkg", "-L", "brig").stdout.split()
    sh("dpkg", "-r", "brig")
    assert package_status() == "deinstall ok config-files"
    assert not BIN.exists()
    left = [f for f in installed if os.path.isfile(f) and f != str(APPARMOR)]
    assert left == [], left
    assert APPARMOR.is_file(), "dpkg -r keeps conffiles until purge"
    sh("dpkg", "-P", "brig")
    assert package_status() in ("", "unknown ok not-installed")
    r = sh("dpkg", "-L", "brig", check=False)
    assert r.returncode != 0
    assert not APPARMOR.exists()
    for d in ("/usr/share/brig", "/usr/share/doc/brig"):
        assert not os.path.exists(d), d
    assert not [f for f in installed if os.path.lexists(f) and not os.path.isdir(f)]
