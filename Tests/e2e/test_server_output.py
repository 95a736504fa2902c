"""What brig does with the server's output: forwards JSON-RPC unchanged, keeps everything else
(debug text, oversized or invalid lines) off the host's channel, reports it on stderr, and answers
a pending host request when the bad line was its response. The server's stderr passes through."""
import json
import re

from conftest import b64


def write_raw(p, data: bytes) -> None:
    """Has the echo server write these bytes to its stdout as they are."""
    p.send_json({"jsonrpc": "2.0", "id": "w", "method": "fixture/write", "params": {"b64": b64(data)}})


def test_server_message_forwarded_byte_for_byte(echo):
    line = b'{ "result" : {"b":[1 ,2],"a":"\\u00e9\xc3\xa9"} , "id":"w","jsonrpc":"2.0"  }'
    write_raw(echo, line + b"\n")
    assert echo.read_line() == line


def test_server_request_and_notification_forwarded_byte_for_byte(echo):
    lines = [b'{"jsonrpc":"2.0","id":"srv-1","method":"roots/list","params":{}}',
             b'{"method":"notifications/message","jsonrpc":"2.0","params":{"level":"info","data":"x"}}',
             b'[{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}]']
    write_raw(echo, b"\n".join(lines) + b"\n")
    assert [echo.read_line() for _ in lines] == lines


def test_debug_text_on_stdout_is_not_forwarded_and_is_reported(start_brig):
    p = start_brig(["echo_server.py", "--banner", "Starting time server v1.2 on stdio...", "--chatter"])
    # The banner comes before fixture/ready: the first line the host sees must be JSON-RPC.
    assert p.read_json()["method"] == "fixture/ready"
    resp = p.request("tools/list", id=1)
    assert resp["result"]["method"] == "tools/list"
    p.close_stdin()
    rest = p.read_rest()
    assert p.wait() == 0
    for line in rest:
        json.loads(line)  # every line the host got is JSON
    reports = p.brig_lines(at_least=2)
    banner = [ln for ln in reports if "Starting time server v1.2 on stdio..." in ln]
    chatter = [ln for ln in reports if "DEBUG: handling tools/list" in ln]
    assert len(banner) == 1, reports
    assert len(chatter) == 1, reports


def test_non_json_line_with_pending_id_answers_the_host(echo):
    # The request's answer arrives truncated (not JSON) but its id is readable.
    echo.send_json({"jsonrpc": "2.0", "id": 31, "method": "fixture/write",
                    "params": {"b64": b64(b'{"jsonrpc":"2.0","id":31,"result":{"content":[\n')}})
    msg = echo.read_json()
    assert msg["id"] == 31 and msg["error"]["code"] == -32603, msg
    reports = echo.brig_lines(at_least=1)
    assert len(reports) == 1 and '"id":31' in reports[0], reports


def test_invalid_utf8_from_server_answers_pending_request(echo):
    echo.send_json({"jsonrpc": "2.0", "id": "u8", "method": "fixture/write",
                    "params": {"b64": b64(b'{"jsonrpc":"2.0","id":"u8","result":{"text":"\xff\xfe"}}\n')}})
    msg = echo.read_json()
    assert msg == {"jsonrpc": "2.0", "id": "u8", "error": msg["error"]}
    assert msg["error"]["code"] == -32603, msg
    assert len(echo.brig_lines(at_least=1)) == 1


def test_oversized_line_from_server_answers_pending_request(start_brig):
    p = start_brig(["echo_server.py"], options=["--max-message-size", "1KiB"])
    p.read_notification("fixture/ready")
    # The fixture writes {"jsonrpc":"2.0","id":"huge","result":{"blob":"qqq...(5000)"}}.
    p.send_json({"jsonrpc": "2.0", "id": "huge", "method": "fixture/write",
                 "params": {"b64": b64(b'{"jsonrpc":"2.0","id":"huge","result":{"blob":"'), "pad": 5000,
                            "tail": b64(b'"}}\n')}})
    msg = p.read_json()
    assert msg["id"] == "huge" and msg["error"]["code"] == -32603, msg
    # brig still relays afterwards.
    assert p.request("fixture/count", id=2)["result"]["count"] == 1


def test_bad_server_line_for_an_unknown_id_gives_no_answer(echo):
    # Not a response to anything the host asked: reported, nothing sent to the host.
    write_raw(echo, b'{"jsonrpc":"2.0","id":999,"result":\n')
    echo.send_json({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    msg = echo.read_json()
    assert msg["id"] == 1 and msg["result"]["method"] == "ping", msg
    assert len(echo.brig_lines(at_least=1)) == 1


def test_server_stderr_passes_through(echo):
    text = b"server log: \xe2\x9c\x93 ok\nraw \xff byte\n"
    resp = echo.request("fixture/stderr", {"b64": b64(text)}, id=5)
    assert resp["result"] == {}
    echo.close_stdin()
    echo.read_rest()
    assert echo.wait() == 0
    assert text in echo.stderr_bytes()


def test_large_server_message_reaches_host_intact(echo):
    head = b'{"jsonrpc":"2.0","id":"big","result":{"blob":"'
    echo.send_json({"jsonrpc": "2.0", "id": "big", "method": "fixture/write",
                    "params": {"b64": b64(head), "pad": 10 * 1024 * 1024, "tail": b64(b'"}}\n')}})
    line = echo.read_line(timeout=30)
    assert line == head + b"q" * (10 * 1024 * 1024) + b'"}}'


def test_flood_of_debug_text_is_rate_limited_and_counted(start_brig):
    # 1000 junk lines in a burst: stderr stays short, and the reports plus the "suppressed"
    # counts account for every line, including the ones held back when the session ends.
    script = "i=0; while [ $i -lt 1000 ]; do echo \"junk line $i\"; i=$((i+1)); done"
    p = start_brig(["/bin/sh", "-c", script])
    p.close_stdin()
    assert p.read_rest() == []
    assert p.wait() == 0
    reports = p.brig_lines()
    shown = [ln for ln in reports if "junk line" in ln]
    suppressed = sum(int(re.search(r"\((\d+) similar reports suppressed\)", ln).group(1))
                     for ln in reports if "suppressed" in ln)
    assert len(reports) < 100, len(reports)
    assert len(shown) + suppressed == 1000, (len(shown), suppressed)
