"""Issue #4 end to end: the `mcp:` message policy in front of real servers, driven by the official
Python SDK client in both protocol eras (2025-11-25 `initialize`, 2026-07-28 `server/discover`),
with raw pipes where exact bytes or ids matter, and the echo fixture where it matters what the
server received."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from conftest import BrigProcess, unb64
from test_protocol_eras import META
from test_sdk_servers import make_repo

ERAS = ["initialize", "discover"]
TIME = ["-m", "mcp_server_time", "--local-timezone", "UTC"]


# --- helpers ------------------------------------------------------------------------------------

def write_profile(tmp_path: Path, body: str, name: str = "policy-test", extends: str = "python") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"version: 1\nname: {name}\nextends: {extends}\n" + body)
    return str(path)


def isolated(tmp_path: Path) -> tuple[dict, Path]:
    """(environment with its own XDG_STATE_HOME, a workdir that does not contain it)."""
    wd = tmp_path / "wd"
    wd.mkdir(exist_ok=True)
    return dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state")), wd


def dump(model) -> dict:
    return model.model_dump(mode="json", by_alias=True)


def sdk(brig, python, tmp_path, options, era, body, server=TIME, extra_env=None):
    """Runs `await body(session)` in an SDK session through brig; returns (its result, brig's stderr)."""
    env, wd = isolated(tmp_path)
    if extra_env:
        env.update(extra_env)
    opts = list(options)
    if "--workdir" not in opts:
        opts += ["--workdir", str(wd)]
    params = StdioServerParameters(command=brig, args=[*opts, "--", python, *server], env=env)
    errfile = tmp_path / f"brig-{time.monotonic_ns()}.err"

    async def go():
        with open(errfile, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    with anyio.fail_after(30):
                        if era == "initialize":
                            await session.initialize()
                        else:
                            await session.discover()
                        return await body(session)

    result = anyio.run(go)
    return result, errfile.read_text(errors="replace")


def brig_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("brig:")]


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


async def tool_names(session) -> set[str]:
    return {t.name for t in (await session.list_tools()).tools}


def raw_brig(brig, python, tmp_path, options, server=TIME, env_extra=None) -> BrigProcess:
    env, wd = isolated(tmp_path)
    if env_extra:
        env.update(env_extra)
    opts = list(options)
    if "--workdir" not in opts:
        opts += ["--workdir", str(wd)]
    if server and server[0].endswith(".py"):
        server = [python, "-u", server[0], *server[1:]]
    elif server and server[0].startswith("-m"):
        server = [python, *server]
    return BrigProcess([brig, *opts, "--", *server], env=env)


def legacy_handshake(p: BrigProcess, version="2025-11-25"):
    init = p.request("initialize", {"protocolVersion": version, "capabilities": {},
                                    "clientInfo": {"name": "e2e", "version": "1"}}, id=0, timeout=30)
    p.send_json({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return init


TIME_POLICY = """
mcp:
  tools:
    rules:
      - name: convert_time
        allow: false
      - name: get_current_time
        args:
          timezone: {enum: ["UTC", "Europe/Paris", "Asia/Tokyo"]}
"""


# --- denied tools -------------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_denied_tool_hidden_and_unknown(brig, python, tmp_path, era):
    profile = write_profile(tmp_path, TIME_POLICY)

    async def body(s):
        names = await tool_names(s)
        with pytest.raises(MCPError) as denied:
            await s.call_tool("convert_time", {"source_timezone": "UTC", "time": "10:00", "target_timezone": "UTC"})
        ok = await s.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
        return names, denied.value, ok

    (names, err, ok), stderr = sdk(brig, python, tmp_path, ["--profile", profile], era, body)
    assert names == {"get_current_time"}
    assert err.error.code == -32602 and err.error.message == "Unknown tool: convert_time"
    assert "mcp.tools.rules[0]" in json.dumps(err.error.data)
    assert not ok.is_error and ok.structured_content["timezone"] == "Asia/Tokyo"
    assert any("denied tool convert_time" in ln for ln in brig_lines(stderr)), stderr


@pytest.mark.parametrize("era", ERAS)
def test_deny_tool_flag(brig, python, tmp_path, era):
    async def body(s):
        names = await tool_names(s)
        with pytest.raises(MCPError) as denied:
            await s.call_tool("get_current_time", {"timezone": "UTC"})
        return names, denied.value

    (names, err), _ = sdk(brig, python, tmp_path, ["--profile", "python", "--deny-tool", "get_*"], era, body)
    assert names == {"convert_time"}
    assert err.error.code == -32602 and err.error.message == "Unknown tool: get_current_time"
    assert "--deny-tool get_*" in json.dumps(err.error.data)


@pytest.mark.parametrize("era", ERAS)
def test_denied_tool_raw_same_id(brig, python, tmp_path, era):
    profile = write_profile(tmp_path, TIME_POLICY)
    p = raw_brig(brig, python, tmp_path, ["--profile", profile], server=TIME)
    try:
        if era == "initialize":
            legacy_handshake(p)
            meta = ""
        else:
            p.send(('{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{' + META + '}}\n').encode())
            p.read_until(lambda m: m.get("id") == 0, 30)
            meta = "," + META
        for rid in ('"x-7"', "987654321", '"0"', "-3"):
            p.send(('{"jsonrpc":"2.0","id":' + rid + ',"method":"tools/call","params":{"name":"convert_time",'
                    '"arguments":{}' + meta + '}}\n').encode())
            line = p.read_line(15)
            msg = json.loads(line)
            assert json.dumps(msg["id"]) == rid.replace("'", '"'), line
            assert line.startswith(b'{"jsonrpc":"2.0","id":' + rid.encode() + b',"error":{"code":-32602,'), line
            assert msg["error"]["message"] == "Unknown tool: convert_time"
    finally:
        p.kill()


# --- argument violations ------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_argument_enum_and_pattern(brig, python, tmp_path, era):
    profile = write_profile(tmp_path, """
mcp:
  tools:
    rules:
      - name: get_current_time
        args:
          timezone: {enum: ["UTC", "Asia/Tokyo"]}
      - name: convert_time
        args:
          time: {pattern: "^(0[89]|1[0-7]):[0-5][0-9]$"}
          source_timezone: {prefix: "Europe/"}
          target_timezone: {max_length: 16}
""")

    async def body(s):
        bad_enum = await s.call_tool("get_current_time", {"timezone": "America/New_York"})
        bad_pattern = await s.call_tool("convert_time", {"source_timezone": "Europe/Berlin", "time": "23:00",
                                                         "target_timezone": "UTC"})
        bad_prefix = await s.call_tool("convert_time", {"source_timezone": "Asia/Tokyo", "time": "09:00",
                                                        "target_timezone": "UTC"})
        too_long = await s.call_tool("convert_time", {"source_timezone": "Europe/Berlin", "time": "09:00",
                                                      "target_timezone": "America/Argentina/Buenos_Aires"})
        ok = await s.call_tool("convert_time", {"source_timezone": "Europe/Berlin", "time": "09:30",
                                                "target_timezone": "UTC"})
        return bad_enum, bad_pattern, bad_prefix, too_long, ok

    (bad_enum, bad_pattern, bad_prefix, too_long, ok), stderr = sdk(brig, python, tmp_path, ["--profile", profile], era, body)
    assert bad_enum.is_error and "timezone" in text_of(bad_enum) and "mcp.tools.rules[0]" in text_of(bad_enum)
    assert "not one of" in text_of(bad_enum)
    assert bad_pattern.is_error and "argument time" in text_of(bad_pattern) and "mcp.tools.rules[1]" in text_of(bad_pattern)
    assert bad_prefix.is_error and "source_timezone" in text_of(bad_prefix)
    assert too_long.is_error and "target_timezone" in text_of(too_long)
    for r in (bad_enum, bad_pattern, bad_prefix, too_long):
        assert r.meta and r.meta["brig/denied"]["category"] == "arguments", r
    assert not ok.is_error and ok.structured_content["source"]["timezone"] == "Europe/Berlin"
    assert len([ln for ln in brig_lines(stderr) if "denied arguments" in ln]) == 4, stderr


@pytest.mark.parametrize("era", ERAS)
def test_argument_violation_raw_result_type(brig, python, tmp_path, era):
    """The denial is a CallToolResult; in the 2026-07-28 era it says resultType complete."""
    profile = write_profile(tmp_path, TIME_POLICY)
    p = raw_brig(brig, python, tmp_path, ["--profile", profile], server=TIME)
    try:
        if era == "initialize":
            legacy_handshake(p)
            meta = ""
        else:
            p.send(('{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{' + META + '}}\n').encode())
            p.read_until(lambda m: m.get("id") == 0, 30)
            meta = "," + META
        p.send(('{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"get_current_time",'
                '"arguments":{"timezone":"Mars/Base"}' + meta + '}}\n').encode())
        line = p.read_line(15)
        msg = json.loads(line)
        assert msg["id"] == "a1" and "error" not in msg, line
        result = msg["result"]
        assert result["isError"] is True
        assert "mcp.tools.rules[1]" in result["content"][0]["text"] and "timezone" in result["content"][0]["text"]
        if era == "discover":
            assert b'"resultType":"complete"' in line, line
        else:
            assert b"resultType" not in line, line
    finally:
        p.kill()


def test_git_repo_path_under(brig, python, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    make_repo(repo)
    other = tmp_path / "repo2"
    other.mkdir()
    profile = write_profile(tmp_path, f"""
mcp:
  tools:
    rules:
      - name: "git_*"
        args:
          repo_path: {{under: ["{repo}"]}}
""", name="git-policy")
    tricks = [f"{repo}/..", f"{repo}/../repo2", f"{repo}/./../../etc", "/etc", f"{repo}2",
              f"file://{repo}/../repo2", "../repo2"]

    async def body(s):
        ok = await s.call_tool("git_status", {"repo_path": str(repo)})
        sub = await s.call_tool("git_status", {"repo_path": f"{repo}/./"})
        denied = [await s.call_tool("git_status", {"repo_path": t}) for t in tricks]
        return ok, sub, denied

    server = ["-m", "mcp_server_git", "--repository", str(repo)]
    (ok, sub, denied), stderr = sdk(brig, python, tmp_path, ["--profile", profile, "--workdir", str(repo)],
                                    "initialize", body, server=server)
    assert not ok.is_error and "notes.txt" in text_of(ok)
    assert not sub.is_error, text_of(sub)
    for trick, r in zip(tricks, denied):
        assert r.is_error, (trick, text_of(r))
        assert "brig denied" in text_of(r) and "repo_path" in text_of(r) and "mcp.tools.rules[0]" in text_of(r), (trick, text_of(r))
    assert len([ln for ln in brig_lines(stderr) if "denied arguments" in ln]) == len(tricks), stderr


# --- methods, resources, prompts, notifications (echo fixture) ----------------------------------

ECHO_POLICY = """
mcp:
  methods:
    "fixture/secret": deny
    "notifications/roots/*": deny
  resources:
    deny: ["file:///etc/**"]
  prompts:
    deny: ["internal_*"]
"""


def test_denied_method_resource_prompt_notification(brig, python, fixture_path, tmp_path):
    profile = write_profile(tmp_path, ECHO_POLICY, extends="default")
    p = raw_brig(brig, python, tmp_path, ["--profile", profile], server=[fixture_path("echo_server.py")])
    try:
        p.read_notification("fixture/ready")
        m = p.request("fixture/secret", {}, id=11)
        assert m["error"]["code"] == -32601 and "fixture/secret" in m["error"]["message"]
        assert "fixture/secret" in m["error"]["data"]["rule"]
        r = p.request("resources/read", {"uri": "file:///etc/passwd"}, id=12)
        assert r["error"]["code"] == -32602 and "mcp.resources" in r["error"]["data"]["rule"], r
        ok = p.request("resources/read", {"uri": "file:///srv/data.txt"}, id=13)
        assert ok["result"]["method"] == "resources/read"
        g = p.request("prompts/get", {"name": "internal_admin"}, id=14)
        assert g["error"]["code"] == -32602 and "mcp.prompts" in g["error"]["data"]["rule"], g
        ok = p.request("prompts/get", {"name": "summary"}, id=15)
        assert ok["result"]["method"] == "prompts/get"
        # A denied notification is dropped: the server never sees it; an allowed one arrives.
        p.send_json({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
        p.send_json({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}})
        got = p.read_notification("fixture/received")
        assert json.loads(unb64(got["params"]["raw"]))["method"] == "notifications/cancelled"
        hist = p.request("fixture/history", id=16)
        seen = [json.loads(unb64(x)).get("method") for x in hist["result"]["lines"]]
        assert "notifications/roots/list_changed" not in seen and "fixture/secret" not in seen
        assert "resources/read" in seen and "notifications/cancelled" in seen
        assert seen.count("resources/read") == 1 and seen.count("prompts/get") == 1
        lines = p.brig_lines(at_least=4)
        assert any("notifications/roots/list_changed" in ln for ln in lines), lines
    finally:
        p.kill()


def test_batch_with_one_denied_member(brig, python, fixture_path, tmp_path):
    profile = write_profile(tmp_path, ECHO_POLICY, extends="default")
    p = raw_brig(brig, python, tmp_path, ["--profile", profile], server=[fixture_path("echo_server.py")])
    try:
        p.read_notification("fixture/ready")
        p.send(b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"fixture/secret"},'
               b'{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]\n')
        answer = p.read_json()
        assert answer["id"] == 2 and answer["error"]["code"] == -32601, answer
        received = p.read_notification("fixture/received")
        forwarded = json.loads(unb64(received["params"]["raw"]))
        assert forwarded == [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]
    finally:
        p.kill()


# --- rates, scopes, roles -----------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_rate_limit_trips(brig, python, tmp_path, era):
    profile = write_profile(tmp_path, """
mcp:
  tools:
    rules:
      - name: get_current_time
        rate: 2/min
""")

    async def body(s):
        return [await s.call_tool("get_current_time", {"timezone": "UTC"}) for _ in range(3)]

    results, stderr = sdk(brig, python, tmp_path, ["--profile", profile], era, body)
    assert [r.is_error for r in results] == [False, False, True]
    assert "rate 2/min exceeded" in text_of(results[2]), text_of(results[2])
    assert any("2/min" in ln for ln in brig_lines(stderr)), stderr


SCOPE_POLICY = """
mcp:
  roles:
    scheduler: [time:convert, time:read]
  tools:
    rules:
      - name: convert_time
        scopes: [time:convert]
      - name: get_current_time
        allow: true
"""
CONVERT = ("convert_time", {"source_timezone": "UTC", "time": "10:00", "target_timezone": "Asia/Tokyo"})


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("extra, allowed", [([], False), (["--grant", "time:convert"], True),
                                            (["--role", "scheduler"], True), (["--grant", "time:read"], False),
                                            (["--role", "nobody"], None)])
def test_scopes_and_roles(brig, python, tmp_path, era, extra, allowed):
    profile = write_profile(tmp_path, SCOPE_POLICY)
    if allowed is None:  # an unknown role is brig's own error
        r = subprocess.run([brig, "--profile", profile, *extra, "--", python, *TIME], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=20, env=isolated(tmp_path)[0], cwd=tmp_path / "wd")
        assert r.returncode == 125, r.stderr
        return

    async def body(s):
        return await s.call_tool(*CONVERT)

    result, _ = sdk(brig, python, tmp_path, ["--profile", profile, *extra], era, body)
    if allowed:
        assert not result.is_error, text_of(result)
        assert result.structured_content["target"]["timezone"] == "Asia/Tokyo"
    else:
        assert result.is_error and "needs scope time:convert" in text_of(result), text_of(result)


# --- JWT ----------------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    def __init__(self, kind: str):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519
        self.kind = kind
        self.private = ed25519.Ed25519PrivateKey.generate() if kind == "EdDSA" else ec.generate_private_key(ec.SECP256R1())
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, claims: dict) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        header = b64url(json.dumps({"alg": self.kind, "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode()
        if self.kind == "EdDSA":
            sig = self.private.sign(signing_input)
        else:
            r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{header}.{payload}.{b64url(sig)}"


LEEWAY = 60  # brig tolerates 60 s of clock skew on exp/nbf (Sources/BrigPolicy/JWT.swift)


def jwt_profile(tmp_path: Path, keys: Keys) -> str:
    (tmp_path / "issuer.pem").write_bytes(keys.public_pem)
    return write_profile(tmp_path, """
mcp:
  auth:
    token_env: BRIG_TEST_TOKEN
    jwt:
      public_key: issuer.pem
      issuer: https://issuer.example
      audience: brig-e2e
  tools:
    rules:
      - name: convert_time
        scopes: [time:convert]
""", name="jwt-policy")


def claims(exp: float, scope="time:convert time:read", **more) -> dict:
    return {"iss": "https://issuer.example", "aud": "brig-e2e", "sub": "ada", "exp": int(exp), "scope": scope, **more}


@pytest.mark.parametrize("era, alg", [("initialize", "EdDSA"), ("discover", "ES256")])
def test_jwt_grants_until_expiry(brig, python, tmp_path, era, alg):
    keys = Keys(alg)
    profile = jwt_profile(tmp_path, keys)
    # Valid for ~4 more seconds: exp lies just inside brig's clock-skew leeway.
    expires_at = time.time() + 4
    token = keys.sign(claims(expires_at - LEEWAY))

    async def body(s):
        first = await s.call_tool(*CONVERT)
        second = await s.call_tool(*CONVERT)
        await anyio.sleep(max(0.0, expires_at - time.time()) + 1.5)
        after = await s.call_tool(*CONVERT)
        other = await s.call_tool("get_current_time", {"timezone": "UTC"})
        return first, second, after, other

    (first, second, after, other), stderr = sdk(brig, python, tmp_path, ["--profile", profile], era, body,
                                                extra_env={"BRIG_TEST_TOKEN": token})
    assert not first.is_error and not second.is_error, text_of(first)
    assert after.is_error and "expired" in text_of(after), text_of(after)
    # Once the token has expired, no call passes (rule mcp.auth), not only scoped ones.
    assert other.is_error and "expired" in text_of(other), text_of(other)
    assert any("expired" in ln for ln in brig_lines(stderr)), stderr


def test_jwt_without_scope_denied(brig, python, tmp_path):
    keys = Keys("EdDSA")
    profile = jwt_profile(tmp_path, keys)
    token = keys.sign(claims(time.time() + 600, scope="time:read"))

    async def body(s):
        return await s.call_tool(*CONVERT), await s.call_tool("get_current_time", {"timezone": "UTC"})

    (convert, now), _ = sdk(brig, python, tmp_path, ["--profile", profile], "initialize", body,
                            extra_env={"BRIG_TEST_TOKEN": token})
    assert convert.is_error and "needs scope time:convert" in text_of(convert)
    assert not now.is_error


@pytest.mark.parametrize("case", ["expired", "bad-signature", "wrong-audience", "not-a-jwt", "missing"])
def test_jwt_bad_token_at_start_exits_125(brig, python, tmp_path, case):
    keys = Keys("ES256")
    profile = jwt_profile(tmp_path, keys)
    if case == "expired":
        token = keys.sign(claims(time.time() - LEEWAY - 30))
    elif case == "bad-signature":
        token = Keys("ES256").sign(claims(time.time() + 600))
    elif case == "wrong-audience":
        token = keys.sign(claims(time.time() + 600, aud="someone-else"))
    elif case == "not-a-jwt":
        token = "hello"
    else:
        token = None
    env, wd = isolated(tmp_path)
    env.pop("BRIG_TEST_TOKEN", None)
    if token is not None:
        env["BRIG_TEST_TOKEN"] = token
    r = subprocess.run([brig, "--profile", profile, "--workdir", str(wd), "--", python, *TIME],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20, env=env)
    assert r.returncode == 125, r
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brig:"), lines
    if case == "expired":
        assert "expired" in lines[0]
    if case == "bad-signature":
        assert "signature" in lines[0]


@pytest.mark.parametrize("pass_env", [
    [],
    ["--env", "BRIG_TEST_TOKEN"],
], ids=["default-env", "explicit-env"])
def test_token_not_passed_to_server(brig, python, tmp_path, pass_env):
    keys = Keys("EdDSA")
    profile = jwt_profile(tmp_path, keys)
    token = keys.sign(claims(time.time() + 600))
    script = tmp_path / "wd" / "env_server.py"
    (tmp_path / "wd").mkdir(exist_ok=True)
    script.write_text("import os, sys\nprint('TOKEN=' + os.environ.get('BRIG_TEST_TOKEN', '<unset>'), file=sys.stderr)\n")
    env, wd = isolated(tmp_path)
    env["BRIG_TEST_TOKEN"] = token
    r = subprocess.run([brig, "--profile", profile, *pass_env, "--workdir", str(wd), "--",
                        python, str(script)], stdin=subprocess.DEVNULL, capture_output=True, timeout=20, env=env)
    assert b"TOKEN=" in r.stderr, r.stderr
    assert token.encode() not in r.stderr, r.stderr


# --- protocol versions --------------------------------------------------------------------------

def test_protocol_versions_refuse_initialize(brig, python, tmp_path):
    profile = write_profile(tmp_path, 'mcp:\n  protocol_versions: ["2025-06-18"]\n')

    async def body(s):
        return "initialized"

    with pytest.raises(Exception) as refused:
        sdk(brig, python, tmp_path, ["--profile", profile], "initialize", body)
    text = repr(refused.value) + str(getattr(refused.value, "exceptions", ""))
    assert "Unsupported protocol version" in text or "-32602" in text, text

    p = raw_brig(brig, python, tmp_path, ["--profile", profile], server=TIME)
    try:
        m = legacy_handshake(p, "2025-11-25")
        assert m["error"]["code"] == -32602 and m["error"]["message"] == "Unsupported protocol version", m
        assert m["error"]["data"]["supported"] == ["2025-06-18"] and m["error"]["data"]["requested"] == "2025-11-25"
    finally:
        p.kill()
    p = raw_brig(brig, python, tmp_path, ["--profile", profile], server=TIME)
    try:
        m = legacy_handshake(p, "2025-06-18")
        assert m["result"]["protocolVersion"] == "2025-06-18", m
        tools = p.request("tools/list", id=1, timeout=20)
        assert {t["name"] for t in tools["result"]["tools"]} == {"get_current_time", "convert_time"}
    finally:
        p.kill()


def test_protocol_versions_refuse_discover(brig, python, tmp_path):
    profile = write_profile(tmp_path, 'mcp:\n  protocol_versions: ["2025-11-25"]\n')
    p = raw_brig(brig, python, tmp_path, ["--profile", profile], server=TIME)
    try:
        p.send(('{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{' + META + '}}\n').encode())
        m = p.read_until(lambda m: m.get("id") == 0, 30)
        assert m["error"]["code"] == -32022 and m["error"]["data"]["requested"] == "2026-07-28", m
    finally:
        p.kill()


# --- permissive mode ----------------------------------------------------------------------------

def audit_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def decision_of(rec: dict):
    mcp = rec.get("mcp") or {}
    return mcp.get("decision") or rec.get("mcp.decision")


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("how", ["flag", "profile"])
def test_permissive_blocks_nothing_reports_everything(brig, python, tmp_path, era, how):
    body_yaml = TIME_POLICY + "  rate:\n    \"tools/call\": 2/min\n"
    if how == "profile":
        body_yaml += "  mode: permissive\n"
    profile = write_profile(tmp_path, body_yaml)
    log = tmp_path / "audit" / "trail.jsonl"
    options = ["--profile", profile, "--audit-log", str(log)] + (["--permissive"] if how == "flag" else [])

    async def body(s):
        names = await tool_names(s)
        denied_tool = await s.call_tool(*CONVERT)
        bad_arg = await s.call_tool("get_current_time", {"timezone": "America/Chicago"})
        over_rate = await s.call_tool("get_current_time", {"timezone": "UTC"})
        return names, denied_tool, bad_arg, over_rate

    (names, denied_tool, bad_arg, over_rate), stderr = sdk(brig, python, tmp_path, options, era, body)
    for r in (denied_tool, bad_arg, over_rate):
        assert not r.is_error, text_of(r)
    assert bad_arg.structured_content["timezone"] == "America/Chicago"
    would = [ln for ln in brig_lines(stderr) if "would deny" in ln]
    assert any("convert_time" in ln for ln in would), stderr
    assert any("America/Chicago" in ln or "timezone" in ln for ln in would), stderr
    assert any("rate" in ln for ln in would), stderr
    records = audit_records(log)
    denials = [decision_of(r) for r in records if decision_of(r) and decision_of(r)["allowed"] is False]
    assert len(denials) >= 3, records
    assert all(d["enforced"] is False for d in denials)
    assert {d["category"] for d in denials} >= {"tool", "arguments", "rate"}


# --- brig check --explain -----------------------------------------------------------------------

def test_check_explain(brig, tmp_path):
    profile = write_profile(tmp_path, TIME_POLICY + ECHO_POLICY.replace("mcp:\n", ""), extends="default")
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text("\n".join([
        "# a comment",
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"convert_time","arguments":{}}}',
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_current_time","arguments":{"timezone":"UTC"}}}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_current_time","arguments":{"timezone":"Mars"}}}',
        '{"jsonrpc":"2.0","id":4,"method":"fixture/secret"}',
        '{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}',
        'S: {"jsonrpc":"2.0","id":9,"method":"ping"}',
    ]) + "\n")
    r = subprocess.run([brig, "check", "--profile", profile, "--explain", str(transcript)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert len(out) == 6, out
    assert out[0].startswith(f"{transcript}:2 ") and "deny" in out[0] and "mcp.tools.rules[0]" in out[0]
    assert "-32602" in out[0]
    assert "allow" in out[1] and "mcp.tools.rules[1]" in out[1]
    assert "deny" in out[2] and "mcp.tools.rules[1]" in out[2] and "timezone" in out[2]
    assert "deny" in out[3] and "fixture/secret" in out[3] and "-32601" in out[3]
    assert "deny" in out[4] and "dropped" in out[4]
    assert "server-to-host" in out[5] and "allow" in out[5]

    transcript.write_text(transcript.read_text() + "not json at all\n")
    r = subprocess.run([brig, "check", "--profile", profile, "--explain", str(transcript)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "invalid message" in r.stdout.splitlines()[-1] and ":8 " in r.stdout.splitlines()[-1]


@pytest.mark.parametrize("how", ["flag", "profile"])
def test_permissive_lists_every_tool(brig, python, tmp_path, how):
    profile = write_profile(tmp_path, TIME_POLICY + ("  mode: permissive\n" if how == "profile" else ""))
    options = ["--profile", profile] + (["--permissive"] if how == "flag" else [])
    names, _ = sdk(brig, python, tmp_path, options, "initialize", tool_names)
    assert names == {"get_current_time", "convert_time"}
