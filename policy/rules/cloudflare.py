"""Cloudflare: where the stack owns the zone's settings, Full (strict) TLS, TLS >= 1.2,
Always Use HTTPS and a long HSTS; every web record proxied; rate limits that count clients;
Authenticated Origin Pulls with the stack's own certificate on every hostname it serves, and
the zone-wide origin-pull setting left to the zone's owner."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .common import (
    DNS_RECORD,
    DROPLET,
    LOAD_BALANCER,
    ORIGIN_PULLS,
    ORIGIN_PULLS_HOSTNAME_CERT,
    ORIGIN_PULLS_SETTINGS,
    ORIGIN_PULLS_ZONE_CERT,
    RESERVED_IP,
    RULESET,
    ZONE_SETTING,
    items,
    known,
    of_type,
    resource_policy,
    stack_policy,
)

HSTS_MIN_AGE = 15552000  # 6 months, the shortest max-age Cloudflare's dashboard calls long enough
MIN_TLS = (1, 2)
RATE_LIMIT_KEYS = ("ip.src", "cf.colo.id")
PROXIABLE = ("A", "AAAA", "CNAME")
# The settings a stack that manages the zone must own, each checked by its own rule below.
TLS_SETTINGS = ("ssl", "min_tls_version", "always_use_https", "security_header")
# What a DNS record served by this stack points at, and the output holding that address.
FRONT_DOORS = {LOAD_BALANCER: ("ip",), RESERVED_IP: ("ipAddress",), DROPLET: ("ipv4Address", "ipv6Address")}
# Zone-wide origin pulls: the setting, the zone-level certificate, and the zone setting of old.
ZONE_PULLS = (ORIGIN_PULLS_SETTINGS, ORIGIN_PULLS_ZONE_CERT)
ZONE_PULLS_SETTING = "tls_client_auth"


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


def _host(value: Any) -> str:
    return str(value).strip().rstrip(".").lower()


def _same_zone(a, b) -> bool:
    """Unknown zone ids (a zone looked up in preview) match any."""
    za, zb = known(a.props, "zoneId"), known(b.props, "zoneId")
    return za is None or zb is None or za == zb


def served_records(args) -> list:
    """Proxied web records whose address is one of this stack's front doors (a load balancer,
    a reserved IP or a droplet): through the property dependency of `content`, or by value."""
    doors = [r for r in args.resources if r.resource_type in FRONT_DOORS]
    addresses = {known(d.props, key) for d in doors for key in FRONT_DOORS[d.resource_type]} - {None}
    door_urns = {d.urn for d in doors}
    out = []
    for record in of_type(args, DNS_RECORD):
        if known(record.props, "proxied") is not True or known(record.props, "type") not in PROXIABLE:
            continue
        deps = {dep.urn for dep in record.property_dependencies.get("content", [])}
        if deps & door_urns or known(record.props, "content") in addresses:
            out.append(record)
    return out


def _pulls_per_hostname(args) -> Iterator[tuple[str | None, str]]:
    certs = of_type(args, ORIGIN_PULLS_HOSTNAME_CERT)
    cert_urns = {c.urn for c in certs}
    cert_ids = {known(c.props, "id") for c in certs} - {None}
    for record in served_records(args):
        name = _host(known(record.props, "name"))
        covered = False
        for association in of_type(args, ORIGIN_PULLS):
            if not _same_zone(association, record):
                continue
            from_cert = any(dep.urn in cert_urns for dep in association.property_dependencies.get("configs", []))
            for entry in items(association.props, "configs"):
                if _host(known(entry, "hostname")) == name and known(entry, "enabled") is True:
                    covered |= from_cert or known(entry, "certId") in cert_ids
        if not covered:
            yield (
                record.urn,
                (
                    f"{name} is served by this stack through Cloudflare but has no enabled Authenticated Origin Pulls "
                    "association with a hostname certificate: the origin cannot tell this zone's requests from any "
                    "other Cloudflare customer's"
                ),
            )


def _zone_pulls_owned(args) -> Iterator[tuple[str | None, str]]:
    owned = {known(s.props, "zoneId") for s in of_type(args, ZONE_SETTING) if known(s.props, "settingId") == "ssl"}
    zone_wide = [r for r in args.resources if r.resource_type in ZONE_PULLS]
    zone_wide += [s for s in of_type(args, ZONE_SETTING) if known(s.props, "settingId") == ZONE_PULLS_SETTING]
    for resource in zone_wide:
        if known(resource.props, "zoneId") not in owned:
            yield (
                resource.urn,
                (
                    f"{resource.name} sets the zone's own Authenticated Origin Pulls, but this stack does not own the "
                    "zone's settings: use per-hostname associations (a zone-wide setting changes, and its removal "
                    "turns off, what Cloudflare presents to every origin of the zone)"
                ),
            )


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

pulls_per_hostname = stack_policy(
    "cloudflare-origin-pulls-per-hostname",
    "Every proxied record pointing at this stack's front door (load balancer, reserved IP, droplet) has an enabled "
    "per-hostname Authenticated Origin Pulls association with a hostname certificate the stack uploads, so the "
    "origin can require a client certificate only this zone presents (Cloudflare's shared one is every zone's). "
    "Cloudflare docs: Authenticated Origin Pulls, per-hostname setup.",
    _pulls_per_hostname,
)
zone_pulls_owned = stack_policy(
    "cloudflare-zone-origin-pulls-owner-only",
    "Zone-level Authenticated Origin Pulls (the settings resource, a zone-level certificate, the tls_client_auth "
    "zone setting) only in the stack that owns the zone's settings. Cloudflare docs: Authenticated Origin Pulls, "
    "zone-level and per-hostname are independent configurations.",
    _zone_pulls_owned,
)

POLICIES = [
    ssl_strict,
    min_tls,
    always_https,
    hsts,
    settings_complete,
    proxied,
    rate_limit_keys,
    pulls_per_hostname,
    zone_pulls_owned,
]
