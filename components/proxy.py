"""The nginx.conf of the proxy container, rendered from a :class:`ProxySpec`.

The file is mounted as /etc/nginx/nginx.conf in the official ``nginx:1.27-alpine`` image and
is validated in tests by the real ``nginx -t``. Cloudflare reaches it over Full (strict) TLS
with the origin certificate; it restores the client IP from ``CF-Connecting-IP`` so that its
rate limits count real clients, not Cloudflare's edges (DESIGN.md, principle 7).
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
_SIZE_RE = re.compile(r"[0-9]+[kKmMgG]?")
# Locations the renderer writes itself: another location with the same prefix is a duplicate.
_OWN_PREFIXES = ("/", "/api/")
# How long a WebSocket tunnel may stay silent (no frame either way) before nginx closes it.
WEBSOCKET_TIMEOUT_S = 3600
# The largest read timeout: an hour. Cloudflare itself gives up after 100 s (error 524).
MAX_READ_TIMEOUT_S = 3600
# The largest static max-age: a year, what RFC 9111 caches are told to treat as "never expires".
MAX_STATIC_MAX_AGE_S = 31536000


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
    """CIDRs trusted to set CF-Connecting-IP: Cloudflare's v4/v6 ranges (plus the load
    balancer's address when there is one); no default."""
    auth_paths: tuple[str, ...] = ("/login", "/api/auth/")
    """Prefixes under the strict "auth" rate limit: each a plain prefix location, covering every
    path that starts with it, as the edge rule does; default ("/login", "/api/auth/")."""
    client_max_body_size: str = "10m"
    """Largest request body accepted; default "10m"."""
    content_security_policy: str = "default-src 'self'"
    """Content-Security-Policy header value; default "default-src 'self'"."""
    api_rate_per_s: int = 10
    """Sustained requests per second per client under /api/; default 10."""
    api_burst: int = 20
    """Burst above api_rate_per_s served without delay; default 20."""
    auth_rate_per_s: int = 5
    """Sustained requests per second per client on auth_paths; default 5."""
    auth_burst: int = 5
    """Burst above auth_rate_per_s served without delay; default 5."""
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
        super().__init__(f"ProxySpec.{field}: {value!r} is invalid; {allowed}")
        self.field, self.value, self.allowed = field, value, allowed


def _fail(field: str, value: object, allowed: str) -> ProxySpecError:
    return ProxySpecError(field, value, allowed)


def validate(spec: ProxySpec) -> None:
    """Raise ProxySpecError for the first field nginx would refuse."""
    if bool(spec.media_host) != bool(spec.media_origin):
        raise _fail("media_origin", spec.media_origin, "set together with media_host")
    if spec.media_host and spec.media_host in spec.server_names:
        raise _fail("media_host", spec.media_host, "not one of server_names")
    if not spec.server_names:
        raise _fail("server_names", spec.server_names, "at least one FQDN is required")
    for name in spec.server_names:
        if not isinstance(name, str) or not _HOSTNAME_RE.fullmatch(name):
            raise _fail("server_names", name, "each must be a lower-case DNS name")
    if not _UPSTREAM_RE.fullmatch(spec.upstream):
        raise _fail("upstream", spec.upstream, "must be host:port, e.g. 'myapp-web:8000'")
    if not _PATH_RE.fullmatch(spec.health_path) or spec.health_path == "/":
        raise _fail("health_path", spec.health_path, "must start with '/' and not be '/' alone")
    if not spec.real_ip_ranges:
        raise _fail("real_ip_ranges", spec.real_ip_ranges, "at least one CIDR is required")
    for cidr in spec.real_ip_ranges:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            raise _fail("real_ip_ranges", cidr, "each must be an IPv4/IPv6 network") from None
    for path in spec.auth_paths:
        if not isinstance(path, str) or not _PATH_RE.fullmatch(path) or path in ("/", "/api/"):
            raise _fail("auth_paths", path, "each must start with '/' and not be '/' or '/api/'")
    if len(set(spec.auth_paths)) != len(spec.auth_paths):
        raise _fail("auth_paths", spec.auth_paths, "duplicates would be duplicate locations")
    if spec.health_path in spec.auth_paths:
        raise _fail("auth_paths", spec.health_path, "must not include health_path")
    if not _SIZE_RE.fullmatch(spec.client_max_body_size):
        raise _fail("client_max_body_size", spec.client_max_body_size, "e.g. '10m' or '512k'")
    csp = spec.content_security_policy
    # "$" would be expanded as an nginx variable and cannot be escaped inside a string.
    if not csp.strip() or "$" in csp or any(ord(c) < 0x20 or ord(c) == 0x7F for c in csp):
        raise _fail("content_security_policy", csp, "must be non-empty, one line, without '$'")
    for field in ("api_rate_per_s", "api_burst", "auth_rate_per_s", "auth_burst", "hsts_max_age"):
        value = getattr(spec, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail(field, value, "must be a positive integer")
    for field in ("cert_path", "key_path"):
        value = getattr(spec, field)
        if not _FILE_RE.fullmatch(value):
            raise _fail(field, value, "must be an absolute path without spaces or quotes")
    try:
        ipaddress.ip_address(spec.resolver)
    except ValueError:
        raise _fail("resolver", spec.resolver, "must be an IP address") from None
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
    """The WebSocket, timeout and static-file fields."""
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
    for field, top in (("read_timeout_s", MAX_READ_TIMEOUT_S), ("static_max_age_s", MAX_STATIC_MAX_AGE_S)):
        value = getattr(spec, field)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise _fail(field, value, f"an integer from 1 to {top}")


def _quote(value: str) -> str:
    """Quote a one-line value as an nginx string, so ';', '{' and spaces stay inside it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _proxy_headers(proto: str, host: str = "$host") -> list[str]:
    return [
        f"proxy_set_header Host {host};",
        "proxy_set_header X-Real-IP $remote_addr;",
        # $remote_addr is already the real client (real_ip above). Passing only it, rather
        # than appending to the incoming header, stops a client from forging earlier hops.
        "proxy_set_header X-Forwarded-For $remote_addr;",
        f"proxy_set_header X-Forwarded-Proto {proto};",
    ]


def _block(head: str, lines: list[str], indent: int) -> list[str]:
    pad = "    " * indent
    return [f"{pad}{head} {{", *(f"{pad}    {line}" for line in lines), f"{pad}}}"]


def _location(match: str, lines: list[str]) -> list[str]:
    return _block(f"location {match}", lines, 2)


def _security_headers(spec: ProxySpec) -> list[str]:
    # The same max-age as the zone setting (config edge.hstsMaxAge): one source of truth.
    return [
        f'add_header Strict-Transport-Security "max-age={spec.hsts_max_age}; includeSubDomains" always;',
        'add_header X-Content-Type-Options "nosniff" always;',
        'add_header X-Frame-Options "DENY" always;',
        'add_header Referrer-Policy "strict-origin-when-cross-origin" always;',
        f"add_header Content-Security-Policy {_quote(spec.content_security_policy)} always;",
    ]


def _api_limit(spec: ProxySpec, path: str) -> list[str]:
    """The /api/ limit for a location of its own under /api/, which /api/'s would not reach."""
    return [f"limit_req zone=api burst={spec.api_burst} nodelay;"] if path.startswith("/api/") else []


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
    # Any add_header here drops every inherited one: the security headers are repeated. The
    # caching header has no "always": an error under this prefix must not be cached a day.
    return _location(
        path,
        [
            *_api_limit(spec, path),
            *_security_headers(spec),
            f'add_header Cache-Control "public, max-age={spec.static_max_age_s}, immutable";',
            "proxy_hide_header Cache-Control;",
            "proxy_pass $upstream;",
        ],
    )


def _http80(spec: ProxySpec) -> list[str]:
    # Port 80 stays open for the load balancer's plain-HTTP health check; everything else
    # moves to HTTPS. No proxy headers at server level: the health location sets its own (a
    # location with any proxy_set_header inherits none) and the other one only redirects.
    body = [
        "listen 80 default_server;",
        "listen [::]:80 default_server;",
        "server_name _;",
        "",
        f"set $upstream http://{spec.upstream};",
        "",
    ]
    lines = _block("server", body, 1)
    # The load balancer asks by address over plain HTTP; the app is asked as Cloudflare would
    # ask it (the first served hostname, X-Forwarded-Proto https), so host checks
    # (ALLOWED_HOSTS) and HTTPS redirects answer the health check as they answer users.
    health_headers = _proxy_headers("https", _quote(spec.server_names[0]))
    lines[-1:-1] = [
        *_location(f"= {spec.health_path}", ["access_log off;", *health_headers, "proxy_pass $upstream;"]),
        "",
        *_location("/", ["return 301 https://$host$request_uri;"]),
    ]
    return lines


def _reject_unknown() -> list[str]:
    # A TLS client naming a host we do not serve gets no certificate at all, so scanners
    # cannot learn our names from it.
    return _block(
        "server",
        [
            "listen 443 ssl default_server;",
            "listen [::]:443 ssl default_server;",
            "ssl_reject_handshake on;",
        ],
        1,
    )


def _https(spec: ProxySpec) -> list[str]:
    body = [
        # "listen ... http2" rather than "http2 on": the latter needs nginx >= 1.25.1, and
        # Debian 12's nginx 1.22, which validates this file in CI, rejects it. nginx 1.27
        # still accepts the listen parameter, with a deprecation warning.
        "listen 443 ssl http2;",
        "listen [::]:443 ssl http2;",
        f"server_name {' '.join(spec.server_names)};",
        "",
        f"ssl_certificate {spec.cert_path};",
        f"ssl_certificate_key {spec.key_path};",
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
        locations += _location(
            path,
            [f"limit_req zone=auth burst={spec.auth_burst} nodelay;", "proxy_pass $upstream;"],
        )
        locations.append("")
    for path in spec.websocket_paths:
        locations += [*_websocket(spec, path), ""]
    if spec.static_path is not None:
        locations += [*_static(spec, spec.static_path), ""]
    locations += [
        *_location(
            "/api/",
            [f"limit_req zone=api burst={spec.api_burst} nodelay;", "proxy_pass $upstream;"],
        ),
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


def _media(spec: ProxySpec) -> list[str]:
    """The public media hostname: read-only, from the bucket, with the client's credentials
    and the bucket's own headers kept out of both directions."""
    origin = spec.media_origin
    body = [
        "listen 443 ssl http2;",
        "listen [::]:443 ssl http2;",
        f"server_name {spec.media_host};",
        "",
        f"ssl_certificate {spec.cert_path};",
        f"ssl_certificate_key {spec.key_path};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "",
        f'add_header Strict-Transport-Security "max-age={spec.hsts_max_age}; includeSubDomains" always;',
        'add_header X-Content-Type-Options "nosniff" always;',
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
        "proxy_hide_header Set-Cookie;",
        "proxy_hide_header x-amz-request-id;",
        "proxy_hide_header x-amz-meta-server-side-encryption;",
        "proxy_pass $media;",
    ]
    lines = _block("server", body, 1)
    lines[-1:-1] = _location("/", location)
    return lines


def render_nginx_conf(spec: ProxySpec) -> str:
    """Render the complete nginx.conf for ``spec``; raises ValueError naming a bad field.

    Same spec gives byte-identical output, so an unchanged stack never sees a diff.
    """
    validate(spec)
    real_ip = [f"set_real_ip_from {cidr};" for cidr in spec.real_ip_ranges]
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
        "real_ip_header CF-Connecting-IP;",
        "real_ip_recursive on;",
        *real_ip,
        "",
        "log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '",
        '                \'$status $body_bytes_sent "$http_referer" "$http_user_agent" \'',
        "                'rt=$request_time urt=$upstream_response_time cf_ray=$http_cf_ray';",
        # The official image links this file to the container's stdout.
        "access_log /var/log/nginx/access.log main;",
        "",
        # Keyed on the client address restored by real_ip, not on Cloudflare's edges.
        f"limit_req_zone $binary_remote_addr zone=api:10m rate={spec.api_rate_per_s}r/s;",
        f"limit_req_zone $binary_remote_addr zone=auth:10m rate={spec.auth_rate_per_s}r/s;",
        "limit_req_status 429;",
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
    lines = [
        "# Rendered by webstack (components/proxy.py); edit the renderer, not this file.",
        "worker_processes auto;",
        "",
        *_block("events", ["worker_connections 1024;"], 0),
        "",
        *_block("http", http, 0),
    ]
    lines[-1:-1] = [*_http80(spec), "", *_reject_unknown(), "", *_https(spec)]
    if spec.media_host:
        lines[-1:-1] = ["", *_media(spec)]
    # Blank lines inside blocks would carry the indentation as trailing whitespace.
    return "\n".join(line.rstrip() for line in lines) + "\n"
