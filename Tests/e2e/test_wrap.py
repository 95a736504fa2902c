"""`brig wrap`, `brig unwrap` and `brig check --server` over the host configs of a fake $HOME.

Each host's file (Tests/e2e/fixtures/hosts/) is in that host's real layout: Claude Desktop,
Claude Code (~/.claude.json with a project's servers, and a project's .mcp.json), VS Code (user and
workspace mcp.json: JSONC with comments, trailing commas, inputs; the workspace file with CRLF),
Cursor (user and project), Zed (settings.json: JSONC, both context_servers layouts, an extension),
Windsurf and Cline. `@PYTHON@` and `@PROJECT@` in them become this venv's Python and the test's
project directory.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import FIXTURES

HOSTS = FIXTURES / "hosts"

# fixture -> where it goes (relative to the fake $HOME, or "project/..." for the project directory)
LAYOUT = {
    "claude_desktop_config.json": ".config/Claude/claude_desktop_config.json",
    "claude.json": ".claude.json",
    "dot-mcp.json": "project/.mcp.json",
    "vscode-user-mcp.json": ".config/Code/User/mcp.json",
    "vscode-workspace-mcp.json": "project/.vscode/mcp.json",
    "cursor-mcp.json": ".cursor/mcp.json",
    "cursor-project-mcp.json": "project/.cursor/mcp.json",
    "zed-settings.json": ".config/zed/settings.json",
    "windsurf-mcp_config.json": ".codeium/windsurf/mcp_config.json",
    "cline_mcp_settings.json": ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
}
JSONC = {"vscode-user-mcp.json", "vscode-workspace-mcp.json", "zed-settings.json"}
SERVERS_KEY = {"vscode-user-mcp.json": "servers", "vscode-workspace-mcp.json": "servers", "zed-settings.json": "context_servers"}


def jsonc_loads(text: str):
    """JSON with // and /* */ comments and trailing commas (as VS Code and Zed read it)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "".join(out)))


class Machine:
    """A fake $HOME with every host's config, a project directory, and brig's state apart."""

    def __init__(self, root: Path, brig: str, python: str):
        self.root = root
        self.home = root / "home"
        self.project = self.home / "project"
        self.state = root / "state"
        self.brig = brig
        self.python = python = os.path.abspath(python)  # as a host config names it: absolute, no ".."
        self.files: dict[str, Path] = {}
        for name, rel in LAYOUT.items():
            path = self.home / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            text = (HOSTS / name).read_text().replace("@PYTHON@", python).replace("@PROJECT@", str(self.project))
            data = text.encode()
            if name == "vscode-workspace-mcp.json":
                data = data.replace(b"\n", b"\r\n")
            path.write_bytes(data)
            self.files[name] = path
        self.files["claude.json"].chmod(0o600)

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / ".config"), XDG_STATE_HOME=str(self.state))
        return env

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([self.brig, *args], cwd=cwd or self.project, env=self.env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def snapshot(self) -> dict[str, bytes]:
        return {name: path.read_bytes() for name, path in self.files.items()}

    def load(self, name: str):
        text = self.files[name].read_bytes().decode()
        return jsonc_loads(text) if name in JSONC else json.loads(text)


@pytest.fixture
def machine(tmp_path, brig, python) -> Machine:
    return Machine(tmp_path, brig, python)


def servers(data: dict, name: str) -> dict:
    """Every server entry of a parsed file, by a name unique in it."""
    if name == "claude.json":
        found = dict(data.get("mcpServers", {}))
        for project, p in data.get("projects", {}).items():
            found.update({f"{project}:{k}": v for k, v in p.get("mcpServers", {}).items()})
        return found
    return data[SERVERS_KEY.get(name, "mcpServers")]


def is_remote(entry: dict) -> bool:
    return "url" in entry or "serverUrl" in entry or entry.get("type") in ("http", "sse")


def command_of(entry: dict) -> tuple[str, list[str]] | None:
    """(command, args) of a stdio entry in either Zed layout; None for others."""
    command = entry.get("command")
    if isinstance(command, dict):
        return command["path"], command.get("args", [])
    if isinstance(command, str):
        return command, entry.get("args", [])
    return None


def test_list_names_every_host_and_marks_remote_servers_not_wrappable(machine):
    before = machine.snapshot()
    r = machine.run("wrap")
    assert r.returncode == 0, r.stderr
    for host in ["Claude Desktop", "Claude Code", "Claude Code (project)", "VS Code", "VS Code (workspace)", "Cursor",
                 "Cursor (project)", "Zed", "Windsurf", "Cline"]:
        assert f"\n{host}: " in "\n" + r.stdout, host
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines() if ln.startswith("  ")}
    for remote in ["linear", "docs", "remote-tools", "remote-mcp-server", "zapier", "remote"]:
        assert "not wrappable" in lines[remote], lines[remote]
    assert "Zed extension" in lines["postgres-context-server"]
    assert "-> profile python" in lines["git"] and "-> profile node" in lines["filesystem"]
    assert "-> profile default" in lines["perplexity"]
    assert "wrapped (profile strict)" in lines["already"]
    assert machine.snapshot() == before


def test_wrap_all_keeps_each_layout_and_unwrap_restores_byte_for_byte(machine):
    before = machine.snapshot()
    parsed_before = {n: machine.load(n) for n in LAYOUT}
    r = machine.run("wrap", "--all", "--yes")
    assert r.returncode == 0, r.stderr
    after = machine.snapshot()
    for name in LAYOUT:
        assert after[name] != before[name], f"{name} was not rewritten"
        data = machine.load(name)                              # the rewritten file parses
        old = parsed_before[name]
        assert list(data) == list(old), name                   # the host's own top-level keys, in order
        new_servers, old_servers = servers(data, name), servers(old, name)
        assert list(new_servers) == list(old_servers), name
        for key, entry in old_servers.items():
            now = new_servers[key]
            was = command_of(entry)
            if was is None or is_remote(entry) or key == "already":
                assert now == entry, (name, key)               # remote, extension, hand-wrapped: untouched
                continue
            command, args = command_of(now)
            assert command == os.path.realpath(machine.brig), (name, key)
            dash = args.index("--")
            assert args[dash + 1:] == [was[0], *was[1]], (name, key)
            assert args[0] == "--profile"
            # Every other key of the entry is as it was.
            rest = lambda e: {k: v for k, v in e.items() if k not in ("command", "args")}
            if isinstance(entry.get("command"), dict):
                assert {k: v for k, v in now["command"].items() if k not in ("path", "args")} == \
                       {k: v for k, v in entry["command"].items() if k not in ("path", "args")}
            assert rest(now) == rest(entry), (name, key)
    # The CRLF file stays CRLF throughout; the mode of ~/.claude.json is kept.
    ws = after["vscode-workspace-mcp.json"]
    assert ws.count(b"\r\n") == ws.count(b"\n")
    assert machine.files["claude.json"].stat().st_mode & 0o777 == 0o600
    # Profiles follow the commands.
    desktop = servers(machine.load("claude_desktop_config.json"), "claude_desktop_config.json")
    assert desktop["time"]["args"][:2] == ["--profile", "python"]
    assert desktop["filesystem"]["args"][:5] == ["--profile", "node", "--env", "NODE_OPTIONS", "--"]
    assert servers(machine.load("windsurf-mcp_config.json"), "x")["github"]["args"][:2] == ["--profile", "default"]
    # A backup of each file as it was.
    backups = sorted((machine.state / "brig" / "wrap" / "backups").iterdir())
    assert len(backups) == len(LAYOUT)
    assert sorted(b.read_bytes() for b in backups) == sorted(before.values())

    again = machine.run("wrap", "--all", "--yes")
    assert again.returncode == 0, again.stderr
    assert "nothing to wrap" in again.stderr
    assert machine.snapshot() == after

    r = machine.run("unwrap", "--all", "--yes")
    assert r.returncode == 0, r.stderr
    restored = machine.snapshot()
    for name in LAYOUT:
        assert restored[name] == before[name], name
    assert "already" in r.stderr and "no record" in r.stderr    # the hand-wrapped entry is left as it is


def test_unwrap_keeps_edits_made_elsewhere_in_the_file(machine):
    path = machine.files["zed-settings.json"]
    original = path.read_bytes()
    assert machine.run("wrap", "--all", "--yes").returncode == 0
    edited = path.read_bytes().replace(b'"ui_font_size": 16,', b'"ui_font_size": 18, // bigger\n  "vim_mode": true,')
    path.write_bytes(edited)
    r = machine.run("unwrap", "mcp-server-time", "brave-search", "--yes", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert path.read_bytes() == original.replace(b'"ui_font_size": 16,', b'"ui_font_size": 18, // bigger\n  "vim_mode": true,')


def test_unwrap_without_a_record_rebuilds_from_the_command_line(machine):
    path = machine.files["claude_desktop_config.json"]
    r = machine.run("unwrap", "already", "--yes", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert "no record of wrapping it" in r.stdout
    assert json.loads(path.read_text())["mcpServers"]["already"] == {"command": "./bin/server", "args": []}


def test_dry_run_and_no_terminal_write_nothing(machine):
    before = machine.snapshot()
    r = machine.run("wrap", "--all", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "+++ " in r.stdout and "--profile" in r.stdout
    assert "dry run: nothing written" in r.stderr
    r = machine.run("wrap", "--all")                           # stdin is not a terminal, no --yes
    assert r.returncode == 125
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("brig:")]
    assert err == ["brig: wrap: not asking without a terminal: pass --yes to write, or --dry-run to only show"], r.stderr
    assert machine.snapshot() == before
    assert not (machine.state / "brig" / "wrap" / "records").exists()


def test_a_malformed_file_is_refused_naming_its_line(machine):
    bad = machine.home / "malformed.json"
    shutil.copy(HOSTS / "malformed.json", bad)
    before = bad.read_bytes()
    r = machine.run("wrap", "--all", "--yes", "--config", str(bad))
    assert r.returncode == 125
    assert f"brig: {bad}:7:5: cannot parse it: unexpected '\"' after the value of \"time\" (expected ',' or '}}'); not written" in r.stderr, r.stderr
    assert bad.read_bytes() == before
    # Found among the others (as Windsurf's file): it is not written, the others are.
    machine.files["windsurf-mcp_config.json"].write_bytes(before)
    r = machine.run("wrap", "--all", "--yes")
    assert r.returncode == 125
    assert "mcp_config.json:7:5: cannot parse it" in r.stderr
    assert machine.files["windsurf-mcp_config.json"].read_bytes() == before
    assert "/brig" in servers(machine.load("cursor-mcp.json"), "x")["postgres"]["command"]


def test_a_wrong_type_names_the_key(machine):
    path = machine.home / "odd.json"
    path.write_text('{\n  "mcpServers": {\n    "t": {\n      "command": "uvx",\n      "args": "mcp-server-time"\n    }\n  }\n}\n')
    r = machine.run("wrap", "t", "--yes", "--config", str(path))
    assert r.returncode == 125
    assert f"brig: {path}:5: mcpServers.t.args: expected an array of strings; left as it is" in r.stderr, r.stderr


def test_names_choose_servers_and_an_unknown_name_is_an_error(machine):
    r = machine.run("wrap", "fetch", "--yes")
    assert r.returncode == 0, r.stderr
    assert servers(machine.load("dot-mcp.json"), "x")["fetch"]["command"].endswith("/brig")
    assert servers(machine.load("claude_desktop_config.json"), "x")["git"]["command"] == "uvx"
    r = machine.run("wrap", "nosuch", "--yes")
    assert r.returncode == 125
    assert "brig: no server nosuch in" in r.stderr
    r = machine.run("wrap", "linear", "--yes")
    assert r.returncode == 125
    assert "mcpServers.linear: a remote (HTTP) server: not wrappable" in r.stderr
    # "github" is an HTTP server in VS Code's file and a stdio one in Windsurf's: that one is wrapped.
    r = machine.run("wrap", "github", "--yes")
    assert r.returncode == 0, r.stderr
    assert "servers.github: a remote (HTTP) server: not wrappable" in r.stderr
    assert servers(machine.load("windsurf-mcp_config.json"), "x")["github"]["command"].endswith("/brig")


def test_cwd_becomes_workdir_where_the_host_starts_servers_at_root(machine):
    r = machine.run("wrap", "git", "project-server", "py-tools", "--yes")
    assert r.returncode == 0, r.stderr
    git = servers(machine.load("claude_desktop_config.json"), "x")["git"]
    assert git["args"][:5] == ["--profile", "python", "--workdir", str(machine.project), "--"]
    assert f"Claude Desktop starts servers at / and ignores cwd: --workdir {machine.project} added from the entry's cwd" in r.stdout
    # Cursor and VS Code start the server in its cwd themselves: no --workdir.
    assert "--workdir" not in servers(machine.load("cursor-project-mcp.json"), "x")["project-server"]["args"]
    assert "--workdir" not in servers(machine.load("vscode-workspace-mcp.json"), "vscode-workspace-mcp.json")["py-tools"]["args"]


def test_check_server_shows_what_brig_does(machine):
    r = machine.run("check", "--server", "git")
    assert r.returncode == 0, r.stderr
    assert "wrapped: no: brig wrap git would start it as: brig --profile python --workdir" in r.stdout
    assert "host starts it in: /  (Claude Desktop starts every server at /); brig's --workdir replaces it" in r.stdout
    assert f"working directory: working directory {machine.project}: granted (--workdir)" in r.stdout
    assert "profile: python" in r.stdout

    assert machine.run("wrap", "time", "--yes").returncode == 0
    r = machine.run("check", "--server", "time")
    assert r.returncode == 0, r.stderr
    assert "wrapped: yes:" in r.stdout
    assert "working directory: working directory /: not granted (it is / (the whole machine))" in r.stdout
    assert "command grants for " in r.stdout

    r = machine.run("check", "--server", "linear")
    assert r.returncode == 0, r.stderr
    assert "not wrappable" in r.stdout
    r = machine.run("check", "--server", "nosuch")
    assert r.returncode == 125
    assert r.stderr.startswith("brig: --server nosuch: no such server in")


async def call_time(params: StdioServerParameters, errlog) -> dict:
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(30):
                await session.initialize()
                result = await session.call_tool("convert_time", {"source_timezone": "Europe/Berlin", "time": "09:30",
                                                                  "target_timezone": "Asia/Tokyo"})
                return result.model_dump(mode="json", by_alias=True)


def test_the_wrapped_entry_really_runs(machine, tmp_path):
    r = machine.run("wrap", "time", "--yes")
    assert r.returncode == 0, r.stderr
    entry = servers(machine.load("claude_desktop_config.json"), "x")["time"]
    assert entry["command"] == os.path.realpath(machine.brig)
    # Started as the host would: its command and args, from / (Claude Desktop's directory).
    params = StdioServerParameters(command=entry["command"], args=entry["args"], cwd="/")
    with open(tmp_path / "server.err", "w") as err:
        result = anyio.run(call_time, params, err)
    stderr = (tmp_path / "server.err").read_text(errors="replace")
    assert result["isError"] is False, stderr
    converted = result["structuredContent"]
    assert converted["source"]["timezone"] == "Europe/Berlin" and converted["target"]["timezone"] == "Asia/Tokyo"
    assert "brig: working directory /: not granted" in stderr


@pytest.mark.parametrize("answer, written", [(b"y\n", True), (b"n\n", False), (b"\n", False)])
def test_on_a_terminal_it_asks_first(machine, answer, written):
    path = machine.files["cursor-mcp.json"]
    before = path.read_bytes()
    master, slave = os.openpty()
    try:
        p = subprocess.Popen([machine.brig, "wrap", "postgres", "--config", str(path)], stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=machine.env(), cwd=machine.project)
        os.close(slave)
        slave = -1
        os.write(master, answer)
        out, err = p.communicate(timeout=30)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert b"Write this change? [y/N] " in err
    assert b"+++ " in out
    if written:
        assert p.returncode == 0, err
        assert json.loads(path.read_text())["mcpServers"]["postgres"]["args"][:4] == ["--profile", "node", "--env", "PGPASSWORD"]
    else:
        assert p.returncode == 1
        assert b"brig: nothing written" in err
        assert path.read_bytes() == before


def test_a_wrap_with_another_brig_command_is_still_known_as_wrapped(machine):
    path = machine.files["dot-mcp.json"]
    before = path.read_bytes()
    r = machine.run("wrap", "fetch", "--brig", "/opt/brig-dev/bin/sandbox", "--yes", "--config", str(path), "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert json.loads(path.read_text())["mcpServers"]["fetch"]["command"] == "/opt/brig-dev/bin/sandbox"
    r = machine.run("wrap", "--all", "--yes", "--config", str(path))
    assert "nothing to wrap" in r.stderr and r.returncode == 0
    assert "wrapped (profile python)" in r.stdout
    r = machine.run("unwrap", "--all", "--yes", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert path.read_bytes() == before
