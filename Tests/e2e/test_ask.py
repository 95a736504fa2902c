"""Issue #15 item 8 end to end: "allow, but ask first". A tool rule with `ask: true` (or
`--ask-tool`) holds the call until the host's user answers brig's question: through
`elicitation/create` in the 2025-11-25 era, through an `InputRequiredResult` in the 2026-07-28
era. Driven by the official Python SDK (`ClientSession` with an elicitation callback; in the
2026-07-28 era `mcp.Client`, whose input_required driver retries the call) in front of the real
mcp-server-time, and by raw pipes with the echo fixture where it matters what the server received.
Every test checks the call's audit record (`mcp.ask`) against docs/audit.schema.json."""
from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import BrigProcess, audit_logs, audit_schema_problems, unb64
from test_policy import brig_lines, isolated, text_of, write_profile

ERAS = ["2025-11-25", "2026-07-28"]
TIME = ["-m", "mcp_server_time", "--local-timezone", "UTC"]
TOKYO = {"timezone": "Asia/Tokyo"}

ASK_POLICY = """
mcp:
  ask_timeout: 30
  tools:
    rules:
      - name: get_current_time
        ask: true
      - name: convert_time
        allow: true
"""

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
}


def accept() -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={})


def run_session(brig, python, tmp_path, options, era, body, elicitation=None):
    """Runs `await body(session)` through brig in `era` with the SDK; returns (its result, brig's
    stderr, the audit records of the session). `elicitation` is the callback (None: the client
    declares no elicitation capability)."""
    env, wd = isolated(tmp_path)
    params = StdioServerParameters(command=brig, args=[*options, "--workdir", str(wd), "--", python, *TIME], env=env)
    errfile = tmp_path / f"brig-{time.monotonic_ns()}.err"

    async def go():
        with open(errfile, "w") as errlog, anyio.fail_after(60):
            if era == "2025-11-25":
                async with stdio_client(params, errlog=errlog) as (read, write):
                    async with ClientSession(read, write, elicitation_callback=elicitation) as session:
                        await session.initialize()
                        return await body(session)
            # 2026-07-28: the Client probes server/discover and drives input_required itself.
            async with Client(stdio_client(params, errlog=errlog), mode="auto", elicitation_callback=elicitation) as client:
                assert client.session.discover_result is not None, "the 2026-07-28 era was not negotiated"
                return await body(client)

    result = anyio.run(go)
    return result, errfile.read_text(errors="replace"), audit_records(tmp_path / "state")


def audit_records(state: Path) -> list[dict]:
    """Every record under the isolated state directory, after checking them against the schema."""
    _, files = audit_logs(state)
    assert files, f"no audit log under {state}"
    problems = audit_schema_problems(files)
    assert not problems, "\n".join(problems)
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


def call_records(records: list[dict], tool: str = "get_current_time") -> list[dict]:
    return [r for r in records if r.get("mcp", {}).get("method") == "tools/call"
            and r["mcp"]["direction"] == "host-to-server" and r["mcp"].get("tool") == tool]


def server_answers(records: list[dict], tool: str = "get_current_time") -> list[dict]:
    """The server's responses to calls of `tool` (a denied call has none: brig answered it)."""
    return [r for r in records if r.get("mcp", {}).get("direction") == "server-to-host"
            and r["mcp"].get("method") == "tools/call" and r["mcp"].get("tool") == tool]


def denial_meta(result) -> dict:
    return (result.meta or {}).get("brig/denied", {})


# --- the four hosts of the issue, in both eras ----------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_accepting_host_runs_the_call_and_traffic_flows_while_it_waits(brig, python, tmp_path, era):
    profile = write_profile(tmp_path, ASK_POLICY)
    asked = []

    async def elicitation(ctx, params):
        # While the question is open, the relay keeps working: another call goes through.
        other = await ctx.session.call_tool("convert_time", {"source_timezone": "UTC", "time": "10:00",
                                                             "target_timezone": "Europe/Paris"})
        asked.append((params.message, params.requested_schema, other.is_error))
        return accept()

    async def body(s):
        return await s.call_tool("get_current_time", TOKYO)

    result, stderr, records = run_session(brig, python, tmp_path, ["--profile", profile], era, body, elicitation)
    assert not result.is_error and result.structured_content["timezone"] == "Asia/Tokyo", result
    assert len(asked) == 1
    message, schema, other_failed = asked[0]
    assert "get_current_time" in message and "timezone: Asia/Tokyo" in message, message
    assert "mcp.tools.rules[0]" in message and "policy-test.yaml" in message, message
    assert schema == {"type": "object", "properties": {}} or schema.get("properties") == {}, schema
    assert other_failed is False
    assert any("asking the user to confirm the call to get_current_time" in ln for ln in brig_lines(stderr)), stderr

    calls = call_records(records)
    final = calls[-1]["mcp"]
    assert final["decision"]["allowed"] is True and "the user accepted" in final["decision"]["reason"]
    assert final["ask"]["answer"] == "accept" and final["ask"]["question"] == message
    assert final["ask"]["via"] == ("elicitation/create" if era == "2025-11-25" else "input_required")
    assert final["ask"]["timeout_ms"] == 30000 and final["ask"]["waited_ms"] >= 0
    assert len(server_answers(records)) == 1
    if era == "2026-07-28":
        # The first call was answered by brig with the question; the retry carried the answer.
        assert [c["mcp"]["ask"]["answer"] for c in calls] == ["pending", "accept"]
        assert "inputResponses" not in json.dumps(server_answers(records))


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("action, says", [("decline", "the user declined the call to get_current_time"),
                                          ("cancel", "the user dismissed the question about get_current_time")])
def test_declining_host_gets_a_denial_and_the_server_never_sees_the_call(brig, python, tmp_path, era, action, says):
    profile = write_profile(tmp_path, ASK_POLICY)

    async def elicitation(ctx, params):
        return types.ElicitResult(action=action)

    async def body(s):
        return await s.call_tool("get_current_time", TOKYO)

    result, stderr, records = run_session(brig, python, tmp_path, ["--profile", profile], era, body, elicitation)
    assert result.is_error
    assert f"brig denied this call to get_current_time: {says}" in text_of(result), text_of(result)
    meta = denial_meta(result)
    assert meta["category"] == "ask" and "mcp.tools.rules[0]" in meta["rule"], meta
    assert server_answers(records) == []
    final = call_records(records)[-1]["mcp"]
    assert final["decision"] == {"allowed": False, "enforced": True, "rule": meta["rule"],
                                 "reason": meta["reason"], "category": "ask"}
    assert final["ask"]["answer"] == action
    assert any("denied ask get_current_time" in ln and says in ln for ln in brig_lines(stderr)), stderr


@pytest.mark.parametrize("era", ERAS)
def test_host_that_never_answers_is_denied_after_ask_timeout(brig, python, tmp_path, era):
    profile = write_profile(tmp_path, ASK_POLICY.replace("        ask: true\n", "        ask: true\n        ask_timeout: 1\n"))
    seen = {"asked": 0, "cancelled": False}

    async def elicitation(ctx, params):
        seen["asked"] += 1
        try:
            # Longer than ask_timeout. Through 2025-11-25 brig cancels the question, and the SDK
            # cancels this callback; in 2026-07-28 the late accept reaches brig in the retry.
            await anyio.sleep(3 if era == "2026-07-28" else 30)
        except anyio.get_cancelled_exc_class():
            seen["cancelled"] = True
            raise
        return accept()

    async def body(s):
        started = time.monotonic()
        result = await s.call_tool("get_current_time", TOKYO)
        return result, time.monotonic() - started

    (result, took), stderr, records = run_session(brig, python, tmp_path, ["--profile", profile], era, body, elicitation)
    assert result.is_error and "no answer from the user within 1 s (ask_timeout" in text_of(result), text_of(result)
    assert denial_meta(result)["category"] == "ask"
    assert seen["asked"] == 1
    if era == "2025-11-25":
        assert 0.9 < took < 10, took
    final = call_records(records)[-1]["mcp"]
    assert final["ask"]["answer"] == "timeout" and final["ask"]["timeout_ms"] == 1000
    assert final["ask"]["waited_ms"] >= 1000
    assert server_answers(records) == []


@pytest.mark.parametrize("era", ERAS)
def test_host_without_elicitation_is_denied_with_a_reason(brig, python, tmp_path, era):
    async def body(s):
        names = {t.name for t in (await s.list_tools()).tools}
        return names, await s.call_tool("get_current_time", TOKYO)

    (names, result), stderr, records = run_session(
        brig, python, tmp_path, ["--ask-tool", "get_current_time"], era, body, elicitation=None)
    assert "get_current_time" in names  # asked-about tools stay listed
    assert result.is_error
    assert "the host did not declare the elicitation capability" in text_of(result), text_of(result)
    meta = denial_meta(result)
    assert meta["category"] == "ask" and meta["rule"] == "--ask-tool get_current_time", meta
    final = call_records(records)[-1]["mcp"]
    assert final["ask"]["answer"] == "no-capability" and "waited_ms" not in final["ask"]
    assert final["ask"]["timeout_ms"] == 120000  # the default ask_timeout
    assert server_answers(records) == []


def test_ask_timeout_flag_replaces_the_profile_default(brig, python, tmp_path):
    profile = write_profile(tmp_path, ASK_POLICY)

    async def elicitation(ctx, params):
        await anyio.sleep(30)
        return accept()

    async def body(s):
        return await s.call_tool("get_current_time", TOKYO)

    result, _, records = run_session(brig, python, tmp_path, ["--profile", profile, "--ask-timeout", "0.5"],
                                     "2025-11-25", body, elicitation)
    assert "no answer from the user within 0.5 s" in text_of(result), text_of(result)
    assert call_records(records)[-1]["mcp"]["ask"]["timeout_ms"] == 500


# --- raw pipes: what the server receives, and a host that goes away ------------------------------

def raw(brig, python, fixture_path, tmp_path, options) -> BrigProcess:
    env, wd = isolated(tmp_path)
    return BrigProcess([brig, *options, "--workdir", str(wd), "--", python, "-u", fixture_path("echo_server.py")], env=env)


def history(p: BrigProcess, id) -> list[bytes]:
    return [unb64(x) for x in p.request("fixture/history", id=id)["result"]["lines"]]


def test_held_call_reaches_the_server_byte_for_byte_only_once_accepted(brig, python, fixture_path, tmp_path):
    p = raw(brig, python, fixture_path, tmp_path, ["--ask-tool", "write_*"])
    try:
        p.read_notification("fixture/ready")
        p.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
                                 "clientInfo": {"name": "e2e", "version": "1"}}, id=0)
        call = (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_file",'
                b'"arguments":{"path":"/tmp/x","content":"line one\\nline two","token":"s3cr3t-value"}}}')
        p.send(call + b"\n")
        question = p.read_until(lambda m: m.get("method") == "elicitation/create")
        assert isinstance(question["id"], str) and question["id"].startswith("brig-ask-")
        text = question["params"]["message"]
        assert "path: /tmp/x" in text and 'content: "line one\\nline two"' in text, text
        assert "s3cr3t-value" not in text and "token: [REDACTED:key:token]" in text, text
        assert "--ask-tool write_*" in text
        # Held: the server has not seen the call, and other requests still pass both ways.
        assert call not in history(p, 1)
        assert p.request("tools/list", id=2)["result"]["method"] == "tools/list"
        answer = {"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {}}}
        p.send_json(answer)
        got = p.read_until(lambda m: m.get("id") == 7)
        assert unb64(got["result"]["raw"]) == call
        # The host's answer was brig's: the server never saw it.
        seen = history(p, 3)
        assert not any(b"brig-ask-" in line for line in seen), seen
        # A late second answer to the same question is dropped, not forwarded.
        p.send_json(answer)
        assert not any(b"brig-ask-" in line for line in history(p, 4))
        p.close_stdin()
        assert p.wait(timeout=15) == 0
    finally:
        p.kill()
    records = audit_records(tmp_path / "state")
    (rec,) = call_records(records, "write_file")
    assert rec["mcp"]["ask"]["answer"] == "accept" and rec["mcp"]["id"] == "7"
    assert rec["mcp"]["payload"]["params"]["arguments"]["token"] == "[REDACTED:key:token]"


def test_host_closing_stdin_while_a_question_is_open_does_not_hang_brig(brig, python, fixture_path, tmp_path):
    p = raw(brig, python, fixture_path, tmp_path, ["--ask-tool", "write_file", "--grace", "2"])
    try:
        p.read_notification("fixture/ready")
        p.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
                                 "clientInfo": {"name": "e2e", "version": "1"}}, id=0)
        p.send_json({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "write_file", "arguments": {}}})
        p.read_until(lambda m: m.get("method") == "elicitation/create")
        started = time.monotonic()
        p.close_stdin()
        denied = p.read_until(lambda m: m.get("id") == 5)
        assert denied["result"]["isError"] is True
        assert "the host closed its input before the user answered" in denied["result"]["content"][0]["text"]
        assert p.wait(timeout=15) == 0
        assert time.monotonic() - started < 10  # not the 120 s ask_timeout
    finally:
        p.kill()
    (rec,) = call_records(audit_records(tmp_path / "state"), "write_file")
    assert rec["mcp"]["ask"]["answer"] == "closed" and rec["mcp"]["decision"]["category"] == "ask"


def test_host_cancelling_a_held_call_withdraws_the_question(brig, python, fixture_path, tmp_path):
    p = raw(brig, python, fixture_path, tmp_path, ["--ask-tool", "write_file"])
    try:
        p.read_notification("fixture/ready")
        p.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"form": {}}},
                                 "clientInfo": {"name": "e2e", "version": "1"}}, id=0)
        p.send_json({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "write_file", "arguments": {}}})
        question = p.read_until(lambda m: m.get("method") == "elicitation/create")
        p.send_json({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5, "reason": "user stop"}})
        withdrawn = p.read_until(lambda m: m.get("method") == "notifications/cancelled")
        assert withdrawn["params"]["requestId"] == question["id"]
        # An answer after that is dropped: the call never reaches the server, and no answer to 5 comes.
        p.send_json({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept"}})
        p.send_json({"jsonrpc": "2.0", "id": 6, "method": "tools/list"})
        seen = []
        while not seen or seen[-1].get("id") != 6:
            seen.append(p.read_json())
        assert not any(m.get("id") == 5 for m in seen), seen
        assert not any(b'"write_file"' in line and b'"tools/call"' in line for line in history(p, 7))
        # A host that answers the next question with an error gets a denial saying so.
        p.send_json({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "write_file", "arguments": {}}})
        question = p.read_until(lambda m: m.get("method") == "elicitation/create")
        p.send_json({"jsonrpc": "2.0", "id": question["id"], "error": {"code": -32600, "message": "Elicitation not supported"}})
        denied = p.read_until(lambda m: m.get("id") == 8)
        text = denied["result"]["content"][0]["text"]
        assert "was not an elicitation result: error -32600 Elicitation not supported" in text, text
        p.close_stdin()
        assert p.wait(timeout=15) == 0
    finally:
        p.kill()
    answers = [r["mcp"]["ask"]["answer"] for r in call_records(audit_records(tmp_path / "state"), "write_file")]
    assert answers == ["cancel", "error"]


def test_modern_retry_is_forwarded_without_brigs_input_response(brig, python, fixture_path, tmp_path):
    """2026-07-28 by hand: brig's InputRequiredResult, then the retry carrying brig's answer next to
    an answer for the server's own key: the server gets the retry without brig's."""
    p = raw(brig, python, fixture_path, tmp_path, ["--ask-tool", "write_file"])
    try:
        p.read_notification("fixture/ready")
        params = {"name": "write_file", "arguments": {"path": "a"}, "_meta": MODERN_META}
        first = p.request("tools/call", params, id=1)["result"]
        assert first["resultType"] == "input_required" and "requestState" not in first
        ((key, request),) = first["inputRequests"].items()
        assert key.startswith("brig-ask-") and request["method"] == "elicitation/create"
        assert request["params"]["mode"] == "form" and "write_file" in request["params"]["message"]
        assert not any(b"write_file" in line for line in history(p, 2))
        retry = dict(params, inputResponses={key: {"action": "accept"}, "server-1": {"action": "decline"}},
                     requestState="opaque")
        got = p.request("tools/call", retry, id=3)["result"]
        forwarded = json.loads(unb64(got["raw"]))
        assert forwarded["params"]["inputResponses"] == {"server-1": {"action": "decline"}}
        assert forwarded["params"]["requestState"] == "opaque" and forwarded["id"] == 3
        # The server's own next round of the accepted call: forwarded without asking again.
        round2 = dict(params, inputResponses={"server-2": {"action": "accept"}}, requestState="opaque-2")
        got = p.request("tools/call", round2, id=9)["result"]
        assert json.loads(unb64(got["raw"]))["params"]["inputResponses"] == {"server-2": {"action": "accept"}}
        # The same key cannot answer twice.
        again = p.request("tools/call", dict(params, inputResponses={key: {"action": "accept"}}), id=4)["result"]
        assert again["isError"] is True and again["resultType"] == "complete"
        assert "brig did not ask or has settled already" in again["content"][0]["text"]
        # Without the capability in this request's _meta: denied, not asked.
        bare = dict(params, _meta=dict(MODERN_META, **{"io.modelcontextprotocol/clientCapabilities": {}}))
        refused = p.request("tools/call", bare, id=5)["result"]
        assert refused["isError"] is True and "did not declare the elicitation capability" in refused["content"][0]["text"]
        p.close_stdin()
        assert p.wait(timeout=15) == 0
    finally:
        p.kill()
    answers = [r["mcp"].get("ask", {}).get("answer") for r in call_records(audit_records(tmp_path / "state"), "write_file")]
    assert answers == ["pending", "accept", None, "error", "no-capability"]  # None: the continued round asked nothing
    continued = [r["mcp"]["decision"]["reason"] for r in call_records(audit_records(tmp_path / "state"), "write_file")
                 if r["mcp"]["id"] == "9"]
    assert continued == ["tool write_file allowed: the retry continues a call the user accepted (rule --ask-tool write_file asks first)"]


# --- profile and flag errors ------------------------------------------------------------------

@pytest.mark.parametrize("rule, key, message", [
    ("{name: x, allow: false, ask: true}", "mcp.tools.rules[0].ask", "needs allow: true"),
    ("{name: x, ask: true, ask_timeout: soon}", "mcp.tools.rules[0].ask_timeout", "expected a time like 120"),
    ("{name: x, allow: true, ask_timeout: 5}", "mcp.tools.rules[0].ask_timeout", "without ask: true"),
])
def test_bad_ask_rules_are_one_line_errors(brig, python, tmp_path, rule, key, message):
    import subprocess
    profile = write_profile(tmp_path, f"mcp:\n  tools:\n    rules:\n      - {rule}\n")
    env, wd = isolated(tmp_path)
    r = subprocess.run([brig, "--profile", profile, "--workdir", str(wd), "--", python, "-c", "pass"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert f"{profile}:" in lines[0] and key in lines[0] and message in lines[0], lines[0]


def test_bad_ask_timeout_flag_is_refused(brig, python, tmp_path):
    import subprocess
    r = subprocess.run([brig, "--ask-timeout", "forever", "--", python, "-c", "pass"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--ask-timeout" in r.stderr and "forever" in r.stderr, r.stderr


def test_check_explain_says_the_call_asks(brig, tmp_path):
    import subprocess
    profile = write_profile(tmp_path, ASK_POLICY, extends="default")
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text(
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_current_time","arguments":{}}}\n'
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"convert_time","arguments":{}}}\n')
    r = subprocess.run([brig, "check", "--profile", profile, "--explain", str(transcript)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert ": ask the user, then allow by " in out[0] and "mcp.tools.rules[0]" in out[0], out
    assert ": allow by " in out[1], out
    r = subprocess.run([brig, "check", "--profile", profile, "--permissive", "--explain", str(transcript)],
                       capture_output=True, text=True, timeout=20)
    assert ": allow by " in r.stdout.splitlines()[0], r.stdout
