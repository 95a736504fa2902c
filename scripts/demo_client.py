#!/usr/bin/env python3
"""A scripted MCP session through brig with the official Python SDK client, printed readably.

    demo_client.py --brig PATH [--brig-arg ARG ...] [-- SERVER COMMAND ...]

The session is a list of steps (STEPS below). Each step gets the open session and a shared
`Demo` object, and returns the lines to print under its title. To show more (denied calls, an
audit trail, ...), write another `async def step_x(demo)` and add it to STEPS, or call
`add_step()` from a module that imports this one.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


@dataclass
class Demo:
    """What the steps share: the session, brig's command line, and notes steps leave for later."""
    session: ClientSession
    brig_argv: list[str]
    stderr_path: str
    notes: dict[str, Any] = field(default_factory=dict)

    def brig_stderr(self) -> str:
        with open(self.stderr_path, errors="replace") as f:
            return f.read()


StepFn = Callable[[Demo], Awaitable[list[str]]]


@dataclass
class Step:
    title: str
    run: StepFn


STEPS: list[Step] = []


def add_step(title: str):
    """Decorator: appends an async step function to STEPS under `title`."""
    def register(fn: StepFn) -> StepFn:
        STEPS.append(Step(title, fn))
        return fn
    return register


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


# --- the steps --------------------------------------------------------------------------------

@add_step("initialize")
async def step_initialize(demo: Demo) -> list[str]:
    init = await demo.session.initialize()
    info = init.server_info
    caps = [name for name in ("tools", "resources", "prompts", "logging")
            if getattr(init.capabilities, name, None) is not None]
    return [f"server: {info.name} {info.version}",
            f"protocol: {init.protocol_version}",
            f"capabilities: {', '.join(caps) or 'none'}"]


@add_step("tools/list")
async def step_tools_list(demo: Demo) -> list[str]:
    tools = (await demo.session.list_tools()).tools
    demo.notes["tools"] = [t.name for t in tools]
    return [f"{t.name}: {(t.description or '').strip().splitlines()[0] if t.description else ''}" for t in tools]


@add_step('tools/call get_current_time {"timezone": "Europe/Paris"}')
async def step_current_time(demo: Demo) -> list[str]:
    result = await demo.session.call_tool("get_current_time", {"timezone": "Europe/Paris"})
    if result.is_error:
        return [f"error: {text_of(result)}"]
    t = result.structured_content or json.loads(text_of(result))
    return [f"it is {t['datetime']} in {t['timezone']} ({t['day_of_week']}, DST {'on' if t['is_dst'] else 'off'})"]


@add_step('tools/call convert_time {"source_timezone": "Europe/Berlin", "time": "09:30", '
          '"target_timezone": "America/New_York"}')
async def step_convert_time(demo: Demo) -> list[str]:
    args = {"source_timezone": "Europe/Berlin", "time": "09:30", "target_timezone": "America/New_York"}
    result = await demo.session.call_tool("convert_time", args)
    if result.is_error:
        return [f"error: {text_of(result)}"]
    r = result.structured_content or json.loads(text_of(result))
    src, dst = r["source"], r["target"]
    return [f"{src['datetime'][11:16]} in {src['timezone']} is {dst['datetime'][11:16]} in {dst['timezone']} "
            f"({r['time_difference']})"]


@add_step("tools/call convert_time with a bad time zone (a tool error, passed through)")
async def step_tool_error(demo: Demo) -> list[str]:
    result = await demo.session.call_tool(
        "convert_time", {"source_timezone": "Mars/Olympus_Mons", "time": "12:00", "target_timezone": "UTC"})
    return [f"isError={result.is_error}: {text_of(result)}"]


# --- a hostile child: what the sandbox refuses, and brig's report of it ------------------------

ESCAPES = r'''
import ctypes, errno, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def attempt(what, fn):
    try:
        fn()
        print(f"ESCAPED  {what}", file=sys.stderr)
    except OSError as e:
        print(f"blocked  {what}: {os.strerror(e.errno)}", file=sys.stderr)
def ptrace_parent():
    if libc.ptrace(16, os.getppid(), 0, 0) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace")
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt("read ~/.ssh (the user's keys)", lambda: os.listdir(os.path.expanduser("~/.ssh")))
attempt("read brig's environment (/proc/PPID/environ)", lambda: open(f"/proc/{os.getppid()}/environ").read())
attempt("write /etc/brig-demo", lambda: open("/etc/brig-demo", "w").write("x"))
attempt("ptrace brig", ptrace_parent)
attempt("open a netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
print(("ESCAPED  see the host's API key" if "DEMO_API_KEY" in os.environ
       else "blocked  see the host's API key (DEMO_API_KEY): not in the server's environment"), file=sys.stderr)
'''


def run_hostile(brig: str) -> list[str]:
    """Runs a child that tries to get out, under brig's default profile, and returns what it and brig said."""
    import subprocess
    env = dict(os.environ, DEMO_API_KEY="sk-demo-not-for-the-server")
    os.makedirs(os.path.expanduser("~/.ssh"), exist_ok=True)
    p = subprocess.run([brig, "--", sys.executable, "-c", ESCAPES], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60, env=env)
    return [line for line in p.stderr.splitlines() if line.strip()] + [f"(exit code {p.returncode})"]


# --- running ----------------------------------------------------------------------------------

async def run_session(brig_argv: list[str], stderr_path: str) -> int:
    params = StdioServerParameters(command=brig_argv[0], args=brig_argv[1:])
    failures = 0
    with open(stderr_path, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                demo = Demo(session=session, brig_argv=brig_argv, stderr_path=stderr_path)
                for n, step in enumerate(STEPS, start=1):
                    print(f"[{n}] {step.title}")
                    try:
                        with anyio.fail_after(30):
                            lines = await step.run(demo)
                    except Exception as e:  # a failed step is shown, and the demo goes on
                        failures += 1
                        lines = [f"FAILED: {type(e).__name__}: {e}"]
                    for line in lines:
                        print(textwrap.indent(line, "    "))
                    print()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--brig", required=True, help="path of the brig binary")
    parser.add_argument("--brig-arg", action="append", default=[], help="an option for brig (repeatable)")
    parser.add_argument("server", nargs=argparse.REMAINDER,
                        help="the server command after -- (default: this Python's mcp_server_time)")
    opts = parser.parse_args()
    server = [a for a in opts.server if a != "--"] if opts.server else []
    if not server:
        server = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
    brig_argv = [opts.brig, *opts.brig_arg, "--", *server]
    print("brig demo: " + " ".join(brig_argv))
    print()
    with tempfile.NamedTemporaryFile(prefix="brig-demo-", suffix=".stderr", delete=False) as f:
        stderr_path = f.name
    failures = anyio.run(run_session, brig_argv, stderr_path)
    with open(stderr_path, errors="replace") as f:
        stderr = f.read().strip()
    os.unlink(stderr_path)
    print("brig's stderr (brig's reports and the server's log):")
    print(textwrap.indent(stderr, "    ") if stderr else "    (nothing)")
    print()
    print("a hostile child under brig's default profile (it tries to get out; brig reports each refused system call):")
    hostile = run_hostile(opts.brig)
    print(textwrap.indent("\n".join(hostile), "    "))
    print()
    escaped = [l for l in hostile if l.startswith("ESCAPED")]
    if escaped:
        failures += 1
    print(f"{len(STEPS) - failures} of {len(STEPS)} steps succeeded" + (", and nothing escaped" if not escaped else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
