"""Egress by name (sandbox.network.allow): the server's only way out is brig's proxy, which lets
through what the allow-list names and nothing else.

Nothing leaves the machine: every target is a loopback address this test serves itself, and the
test's host names resolve through a hosts file bind-mounted over /etc/hosts in a private mount
namespace that only brig runs in (with a resolv.conf that names no resolver brig could reach).
Each hostile probe runs under brig as root and as an unprivileged user, started from a project
directory, from / and from $HOME, and has a control that shows the probe can succeed."""
from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
from pathlib import Path

import anyio
import pytest

from test_confinement import IS_ROOT, UNPRIVILEGED_USER, Result, Runner, hostile, require_brig_runs, runner  # noqa: F401
from test_start_places import PLACES, call_tools, place_dir, prefix_params, public_python, readable_by_runner  # noqa: F401

PROBE = Path(__file__).resolve().parent / "fixtures" / "egress_probe.py"
SYSTEM_PYTHON = "/usr/bin/python3"
PAGE = "brig egress test page: the allowed one\n"


class Targets:
    """The loopback services the probes aim at, in the test's (the host's) network namespace."""

    def __init__(self, base: Path):
        self.base = base
        # A plain HTTP server at 127.0.0.2 (named in the allow-list as an address).
        www = base / "www"
        www.mkdir()
        (www / "page.html").write_text(f"<html><body><p>{PAGE}</p></body></html>\n")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(www), **kw)

            def log_message(self, *a):
                pass

        self.http = socketserver.ThreadingTCPServer(("127.0.0.2", 0), Quiet)
        self.http.daemon_threads = True
        self.http_port = self.http.server_address[1]
        # An upstream that reads first and answers GOT to any bytes (at 127.0.0.5: sni.test).
        self.got = socket.create_server(("127.0.0.5", 0))
        self.got_port = self.got.getsockname()[1]
        # A DNS resolver on 127.0.0.1 that answers every query (the "outside" resolver).
        self.dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.dns.bind(("127.0.0.1", 0))
        self.dns_port = self.dns.getsockname()[1]
        self.dns_queries = 0
        for target in (self.http.serve_forever, self._serve_got, self._serve_dns):
            threading.Thread(target=target, daemon=True).start()
        self.hosts = base / "hosts"
        self.hosts.write_text("127.0.0.1 localhost\n127.0.0.5 sni.test\n127.0.0.1 rebind.test\n"
                              "169.254.169.254 metadata.test\n127.0.0.2 fetch.test\n127.0.0.6 wheels.test\n")
        self.resolv = base / "resolv.conf"
        self.resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        for p in (self.hosts, self.resolv, www, www / "page.html"):
            p.chmod(0o755 if p.is_dir() else 0o644)

    def _serve_got(self):
        while True:
            conn, _ = self.got.accept()
            threading.Thread(target=self._got_one, args=(conn,), daemon=True).start()

    @staticmethod
    def _got_one(conn):
        with conn:
            conn.settimeout(10)
            try:
                if conn.recv(4096):
                    conn.sendall(b"GOT\n")
            except OSError:
                pass

    def _serve_dns(self):
        while True:
            data, peer = self.dns.recvfrom(512)
            self.dns_queries += 1
            if len(data) >= 12:
                # The query back with QR set and one A record (127.0.0.9).
                answer = data[:2] + b"\x81\x80" + data[4:6] + b"\x00\x01\x00\x00\x00\x00" + data[12:]
                answer += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x09"
                self.dns.sendto(answer, peer)

    def allow(self) -> str:
        """The allow-list every probe runs under."""
        return ",".join([f"127.0.0.2:{self.http_port}", f"fetch.test:{self.http_port}", f"sni.test:{self.got_port}",
                         f"127.0.0.5:{self.got_port}", f"rebind.test:{self.got_port}", f"metadata.test:{self.got_port}",
                         "!127.0.0.9"])


@pytest.fixture(scope="module")
def targets():
    if not IS_ROOT:
        pytest.skip("the egress tests bind-mount a hosts file in a private mount namespace: they need root")
    base = Path(tempfile.mkdtemp(prefix="brig-egress-", dir="/tmp"))
    base.chmod(0o755)
    t = Targets(base)
    yield t
    t.http.shutdown()
    shutil.rmtree(base, ignore_errors=True)


def private_names(t: Targets) -> list[str]:
    """A prefix that runs the rest in a private mount namespace with the test's hosts file."""
    return ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
            'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"',
            "sh", str(t.hosts), str(t.resolv)]


def brig_probe(runner: Runner, t: Targets, place: str, probe: list[str], options: list[str] = (),
               env_extra: dict | None = None) -> Result:
    cwd = place_dir(runner, place)
    argv = [*private_names(t), *runner.prefix, str(runner.h.brig), "--no-audit", "--net", t.allow(), *options, "--",
            SYSTEM_PYTHON, str(PROBE), *probe]
    r = subprocess.run(argv, env=runner.env(env_extra), capture_output=True, timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)
    return Result(argv, r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))


def assert_blocked(res: Result, why: str | None = None) -> None:
    assert res.rc != 125, "brig refused to start:\n" + res.describe()
    assert res.verdict != "ESCAPED", "ESCAPED under brig:\n" + res.describe()
    assert res.verdict == "BLOCKED" and res.rc == 1, "no verdict from the probe:\n" + res.describe()
    if why:
        assert why in res.line, f"expected {why!r}:\n" + res.describe()


def assert_escaped(res: Result) -> None:
    assert res.verdict == "ESCAPED" and res.rc == 0, "the control did not get through:\n" + res.describe()


def requirements(runner: Runner) -> None:
    require_brig_runs(runner)
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is needed")
    if not readable_by_runner(runner, Path(SYSTEM_PYTHON)):
        pytest.skip(f"{runner.who} cannot run {SYSTEM_PYTHON}")


# --- the probes: each must fail from every place, as root and unprivileged -----------------------

def probes(t: Targets) -> dict[str, tuple[list[str], str | None, list[str] | None]]:
    """name -> (probe, expected text in the BLOCKED line, the control that must get through)."""
    return {
        "direct-tcp-to-allowed-ip": (["tcp", "127.0.0.2", str(t.http_port)], None, None),
        "udp-dns-to-outside-resolver": (["dns", "127.0.0.1", str(t.dns_port)], None, None),
        "proxy-port-on-another-address": (["proxy-port", "127.0.0.2"], "Permission denied", None),
        "connect-allowed-name-other-sni": (["sni", "sni.test", str(t.got_port), "other.test"], "closed before",
                                           ["sni", "sni.test", str(t.got_port), "sni.test"]),
        "name-resolving-to-loopback": (["connect", "rebind.test", str(t.got_port)], "403",
                                       ["connect", "127.0.0.5", str(t.got_port)]),
        "name-resolving-to-metadata": (["connect", "metadata.test", str(t.got_port)], "403", None),
        "url-not-in-the-list": (["get", f"http://127.0.0.4:{t.http_port}/page.html"], "403",
                                ["get", f"http://127.0.0.2:{t.http_port}/page.html"]),
        "denied-address": (["connect", "127.0.0.9", "443"], "403", None),
    }


PROBE_NAMES = ["direct-tcp-to-allowed-ip", "udp-dns-to-outside-resolver", "proxy-port-on-another-address",
               "connect-allowed-name-other-sni", "name-resolving-to-loopback", "name-resolving-to-metadata",
               "url-not-in-the-list", "denied-address"]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", PROBE_NAMES)
def test_egress_probe_is_blocked_from_every_place(runner: Runner, targets: Targets, place, name):
    requirements(runner)
    probe, why, control = probes(targets)[name]
    res = brig_probe(runner, targets, place, probe)
    assert_blocked(res, why)
    if control:
        assert_escaped(brig_probe(runner, targets, place, control))


def test_probes_escape_without_brig(runner: Runner, targets: Targets):
    """The direct probes do get out when nothing stops them (so their BLOCKED means something)."""
    requirements(runner)
    for probe in (["tcp", "127.0.0.2", str(targets.http_port)], ["dns", "127.0.0.1", str(targets.dns_port)]):
        r = runner._run([SYSTEM_PYTHON, str(PROBE), *probe])
        assert r.verdict == "ESCAPED", r.describe()


def test_refusals_are_reported_on_stderr(runner: Runner, targets: Targets):
    requirements(runner)
    res = brig_probe(runner, targets, "project", ["get", f"http://127.0.0.4:{targets.http_port}/page.html"])
    assert f"blocked egress to 127.0.0.4:{targets.http_port} from the server (not in the allow-list); answered 403" in res.stderr, \
        res.describe()
    res = brig_probe(runner, targets, "project", ["tcp", "127.0.0.2", str(targets.http_port)])
    assert f"blocked connect to TCP 127.0.0.2:{targets.http_port}" in res.stderr and "egress goes through brig's proxy" in res.stderr, \
        res.describe()
    # The advice says what would let it through: the host for a name not listed (above), the
    # address for a listed name that resolves to a local one, the deny rule's removal for a denied one.
    res = brig_probe(runner, targets, "project", ["connect", "rebind.test", str(targets.got_port)])
    assert (f"blocked egress to rebind.test:{targets.got_port} from the server (resolves to 127.0.0.1, a loopback address); answered 403; "
            f"to allow: add \"127.0.0.1:{targets.got_port}\" to sandbox.network.allow as well") in res.stderr, res.describe()
    res = brig_probe(runner, targets, "project", ["connect", "127.0.0.9", "443"])
    assert ("blocked egress to 127.0.0.9:443 from the server (denied by 127.0.0.9); answered 403; "
            "to allow: remove \"127.0.0.9\" from sandbox.network.deny (deny wins over allow)") in res.stderr, res.describe()


def test_the_gate_alone_holds_without_a_namespace(runner: Runner, targets: Targets):
    """Where no network namespace can be made (here: forced by --no-view as the unprivileged user,
    who then has no user namespace), the connect gate alone keeps the server to the proxy."""
    requirements(runner)
    if runner.who != "unprivileged":
        pytest.skip("as root a network namespace is always made")
    res = brig_probe(runner, targets, "project", ["tcp", "127.0.0.2", str(targets.http_port)], ["--no-view"])
    assert_blocked(res, "Permission denied")
    assert_escaped(brig_probe(runner, targets, "project", ["get", f"http://127.0.0.2:{targets.http_port}/page.html"], ["--no-view"]))


# --- records ------------------------------------------------------------------------------------

def test_every_connection_is_an_audit_record(runner: Runner, targets: Targets, tmp_path):
    requirements(runner)
    log = runner.state_home() / f"egress-{os.getpid()}.jsonl"
    script = (f"import subprocess, sys\n"
              f"for u in ('http://127.0.0.2:{targets.http_port}/page.html', 'http://127.0.0.4:{targets.http_port}/x'):\n"
              f"    subprocess.run([sys.executable, sys.argv[1], 'get', u])\n")
    argv = [*private_names(targets), *runner.prefix, str(runner.h.brig), "--audit-log", str(log), "--net", targets.allow(), "--",
            SYSTEM_PYTHON, "-c", script, str(PROBE)]
    wd = runner.make_workdir()
    r = subprocess.run(argv, env=runner.env(), capture_output=True, timeout=60, cwd=wd, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr.decode()
    show = runner._run([str(runner.h.brig), "audit", "show", "--connections", "--json", str(log)])
    records = [json.loads(line) for line in show.stdout.splitlines() if line.strip()]
    by_host = {rec["brig"]["detail"]["host"]: rec["brig"]["detail"] for rec in records}
    assert {"127.0.0.2", "127.0.0.4"} <= set(by_host), show.stdout + r.stderr.decode()
    ok, refused = by_host["127.0.0.2"], by_host["127.0.0.4"]
    assert ok["decision"] == "allowed" and ok["rule"] == f"127.0.0.2:{targets.http_port}" and ok["address"] == "127.0.0.2", ok
    assert ok["kind"] == "http" and ok["bytes_down"] > len(PAGE) and ok["bytes_up"] > 0 and ok["duration_us"] > 0, ok
    assert refused["decision"] == "refused" and refused["status"] == 403 and "allow-list" in refused["reason"], refused
    denied = runner._run([str(runner.h.brig), "audit", "show", "--host", "127.0.0.4", "--outcome", "denied", str(log)])
    assert denied.stdout.count("127.0.0.4") == 1 and "denied" in denied.stdout, denied.describe()
    verify = runner._run([str(runner.h.brig), "audit", "verify", str(log)])
    assert verify.rc == 0, verify.describe()


# --- a real server: mcp-server-fetch from PyPI, through the official SDK client ------------------

@pytest.fixture
def fetch_python(python, public_python, runner) -> str:
    chosen = public_python if runner.who == "unprivileged" else python
    if not chosen:
        pytest.skip("no venv the unprivileged user can run")
    probe = subprocess.run([chosen, "-c", "import mcp_server_fetch"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"mcp-server-fetch is not installed in {chosen}")
    return chosen


@pytest.mark.parametrize("place", PLACES)
def test_fetch_server_reaches_only_the_allowed_url(runner: Runner, targets: Targets, fetch_python, tmp_path, place):
    requirements(runner)
    if not readable_by_runner(runner, Path(fetch_python)):
        pytest.skip(f"{UNPRIVILEGED_USER} cannot read {fetch_python}")
    cwd = place_dir(runner, place)
    log = runner.state_home() / f"fetch-{place}-{os.getpid()}.jsonl"
    # The test's targets are loopback addresses by design, which the server's own check refuses
    # (it resolves names itself; under brig a real name does not resolve inside the sandbox and
    # the check lets the request go to the proxy, which refuses private addresses on its own).
    server = [fetch_python, "-m", "mcp_server_fetch", "--ignore-robots-txt", "--allow-private-ips"]
    params = prefix_params(runner, str(runner.h.brig), ["--audit-log", str(log), "--net", targets.allow(), "--", *server], cwd)
    # Into the private mount namespace with the test's names, then the runner's prefix.
    params.args = [*private_names(targets)[1:], params.command, *params.args]
    params.command = "unshare"
    allowed = f"http://fetch.test:{targets.http_port}/page.html"
    refused = f"http://127.0.0.4:{targets.http_port}/page.html"
    # raw: the page as served (turning HTML into Markdown runs node's readability, which npm
    # would fetch from its registry: not in this allow-list, and brig refuses it).
    err = tmp_path / "brig.err"
    with open(err, "w") as e:
        tools, results = anyio.run(call_tools, params, [("fetch", {"url": allowed, "raw": True}), ("fetch", {"url": refused, "raw": True})], e)
    text = err.read_text(errors="replace")
    assert "fetch" in tools, text
    good, bad = results
    assert not good.is_error and "the allowed one" in str(good.content), text + str(good.content)
    assert bad.is_error and "403" in str(bad.content), text + str(bad.content)
    assert f"blocked egress to 127.0.0.4:{targets.http_port}" in text, text
    show = runner._run([str(runner.h.brig), "audit", "show", "--connections", "--json", str(log)])
    details = [json.loads(line)["brig"]["detail"] for line in show.stdout.splitlines() if line.strip()]
    refused_records = [d for d in details if d["host"] == "127.0.0.4"]
    assert refused_records and refused_records[0]["request"]["method"] == "tools/call" \
        and refused_records[0]["request"].get("tool") == "fetch", details
    assert any(d["host"] == "fetch.test" and d["decision"] == "allowed" and d["address"] == "127.0.0.2" for d in details), details


# --- learn mode ---------------------------------------------------------------------------------

def test_learn_writes_the_hosts_reached_as_an_allow_list(brig, targets: Targets, tmp_path):
    """brig learn with --net '*': every connection goes through the proxy and is let through; the
    learned profile allows the hosts reached and nothing else, and brig run under it keeps to them."""
    wd = tmp_path / "w"
    wd.mkdir()
    out = tmp_path / "learned.yaml"
    url = f"http://fetch.test:{targets.http_port}/page.html"
    r = subprocess.run([*private_names(targets), brig, "learn", "--net", "*", "--workdir", str(wd), "--out", str(out), "--",
                        SYSTEM_PYTHON, str(PROBE), "get", url], capture_output=True, text=True, timeout=120, cwd=wd)
    assert r.returncode == 0 and "ESCAPED" in r.stderr, r.stderr
    text = out.read_text()
    # The name, and the loopback address it resolved to (refused under brig run unless named).
    assert f'- "fetch.test:{targets.http_port}"' in text and f'- "127.0.0.2:{targets.http_port}"' in text, text
    assert f"network allow 127.0.0.2:{targets.http_port}, fetch.test:{targets.http_port};" in r.stderr, r.stderr
    # The learned profile reaches the learned host by name, and refuses another.
    run = [*private_names(targets), brig, "--profile", str(out), "--no-audit", "--workdir", str(wd), "--", SYSTEM_PYTHON, str(PROBE)]
    ok = subprocess.run([*run, "get", url], capture_output=True, text=True, timeout=60, cwd=wd)
    assert "ESCAPED" in ok.stderr, ok.stderr
    refused = subprocess.run([*run, "get", f"http://127.0.0.4:{targets.http_port}/page.html"], capture_output=True, text=True, timeout=60, cwd=wd)
    assert "BLOCKED" in refused.stderr and "403" in refused.stderr, refused.stderr


# --- uvx from an empty cache: the README's first command on a machine where uv never ran -----------

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".venv" / "wheelhouse"


class WheelIndex:
    """mcp-server-time's wheels (scripts/bootstrap downloads them into .venv/wheelhouse) served over
    HTTPS at 127.0.0.6, named wheels.test, with a certificate from a CA this test makes: uvx
    verifies it through SSL_CERT_FILE, so the TLS goes end to end through brig's CONNECT."""

    def __init__(self, base: Path):
        self.dir = base / "wheels"
        shutil.copytree(WHEELHOUSE, self.dir, ignore=shutil.ignore_patterns(".pin"))
        tls = base / "tls"
        tls.mkdir()
        self.ca = tls / "ca.pem"

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tls)

        curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        openssl("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=brig test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        openssl("req", *curve, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=wheels.test")
        (tls / "leaf.ext").write_text("subjectAltName=DNS:wheels.test\nbasicConstraints=CA:FALSE\n"
                                      "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem",
                "-days", "2", "-extfile", "leaf.ext")
        for p in [tls, self.dir, *self.dir.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        self.ca.chmod(0o644)
        directory = str(self.dir)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=directory, **kw)

            def log_message(self, *a):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "leaf.pem", tls / "leaf.key")
        self.server = http.server.ThreadingHTTPServer(("127.0.0.6", 0), Quiet)
        self.server.daemon_threads = True
        # The handshake in each connection's own thread, not in the accepting one.
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def wheel_index(targets):
    if not any(WHEELHOUSE.glob("mcp_server_time-*.whl")) or not (REPO / ".venv" / "bin" / "uvx").exists():
        pytest.skip("no .venv/wheelhouse or uvx: scripts/bootstrap makes them")
    index = WheelIndex(targets.base)
    yield index
    index.server.shutdown()


def fresh_home(runner: Runner) -> Path:
    """A $HOME where uv never ran (no ~/.cache, no ~/.local/share), with uv and uvx where uv's
    installer puts them (~/.local/bin), owned by the runner's user."""
    home = Path(tempfile.mkdtemp(prefix="home-", dir=runner.h.base))
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("uv", "uvx"):
        shutil.copy2(REPO / ".venv" / "bin" / tool, bin_dir / tool)
    for p in (home, home / ".local", bin_dir, bin_dir / "uv", bin_dir / "uvx"):
        p.chmod(0o755)
        if IS_ROOT:
            os.chown(p, *runner.ids)
    return home


@pytest.mark.parametrize("place", PLACES)
def test_uvx_starts_from_an_empty_cache_under_the_python_profile(runner: Runner, targets: Targets, wheel_index: WheelIndex,
                                                                 tmp_path, place):
    """`brig --profile python -- uvx mcp-server-time` where uv never ran: brig makes the profile's
    missing write grants (~/.cache/uv, ~/.local/share/uv/tools), passes SSL_CERT_FILE and grants
    the file it names, and uvx fetches through the proxy (CONNECT, TLS verified end to end) from
    an index the command line adds with --net + (its name, and the loopback address it resolves
    to, which a name alone does not reach); the official SDK client then calls the tool."""
    requirements(runner)
    home = fresh_home(runner)
    cwd = {"project": runner.make_workdir(), "root": Path("/"), "home": home}[place]
    log = runner.state_home() / f"uvx-{place}-{os.getpid()}.jsonl"
    index = f"https://wheels.test:{wheel_index.port}/"
    server = ["uvx", "--no-index", "--find-links", index, "mcp-server-time"]
    params = prefix_params(runner, str(runner.h.brig), ["--profile", "python", "--audit-log", str(log),
                                                        "--net", f"+wheels.test:{wheel_index.port},127.0.0.6:{wheel_index.port}", "--", *server],
                           cwd)
    params.args = [*private_names(targets)[1:], params.command, *params.args]
    params.command = "unshare"
    params.env = runner.env({"HOME": str(home), "PATH": f"{home}/.local/bin:/usr/local/bin:/usr/bin:/bin",
                             "SSL_CERT_FILE": str(wheel_index.ca), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1",
                             "PYTHONDONTWRITEBYTECODE": "1"})
    err = tmp_path / "brig.err"
    try:
        with open(err, "w") as e:
            tools, results = anyio.run(call_tools, params, [("get_current_time", {"timezone": "UTC"})], e)
    except Exception as failure:
        raise AssertionError(f"the session failed ({failure!r}); brig's stderr:\n" + err.read_text(errors="replace")) from failure
    text = err.read_text(errors="replace")
    assert "get_current_time" in tools, text
    assert not results[0].is_error and "UTC" in str(results[0].content), text + str(results[0].content)
    assert "blocked" not in text, text
    cache = home / ".cache" / "uv"
    st = cache.stat()
    assert cache.is_dir() and st.st_mode & 0o777 == 0o700 and st.st_uid == runner.ids[0], (oct(st.st_mode), st.st_uid)
    assert (home / ".local" / "share" / "uv" / "tools").is_dir()
    show = runner._run([str(runner.h.brig), "audit", "show", "--connections", "--json", str(log)])
    details = [json.loads(line)["brig"]["detail"] for line in show.stdout.splitlines() if line.strip()]
    assert details and all(d["host"] == "wheels.test" and d["decision"] == "allowed" and d["kind"] == "connect"
                           and d["address"] == "127.0.0.6" and d["bytes_down"] > 0 for d in details), details
    assert sum(d["bytes_down"] for d in details) > 1 << 20, details  # the wheels themselves came through
