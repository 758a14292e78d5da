"""The nginx options the seed guides need: WebSocket paths, the read timeout and
a cached static prefix, from config key to rendered line, and checked by the real `nginx -t`.

What they do in a running nginx is proven in tests/behaviour/test_nginx.py (section "proxy
options"); here: the renderer's own rules, the text it writes, and that the config reaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, ProxyConfig, nginx_spec
from components.render import nginx as renderer
from components.render.nginx import ProxySpecError, render_nginx_conf
from testing import harness
from tests.unit.test_renderers import _nginx_t, _spec, _stripped_lines, nginx_t_with_throwaway_cert

OPTIONS: dict[str, Any] = {
    "websocket_paths": ("/ws", "/api/live/"),
    "read_timeout_s": 300,
    "static_path": "/static/",
    "static_max_age_s": 600,
}
SECURITY = tuple(
    f"add_header {name} $webstack_{name.lower().replace('-', '_')} always;"
    for name in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Content-Security-Policy",
        "Permissions-Policy",
        "Cross-Origin-Opener-Policy",
        "Cross-Origin-Resource-Policy",
        "X-Permitted-Cross-Domain-Policies",
    )
)


def _location(lines: list[str], match: str) -> list[str]:
    """The directives of `location <match>` (one level deep)."""
    start = lines.index(f"location {match} {{")
    return lines[start + 1 : lines.index("}", start)]


# ------------------------------------------------------------------------------ nginx -t


@pytest.mark.parametrize(
    "overrides",
    [
        OPTIONS,
        {"websocket_paths": ("/ws",)},
        {"static_path": "/api/assets/", "static_max_age_s": 31536000, "read_timeout_s": 3600},
        {"websocket_paths": ("/socket.io/", "/cable"), "read_timeout_s": 1},
    ],
    ids=["all", "websocket", "static-under-api", "two-sockets"],
)
def test_nginx_accepts_the_options(tmp_path: Path, origin_cert: tuple[Path, Path], overrides: dict) -> None:
    result = _nginx_t(tmp_path, render_nginx_conf(_spec(origin_cert, **overrides)))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[warn]" not in output, output


# --------------------------------------------------------------------------------- text


def test_without_the_options_none_of_their_lines_is_rendered() -> None:
    """An unchanged spec renders the file it rendered before the options existed."""
    spec = _spec()
    assert (spec.websocket_paths, spec.read_timeout_s, spec.static_path, spec.static_max_age_s) == ((), 60, None, 86400)
    text = render_nginx_conf(spec)
    lines = _stripped_lines(text)
    assert "proxy_read_timeout 60s;" in lines and "proxy_send_timeout 60s;" in lines
    for absent in ("$connection_upgrade", "Upgrade", "Cache-Control", "3600s"):
        assert absent not in text, absent
    assert sum(line.startswith("add_header ") for line in lines) == len(SECURITY)
    assert [line for line in lines if line.startswith("proxy_hide_header")] == ["proxy_hide_header X-Powered-By;"]


def test_read_timeout_sets_both_directives_once() -> None:
    for seconds in (1, 300, 3600):
        lines = _stripped_lines(render_nginx_conf(_spec(read_timeout_s=seconds)))
        assert [line for line in lines if line.startswith(("proxy_read_timeout", "proxy_send_timeout"))] == [
            f"proxy_read_timeout {seconds}s;",
            f"proxy_send_timeout {seconds}s;",
        ]


def test_websocket_locations() -> None:
    lines = _stripped_lines(render_nginx_conf(_spec(**OPTIONS)))
    assert lines.count("map $http_upgrade $connection_upgrade {") == 1
    start = lines.index("map $http_upgrade $connection_upgrade {")
    assert lines[start + 1 : start + 4] == ["default upgrade;", "'' close;", "}"]
    assert start < lines.index("server {"), "the map belongs to http, before the servers"
    forwarded = [
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $client_addr;",
        "proxy_set_header X-Forwarded-For $client_addr;",
        "proxy_set_header X-Forwarded-Proto https;",
    ]
    socket = [
        "proxy_http_version 1.1;",
        *forwarded,
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        f"proxy_read_timeout {renderer.WEBSOCKET_TIMEOUT_S}s;",
        f"proxy_send_timeout {renderer.WEBSOCKET_TIMEOUT_S}s;",
        "proxy_pass $upstream;",
    ]
    assert _location(lines, "/ws") == socket
    assert _location(lines, "/api/live/") == ["limit_req zone=api burst=20 nodelay;", *socket]
    assert renderer.WEBSOCKET_TIMEOUT_S >= 3600


def test_static_location_repeats_the_security_headers() -> None:
    lines = _stripped_lines(render_nginx_conf(_spec(**OPTIONS)))
    assert _location(lines, "/static/") == [
        *SECURITY,
        'add_header Cache-Control "public, max-age=600, immutable";',
        # One proxy_hide_header here drops the server's too: X-Powered-By is hidden again.
        "proxy_hide_header X-Powered-By;",
        "proxy_hide_header Cache-Control;",
        "proxy_pass $upstream;",
    ]
    # The server's own set, unchanged, and no Cache-Control outside the static location.
    assert all(lines.count(line) == 2 for line in SECURITY)
    assert sum("Cache-Control" in line for line in lines) == 2
    under_api = _stripped_lines(render_nginx_conf(_spec(static_path="/api/assets/")))
    assert _location(under_api, "/api/assets/")[0] == "limit_req zone=api burst=20 nodelay;"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"websocket_paths": ("ws",)}, "websocket_paths", "starting with '/'"),
        ({"websocket_paths": ("/ws;",)}, "websocket_paths", "braces"),
        ({"websocket_paths": ("/ws {",)}, "websocket_paths", "braces"),
        ({"websocket_paths": ("/",)}, "websocket_paths", "locations of their own"),
        ({"websocket_paths": ("/api/",)}, "websocket_paths", "locations of their own"),
        ({"websocket_paths": ("/.ws",)}, "websocket_paths", "dotfile"),
        ({"websocket_paths": ("/ws", "/ws")}, "websocket_paths", "unique"),
        ({"websocket_paths": ["/ws"]}, "websocket_paths", "tuple"),
        ({"websocket_paths": ("/health",)}, "websocket_paths", "health_path"),
        ({"websocket_paths": ("/login/ws",)}, "websocket_paths", "auth_paths entry '/login'"),
        ({"websocket_paths": ("/lo",)}, "websocket_paths", "auth_paths entry '/login'"),
        ({"static_path": "static/"}, "static_path", "starting with '/'"),
        ({"static_path": "/static"}, "static_path", "ending in '/'"),
        ({"static_path": "/api/"}, "static_path", "locations of their own"),
        ({"static_path": "/.well-known/"}, "static_path", "dotfile"),
        ({"static_path": "/assets/$x/"}, "static_path", "'$'"),
        ({"static_path": "/login/"}, "static_path", "auth_paths entry '/login'"),
        ({"static_path": "/ws/", "websocket_paths": ("/ws",)}, "static_path", "websocket_paths entry '/ws'"),
        ({"static_path": "/health/", "health_path": "/health/"}, "static_path", "health_path"),
        ({"read_timeout_s": 0}, "read_timeout_s", "1 to 3600"),
        ({"read_timeout_s": 3601}, "read_timeout_s", "1 to 3600"),
        ({"read_timeout_s": True}, "read_timeout_s", "integer"),
        ({"read_timeout_s": "60"}, "read_timeout_s", "integer"),
        ({"static_max_age_s": 0}, "static_max_age_s", "1 to 31536000"),
        ({"static_max_age_s": 31536001}, "static_max_age_s", "1 to 31536000"),
        ({"static_max_age_s": 1.5}, "static_max_age_s", "integer"),
    ],
)
def test_bad_option_names_the_field(overrides: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ProxySpecError) as info:
        render_nginx_conf(_spec(**overrides))
    assert info.value.field == field
    assert words in str(info.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"websocket_paths": ("/ws", "/wss")},  # siblings may share a start: both are sockets
        {"websocket_paths": ("/api/live/",), "static_path": "/api/static/"},
        {"static_path": "/log/"},  # not inside /login, nor /login inside it
        {"read_timeout_s": 1, "static_max_age_s": 1},
        {"read_timeout_s": 3600, "static_max_age_s": 31536000},
    ],
)
def test_good_options_pass(overrides: dict[str, Any]) -> None:
    renderer.validate(_spec(**overrides))


# --------------------------------------------------------------------------- from config


def test_config_defaults_are_the_renderers() -> None:
    cfg, spec = ProxyConfig(), _spec()
    assert cfg.websocket_paths == spec.websocket_paths == ()
    assert cfg.read_timeout_seconds == spec.read_timeout_s == 60
    assert cfg.static_path is spec.static_path is None
    assert cfg.static_max_age_seconds == spec.static_max_age_s == 86400


def test_config_keys_reach_the_deployed_conf() -> None:
    run = harness.run(
        "staging",
        {
            "proxy.websocketPaths": ["/ws"],
            "proxy.readTimeoutSeconds": 300,
            "proxy.staticPath": "/static/",
            "proxy.staticMaxAgeSeconds": 3600,
        },
    )
    proxies = [r for r in run.of_type("docker:index/container:Container") if r.inputs.get("name") == "proxy"]
    assert proxies
    for proxy in proxies:
        (conf,) = [u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf"]
        lines = _stripped_lines(conf)
        assert "proxy_read_timeout 300s;" in lines
        assert "proxy_set_header Upgrade $http_upgrade;" in _location(lines, "/ws")
        assert 'add_header Cache-Control "public, max-age=3600, immutable";' in _location(lines, "/static/")


# ------------------------------------------------------------------ nginx's limits, at the edge
# Every value that reaches nginx is bounded the way nginx reads it: the largest value config
# accepts passes the real `nginx -t` in the conf the stack deploys, and the next one is refused
# by config, naming the key (never by nginx on a droplet).

_CSP_HEAD = "default-src 'self'; report-uri https://r.example.com/"


def _csp(size: int) -> str:
    return _CSP_HEAD + "x" * (size - len(_CSP_HEAD))


EDGES = [
    ("proxy.contentSecurityPolicy", _csp(renderer.MAX_PARAMETER_BYTES), _csp(renderer.MAX_PARAMETER_BYTES + 1)),
    ("proxy.clientMaxBodySize", "8589934591g", "8589934592g"),
    ("proxy.clientMaxBodySize", "8796093022207m", "8796093022208m"),
    ("proxy.clientMaxBodySize", "9007199254740991k", "9007199254740992k"),
    ("proxy.clientMaxBodySize", "9223372036854775807", "9223372036854775808"),
    ("proxy.apiRatePerSecond", renderer.MAX_RATE, renderer.MAX_RATE + 1),
    ("proxy.authRatePerSecond", renderer.MAX_RATE, renderer.MAX_RATE + 1),
    ("proxy.apiBurst", renderer.MAX_BURST, renderer.MAX_BURST + 1),
    ("proxy.authBurst", renderer.MAX_BURST, renderer.MAX_BURST + 1),
    ("proxy.apiBurst", 0, -1),
    ("edge.hstsMaxAge", 31536000, 31536001),
    ("app.authPaths", ["/" + "a" * (renderer.MAX_PARAMETER_BYTES - 1)], ["/" + "a" * renderer.MAX_PARAMETER_BYTES]),
]


def _deployed(stack: str, key: str, value: Any) -> str:
    """The nginx.conf `stack` would deploy with config `key` = `value` (as __main__.py renders it)."""
    cfg = harness.parsed_config(stack, {key: value})
    return render_nginx_conf(nginx_spec(cfg, proxy_protocol=cfg.app.replicas >= 2))


@pytest.mark.parametrize(("key", "largest", "refused"), EDGES, ids=[f"{k}-{str(v)[:12]}" for k, v, _ in EDGES])
def test_the_largest_value_config_takes_passes_nginx_t_and_the_next_is_refused_naming_the_key(
    tmp_path: Path, key: str, largest: Any, refused: Any
) -> None:
    result = nginx_t_with_throwaway_cert(tmp_path, _deployed("prod", key, largest))
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    with pytest.raises(ConfigError) as info:
        harness.parsed_config("prod", {key: refused})
    assert f"webstack:{key} = " in str(info.value)


@pytest.mark.parametrize(
    ("key", "largest", "beyond", "nginx_says"),
    [
        ("proxy.contentSecurityPolicy", _csp(renderer.MAX_PARAMETER_BYTES), _csp(renderer.MAX_PARAMETER_BYTES + 1),
         "too long parameter"),
        ("proxy.clientMaxBodySize", "8589934591g", "8589934592g", "invalid value"),
        ("proxy.clientMaxBodySize", "9223372036854775807", "9223372036854775808", "invalid value"),
    ],
    ids=["csp", "size-g", "size-bytes"],
)  # fmt: skip
def test_one_past_the_largest_nginx_itself_refuses(tmp_path: Path, key: str, largest: str, beyond: str, nginx_says):
    """The bounds are nginx's own: the deployed conf with just that value one past it (put in
    by hand, config refuses it) fails `nginx -t` with nginx's reason."""
    text = _deployed("staging", key, largest)
    assert text.count(largest) == 1
    result = nginx_t_with_throwaway_cert(tmp_path, text.replace(largest, beyond))
    assert result.returncode != 0 and nginx_says in result.stderr, result.stderr[-500:]


def test_the_rate_bound_keeps_nginxs_arithmetic_in_range() -> None:
    """nginx takes rates and bursts up to 2**63 - 1 but keeps them times 1000 and refills a
    client by rate x milliseconds since its last request, in 64 bits: MAX_RATE keeps that
    product in range for a client silent 100 days (`nginx -t` passes well above it)."""
    hundred_days_ms = 100 * 86400 * 1000
    assert renderer.MAX_RATE * 1000 * hundred_days_ms < 2**63
    assert renderer.MAX_BURST * 1000 < 2**63
