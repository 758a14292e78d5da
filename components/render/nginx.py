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

from components.config.proxyspec import (
    CLIENT_CA_PATH,
    MAX_BURST,
    MAX_PARAMETER_BYTES,
    MAX_RATE,
    WEBSOCKET_TIMEOUT_S,
    ProxySpec,
    ProxySpecError,
    nginx_quote,
    validate,
)

# The spec, its error and nginx's limits are config's (components/config/proxyspec.py); the
# renderer's callers name them here too.
__all__ = [
    "CLIENT_CA_PATH",
    "MAX_BURST",
    "MAX_PARAMETER_BYTES",
    "MAX_RATE",
    "WEBSOCKET_TIMEOUT_S",
    "ProxySpec",
    "ProxySpecError",
    "render_nginx_conf",
    "validate",
]

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
        lines += _block(f"map {upstream} {_header_variable(name)}", [f'"" {nginx_quote(value)};', 'default "";'], 0)
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
    health_headers = _proxy_headers("https", nginx_quote(spec.server_names[0]), "$edge_addr")
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
            [f"default {nginx_quote(MEDIA_CONTENT_SECURITY_POLICY)};", r'"~*^\s*application/pdf\b" "";'],
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
