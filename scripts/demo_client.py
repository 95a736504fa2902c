#!/usr/bin/env python3
"""A scripted MCP session through brig with the official Python SDK client, printed readably.

    demo_client.py --brig PATH [--brig-arg ARG ...] [-- SERVER COMMAND ...]

After the first session and the hostile child come three more sections, each a list of steps
too: a session under a message policy (scripts/data/demo-profile.yaml: a filtered tools/list, a denied
tool, an argument violation), a session with a hostile server (a sanitized description and
result, redacted secrets), and the audit trail of those two sessions (`brig audit show` and
`brig audit verify`). The demo's pins, audit key and trail live in a temporary XDG_STATE_HOME.

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
from mcp.shared.exceptions import MCPError


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


def add_step(title: str, steps: list[Step] | None = None):
    """Decorator: appends an async step function to STEPS (or `steps`) under `title`."""
    def register(fn: StepFn) -> StepFn:
        (STEPS if steps is None else steps).append(Step(title, fn))
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
def agent():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(AGENT)
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt(f"connect to the ssh agent's socket {AGENT}", agent)
attempt("read ~/.ssh (the user's keys)", lambda: os.listdir(os.path.expanduser("~/.ssh")))
attempt("read brig's environment (/proc/PPID/environ)", lambda: open(f"/proc/{os.getppid()}/environ").read())
attempt("write /etc/brig-demo", lambda: open("/etc/brig-demo", "w").write("x"))
attempt("ptrace brig", ptrace_parent)
attempt("open a netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
print(("ESCAPED  see the host's API key" if "DEMO_API_KEY" in os.environ
       else "blocked  see the host's API key (DEMO_API_KEY): not in the server's environment"), file=sys.stderr)
'''


def run_hostile(brig: str) -> list[str]:
    """Runs a child that tries to get out, under brig's default profile, started from / as Claude
    Desktop starts servers, and returns what it and brig said. A listening socket stands in for
    the user's ssh agent."""
    import socket
    import subprocess
    agent_dir = tempfile.mkdtemp(prefix="brig-demo-agent-")
    agent_path = os.path.join(agent_dir, "agent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(agent_path)
    listener.listen(4)
    env = dict(os.environ, DEMO_API_KEY="sk-demo-not-for-the-server", SSH_AUTH_SOCK=agent_path)
    os.makedirs(os.path.expanduser("~/.ssh"), exist_ok=True)
    # An explicit trail: brig's default one is named after the command, here the -c code itself,
    # which is longer than a file name may be (brig would refuse to start).
    log = os.path.join(os.environ.get("XDG_STATE_HOME") or tempfile.gettempdir(), "hostile-child-audit.jsonl")
    code = f"AGENT = {agent_path!r}\n" + ESCAPES
    try:
        p = subprocess.run([brig, "--audit-log", log, "--", sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60, env=env, cwd="/")
    finally:
        listener.close()
        import shutil
        shutil.rmtree(agent_dir, ignore_errors=True)
    return [line for line in p.stderr.splitlines() if line.strip()] + [f"(exit code {p.returncode})"]


# --- a message policy: scripts/data/demo-profile.yaml -----------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_PROFILE = os.path.join(REPO, "scripts", "data", "demo-profile.yaml")
HOSTILE_SERVER = os.path.join(REPO, "Tests", "e2e", "fixtures", "hostile_server.py")
DEMO_SECRET = "pg-demo-Pa55word-4242"  # what the profile injects as DEMO_DB_PASSWORD

POLICY_STEPS: list[Step] = []
CONTENT_STEPS: list[Step] = []


def brig_reports(demo: Demo, *needles: str) -> list[str]:
    """brig's own report lines (`brig: ...`) on stderr that contain every needle."""
    return [ln for ln in demo.brig_stderr().splitlines() if ln.startswith("brig:") and all(n in ln for n in needles)]


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


@add_step("initialize (brig --profile scripts/data/demo-profile.yaml)", POLICY_STEPS)
async def step_policy_initialize(demo: Demo) -> list[str]:
    init = await demo.session.initialize()
    return [f"server: {init.server_info.name} {init.server_info.version}, protocol {init.protocol_version}",
            "policy: convert_time denied; get_current_time only for UTC, Europe/Paris, Asia/Tokyo"]


@add_step("tools/list, filtered by the policy", POLICY_STEPS)
async def step_policy_list(demo: Demo) -> list[str]:
    names = [t.name for t in (await demo.session.list_tools()).tools]
    check(names == ["get_current_time"], f"expected only get_current_time, got {names}")
    return [f"listed: {', '.join(names)}  (convert_time is hidden)"]


@add_step('tools/call convert_time (denied by name)', POLICY_STEPS)
async def step_policy_denied_tool(demo: Demo) -> list[str]:
    try:
        await demo.session.call_tool("convert_time", {"source_timezone": "UTC", "time": "12:00",
                                                      "target_timezone": "Europe/Paris"})
    except MCPError as e:
        check(e.error.code == -32602, f"expected -32602, got {e.error.code}")
        return [f"JSON-RPC error {e.error.code}: {e.error.message}",
                f"data: {json.dumps(e.error.data)}"]
    raise AssertionError("convert_time was not denied")


@add_step('tools/call get_current_time {"timezone": "America/New_York"} (an argument violation)', POLICY_STEPS)
async def step_policy_bad_argument(demo: Demo) -> list[str]:
    result = await demo.session.call_tool("get_current_time", {"timezone": "America/New_York"})
    check(bool(result.is_error) and "mcp.tools.rules" in text_of(result), f"expected a denial, got {result}")
    return [f"isError={result.is_error}: {text_of(result)}"] + brig_reports(demo, "denied arguments")


@add_step('tools/call get_current_time {"timezone": "Asia/Tokyo"} (allowed)', POLICY_STEPS)
async def step_policy_allowed(demo: Demo) -> list[str]:
    result = await demo.session.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
    check(not result.is_error, text_of(result))
    t = result.structured_content or json.loads(text_of(result))
    return [f"it is {t['datetime']} in {t['timezone']}"]


# --- content defenses: a hostile server ---------------------------------------------------------

def shown(text: str) -> str:
    """Text with invisible characters made visible (tag characters, escapes)."""
    out = []
    for c in text:
        if 0xE0000 <= ord(c) <= 0xE007F or ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"<U+{ord(c):04X}>")
        else:
            out.append(c)
    return "".join(out)


def hidden_chars(text: str) -> int:
    return sum(1 for c in text if 0xE0000 <= ord(c) <= 0xE007F or c == "\x1b")


@add_step("initialize (the hostile fixture server, same profile)", CONTENT_STEPS)
async def step_content_initialize(demo: Demo) -> list[str]:
    init = await demo.session.initialize()
    return [f"server: {init.server_info.name} {init.server_info.version}"]


@add_step("tools/list: a description with hidden text, sanitized; a poisoned one, flagged", CONTENT_STEPS)
async def step_content_list(demo: Demo) -> list[str]:
    tools = {t.name: t for t in (await demo.session.list_tools()).tools}
    notes = tools["notes"].description or ""
    check(hidden_chars(notes) == 0, f"hidden characters reached the client: {shown(notes)}")
    return ([f"notes, as the client gets it: {notes!r}"]
            + brig_reports(demo, "sanitized in tool:notes")
            + [ln[:160] for ln in brig_reports(demo, "poisoning in tool:helper", "<IMPORTANT>")])


@add_step("tools/call hidden: a result with tag characters and ANSI escapes, sanitized", CONTENT_STEPS)
async def step_content_hidden(demo: Demo) -> list[str]:
    text = text_of(await demo.session.call_tool("hidden", {}))
    check(hidden_chars(text) == 0, f"hidden characters reached the client: {shown(text)}")
    return [f"result, as the client gets it: {text!r}"] + brig_reports(demo, "sanitized in result")


@add_step("tools/call leak: a result carrying the injected secret and two tokens, redacted", CONTENT_STEPS)
async def step_content_leak(demo: Demo) -> list[str]:
    text = text_of(await demo.session.call_tool("leak", {}))
    check(DEMO_SECRET not in text and "[REDACTED:secret:DEMO_DB_PASSWORD]" in text, f"secret not redacted: {text}")
    check("[REDACTED:github-token]" in text, f"token not redacted: {text}")
    return [f"result, as the client gets it: {text}"] + brig_reports(demo, "leak in result")


# --- the audit trail ----------------------------------------------------------------------------

def audit_section(brig: str, log: str) -> tuple[list[str], int]:
    """`brig audit show LOG` and `brig audit verify LOG`; returns the lines and the failures."""
    import subprocess
    lines: list[str] = []
    failures = 0
    show = subprocess.run([brig, "audit", "show", log], capture_output=True, text=True, timeout=30)
    rows = show.stdout.splitlines()
    lines.append(f"$ brig audit show {log}   (exit {show.returncode}, {max(0, len(rows) - 1)} records)")
    interesting = [r for r in rows[1:] if "denied" in r or "leak" in r or "sanitized" in r or "session-" in r]
    lines += ["    " + rows[0]] if rows else []
    lines += ["    " + r for r in interesting[:24]]
    if show.returncode != 0 or len(rows) < 2:
        failures += 1
        lines.append("FAILED: brig audit show: " + show.stderr.strip())
    verify = subprocess.run([brig, "audit", "verify", log], capture_output=True, text=True, timeout=30)
    lines.append(f"$ brig audit verify {log}   (exit {verify.returncode})")
    lines += ["    " + ln for ln in (verify.stdout + verify.stderr).strip().splitlines()]
    if verify.returncode != 0 or "intact" not in verify.stdout:
        failures += 1
        lines.append("FAILED: the audit trail does not verify")
    return lines, failures


# --- running ----------------------------------------------------------------------------------

async def run_session(brig_argv: list[str], stderr_path: str, steps: list[Step] | None = None, first: int = 1,
                      notes: dict[str, Any] | None = None, cwd: str | None = None) -> int:
    params = StdioServerParameters(command=brig_argv[0], args=brig_argv[1:], env=dict(os.environ), cwd=cwd)
    failures = 0
    with open(stderr_path, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                demo = Demo(session=session, brig_argv=brig_argv, stderr_path=stderr_path,
                            notes=notes if notes is not None else {})
                for n, step in enumerate(STEPS if steps is None else steps, start=first):
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
    # The demo's pins, audit key and trails go in a temporary state directory, outside every
    # server's workdir (brig refuses an audit trail the server could edit).
    state = tempfile.mkdtemp(prefix="brig-demo-state-")
    os.environ["XDG_STATE_HOME"] = state
    print("brig demo (started from /, as Claude Desktop and Cline start servers): " + " ".join(brig_argv))
    print()
    with tempfile.NamedTemporaryFile(prefix="brig-demo-", suffix=".stderr", delete=False) as f:
        stderr_path = f.name
    failures = anyio.run(run_session, brig_argv, stderr_path, None, 1, None, "/")
    with open(stderr_path, errors="replace") as f:
        stderr = f.read().strip()
    os.unlink(stderr_path)
    print("brig's stderr (brig's reports and the server's log):")
    print(textwrap.indent(stderr, "    ") if stderr else "    (nothing)")
    print()
    print(f"[{len(STEPS) + 1}] a hostile child under brig's default profile, started from / (it tries to get out; brig reports each refused system call):")
    hostile = run_hostile(opts.brig)
    print(textwrap.indent("\n".join(hostile), "    "))
    print()
    escaped = [l for l in hostile if l.startswith("ESCAPED")]
    ran = len([l for l in hostile if l.startswith("blocked ")]) == 8  # every attempt was made, and refused
    if escaped or not ran:
        failures += 1
        if not ran:
            print("    FAILED: the hostile child did not run every attempt")
    failures += more_sections(opts, state)
    total = len(STEPS) + 1 + len(POLICY_STEPS) + len(CONTENT_STEPS) + 1
    print(f"{max(0, total - failures)} of {total} steps succeeded" + (", and nothing escaped" if ran and not escaped else ""))
    return 1 if failures else 0


def more_sections(opts, state: str) -> int:
    """The policy session, the hostile-server session and their audit trail; returns the failures."""
    import shutil
    failures = 0
    os.makedirs(os.path.join(state, "brig-demo"), exist_ok=True)
    with open(os.path.join(state, "brig-demo", "db-password"), "w") as f:
        f.write(DEMO_SECRET + "\n")
    log = os.path.join(state, "demo-audit.jsonl")
    workdir = tempfile.mkdtemp(prefix="brig-demo-work-")
    common = [opts.brig, *opts.brig_arg, "--profile", DEMO_PROFILE, "--audit-log", log, "--workdir", workdir, "--"]
    first = len(STEPS) + 2
    for title, steps, server in [
        ("a session under a message policy (scripts/data/demo-profile.yaml)", POLICY_STEPS,
         [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]),
        ("a hostile server: hidden text, a poisoned description, secrets in results (same profile)", CONTENT_STEPS,
         [sys.executable, HOSTILE_SERVER, "--secret-env", "DEMO_DB_PASSWORD"]),
    ]:
        argv = common + server
        print(f"{title}:")
        print("brig demo: " + " ".join(argv))
        print()
        with tempfile.NamedTemporaryFile(prefix="brig-demo-", suffix=".stderr", delete=False) as f:
            stderr_path = f.name
        try:
            failures += anyio.run(run_session, argv, stderr_path, steps, first)
        except Exception as e:  # the session itself failed (brig refused to start, ...)
            failures += len(steps)
            print(f"    FAILED: {type(e).__name__}: {e}")
            with open(stderr_path, errors="replace") as f:
                print(textwrap.indent(f.read().strip(), "    "))
        os.unlink(stderr_path)
        first += len(steps)
    print(f"[{first}] the audit trail of these two sessions")
    lines, failed = audit_section(opts.brig, log)
    print(textwrap.indent("\n".join(lines), "    "))
    print()
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)
    return failures + failed


if __name__ == "__main__":
    sys.exit(main())
