"""Both MCP protocol eras pass through brig unchanged: the 2025 `initialize` handshake and the
2026-07-28 sessionless style (`server/discover`, `_meta` envelopes on every request), byte for
byte in both directions."""
import pytest

from conftest import BrigProcess, b64, unb64

META = ('"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
        '"io.modelcontextprotocol/clientInfo":{"name":"e2e","version":"1.0"},'
        '"io.modelcontextprotocol/clientCapabilities":{}}')
MODERN = [
    '{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{' + META + '}}',
    '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{' + META + '}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"convert_time","arguments":'
    '{"source_timezone":"UTC","time":"08:15","target_timezone":"Australia/Adelaide"},' + META + '}}',
    '{"jsonrpc":"2.0","id":4,"method":"no/such/method","params":{' + META + '}}',
]
LEGACY = [
    '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    '"capabilities":{},"clientInfo":{"name":"e2e","version":"1.0"}}}',
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"convert_time","arguments":'
    '{"source_timezone":"UTC","time":"08:15","target_timezone":"Australia/Adelaide"},"_meta":{"progressToken":7}}}',
]


@pytest.mark.parametrize("lines, answers", [(MODERN, 4), (LEGACY, 3)], ids=["2026-07-28", "2025-11-25"])
def test_real_server_bytes_through_brig_equal_direct(brig, python, lines, answers):
    """The exact bytes mcp-server-time writes reach the host through brig unchanged."""
    server = [python, "-m", "mcp_server_time", "--local-timezone", "UTC"]
    data = "".join(line + "\n" for line in lines).encode()

    def run(argv):
        # Keep stdin open until every answer is in: the server drops in-flight work at EOF.
        p = BrigProcess(argv)
        try:
            p.send(data)
            out = [p.read_line(timeout=30) for _ in range(answers)]
            p.close_stdin()
            out += p.read_rest()
            assert p.wait(timeout=15) == 0, p.stderr_text()[-2000:]
            return sorted(out)  # the server answers concurrent requests in any order
        finally:
            p.kill()

    direct = run(server)
    via = run([brig, "--grace", "5", "--", *server])
    if via != direct:  # convert_time uses today's date: once more in case of midnight
        direct = run(server)
    assert via == direct
    assert len(via) == answers


def test_discover_request_with_meta_passes_unchanged(echo):
    line = MODERN[0].encode()
    echo.send(line + b"\n")
    resp = echo.read_until(lambda m: m.get("id") == 1)
    assert resp["result"]["method"] == "server/discover"
    assert unb64(resp["result"]["raw"]) == line


def test_discover_result_with_meta_reaches_host_unchanged(echo):
    result = (b'{"jsonrpc":"2.0","id":"d1","result":{"supportedVersions":["2026-07-28","2025-11-25"],'
              b'"capabilities":{"tools":{}},"ttlMs":60000,"cacheScope":"shared","resultType":"complete",'
              b'"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"x","version":"9"}}}}')
    echo.send_json({"jsonrpc": "2.0", "id": "d1", "method": "fixture/write", "params": {"b64": b64(result + b"\n")}})
    assert echo.read_line() == result


def test_modern_requests_with_meta_pass_unchanged(echo):
    for i, line in enumerate(MODERN[1:], start=2):
        echo.send(line.encode() + b"\n")
        resp = echo.read_until(lambda m, i=i: m.get("id") == i)
        assert unb64(resp["result"]["raw"]) == line.encode()


def test_legacy_handshake_passes_unchanged(echo):
    echo.send("".join(line + "\n" for line in LEGACY).encode())
    # The notification is acknowledged by the fixture with fixture/received.
    got = [echo.read_json() for _ in LEGACY]
    raws = {m.get("id", "note"): unb64(m["params"]["raw"] if "method" in m else m["result"]["raw"]) for m in got}
    assert raws == {0: LEGACY[0].encode(), "note": LEGACY[1].encode(), 1: LEGACY[2].encode(), 2: LEGACY[3].encode()}
