"""The whole stack config: the scalar keys (declared in Pulumi.yaml), one model per object key,
and the rules that span keys."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, ValidationInfo, model_validator

from components import catalog
from components.config.app import AppConfig
from components.config.base import Allowed, OneLine, SecretText, Section, choice, is_domain, one_line, raise_if, text
from components.config.data import DatabaseConfig, ValkeyConfig
from components.config.dns import default_project_name
from components.config.edge import EdgeConfig, FrontendConfig
from components.config.ops import BackupsConfig, LogsConfig, MonitoringConfig
from components.config.process import EnvName
from components.config.proxy import ProxyConfig
from components.config.rules import problems
from components.config.storage import MediaConfig, VolumeConfig

# The only ranges DigitalOcean accepts for a VPC, and what it keeps for itself inside them.
# https://docs.digitalocean.com/products/networking/vpc/details/limits/
RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
DO_RESERVED = tuple(
    ipaddress.ip_network(n) for n in ("10.244.0.0/16", "10.245.0.0/16", "10.246.0.0/24", "10.229.0.0/16")
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
    str, BeforeValidator(lambda v: one_line(v).strip(" ").lower() if isinstance(v, str) else v), AfterValidator(_domain)
]
TrustedCidr = Annotated[str, AfterValidator(_trusted_cidr)]
SshKey = Annotated[str, OneLine, AfterValidator(_ssh_key)]
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
    volume: VolumeConfig = VolumeConfig()
    """A block-storage volume mounted into the processes (single-droplet stacks)."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """Alerts and uptime checks."""
    backups: BackupsConfig = BackupsConfig()
    """Droplet backups and logical dumps."""
    logs: LogsConfig = LogsConfig()
    """Container logs shipped to a Spaces bucket with a retention."""

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
    def logs_bucket_name(self) -> str:
        """The logs bucket: unique per domain and stack, within Spaces' naming rules."""
        return f"{self.domain.replace('.', '-')}-{self.stack}-logs"

    @property
    def media_bucket_name(self) -> str:
        """The media bucket: unique per domain and stack, within Spaces' naming rules."""
        return f"{self.domain.replace('.', '-')}-{self.stack}-media"

    @property
    def volume_name(self) -> str:
        """The volume: unique per domain and stack in the account's region (DigitalOcean's
        volume names: lower case, digits and hyphens, from a letter, at most 64)."""
        return f"{self.domain.replace('.', '-')}-{self.stack}-data"

    @property
    def volume_users(self) -> frozenset[str]:
        """What gets the volume: `web`, `release`, `jobs`, process names (and `make exec`)."""
        if not self.volume.enabled:
            return frozenset()
        if self.volume.processes is not None:
            return frozenset(self.volume.processes)
        return frozenset({"web", "release", "jobs", *self.app.processes})

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
        raise_if(problems(self, info.context or {}))
        return self
