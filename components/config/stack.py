"""The whole stack config: the scalar keys (declared in Pulumi.yaml), one model per object key,
and the rules that span keys."""

from __future__ import annotations

import ipaddress
import math
from typing import Annotated, Any

import pulumi
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, PrivateAttr

from components.config import catalog
from components.config.app import AppConfig
from components.config.base import Allowed, OneLine, SecretText, Section, choice, is_domain, one_line, text
from components.config.cluster import ENGINES, ClusterConfig
from components.config.data import DatabaseConfig, ValkeyConfig
from components.config.dns import default_project_name
from components.config.edge import EdgeConfig, FrontendConfig
from components.config.ops import OFFSITE_REGIONS, BackupsConfig, LogsConfig, MonitoringConfig
from components.config.process import EnvName
from components.config.proxy import ProxyConfig
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


# The most SSH sources may admit, per address family, all CIDRs together: a /16 of IPv4
# (65,536 addresses) and a /32 of IPv6, each one organisation's whole allocation at most
# (a regional registry's usual IPv4 block and its minimum IPv6 one). An office, a VPN's exit
# or a deploy runner is a /32 to a /24 (IPv4) or a /64 to a /48 (IPv6); anything wider is a
# piece of the internet, and 0.0.0.0/1 + 128.0.0.0/1 is all of it without a /0.
SSH_SOURCE_LIMIT = {4: 16, 6: 32}


def _cidr_coverage(cidrs: tuple[str, ...]) -> tuple[str, ...]:
    nets = [ipaddress.ip_network(c) for c in cidrs]
    for version, limit in SSH_SOURCE_LIMIT.items():
        union = ipaddress.collapse_addresses(n for n in nets if n.version == version)
        covered = sum(n.num_addresses for n in union)
        bits = 32 if version == 4 else 128
        if covered > 2 ** (bits - limit):
            size = f"{bits - math.log2(covered):.2f}".rstrip("0").rstrip(".")
            raise ValueError(
                f"trusted networks that together admit at most a /{SSH_SOURCE_LIMIT[4]} of IPv4 and a "
                f"/{SSH_SOURCE_LIMIT[6]} of IPv6; these admit as many IPv{version} addresses as a /{size}"
            )
    return cidrs


# OpenSSH's key types that sshd accepts by default (sshd_config(5) PubkeyAcceptedAlgorithms).
# DSA is refused: OpenSSH turned it off by default in 7.0 and removed it in 10.0. sk-* keys
# (FIDO tokens) are parsed by cryptography since 43.0 (pyca/cryptography pull request 10608).
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa",
)
MIN_RSA_BITS = 2048  # NIST SP 800-131A: RSA below 2048 bits is disallowed


def _ssh_key(value: str) -> str:
    # One line already (OneLine runs first): a line break would smuggle a second key into
    # authorized_keys.
    kind, _, rest = value.partition(" ")
    blob = rest.split(" ", 1)[0]
    if kind == "ssh-dss":
        raise ValueError("a key of a type OpenSSH still accepts (DSA keys are refused), e.g. ssh-ed25519")
    if kind not in SSH_KEY_TYPES:
        raise ValueError(f"an OpenSSH public key line (type key comment), the type one of {', '.join(SSH_KEY_TYPES)}")
    try:
        key = serialization.load_ssh_public_key(f"{kind} {blob}".encode())
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(
            f"an OpenSSH public key line whose key data is complete and of the type it names ({kind})"
        ) from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ValueError(f"an RSA key of at least {MIN_RSA_BITS} bits (this one has {key.key_size}), or ssh-ed25519")
    return value


Domain = Annotated[
    str, BeforeValidator(lambda v: one_line(v).strip(" ").lower() if isinstance(v, str) else v), AfterValidator(_domain)
]
TrustedCidr = Annotated[str, AfterValidator(_trusted_cidr)]
SshKey = Annotated[str, OneLine, AfterValidator(_ssh_key)]
Fingerprint = text(
    r"^[0-9a-f]{2}(:[0-9a-f]{2}){15}$", "an MD5 fingerprint as DigitalOcean shows it (aa:bb:...:ff, 16 pairs)"
)


def _unspaced(value: Any) -> Any:
    # EmailStr strips surrounding whitespace; an address with any is refused instead, like
    # every other config string with a control character in it.
    if isinstance(value, str) and not all(c.isprintable() and not c.isspace() for c in value):
        raise ValueError("an email address")
    return value


# pydantic's EmailStr: email-validator's syntax check (no DNS lookup), its normalized form kept.
Email = Annotated[EmailStr, BeforeValidator(_unspaced), Allowed("an email address")]


class RebootWindow(Section):
    enabled: bool = True
    """Reboot a droplet when an installed update needs it (/var/run/reboot-required): kernel,
    libc and OpenSSL fixes take effect only then. Single-droplet stacks are down for the minute
    or two of the reboot."""
    hour: Annotated[int, Field(ge=0, le=23)] = 2
    """UTC hour at which the first droplet reboots; droplet i reboots 10 x i minutes later, so
    behind a load balancer one droplet at a time is out of the rotation."""


class StackConfig(Section):
    domain: Domain
    """The Cloudflare zone apex the stack serves under, e.g. example.com. Required."""
    region: choice(*catalog.REGIONS) = "nyc3"
    """DigitalOcean region slug for every regional resource."""
    protect: bool = False
    """Protect data-bearing resources (DB clusters, buckets) from deletion. Must be true in prod* stacks."""
    vpc_cidr: Annotated[str, AfterValidator(_vpc)] = "10.10.0.0/20"
    """Private IPv4 range of the stack's VPC (/16 to /24); give each stack its own."""
    ssh_trusted_cidrs: Annotated[
        tuple[TrustedCidr, ...],
        Field(min_length=1),
        AfterValidator(_cidr_coverage),
        Allowed("a list of at least 1 CIDR"),
    ]
    """CIDRs admitted on SSH (port 22). Required; together at most a /16 of IPv4 and a /32 of
    IPv6 (0.0.0.0/0, ::/0 and sets such as 0.0.0.0/1 + 128.0.0.0/1 are refused)."""
    ssh_public_keys: Annotated[tuple[SshKey, ...], Field(min_length=1), Allowed("a list of at least 1 key")]
    """OpenSSH public keys of the deploy user, one line each (ed25519, ecdsa, sk-* or RSA of 2048
    bits and more; DSA refused). Required. The droplets' authorized_keys follow it: `pulumi up`
    rewrites them whenever it changes, so a key taken out leaves every droplet."""
    ssh_key_fingerprints: tuple[Fingerprint, ...] = ()
    """MD5 fingerprints of keys already in the DigitalOcean account to attach to droplets. Empty:
    sshPublicKeys are uploaded as SshKeys by this stack (DigitalOcean refuses a key twice)."""
    alert_emails: tuple[Email, ...] = ()
    """Addresses that receive monitoring and uptime alerts (verified on the DigitalOcean account)."""
    app: AppConfig
    """The application: image, processes, hostnames, environment."""
    engine: choice(*ENGINES) = "droplets"
    """What runs the app tier: `droplets` (docker on droplets) or `kubernetes` (a DigitalOcean
    Kubernetes cluster, webstack:cluster, with autoscaling). Everything else stays the same."""
    cluster: ClusterConfig = ClusterConfig()
    """Kubernetes engine: the DOKS cluster {version, ha, nodeSize, minNodes, maxNodes,
    systemNodeSize, systemNodes, maintenance, autoUpgrade, surgeUpgrade}."""
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
    reboot_window: RebootWindow = RebootWindow()
    """When a droplet reboots for an update that needs it (unattended-upgrades), new droplets only."""
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
    def offsite_bucket_name(self) -> str:
        """The off-site copy of the backups, in `offsite_region`: unique per domain and stack."""
        return f"{self.domain.replace('.', '-')}-{self.stack}-offsite"

    @property
    def offsite_region(self) -> str:
        """backups.offsiteRegion, or the default paired with `region` (config/ops.py)."""
        return self.backups.offsite_region or OFFSITE_REGIONS.get(self.region, "")

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
