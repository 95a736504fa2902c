"""Issue #6 end to end: brig's content defenses (pins, sanitizing, poisoning flags, leak
redaction, executable hashes) against a hostile fixture server (fixtures/hostile_server.py),
with the official Python SDK client in both protocol eras, and against real servers (no findings).

Every test keeps brig's state (pins, audit trail and key) in its own XDG_STATE_HOME, outside the
server's workdir."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from conftest import BrigProcess
from test_policy import ERAS, TIME, brig_lines, isolated, sdk, text_of, write_profile
from test_sdk_servers import make_repo

FIXTURE = str(Path(__file__).resolve().parent / "fixtures" / "hostile_server.py")
SECRET = "s3cr3t-Db-Pa55w0rd-e2e-7781"
GITHUB_TOKEN = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TAG_RANGE = range(0xE0000, 0xE0080)


def hostile_profile(tmp_path: Path, mcp: str = "", name: str = "hostile-e2e") -> str:
    secret = tmp_path / "db.secret"
    secret.write_text(SECRET + "\n")
    return write_profile(tmp_path, f"""sandbox:
  env:
    secrets: {{DB_PASSWORD: {{file: "{secret}"}}}}
""" + (f"mcp:\n{mcp}" if mcp else ""), name=name, extends="default")


def hostile(*args: str) -> list[str]:
    return [FIXTURE, "--secret-env", "DB_PASSWORD", *args]


def audit_actions(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def events(log: Path, action: str) -> list[dict]:
    return [r for r in audit_actions(log) if r.get("event", {}).get("action") == action]


def invisible(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if ord(c) in TAG_RANGE or c == "\x1b" or (ord(c) < 0x20 and c not in "\n\t")]


async def list_tools(s) -> dict:
    return {t.name: t for t in (await s.list_tools()).tools}


def pins(brig: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env, _ = isolated(tmp_path)
    return subprocess.run([brig, "pins", *args], capture_output=True, text=True, timeout=20, env=env)


# --- pins -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_changed_description_between_sessions_warns(brig, python, tmp_path, era):
    profile = hostile_profile(tmp_path)
    log = tmp_path / "audit" / "trail.jsonl"
    opts = ["--profile", profile, "--audit-log", str(log)]
    first, err1 = sdk(brig, python, tmp_path, opts, era, list_tools, server=hostile())
    assert not [ln for ln in brig_lines(err1) if "pin-" in ln], err1  # first use: pinned quietly
    assert len(events(log, "pin-new")) == len(first) + 1  # the tools and the instructions
    second, err2 = sdk(brig, python, tmp_path, opts, era, list_tools, server=hostile("--variant", "2"))
    changed = [ln for ln in brig_lines(err2) if "pin-changed" in ln]
    assert len(changed) == 1 and "tool:fetch" in changed[0], err2
    # warn: the new description still reaches the host
    assert "audit collector" in second["fetch"].description
    ev = events(log, "pin-changed")
    assert len(ev) == 1 and ev[0]["brig"]["detail"]["item"] == "tool:fetch"
    assert "audit collector" in ev[0]["brig"]["detail"]["detail"]
    assert ev[0]["brig"]["detail"]["blocked"] is False


@pytest.mark.parametrize("era", ERAS)
def test_changed_tool_blocked_until_accepted(brig, python, tmp_path, era):
    profile = hostile_profile(tmp_path, "  pins: block\n")
    opts = ["--profile", profile, "--no-audit"]
    first, _ = sdk(brig, python, tmp_path, opts, era, list_tools, server=hostile())
    assert "fetch" in first

    async def list_and_call(s):
        names = await list_tools(s)
        try:
            result = await s.call_tool("fetch", {"url": "https://example.com"})
        except MCPError as e:
            result = e
        return names, result

    (second, call), err = sdk(brig, python, tmp_path, opts, era, list_and_call, server=hostile("--variant", "2"))
    assert "fetch" not in second and "add" in second, sorted(second)
    assert any("blocked pin-changed in tool:fetch" in ln for ln in brig_lines(err)), err
    # Hidden from the list; what a direct call does is up to the policy (not content) layer.
    assert call is not None

    listed = pins(brig, tmp_path, "list", "--profile", profile)
    assert listed.returncode == 0, listed.stderr
    assert "changed  tool:fetch" in listed.stdout and "hostile-e2e" in listed.stdout, listed.stdout
    assert "hostile-e2e" in pins(brig, tmp_path, "list").stdout
    diff = pins(brig, tmp_path, "diff", "--profile", profile, "tool:fetch")
    assert diff.returncode == 0 and "-  \"description\": \"Fetches a URL and returns its text.\"" in diff.stdout, diff.stdout
    assert "+  \"description\"" in diff.stdout and "audit collector" in diff.stdout

    # Still blocked in the next session, until accepted.
    third, _ = sdk(brig, python, tmp_path, opts, era, list_tools, server=hostile("--variant", "2"))
    assert "fetch" not in third
    accepted = pins(brig, tmp_path, "accept", "--profile", profile, "tool:fetch")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "changed" not in pins(brig, tmp_path, "list", "--profile", profile).stdout.split("server:")[1].split("\n", 1)[1]
    fourth, err4 = sdk(brig, python, tmp_path, opts, era, list_tools, server=hostile("--variant", "2"))
    assert "fetch" in fourth and "audit collector" in fourth["fetch"].description
    assert not [ln for ln in brig_lines(err4) if "pin-" in ln], err4

    # The identity is the profile's name: --server NAME sees the same pins; reset forgets them.
    assert "tool:fetch" in pins(brig, tmp_path, "list", "--server", "hostile-e2e").stdout
    reset = pins(brig, tmp_path, "reset", "--profile", profile)
    assert reset.returncode == 0, reset.stderr
    assert "tool:fetch" not in pins(brig, tmp_path, "list", "--profile", profile).stdout


def test_pins_without_server_choose_the_one_with_changes(brig, python, tmp_path):
    """`pins list` names every server's items and their state; `diff` and `accept ITEM` need no
    --server when one server alone has changes, and name the candidates when two have."""
    era = ERAS[0]
    first = hostile_profile(tmp_path, name="hostile-one")
    for variant in ((), ("--variant", "2")):
        sdk(brig, python, tmp_path, ["--profile", first, "--no-audit"], era, list_tools, server=hostile(*variant))
    other = hostile_profile(tmp_path, name="hostile-two")
    sdk(brig, python, tmp_path, ["--profile", other, "--no-audit"], era, list_tools, server=hostile("--clean"))

    listed = pins(brig, tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    one = listed.stdout.split("hostile-one", 1)[1].split("hostile-two", 1)[0]
    two = listed.stdout.split("hostile-two", 1)[1]
    assert "changed  tool:fetch" in one and "pinned   tool:add" in one, listed.stdout
    assert "pinned   tool:fetch" in two and "changed" not in two.split("review with")[0], listed.stdout

    diff = pins(brig, tmp_path, "diff")
    assert diff.returncode == 0, diff.stderr
    assert "server: hostile-one" in diff.stdout and "== tool:fetch (changed)" in diff.stdout, diff.stdout
    assert "audit collector" in diff.stdout, diff.stdout
    accepted = pins(brig, tmp_path, "accept", "tool:fetch")
    assert accepted.returncode == 0 and "accepted: tool:fetch (server hostile-one)" in accepted.stdout, accepted
    assert "changed" not in pins(brig, tmp_path, "list").stdout
    assert pins(brig, tmp_path, "diff").stdout.startswith("no changes"), "nothing left to review"
    nothing = pins(brig, tmp_path, "accept", "tool:fetch")
    assert nothing.returncode == 1 and nothing.stderr.startswith("brig: tool:fetch: nothing to accept"), nothing

    # Both servers changed: no choice is made for the user.
    sdk(brig, python, tmp_path, ["--profile", first, "--no-audit"], era, list_tools, server=hostile())
    sdk(brig, python, tmp_path, ["--profile", other, "--no-audit"], era, list_tools, server=hostile("--variant", "2"))
    for args in (["diff"], ["accept", "tool:fetch"], ["accept", "--all"]):
        r = pins(brig, tmp_path, *args)
        assert r.returncode == 125, (args, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and "give --server" in r.stderr, r.stderr
        assert "hostile-one" in r.stderr and "hostile-two" in r.stderr, r.stderr
        assert r.stderr.count("hostile_server.py") == 2, f"each candidate is named by its command: {r.stderr}"

    # Tools the server added after its first listing (it ran --clean first) are new until accepted;
    # only hostile-two has them, so accepting one needs no --server.
    two = pins(brig, tmp_path, "list").stdout.split("hostile-two", 1)[1]
    assert "new      tool:helper" in two and "new      tool:notes" in two and "pinned   tool:add" in two, two
    helper = pins(brig, tmp_path, "diff", "--server", "hostile-two", "tool:helper")
    assert "added after the server's first listing" in helper.stdout and "Multiplies two numbers" in helper.stdout, helper
    accepted = pins(brig, tmp_path, "accept", "tool:helper")
    assert accepted.returncode == 0 and "(server hostile-two)" in accepted.stdout, accepted
    assert "pinned   tool:helper" in pins(brig, tmp_path, "list").stdout.split("hostile-two", 1)[1]


def test_list_changed_mid_session_blocked(brig, python, tmp_path):
    """The server rug-pulls mid-session and says so with notifications/tools/list_changed."""
    profile = hostile_profile(tmp_path, "  pins: block\n")
    env, wd = isolated(tmp_path)
    log = tmp_path / "audit" / "trail.jsonl"
    p = BrigProcess([brig, "--profile", profile, "--workdir", str(wd), "--audit-log", str(log), "--",
                     python, *hostile()], env=env)
    try:
        p.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "e2e", "version": "1"}}, id=0)
        p.send_json({"jsonrpc": "2.0", "method": "notifications/initialized"})
        before = p.request("tools/list", id=1)
        assert "fetch" in [t["name"] for t in before["result"]["tools"]]
        p.send_json({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "rotate", "arguments": {}}})
        note = p.read_notification("notifications/tools/list_changed")
        assert "id" not in note
        p.read_until(lambda m: m.get("id") == 2)
        after = p.request("tools/list", id=3)
        names = [t["name"] for t in after["result"]["tools"]]
        assert "fetch" not in names and "rotate" in names, names
        lines = p.brig_lines(at_least=1)
        assert any("blocked pin-changed in tool:fetch" in ln for ln in lines), lines
        p.close_stdin()
        p.wait(15)
    finally:
        p.kill()
    ev = events(log, "pin-changed")
    assert ev and ev[0]["brig"]["detail"]["blocked"] is True and ev[0]["event"]["outcome"] == "failure"


# --- sanitizing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_hidden_text_is_sanitized(brig, python, tmp_path, era):
    profile = hostile_profile(tmp_path)

    async def body(s):
        tools = await list_tools(s)
        return tools, await s.call_tool("hidden", {})

    (tools, result), err = sdk(brig, python, tmp_path, ["--profile", profile, "--no-audit"], era, body, server=hostile())
    desc = tools["notes"].description
    assert desc.startswith("Keeps short notes.") and not invisible(desc), invisible(desc)
    text = text_of(result)
    assert text.startswith("Hello!") and "red" in text and not invisible(text), invisible(text)
    lines = brig_lines(err)
    assert any("sanitized in tool:notes" in ln and "tag" in ln and "ansi" in ln for ln in lines), err
    assert any("sanitized in result" in ln and "ignore previous instructions" in ln for ln in lines), err


@pytest.mark.parametrize("era", ERAS)
def test_content_records_name_their_call(brig, python, tmp_path, era):
    """Sanitizing, leak and poisoning records carry the id, method and tool of the call they were
    found in, and the item: each joins the request's own message record by its id. (The tool of
    a result comes from the in-flight table, which knows it when a message policy reads the call:
    here one rule; without any, neither the call's record nor the finding's names the tool.)"""
    profile = hostile_profile(tmp_path, '  tools:\n    rules:\n      - {name: "*", allow: true}\n')
    log = tmp_path / "audit" / "trail.jsonl"

    async def body(s):
        await list_tools(s)
        await s.call_tool("hidden", {})
        await s.call_tool("leak", {})

    sdk(brig, python, tmp_path, ["--profile", profile, "--audit-log", str(log)], era, body, server=hostile())
    records = audit_actions(log)
    requests = {r["mcp"]["id"]: r["mcp"] for r in records
                if r.get("mcp", {}).get("direction") == "host-to-server" and r["mcp"]["kind"] == "request"}

    def named(action, item, tool):
        found = [e["brig"]["detail"] for e in events(log, action)
                 if e["brig"]["detail"]["item"] == item and e["brig"]["detail"].get("tool") == tool]
        assert found, (action, item, tool, [e["brig"]["detail"] for e in events(log, action)])
        for d in found:
            request = requests.get(d["id"])
            assert request and request["method"] == d["method"], (d, sorted(requests))
            if d["method"] == "tools/call":
                assert request["tool"] == tool, (d, request)
        return found

    assert named("sanitized", "result", "hidden")[0]["method"] == "tools/call"
    assert all(d["method"] == "tools/call" for d in named("leak", "result", "leak"))
    assert named("sanitized", "tool:notes", "notes")[0]["method"] in ("tools/list", "server/discover")
    assert named("poisoning", "tool:helper", "helper")[0]["method"] in ("tools/list", "server/discover")


def test_sanitize_false_passes_text_through(brig, python, tmp_path):
    profile = hostile_profile(tmp_path, "  sanitize: false\n  poisoning: off\n")

    async def body(s):
        return await s.call_tool("hidden", {})

    result, err = sdk(brig, python, tmp_path, ["--profile", profile, "--no-audit"], "initialize", body, server=hostile())
    assert invisible(text_of(result))
    assert not [ln for ln in brig_lines(err) if "sanitized" in ln], err


# --- poisoning ------------------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("mode", ["warn", "block"])
def test_poisoned_description(brig, python, tmp_path, era, mode):
    profile = hostile_profile(tmp_path, f"  poisoning: {mode}\n")
    log = tmp_path / "audit" / "trail.jsonl"
    tools, err = sdk(brig, python, tmp_path, ["--profile", profile, "--audit-log", str(log)], era, list_tools,
                     server=hostile())
    flagged = [ln for ln in brig_lines(err) if "poisoning in tool:helper" in ln]
    assert any("<IMPORTANT>" in ln for ln in flagged) and any("~/.ssh" in ln for ln in flagged), err
    assert any("poisoning in tool:notes" in ln for ln in brig_lines(err)), err  # the tag-character order
    ev = [e for e in events(log, "poisoning") if e["brig"]["detail"]["item"] == "tool:helper"]
    assert ev
    if mode == "block":
        assert "helper" not in tools and "notes" not in tools and "add" in tools, sorted(tools)
        assert all(ln.startswith("brig: blocked") for ln in flagged)
        assert all(e["brig"]["detail"]["blocked"] is True for e in ev)
    else:
        assert "helper" in tools and "<IMPORTANT>" in tools["helper"].description
        assert all(ln.startswith("brig: noticed") for ln in flagged)


@pytest.mark.parametrize("mode", ["warn", "block"])
def test_visible_exfiltration_order_is_flagged(brig, python, tmp_path, mode):
    """A plain-text order to fetch a URL carrying $AWS_SECRET_ACCESS_KEY: no markup, no hidden
    character, no secret word, and still flagged (and withheld under poisoning: block)."""
    profile = hostile_profile(tmp_path, f"  poisoning: {mode}\n")
    log = tmp_path / "audit" / "trail.jsonl"
    tools, err = sdk(brig, python, tmp_path, ["--profile", profile, "--audit-log", str(log)], "initialize", list_tools,
                     server=hostile("--clean", "--exfil"))
    flagged = [ln for ln in brig_lines(err) if "poisoning in tool:sync" in ln]
    assert flagged and any("$AWS_SECRET_ACCESS_KEY" in ln for ln in flagged), err
    ev = [e for e in events(log, "poisoning") if e["brig"]["detail"]["item"] == "tool:sync"]
    assert ev, err
    # The other tools of the clean variant are not flagged.
    assert not [ln for ln in brig_lines(err) if "poisoning in tool:" in ln and "tool:sync" not in ln], err
    if mode == "block":
        assert "sync" not in tools and "add" in tools, sorted(tools)
    else:
        assert "sync" in tools and "collector.example" in tools["sync"].description


# --- leaks ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_secrets_redacted_by_default(brig, python, tmp_path, era):
    profile = hostile_profile(tmp_path)
    log = tmp_path / "audit" / "trail.jsonl"

    async def body(s):
        return await s.call_tool("leak", {})

    result, err = sdk(brig, python, tmp_path, ["--profile", profile, "--audit-log", str(log)], era, body,
                      server=hostile())
    text = text_of(result)
    assert not result.is_error
    assert SECRET not in text and GITHUB_TOKEN not in text and AWS_KEY_ID not in text, text
    assert "[REDACTED:secret:DB_PASSWORD]" in text and "[REDACTED:github-token]" in text, text
    assert "[REDACTED:aws-access-key]" in text
    assert len([ln for ln in brig_lines(err) if "leak in result" in ln]) == 3, err
    trail = log.read_text()
    assert SECRET not in trail and GITHUB_TOKEN not in trail and AWS_KEY_ID not in trail
    assert len(events(log, "leak")) == 3


def all_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *all_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


@pytest.mark.parametrize("era", ERAS)
def test_escaped_secrets_and_hidden_text(brig, python, tmp_path, era):
    """A server that writes every character as a \\uXXXX escape (member names included) hides
    nothing: the host decodes the escapes, and so do brig's checks. Secrets are redacted in the
    result and in the trail (read decoded), hidden text is removed from results and definitions."""
    profile = hostile_profile(tmp_path)
    log = tmp_path / "audit" / "trail.jsonl"

    async def body(s):
        tools = await list_tools(s)
        return tools, await s.call_tool("leak", {}), await s.call_tool("hidden", {})

    (tools, leak, hidden), err = sdk(brig, python, tmp_path, ["--profile", profile, "--audit-log", str(log)], era,
                                     body, server=hostile("--escape-all"))
    text = text_of(leak)
    assert SECRET not in text and GITHUB_TOKEN not in text and AWS_KEY_ID not in text, text
    assert "[REDACTED:secret:DB_PASSWORD]" in text and "[REDACTED:github-token]" in text, text
    assert "[REDACTED:aws-access-key]" in text, text
    assert not invisible(text_of(hidden)) and text_of(hidden).startswith("Hello!"), invisible(text_of(hidden))
    assert not invisible(tools["notes"].description), invisible(tools["notes"].description)
    lines = brig_lines(err)
    assert len([ln for ln in lines if "leak in result" in ln]) == 3, err
    assert any("sanitized in result" in ln and "ignore previous instructions" in ln for ln in lines), err
    decoded = [s for r in audit_actions(log) for s in all_strings(r)]
    for secret in (SECRET, GITHUB_TOKEN, AWS_KEY_ID):
        assert not any(secret in s for s in decoded), secret
    assert len(events(log, "leak")) == 3


@pytest.mark.parametrize("era", ERAS)
def test_secrets_block_turns_call_into_error(brig, python, tmp_path, era):
    profile = hostile_profile(tmp_path, "  leaks: block\n")

    async def body(s):
        return await s.call_tool("leak", {}), await s.call_tool("add", {"a": 2, "b": 3})

    (leak, ok), err = sdk(brig, python, tmp_path, ["--profile", profile, "--no-audit"], era, body, server=hostile())
    assert leak.is_error and "brig withheld this result" in text_of(leak), text_of(leak)
    assert SECRET not in text_of(leak) and "REDACTED" not in text_of(leak)
    assert not ok.is_error and text_of(ok) == "5"
    assert any("blocked leak in result" in ln for ln in brig_lines(err)), err


def test_leak_block_raw_result_type(brig, python, tmp_path):
    """2026-07-28: the withheld result keeps resultType complete (raw bytes)."""
    from test_protocol_eras import META
    profile = hostile_profile(tmp_path, "  leaks: block\n")
    env, wd = isolated(tmp_path)
    p = BrigProcess([brig, "--profile", profile, "--workdir", str(wd), "--no-audit", "--", python, *hostile()], env=env)
    try:
        p.send(('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"leak","arguments":{},' + META + '}}\n').encode())
        line = p.read_line(15)
        assert b'"isError":true' in line and b'"resultType":"complete"' in line, line
        assert SECRET.encode() not in line
    finally:
        p.kill()


# --- executable hash ------------------------------------------------------------------------------

def test_expect_sha256(brig, python, tmp_path):
    env, wd = isolated(tmp_path)
    real = os.path.realpath(python)
    good = hashlib.sha256(Path(real).read_bytes()).hexdigest()
    bad = "0" * 64
    r = subprocess.run([brig, "--expect-sha256", bad, "--workdir", str(wd), "--", python, "-c", "print('ran')"],
                       capture_output=True, text=True, timeout=20, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 125 and "ran" not in r.stdout, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("brig:") and "SHA-256" in lines[0], lines
    r = subprocess.run([brig, "--expect-sha256", good.upper(), "--workdir", str(wd), "--", python, "-c",
                        "import sys; print('ran', file=sys.stderr)"],
                       capture_output=True, text=True, timeout=20, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "ran" in r.stderr, r


def test_profile_executable_sha256(brig, python, tmp_path):
    env, wd = isolated(tmp_path)
    profile = write_profile(tmp_path, f"sandbox:\n  executable_sha256: \"{'ab' * 32}\"\n", extends="default")
    r = subprocess.run([brig, "--profile", profile, "--workdir", str(wd), "--", python, "-c", "pass"],
                       capture_output=True, text=True, timeout=20, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 125 and r.stderr.startswith("brig:") and len(r.stderr.splitlines()) == 1, r


# --- real servers: no findings --------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_time_server_has_no_findings(brig, python, tmp_path, era):
    profile = write_profile(tmp_path, "mcp:\n  pins: block\n  poisoning: block\n  leaks: block\n", name="time-clean")
    log = tmp_path / "audit" / "trail.jsonl"

    async def body(s):
        tools = await list_tools(s)
        r = [await s.call_tool("get_current_time", {"timezone": "Asia/Tokyo"}),
             await s.call_tool("convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Europe/Paris"})]
        return tools, r

    for _ in range(2):  # the second session compares with the pins of the first
        (tools, results), err = sdk(brig, python, tmp_path, ["--profile", profile, "--audit-log", str(log)], era, body)
        assert set(tools) == {"get_current_time", "convert_time"}
        assert not any(r.is_error for r in results)
        assert not brig_lines(err), err
    actions = {r["event"]["action"] for r in audit_actions(log)}
    assert not actions & {"pin-changed", "pin-removed", "poisoning", "sanitized", "leak", "pin-error"}, actions


def test_git_server_has_no_findings(brig, python, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    make_repo(repo)
    profile = write_profile(tmp_path, "mcp:\n  pins: block\n  poisoning: block\n  leaks: block\n", name="git-clean")
    log = tmp_path / "audit" / "trail.jsonl"

    async def body(s):
        tools = await list_tools(s)
        r = [await s.call_tool("git_status", {"repo_path": str(repo)}),
             await s.call_tool("git_log", {"repo_path": str(repo), "max_count": 5}),
             await s.call_tool("git_diff_unstaged", {"repo_path": str(repo)}),
             await s.call_tool("git_show", {"repo_path": str(repo), "revision": "HEAD"})]
        return tools, r

    server = ["-m", "mcp_server_git", "--repository", str(repo)]
    for _ in range(2):
        (tools, results), err = sdk(brig, python, tmp_path, ["--profile", profile, "--workdir", str(repo),
                                                             "--audit-log", str(log)], "initialize", body, server=server)
        assert "git_status" in tools and len(tools) >= 10
        assert not any(r.is_error for r in results), [text_of(r) for r in results]
        assert not brig_lines(err), err
    actions = {r["event"]["action"] for r in audit_actions(log)}
    assert not actions & {"pin-changed", "pin-removed", "poisoning", "sanitized", "leak", "pin-error"}, actions


@pytest.mark.parametrize("tool, args, mcp", [
    ("fetch", {"url": "https://example.com"}, "  pins: block\n"),
    ("helper", {"a": 2, "b": 3}, "  poisoning: block\n"),
], ids=["pin-changed", "poisoned"])
def test_withheld_tool_cannot_be_called(brig, python, tmp_path, tool, args, mcp):
    profile = hostile_profile(tmp_path, mcp)
    opts = ["--profile", profile, "--no-audit"]
    sdk(brig, python, tmp_path, opts, "initialize", list_tools, server=hostile())

    async def body(s):
        listed = await list_tools(s)
        try:
            return listed, await s.call_tool(tool, args)
        except MCPError as e:
            return listed, e

    (listed, result), _ = sdk(brig, python, tmp_path, opts, "initialize", body, server=hostile("--variant", "2"))
    assert tool not in listed
    assert isinstance(result, MCPError) or result.is_error, text_of(result)
