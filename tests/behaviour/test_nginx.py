"""Each stack's nginx.conf, served by a real nginx in front of an echoing upstream.

The conf is the one the stack deploys (the proxy container's upload, which must equal
``render_nginx_conf(nginx_spec(...))`` as __main__.py builds it). Debian's nginx (1.22) runs it
with only what must differ on this machine rewritten, line by line and counted (see ``_adapt``):
listen ports (free loopback ports, IPv6 listeners dropped), the upstream (an echo server on
127.0.0.1 that answers with the headers and peer it saw), certificate paths (a throwaway
self-signed pair, and a throwaway CA standing in for the stack's origin-pull CA), the access
log and temp paths. Requests go over TLS with the stack's hostname as SNI and Host,
certificate checks off, presenting a client certificate that CA signed, as this zone's
Cloudflare does; behind the load balancer (prod) each connection opens with the PROXY
protocol header the balancer would write, naming the connection's own source address.

Each request that counts against a rate limit comes from its own loopback source address
(127.0.x.y), so the limits' per-client state never leaks from one test into another.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import itertools
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.config import nginx_spec
from components.render.nginx import MEDIA_CONTENT_SECURITY_POLICY, ProxySpec, render_nginx_conf
from tests import realprog
from tests.conftest import STACKS, recorded

LOOPBACK = realprog.LOOPBACK
TRUSTED_PEER = f"{LOOPBACK}/32"
# Headers the renderer must keep setting; every other add_header it renders is checked too.
REQUIRED_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
)
_sources = itertools.count(2)


def _source() -> str:
    """A loopback address no other request used: its own client for nginx's rate limits."""
    n = next(_sources)
    assert n < 250 * 250
    return f"127.0.{n // 250}.{n % 250 + 2}"


def _client_ip() -> str:
    """A client address no other request claimed in CF-Connecting-IP (198.18.0.0/15, for tests)."""
    n = next(_sources)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def _stranger_edge() -> str:
    """An edge address outside Cloudflare's ranges that no other request named (TEST-NET-2 and
    the addresses after it)."""
    n = next(_sources)
    return f"198.51.{100 + n // 250}.{n % 250 + 1}"


# ------------------------------------------------------------------------------ upstream


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with JSON of what it received; upgrades WebSocket requests
    and echoes one line back through the tunnel."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        # Both headers, as RFC 6455 (4.2.1) asks of a handshake and WebSocket servers check.
        connection = {t.strip().lower() for t in self.headers.get("Connection", "").split(",")}
        if self.headers.get("Upgrade", "").lower() == "websocket" and "upgrade" in connection:
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            self.wfile.flush()
            self.wfile.write(self.rfile.readline(1024))
            self.close_connection = True
            return
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "peer": self.client_address[0],
                "body_bytes": length - remaining,
                "headers": {k.lower(): ", ".join(self.headers.get_all(k)) for k in set(self.headers.keys())},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # `?header=Name: value` (repeatable): headers the app sets itself.
        for item in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("header", []):
            name, _, value = item.partition(":")
            self.send_header(name, value.strip())
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((LOOPBACK, 0), _Echo)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --------------------------------------------------------------------------------- nginx


@dataclasses.dataclass
class Proxy:
    stack: str
    spec: ProxySpec
    rendered: str
    conf: str
    replaced: dict[str, str | None]
    http_port: int
    https_port: int
    upstream: ThreadingHTTPServer
    pki: Pki

    @property
    def hostname(self) -> str:
        return self.spec.server_names[0]

    @property
    def limit_status(self) -> int:
        found = re.search(r"^\s*limit_req_status (\d+);", self.rendered, re.M)
        return int(found.group(1)) if found else 503  # nginx's default

    def headers_promised(self) -> dict[str, str]:
        """Every header the app's server adds where the app sent none, name -> value: its
        `add_header <name> $variable` lines and the value of that variable's map for an
        upstream without the header (the media server's and the static Cache-Control aside)."""
        # The app's server: from its listen line to the media server's, if any.
        https = self.rendered.split("listen 443 ssl http2")[1]
        out = {}
        for name, variable in re.findall(r"^\s*add_header\s+(\S+)\s+(\$\w+)\s+always;", https, re.M):
            found = re.search(rf'^\s*map \S+ {re.escape(variable)} {{\n\s*"" "((?:[^"\\]|\\.)*)";', self.rendered, re.M)
            assert found, variable
            out[name] = re.sub(r"\\(.)", r"\1", found.group(1))
        return out


def _stack_spec(stack: str) -> ProxySpec:
    """The spec exactly as __main__.py builds it."""
    cfg = recorded(stack).cfg
    return nginx_spec(cfg, proxy_protocol=cfg.app.replicas >= 2)


def _deployed_conf(stack: str) -> str:
    """The nginx.conf the stack uploads to its (first) proxy container."""
    containers = recorded(stack).of_type("docker:index/container:Container")
    proxy = next(r for r in containers if r.inputs.get("name") == "proxy")
    (conf,) = [u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf"]
    return conf


@dataclasses.dataclass(frozen=True)
class Pki:
    """A throwaway origin-pull CA (the stack's, as nginx trusts it) with the client certificate
    it signed (Cloudflare's), and a client certificate from another CA (anyone else's)."""

    ca: Path
    client: tuple[Path, Path]
    stranger: tuple[Path, Path]


def _openssl(*args: str) -> None:
    result = realprog.run([realprog.require("openssl", "openssl"), *args])
    assert result.returncode == 0, result.stderr


def _client_pki(directory: Path, name: str) -> tuple[Path, tuple[Path, Path]]:
    """A CA and a leaf client certificate it signed, as OriginTls makes them (RSA, CA:FALSE,
    clientAuth)."""
    ca, ca_key = directory / f"{name}-ca.pem", directory / f"{name}-ca.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name} origin pull CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name} origin pull",
             "-keyout", str(key), "-out", str(csr))  # fmt: skip
    extensions = directory / f"{name}.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
    )
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "1", "-extfile", str(extensions), "-out", str(cert))  # fmt: skip
    return ca, (cert, key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pull")
    ca, client = _client_pki(directory, "stack")
    _, stranger = _client_pki(directory, "stranger")
    return Pki(ca, client, stranger)


def _adapt(
    rendered: str,
    spec: ProxySpec,
    workdir: Path,
    ports: tuple[int, int, int],
    cert: tuple[Path, Path],
    pki: Pki,
    bucket: tuple[int, Path] | None = None,
) -> tuple[str, dict[str, str | None]]:
    """The rendered conf with only machine-specific lines rewritten: each expected exactly
    as often as counted here, so a change in the renderer's output cannot slip past unadapted.
    `bucket`: the port and certificate of a TLS server standing in for the media bucket."""
    http_port, https_port, upstream_port = ports
    pp = " proxy_protocol" if spec.proxy_protocol else ""
    servers = 2 if spec.media_host else 1  # HTTPS servers with a certificate
    rules: dict[str, tuple[str | None, int]] = {
        f"listen 80 default_server{pp};": (f"listen {LOOPBACK}:{http_port} default_server{pp};", 1),
        f"listen 443 ssl default_server{pp};": (f"listen {LOOPBACK}:{https_port} ssl default_server{pp};", 1),
        f"listen 443 ssl http2{pp};": (f"listen {LOOPBACK}:{https_port} ssl http2{pp};", servers),
        # IPv6 wildcards would listen beyond loopback.
        f"listen [::]:80 default_server{pp};": (None, 1),
        f"listen [::]:443 ssl default_server{pp};": (None, 1),
        f"listen [::]:443 ssl http2{pp};": (None, servers),
        f"set $upstream http://{spec.upstream};": (f"set $upstream http://{LOOPBACK}:{upstream_port};", 2),
        f"ssl_certificate {spec.cert_path};": (f"ssl_certificate {cert[0]};", servers),
        f"ssl_certificate_key {spec.key_path};": (f"ssl_certificate_key {cert[1]};", servers),
        f"ssl_client_certificate {spec.client_ca_path};": (f"ssl_client_certificate {pki.ca};", servers),
        "access_log /var/log/nginx/access.log main;": (f"access_log {workdir}/access.log main;", 1),
        # Debian's nginx has compiled-in temp paths under /var/lib/nginx (the image's differ).
        "http {": (
            "http {\n"
            + "".join(
                f"    {kind}_temp_path {workdir}/{kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
            1,
        ),
    }
    if spec.media_host:
        assert bucket, "a media server needs a bucket to ask"
        rules[f"set $media https://{spec.media_origin};"] = (f"set $media https://{LOOPBACK}:{bucket[0]};", 1)
        rules[f"proxy_ssl_trusted_certificate {spec.ca_bundle};"] = (f"proxy_ssl_trusted_certificate {bucket[1]};", 1)
    out, counts = [], dict.fromkeys(rules, 0)
    for line in rendered.splitlines():
        rule = rules.get(line.strip())
        if rule is None:
            out.append(line)
            continue
        counts[line.strip()] += 1
        if rule[0] is not None:
            out.append(line[: len(line) - len(line.lstrip())] + rule[0].rstrip("\n"))
    wrong = {k: (counts[k], n) for k, (_, n) in rules.items() if counts[k] != n}
    assert not wrong, f"the rendered conf changed shape; adapt these lines (seen, expected): {wrong}"
    return "\n".join(out) + "\n", {k: v for k, (v, _) in rules.items()}


def _start(
    stack: str,
    spec: ProxySpec,
    upstream: ThreadingHTTPServer,
    cert: tuple[Path, Path],
    pki: Pki,
    bucket: tuple[int, Path] | None = None,
) -> Iterator[Proxy]:
    nginx = realprog.require("nginx", "nginx")
    rendered = render_nginx_conf(spec)
    with realprog.shared_tempdir() as workdir:
        ports = (realprog.free_port(), realprog.free_port(), upstream.server_address[1])
        conf, replaced = _adapt(rendered, spec, workdir, ports, cert, pki, bucket)
        (workdir / "nginx.conf").write_text(conf)
        command = [
            nginx, "-c", str(workdir / "nginx.conf"), "-p", f"{workdir}/", "-e", str(workdir / "error.log"),
            "-g", f"daemon off; pid {workdir / 'nginx.pid'};",
        ]  # fmt: skip
        with realprog.server(command, ports[1], workdir / "error.log") as proc:
            realprog.wait_for_port(ports[0], proc, workdir / "error.log")
            yield Proxy(stack, spec, rendered, conf, replaced, ports[0], ports[1], upstream, pki)


@pytest.fixture(scope="module", params=STACKS)
def proxy(request, upstream, origin_cert, pki) -> Iterator[Proxy]:
    """The stack's own conf: loopback is not a trusted peer."""
    stack = request.param
    spec = _stack_spec(stack)
    assert render_nginx_conf(spec) == _deployed_conf(stack), "the test renders what the stack deploys"
    yield from _start(stack, spec, upstream, origin_cert, pki)


@pytest.fixture(scope="module", params=STACKS)
def trusted(request, upstream, origin_cert, pki) -> Iterator[Proxy]:
    """The stack's conf rendered with loopback added to the trusted ranges, like an edge."""
    spec = _stack_spec(request.param)
    spec = dataclasses.replace(spec, real_ip_ranges=(*spec.real_ip_ranges, TRUSTED_PEER))
    yield from _start(request.param, spec, upstream, origin_cert, pki)


# -------------------------------------------------------------------------------- client


_contexts: dict[tuple[Path, Path] | None, ssl.SSLContext] = {}


def _context(client: tuple[Path, Path] | None) -> ssl.SSLContext:
    """TLS presenting the `client` certificate (None: none); certificate checks off (the origin
    certificate is a throwaway), no CA store to load."""
    if client not in _contexts:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if client:
            context.load_cert_chain(*client)
        _contexts[client] = context
    return _contexts[client]


def _proxy_line(edge: str, port: int) -> bytes:
    """The PROXY protocol (v1) line a load balancer writes for a client at `edge`."""
    family, own = ("TCP6", "::1") if ":" in edge else ("TCP4", LOOPBACK)
    return f"PROXY {family} {edge} {own} 40000 {port}\r\n".encode()


def _open(proxy: Proxy, port: int, timeout: float, source: str | None, edge: str | None) -> socket.socket:
    """A TCP connection to `port` from `source`; behind the balancer it first names `edge` (by
    default its own source address, as the balancer names the address it was reached from)."""
    sock = socket.create_connection((LOOPBACK, port), timeout, (source, 0) if source else None)
    if proxy.spec.proxy_protocol:
        sock.sendall(_proxy_line(edge or sock.getsockname()[0], port))
    return sock


class _Https(http.client.HTTPSConnection):
    """HTTPS to `proxy` with `sni` as server name (and Host), presenting `client` (by default
    the certificate the stack's origin-pull CA signed, as Cloudflare presents it)."""

    def __init__(self, proxy: Proxy, sni: str | None = None, source: str | None = None, edge: str | None = None,
                 client: tuple[Path, Path] | str | None = "stack"):  # fmt: skip
        client = proxy.pki.client if client == "stack" else client
        super().__init__(sni or proxy.hostname, proxy.https_port, timeout=5, context=_context(client))
        self.proxy, self.source, self.edge = proxy, source, edge

    def connect(self) -> None:
        sock = _open(self.proxy, self.port, self.timeout, self.source, self.edge)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _Http(http.client.HTTPConnection):
    """Plain HTTP to `proxy`'s port 80 (the load balancer's health check)."""

    def __init__(self, proxy: Proxy, edge: str | None = None):
        super().__init__(LOOPBACK, proxy.http_port, timeout=5)
        self.proxy, self.edge = proxy, edge

    def connect(self) -> None:
        self.sock = _open(self.proxy, self.port, self.timeout, None, self.edge)


@dataclasses.dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def echo(self) -> dict:
        assert self.status == 200, (self.status, self.body[:300])
        return json.loads(self.body)


def _send(conn: http.client.HTTPConnection, host: str, path: str, headers=None, method="GET", body=None) -> Reply:
    conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    return Reply(response.status, response.headers, response.read())


def _https(proxy: Proxy, path: str, headers=None, source=None, edge=None, client="stack", **kwargs) -> Reply:
    conn = _Https(proxy, source=source, edge=edge, client=client)
    try:
        return _send(conn, proxy.hostname, path, headers, **kwargs)
    finally:
        conn.close()


def _http(proxy: Proxy, path: str, headers=None, host: str | None = None, edge: str | None = None) -> Reply:
    conn = _Http(proxy, edge)
    try:
        return _send(conn, host or proxy.hostname, path, headers)
    finally:
        conn.close()


def _burst(proxy: Proxy, path: str, count: int, source: str, headers=None, edge=None) -> tuple[list[Reply], float]:
    """`count` requests back to back on one keep-alive connection from `source` (behind the
    balancer: naming `edge`)."""
    conn = _Https(proxy, source=source, edge=edge)
    replies = []
    started = time.monotonic()
    try:
        for i in range(count):
            extra = headers(i) if callable(headers) else headers
            try:
                replies.append(_send(conn, proxy.hostname, path, extra))
            except (http.client.RemoteDisconnected, ConnectionError):
                conn.close()  # nginx may close after refusing; the next request reconnects
                replies.append(_send(conn, proxy.hostname, path, extra))
    finally:
        conn.close()
    return replies, time.monotonic() - started


def _size(text: str) -> int:
    units = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    return int(text[:-1] if text[-1:].isalpha() else text) * units[text[-1:].lower() if text[-1:].isalpha() else ""]


# ------------------------------------------------------------------------- the conf itself


def test_conf_under_test_is_the_rendered_one(proxy: Proxy) -> None:
    """Apart from the counted machine-specific lines, nginx runs the rendered text verbatim."""
    rewritten = {v.strip() for value in proxy.replaced.values() if value for v in value.splitlines()}
    kept = [line for line in proxy.conf.splitlines() if line.strip() not in rewritten]
    assert kept == [line for line in proxy.rendered.splitlines() if line.strip() not in proxy.replaced]
    assert f"http://{proxy.spec.upstream}" in proxy.rendered and f"http://{proxy.spec.upstream}" not in proxy.conf
    assert "listen [::]" not in proxy.conf and not re.search(r"listen (80|443)\b", proxy.conf)


# ------------------------------------------------------------------------------ behaviour


def test_health_answers_on_http_and_https(proxy: Proxy) -> None:
    for reply in (_http(proxy, proxy.spec.health_path), _https(proxy, proxy.spec.health_path)):
        seen = reply.echo()  # proxied to the app, not answered by nginx itself
        assert seen["path"] == proxy.spec.health_path
        # The app sees the health check as it sees users: HTTPS, so no redirect answers it.
        assert seen["headers"]["x-forwarded-proto"] == "https"


def test_the_load_balancers_check_reaches_the_app_as_the_first_hostname(proxy: Proxy) -> None:
    # The load balancer asks by the droplet's address; Django's ALLOWED_HOSTS would refuse that
    # Host, so nginx asks as the first served hostname, with the client address it saw.
    reply = _http(proxy, proxy.spec.health_path, host="10.40.0.7")
    seen = reply.echo()
    assert seen["headers"]["host"] == proxy.spec.server_names[0]
    assert seen["headers"]["x-forwarded-proto"] == "https"
    assert seen["headers"]["x-forwarded-for"] == LOOPBACK


def test_plain_http_redirects_everything_else_to_https(proxy: Proxy) -> None:
    before = len(proxy.upstream.seen)
    reply = _http(proxy, "/orders?page=2")
    assert reply.status == 301
    assert reply.headers["Location"] == f"https://{proxy.hostname}/orders?page=2"
    assert len(proxy.upstream.seen) == before


def test_every_server_name_is_served_and_an_unknown_one_gets_no_certificate(proxy: Proxy) -> None:
    for name in proxy.spec.server_names:
        conn = _Https(proxy, sni=name)
        try:
            assert _send(conn, name, "/").echo()["headers"]["host"] == name
        finally:
            conn.close()
    conn = _Https(proxy, sni="unknown.invalid")
    with pytest.raises(ssl.SSLError):
        conn.connect()
    conn.close()


def _assert_security_headers(proxy: Proxy, reply: Reply, what: str) -> None:
    promised = proxy.headers_promised()
    for name, value in promised.items():
        assert reply.headers.get_all(name) == [value], f"{what} (status {reply.status}): {name}"


def test_security_headers_on_every_kind_of_response(proxy: Proxy) -> None:
    promised = proxy.headers_promised()
    assert set(REQUIRED_HEADERS) <= set(promised), set(REQUIRED_HEADERS) - set(promised)
    assert promised["Content-Security-Policy"] == recorded(proxy.stack).cfg.proxy.content_security_policy
    assert promised["X-Content-Type-Options"] == "nosniff"
    max_age = int(re.search(r"max-age=(\d+)", promised["Strict-Transport-Security"]).group(1))
    assert max_age >= 15552000  # six months, the floor of edge.hstsMaxAge
    cases = {
        "/": 200,
        "/api/items": 200,
        proxy.spec.health_path: 200,
        "/.well-known/security.txt": 200,
        "/.git/config": 403,
        "/debug.log": 403,
        **dict.fromkeys(proxy.spec.auth_paths, 200),
    }
    for path, status in cases.items():
        reply = _https(proxy, path, source=_source())
        assert reply.status == status, path
        _assert_security_headers(proxy, reply, path)


def test_upstream_sees_the_peer_not_forged_client_headers(proxy: Proxy) -> None:
    """Loopback is no Cloudflare edge: CF-Connecting-IP and X-Forwarded-For from it are ignored."""
    assert not any(ipaddress.ip_address(LOOPBACK) in ipaddress.ip_network(c) for c in proxy.spec.real_ip_ranges)
    forged = {"CF-Connecting-IP": "203.0.113.7", "X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.10"}
    for path in ("/", "/api/items", proxy.spec.health_path):
        seen = _https(proxy, path, forged).echo()
        assert seen["headers"]["x-forwarded-for"] == LOOPBACK, path
        assert seen["headers"]["x-real-ip"] == LOOPBACK, path


def test_client_ip_is_restored_from_a_trusted_peer_only(trusted: Proxy) -> None:
    """Only from the trusted peer 127.0.0.1: the same request from 127.0.x.y keeps that address."""
    for client in (_client_ip(), "2001:db8::7"):
        forged = {"CF-Connecting-IP": client, "X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.10"}
        seen = _https(trusted, "/api/items", forged).echo()
        assert seen["headers"]["x-forwarded-for"] == client
        assert seen["headers"]["x-real-ip"] == client
    # Without CF-Connecting-IP the peer itself is the client, whatever else is claimed.
    seen = _https(trusted, "/", {"X-Forwarded-For": "198.51.100.9"}).echo()
    assert seen["headers"]["x-forwarded-for"] == LOOPBACK
    other_peer = _source()
    seen = _https(trusted, "/", {"CF-Connecting-IP": _client_ip()}, source=other_peer).echo()
    assert seen["headers"]["x-forwarded-for"] == other_peer


def _limited(proxy: Proxy, path: str, rate: int, burst: int, source: str, headers=None, edge=None) -> list[int]:
    """Statuses of a burst well past the limit; checks the count nginx let through."""
    replies, elapsed = _burst(proxy, path, 2 * (burst + 1) + 10, source, headers, edge)
    statuses = [r.status for r in replies]
    assert set(statuses) <= {200, proxy.limit_status}, statuses
    passed = statuses.count(200)
    # The burst is served at once; beyond it only what the rate refilled meanwhile.
    assert statuses[: burst + 1] == [200] * (burst + 1), statuses
    assert passed <= burst + 1 + int(rate * elapsed) + 1, (passed, elapsed, statuses)
    first = statuses.index(proxy.limit_status)
    _assert_security_headers(proxy, replies[first], f"refused {path}")
    return statuses


def test_api_is_rate_limited_past_the_burst(proxy: Proxy) -> None:
    assert proxy.limit_status in (429, 503)
    statuses = _limited(proxy, "/api/items", proxy.spec.api_rate_per_s, proxy.spec.api_burst, _source())
    assert proxy.limit_status in statuses


def test_auth_paths_are_rate_limited_past_their_burst(proxy: Proxy) -> None:
    assert proxy.spec.auth_paths
    for path in proxy.spec.auth_paths:
        statuses = _limited(proxy, path, proxy.spec.auth_rate_per_s, proxy.spec.auth_burst, _source())
        assert proxy.limit_status in statuses, path


def test_the_rest_of_the_site_is_not_rate_limited(proxy: Proxy) -> None:
    replies, _ = _burst(proxy, "/", 2 * (proxy.spec.api_burst + 1) + 10, _source())
    assert {r.status for r in replies} == {200}


def test_forged_cf_connecting_ip_does_not_escape_the_limit(proxy: Proxy) -> None:
    """From an untrusted peer a fresh CF-Connecting-IP per request is still one client."""
    statuses = _limited(
        proxy,
        "/api/items",
        proxy.spec.api_rate_per_s,
        proxy.spec.api_burst,
        _source(),
        headers=lambda i: {"CF-Connecting-IP": f"203.0.113.{i % 250 + 1}"},
    )
    assert proxy.limit_status in statuses


def test_behind_a_trusted_peer_each_restored_client_has_its_own_limit(trusted: Proxy) -> None:
    """Every request from the one trusted peer (like one Cloudflare edge): the limit follows
    CF-Connecting-IP, so one client's burst does not spend another's."""
    first, second = _client_ip(), _client_ip()
    statuses = _limited(
        trusted, "/api/items", trusted.spec.api_rate_per_s, trusted.spec.api_burst, None,
        headers={"CF-Connecting-IP": first},
    )  # fmt: skip
    assert trusted.limit_status in statuses
    replies, _ = _burst(trusted, "/api/items", trusted.spec.api_burst + 1, None, {"CF-Connecting-IP": second})
    assert [r.status for r in replies] == [200] * (trusted.spec.api_burst + 1)


def test_bodies_up_to_client_max_body_size_pass_and_larger_get_413(proxy: Proxy) -> None:
    limit = _size(proxy.spec.client_max_body_size)
    seen = _https(proxy, "/upload", method="POST", body=b"x" * limit).echo()
    assert seen["body_bytes"] == limit

    conn = _Https(proxy)
    try:
        conn.putrequest("POST", "/too-large", skip_host=True)
        conn.putheader("Host", proxy.hostname)
        conn.putheader("Content-Length", str(limit + 1))
        conn.endheaders()  # nginx answers on the length alone
        response = conn.getresponse()
        reply = Reply(response.status, response.headers, response.read())
    finally:
        conn.close()
    assert reply.status == 413
    _assert_security_headers(proxy, reply, "413")
    assert "/too-large" not in proxy.upstream.seen


# ---------------------------------------------------------------------------- WebSocket


def _websocket_paths(spec: ProxySpec) -> tuple[str, ...]:
    """Paths of any websocket field the spec has."""
    paths: list[str] = []
    for field in dataclasses.fields(spec):
        if "websocket" in field.name.lower():
            value = getattr(spec, field.name)
            if isinstance(value, str):
                paths.append(value)
            elif isinstance(value, (tuple, list)):
                paths += [v for v in value if isinstance(v, str)]
    return tuple(paths)


def _collection_spec(stack: str) -> ProxySpec:
    cfg = realprog.stack_cfg(stack)
    return nginx_spec(cfg, proxy_protocol=cfg.app.replicas >= 2)


WEBSOCKET_CASES = [(stack, path) for stack in STACKS for path in _websocket_paths(_collection_spec(stack))]

if WEBSOCKET_CASES:  # collected only once a stack configures WebSocket paths

    @pytest.mark.parametrize(("proxy", "path"), WEBSOCKET_CASES, indirect=["proxy"])
    def test_websocket_upgrade_is_tunnelled(proxy: Proxy, path: str) -> None:
        _assert_tunnel(proxy, path)


def _upgrade(proxy: Proxy, path: str) -> tuple[ssl.SSLSocket, bytes]:
    """A WebSocket handshake for `path`: the open socket and the response head (plus any
    bytes after it)."""
    raw = _open(proxy, proxy.https_port, 5, None, None)
    sock = _context(proxy.pki.client).wrap_socket(raw, server_hostname=proxy.hostname)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {proxy.hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 8192:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def _assert_tunnel(proxy: Proxy, path: str, idle: float = 0) -> None:
    """The upstream's 101 reaches the client, then a line goes through the tunnel and back,
    after `idle` seconds of silence."""
    sock, head = _upgrade(proxy, path)
    with sock:
        assert head.startswith(b"HTTP/1.1 101"), head
        time.sleep(idle)
        sock.sendall(b"ping through the tunnel\n")
        echoed = head.split(b"\r\n\r\n", 1)[1]
        while not echoed.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            echoed += chunk
        assert echoed == b"ping through the tunnel\n"


# --------------------------------------------------------------- proxy options
# No stack sets proxy.websocketPaths, readTimeoutSeconds or staticPath: prod's conf with all
# of them set, served in front of an upstream that can also be slow, fail, and set its own
# Cache-Control, like an app.

OPTIONS = {
    # Malar Market's socket (seed S1), and one under /api/, which must keep the API's limit.
    "websocket_paths": ("/ws", "/api/live/"),
    # One second, so that a slow answer is cut off inside the test (seed S0 wants 300).
    "read_timeout_s": 1,
    "static_path": "/static/",
    "static_max_age_s": 600,  # not the default: a hard-coded max-age shows
    # A double quote and a backslash before a "t": nginx must be handed them escaped (unescaped,
    # nginx would end the string early or read a TAB), and send them as typed.
    "content_security_policy": "default-src 'self'; report-uri \"https://r.example.com/csp\\tx\"",
}
APP_CACHE_CONTROL = "no-cache"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


class _App(_Echo):
    """_Echo with an app's habits: `?sleep=S` answers after S seconds, `?status=N` answers N,
    and every plain answer carries the app's own Cache-Control."""

    def send_response(self, code: int, message: str | None = None) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        time.sleep(float(query.get("sleep", ["0"])[0]))
        super().send_response(int(query.get("status", [code])[0]), message)
        self.send_header("Cache-Control", APP_CACHE_CONTROL)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # nginx hanging up on a slow answer is the point of the timeout test


@pytest.fixture(scope="module")
def options(origin_cert, pki) -> Iterator[Proxy]:
    server = _QuietServer((LOOPBACK, 0), _App)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        spec = dataclasses.replace(_stack_spec("prod"), **OPTIONS)
        yield from _start("prod", spec, server, origin_cert, pki)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_websocket_upgrade_is_tunnelled_on_each_configured_path(options: Proxy) -> None:
    """The upstream's 101 reaches the client and the tunnel carries data both ways."""
    assert options.spec.websocket_paths == OPTIONS["websocket_paths"]
    for path in options.spec.websocket_paths:
        _assert_tunnel(options, path)
        _assert_tunnel(options, path.rstrip("/") + "/room/7?token=x")  # a prefix, as configured


def test_websocket_paths_forward_what_every_other_path_does(options: Proxy) -> None:
    """A location with its own proxy_set_header inherits none: Host, X-Real-IP,
    X-Forwarded-For and -Proto must be there all the same, and the security headers too."""
    forged = {"CF-Connecting-IP": "203.0.113.7", "X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.10"}
    source = _source()
    plain = _https(options, "/", forged, source=source).echo()["headers"]
    for path in options.spec.websocket_paths:
        reply = _https(options, path, forged, source=source)
        seen = reply.echo()["headers"]
        for name in ("host", "x-real-ip", "x-forwarded-for", "x-forwarded-proto"):
            assert seen[name] == plain[name], (path, name)
        assert seen["host"] == options.hostname and seen["x-forwarded-for"] == source
        assert seen["x-forwarded-proto"] == "https"
        # No Upgrade asked: the upstream connection is an ordinary one.
        assert "upgrade" not in seen and seen["connection"] == "close", seen
        _assert_security_headers(options, reply, path)


def _upgrade_not_passed(proxy: Proxy, path: str) -> None:
    """An Upgrade request for `path` reaches the upstream as a plain request: no Upgrade
    header, Connection: close, and no 101 comes back."""
    reply = _https(proxy, path, UPGRADE, source=_source())
    assert reply.status == 200, (path, reply.status, reply.body[:200])
    seen = reply.echo()["headers"]
    assert "upgrade" not in seen and seen["connection"] == "close", (path, seen)


def test_upgrade_is_not_passed_outside_the_websocket_paths(options: Proxy) -> None:
    for path in ("/", "/chat", "/api/items", options.spec.health_path, "/static/app.js", "/login"):
        _upgrade_not_passed(options, path)


def test_without_websocket_paths_no_upgrade_is_passed(proxy: Proxy) -> None:
    """Each stack's own conf: the seed's /ws is an ordinary path unless configured."""
    for path in ("/ws", "/", "/api/items"):
        if not any(path.startswith(p) for p in proxy.spec.websocket_paths):
            _upgrade_not_passed(proxy, path)


def test_websocket_tunnel_outlives_the_read_timeout(options: Proxy) -> None:
    """A socket may stay silent far longer than a request may take."""
    _assert_tunnel(options, "/ws", idle=options.spec.read_timeout_s + 0.5)


def test_read_timeout_cuts_off_a_slow_upstream(options: Proxy) -> None:
    timeout = options.spec.read_timeout_s
    assert _https(options, f"/report?sleep={timeout / 4}").status == 200
    started = time.monotonic()
    reply = _https(options, f"/report?sleep={timeout + 2}", source=_source())
    elapsed = time.monotonic() - started
    assert reply.status == 504, (reply.status, reply.body[:200])
    assert timeout <= elapsed < timeout + 1.5, elapsed
    _assert_security_headers(options, reply, "504")


def test_static_answers_are_cacheable_and_keep_the_security_headers(options: Proxy) -> None:
    """staticPath's own add_header would drop every inherited one: all must still be there,
    and its Cache-Control replaces the app's instead of joining it."""
    promised = options.headers_promised()
    assert set(REQUIRED_HEADERS) <= set(promised)
    for path in ("/static/app.3f2a9c.css", "/static/img/logo.png?v=2"):
        reply = _https(options, path, source=_source())
        assert reply.echo()["path"] == path  # proxied to the app, which serves the files
        assert reply.headers.get_all("Cache-Control") == [f"public, max-age={OPTIONS['static_max_age_s']}, immutable"]
        _assert_security_headers(options, reply, path)


def test_static_errors_are_not_cached_as_immutable(options: Proxy) -> None:
    reply = _https(options, "/static/missing.css?status=404", source=_source())
    assert reply.status == 404
    assert reply.headers.get_all("Cache-Control") is None
    _assert_security_headers(options, reply, "static 404")


def test_elsewhere_the_apps_cache_control_stands(options: Proxy) -> None:
    for path in ("/", "/app.css", "/static.css", "/api/items", "/ws"):
        reply = _https(options, path, source=_source())
        assert reply.headers.get_all("Cache-Control") == [APP_CACHE_CONTROL], path


def test_websocket_path_under_api_keeps_the_api_limit(options: Proxy) -> None:
    (path,) = [p for p in options.spec.websocket_paths if p.startswith("/api/")]
    statuses = _limited(options, path, options.spec.api_rate_per_s, options.spec.api_burst, _source())
    assert options.limit_status in statuses


def test_the_policy_reaches_the_browser_exactly_as_configured(options: Proxy) -> None:
    """The Content-Security-Policy header is the configured text, a double quote and a
    backslash included (the rendered conf escapes them; nginx unescapes them)."""
    policy = OPTIONS["content_security_policy"]
    assert '"' in policy and "\\" in policy
    assert _https(options, "/").headers.get_all("Content-Security-Policy") == [policy]


# ------------------------------------------------------------ Authenticated Origin Pulls
# Cloudflare's ranges are every Cloudflare customer's: only this zone's Cloudflare presents a
# client certificate the stack's own CA signed.


def test_without_this_stacks_client_certificate_nothing_is_served(proxy: Proxy) -> None:
    """No certificate, or one another CA signed: 400 for every name the stack serves, before
    any location (the app never sees it, no rate limit counts it)."""
    before = len(proxy.upstream.seen)
    for name in proxy.spec.server_names:
        for client in (None, proxy.pki.stranger):
            conn = _Https(proxy, sni=name, source=_source(), client=client)
            try:
                reply = _send(conn, name, "/api/items?no-pull-certificate")
            finally:
                conn.close()
            assert reply.status == 400, (name, client)
            assert b"SSL certificate" in reply.body, reply.body[:200]
    assert len(proxy.upstream.seen) == before


def test_with_the_certificate_the_stacks_ca_signed_the_request_is_served(proxy: Proxy) -> None:
    assert _https(proxy, "/api/items?pull-certificate", source=_source()).echo()["path"] == (
        "/api/items?pull-certificate"
    )


# ---------------------------------------------------------------- behind the load balancer
# The balancer opens every connection to nginx with a PROXY protocol line naming the address
# it was reached from. Everything reaches nginx from the one balancer; the client address the
# limits count is CF-Connecting-IP only when that named edge is Cloudflare's.

LB_STACKS = [stack for stack in STACKS if _collection_spec(stack).proxy_protocol]
CLOUDFLARE_EDGE = "173.245.48.17"  # in 173.245.48.0/20


@pytest.mark.parametrize("proxy", LB_STACKS, indirect=True)
def test_behind_the_balancer_the_client_is_cf_connecting_ip_from_a_cloudflare_edge_only(proxy: Proxy) -> None:
    client, stranger = _client_ip(), _stranger_edge()
    for edge, expected in ((CLOUDFLARE_EDGE, client), (stranger, stranger)):
        forged = {"CF-Connecting-IP": client, "X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.10"}
        seen = _https(proxy, "/api/items", forged, edge=edge).echo()
        assert (seen["headers"]["x-forwarded-for"], seen["headers"]["x-real-ip"]) == (expected, expected), edge
    # The TCP peer (the balancer, here loopback) is never the client nor an edge.
    assert seen["peer"] == LOOPBACK


@pytest.mark.parametrize("proxy", LB_STACKS, indirect=True)
def test_behind_the_balancer_the_rate_limit_counts_the_client_nothing_else_chooses(proxy: Proxy) -> None:
    rate, burst = proxy.spec.api_rate_per_s, proxy.spec.api_burst
    # From a Cloudflare edge: each CF-Connecting-IP has its own limit, though all share a peer.
    first, second = _client_ip(), _client_ip()
    statuses = _limited(proxy, "/api/items", rate, burst, None, {"CF-Connecting-IP": first}, CLOUDFLARE_EDGE)
    assert proxy.limit_status in statuses
    replies, _ = _burst(proxy, "/api/items", burst + 1, None, {"CF-Connecting-IP": second}, CLOUDFLARE_EDGE)
    assert [r.status for r in replies] == [200] * (burst + 1)
    # From anywhere else a fresh CF-Connecting-IP per request is still one client: the edge.
    forged = _limited(
        proxy, "/api/items", rate, burst, None, lambda i: {"CF-Connecting-IP": f"203.0.113.{i % 250 + 1}"},
        _stranger_edge(),
    )  # fmt: skip
    assert proxy.limit_status in forged


@pytest.mark.parametrize("proxy", LB_STACKS, indirect=True)
def test_behind_the_balancer_a_connection_without_the_header_gets_no_answer(proxy: Proxy) -> None:
    """Only the balancer writes the header: a host in the VPC that reaches nginx directly,
    speaking TLS or HTTP straight away, is hung up on and claims nothing."""
    before = len(proxy.upstream.seen)
    with socket.create_connection((LOOPBACK, proxy.https_port), 5) as raw, pytest.raises((ssl.SSLError, OSError)):
        _context(proxy.pki.client).wrap_socket(raw, server_hostname=proxy.hostname)
    with socket.create_connection((LOOPBACK, proxy.http_port), 5) as plain:
        plain.sendall(f"GET {proxy.spec.health_path} HTTP/1.1\r\nHost: {proxy.hostname}\r\n\r\n".encode())
        assert plain.recv(4096) == b""
    assert len(proxy.upstream.seen) == before


@pytest.mark.parametrize("proxy", LB_STACKS, indirect=True)
def test_behind_the_balancer_its_health_check_is_answered_with_the_header(proxy: Proxy) -> None:
    """DigitalOcean's checks carry the header too (a backend that refuses it fails them)."""
    seen = _http(proxy, proxy.spec.health_path, host="10.40.0.7", edge="10.40.0.9").echo()
    assert seen["path"] == proxy.spec.health_path and seen["headers"]["x-forwarded-for"] == "10.40.0.9"


# ------------------------------------------------------------------------ secure headers


def _with_app_headers(path: str, headers: dict[str, str]) -> str:
    """`path` asking the echo upstream to answer with `headers` of its own."""
    query = "&".join("header=" + urllib.parse.quote(f"{name}: {value}") for name, value in headers.items())
    return f"{path}{'&' if '?' in path else '?'}{query}"


def test_the_apps_own_secure_headers_win_and_each_is_sent_once(proxy: Proxy) -> None:
    """Browsers enforce every Content-Security-Policy they get: nginx must not add its own
    beside the app's. Each header nginx promises is added only where the app sent none."""
    promised = proxy.headers_promised()
    assert {"Permissions-Policy", "Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy"} <= set(promised)
    assert promised["X-Permitted-Cross-Domain-Policies"] == "none"
    own = {name: f"app's own {name.lower()}" for name in promised}
    own["Content-Security-Policy"] = "default-src 'none'; img-src https:"
    reply = _https(proxy, _with_app_headers("/", own), source=_source())
    assert reply.status == 200
    for name in promised:
        assert reply.headers.get_all(name) == [own[name]], name
    # The app's policy alone: nginx's other headers are still there, its policy is not.
    only = {"Content-Security-Policy": own["Content-Security-Policy"]}
    reply = _https(proxy, _with_app_headers("/api/items", only), source=_source())
    for name, value in promised.items():
        assert reply.headers.get_all(name) == [only.get(name, value)], name


def test_each_header_the_app_sends_alone_is_its_own_and_every_other_is_nginxs_once(proxy: Proxy) -> None:
    """Per header: an app that sets only one of them (a nonce CSP, its own frame policy) gets
    exactly its value for that one, and nginx's value once for each of the others."""
    promised = proxy.headers_promised()
    for name in promised:
        own = {name: "script-src 'nonce-r4nd0m' 'strict-dynamic'" if name == "Content-Security-Policy" else "own"}
        reply = _https(proxy, _with_app_headers("/", own), source=_source())
        assert reply.status == 200
        for other, value in promised.items():
            assert reply.headers.get_all(other) == [own.get(other, value)], (name, other)


def test_the_apps_x_powered_by_never_leaves_nginx(proxy: Proxy) -> None:
    reply = _https(proxy, _with_app_headers("/", {"X-Powered-By": "Express"}), source=_source())
    assert reply.status == 200 and reply.headers.get_all("X-Powered-By") is None


def test_static_answers_keep_the_apps_own_policy_and_hide_x_powered_by(options: Proxy) -> None:
    """The static location repeats the header set (its own add_header and proxy_hide_header
    drop the server's): the same rules hold there."""
    own = {"Content-Security-Policy": "default-src 'none'", "X-Powered-By": "PHP/8.3"}
    reply = _https(options, _with_app_headers("/static/app.css", own), source=_source())
    assert reply.headers.get_all("Content-Security-Policy") == ["default-src 'none'"]
    assert reply.headers.get_all("X-Powered-By") is None
    assert reply.headers.get_all("Cache-Control") == [f"public, max-age={OPTIONS['static_max_age_s']}, immutable"]
    assert reply.headers.get_all("X-Frame-Options") == ["DENY"]


@pytest.fixture(scope="module")
def strict(upstream, origin_cert, pki) -> Iterator[Proxy]:
    """staging's conf with proxy.contentSecurityPolicy "" (no policy of nginx's) and apiBurst 0."""
    spec = dataclasses.replace(_stack_spec("staging"), content_security_policy=None, api_burst=0)
    yield from _start("staging", spec, upstream, origin_cert, pki)


def test_with_the_policy_turned_off_only_the_apps_own_reaches_the_browser(strict: Proxy) -> None:
    reply = _https(strict, "/", source=_source())
    assert reply.headers.get_all("Content-Security-Policy") is None
    assert reply.headers.get_all("X-Frame-Options") == ["DENY"]
    reply = _https(strict, _with_app_headers("/", {"Content-Security-Policy": "default-src 'self'"}), source=_source())
    assert reply.headers.get_all("Content-Security-Policy") == ["default-src 'self'"]


def test_with_no_burst_only_the_rate_passes(strict: Proxy) -> None:
    """apiBurst 0 (nginx refuses `burst=0`: the directive goes without it)."""
    statuses = _limited(strict, "/api/items", strict.spec.api_rate_per_s, 0, _source())
    assert statuses[:2] == [200, strict.limit_status], statuses


# --------------------------------------------------------------------------- public media
# What users uploaded, served from the bucket: nothing in it may run script as this site.

MEDIA_HOST = "media.example.com"
MEDIA_ORIGIN = "example-com-staging-media.nyc3.digitaloceanspaces.com"


class _Bucket(BaseHTTPRequestHandler):
    """The media bucket: an object whose Content-Type is `?type=` and whose other metadata
    (what an uploader may set) is each `?header=Name: value`."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        body = b"<html><body><script>document.cookie</script></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", query.get("type", ["binary/octet-stream"])[0])
        for item in query.get("header", []):
            name, _, value = item.partition(":")
            self.send_header(name, value.strip())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def media(upstream, origin_cert, pki, tmp_path_factory) -> Iterator[Proxy]:
    """staging's conf with a public media hostname, the bucket a local TLS server that nginx
    verifies by the bucket's name, as it verifies Spaces."""
    directory = tmp_path_factory.mktemp("bucket")
    cert, key = directory / "bucket.pem", directory / "bucket.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", f"/CN={MEDIA_ORIGIN}", "-addext", f"subjectAltName=DNS:{MEDIA_ORIGIN}",
             "-keyout", str(key), "-out", str(cert))  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer((LOOPBACK, 0), _Bucket)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        spec = dataclasses.replace(_stack_spec("staging"), media_host=MEDIA_HOST, media_origin=MEDIA_ORIGIN)
        yield from _start("staging", spec, upstream, origin_cert, pki, (server.server_address[1], cert))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _media_get(proxy: Proxy, path: str, client: tuple[Path, Path] | str | None = "stack") -> Reply:
    conn = _Https(proxy, sni=MEDIA_HOST, source=_source(), client=client)
    try:
        return _send(conn, MEDIA_HOST, path)
    finally:
        conn.close()


def test_uploaded_html_is_sandboxed_and_downloaded_whatever_its_uploader_set(media: Proxy) -> None:
    own = {"Content-Disposition": "inline", "Content-Security-Policy": "script-src *"}
    for kind in ("text/html; charset=utf-8", "TEXT/HTML", "application/xhtml+xml"):
        reply = _media_get(media, _with_app_headers(f"/u/page.html?type={urllib.parse.quote(kind)}", own))
        assert reply.status == 200, reply.body[:200]
        assert reply.headers.get_all("Content-Security-Policy") == [MEDIA_CONTENT_SECURITY_POLICY], kind
        assert reply.headers.get_all("Content-Disposition") == ["attachment"], kind
        assert reply.headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert "sandbox" in MEDIA_CONTENT_SECURITY_POLICY and "default-src 'none'" in MEDIA_CONTENT_SECURITY_POLICY


def test_an_uploaded_svg_is_shown_but_sandboxed(media: Proxy) -> None:
    reply = _media_get(media, "/u/logo.svg?type=image/svg%2Bxml")
    assert reply.status == 200
    assert reply.headers.get_all("Content-Security-Policy") == [MEDIA_CONTENT_SECURITY_POLICY]
    assert reply.headers.get_all("Content-Disposition") is None
    assert reply.headers.get_all("X-Content-Type-Options") == ["nosniff"]


def test_an_uploaded_pdf_keeps_its_own_disposition_and_no_sandbox(media: Proxy) -> None:
    """A PDF viewer is script a sandbox may stop; a PDF's own script runs in the viewer, not the page."""
    own = {"Content-Disposition": 'inline; filename="invoice.pdf"'}
    reply = _media_get(media, _with_app_headers("/u/invoice.pdf?type=application/pdf", own))
    assert reply.status == 200
    assert reply.headers.get_all("Content-Security-Policy") is None
    assert reply.headers.get_all("Content-Disposition") == ['inline; filename="invoice.pdf"']


def test_media_without_the_client_certificate_gets_nothing(media: Proxy) -> None:
    assert _media_get(media, "/u/logo.svg?type=image/svg%2Bxml", client=None).status == 400
