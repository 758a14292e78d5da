"""Edge: Cloudflare in front of the stack: proxied DNS records, the extra records of config
(mail, verification, CNAMEs to outside services), the stack's Authenticated Origin Pulls (the
client certificate Cloudflare presents to the origin for each served hostname), and, in the
one stack that owns the zone (prod), the zone-wide TLS settings and the rate-limit ruleset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

from components.config.dns import DnsRecord
from components.config.edge import EdgeConfig

# Zone-wide settings the owning stack enforces (Cloudflare's SSL/TLS recommendations).
ZONE_SETTINGS: dict[str, str] = {
    "ssl": "strict",
    "always_use_https": "on",
    "min_tls_version": "1.2",
    "tls_1_3": "on",
    "automatic_https_rewrites": "on",
}


@dataclass(frozen=True, kw_only=True)
class RecordSpec:
    """One extra DNS record, its values already in the form Cloudflare stores (config renders them)."""

    name: str
    """Fully qualified name; no default."""
    type: str
    """A, AAAA, CAA, CNAME, MX or TXT; no default."""
    key: str
    """What tells it from the other records of its name (config's DnsRecord.key); no default."""
    content: str | None = None
    """Value (quoted strings for TXT); default None: CAA, which is sent as `data`."""
    data: dict[str, Any] | None = None
    """CAA parts {flags, tag, value}; default None."""
    priority: int | None = None
    """MX preference; default None (other types)."""
    ttl: int = 1
    """Seconds, 1 = automatic; default 1."""
    proxied: bool = False
    """Through Cloudflare's proxy (A, AAAA, CNAME); default False."""
    import_id: str | None = None
    """Id of an existing record to adopt; default None."""


def record_spec(record: DnsRecord) -> RecordSpec:
    """A config record (`edge.records` entry) in the form Cloudflare stores."""
    return RecordSpec(
        name=record.name,
        type=record.type,
        key=record.key(),
        content=record.value(),
        data=record.data(),
        priority=record.priority,
        ttl=record.ttl,
        proxied=record.proxied,
        import_id=record.import_,
    )


@dataclass(frozen=True, kw_only=True)
class EdgeArgs:
    config: EdgeConfig
    """The stack's `edge` section: zone id, imports, extra records, whether this stack owns the
    zone-wide settings, HSTS max-age, rate limit; no default."""
    domain: str
    """The zone apex; no default (config `domain`)."""
    hostnames: tuple[str, ...]
    """FQDNs to publish, each a proxied A record; no default (config `app.hostnames`)."""
    target: pulumi.Input[str]
    """IPv4 address the records point at (the engine's front door); no default."""
    auth_paths: tuple[str, ...] = ("/login", "/api/auth/")
    """Auth paths: each covers every request path that starts with it, as nginx's prefix
    locations do; default /login, /api/auth/."""
    origin_pull_cert: pulumi.Input[str] | None = None
    """Client certificate (PEM, a leaf) Cloudflare presents to the origin for every hostname;
    default None: no Authenticated Origin Pulls."""
    origin_pull_key: pulumi.Input[str] | None = None
    """Its private key (secret); required with origin_pull_cert."""


# Rule refs are stable ids: without one, every change to the rule makes a new rule id and
# resets its counters.
RATE_LIMIT_REF = "webstack_auth_rate_limit"


def auth_expression(paths: tuple[str, ...]) -> str:
    """Cloudflare rules expression matching the auth paths with nginx's meaning of a plain
    `location /path`: every request path that starts with it (so /login/ is no way around)."""
    return " or ".join(f'(starts_with(http.request.uri.path, "{p}"))' for p in paths)


def _adopt(import_id: str | None) -> pulumi.ResourceOptions:
    """Adopt an existing object on the first `pulumi up` (remove the id from config after it)."""
    return pulumi.ResourceOptions(import_=import_id) if import_id else pulumi.ResourceOptions()


class Edge(pulumi.ComponentResource):
    """Records are proxied (TTL 1 = automatic), so clients only ever see Cloudflare.

    Zone-wide state has one owner: staging and dev only add records under their own names,
    so destroying them can never weaken prod's TLS settings. Cloudflare allows one
    http_ratelimit entry-point ruleset per zone, so it belongs to the owner too.
    """

    zone_id: pulumi.Output[str]
    urls: list[str]
    origin_pulls: list[pulumi.Resource]

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:edge:Edge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        edge = args.config
        if args.config.zone_id:
            self.zone_id = pulumi.Output.from_input(args.config.zone_id)
        else:
            zone = cloudflare.get_zone_output(
                filter=cloudflare.GetZoneFilterArgs(name=args.domain, match="all"),
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            self.zone_id = zone.id
        adopt_records = dict(args.config.import_records)
        for host in args.hostnames:
            label = self._label(args, host)
            cloudflare.DnsRecord(
                f"{name}-{label}",
                zone_id=self.zone_id,
                name=host,
                type="A",
                content=args.target,
                proxied=True,
                ttl=1,
                comment="managed by webstack",
                # A record of another type under the same name would collide with the new one.
                opts=pulumi.ResourceOptions.merge(
                    pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                    _adopt(adopt_records.get(host) and f"{args.config.zone_id}/{adopt_records[host]}"),
                ),
            )
        for r in map(record_spec, args.config.records):
            # Named by record name and key, never by position: see DnsRecord.key in the config.
            # The full name has dots, so it never meets a hostname label of the A records above.
            cloudflare.DnsRecord(
                f"{name}-dns-{r.name}-{r.key}",
                zone_id=self.zone_id,
                name=r.name,
                type=r.type,
                content=r.content,
                data=r.data,
                priority=r.priority,
                ttl=r.ttl,
                proxied=r.proxied,
                comment="managed by webstack",
                # A new zone id replaces it under the same name: the old record must go first.
                opts=pulumi.ResourceOptions.merge(
                    pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                    _adopt(r.import_id and f"{args.config.zone_id}/{r.import_id}"),
                ),
            )
        if args.config.manage_zone_settings:
            for setting, value in ZONE_SETTINGS.items():
                cloudflare.ZoneSetting(
                    f"{name}-{setting.replace('_', '-')}",
                    zone_id=self.zone_id,
                    setting_id=setting,
                    value=value,
                    opts=child,
                )
            cloudflare.ZoneSetting(
                f"{name}-hsts",
                zone_id=self.zone_id,
                setting_id="security_header",
                value={
                    "strict_transport_security": {
                        "enabled": True,
                        "max_age": args.config.hsts_max_age,
                        "include_subdomains": True,
                        "nosniff": True,
                        "preload": False,
                    }
                },
                opts=child,
            )
            cloudflare.Ruleset(
                f"{name}-ratelimit",
                zone_id=self.zone_id,
                name="webstack rate limits",
                description="Rate limit for the auth endpoints; nginx limit_req is the origin's second line",
                kind="zone",
                phase="http_ratelimit",
                rules=[
                    cloudflare.RulesetRuleArgs(
                        ref=RATE_LIMIT_REF,
                        action="block",
                        description="auth endpoints",
                        expression=auth_expression(args.auth_paths),
                        ratelimit=cloudflare.RulesetRuleRatelimitArgs(
                            characteristics=["ip.src", "cf.colo.id"],
                            period=args.config.rate_limit_period,
                            requests_per_period=args.config.rate_limit_requests,
                            mitigation_timeout=args.config.rate_limit_timeout,
                        ),
                    )
                ],
                # One http_ratelimit entry point per zone (error 20217), and zone, kind, name
                # and phase force replacement: the old one must go before the new one exists.
                opts=pulumi.ResourceOptions.merge(
                    pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                    _adopt(edge.import_rate_limit and f"zones/{edge.zone_id}/{edge.import_rate_limit}"),
                ),
            )
        self.origin_pulls = self._origin_pulls(name, args, child)
        self.urls = [f"https://{host}" for host in args.hostnames]
        self.register_outputs({"zone_id": self.zone_id, "urls": self.urls})

    @staticmethod
    def _label(args: EdgeArgs, host: str) -> str:
        return "apex" if host == args.domain else host.removesuffix("." + args.domain).replace(".", "-")

    def _origin_pulls(self, name: str, args: EdgeArgs, child: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """Per-hostname Authenticated Origin Pulls: the stack's client certificate, uploaded to
        the zone, and each served hostname associated with it (the provider takes one hostname
        per resource). Per hostname, so each stack owns its own: no zone-wide setting is needed,
        as per-hostname, zone-level and global pulls are independent configurations (Cloudflare,
        ssl/origin-configuration/authenticated-origin-pull/set-up/per-hostname). A new
        certificate (renewal) is uploaded first, the associations move to it, and only then is
        the old one deleted, as Cloudflare's "replace a certificate without downtime" asks;
        nginx trusts the CA that signs both."""
        if args.origin_pull_cert is None:
            return []
        if args.origin_pull_key is None:
            raise ValueError("origin_pull_key is required with origin_pull_cert")
        cert = cloudflare.AuthenticatedOriginPullsHostnameCertificate(
            f"{name}-origin-pull-cert",
            zone_id=self.zone_id,
            certificate=args.origin_pull_cert,
            private_key=pulumi.Output.secret(args.origin_pull_key),
            opts=child,
        )
        associations: list[pulumi.Resource] = [cert]
        for host in args.hostnames:
            associations.append(
                cloudflare.AuthenticatedOriginPulls(
                    f"{name}-origin-pull-{self._label(args, host)}",
                    zone_id=self.zone_id,
                    configs=[
                        cloudflare.AuthenticatedOriginPullsConfigArgs(hostname=host, cert_id=cert.id, enabled=True)
                    ],
                    opts=child,
                )
            )
        return associations
