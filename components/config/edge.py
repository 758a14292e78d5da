"""`webstack:edge` (Cloudflare) and `webstack:proxy` (nginx at the origin)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo, model_validator

from components import catalog
from components.config.base import Allowed, Image, Section, choice, problem, raise_if, text

HEX32 = r"^[0-9a-f]{32}$"
Hex32 = Annotated[str, Field(pattern=HEX32), Allowed("a 32-hex Cloudflare id")]


class Imports(Section):
    rate_limit: Hex32 | None = None
    """Id of the zone's existing http_ratelimit ruleset to adopt (needs manageZoneSettings)."""
    records: dict[str, Hex32] = Field(default_factory=dict)
    """Existing DNS records to adopt, hostname: record id (each an A record of app.hostnames)."""


class EdgeConfig(Section):
    zone_id: Hex32 | None = None
    """Zone id; unset: looked up by `domain`. Required with `import`."""
    manage_zone_settings: bool = False
    """Own the zone-wide TLS settings and the rate-limit ruleset (one owner: a prod* stack)."""
    hsts_max_age: Annotated[int, Field(ge=15552000)] = 31536000
    """HSTS max-age (s), at least 6 months; the one source for the zone setting and nginx."""
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
                problem("edge.rateLimitPeriod", self.rate_limit_period, f"one of {_join(limits.periods)} ({on_plan})")
            )
        if self.rate_limit_timeout not in limits.timeouts:
            bad.append(
                problem(
                    "edge.rateLimitTimeout", self.rate_limit_timeout, f"one of {_join(limits.timeouts)} ({on_plan})"
                )
            )
        if (self.import_.rate_limit or self.import_.records) and not self.zone_id:
            bad.append(
                problem("edge.zoneId", self.zone_id, "set when edge.import is used (an import id names the zone)")
            )
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


def _join(values: Any) -> str:
    return ", ".join(map(str, values))


class ProxyConfig(Section):
    image: Image = "nginx:1.27.5-alpine"
    """Pinned nginx image."""
    client_max_body_size: text(r"^[1-9][0-9]*[kKmMgG]?$", "an nginx size such as 10m") = "10m"
    """Largest request body nginx accepts (413 above)."""
    content_security_policy: text(r'^[^"\n\\]+$', "a CSP without double quotes, backslashes or newlines") = (
        "default-src 'self'"
    )
    """Content-Security-Policy header."""
    api_rate_per_s: Annotated[int, Field(ge=1, alias="apiRatePerSecond")] = 10
    """Sustained requests per second per client under /api/."""
    api_burst: Annotated[int, Field(ge=0)] = 20
    """Burst above the API rate served without delay."""
    auth_rate_per_s: Annotated[int, Field(ge=1, alias="authRatePerSecond")] = 5
    """Sustained requests per second per client on the auth paths."""
    auth_burst: Annotated[int, Field(ge=0)] = 5
    """Burst above the auth rate served without delay."""
    websocket_paths: Annotated[
        tuple[
            text(
                r"^(?!.*/\.)/[A-Za-z0-9._~!*+,=@%/-]*$",
                "a path prefix such as /ws, without spaces, quotes, ';', braces, '$' or '/.'",
            ),
            ...,
        ],
        Field(max_length=20),
    ] = ()
    """Path prefixes whose requests may upgrade to a WebSocket, e.g. [/ws]: Upgrade and Connection
    pass to the app and nginx keeps a silent socket open for an hour; Cloudflare closes one silent
    for 100 s, so ping more often. Empty: no path passes an upgrade."""
    read_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    """How long nginx waits on the app between two reads or writes (s). Cloudflare answers 524
    after 100 s on non-Enterprise plans whatever this says: work longer than that (PDF
    processing, exports) belongs in a background job the page polls, not in the request."""
    static_path: (
        text(
            r"^(?!.*/\.)/[A-Za-z0-9._~!*+,=@%/-]*/$",
            "a path prefix ending in '/', such as /static/, without spaces, quotes, ';', braces, '$' or '/.'",
        )
        | None
    ) = None
    """Prefix of fingerprinted files (e.g. /static/): successful responses get Cache-Control
    "public, max-age=staticMaxAgeSeconds, immutable" instead of the app's; the security headers
    stay. Unset: no such location."""
    static_max_age_seconds: Annotated[int, Field(ge=1, le=31536000)] = 86400
    """max-age of staticPath's responses (s), at most a year."""
