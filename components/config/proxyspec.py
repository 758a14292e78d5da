"""The proxy's settings as nginx reads them (ProxySpec), and what nginx would refuse in them:
plain data and rules, checked by config (components/config/nginx.py names each problem by its
config key) and by the renderer (components/render/nginx.py) before it writes nginx.conf."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}\Z)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)
_UPSTREAM_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?:[0-9]{1,5}")
# Characters that would end a directive, open a block or start a variable if let through.
_PATH_RE = re.compile(r"/[A-Za-z0-9._~!*+,=@%/-]*")
_FILE_RE = re.compile(r"/[A-Za-z0-9._/-]+")
_SIZE_RE = re.compile(r"([0-9]+)([kKmMgG]?)")
# Locations the renderer writes itself: another location with the same prefix is a duplicate.
_OWN_PREFIXES = ("/", "/api/")
# How long a WebSocket tunnel may stay silent (no frame either way) before nginx closes it.
WEBSOCKET_TIMEOUT_S = 3600
# The largest read timeout: an hour. Cloudflare itself gives up after 100 s (error 524).
MAX_READ_TIMEOUT_S = 3600
# The largest static max-age: a year, what RFC 9111 caches are told to treat as "never expires".
MAX_STATIC_MAX_AGE_S = 31536000
# nginx reads its configuration through a 4 KiB buffer (NGX_CONF_BUFFER, src/core/ngx_conf_file.c):
# a parameter, with its closing quote or the character after it, must fit in it while the next
# one is read. So `nginx -t` refuses ("too long parameter") more than 4094 bytes between quotes
# or in a bare path followed by " {", wherever it sits in the file (measured on 1.22).
MAX_PARAMETER_BYTES = 4094
# client_max_body_size is read by ngx_parse_offset (src/core/ngx_parse.c), which refuses a
# number above the largest off_t divided by its unit.
_MAX_OFF_T = 2**63 - 1
_SIZE_SCALE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# limit_req keeps a rate and a burst in thousandths (rate * 1000, burst * 1000) and refills a
# client by rate * (milliseconds since its last request) / 1000, all in 64-bit integers
# (src/http/modules/ngx_http_limit_req_module.c: ngx_http_limit_req_zone, _limit_req and
# _lookup): at a million per second that product still fits for a client silent 100 days.
# `nginx -t` itself takes up to 2**63 - 1 and overflows silently above 2**63 / 1000.
MAX_RATE = 1_000_000
MAX_BURST = 1_000_000


# Where the proxy container finds the CA that signs the stack's origin-pull client certificate.
CLIENT_CA_PATH = "/etc/nginx/certs/origin-pull-ca.pem"


@dataclass(frozen=True, kw_only=True)
class ProxySpec:
    """What the proxy serves and how hard it limits; every field is checked when rendering."""

    server_names: tuple[str, ...]
    """FQDNs served over HTTPS; no default."""
    upstream: str
    """host:port of the web container on the docker network, e.g. "myapp-web:8000"; no default."""
    health_path: str
    """Path proxied on both 80 and 443 without access logging, e.g. "/health"; no default."""
    real_ip_ranges: tuple[str, ...]
    """CIDRs whose CF-Connecting-IP is believed: the request's edge address (the TCP peer, or
    the PROXY protocol source) must be in one; Cloudflare's v4/v6 ranges; no default."""
    proxy_protocol: bool = False
    """Every listener expects a PROXY protocol header (v1 or v2) and takes the edge address from
    it: behind a load balancer that sends one; default False."""
    client_ca_path: str | None = CLIENT_CA_PATH
    """CA certificate (PEM) the HTTPS servers verify the client certificate against
    (ssl_verify_client on: no certificate, no answer); default CLIENT_CA_PATH. None: none is
    asked for."""
    auth_paths: tuple[str, ...] = ("/login", "/api/auth/")
    """Prefixes under the strict "auth" rate limit: each a plain prefix location, covering every
    path that starts with it, as the edge rule does; default ("/login", "/api/auth/")."""
    client_max_body_size: str = "10m"
    """Largest request body accepted; default "10m"."""
    content_security_policy: str | None = "default-src 'self'"
    """Content-Security-Policy sent when the app sends none; default "default-src 'self'".
    None: nginx sends none (the app's own, if any, is the only one)."""
    api_rate_per_s: int = 10
    """Sustained requests per second per client under /api/, 1 to MAX_RATE; default 10."""
    api_burst: int = 20
    """Burst above api_rate_per_s served without delay, 0 to MAX_BURST; default 20."""
    auth_rate_per_s: int = 5
    """Sustained requests per second per client on auth_paths, 1 to MAX_RATE; default 5."""
    auth_burst: int = 5
    """Burst above auth_rate_per_s served without delay, 0 to MAX_BURST; default 5."""
    cert_path: str = "/etc/nginx/certs/origin.pem"
    """Origin certificate (PEM) inside the container; default "/etc/nginx/certs/origin.pem"."""
    key_path: str = "/etc/nginx/certs/origin.key"
    """Origin private key inside the container; default "/etc/nginx/certs/origin.key"."""
    hsts_max_age: int = 31536000
    """Strict-Transport-Security max-age in seconds; default one year (config edge.hstsMaxAge)."""
    resolver: str = "127.0.0.11"
    """DNS server that resolves the upstream; default "127.0.0.11", Docker's embedded DNS."""
    websocket_paths: tuple[str, ...] = ()
    """Prefixes whose requests may upgrade to a WebSocket (e.g. "/ws"): each a prefix location
    passing Upgrade/Connection to the upstream, silent for up to WEBSOCKET_TIMEOUT_S; default
    none, and then no location passes an upgrade."""
    read_timeout_s: int = 60
    """proxy_read_timeout and proxy_send_timeout everywhere but the WebSocket paths, 1 to
    MAX_READ_TIMEOUT_S; default 60 (config proxy.readTimeoutSeconds)."""
    static_path: str | None = None
    """Prefix ending in "/" (e.g. "/static/") whose successful responses are cached:
    Cache-Control "public, max-age=static_max_age_s, immutable" replaces the upstream's;
    default None, no such location."""
    static_max_age_s: int = 86400
    """max-age of static_path's responses, 1 to MAX_STATIC_MAX_AGE_S; default one day."""
    media_host: str | None = None
    """FQDN whose GET/HEAD requests are answered from the media bucket; default None (no such
    server)."""
    media_origin: str | None = None
    """The bucket's virtual-host endpoint (<bucket>.<region>.digitaloceanspaces.com), asked over
    verified TLS; required with media_host."""
    ca_bundle: str = "/etc/ssl/certs/ca-certificates.crt"
    """CA bundle that verifies the media origin's certificate (the nginx image's)."""


class ProxySpecError(ValueError):
    """A spec field nginx would not accept; config validation maps `field` to its key."""

    def __init__(self, field: str, value: object, allowed: str):
        super().__init__(f"ProxySpec.{field}: {value!r} is invalid; must be {allowed}")
        self.field, self.value, self.allowed = field, value, allowed


def _fail(field: str, value: object, allowed: str) -> ProxySpecError:
    return ProxySpecError(field, value, allowed)


def _quoted_size(value: str) -> int:
    """Bytes of `value` inside the quotes nginx reads it in (nginx_quote escapes '"' and '\\')."""
    return len(nginx_quote(value).encode()) - 2


def body_size_problem(value: object) -> str | None:
    """Why nginx's `client_max_body_size` would refuse `value`, or None."""
    found = _SIZE_RE.fullmatch(value) if isinstance(value, str) else None
    if not found:
        return "a size such as '10m' or '512k'"
    number, unit = found.groups()
    top = _MAX_OFF_T // _SIZE_SCALE[unit.lower()]
    if int(number) > top:
        return f"at most {top}{unit} (nginx reads the size as a 64-bit file offset)"
    return None


def validate(spec: ProxySpec) -> None:
    """Raise ProxySpecError for the first field nginx would refuse."""
    if bool(spec.media_host) != bool(spec.media_origin):
        raise _fail("media_origin", spec.media_origin, "set together with media_host")
    if spec.media_host and spec.media_host in spec.server_names:
        raise _fail("media_host", spec.media_host, "other than the app's hostnames (server_names)")
    if not spec.server_names:
        raise _fail("server_names", spec.server_names, "at least one FQDN")
    for name in spec.server_names:
        if not isinstance(name, str) or not _HOSTNAME_RE.fullmatch(name):
            raise _fail("server_names", name, "lower-case DNS names")
    if not _UPSTREAM_RE.fullmatch(spec.upstream):
        raise _fail("upstream", spec.upstream, "host:port, e.g. 'myapp-web:8000'")
    if not _PATH_RE.fullmatch(spec.health_path) or spec.health_path == "/":
        raise _fail("health_path", spec.health_path, "a path starting with '/', not '/' alone")
    if not spec.real_ip_ranges:
        raise _fail("real_ip_ranges", spec.real_ip_ranges, "at least one CIDR")
    for cidr in spec.real_ip_ranges:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            raise _fail("real_ip_ranges", cidr, "IPv4/IPv6 networks") from None
    if not isinstance(spec.proxy_protocol, bool):
        raise _fail("proxy_protocol", spec.proxy_protocol, "true or false")
    for path in spec.auth_paths:
        if not isinstance(path, str) or not _PATH_RE.fullmatch(path) or path in ("/", "/api/"):
            raise _fail("auth_paths", path, "paths starting with '/', other than '/' and '/api/'")
    if len(set(spec.auth_paths)) != len(spec.auth_paths):
        raise _fail("auth_paths", spec.auth_paths, "free of duplicates (they would be duplicate locations)")
    if spec.health_path in spec.auth_paths:
        raise _fail("auth_paths", spec.health_path, "without health_path")
    why = body_size_problem(spec.client_max_body_size)
    if why:
        raise _fail("client_max_body_size", spec.client_max_body_size, why)
    csp = spec.content_security_policy
    if csp is not None:
        # "$" would be expanded as an nginx variable and cannot be escaped inside a string.
        if (
            not isinstance(csp, str)
            or not csp.strip()
            or "$" in csp
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in csp)
        ):
            raise _fail("content_security_policy", csp, "non-empty, one line, without '$'")
        if _quoted_size(csp) > MAX_PARAMETER_BYTES:
            raise _fail(
                "content_security_policy",
                csp,
                f"at most {MAX_PARAMETER_BYTES} bytes, a quote or backslash counting two (nginx's longest parameter)",
            )
    for field, low, top in (
        ("api_rate_per_s", 1, MAX_RATE),
        ("api_burst", 0, MAX_BURST),
        ("auth_rate_per_s", 1, MAX_RATE),
        ("auth_burst", 0, MAX_BURST),
    ):
        value = getattr(spec, field)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
            raise _fail(field, value, f"an integer from {low} to {top}")
    if isinstance(spec.hsts_max_age, bool) or not isinstance(spec.hsts_max_age, int) or spec.hsts_max_age < 1:
        raise _fail("hsts_max_age", spec.hsts_max_age, "a positive integer")
    for field in ("cert_path", "key_path", "client_ca_path"):
        value = getattr(spec, field)
        if value is None and field == "client_ca_path":
            continue
        if not isinstance(value, str) or not _FILE_RE.fullmatch(value) or len(value) > MAX_PARAMETER_BYTES:
            raise _fail(field, value, "an absolute path without spaces or quotes")
    try:
        ipaddress.ip_address(spec.resolver)
    except ValueError:
        raise _fail("resolver", spec.resolver, "an IP address") from None
    _validate_options(spec)


def _prefix_problem(path: object) -> str | None:
    """Why `path` cannot be a prefix location of its own, or None."""
    if not isinstance(path, str) or not _PATH_RE.fullmatch(path):
        return "a path starting with '/' without spaces, quotes, ';', braces or '$'"
    if path in _OWN_PREFIXES:
        return "other than '/' and '/api/' (locations of their own)"
    if "/." in path:
        return "free of '/.' (the dotfile rule denies such paths)"
    return None


def _validate_options(spec: ProxySpec) -> None:
    """The WebSocket, timeout and static-file fields, and the length of every path."""
    if not isinstance(spec.websocket_paths, tuple):
        raise _fail("websocket_paths", spec.websocket_paths, "a tuple of path prefixes")
    for path in spec.websocket_paths:
        why = _prefix_problem(path)
        if why:
            raise _fail("websocket_paths", path, why)
    if len(set(spec.websocket_paths)) != len(spec.websocket_paths):
        raise _fail("websocket_paths", spec.websocket_paths, "unique (a duplicate is a duplicate location)")
    if spec.static_path is not None:
        why = _prefix_problem(spec.static_path)
        if why is None and not spec.static_path.endswith("/"):
            why = "a directory ending in '/', such as '/static/'"
        if why:
            raise _fail("static_path", spec.static_path, why)
    # A prefix inside another one's would take part of its paths away: the auth limit, the
    # upgrade or the caching would silently stop applying there.
    groups = [
        ("auth_paths", spec.auth_paths),
        ("websocket_paths", spec.websocket_paths),
        ("static_path", (spec.static_path,) if spec.static_path is not None else ()),
    ]
    for index, (field, paths) in enumerate(groups):
        for path in paths:
            if path == spec.health_path:
                raise _fail(field, path, "other than health_path")
            for other_field, others in groups[:index]:
                for other in others:
                    if path.startswith(other) or other.startswith(path):
                        raise _fail(field, path, f"apart from {other_field} entry {other!r} (one inside the other)")
    # Each path is a bare parameter of a `location` line (health_path one of `location =`).
    for field, paths in [("health_path", (spec.health_path,)), *groups]:
        for path in paths:
            if len(path) > MAX_PARAMETER_BYTES:
                raise _fail(field, path, f"at most {MAX_PARAMETER_BYTES} characters (nginx's longest parameter)")
    for field, top in (("read_timeout_s", MAX_READ_TIMEOUT_S), ("static_max_age_s", MAX_STATIC_MAX_AGE_S)):
        value = getattr(spec, field)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise _fail(field, value, f"an integer from 1 to {top}")


def nginx_quote(value: str) -> str:
    """Quote a one-line value as an nginx string, so ';', '{' and spaces stay inside it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
