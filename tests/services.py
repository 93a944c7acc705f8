"""Real services for end-to-end tests, started once per run: `detour serve`, Squid, an origin server.

All on loopback. A program a test needs and the set-up (`make install`,
deploy/setup-system.sh) should have installed makes the test fail with the
reason, never skip silently.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

DETOUR = str(Path(sys.executable).parent / "detour")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited early:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{process.args!r} did not listen on port {port} within {seconds} s:\n{log.read_text()[-4000:]}")


def wait_for_url(url: str, process: subprocess.Popen[bytes], log: Path, what: str, seconds: float = 60) -> None:
    """Until ``url`` answers 200; fails the test, with the end of the service's log, when it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited early:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"{what} did not become ready within {seconds:g} s:\n{log.read_text(errors='replace')[-4000:]}")


def stop(process: subprocess.Popen[bytes], seconds: float) -> None:
    """Ask a service to stop; kill it when it doesn't within ``seconds``."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def require(program: str, package: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None)
    if path is None:
        pytest.fail(f"{program} is not installed: `make install` installs the Debian package {package} "
                    f"(deploy/setup-system.sh; as root), or run: sudo apt-get install -y {package}")
    return path


@dataclass
class DetourService:
    http: str
    icap_port: int
    log: Path
    audit: Path  # DETOUR_AUDIT_LOG: one JSON line per decision
    token: str  # an API client token (detour client token create … --may-assert-user)
    environment: dict[str, str] = field(default_factory=dict)  # what it runs with (for the CLI beside it)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client_token(self, name: str, may_assert_user: bool = False) -> str:
        """A new API client token, made with the CLI as IT would, in the service's store."""
        return make_token(self.environment, name, may_assert_user)


def make_token(environment: dict[str, str], name: str, may_assert_user: bool = False) -> str:
    made = subprocess.run([DETOUR, "client", "token", "create", name, *(["--may-assert-user"] * may_assert_user)],
                          capture_output=True, text=True, env=environment, timeout=120)
    if made.returncode != 0:
        pytest.fail(f"detour client token create failed:\n{made.stderr}")
    return made.stdout.strip()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Origin:
    """A web server that records every request it receives."""

    port: int
    received: list[Received] = field(default_factory=list)
    # The name the proxy resolves to this server (Squid's hosts_file): an external site IT has not
    # approved, as far as the policy can tell; 127.0.0.1 itself is the internal network.
    host: str = "share.files-example.net"
    # What it answers to a POST or PUT (a helpdesk receiver answers JSON, or an error, as a test needs).
    status: int = 200
    answer: bytes = b"stored"
    content_type: str = "text/plain"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def clear(self) -> None:
        self.received.clear()


def start_detour(tmp: Path, env: dict[str, str] | None = None,
                 open_files: int | None = None) -> Iterator[DetourService]:
    """``detour serve`` (HTTP and ICAP) with its own data folder (decision store); its pages' address
    (DETOUR_PUBLIC_URL) is its own HTTP address. As in production, API calls need a client token
    (DETOUR_API_AUTH=required): one allowed to name users is made with the CLI before it starts.
    ``open_files``: the process's descriptor limit."""
    port, icap_port = free_port(), free_port()
    log_path, audit = tmp / "detour.log", tmp / "audit.jsonl"
    environment = {**os.environ, "DETOUR_AUDIT_LOG": str(audit), "DETOUR_DATA_DIR": str(tmp / "data"),
                   "DETOUR_PUBLIC_URL": f"http://127.0.0.1:{port}", "DETOUR_API_AUTH": "required", **(env or {})}
    token = make_token(environment, f"tests-{port}", may_assert_user=True)

    def limit() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with log_path.open("w") as log:
        process = subprocess.Popen([DETOUR, "serve", "--host", "127.0.0.1", "--port", str(port), "--icap-port",
                                    str(icap_port)], stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit,
                                   env={**os.environ, "DETOUR_AUDIT_LOG": str(audit),
                                        "DETOUR_DATA_DIR": str(tmp / "data"),
                                        "DETOUR_PUBLIC_URL": f"http://127.0.0.1:{port}", **(env or {})})
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_url(f"{base}/readyz", process, log_path, "detour serve")
        wait_for_port(icap_port, process, log_path)  # type: ignore[arg-type]
        yield DetourService(base, icap_port, log_path, audit, token, environment)
    finally:
        stop(process, 10)


FORM_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Share files</title>
<form action="/upload" method="post" enctype="multipart/form-data">
<label>File <input type="file" name="file"></label> <button type="submit">Upload</button></form></html>"""


def start_origin() -> Iterator[Origin]:
    origin = Origin(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path == "/form":  # an upload form, as a collaboration site would have
                page = FORM_PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            self._record()

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            origin.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
            answer = origin.answer
            self.send_response(origin.status)
            self.send_header("Content-Type", origin.content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = do_PUT = _record

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    origin.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()


# What the tests add to the squid.conf of docs/integrations/squid.md: their own folder,
# no cache, and the origin server's name (an external site, as far as the policy can tell).
SQUID_TEST_CONF = """\
visible_hostname detour-test
pid_filename {dir}/squid.pid
cache_log {dir}/cache.log
access_log stdio:{dir}/access.log
coredump_dir {dir}
netdb_filename none
hosts_file {dir}/hosts
cache deny all
cache_mem 8 MB
shutdown_lifetime 1 seconds
"""


def documented_squid_conf(port: int, icap_port: int) -> str:
    """The first squid.conf block of docs/integrations/squid.md, with the test's ports: tested as written."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "integrations" / "squid.md").read_text()
    block = doc.split("```squidconf\n", 1)[1].split("```", 1)[0]
    assert "http_port 3128\n" in block and "icap://127.0.0.1:1344/reqmod" in block
    return block.replace("http_port 3128\n", f"http_port 127.0.0.1:{port}\n").replace(
        "icap://127.0.0.1:1344/", f"icap://127.0.0.1:{icap_port}/")


def start_squid(tmp: Path, icap_port: int, origin_host: str, icap: bool = True) -> Iterator[str]:
    """Squid as an explicit proxy whose REQMOD goes to Detour; yields the proxy URL."""
    squid = require("squid", "squid")
    # Debian's Squid drops to the user proxy: its folder must be reachable and writable for it, which
    # pytest's private temporary folders are not.
    workdir = Path(tempfile.mkdtemp(prefix="detour-squid-"))
    os.chmod(workdir, 0o777)
    port = free_port()
    conf = workdir / "squid.conf"
    documented = documented_squid_conf(port, icap_port)
    if not icap:  # Squid alone, for comparison
        documented = documented.replace("icap_enable on", "icap_enable off")
    conf.write_text(documented + SQUID_TEST_CONF.format(dir=workdir))
    (workdir / "hosts").write_text(f"127.0.0.1 {origin_host}\n")
    # A distinct instance name: a crashed Squid leaves /dev/shm/squid-NAME-* behind.
    name = f"detour{os.getpid()}{'i' if icap else 'n'}"
    log_path = workdir / "squid.out"
    with log_path.open("w") as log:
        process = subprocess.Popen([squid, "-N", "-f", str(conf), "-n", name], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, workdir / "cache.log" if (workdir / "cache.log").exists() else log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for leftover in Path("/dev/shm").glob(f"squid-{name}*"):
            leftover.unlink(missing_ok=True)
        shutil.copytree(workdir, tmp / "squid", dirs_exist_ok=True)  # the logs stay with the test run
        shutil.rmtree(workdir, ignore_errors=True)


def start_mitmproxy(tmp: Path, detour_http: str, token: str = "") -> Iterator[str]:
    """mitmdump with Detour's add-on, from its own virtualenv, with the add-on's client token; yields the
    proxy URL."""
    root = Path(__file__).resolve().parent.parent
    mitmdump = root / ".venv-mitmproxy" / "bin" / "mitmdump"
    if not mitmdump.exists():
        pytest.fail(f"{mitmdump} is missing: `make install` creates .venv-mitmproxy from requirements-mitmproxy.lock")
    port = free_port()
    confdir = tmp / "mitmproxy"
    confdir.mkdir(exist_ok=True)
    log_path = tmp / "mitmdump.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([str(mitmdump), "--listen-host", "127.0.0.1", "--listen-port", str(port),
                                    "--set", f"confdir={confdir}", "--set", f"detour_url={detour_http}",
                                    "--set", f"detour_token={token}",
                                    "-s", str(root / "deploy" / "mitmproxy" / "detour.py"), "-q"],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log_path)  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, 10)


def start_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback (trust authentication, no fsync); yields the SQLAlchemy URL
    of its ``postgres`` database. ``initdb`` and ``postgres`` refuse to run as root: as root they run as
    the ``postgres`` user that Debian's package creates."""
    import psycopg

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    postgres = str(found[-1]) if found else shutil.which("postgres")
    if postgres is None:
        pytest.fail("the PostgreSQL server is not installed: `make install` installs the Debian package "
                    "postgresql (deploy/setup-system.sh; as root), or run: sudo apt-get install -y postgresql")
    initdb = str(Path(postgres).with_name("initdb"))
    folder = Path(tempfile.mkdtemp(prefix="detour-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    log_path = folder / "server.log"
    try:
        subprocess.run([*as_user, initdb, "-D", str(folder / "data"), "-U", "detour", "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True,
                       timeout=120)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"initdb failed: {exc.stderr.decode(errors='replace')[-2000:]}")
    port = free_port()
    with log_path.open("w") as log:  # written through the descriptor the server inherits
        process = subprocess.Popen([*as_user, postgres, "-D", str(folder / "data"), "-p", str(port),
                                    "-h", "127.0.0.1", "-k", str(folder), "-c", "fsync=off",
                                    "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log_path)  # type: ignore[arg-type]
        url = f"postgresql+psycopg://detour@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:  # listening comes before accepting connections
            try:
                psycopg.connect(f"postgresql://detour@127.0.0.1:{port}/postgres", connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL did not accept connections:\n{log_path.read_text()[-4000:]}")
                time.sleep(0.2)
        yield url
    finally:
        stop(process, 20)
        shutil.rmtree(folder, ignore_errors=True)


OIDC_PYTHON = Path(__file__).resolve().parent.parent / ".venv-oidc" / "bin" / "python"


def start_oidc(tmp: Path) -> Iterator[str]:
    """A real OpenID Connect provider (oidc-provider-mock, in .venv-oidc made by `make install`): its issuer
    URL. Any client id and secret are accepted; a person's claims are set with PUT /users/{sub}, and a person
    signs in by POSTing ``sub`` to the authorization URL (its login form)."""
    if not OIDC_PYTHON.exists():
        pytest.fail(f"{OIDC_PYTHON} is missing: `make install` makes it from requirements-oidc.lock")
    port, log_path = free_port(), tmp / "oidc.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([str(OIDC_PYTHON), "-W", "ignore", "-m", "oidc_provider_mock", "--port", str(port),
                                    "--host", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT)
    try:
        issuer = f"http://127.0.0.1:{port}"
        wait_for_url(f"{issuer}/.well-known/openid-configuration", process, log_path, "the OpenID provider")
        yield issuer
    finally:
        stop(process, 10)


@dataclass
class Syslog:
    """A real rsyslog receiver on loopback: every message it gets is a line of ``received`` (the raw message)."""

    udp: int
    tcp: int
    tls: int
    ca: Path  # the CA its TLS certificate is signed by
    received: Path

    def lines(self, count: int, seconds: float = 10) -> list[str]:
        """The received messages, once there are at least ``count`` (fails the test after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.received.exists():
                text = self.received.read_text(encoding="utf-8", errors="replace")
                if text.count("\n") >= count:
                    return text.splitlines()
            time.sleep(0.05)
        got = self.received.read_text(errors="replace") if self.received.exists() else "(nothing)"
        pytest.fail(f"rsyslog received fewer than {count} messages within {seconds:g} s:\n{got[-3000:]}")


RSYSLOG_CONF = """
global(workDirectory="{dir}/work" maxMessageSize="64k" processInternalMessages="on"
       defaultNetstreamDriverCAFile="{dir}/ca.pem" defaultNetstreamDriverCertFile="{dir}/server-cert.pem"
       defaultNetstreamDriverKeyFile="{dir}/server-key.pem")
module(load="imudp")
module(load="imtcp")
template(name="Raw" type="string" string="%rawmsg%\\n")
ruleset(name="capture") {{
  action(type="omfile" file="{dir}/received.log" template="Raw")
  stop
}}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="capture")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="capture")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="capture"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
*.* action(type="omfile" file="{dir}/rsyslogd-internal.log")
"""


def _certificates(folder: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it (PEM files in ``folder``)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Detour test syslog CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                          x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server-cert.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server-key.pem").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "server-key.pem").chmod(0o600)


def _listening(pid: int, port: int, protocol: str) -> bool:
    """Whether ``pid`` holds a socket bound to 127.0.0.1:``port`` (UDP) or listening there (TCP)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    wanted = f"0100007F:{port:04X}"
    for line in Path(f"/proc/net/{protocol}").read_text().splitlines()[1:]:
        columns = line.split()
        if columns[1] == wanted and (protocol == "udp" or columns[3] == "0A") and columns[9] in inodes:
            return True
    return False


def start_rsyslog(tmp: Path) -> Iterator[Syslog]:
    """rsyslogd (Debian's rsyslog and rsyslog-openssl) listening on loopback for UDP, TCP and TLS syslog, with a
    configuration of its own (no system log, no port 514), writing each raw message it receives to a file."""
    rsyslogd = require("rsyslogd", "rsyslog rsyslog-openssl")
    folder = tmp / "rsyslog"
    (folder / "work").mkdir(parents=True)
    _certificates(folder)
    ports = Syslog(free_port(), free_port(), free_port(), folder / "ca.pem", folder / "received.log")
    conf = folder / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(dir=folder, udp=ports.udp, tcp=ports.tcp, tls=ports.tls))
    checked = subprocess.run([rsyslogd, "-N1", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    if checked.returncode != 0:
        pytest.fail(f"rsyslogd refused the test configuration:\n{checked.stdout}{checked.stderr}")
    log_path = folder / "rsyslogd.log"
    with log_path.open("wb") as log:  # a file, not a pipe: an unread pipe would stall rsyslogd
        process = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(folder / "rsyslogd.pid")],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not all(_listening(process.pid, port, protocol) for port, protocol in
                      ((ports.udp, "udp"), (ports.tcp, "tcp"), (ports.tls, "tcp"))):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rsyslogd did not start listening:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)
        yield ports
    finally:
        stop(process, 10)
