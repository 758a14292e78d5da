"""The whole stack config: the scalar keys (declared in Pulumi.yaml), one model per object key,
and the rules that span keys."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, ValidationInfo, model_validator

from components import catalog, cloudflare_ips
from components import proxy as proxy_renderer
from components.config.app import AppConfig
from components.config.base import Allowed, SecretText, Section, choice, problem, raise_if, text
from components.config.data import DatabaseConfig, ValkeyConfig
from components.config.edge import EdgeConfig, FrontendConfig, ProxyConfig, default_project_name, zone_problems
from components.config.ops import BackupsConfig, MonitoringConfig
from components.config.process import EnvName
from components.config.sizing import sizing_problems
from components.config.storage import MediaConfig

# The only ranges DigitalOcean accepts for a VPC, and what it keeps for itself inside them.
# https://docs.digitalocean.com/products/networking/vpc/details/limits/
RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
DO_RESERVED = tuple(
    ipaddress.ip_network(n) for n in ("10.244.0.0/16", "10.245.0.0/16", "10.246.0.0/24", "10.229.0.0/16")
)
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def is_domain(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.match(label) for label in labels)
        and labels[-1].isalpha()
    )


def _domain(value: str) -> str:
    if not is_domain(value):
        raise ValueError("a DNS zone apex such as example.com (the Cloudflare zone)")
    return value


def _vpc(value: str) -> str:
    try:
        net = ipaddress.ip_network(value)
        ok = net.version == 4 and any(net.subnet_of(r) for r in RFC1918) and 16 <= net.prefixlen <= 24
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("an RFC 1918 IPv4 network from /16 to /24, e.g. 10.10.0.0/20")
    if any(net.overlaps(r) for r in DO_RESERVED):
        raise ValueError(f"outside DigitalOcean's reserved {', '.join(map(str, DO_RESERVED))}")
    return value


def _trusted_cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("a CIDR such as 203.0.113.7/32 (host bits clear)") from None
    if net.prefixlen == 0:
        raise ValueError("a trusted network, not the whole internet (0.0.0.0/0 or ::/0)")
    return value


def _ssh_key(value: str) -> str:
    parts = value.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise ValueError("an OpenSSH public key line (ssh-ed25519 AAAA... comment)")
    return value


Domain = Annotated[
    str, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v), AfterValidator(_domain)
]
TrustedCidr = Annotated[str, AfterValidator(_trusted_cidr)]
SshKey = Annotated[str, AfterValidator(_ssh_key)]
Fingerprint = text(
    r"^[0-9a-f]{2}(:[0-9a-f]{2}){15}$", "an MD5 fingerprint as DigitalOcean shows it (aa:bb:...:ff, 16 pairs)"
)
Email = text(r"^[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}$", "an email address")


class StackConfig(Section):
    domain: Domain
    """The Cloudflare zone apex the stack serves under, e.g. example.com. Required."""
    region: choice(*catalog.REGIONS) = "nyc3"
    """DigitalOcean region slug for every regional resource."""
    protect: bool = False
    """Protect data-bearing resources (DB clusters, buckets) from deletion. Must be true in prod* stacks."""
    vpc_cidr: Annotated[str, AfterValidator(_vpc)] = "10.10.0.0/20"
    """Private IPv4 range of the stack's VPC (/16 to /24); give each stack its own."""
    ssh_trusted_cidrs: Annotated[tuple[TrustedCidr, ...], Field(min_length=1), Allowed("a list of at least 1 CIDR")]
    """CIDRs admitted on SSH (port 22). Required; 0.0.0.0/0 and ::/0 are refused."""
    ssh_public_keys: Annotated[tuple[SshKey, ...], Field(min_length=1), Allowed("a list of at least 1 key")]
    """OpenSSH public keys installed for the deploy user. Required."""
    ssh_key_fingerprints: tuple[Fingerprint, ...] = ()
    """MD5 fingerprints of keys already in the DigitalOcean account to attach to droplets. Empty:
    sshPublicKeys are uploaded as SshKeys by this stack (DigitalOcean refuses a key twice)."""
    alert_emails: tuple[Email, ...] = ()
    """Addresses that receive monitoring and uptime alerts (verified on the DigitalOcean account)."""
    app: AppConfig
    """The application: image, processes, hostnames, environment."""
    secret_env: dict[EnvName, SecretText] = Field(default_factory=dict)
    """Your own secrets outside `app`, for a Pulumi ESC environment (`pulumiConfig:
    webstack:secretEnv: {NAME: {fn::secret: ...}}`; the CLI does not merge an environment's
    `webstack:app` into the stack file's) or `pulumi config set --secret --path 'secretEnv.NAME'`.
    Same treatment as app.secretEnv; a name may be in only one of them."""
    database: DatabaseConfig = DatabaseConfig()
    """Postgres: managed cluster with a pool, or a container (dev)."""
    valkey: ValkeyConfig = ValkeyConfig()
    """Valkey: never-evicting broker, optional separate LRU cache."""
    edge: EdgeConfig = EdgeConfig()
    """Cloudflare: records, zone settings (prod), rate limits, imports."""
    frontend: FrontendConfig = FrontendConfig()
    """Static frontend on Cloudflare Pages {hostname, projectName, productionBranch}; no hostname: none."""
    proxy: ProxyConfig = ProxyConfig()
    """nginx at the origin."""
    media: MediaConfig = MediaConfig()
    """Uploads: a private Spaces bucket with a scoped key, optionally public under a hostname."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """Alerts and uptime checks."""
    backups: BackupsConfig = BackupsConfig()
    """Droplet backups and logical dumps."""

    _stack: str = PrivateAttr("")
    _slack_webhook_url: Any = PrivateAttr(None)

    @property
    def stack(self) -> str:
        return self._stack

    @property
    def slack_webhook_url(self) -> pulumi.Output[str] | None:
        return self._slack_webhook_url

    @property
    def bucket_name(self) -> str:
        """The backup bucket: unique per domain and stack, within Spaces' naming rules."""
        return f"{self.domain.replace('.', '-')}-{self.stack}-backups"

    @property
    def media_bucket_name(self) -> str:
        """The media bucket: unique per domain and stack, within Spaces' naming rules."""
        return f"{self.domain.replace('.', '-')}-{self.stack}-media"

    @property
    def media_origin_host(self) -> str:
        """The media bucket's virtual-host endpoint, the origin nginx asks for public media."""
        return f"{self.media_bucket_name}.{self.region}.digitaloceanspaces.com"

    @property
    def media_cors_origins(self) -> tuple[str, ...]:
        if self.media.cors_origins is not None:
            return self.media.cors_origins
        return tuple(f"https://{host}" for host in self.app.hostnames)

    @property
    def served_hostnames(self) -> tuple[str, ...]:
        """Every name nginx serves and the origin certificate covers: the app's, then media's."""
        return self.app.hostnames + ((self.media.public_hostname,) if self.media.public_hostname else ())

    @property
    def frontend_project(self) -> str | None:
        """The Pages project of the frontend, None without one."""
        if self.frontend.hostname is None:
            return None
        return self.frontend.project_name or default_project_name(self.domain, self.stack)

    @property
    def user_secret_env(self) -> dict[str, str]:
        """The user's own secrets by env name: app.secretEnv and secretEnv together."""
        return {**self.app.secret_env, **self.secret_env}

    @property
    def environment(self) -> str:
        """DigitalOcean Project environment derived from the stack name."""
        if self.stack.startswith("prod"):
            return "Production"
        if self.stack.startswith("staging"):
            return "Staging"
        return "Development"

    @model_validator(mode="after")
    def _across_keys(self, info: ValidationInfo) -> StackConfig:
        context = info.context or {}
        stack = context.get("stack", "")
        bad: list[str] = []
        if stack.startswith("prod") and not self.protect:
            bad.append(
                problem("protect", self.protect, f"true in a production stack ({stack!r}); prod data is protected")
            )
        for host in self.app.hostnames:
            if not (is_domain(host) and (host == self.domain or host.endswith("." + self.domain))):
                bad.append(problem("app.hostnames", host, f"a fully qualified name inside {self.domain}"))
            elif (
                host != self.domain
                and host.count(".") - self.domain.count(".") > 1
                and not self.edge.advanced_certificate
            ):
                bad.append(problem("app.hostnames", host, (
                    f"one label below {self.domain} (Universal SSL covers {self.domain} and *.{self.domain} only), "
                    "or set edge.advancedCertificate: true once an Advanced Certificate covers it"
                )))  # fmt: skip
        for host, record_id in sorted(self.edge.import_.records.items()):
            if host not in self.app.hostnames:
                bad.append(
                    problem(
                        f"edge.import.records.{host}",
                        record_id,
                        f"keyed by one of app.hostnames {list(self.app.hostnames)}",
                    )
                )
        if not self.media.enabled:
            for name, value in sorted(self.app.env_aliases.items()):
                if value.startswith("media"):
                    bad.append(
                        problem(f"app.envAliases.{name}", value, "a non-media value while media.enabled is false")
                    )
        if self.valkey.mode == "none":
            for name, value in sorted(self.app.env_aliases.items()):
                if value in ("brokerUrl", "cacheUrl"):
                    bad.append(
                        problem(
                            f"app.envAliases.{name}", value, "databaseUrl or directDatabaseUrl with valkey.mode none"
                        )
                    )
        secret_leaves = [f"app.secretEnv.{n}" for n in self.app.secret_env]
        secret_leaves += ["app.registry.password"] if self.app.registry and self.app.registry.password else []
        secret_leaves += [f"secretEnv.{n}" for n in self.secret_env]
        for leaf in secret_leaves:
            if leaf.split(".", 1)[0] not in context.get("secret_keys", ()) or leaf in context.get(
                "plaintext_leaves", ()
            ):
                bad.append(
                    problem(
                        leaf,
                        "[plaintext]",
                        f"set with `pulumi config set --secret --path '{leaf}' ...`: it is stored in plaintext",
                    )
                )
        if self.app.jobs:
            # Jobs get the env through docker's --env-file: one line per variable.
            plain = {f"app.env.{k}": v for k, v in self.app.env_vars}
            plain |= {f"app.secretEnv.{k}": v for k, v in self.app.secret_env.items()}
            plain |= {f"secretEnv.{k}": v for k, v in self.secret_env.items()}
            for key, value in sorted(plain.items()):
                if "\n" in value or "\r" in value:
                    shown = "[secret]" if "ecretEnv" in key else value
                    bad.append(problem(key, shown, "a single line while app.jobs is set (base64 a PEM or JSON)"))
        app_names = {**self.app.env, **self.app.secret_env, **self.app.env_aliases, **self.app.generated_secrets}
        for name in sorted(set(self.secret_env) & set(app_names)):
            bad.append(problem(f"secretEnv.{name}", "...", "defined once (app has it too)"))
        bad += _media_problems(self, stack)
        if self.monitoring.enabled and not self.alert_emails and not context.get("has_slack"):
            bad.append(
                problem("alertEmails", list(self.alert_emails), "at least one address while monitoring is enabled")
            )
        if self.backups.enabled and self.region not in catalog.SPACES_REGIONS:
            bad.append(problem("region", self.region, "a region with Spaces while backups.enabled is true"))
        for key, mode in (("database.mode", self.database.mode), ("valkey.mode", self.valkey.mode)):
            if mode == "container" and self.app.replicas > 1:
                bad.append(
                    problem(
                        key,
                        "container",
                        f"managed with app.replicas = {self.app.replicas}; "
                        "a container on the first droplet is reachable from that droplet only",
                    )
                )
        bucket = f"{self.domain.replace('.', '-')}-{stack}-backups"
        if self.backups.enabled and (len(bucket) > 63 or not re.match(r"^[a-z0-9][a-z0-9-]*$", bucket)):
            bad.append(
                problem(
                    "backups.enabled",
                    True,
                    f"false, or a domain and stack name giving a valid bucket name ({bucket!r})",
                )
            )
        bad += zone_problems(self.domain, stack, self.served_hostnames, self.edge, self.frontend)
        bad += _proxy_problems(self)
        bad += sizing_problems(self.app, self.database, self.valkey, self.backups)
        raise_if(bad)
        return self


def _media_problems(cfg: StackConfig, stack: str) -> list[str]:
    media, bad = cfg.media, []
    host = media.public_hostname
    if not media.enabled:
        if host or media.cors_origins is not None:
            bad.append(problem("media.enabled", False, "true to use media.publicHostname or media.corsOrigins"))
        return bad
    if host and (
        host in cfg.app.hostnames or not host.endswith("." + cfg.domain) or host.count(".") - cfg.domain.count(".") != 1
    ):
        bad.append(
            problem("media.publicHostname", host, f"a name one label below {cfg.domain}, not one of app.hostnames")
        )
    if cfg.region not in catalog.SPACES_REGIONS:
        bad.append(problem("region", cfg.region, "a region with Spaces while media.enabled is true"))
    bucket = f"{cfg.domain.replace('.', '-')}-{stack}-media"
    if len(bucket) > 63 or not re.match(r"^[a-z0-9][a-z0-9-]*$", bucket):
        bad.append(
            problem("media.enabled", True, f"false, or a domain and stack name giving a valid bucket name ({bucket!r})")
        )
    return bad


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
}


def _proxy_problems(cfg: StackConfig) -> list[str]:
    """What nginx would refuse, checked by the renderer's own rules, named by config key."""
    try:
        proxy_renderer.validate(nginx_spec(cfg, load_balanced_vpc=None))
    except proxy_renderer.ProxySpecError as err:
        return [problem(_PROXY_KEYS.get(err.field, err.field), err.value, err.allowed)]
    return []


def nginx_spec(cfg: StackConfig, load_balanced_vpc: str | None = None) -> proxy_renderer.ProxySpec:
    """The nginx settings of this config; behind a load balancer nginx also trusts the VPC,
    where the load balancer's address lives."""
    app, proxy = cfg.app, cfg.proxy
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
        hsts_max_age=cfg.edge.hsts_max_age,
        websocket_paths=proxy.websocket_paths,
        read_timeout_s=proxy.read_timeout_seconds,
        static_path=proxy.static_path,
        static_max_age_s=proxy.static_max_age_seconds,
        media_host=cfg.media.public_hostname if cfg.media.enabled else None,
        media_origin=cfg.media_origin_host if cfg.media.enabled and cfg.media.public_hostname else None,
    )
