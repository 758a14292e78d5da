"""The nginx settings of a stack config (components/render/nginx.py renders them), and what nginx
would refuse (components/config/proxyspec.py), named by config key."""

from __future__ import annotations

from components.config import cloudflare_ips, proxyspec
from components.config.base import problem
from components.config.stack import StackConfig

# The renderer's fields, named as the user writes them.
_PROXY_KEYS = {
    "server_names": "app.hostnames",
    "upstream": "app.port",
    "health_path": "app.healthPath",
    "auth_paths": "app.authPaths",
    "client_max_body_size": "proxy.clientMaxBodySize",
    "content_security_policy": "proxy.contentSecurityPolicy",
    "api_rate_per_s": "proxy.apiRatePerSecond",
    "api_burst": "proxy.apiBurst",
    "auth_rate_per_s": "proxy.authRatePerSecond",
    "auth_burst": "proxy.authBurst",
    "hsts_max_age": "edge.hstsMaxAge",
    "websocket_paths": "proxy.websocketPaths",
    "read_timeout_s": "proxy.readTimeoutSeconds",
    "static_path": "proxy.staticPath",
    "static_max_age_s": "proxy.staticMaxAgeSeconds",
    "media_host": "media.publicHostname",
}


def proxy_problems(cfg: StackConfig) -> list[str]:
    """What nginx would refuse, checked by the renderer's own rules, named by config key."""
    try:
        proxyspec.validate(nginx_spec(cfg))
    except proxyspec.ProxySpecError as err:
        return [problem(_PROXY_KEYS.get(err.field, err.field), err.value, err.allowed)]
    return []


def nginx_spec(cfg: StackConfig, proxy_protocol: bool = False) -> proxyspec.ProxySpec:
    """The nginx settings of this config. Behind a load balancer (`proxy_protocol`) every
    connection comes from the balancer and names the edge it serves in a PROXY protocol
    header; CF-Connecting-IP is believed from Cloudflare's edges only, either way."""
    app, proxy = cfg.app, cfg.proxy
    return proxyspec.ProxySpec(
        server_names=app.hostnames,
        upstream=f"web:{app.port}",
        health_path=app.health_path,
        real_ip_ranges=cloudflare_ips.ALL,
        proxy_protocol=proxy_protocol,
        auth_paths=app.auth_paths,
        client_max_body_size=proxy.client_max_body_size,
        # Empty: the app's own policy, or none.
        content_security_policy=proxy.content_security_policy or None,
        api_rate_per_s=proxy.api_rate_per_s,
        api_burst=proxy.api_burst,
        auth_rate_per_s=proxy.auth_rate_per_s,
        auth_burst=proxy.auth_burst,
        hsts_max_age=cfg.edge.hsts_max_age,
        websocket_paths=proxy.websocket_paths,
        read_timeout_s=proxy.read_timeout_seconds,
        static_path=proxy.static_path,
        static_max_age_s=proxy.static_max_age_seconds,
        media_host=cfg.media.public_hostname if cfg.media.enabled else None,
        media_origin=cfg.media_origin_host if cfg.media.enabled and cfg.media.public_hostname else None,
    )
