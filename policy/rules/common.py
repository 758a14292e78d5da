"""What every rule module shares: resource types, the pack's config, policy factories and
the few helpers that read CrossGuard's props.

Props reach a rule as CrossGuard hands them over: camelCase inputs with secrets in
plaintext, numbers possibly as floats (they cross the wire as doubles), objects and lists
as read-only Mapping and Sequence proxies, and a value that is not known yet (during
preview) raising `UnknownValueError` when read. The runtime reports such a rule as
"can't run during preview" (advisory), so a rule only catches it where "unknown" has a
meaning of its own: an input computed from another resource is *set*.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

DROPLET = "digitalocean:index/droplet:Droplet"
TAG = "digitalocean:index/tag:Tag"
FIREWALL = "digitalocean:index/firewall:Firewall"
LOAD_BALANCER = "digitalocean:index/loadBalancer:LoadBalancer"
DB_CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
DB_FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall"
VALKEY_CONFIG = "digitalocean:index/databaseValkeyConfig:DatabaseValkeyConfig"
SPACES_BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"
SPACES_KEY = "digitalocean:index/spacesKey:SpacesKey"
MONITOR_ALERT = "digitalocean:index/monitorAlert:MonitorAlert"
UPTIME_CHECK = "digitalocean:index/uptimeCheck:UptimeCheck"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
ORIGIN_PULLS = "cloudflare:index/authenticatedOriginPulls:AuthenticatedOriginPulls"
ORIGIN_PULLS_HOSTNAME_CERT = (
    "cloudflare:index/authenticatedOriginPullsHostnameCertificate:AuthenticatedOriginPullsHostnameCertificate"
)
ORIGIN_PULLS_ZONE_CERT = "cloudflare:index/authenticatedOriginPullsCertificate:AuthenticatedOriginPullsCertificate"
ORIGIN_PULLS_SETTINGS = "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings"
RESERVED_IP = "digitalocean:index/reservedIp:ReservedIp"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
RULESET = "cloudflare:index/ruleset:Ruleset"
CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
DOCKER_PROVIDER = "pulumi:providers:docker"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"


# How much of the internet the sources of one firewall may admit, together, per address family
# (the prefix length of the equivalent block). SSH: an organisation's whole allocation at most,
# a /16 of IPv4 and a /32 of IPv6 (the stack config refuses more: components/config/stack.py
# SSH_SOURCE_LIMIT). Any other port outside allowedWorldPorts: a provider's edge at most, a /8
# and a /16; Cloudflare's published ranges, the widest source webstack uses, are under a /11
# (IPv4) and a /28 (IPv6). /0 in one piece is the world rule's; this one sees it in pieces.
SSH_SOURCE_LIMIT = {4: 16, 6: 32}
OPEN_SOURCE_LIMIT = {4: 8, 6: 16}


def coverage(cidrs: Iterable[Any]) -> dict[int, float]:
    """Per IP version, the prefix length of a block as large as all `cidrs` together (overlaps
    counted once); a version with no CIDR is absent, an unparsable CIDR is left out."""
    nets = []
    for cidr in cidrs:
        try:
            nets.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            continue
    out = {}
    for version, bits in ((4, 32), (6, 128)):
        union = list(ipaddress.collapse_addresses(n for n in nets if n.version == version))
        if union:
            out[version] = bits - math.log2(sum(n.num_addresses for n in union))
    return out


def is_world(cidr: Any) -> bool:
    """True for 0.0.0.0/0 or ::/0 in any spelling (::0/0, 0/0 with a host part)."""
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


# --------------------------------------------------------------------------- config

# Defaults fail closed: no admin CIDR admits SSH, data is protected, no port is world-open.
# A stack relaxes them through --policy-pack-config (`python -m policy.adapter <stack> --config`).
CONFIG_PROPERTIES: dict[str, dict[str, Any]] = {
    "adminCidrs": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "CIDRs allowed to reach port 22 (the stack's sshTrustedCidrs).",
    },
    "protectData": {
        "type": "boolean",
        "default": True,
        "description": "The stack must protect its data (the stack's `protect`; true in prod).",
    },
    "allowedWorldPorts": {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": 65535},
        "default": [],
        "description": "Ports a cloud firewall may open to 0.0.0.0/0 and ::/0; default none.",
    },
    "appImages": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "The stack's own images (its app.image), which the digest advisory leaves alone; default none.",
    },
}


def config(args: ResourceValidationArgs | StackValidationArgs, key: str) -> Any:
    value = args.get_config().get(key)
    return CONFIG_PROPERTIES[key]["default"] if value is None else value


def protect_data(args: ResourceValidationArgs | StackValidationArgs) -> bool:
    return bool(config(args, "protectData"))


def admin_networks(
    args: ResourceValidationArgs | StackValidationArgs,
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(str(cidr), strict=False) for cidr in config(args, "adminCidrs")]


def allowed_world_ports(args: ResourceValidationArgs | StackValidationArgs) -> set[int]:
    return {int(port) for port in config(args, "allowedWorldPorts")}


def _schema(keys: Sequence[str]) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: CONFIG_PROPERTIES[k] for k in keys}) if keys else None


# --------------------------------------------------------------------------- policies

ResourceCheck = Callable[[Mapping[str, Any], ResourceValidationArgs], Iterable[str]]
StackCheck = Callable[[StackValidationArgs], Iterable[tuple[str | None, str]]]


def resource_policy(
    name: str,
    description: str,
    types: str | Sequence[str],
    check: ResourceCheck,
    *,
    level: EnforcementLevel = MANDATORY,
    config: Sequence[str] = (),
) -> ResourceValidationPolicy:
    """A policy that runs `check(props, args)` on resources of `types`; each yielded message is a violation."""
    wanted = (types,) if isinstance(types, str) else tuple(types)

    def validate(args: ResourceValidationArgs, report_violation) -> None:
        if args.resource_type in wanted:
            for message in check(args.props, args):
                report_violation(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=level, config_schema=_schema(config)
    )


def stack_policy(
    name: str, description: str, check: StackCheck, *, level: EnforcementLevel = MANDATORY, config: Sequence[str] = ()
) -> StackValidationPolicy:
    """A policy that runs `check(args)` on the whole stack; it yields (urn or None, message) per violation."""

    def validate(args: StackValidationArgs, report_violation) -> None:
        for urn, message in check(args):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=level, config_schema=_schema(config)
    )


# --------------------------------------------------------------------------- props


def plain(value: Any) -> Any:
    """The value with proxies turned into dicts and lists; raises UnknownValueError if any part is unknown."""
    if isinstance(value, Mapping):
        return {k: plain(value[k]) for k in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(value[i]) for i in range(len(value))]
    return value


def known(props: Mapping[str, Any], key: str) -> Any:
    """props[key] as a plain value, or None when absent or (partly) unknown."""
    try:
        return plain(props.get(key))
    except UnknownValueError:
        return None


def items(props: Mapping[str, Any], key: str) -> list:
    """The entries of a list input, each still a proxy (read its fields with `known`), so one
    unknown field (an id computed in preview) does not hide the others; [] when absent or unknown."""
    try:
        value = props.get(key)
        return (
            [value[i] for i in range(len(value))] if isinstance(value, Sequence) and not isinstance(value, str) else []
        )
    except UnknownValueError:
        return []


def is_set(props: Mapping[str, Any], key: str) -> bool:
    """True when the input has a value; an unknown one is computed from another resource, so it is set."""
    try:
        value = props.get(key)
    except UnknownValueError:
        return True
    return value not in (None, "") and not (isinstance(value, Sequence | Mapping) and len(value) == 0)


def strings(value: Any) -> list[str]:
    """A list input as strings; [] for None or a scalar."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [str(v) for v in value]
    return []


# --------------------------------------------------------------------------- stack


def of_type(args: StackValidationArgs, *types: str) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type in types]


def refers_to(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """True when `resource`'s input `prop` holds (or lists) `target`'s id.

    First through property dependencies: the engine records which resources each input
    came from, so this holds in preview, when ids are still unknown, and for any id the
    program passes as an output. Then by value, against the `id` among `target`'s props
    (the state of a created resource), for an id written into the program as a literal.
    """
    if any(dep.urn == target.urn for dep in resource.property_dependencies.get(prop, [])):
        return True
    target_id, value = known(target.props, "id"), known(resource.props, prop)
    if target_id is None or value is None:
        return False
    values = value if isinstance(value, list) else [value]
    return str(target_id) in {str(v) for v in values}


def shares_tag(a: PolicyResource, b: PolicyResource) -> bool:
    """True when `a` and `b` carry a common tag: by name, or by the same Tag resource (names unknown in preview)."""
    if set(strings(known(a.props, "tags"))) & set(strings(known(b.props, "tags"))):
        return True
    tags_of_a = {dep.urn for dep in a.property_dependencies.get("tags", []) if dep.resource_type == TAG}
    return any(dep.urn in tags_of_a for dep in b.property_dependencies.get("tags", []))
