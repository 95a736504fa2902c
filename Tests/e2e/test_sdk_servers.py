"""Real MCP servers through brig with the official Python SDK client: every answer must equal
the one the same server gives over a direct connection. Both protocol eras: the 2025-11-25
`initialize` handshake and the 2026-07-28 sessionless `server/discover`."""
from __future__ import annotations

import os
import subprocess
from datetime import datetime

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def dump(model) -> dict:
    return model.model_dump(mode="json", by_alias=True)


async def session_calls(params: StdioServerParameters, era: str, calls: list[tuple[str, dict]], errlog) -> dict:
    """Opens a session (initialize or discover), lists tools, makes the calls; returns plain data."""
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(30):
                if era == "initialize":
                    init = dump(await session.initialize())
                else:
                    init = dump(await session.discover())
                tools = dump(await session.list_tools())
                results = [dump(await session.call_tool(name, args)) for name, args in calls]
                return {"protocol": session.protocol_version, "server_info": dump(session.server_info),
                        "init": init, "tools": tools, "results": results}


def run_both(brig, python, server_args, era, calls, tmp_path, brig_options=()):
    """The same session directly and through brig; returns (direct, via_brig, brig_stderr)."""
    direct_params = StdioServerParameters(command=python, args=server_args)
    brig_params = StdioServerParameters(command=brig, args=[*brig_options, "--", python, *server_args])
    with open(tmp_path / "direct.err", "w") as e1, open(tmp_path / "brig.err", "w") as e2:
        direct = anyio.run(session_calls, direct_params, era, calls, e1)
        via = anyio.run(session_calls, brig_params, era, calls, e2)
    stderr = (tmp_path / "brig.err").read_text(errors="replace")
    return direct, via, stderr


def assert_no_brig_reports(stderr: str) -> None:
    """brig rejected nothing in a clean session (its reports are `brig: ...` lines)."""
    assert not [ln for ln in stderr.splitlines() if ln.startswith("brig:")], stderr


TIME_ARGS = ["-m", "mcp_server_time", "--local-timezone", "UTC"]
TIME_CALLS = [
    ("convert_time", {"source_timezone": "Europe/Berlin", "time": "09:30", "target_timezone": "America/New_York"}),
    ("convert_time", {"source_timezone": "UTC", "time": "23:45", "target_timezone": "Asia/Kathmandu"}),
    ("convert_time", {"source_timezone": "Not/AZone", "time": "12:00", "target_timezone": "UTC"}),  # tool error
    ("get_current_time", {"timezone": "Asia/Tokyo"}),
]


def strip_now(data: dict) -> dict:
    """get_current_time's answer varies by the second: keep its shape, check its time apart."""
    data = dict(data)
    data["results"] = data["results"][:-1]
    return data


@pytest.mark.parametrize("era", ["initialize", "discover"])
def test_time_server_through_brig_equals_direct(brig, python, workdir, era):
    direct, via, stderr = run_both(brig, python, TIME_ARGS, era, TIME_CALLS, workdir)
    if strip_now(direct) != strip_now(via):
        # convert_time uses today's date: the two runs may straddle midnight. Once more, directly.
        direct, _, _ = run_both(brig, python, TIME_ARGS, era, TIME_CALLS, workdir)
    assert strip_now(via) == strip_now(direct)
    assert via["server_info"]["name"] == "mcp-time"
    assert {t["name"] for t in via["tools"]["tools"]} == {"get_current_time", "convert_time"}
    converted = via["results"][0]["structuredContent"]
    assert converted["source"]["timezone"] == "Europe/Berlin" and converted["source"]["datetime"][11:16] == "09:30"
    assert converted["target"]["timezone"] == "America/New_York"
    assert via["results"][2]["isError"] is True
    now = via["results"][3]["structuredContent"]
    assert now["timezone"] == "Asia/Tokyo"
    assert abs((datetime.fromisoformat(now["datetime"]) - datetime.now().astimezone()).total_seconds()) < 120
    assert via["protocol"] == ("2026-07-28" if era == "discover" else direct["protocol"])
    assert_no_brig_reports(stderr)


def make_repo(path) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_EMAIL="ada@example.com",
               GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.com",
               GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")

    def git(*args, date="2024-01-02T03:04:05+00:00"):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True,
                       env=dict(env, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date))

    git("init", "-q", "-b", "main")
    (path / "README.md").write_text("# demo\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "First commit")
    (path / "app.py").write_text("print('hello')\n")
    git("add", "app.py")
    git("commit", "-q", "-m", "Add app", date="2024-02-03T04:05:06+00:00")
    (path / "README.md").write_text("# demo\n\nchanged\n")  # unstaged change
    (path / "notes.txt").write_text("untracked\n")


def test_git_server_through_brig_equals_direct(brig, python, workdir):
    repo = workdir / "repo"
    repo.mkdir()
    make_repo(repo)
    args = ["-m", "mcp_server_git", "--repository", str(repo)]
    calls = [
        ("git_status", {"repo_path": str(repo)}),
        ("git_log", {"repo_path": str(repo), "max_count": 10}),
        ("git_diff_unstaged", {"repo_path": str(repo)}),
        ("git_show", {"repo_path": str(repo), "revision": "HEAD"}),
        ("git_status", {"repo_path": "/etc"}),  # outside the repository: a tool error
    ]
    # The repository is the server's working directory, as a host would configure it.
    direct, via, stderr = run_both(brig, python, args, "initialize", calls, workdir,
                                   brig_options=["--workdir", str(repo)])
    assert via == direct
    status, log, diff, show, outside = via["results"]
    assert not status["isError"] and "notes.txt" in str(status["content"]) and "README.md" in str(status["content"])
    assert "Add app" in str(log["content"]) and "First commit" in str(log["content"])
    assert "changed" in str(diff["content"])
    assert "print('hello')" in str(show["content"])
    assert outside["isError"] is True
    assert_no_brig_reports(stderr)
