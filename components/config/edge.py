"""`webstack:edge` (Cloudflare: zone settings, rate limits, imports, extra records) and
`webstack:frontend` (a Cloudflare Pages project under a hostname of the zone)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from components.config import catalog
from components.config.base import Allowed, OneLine, Section, choice, problem, raise_if, text
from components.config.dns import (
    PAGES_NAME,
    PROXIABLE,
    TXT_PER_NAME_MAX,
    DnsRecord,
    Hex32,
    default_project_name,
    in_zone,
    is_dns_name,
    join_values,
    lower_name,
    under,
)


class FrontendConfig(Section):
    """A static frontend (React/Vite, Astro) on Cloudflare Pages, deployed by direct upload."""

    hostname: (
        Annotated[str, BeforeValidator(lower_name), Field(min_length=1), Allowed("a fully qualified name")] | None
    ) = None
    """Custom domain of the site, inside the zone and not one of app.hostnames; unset: no frontend."""
    project_name: (
        Annotated[str, Field(pattern=PAGES_NAME.pattern), Allowed(
            "a Pages project name: 1-58 lowercase letters, digits or '-', not starting or ending with '-'"
        )]
        | None
    ) = None  # fmt: skip
    """Pages project (unique in the account; `wrangler pages deploy --project-name`); unset: the
    domain with dashes, then the stack, e.g. example-com-prod."""
    production_branch: text(r"[A-Za-z0-9._/-]{1,255}", "a git branch name such as main") = "main"
    """Branch whose uploads are the production deployment (`wrangler pages deploy --branch`)."""

    @model_validator(mode="after")
    def _named(self) -> FrontendConfig:
        if self.hostname is None and self.model_fields_set:
            raise_if([problem("frontend.hostname", None, "set when frontend is configured (the site's hostname)")])
        return self


class Imports(Section):
    rate_limit: Hex32 | None = None
    """Id of the zone's existing http_ratelimit ruleset to adopt (needs manageZoneSettings)."""
    records: dict[Annotated[str, OneLine], Hex32] = Field(default_factory=dict)
    """Existing DNS records to adopt, hostname: record id (each an A record of app.hostnames)."""


class EdgeConfig(Section):
    zone_id: Hex32 | None = None
    """Zone id; unset: looked up by `domain`. Required with `import`."""
    manage_zone_settings: bool = False
    """Own the zone-wide TLS settings and the rate-limit ruleset (one owner: a prod* stack)."""
    hsts_max_age: Annotated[int, Field(ge=15552000, le=31536000)] = 31536000
    """HSTS max-age (s), 6 to 12 months (Cloudflare's zone setting takes at most 12); the one
    source for the zone setting and nginx."""
    plan: choice(*catalog.ZONE_PLANS) = "free"
    """The zone's Cloudflare plan: it decides the rate-limit values allowed."""
    rate_limit_requests: Annotated[int, Field(ge=1)] = 20
    """Requests per period per client on the auth paths before the edge blocks."""
    rate_limit_period: choice(*catalog.RATE_LIMIT_VALUES) = 10
    """Counting period (s): 10 on free, up to 60 on pro, 600 on business."""
    rate_limit_timeout: choice(*catalog.RATE_LIMIT_VALUES) = 10
    """Block duration (s): 10 on free, up to 3600 on pro, 86400 on business."""
    advanced_certificate: bool = False
    """True once an Advanced Certificate covers names more than one label below the apex."""
    import_: Imports = Field(default=Imports(), alias="import")
    """Existing Cloudflare objects to adopt on the next `pulumi up` {rateLimit, records}."""
    account_id: Hex32 | None = None
    """Cloudflare account id (dashboard, Overview); required with `frontend` (Pages lives in an account)."""
    records: Annotated[tuple[DnsRecord, ...], Field(max_length=200)] = ()
    """Extra records [{name, type, content, priority, ttl, proxied, import}]: A, AAAA, CAA, CNAME,
    MX, TXT. The zone apex and names outside this stack's hostnames belong to the stack with
    manageZoneSettings (prod); any other stack adds records only at or under its own hostnames."""

    @property
    def import_rate_limit(self) -> str | None:
        return self.import_.rate_limit

    @property
    def import_records(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.import_.records.items()))

    @model_validator(mode="after")
    def _owned(self, info: ValidationInfo) -> EdgeConfig:
        stack = (info.context or {}).get("stack", "")
        limits = catalog.ZONE_PLANS[self.plan]
        on_plan = f"seconds on the {self.plan} plan; edge.plan names the zone's plan"
        bad: list[str] = []
        if self.rate_limit_period not in limits.periods:
            bad.append(
                problem(
                    "edge.rateLimitPeriod", self.rate_limit_period, f"one of {join_values(limits.periods)} ({on_plan})"
                )
            )
        if self.rate_limit_timeout not in limits.timeouts:
            bad.append(
                problem(
                    "edge.rateLimitTimeout",
                    self.rate_limit_timeout,
                    f"one of {join_values(limits.timeouts)} ({on_plan})",
                )
            )
        if (self.import_.rate_limit or self.import_.records) and not self.zone_id:
            bad.append(
                problem("edge.zoneId", self.zone_id, "set when edge.import is used (an import id names the zone)")
            )
        for i, record in enumerate(self.records):
            bad += record.problems(f"edge.records[{i}]")
        imports_named = self.import_.rate_limit or self.import_.records  # the rule above names zoneId
        if any(r.import_ for r in self.records) and not self.zone_id and not imports_named:
            bad.append(problem("edge.zoneId", self.zone_id, "set when an edge.records entry has `import`"))
        if self.import_.rate_limit and not self.manage_zone_settings:
            bad.append(
                problem(
                    "edge.import.rateLimit",
                    self.import_.rate_limit,
                    "unset unless edge.manageZoneSettings owns the rate-limit ruleset",
                )
            )
        if self.manage_zone_settings and not stack.startswith("prod"):
            one_owner = "false outside prod; zone-wide settings have one owner, the prod stack"
            bad.append(problem("edge.manageZoneSettings", True, one_owner))
        raise_if(bad)
        return self


# Why a second record with the same key (see DnsRecord.key) is refused, by record type.
_KINDS = {
    "txt-spf1": "v=spf1 (SPF)",
    "txt-dmarc1": "v=DMARC1",
    "txt-dkim1": "v=DKIM1",
    "txt-stsv1": "v=STSv1",
    "txt-tlsrptv1": "v=TLSRPTv1",
    "txt-bimi1": "v=BIMI1",
    "txt-dkim": "DKIM key",
}
_SAME = {
    "txt": "merged into {other}: a name holds one {kind} record (two are a permerror or ignored)",
    "mx": "merged into {other}: one MX per mail host at {name} (its priority is set there)",
    "copy": "different from {other} (Cloudflare refuses identical records)",
}


def zone_problems(
    domain: str, stack: str, hostnames: tuple[str, ...], edge: EdgeConfig, frontend: FrontendConfig
) -> list[str]:
    """Rules that need the zone and the stack's own names (`hostnames`: every name the stack's
    proxied A records serve): records inside the zone, one owner for the zone-wide names, no
    record colliding with the stack's own records or with another."""
    bad: list[str] = []
    owner = edge.manage_zone_settings
    site = frontend.hostname
    own = [h for h in (*hostnames, *([site] if site else [])) if h != domain]
    taken = {h: "this stack's hostnames (app.hostnames, media.publicHostname: its proxied A record)" for h in hostnames}
    by_name: dict[str, list[tuple[int, DnsRecord]]] = defaultdict(list)
    for i, r in enumerate(edge.records):
        key = f"edge.records[{i}]"
        if not (is_dns_name(r.name) and in_zone(r.name, domain)):
            bad.append(problem(f"{key}.name", r.name, f"a fully qualified name inside {domain}, e.g. _dmarc.{domain}"))
            continue
        if not owner and not any(under(r.name, h) for h in own):
            bad.append(problem(f"{key}.name", r.name, (
                f"at or under one of this stack's own names ({', '.join(own) or 'none'}): the apex and the rest "
                f"of {domain} are zone-wide and belong to the stack with edge.manageZoneSettings (prod)"
            )))  # fmt: skip
        if r.name == site:
            bad.append(problem(f"{key}.name", r.name, (
                "a name other than frontend.hostname: its proxied CNAME is the only record Cloudflare answers there"
            )))  # fmt: skip
        elif r.type in PROXIABLE and r.name in taken:
            bad.append(problem(f"{key}.name", r.name, f"a name other than {taken[r.name]} for an {r.type} record"))
        by_name[r.name].append((i, r))
    for name, group in by_name.items():
        seen: dict[str, int] = {}
        for i, r in group:
            key = f"edge.records[{i}]"
            if r.type == "CNAME" and len(group) > 1:
                others = ", ".join(f"edge.records[{j}]" for j, _ in group if j != i)
                bad.append(problem(f"{key}.type", "CNAME", f"the only record at {name} (RFC 1034; here too: {others})"))
                continue
            kind = r.key()
            if kind in seen:
                family = kind.split("-")[0] if kind in _KINDS or kind.startswith("mx-") else "copy"
                bad.append(problem(f"{key}.content", r.content, _SAME[family].format(
                    other=f"edge.records[{seen[kind]}]", kind=_KINDS.get(kind), name=name
                )))  # fmt: skip
            seen.setdefault(kind, i)
        txt = [(i, len(r.value() or "")) for i, r in group if r.type == "TXT"]
        if sum(n for _, n in txt) > TXT_PER_NAME_MAX:
            bad.append(problem(f"edge.records[{txt[0][0]}].name", name, (
                f"a name whose TXT records hold at most {TXT_PER_NAME_MAX} characters together "
                f"({sum(n for _, n in txt)} here)"
            )))  # fmt: skip
    if site:
        host = site
        if not (is_dns_name(host) and in_zone(host, domain)):
            bad.append(problem("frontend.hostname", host, f"a fully qualified name inside {domain}"))
        elif host in hostnames:
            bad.append(problem("frontend.hostname", host, (
                "a name other than this stack's hostnames (app.hostnames, media.publicHostname), which serve the app"
            )))  # fmt: skip
        elif host == domain and not owner:
            bad.append(problem("frontend.hostname", host, (
                f"a name below {domain}: the apex belongs to the stack with edge.manageZoneSettings (prod)"
            )))  # fmt: skip
        if edge.account_id is None:
            bad.append(problem("edge.accountId", None, "set with frontend (the account of the Pages project)"))
        project = frontend.project_name or default_project_name(domain, stack)
        if not PAGES_NAME.match(project):
            bad.append(problem("frontend.projectName", project, (
                "set: the default <domain with dashes>-<stack> is not a Pages project name "
                "(1-58 lowercase letters, digits or '-')"
            )))  # fmt: skip
    return bad
