"""What a result full of JSON escapes costs brig against a plain result of the same size.

Starts each configuration once (direct, brig --no-sandbox, brig as a user gets it), then
alternates `tools/call plain` and `tools/call escaped` round trips (the same bytes on the wire,
one in prose, one with every character as \\uXXXX) and prints the median round trip of each, and
brig's added cost (its median minus direct's) for each kind and their ratio.
Usage: escapes.py BRIG [--size BYTES] [--calls N]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER = str(Path(__file__).resolve().parent / "escape_server.py")


def session(argv: list[str], calls: int) -> dict[str, list[float]]:
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout

    def call(i: int, method: str, params: dict) -> bytes:
        p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n").encode())
        p.stdin.flush()
        line = out.readline()
        if not line:
            sys.exit(f"escapes: {argv[0]} closed its output")
        return line

    call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "b", "version": "1"}})
    p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    p.stdin.flush()
    call(1, "tools/list", {})
    times: dict[str, list[float]] = {"plain": [], "escaped": []}
    sizes = {}
    for i in range(2, 2 + 2 * calls):
        kind = "plain" if i % 2 == 0 else "escaped"
        t = time.perf_counter()
        line = call(i, "tools/call", {"name": kind, "arguments": {}})
        times[kind].append(time.perf_counter() - t)
        sizes[kind] = len(line)
    p.stdin.close()
    p.wait(timeout=10)
    if abs(sizes["plain"] - sizes["escaped"]) > 16:
        sys.exit(f"escapes: responses differ in size: {sizes}")
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("brig")
    ap.add_argument("--size", type=int, default=1 << 16)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    state = tempfile.mkdtemp()
    env = dict(os.environ, XDG_STATE_HOME=state)
    os.environ.update(env)
    server = [sys.executable, SERVER, str(a.size)]
    configs = {
        "direct": server,
        "brig --no-sandbox": [a.brig, "--no-sandbox", "--", *server],
        "brig (default, audit on)": [a.brig, "--audit-log", f"{state}/escapes.jsonl", "--", *server],
    }
    med: dict[str, dict[str, list[float]]] = {c: {"plain": [], "escaped": []} for c in configs}
    for _ in range(a.reps):
        for name, argv in configs.items():
            t = session(argv, a.calls)
            for kind in t:
                med[name][kind].append(statistics.median(t[kind]) * 1e6)
    print(f"\nresults of {a.size} bytes, full of \\u escapes vs plain prose: median round trip in us "
          f"(median of {a.reps} sessions x {a.calls} calls each)")
    print(f"  {'config':<26} {'plain':>8} {'escaped':>8} {'+plain':>8} {'+escaped':>9} {'ratio':>6}")
    base = {k: statistics.median(med["direct"][k]) for k in ("plain", "escaped")}
    for name in configs:
        pl, es = statistics.median(med[name]["plain"]), statistics.median(med[name]["escaped"])
        if name == "direct":
            print(f"  {name:<26} {pl:>8.0f} {es:>8.0f}")
            continue
        ap_, ae = pl - base["plain"], es - base["escaped"]
        ratio = ae / ap_ if ap_ > 0 else float("nan")
        print(f"  {name:<26} {pl:>8.0f} {es:>8.0f} {ap_:>8.0f} {ae:>9.0f} {ratio:>5.2f}x")
    print("  (+plain/+escaped: brig's added cost over direct; ratio: escaped over plain, the bar is 2x)")


if __name__ == "__main__":
    main()
