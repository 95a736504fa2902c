"""A stdio MCP server for scripts/bench's escape cost: tools `plain` and `escaped` answer with a
text of the same number of bytes on the wire, `plain` in ordinary prose and `escaped` with every
character written as a \\uXXXX escape (what a server that hides text from byte checks sends).
Usage: escape_server.py SIZE (bytes of the text member, default 65536)."""
import json
import sys

size = int(sys.argv[1]) if len(sys.argv) > 1 else 65536
prose = ("The quick brown fox jumps over the lazy dog. " * (size // 45 + 1))[:size]
escaped = "".join("\\u%04x" % ord(c) for c in prose[: size // 6])
texts = {"plain": json.dumps(prose[: len(escaped)]), "escaped": '"' + escaped + '"'}
tools = [{"name": n, "description": f"A {n} text of {size} bytes.", "inputSchema": {"type": "object"}} for n in texts]

for line in sys.stdin:
    msg = json.loads(line)
    mid, method = msg.get("id"), msg.get("method")
    if mid is None:
        continue
    head = '{"jsonrpc":"2.0","id":' + json.dumps(mid) + ',"result":'
    if method == "initialize":
        body = json.dumps({"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                           "serverInfo": {"name": "escape-bench", "version": "1"}})
    elif method == "tools/list":
        body = json.dumps({"tools": tools})
    elif method == "tools/call":
        body = '{"content":[{"type":"text","text":' + texts[msg["params"]["name"]] + '}],"isError":false}'
    else:
        body = "{}"
    sys.stdout.write(head + body + "}\n")
    sys.stdout.flush()
