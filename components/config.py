"""The one module that reads `pulumi.Config`: parse, validate, return frozen dataclasses.

Every problem is collected and reported together in one `pulumi.RunError` naming the
key, the bad value and what is allowed, before any resource is registered. Scalar
defaults are declared in Pulumi.yaml (the CLI applies them); defaults of the structured
keys (`app`, `database`, ...) live in the `_field` calls below and nowhere else.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components import catalog, cloudflare_ips
from components import proxy as proxy_renderer
from components.envmap import PROVIDED_ENV

NAMESPACE = "webstack"
SCALAR_KEYS = (
    "domain",
    "region",
    "protect",
    "vpcCidr",
    "sshTrustedCidrs",
    "sshPublicKeys",
    "sshKeyFingerprints",
    "alertEmails",
)
OBJECT_KEYS = ("app", "database", "valkey", "edge", "proxy", "monitoring", "backups")
SECRET_KEYS = ("slackWebhookUrl",)

# Processes that hold a DB connection outside the web/worker pools: beat and migrate
# (issue's sizing rule), plus the direct connections of migrate and the backup dump.
POOL_EXTRA_PROCESSES = 2
DIRECT_CONNECTIONS = 2
# Memory limits of the stack's own containers (one place; components take them as args).
DATA_CONTAINER_MEMORY_MB = 256  # containerised Postgres or Valkey (dev)
PROXY_MEMORY_MB = 128
BEAT_MEMORY_MB = 128
BACKUP_MEMORY_MB = 256
# Left to the OS, sshd, dockerd and the DigitalOcean agent on every droplet.
HOST_RESERVE_MB = 256
# The only ranges DigitalOcean accepts for a VPC, and what it keeps for itself inside them.
# https://docs.digitalocean.com/products/networking/vpc/details/limits/
RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
DO_RESERVED = tuple(
    ipaddress.ip_network(n) for n in ("10.244.0.0/16", "10.245.0.0/16", "10.246.0.0/24", "10.229.0.0/16")
)
_FINGERPRINT = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){15}$")


class ConfigError(pulumi.RunError):
    """Raised once with every problem; RunError prints without a traceback."""


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    image: str
    port: int
    health_path: str
    replicas: int
    droplet_size: str
    hostnames: tuple[str, ...]
    web_command: tuple[str, ...]
    web_workers: int
    web_memory_mb: int
    worker_command: tuple[str, ...]
    worker_concurrency: int
    worker_memory_mb: int
    beat_command: tuple[str, ...]
    release_command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    generated_secrets: tuple[str, ...]
    secrets_rotation: int
    auth_paths: tuple[str, ...]

    @property
    def droplet_memory_mb(self) -> int:
        return catalog.DROPLET_SIZES[self.droplet_size].memory_mb


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    mode: str
    version: str
    size: str
    nodes: int
    pool_size: int
    pool_mode: str
    maintenance_day: str
    maintenance_hour: int
    container_image: str


@dataclass(frozen=True, kw_only=True)
class ValkeyConfig:
    mode: str
    version: str
    size: str
    split_cache: bool
    cache_size: str
    container_image: str


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    zone_id: str | None
    manage_zone_settings: bool
    hsts_max_age: int
    rate_limit_requests: int
    rate_limit_period: int
    rate_limit_timeout: int


@dataclass(frozen=True, kw_only=True)
class ProxyConfig:
    image: str
    client_max_body_size: str
    content_security_policy: str
    api_rate_per_s: int
    api_burst: int
    auth_rate_per_s: int
    auth_burst: int


@dataclass(frozen=True, kw_only=True)
class MonitoringConfig:
    enabled: bool
    cpu_percent: int
    memory_percent: int
    disk_percent: int
    window: str
    latency_ms: int
    ssl_expiry_days: int
    slack_channel: str


@dataclass(frozen=True, kw_only=True)
class BackupsConfig:
    enabled: bool
    droplet_backups: bool
    droplet_plan: str
    droplet_hour: int
    retention_days: int
    schedule: str
    image: str


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    stack: str
    domain: str
    region: str
    protect: bool
    vpc_cidr: str
    ssh_trusted_cidrs: tuple[str, ...]
    ssh_public_keys: tuple[str, ...]
    ssh_key_fingerprints: tuple[str, ...]
    alert_emails: tuple[str, ...]
    slack_webhook_url: pulumi.Output[str] | None
    app: AppConfig
    database: DatabaseConfig
    valkey: ValkeyConfig
    edge: EdgeConfig
    proxy: ProxyConfig
    monitoring: MonitoringConfig
    backups: BackupsConfig

    @property
    def bucket_name(self) -> str:
        """The backup bucket: unique per domain and stack, within Spaces' naming rules."""
        return f"{self.domain.replace('.', '-')}-{self.stack}-backups"

    @property
    def environment(self) -> str:
        """DigitalOcean Project environment derived from the stack name."""
        if self.stack.startswith("prod"):
            return "Production"
        if self.stack.startswith("staging"):
            return "Staging"
        return "Development"


# --------------------------------------------------------------------------- checks

_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_SIZE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def is_domain(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.match(label) for label in labels)
        and labels[-1].isalpha()
    )


def image_problem(value: str) -> str | None:
    """Why an image reference is not pinned, or None when it is."""
    m = _IMAGE.match(value)
    if not m:
        return "an image reference like registry/name:tag"
    if not m["tag"] and not m["digest"]:
        return "a pinned tag or digest (a missing tag means `latest`)"
    if m["tag"] == "latest" and not m["digest"]:
        return "a pinned tag or digest, not `latest`"
    return None


class _Reader:
    """Reads one structured key field by field, recording problems instead of raising."""

    def __init__(self, problems: list[str], key: str, raw: Any):
        self.problems = problems
        self.key = key
        self.seen: set[str] = set()
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            problems.append(f"{NAMESPACE}:{key} = {raw!r}: must be an object")
            raw = {}
        self.raw: dict[str, Any] = raw

    def bad(self, field: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{NAMESPACE}:{self.key}.{field} = {value!r}: must be {allowed}")

    def field(self, name: str, default: Any, check: Callable[[Any], str | None]) -> Any:
        self.seen.add(name)
        value = self.raw.get(name, default)
        problem = check(value)
        if problem:
            self.bad(name, value, problem)
            return default
        return value

    def int(self, name: str, default: int | None, lo: int, hi: int | None = None) -> int:
        def check(v: Any) -> str | None:
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)
            return None if ok else (f"an integer {lo}-{hi}" if hi is not None else f"an integer >= {lo}")

        return self.field(name, default, check)

    def bool(self, name: str, default: bool) -> bool:
        return self.field(name, default, lambda v: None if isinstance(v, bool) else "true or false")

    def choice(self, name: str, default: str, allowed: Any) -> str:
        allowed = sorted(allowed)
        return self.field(name, default, lambda v: None if v in allowed else f"one of {', '.join(allowed)}")

    def str(self, name: str, default: str | None, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        def check(v: Any) -> str | None:
            if not isinstance(v, str) or not v or (pattern and not pattern.match(v)):
                return what or "a non-empty string"
            return None

        return self.field(name, default, check)

    def strings(self, name: str, default: tuple[str, ...] | None, min_len: int = 1) -> tuple[str, ...]:
        def check(v: Any) -> str | None:
            ok = isinstance(v, (list, tuple)) and len(v) >= min_len and all(isinstance(s, str) and s for s in v)
            return None if ok else f"a list of at least {min_len} non-empty strings"

        return tuple(self.field(name, default, check) or ())

    def image(self, name: str, default: str | None) -> str:
        return self.field(name, default, lambda v: image_problem(v) if isinstance(v, str) else "an image reference")

    def finish(self) -> None:
        for extra in sorted(set(self.raw) - self.seen):
            self.problems.append(
                f"{NAMESPACE}:{self.key}.{extra} = {self.raw[extra]!r}: unknown key; "
                f"allowed: {', '.join(sorted(self.seen))}"
            )


def _required(v: Any) -> str | None:
    return "set (it has no default)" if v is None else None


# --------------------------------------------------------------------------- parse


def parse(
    raw: Mapping[str, str | None], stack: str, slack_webhook_url: pulumi.Output[str] | None = None
) -> StackConfig:
    """Validate raw config strings (as `pulumi.Config.get` returns them) for `stack`."""
    problems: list[str] = []

    def bad(key: str, value: Any, allowed: str) -> None:
        problems.append(f"{NAMESPACE}:{key} = {value!r}: must be {allowed}")

    def decoded(key: str) -> Any:
        text = raw.get(key)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            bad(key, text, "valid JSON/YAML structure")
            return None

    def scalar_list(key: str, min_len: int) -> tuple[str, ...]:
        value = decoded(key)
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) < min_len:
            bad(key, value, f"a list of at least {min_len} strings")
            return ()
        return tuple(value)

    # -- scalars
    domain = (raw.get("domain") or "").strip().lower()
    if not is_domain(domain):
        bad("domain", raw.get("domain"), "a DNS zone apex such as example.com (the Cloudflare zone)")
    region = raw.get("region") or ""
    if region not in catalog.REGIONS:
        bad("region", raw.get("region"), f"a DigitalOcean region: {', '.join(sorted(catalog.REGIONS))}")
    protect_raw = raw.get("protect")
    protect = protect_raw == "true"
    if protect_raw not in ("true", "false"):
        bad("protect", protect_raw, "true or false")
    if stack.startswith("prod") and not protect:
        bad("protect", protect_raw, f"true in a production stack ({stack!r}); prod data is protected")

    vpc_cidr = raw.get("vpcCidr") or ""
    try:
        net = ipaddress.ip_network(vpc_cidr)
        if net.version != 4 or not any(net.subnet_of(r) for r in RFC1918) or not 16 <= net.prefixlen <= 24:
            raise ValueError
        if any(net.overlaps(r) for r in DO_RESERVED):
            bad("vpcCidr", vpc_cidr, f"outside DigitalOcean's reserved {', '.join(map(str, DO_RESERVED))}")
    except ValueError:
        bad("vpcCidr", raw.get("vpcCidr"), "an RFC 1918 IPv4 network from /16 to /24, e.g. 10.10.0.0/20")

    ssh_cidrs = scalar_list("sshTrustedCidrs", 1)
    for cidr in ssh_cidrs:
        try:
            net = ipaddress.ip_network(cidr, strict=True)
            if net.prefixlen == 0:
                bad("sshTrustedCidrs", cidr, "a trusted network, not the whole internet (0.0.0.0/0 or ::/0)")
        except ValueError:
            bad("sshTrustedCidrs", cidr, "a CIDR such as 203.0.113.7/32 (host bits clear)")

    ssh_keys = scalar_list("sshPublicKeys", 1)
    for key in ssh_keys:
        parts = key.split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            bad("sshPublicKeys", key[:40], "an OpenSSH public key line (ssh-ed25519 AAAA... comment)")

    fingerprints = scalar_list("sshKeyFingerprints", 0)
    for fp in fingerprints:
        if not _FINGERPRINT.match(fp):
            bad("sshKeyFingerprints", fp, "an MD5 fingerprint as DigitalOcean shows it (aa:bb:...:ff, 16 pairs)")

    alert_emails = scalar_list("alertEmails", 0)
    for email in alert_emails:
        if not _EMAIL.match(email):
            bad("alertEmails", email, "an email address")

    # -- app
    r = _Reader(problems, "app", decoded("app"))
    image = r.field("image", None, lambda v: _required(v) or image_problem(str(v)))
    port = r.int("port", 8000, 1, 65535)
    health_path = r.str("healthPath", "/health", re.compile(r"^/[A-Za-z0-9/_.-]*$"), "a path starting with /")
    replicas = r.int("replicas", 1, 1, 100)
    droplet_size = r.choice("dropletSize", "s-1vcpu-2gb", catalog.DROPLET_SIZES)
    hostnames = r.strings("hostnames", None)
    for host in hostnames:
        if not (is_domain(host) and (host == domain or host.endswith("." + domain))):
            r.bad("hostnames", host, f"a fully qualified name inside {domain or 'the domain'}")
    if len({h.replace(".", "-") for h in hostnames}) != len(hostnames):
        r.bad("hostnames", list(hostnames), "a list without duplicates (a-b.x and a.b.x count as the same)")
    web_command = r.strings("webCommand", ("gunicorn", "app.wsgi:application", f"--bind=0.0.0.0:{port}"))
    for arg in web_command:
        bind = re.match(r"^(?:--bind=|-b)?(?:[0-9.]+|\[[0-9a-f:]+\]):(\d+)$", arg)
        if bind and int(bind[1]) != port:
            r.bad("webCommand", list(web_command), f"binding app.port {port} (nginx and the healthcheck use it)")
    web_workers = r.int("webWorkers", 3, 1, 64)
    web_memory = r.int("webMemoryMb", 512, 64)
    worker_command = r.strings("workerCommand", ("celery", "--app=app", "worker", "--loglevel=INFO"))
    if any(arg.startswith(("--concurrency", "-c")) for arg in worker_command):
        r.bad("workerCommand", list(worker_command), "without --concurrency (set app.workerConcurrency)")
    worker_concurrency = r.int("workerConcurrency", 2, 1, 64)
    worker_memory = r.int("workerMemoryMb", 512, 64)
    beat_command = r.strings("beatCommand", ("celery", "--app=app", "beat", "--loglevel=INFO"))
    release_command = r.strings("releaseCommand", ("python", "manage.py", "migrate", "--noinput"))
    generated = r.strings("generatedSecrets", ("SECRET_KEY", "JWT_SECRET_KEY"), 0)
    if len(set(generated)) != len(generated):
        r.bad("generatedSecrets", list(generated), "a list without duplicates")
    for name in generated:
        if not _ENV_NAME.match(name) or name in PROVIDED_ENV:
            r.bad("generatedSecrets", name, "an env var name ^[A-Z_][A-Z0-9_]*$ not provided by the stack")
    env = r.field("env", {}, lambda v: None if isinstance(v, dict) else "a map of NAME: value")
    env_pairs: list[tuple[str, str]] = []
    for name, value in sorted(env.items()):
        if not _ENV_NAME.match(name):
            r.bad(f"env.{name}", value, "under a name matching ^[A-Z_][A-Z0-9_]*$")
        elif name in PROVIDED_ENV or name in generated:
            r.bad(f"env.{name}", value, "absent: the stack provides this variable (URL or generated secret)")
        elif not isinstance(value, (str, int, float, bool)):
            r.bad(f"env.{name}", value, "a string, number or boolean")
        else:
            env_pairs.append((name, json.dumps(value) if isinstance(value, bool) else str(value)))
    rotation = r.int("secretsRotation", 1, 0)
    auth_paths = r.strings("authPaths", ("/login", "/api/auth/"))
    for path in auth_paths:
        if not re.match(r"^/[A-Za-z0-9/_.-]*$", path):
            r.bad("authPaths", path, "a URL path starting with /")
    r.finish()
    app = AppConfig(
        image=image,
        port=port,
        health_path=health_path,
        replicas=replicas,
        droplet_size=droplet_size,
        hostnames=hostnames,
        web_command=web_command,
        web_workers=web_workers,
        web_memory_mb=web_memory,
        worker_command=worker_command,
        worker_concurrency=worker_concurrency,
        worker_memory_mb=worker_memory,
        beat_command=beat_command,
        release_command=release_command,
        env=tuple(env_pairs),
        generated_secrets=generated,
        secrets_rotation=rotation,
        auth_paths=auth_paths,
    )

    # -- database
    r = _Reader(problems, "database", decoded("database"))
    db_mode = r.choice("mode", "managed", ("managed", "container"))
    db_version = r.choice("version", "17", catalog.POSTGRES_VERSIONS)
    db_size = r.choice("size", "db-s-1vcpu-1gb", catalog.DATABASE_SIZES)
    db_nodes = r.int("nodes", 1, 1, 3)
    pool_size = r.int("poolSize", 20, 1)
    pool_mode = r.choice("poolMode", "transaction", ("transaction", "session", "statement"))
    maint = _Reader(problems, "database.maintenance", r.field("maintenance", {}, lambda v: None))
    maint_day = maint.choice("day", "sunday", _WEEKDAYS)
    maint_hour = maint.int("hour", 3, 0, 23)
    maint.finish()
    db_image = r.image("containerImage", "postgres:17.6-alpine")
    r.finish()
    if db_mode == "managed" and db_nodes > 1 and not catalog.DATABASE_SIZES[db_size].standby_allowed:
        problems.append(
            f"{NAMESPACE}:database.nodes = {db_nodes}: must be 1 on {db_size}; "
            "standby nodes need db-s-1vcpu-2gb or larger"
        )
    database = DatabaseConfig(
        mode=db_mode,
        version=db_version,
        size=db_size,
        nodes=db_nodes,
        pool_size=pool_size,
        pool_mode=pool_mode,
        maintenance_day=maint_day,
        maintenance_hour=maint_hour,
        container_image=db_image,
    )

    # -- valkey
    r = _Reader(problems, "valkey", decoded("valkey"))
    vk_mode = r.choice("mode", "managed", ("managed", "container"))
    vk_version = r.choice("version", "8", catalog.VALKEY_VERSIONS)
    vk_size = r.choice("size", "db-s-1vcpu-1gb", catalog.DATABASE_SIZES)
    split = r.bool("splitCache", False)
    cache_size = r.choice("cacheSize", vk_size, catalog.DATABASE_SIZES)
    vk_image = r.image("containerImage", "valkey/valkey:8.1-alpine")
    r.finish()
    valkey = ValkeyConfig(
        mode=vk_mode,
        version=vk_version,
        size=vk_size,
        split_cache=split,
        cache_size=cache_size,
        container_image=vk_image,
    )

    # -- edge
    r = _Reader(problems, "edge", decoded("edge"))
    zone_id = r.field(
        "zoneId", None, lambda v: None if v is None or re.match(r"^[0-9a-f]{32}$", str(v)) else "a 32-hex zone id"
    )
    manage = r.bool("manageZoneSettings", False)
    hsts = r.int("hstsMaxAge", 31536000, 15552000)
    rl_requests = r.int("rateLimitRequests", 20, 1)
    rl_period = r.field(
        "rateLimitPeriod",
        10,
        lambda v: None if v in (10, 60, 120, 300, 600, 3600) else "one of 10, 60, 120, 300, 600, 3600 (seconds)",
    )
    rl_timeout = r.field(
        "rateLimitTimeout",
        10,
        lambda v: (
            None if v in (10, 60, 120, 300, 600, 3600, 86400) else "one of 10, 60, 120, 300, 600, 3600, 86400 (seconds)"
        ),
    )
    r.finish()
    if manage and not stack.startswith("prod"):
        problems.append(
            f"{NAMESPACE}:edge.manageZoneSettings = True: must be false outside prod; "
            "zone-wide settings have one owner, the prod stack"
        )
    edge = EdgeConfig(
        zone_id=zone_id,
        manage_zone_settings=manage,
        hsts_max_age=hsts,
        rate_limit_requests=rl_requests,
        rate_limit_period=rl_period,
        rate_limit_timeout=rl_timeout,
    )

    # -- proxy
    r = _Reader(problems, "proxy", decoded("proxy"))
    proxy = ProxyConfig(
        image=r.image("image", "nginx:1.27.5-alpine"),
        client_max_body_size=r.str("clientMaxBodySize", "10m", _SIZE, "an nginx size such as 10m"),
        content_security_policy=r.str(
            "contentSecurityPolicy",
            "default-src 'self'",
            re.compile(r'^[^"\n\\]+$'),
            "a CSP without double quotes, backslashes or newlines",
        ),
        api_rate_per_s=r.int("apiRatePerSecond", 10, 1),
        api_burst=r.int("apiBurst", 20, 0),
        auth_rate_per_s=r.int("authRatePerSecond", 5, 1),
        auth_burst=r.int("authBurst", 5, 0),
    )
    r.finish()

    # -- monitoring
    r = _Reader(problems, "monitoring", decoded("monitoring"))
    monitoring = MonitoringConfig(
        enabled=r.bool("enabled", True),
        cpu_percent=r.int("cpuPercent", 80, 1, 100),
        memory_percent=r.int("memoryPercent", 85, 1, 100),
        disk_percent=r.int("diskPercent", 85, 1, 100),
        window=r.choice("window", "5m", ("5m", "10m", "30m", "1h")),
        latency_ms=r.int("latencyMs", 2000, 100),
        ssl_expiry_days=r.int("sslExpiryDays", 14, 1, 90),
        slack_channel=r.str("slackChannel", "#alerts", re.compile(r"^[#@]?[a-z0-9._-]{1,80}$"), "a Slack channel"),
    )
    r.finish()
    if monitoring.enabled and not alert_emails and slack_webhook_url is None:
        bad("alertEmails", list(alert_emails), "at least one address while monitoring is enabled")

    # -- backups
    r = _Reader(problems, "backups", decoded("backups"))
    backups = BackupsConfig(
        enabled=r.bool("enabled", True),
        droplet_backups=r.bool("dropletBackups", False),
        droplet_plan=r.choice("dropletPlan", "daily", ("daily", "weekly")),
        droplet_hour=r.field(
            "dropletHour",
            4,
            lambda v: (
                None if v in (0, 4, 8, 12, 16, 20) else "one of 0, 4, 8, 12, 16, 20 (UTC start of the backup window)"
            ),
        ),
        retention_days=r.int("retentionDays", 7, 1, 3650),
        schedule=r.str(
            "schedule",
            "@daily",
            re.compile(r"^(@\w+|[0-9*/,-]+( [0-9*/,-]+){4})$"),
            "a cron schedule such as @daily or 0 3 * * *",
        ),
        image=r.image("image", "eeshugerman/postgres-backup-s3:17"),
    )
    r.finish()
    if backups.enabled and region in catalog.REGIONS and region not in catalog.SPACES_REGIONS:
        bad("region", region, "a region with Spaces while backups.enabled is true")

    for mode_key, mode in (("database.mode", database.mode), ("valkey.mode", valkey.mode)):
        if mode == "container" and app.replicas > 1:
            problems.append(
                f"{NAMESPACE}:{mode_key} = 'container': must be managed with app.replicas = {app.replicas}; "
                "a container on the first droplet is reachable from that droplet only"
            )
    bucket = f"{domain.replace('.', '-')}-{stack}-backups"
    if backups.enabled and (len(bucket) > 63 or not re.match(r"^[a-z0-9][a-z0-9-]*$", bucket)):
        bad("backups.enabled", True, f"false, or a domain and stack name giving a valid bucket name ({bucket!r})")
    problems += _proxy_problems(app, proxy)
    problems += _sizing_problems(app, database, valkey, backups)
    if problems:
        raise ConfigError(
            f"invalid configuration for stack {stack!r} ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}):\n  - " + "\n  - ".join(problems)
        )
    return StackConfig(
        stack=stack,
        domain=domain,
        region=region,
        protect=protect,
        vpc_cidr=vpc_cidr,
        ssh_trusted_cidrs=ssh_cidrs,
        ssh_public_keys=ssh_keys,
        ssh_key_fingerprints=fingerprints,
        alert_emails=alert_emails,
        slack_webhook_url=slack_webhook_url,
        app=app,
        database=database,
        valkey=valkey,
        edge=edge,
        proxy=proxy,
        monitoring=monitoring,
        backups=backups,
    )


def connections_needed(app: AppConfig) -> int:
    """Connections the app opens at once: every web worker and Celery slot, plus beat and migrate."""
    return app.replicas * (app.web_workers + app.worker_concurrency) + POOL_EXTRA_PROCESSES


def _proxy_problems(app: AppConfig, proxy: ProxyConfig) -> list[str]:
    """What nginx would refuse, checked by the renderer's own rules, named by config key."""
    keys = {
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
    }
    try:
        proxy_renderer.validate(nginx_spec(app, proxy, load_balanced_vpc=None))
    except proxy_renderer.ProxySpecError as err:
        return [f"{NAMESPACE}:{keys.get(err.field, err.field)} = {err.value!r}: must be {err.allowed}"]
    return []


def nginx_spec(app: AppConfig, proxy: ProxyConfig, load_balanced_vpc: str | None) -> proxy_renderer.ProxySpec:
    """The nginx settings of this config; behind a load balancer nginx also trusts the VPC,
    where the load balancer's address lives."""
    return proxy_renderer.ProxySpec(
        server_names=app.hostnames,
        upstream=f"web:{app.port}",
        health_path=app.health_path,
        real_ip_ranges=cloudflare_ips.ALL + ((load_balanced_vpc,) if load_balanced_vpc else ()),
        auth_paths=app.auth_paths,
        client_max_body_size=proxy.client_max_body_size,
        content_security_policy=proxy.content_security_policy,
        api_rate_per_s=proxy.api_rate_per_s,
        api_burst=proxy.api_burst,
        auth_rate_per_s=proxy.auth_rate_per_s,
        auth_burst=proxy.auth_burst,
    )


def _sizing_problems(app: AppConfig, db: DatabaseConfig, valkey: ValkeyConfig, backups: BackupsConfig) -> list[str]:
    problems = []
    need = connections_needed(app)
    formula = (
        f"replicas {app.replicas} x (webWorkers {app.web_workers} + workerConcurrency "
        f"{app.worker_concurrency}) + beat + migrate = {need}"
    )
    if db.mode == "managed":
        limit = catalog.DATABASE_SIZES[db.size].pg_connection_limit
        if db.pool_size < need:
            problems.append(f"{NAMESPACE}:database.poolSize = {db.pool_size}: must be at least {formula}")
        if db.pool_size + DIRECT_CONNECTIONS > limit:
            problems.append(
                f"{NAMESPACE}:database.poolSize = {db.pool_size}: must be at most {limit - DIRECT_CONNECTIONS} "
                f"on {db.size} ({limit} connections, {DIRECT_CONNECTIONS} kept for migrate and backups)"
            )
    elif need + DIRECT_CONNECTIONS > catalog.CONTAINER_PG_MAX_CONNECTIONS:
        problems.append(
            f"{NAMESPACE}:app.replicas = {app.replicas}: {formula} exceeds the container Postgres "
            f"max_connections {catalog.CONTAINER_PG_MAX_CONNECTIONS}; use database.mode managed"
        )
    # The first droplet carries the most: web, worker, proxy, beat, the backup dump and,
    # in container mode, the data services.
    parts = {
        "webMemoryMb": app.web_memory_mb,
        "workerMemoryMb": app.worker_memory_mb,
        "proxy": PROXY_MEMORY_MB,
        "beat": BEAT_MEMORY_MB,
        "host": HOST_RESERVE_MB,
    }
    if backups.enabled:
        parts["backup dump"] = BACKUP_MEMORY_MB
    for label, mode in (("postgres", db.mode), ("valkey", valkey.mode)):
        if mode == "container":
            parts[label] = DATA_CONTAINER_MEMORY_MB
    used = sum(parts.values())
    if used > app.droplet_memory_mb:
        detail = " + ".join(f"{k} {v}" for k, v in parts.items())
        problems.append(
            f"{NAMESPACE}:app.dropletSize = {app.droplet_size!r}: must have at least {used} MB "
            f"({detail}); it has {app.droplet_memory_mb} MB"
        )
    return problems


def _namespace_keys() -> set[str]:
    """Every `webstack:` key the stack sets, from the engine's config (env var or runtime)."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.get_config_env()) | set(runtime_config.CONFIG.get())
    return {k.split(":", 1)[1] for k in keys if k.startswith(f"{NAMESPACE}:")}


def load() -> StackConfig:
    """Read this stack's config; raise ConfigError (no traceback) on any bad value."""
    cfg = pulumi.Config(NAMESPACE)
    known = set(SCALAR_KEYS + OBJECT_KEYS + SECRET_KEYS)
    unknown = sorted(_namespace_keys() - known)
    raw = {key: cfg.get(key) for key in SCALAR_KEYS + OBJECT_KEYS}
    try:
        config = parse(raw, pulumi.get_stack(), slack_webhook_url=cfg.get_secret("slackWebhookUrl"))
    except ConfigError as err:
        if unknown:
            err.args = (f"{err.args[0]}\n  - unknown keys {unknown}; allowed: {sorted(known)}",)
        raise
    if unknown:
        raise ConfigError(
            f"invalid configuration for stack {pulumi.get_stack()!r}: "
            f"{', '.join(f'{NAMESPACE}:{k}' for k in unknown)}: unknown key; allowed: {', '.join(sorted(known))}"
        )
    return config
