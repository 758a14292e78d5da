"""The nginx.conf of the proxy container, rendered from a :class:`ProxySpec`.

The file is mounted as /etc/nginx/nginx.conf in the official ``nginx:1.27-alpine`` image and
is validated in tests by the real ``nginx -t``. Cloudflare reaches it over Full (strict) TLS
with the origin certificate and proves it is this zone's Cloudflare with a client certificate
only this stack issues (Authenticated Origin Pulls); nginx takes the client address from
``CF-Connecting-IP`` only when the address the request came from (the TCP peer, or behind the
load balancer the PROXY protocol source) is one of Cloudflare's, so that its rate limits count
real clients, not Cloudflare's edges.
"""

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
# Secure headers (OWASP Secure Headers Project) nginx adds to the app's answers that carry none
# of their own. Powerful browser features off unless the app asks for them; `payment` and
# `fullscreen` stay allowed (checkout and video embeds). Pages this site opens keep their opener
# (OAuth and payment popups), while a page opening this site cannot script it. Only this site
# (any of its subdomains) may embed its resources.
PERMISSIONS_POLICY = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), usb=()"
CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"
CROSS_ORIGIN_RESOURCE_POLICY = "same-site"
# Public media are whatever users uploaded: nothing in them may run as this site. A sandboxed
# document has an opaque origin and runs no script; PDFs are left out, as a browser's PDF
# viewer is itself script or a plugin a sandbox may stop, and a PDF's own script runs inside
# that viewer, not in the page. HTML is also sent as a download.
MEDIA_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


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
    """Bytes of `value` inside the quotes nginx reads it in (_quote escapes '"' and '\\')."""
    return len(_quote(value).encode()) - 2


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


def _quote(value: str) -> str:
    """Quote a one-line value as an nginx string, so ';', '{' and spaces stay inside it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _proxy_headers(proto: str, host: str = "$host", client: str = "$client_addr") -> list[str]:
    return [
        f"proxy_set_header Host {host};",
        f"proxy_set_header X-Real-IP {client};",
        # Only the client address nginx settled on, rather than appending to the incoming
        # header: a client cannot forge earlier hops.
        f"proxy_set_header X-Forwarded-For {client};",
        f"proxy_set_header X-Forwarded-Proto {proto};",
    ]


def _block(head: str, lines: list[str], indent: int) -> list[str]:
    pad = "    " * indent
    return [f"{pad}{head} {{", *(f"{pad}    {line}" for line in lines), f"{pad}}}"]


def _location(match: str, lines: list[str]) -> list[str]:
    return _block(f"location {match}", lines, 2)


def _security_header_values(spec: ProxySpec) -> list[tuple[str, str]]:
    """(header, value) of every header nginx adds to the app's answers that lack it."""
    headers = [
        # The same max-age as the zone setting (config edge.hstsMaxAge): one source of truth.
        ("Strict-Transport-Security", f"max-age={spec.hsts_max_age}; includeSubDomains"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Content-Security-Policy", spec.content_security_policy),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", CROSS_ORIGIN_OPENER_POLICY),
        ("Cross-Origin-Resource-Policy", CROSS_ORIGIN_RESOURCE_POLICY),
        ("X-Permitted-Cross-Domain-Policies", "none"),
    ]
    return [(name, value) for name, value in headers if value is not None]


def _header_variable(name: str) -> str:
    return "$webstack_" + name.lower().replace("-", "_")


def _security_header_maps(spec: ProxySpec) -> list[str]:
    """One map per header: the value when the upstream sent no such header, else empty text,
    which add_header skips. So the app's own header wins, and an answer never carries two
    (browsers enforce every Content-Security-Policy they get, so two would be the stricter
    union). Errors nginx makes itself (413, 429, 504) have no upstream header: they get ours."""
    lines: list[str] = []
    for name, value in _security_header_values(spec):
        upstream = "$upstream_http_" + name.lower().replace("-", "_")
        lines += _block(f"map {upstream} {_header_variable(name)}", [f'"" {_quote(value)};', 'default "";'], 0)
    return lines


def _security_headers(spec: ProxySpec) -> list[str]:
    return [f"add_header {name} {_header_variable(name)} always;" for name, _ in _security_header_values(spec)]


# The upstream's headers nginx never passes on (the Server header nginx replaces itself); a
# location with a proxy_hide_header of its own inherits none of them and repeats these.
_HIDDEN = ("X-Powered-By",)


def _hidden_headers(*extra: str) -> list[str]:
    return [f"proxy_hide_header {name};" for name in (*_HIDDEN, *extra)]


def _limit(zone: str, burst: int) -> str:
    # burst=0 is refused by nginx ("invalid burst value"); without it the burst is 0.
    return f"limit_req zone={zone}{f' burst={burst}' if burst else ''} nodelay;"


def _api_limit(spec: ProxySpec, path: str) -> list[str]:
    """The /api/ limit for a location of its own under /api/, which /api/'s would not reach."""
    return [_limit("api", spec.api_burst)] if path.startswith("/api/") else []


def _websocket(spec: ProxySpec, path: str) -> list[str]:
    # Any proxy_set_header here drops every inherited one: the server's four are repeated.
    return _location(
        path,
        [
            *_api_limit(spec, path),
            "proxy_http_version 1.1;",
            *_proxy_headers("https"),
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $connection_upgrade;",
            f"proxy_read_timeout {WEBSOCKET_TIMEOUT_S}s;",
            f"proxy_send_timeout {WEBSOCKET_TIMEOUT_S}s;",
            "proxy_pass $upstream;",
        ],
    )


def _static(spec: ProxySpec, path: str) -> list[str]:
    # Any add_header here drops every inherited one, and any proxy_hide_header every inherited
    # one: both sets are repeated. The caching header has no "always": an error under this
    # prefix must not be cached a day.
    return _location(
        path,
        [
            *_api_limit(spec, path),
            *_security_headers(spec),
            f'add_header Cache-Control "public, max-age={spec.static_max_age_s}, immutable";',
            *_hidden_headers("Cache-Control"),
            "proxy_pass $upstream;",
        ],
    )


def _listen(spec: ProxySpec, address: str, params: str) -> str:
    # Behind the load balancer every connection, health checks included, starts with a PROXY
    # protocol header (DigitalOcean: a backend that does not accept it fails the checks).
    return f"listen {address} {params}{' proxy_protocol' if spec.proxy_protocol else ''};"


def _client_certificate(spec: ProxySpec) -> list[str]:
    # Only this zone's Cloudflare holds a certificate signed by the stack's own CA: anything
    # else in Cloudflare's ranges (another zone, a Worker) gets 400 and reaches no location.
    if spec.client_ca_path is None:
        return []
    return [
        f"ssl_client_certificate {spec.client_ca_path};",
        "ssl_verify_client on;",
        # The client certificate is signed by that CA directly.
        "ssl_verify_depth 1;",
    ]


def _http80(spec: ProxySpec) -> list[str]:
    # Port 80 stays open for the load balancer's plain-HTTP health check; everything else
    # moves to HTTPS. No proxy headers at server level: the health location sets its own (a
    # location with any proxy_set_header inherits none) and the other one only redirects.
    body = [
        _listen(spec, "80", "default_server"),
        _listen(spec, "[::]:80", "default_server"),
        "server_name _;",
        "",
        f"set $upstream http://{spec.upstream};",
        "",
    ]
    lines = _block("server", body, 1)
    # The load balancer asks by address over plain HTTP; the app is asked as Cloudflare would
    # ask it (the first served hostname, X-Forwarded-Proto https), so host checks
    # (ALLOWED_HOSTS) and HTTPS redirects answer the health check as they answer users. Plain
    # HTTP proves nothing about who sent it: the client is the edge address, never the header.
    health_headers = _proxy_headers("https", _quote(spec.server_names[0]), "$edge_addr")
    lines[-1:-1] = [
        *_location(f"= {spec.health_path}", ["access_log off;", *health_headers, "proxy_pass $upstream;"]),
        "",
        *_location("/", ["return 301 https://$host$request_uri;"]),
    ]
    return lines


def _reject_unknown(spec: ProxySpec) -> list[str]:
    # A TLS client naming a host we do not serve gets no certificate at all, so scanners
    # cannot learn our names from it.
    return _block(
        "server",
        [
            _listen(spec, "443", "ssl default_server"),
            _listen(spec, "[::]:443", "ssl default_server"),
            "ssl_reject_handshake on;",
        ],
        1,
    )


def _https(spec: ProxySpec) -> list[str]:
    body = [
        # "listen ... http2" rather than "http2 on": the latter needs nginx >= 1.25.1, and
        # Debian 12's nginx 1.22, which validates this file in CI, rejects it. nginx 1.27
        # still accepts the listen parameter, with a deprecation warning.
        _listen(spec, "443", "ssl http2"),
        _listen(spec, "[::]:443", "ssl http2"),
        f"server_name {' '.join(spec.server_names)};",
        "",
        f"ssl_certificate {spec.cert_path};",
        f"ssl_certificate_key {spec.key_path};",
        *_client_certificate(spec),
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_cache shared:SSL:10m;",
        "ssl_session_timeout 1d;",
        "ssl_session_tickets off;",
        "",
        # Set here and, in full, in the one location with an add_header of its own (_static):
        # one add_header in a location drops every inherited one.
        *_security_headers(spec),
        "",
        f"client_max_body_size {spec.client_max_body_size};",
        "",
        f"set $upstream http://{spec.upstream};",
        *_proxy_headers("https"),
        "",
    ]
    locations: list[str] = [
        *_location(f"= {spec.health_path}", ["access_log off;", "proxy_pass $upstream;"]),
        "",
    ]
    for path in spec.auth_paths:
        locations += _location(path, [_limit("auth", spec.auth_burst), "proxy_pass $upstream;"])
        locations.append("")
    for path in spec.websocket_paths:
        locations += [*_websocket(spec, path), ""]
    if spec.static_path is not None:
        locations += [*_static(spec, spec.static_path), ""]
    locations += [
        *_location("/api/", [_limit("api", spec.api_burst), "proxy_pass $upstream;"]),
        "",
        *_location("/", ["proxy_pass $upstream;"]),
        "",
        # ^~ keeps the dotfile rule below from catching ACME and security.txt requests.
        *_location("^~ /.well-known/", ["proxy_pass $upstream;"]),
        "",
        *_location(r"~ /\.", ["deny all;"]),
        "",
        *_location(r"~* \.(env|log|conf)$", ["deny all;"]),
    ]
    lines = _block("server", body, 1)
    lines[-1:-1] = locations
    return lines


def _media_maps() -> list[str]:
    return [
        # The bucket answers with the Content-Type the uploader chose.
        *_block(
            "map $upstream_http_content_type $webstack_media_csp",
            [f"default {_quote(MEDIA_CONTENT_SECURITY_POLICY)};", r'"~*^\s*application/pdf\b" "";'],
            0,
        ),
        *_block(
            "map $upstream_http_content_type $webstack_media_disposition",
            [
                "default $upstream_http_content_disposition;",
                r'"~*^\s*(text/html|application/xhtml\+xml)\b" attachment;',
            ],
            0,
        ),
    ]


def _media(spec: ProxySpec) -> list[str]:
    """The public media hostname: read-only, from the bucket, with the client's credentials
    and the bucket's own headers kept out of both directions, and nothing uploaded able to
    run script as this site."""
    origin = spec.media_origin
    body = [
        _listen(spec, "443", "ssl http2"),
        _listen(spec, "[::]:443", "ssl http2"),
        f"server_name {spec.media_host};",
        "",
        f"ssl_certificate {spec.cert_path};",
        f"ssl_certificate_key {spec.key_path};",
        *_client_certificate(spec),
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "",
        f'add_header Strict-Transport-Security "max-age={spec.hsts_max_age}; includeSubDomains" always;',
        'add_header X-Content-Type-Options "nosniff" always;',
        "add_header Content-Security-Policy $webstack_media_csp always;",
        "add_header Content-Disposition $webstack_media_disposition always;",
        "",
        f"set $media https://{origin};",
    ]
    location = [
        "limit_except GET HEAD { deny all; }",
        f"proxy_set_header Host {origin};",
        'proxy_set_header Authorization "";',
        'proxy_set_header Cookie "";',
        "proxy_ssl_server_name on;",
        f"proxy_ssl_name {origin};",
        "proxy_ssl_verify on;",
        f"proxy_ssl_trusted_certificate {spec.ca_bundle};",
        *_hidden_headers(
            "Set-Cookie",
            "x-amz-request-id",
            "x-amz-meta-server-side-encryption",
            # Ours replace them: the sandbox always, the download for HTML.
            "Content-Security-Policy",
            "Content-Disposition",
        ),
        "proxy_pass $media;",
    ]
    lines = _block("server", body, 1)
    lines[-1:-1] = _location("/", location)
    return lines


def _client_address(spec: ProxySpec) -> list[str]:
    """$edge_addr: who connected (the PROXY protocol source when there is one, else the TCP
    peer). $client_addr: CF-Connecting-IP when the edge address is one of real_ip_ranges and
    the header holds an address, else the edge address. nginx's realip module cannot do this
    behind the load balancer: it trusts by the TCP peer, which is the load balancer there."""
    trusted = [f"{cidr} 1;" for cidr in spec.real_ip_ranges]
    return [
        *_block("map $proxy_protocol_addr $edge_addr", ['"" $remote_addr;', "default $proxy_protocol_addr;"], 0),
        *_block("geo $edge_addr $edge_is_trusted", ["default 0;", *trusted], 0),
        *_block(
            'map "$edge_is_trusted:$http_cf_connecting_ip" $client_addr',
            ["default $edge_addr;", '"~^1:(?<cf_client>[0-9A-Fa-f.:]{2,45})$" $cf_client;'],
            0,
        ),
    ]


def render_nginx_conf(spec: ProxySpec) -> str:
    """Render the complete nginx.conf for ``spec``; raises ValueError naming a bad field.

    Same spec gives byte-identical output, so an unchanged stack never sees a diff.
    """
    validate(spec)
    http = [
        # The image's mime.types, by absolute path: a relative include would be resolved
        # against wherever the file is mounted or tested.
        "include /etc/nginx/mime.types;",
        "default_type application/octet-stream;",
        "",
        "server_tokens off;",
        "sendfile on;",
        "keepalive_timeout 65;",
        "",
        *_client_address(spec),
        "",
        "log_format main '$client_addr - $remote_user [$time_local] \"$request\" '",
        '                \'$status $body_bytes_sent "$http_referer" "$http_user_agent" \'',
        "                'rt=$request_time urt=$upstream_response_time edge=$edge_addr cf_ray=$http_cf_ray';",
        # The official image links this file to the container's stdout.
        "access_log /var/log/nginx/access.log main;",
        "",
        # Keyed on the client address settled above, not on Cloudflare's edges.
        f"limit_req_zone $client_addr zone=api:10m rate={spec.api_rate_per_s}r/s;",
        f"limit_req_zone $client_addr zone=auth:10m rate={spec.auth_rate_per_s}r/s;",
        "limit_req_status 429;",
        "",
        *_security_header_maps(spec),
        *_hidden_headers(),
        "",
        "gzip on;",
        "gzip_vary on;",
        "gzip_min_length 1024;",
        (
            "gzip_types text/plain text/css application/json application/javascript text/xml"
            " application/xml application/xml+rss text/javascript;"
        ),
        "",
        # proxy_pass through a variable makes nginx resolve the name per request (cached
        # for valid=): a replaced web container gets a new address, and nginx -t and
        # start-up do not fail while the web container does not exist yet.
        f"resolver {spec.resolver} valid=10s ipv6=off;",
        "resolver_timeout 5s;",
        "proxy_http_version 1.1;",
        "proxy_connect_timeout 10s;",
        f"proxy_read_timeout {spec.read_timeout_s}s;",
        f"proxy_send_timeout {spec.read_timeout_s}s;",
        "",
    ]
    if spec.websocket_paths:
        # Connection: upgrade when the client asks to upgrade, close otherwise (as without it).
        http += [*_block("map $http_upgrade $connection_upgrade", ["default upgrade;", "'' close;"], 0), ""]
    if spec.media_host:
        http += [*_media_maps(), ""]
    lines = [
        "# Rendered by webstack (components/render/nginx.py); edit the renderer, not this file.",
        "worker_processes auto;",
        "",
        *_block("events", ["worker_connections 1024;"], 0),
        "",
        *_block("http", http, 0),
    ]
    lines[-1:-1] = [*_http80(spec), "", *_reject_unknown(spec), "", *_https(spec)]
    if spec.media_host:
        lines[-1:-1] = ["", *_media(spec)]
    # Blank lines inside blocks would carry the indentation as trailing whitespace.
    return "\n".join(line.rstrip() for line in lines) + "\n"
