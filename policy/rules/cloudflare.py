"""Cloudflare: where the stack owns the zone's settings, Full (strict) TLS, TLS >= 1.2,
Always Use HTTPS and a long HSTS; every web record proxied; rate limits that count clients."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .common import DNS_RECORD, RULESET, ZONE_SETTING, known, of_type, resource_policy, stack_policy

HSTS_MIN_AGE = 15552000  # 6 months, the shortest max-age Cloudflare's dashboard calls long enough
MIN_TLS = (1, 2)
RATE_LIMIT_KEYS = ("ip.src", "cf.colo.id")
PROXIABLE = ("A", "AAAA", "CNAME")
# The settings a stack that manages the zone must own, each checked by its own rule below.
TLS_SETTINGS = ("ssl", "min_tls_version", "always_use_https", "security_header")


def _setting(setting_id: str):
    """Decorator: run the check only on the ZoneSetting whose settingId is `setting_id`, with its value."""

    def wrap(check):
        def run(props: Mapping[str, Any], args) -> Iterator[str]:
            if props.get("settingId") == setting_id:
                yield from check(props.get("value"))

        return run

    return wrap


@_setting("ssl")
def _ssl_strict(value: Any) -> Iterator[str]:
    if value != "strict":
        yield f"zone SSL mode is {value!r}: Cloudflare must validate the origin certificate (strict)"


def _tls_version(value: Any) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(value).split("."))
    except ValueError:
        return (0,)


@_setting("min_tls_version")
def _min_tls(value: Any) -> Iterator[str]:
    if _tls_version(value) < MIN_TLS:
        yield f"zone minimum TLS version is {value!r}; 1.2 or higher"


@_setting("always_use_https")
def _always_https(value: Any) -> Iterator[str]:
    if value != "on":
        yield f"zone Always Use HTTPS is {value!r}: plain HTTP requests are served instead of redirected"


@_setting("security_header")
def _hsts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    hsts = (value or {}).get("strict_transport_security") or {}
    if hsts.get("enabled") is not True:
        yield "zone HSTS is not enabled"
    elif not isinstance(hsts.get("max_age"), int | float) or hsts.get("max_age") < HSTS_MIN_AGE:
        yield f"zone HSTS max_age is {hsts.get('max_age')}; at least {HSTS_MIN_AGE} (6 months)"


def _settings_complete(args) -> Iterator[tuple[str | None, str]]:
    zones: dict[Any, list] = {}
    for setting in of_type(args, ZONE_SETTING):
        zones.setdefault(known(setting.props, "zoneId"), []).append(setting)
    for settings in zones.values():
        missing = set(TLS_SETTINGS) - {known(s.props, "settingId") for s in settings}
        if missing:
            first = settings[0]
            yield first.urn, f"the stack manages zone settings but not {', '.join(sorted(missing))} of the same zone"


def _proxied(props: Mapping[str, Any], args) -> Iterator[str]:
    if props.get("type") in PROXIABLE and props.get("proxied") is not True:
        yield f"{props.get('type')} record {props.get('name')} is not proxied: it publishes the origin's address"


def _rate_limit_keys(props: Mapping[str, Any], args) -> Iterator[str]:
    if props.get("phase") != "http_ratelimit":
        return
    for rule in props.get("rules") or []:
        counted = [str(c) for c in (rule.get("ratelimit") or {}).get("characteristics") or []]
        missing = [key for key in RATE_LIMIT_KEYS if key not in counted]
        if missing:
            yield f"rate-limit rule {rule.get('description') or rule.get('expression')!r} does not count by {missing}"


ssl_strict = resource_policy(
    "cloudflare-ssl-strict",
    "Zone SSL/TLS encryption mode is Full (strict). Prowler zone_ssl_strict; Cloudflare docs: SSL/TLS encryption "
    "modes.",
    ZONE_SETTING,
    _ssl_strict,
)
min_tls = resource_policy(
    "cloudflare-min-tls-1-2",
    "Zone minimum TLS version is 1.2 or higher. Prowler zone_min_tls_version_secure; Cloudflare docs: Minimum TLS "
    "Version.",
    ZONE_SETTING,
    _min_tls,
)
always_https = resource_policy(
    "cloudflare-always-use-https",
    "Zone Always Use HTTPS is on. Prowler zone_https_redirect_enabled; Cloudflare docs: Always Use HTTPS.",
    ZONE_SETTING,
    _always_https,
)
hsts = resource_policy(
    "cloudflare-hsts",
    f"Zone HSTS is enabled with max_age >= {HSTS_MIN_AGE} s (6 months). Prowler zone_hsts_enabled; Cloudflare docs: "
    "HTTP Strict Transport Security.",
    ZONE_SETTING,
    _hsts,
)
settings_complete = stack_policy(
    "cloudflare-zone-tls-settings-owned",
    "A stack that manages a zone's settings manages all four TLS settings (ssl, min_tls_version, always_use_https, "
    "security_header), so none is silently left at its default. Cloudflare docs: SSL/TLS recommendations.",
    _settings_complete,
)
proxied = resource_policy(
    "cloudflare-dns-proxied",
    "Every A, AAAA and CNAME record is proxied, so the origin's address stays private. Prowler dns_record_proxied.",
    DNS_RECORD,
    _proxied,
)
rate_limit_keys = resource_policy(
    "cloudflare-ratelimit-by-client",
    "Every rule of an http_ratelimit ruleset counts requests by ip.src and cf.colo.id. Prowler "
    "zone_rate_limiting_enabled; Cloudflare docs: Rate limiting rules, request rate characteristics.",
    RULESET,
    _rate_limit_keys,
)

POLICIES = [ssl_strict, min_tls, always_https, hsts, settings_complete, proxied, rate_limit_keys]
