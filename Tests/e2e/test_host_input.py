"""What brig does with each kind of line the host sends: forwards valid JSON-RPC byte for byte,
answers malformed input itself with a JSON-RPC error and never passes it to the server."""
import hashlib
import json

import pytest

from conftest import b64, unb64

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def count(p) -> int:
    """How many lines the echo server has received so far (a small answer, for tight limits)."""
    return p.request("fixture/count", id="count-probe")["result"]["count"]


def history(p) -> list[bytes]:
    """Every line the echo server has received so far (asked with a fresh request)."""
    resp = p.request("fixture/history", id="history-probe")
    return [unb64(x) for x in resp["result"]["lines"]]


def assert_error_answer(p, code: int, id) -> dict:
    """brig's next line is a JSON-RPC error with this code and id, from brig, not the server."""
    line = p.read_line()
    msg = json.loads(line)
    assert msg.get("jsonrpc") == "2.0", msg
    assert "error" in msg and "result" not in msg, msg
    assert msg["error"]["code"] == code, msg
    assert isinstance(msg["error"]["message"], str) and msg["error"]["message"], msg
    assert msg["id"] == id, msg
    assert set(msg) == {"jsonrpc", "id", "error"}, msg
    return msg


def assert_not_forwarded(p) -> None:
    """The server received nothing so far (the probe itself is not in its history)."""
    assert history(p) == []


# --- valid input is forwarded unchanged -------------------------------------------------------

def test_valid_request_forwarded_byte_for_byte(echo):
    # Odd key order, whitespace, escapes, raw UTF-8 and a big number: all must arrive as sent.
    line = ('{ "method" :"fixture/echo",  "params":{"z":1,"a":[1, 2 ,3],"s":"caf\\u00e9 caf\u00e9 \\"q\\" \\\\",'
            '"n":12345678901234567890.5e-3,"t":true,"x":null} ,"jsonrpc" : "2.0","id":"req-\\u0031" }').encode()
    echo.send(line + b"\n")
    resp = echo.read_until(lambda m: m.get("id") == "req-1")
    assert unb64(resp["result"]["raw"]) == line


def test_valid_notification_forwarded_byte_for_byte(echo):
    line = b'{"jsonrpc":"2.0","method":"notifications/initialized" ,"params":{"_meta":{"k":[{}]}}}'
    echo.send(line + b"\n")
    note = echo.read_notification("fixture/received")
    assert unb64(note["params"]["raw"]) == line


def test_response_from_host_forwarded_byte_for_byte(echo):
    # The host answering a server request (e.g. roots/list): result and error responses.
    ok = b'{"id":9,"result":{"roots":[]},"jsonrpc":"2.0"}'
    err = b'{"jsonrpc":"2.0","id":"s-1","error":{"code":-32601,"message":"no"}}'
    echo.send(ok + b"\n" + err + b"\n")
    assert unb64(echo.read_notification("fixture/received")["params"]["raw"]) == ok
    assert unb64(echo.read_notification("fixture/received")["params"]["raw"]) == err


def test_valid_batch_forwarded_as_is(echo):
    batch = (b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"} , {"jsonrpc":"2.0","method":"notifications/x"},'
             b'{"jsonrpc":"2.0","id":2,"result":{}}]')
    echo.send(batch + b"\n")
    note = echo.read_notification("fixture/received")
    assert unb64(note["params"]["raw"]) == batch
    assert history(echo) == [batch]


def test_message_at_exactly_the_size_limit_is_forwarded(start_brig):
    p = start_brig(["echo_server.py"], options=["--max-message-size", "1KiB"])
    p.read_notification("fixture/ready")
    head = b'{"jsonrpc":"2.0","id":5,"method":"fixture/digest","params":{"pad":"'
    tail = b'"}}'
    line = head + b"x" * (1024 - len(head) - len(tail)) + tail
    assert len(line) == 1024
    p.send(line + b"\n")
    result = p.read_until(lambda m: m.get("id") == 5)["result"]
    assert result == {"sha256": hashlib.sha256(line).hexdigest(), "length": 1024}


def test_blank_lines_are_skipped(echo):
    echo.send(b"\n   \n\t\n")
    assert_not_forwarded(echo)


def test_brig_keeps_working_after_bad_input(echo):
    echo.send(b"garbage\n")
    assert_error_answer(echo, PARSE_ERROR, None)
    good = b'{"jsonrpc":"2.0","id":3,"method":"fixture/echo"}'
    echo.send(good + b"\n")
    assert unb64(echo.read_until(lambda m: m.get("id") == 3)["result"]["raw"]) == good


# --- malformed input is answered by brig and not forwarded ------------------------------------

def test_not_json(echo):
    echo.send(b"hello, server\n")
    assert_error_answer(echo, PARSE_ERROR, None)
    assert_not_forwarded(echo)


def test_truncated_json_with_readable_id(echo):
    echo.send(b'{"jsonrpc":"2.0","id":41,"method":"tools/list",\n')
    assert_error_answer(echo, PARSE_ERROR, 41)
    assert_not_forwarded(echo)


def test_trailing_data_after_message(echo):
    echo.send(b'{"jsonrpc":"2.0","id":42,"method":"tools/list"} {"x":1}\n')
    msg = json.loads(echo.read_line())
    assert msg["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), msg
    assert_not_forwarded(echo)


@pytest.mark.parametrize("line, id", [
    pytest.param(b'{"id":1,"method":"tools/list"}', 1, id="missing-jsonrpc"),
    pytest.param(b'{"jsonrpc":"1.0","id":2,"method":"tools/list"}', 2, id="jsonrpc-1.0"),
    pytest.param(b'{"jsonrpc":2.0,"id":3,"method":"tools/list"}', 3, id="jsonrpc-number"),
    pytest.param(b'{"jsonrpc":"2.0","id":null,"method":"tools/list"}', None, id="id-null"),
    pytest.param(b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', None, id="id-bool"),
    pytest.param(b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', None, id="id-object"),
    pytest.param(b'{"jsonrpc":"2.0","id":4,"method":5}', 4, id="method-number"),
    pytest.param(b'{"jsonrpc":"2.0","id":5,"method":null}', 5, id="method-null"),
    pytest.param(b'{"jsonrpc":"2.0","id":6,"method":"x","params":"str"}', 6, id="params-string"),
    pytest.param(b'{"jsonrpc":"2.0","id":7,"method":"x","result":{}}', 7, id="request-and-response"),
    pytest.param(b'{"jsonrpc":"2.0","id":8}', 8, id="no-method-no-result"),
    pytest.param(b'{"jsonrpc":"2.0","result":{}}', None, id="response-without-id"),
    pytest.param(b'{"jsonrpc":"2.0","id":9,"result":{},"error":{"code":1,"message":"m"}}', 9, id="result-and-error"),
    pytest.param(b'{}', None, id="empty-object"),
    pytest.param(b'42', None, id="number"),
    pytest.param(b'"tools/list"', None, id="string"),
    pytest.param(b'null', None, id="null"),
])
def test_json_but_not_jsonrpc(echo, line, id):
    echo.send(line + b"\n")
    assert_error_answer(echo, INVALID_REQUEST, id)
    assert_not_forwarded(echo)


def test_string_id_is_echoed_exactly(echo):
    echo.send(b'{"jsonrpc":"1.0","id":"a\\"b\\u00e9","method":"x"}\n')
    assert_error_answer(echo, INVALID_REQUEST, 'a"b\u00e9')
    assert_not_forwarded(echo)


def test_empty_batch(echo):
    echo.send(b"[]\n")
    assert_error_answer(echo, INVALID_REQUEST, None)
    assert_not_forwarded(echo)


def test_batch_with_an_invalid_member_is_not_forwarded(echo):
    echo.send(b'[{"jsonrpc":"2.0","id":1,"method":"a"},{"id":2,"method":"b"}]\n')
    msg = json.loads(echo.read_line())
    assert msg["error"]["code"] == INVALID_REQUEST, msg
    assert_not_forwarded(echo)


def test_batch_of_non_objects_is_not_forwarded(echo):
    echo.send(b"[1,2,3]\n")
    msg = json.loads(echo.read_line())
    assert msg["error"]["code"] == INVALID_REQUEST, msg
    assert_not_forwarded(echo)


def test_over_the_size_limit_is_answered_with_its_id(start_brig):
    p = start_brig(["echo_server.py"], options=["--max-message-size", "1KiB"])
    p.read_notification("fixture/ready")
    p.send(b'{"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{"pad":"' + b"y" * 2000 + b'"}}\n')
    msg = assert_error_answer(p, INVALID_REQUEST, "big-1")
    assert "limit" in json.dumps(msg["error"]).lower()
    assert count(p) == 0
    # One byte over the limit is already too much.
    head = b'{"jsonrpc":"2.0","id":6,"method":"fixture/echo","params":{"pad":"'
    line = head + b"x" * (1025 - len(head) - 3) + b'"}}'
    assert len(line) == 1025
    p.send(line + b"\n")
    assert_error_answer(p, INVALID_REQUEST, 6)
    assert count(p) == 0


def test_over_the_size_limit_across_many_reads(start_brig):
    # A 3 MiB line against a 1 MiB limit arrives in many reads; brig must drop all of it.
    p = start_brig(["echo_server.py"], options=["--max-message-size", "1MiB"])
    p.read_notification("fixture/ready")
    p.send(b'{"jsonrpc":"2.0","id":77,"method":"x","params":{"pad":"' + b"z" * (3 << 20) + b'"}}\n')
    assert_error_answer(p, INVALID_REQUEST, 77)
    assert history(p) == []


@pytest.mark.parametrize("line, id", [
    pytest.param(b'{"jsonrpc":"2.0","id":5,"method":"x","params":{"s":"\xff\xfe"}}', 5, id="bad-bytes-in-string"),
    pytest.param(b'{"jsonrpc":"2.0","id":6,"method":"x","params":{"s":"\xc3"}}', 6, id="truncated-sequence"),
    pytest.param(b'{"jsonrpc":"2.0","id":7,"method":"x","params":{"s":"\xed\xa0\x80"}}', 7, id="surrogate"),
    pytest.param(b'{"jsonrpc":"2.0","id":8,"method":"x","params":{"s":"\xc0\xaf"}}', 8, id="overlong"),
    pytest.param(b'\xff{"jsonrpc":"2.0","id":9,"method":"x"}', None, id="bad-byte-first"),
])
def test_invalid_utf8(echo, line, id):
    echo.send(line + b"\n")
    assert_error_answer(echo, PARSE_ERROR, id)
    assert_not_forwarded(echo)


@pytest.mark.parametrize("opening", [b"[", b'{"a":'], ids=["arrays", "objects"])
def test_deeply_nested_json_does_not_crash_brig(echo, opening):
    echo.send(opening * 100_000 + b"\n")
    msg = json.loads(echo.read_line())
    assert msg["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), msg
    assert msg["id"] is None
    assert echo.proc.poll() is None, "brig died"
    assert_not_forwarded(echo)


def test_deeply_nested_params_of_a_request(echo):
    # Nesting inside a valid envelope: answered (or forwarded); either way brig survives.
    echo.send(b'{"jsonrpc":"2.0","id":12,"method":"x","params":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    msg = echo.read_until(lambda m: m.get("id") == 12, timeout=20)
    assert echo.proc.poll() is None, "brig died"
    if "error" in msg:
        assert msg["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), msg
        assert_not_forwarded(echo)


def test_large_message_under_the_default_limit_is_forwarded_intact(echo):
    # 12 MiB (default limit 16 MiB): brig forwards big lines straight from its read buffer.
    line = (b'{"jsonrpc":"2.0","id":"large","method":"fixture/digest","params":{"blob":"'
            + bytes(range(0x41, 0x5B)) * (12 * 1024 * 1024 // 26) + b'"}}')
    echo.send(line + b"\n")
    result = echo.read_until(lambda m: m.get("id") == "large", timeout=30)["result"]
    assert result == {"sha256": hashlib.sha256(line).hexdigest(), "length": len(line)}


def test_many_pipelined_messages_arrive_in_order(echo):
    # Thousands of requests written without waiting, small and 100 KiB ones mixed: every one
    # reaches the server unchanged and in order, and every answer comes back.
    import threading
    n = 3000
    lines = []
    for i in range(n):
        pad = "p" * (100_000 if i % 500 == 7 else i % 50)
        lines.append(('{"jsonrpc":"2.0","id":%d,"method":"fixture/digest","params":{"pad":"%s"}}' % (i, pad)).encode())
    writer = threading.Thread(target=lambda: echo.send(b"".join(x + b"\n" for x in lines)))
    writer.start()
    answers = {}
    order = []
    while len(answers) < n:
        msg = echo.read_json(timeout=30)
        if "id" in msg:
            answers[msg["id"]] = msg["result"]
            order.append(msg["id"])
    writer.join(30)
    assert order == list(range(n))  # the fixture answers in the order it received
    for i, line in enumerate(lines):
        assert answers[i] == {"sha256": hashlib.sha256(line).hexdigest(), "length": len(line)}, i
