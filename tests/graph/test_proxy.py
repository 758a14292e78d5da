"""nginx promises: the rate limits are the config's, not the renderer's defaults."""

from __future__ import annotations

import pytest

from components.render.nginx import ProxySpecError, render_nginx_conf, validate
from tests.conftest import recorded_with
from tests.unit.test_renderers import _spec

LIMITS = {"proxy.apiRatePerSecond": 12, "proxy.apiBurst": 30, "proxy.authRatePerSecond": 3, "proxy.authBurst": 7}


def _conf_lines(run) -> list[str]:
    confs = {
        u["content"]
        for c in run.of_type("docker:index/container:Container")
        if c.inputs["name"] == "proxy"
        for u in c.inputs["uploads"]
        if u["file"] == "/etc/nginx/nginx.conf"
    }
    assert len(confs) == 1, "one nginx.conf, the same on every droplet"
    return [line.strip() for line in confs.pop().splitlines()]


def test_api_and_auth_rates_and_bursts_come_from_config():
    run = recorded_with("staging", LIMITS)
    lines = _conf_lines(run)
    assert "limit_req_zone $client_addr zone=api:10m rate=12r/s;" in lines
    assert "limit_req_zone $client_addr zone=auth:10m rate=3r/s;" in lines
    limits = [line for line in lines if line.startswith("limit_req zone=")]
    auth = len(run.cfg.app.auth_paths)
    assert limits == ["limit_req zone=auth burst=7 nodelay;"] * auth + ["limit_req zone=api burst=30 nodelay;"]


# --------------------------------------------------------------------------- the renderer's own guard

_MEDIA = "shop-prod-media.nyc3.digitaloceanspaces.com"
_NOT_A_PATH = "a path starting with '/' without spaces, quotes, ';', braces or '$'"
_OWN_LOCATION = "other than '/' and '/api/' (locations of their own)"
_DOTFILE = "free of '/.' (the dotfile rule denies such paths)"


@pytest.mark.parametrize(
    ("overrides", "field", "value", "allowed"),
    [
        ({"media_host": "media.example.com"}, "media_origin", None, "set together with media_host"),
        ({"media_origin": _MEDIA}, "media_origin", _MEDIA, "set together with media_host"),
        (
            {"media_host": "example.com", "media_origin": _MEDIA},
            "media_host",
            "example.com",
            "other than the app's hostnames (server_names)",
        ),
        ({"server_names": ()}, "server_names", (), "at least one FQDN"),
        ({"server_names": ("Example.com",)}, "server_names", "Example.com", "lower-case DNS names"),
        ({"server_names": (7,)}, "server_names", 7, "lower-case DNS names"),
        ({"upstream": "web"}, "upstream", "web", "host:port, e.g. 'myapp-web:8000'"),
        ({"health_path": "/"}, "health_path", "/", "a path starting with '/', not '/' alone"),
        ({"health_path": "health"}, "health_path", "health", "a path starting with '/', not '/' alone"),
        ({"real_ip_ranges": ()}, "real_ip_ranges", (), "at least one CIDR"),
        ({"real_ip_ranges": ("10.0.0.1/8",)}, "real_ip_ranges", "10.0.0.1/8", "IPv4/IPv6 networks"),
        ({"real_ip_ranges": (None,)}, "real_ip_ranges", None, "IPv4/IPv6 networks"),
        ({"auth_paths": ("/api/",)}, "auth_paths", "/api/", "paths starting with '/', other than '/' and '/api/'"),
        ({"auth_paths": ("/",)}, "auth_paths", "/", "paths starting with '/', other than '/' and '/api/'"),
        ({"auth_paths": ("login",)}, "auth_paths", "login", "paths starting with '/', other than '/' and '/api/'"),
        ({"auth_paths": (5,)}, "auth_paths", 5, "paths starting with '/', other than '/' and '/api/'"),
        (
            {"auth_paths": ("/login", "/login")},
            "auth_paths",
            ("/login", "/login"),
            "free of duplicates (they would be duplicate locations)",
        ),
        ({"auth_paths": ("/health",)}, "auth_paths", "/health", "without health_path"),
        ({"client_max_body_size": "10 MB"}, "client_max_body_size", "10 MB", "a size such as '10m' or '512k'"),
        ({"content_security_policy": " "}, "content_security_policy", " ", "non-empty, one line, without '$'"),
        (
            {"content_security_policy": "a $b"},
            "content_security_policy",
            "a $b",
            "non-empty, one line, without '$'",
        ),
        (
            {"content_security_policy": "a\nb"},
            "content_security_policy",
            "a\nb",
            "non-empty, one line, without '$'",
        ),
        (
            {"content_security_policy": "a\x7fb"},
            "content_security_policy",
            "a\x7fb",
            "non-empty, one line, without '$'",
        ),
        ({"api_rate_per_s": 0}, "api_rate_per_s", 0, "an integer from 1 to 1000000"),
        ({"api_rate_per_s": 1000001}, "api_rate_per_s", 1000001, "an integer from 1 to 1000000"),
        ({"api_burst": True}, "api_burst", True, "an integer from 0 to 1000000"),
        ({"api_burst": 1000001}, "api_burst", 1000001, "an integer from 0 to 1000000"),
        ({"auth_rate_per_s": "5"}, "auth_rate_per_s", "5", "an integer from 1 to 1000000"),
        ({"auth_burst": -1}, "auth_burst", -1, "an integer from 0 to 1000000"),
        ({"hsts_max_age": -1}, "hsts_max_age", -1, "a positive integer"),
        (
            {"client_max_body_size": "8589934592g"},
            "client_max_body_size",
            "8589934592g",
            "at most 8589934591g (nginx reads the size as a 64-bit file offset)",
        ),
        ({"proxy_protocol": "yes"}, "proxy_protocol", "yes", "true or false"),
        ({"client_ca_path": "ca.pem"}, "client_ca_path", "ca.pem", "an absolute path without spaces or quotes"),
        (
            {"cert_path": "certs/origin.pem"},
            "cert_path",
            "certs/origin.pem",
            "an absolute path without spaces or quotes",
        ),
        ({"key_path": "/etc/a b.key"}, "key_path", "/etc/a b.key", "an absolute path without spaces or quotes"),
        ({"resolver": "dns"}, "resolver", "dns", "an IP address"),
        ({"websocket_paths": ["/ws"]}, "websocket_paths", ["/ws"], "a tuple of path prefixes"),
        ({"websocket_paths": ("ws",)}, "websocket_paths", "ws", _NOT_A_PATH),
        ({"websocket_paths": ("/api/",)}, "websocket_paths", "/api/", _OWN_LOCATION),
        ({"websocket_paths": ("/.ws",)}, "websocket_paths", "/.ws", _DOTFILE),
        ({"static_path": "/static"}, "static_path", "/static", "a directory ending in '/', such as '/static/'"),
        ({"static_path": "/"}, "static_path", "/", _OWN_LOCATION),
        ({"static_path": "/.assets/"}, "static_path", "/.assets/", _DOTFILE),
        ({"websocket_paths": ("/health",)}, "websocket_paths", "/health", "other than health_path"),
        ({"health_path": "/up/", "static_path": "/up/"}, "static_path", "/up/", "other than health_path"),
        (
            {"websocket_paths": ("/ws",), "static_path": "/ws/"},
            "static_path",
            "/ws/",
            "apart from websocket_paths entry '/ws' (one inside the other)",
        ),
        ({"read_timeout_s": 0}, "read_timeout_s", 0, "an integer from 1 to 3600"),
        ({"static_max_age_s": True}, "static_max_age_s", True, "an integer from 1 to 31536000"),
        (
            {"websocket_paths": ("/ws", "/ws")},
            "websocket_paths",
            ("/ws", "/ws"),
            "unique (a duplicate is a duplicate location)",
        ),
    ],
)
def test_a_spec_nginx_would_refuse_is_refused_naming_field_value_and_rule(overrides, field, value, allowed):
    """The renderer never writes a file nginx refuses or misreads: each bad field raises, naming
    itself, the value and the rule (config validation maps `field` back to the user's key)."""
    with pytest.raises(ProxySpecError) as info:
        render_nginx_conf(_spec(**overrides))
    error = info.value
    assert (error.field, error.value, error.allowed) == (field, value, allowed)
    assert str(error) == f"ProxySpec.{field}: {value!r} is invalid; must be {allowed}"


def test_the_smallest_and_largest_good_values_pass():
    validate(_spec(api_rate_per_s=1, api_burst=0, auth_rate_per_s=1, auth_burst=0, hsts_max_age=1))
    validate(_spec(api_rate_per_s=1000000, api_burst=1000000, auth_rate_per_s=1000000, auth_burst=1000000))
    validate(_spec(client_max_body_size="8589934591g", client_ca_path=None, content_security_policy=None))
    validate(_spec(media_host="media.example.com", media_origin=_MEDIA, real_ip_ranges=("2400:cb00::/32",)))


def test_the_media_server_serves_only_reads_from_the_bucket_and_keeps_credentials_out():
    """The whole public media server, line by line (it is what the internet reaches of the
    bucket): TLS with the origin certificate, Cloudflare's origin-pull certificate required,
    HSTS, nosniff, a sandboxing policy and HTML as a download, one `location /` that takes GET
    and HEAD only, strips the client's credentials, asks the bucket over verified TLS by its
    own name, and hides the bucket's cookies, request ids and its own policy and disposition
    (the uploader chooses those)."""
    spec = _spec(media_host="media.example.com", media_origin=_MEDIA)
    lines = [line.strip() for line in render_nginx_conf(spec).splitlines()]
    start = lines.index("server_name media.example.com;") - 3
    end = lines.index("}", lines.index("proxy_pass $media;")) + 2
    assert lines[start:end] == [
        "server {",
        "listen 443 ssl http2;",
        "listen [::]:443 ssl http2;",
        "server_name media.example.com;",
        "",
        f"ssl_certificate {spec.cert_path};",
        f"ssl_certificate_key {spec.key_path};",
        f"ssl_client_certificate {spec.client_ca_path};",
        "ssl_verify_client on;",
        "ssl_verify_depth 1;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "",
        'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;',
        'add_header X-Content-Type-Options "nosniff" always;',
        "add_header Content-Security-Policy $webstack_media_csp always;",
        "add_header Content-Disposition $webstack_media_disposition always;",
        "",
        f"set $media https://{_MEDIA};",
        "location / {",
        "limit_except GET HEAD { deny all; }",
        f"proxy_set_header Host {_MEDIA};",
        'proxy_set_header Authorization "";',
        'proxy_set_header Cookie "";',
        "proxy_ssl_server_name on;",
        f"proxy_ssl_name {_MEDIA};",
        "proxy_ssl_verify on;",
        "proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;",
        "proxy_hide_header X-Powered-By;",
        "proxy_hide_header Set-Cookie;",
        "proxy_hide_header x-amz-request-id;",
        "proxy_hide_header x-amz-meta-server-side-encryption;",
        "proxy_hide_header Content-Security-Policy;",
        "proxy_hide_header Content-Disposition;",
        "proxy_pass $media;",
        "}",
        "}",
    ]
