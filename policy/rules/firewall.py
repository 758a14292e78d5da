"""Cloud firewalls: nothing open to the world unless the config allows that port, SSH from the
admin allow-list only, and no firewall admitting a large part of the internet in pieces."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from .common import (
    FIREWALL,
    OPEN_SOURCE_LIMIT,
    SSH_SOURCE_LIMIT,
    admin_networks,
    allowed_world_ports,
    coverage,
    is_world,
    resource_policy,
    strings,
)

SSH_PORT = 22
_OTHER_SOURCES = ("sourceTags", "sourceDropletIds", "sourceLoadBalancerUids", "sourceKubernetesIds")


def port_range(rule: Mapping[str, Any]) -> tuple[int, int] | None:
    """(first, last) port of an inbound rule; None for ICMP, which has no ports.

    DigitalOcean reads a missing range or "all" (and "0") as every port; so does this, for
    a range it cannot parse.
    """
    if rule.get("protocol") == "icmp":
        return None
    spec = str(rule.get("portRange") or "all").strip()
    if spec in ("all", "0"):
        return 1, 65535
    first, _, last = spec.partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        return 1, 65535


def _describe(rule: Mapping[str, Any]) -> str:
    protocol = rule.get("protocol") or "tcp"
    return protocol if protocol == "icmp" else f"{protocol}/{rule.get('portRange') or 'all'}"


def _world_allowed(ports: tuple[int, int] | None, allowed: set[int]) -> bool:
    if ports is None:
        return False
    first, last = ports
    return last - first < len(allowed) and all(port in allowed for port in range(first, last + 1))


def _no_world_ingress(props: Mapping[str, Any], args) -> Iterator[str]:
    allowed = allowed_world_ports(args)
    for rule in props.get("inboundRules") or []:
        world = [a for a in strings(rule.get("sourceAddresses")) if is_world(a)]
        if not world:
            continue
        if _world_allowed(port_range(rule), allowed):
            continue
        yield f"inbound rule {_describe(rule)} admits {', '.join(world)}; allowedWorldPorts is {sorted(allowed)}"


def _inside(cidr: str, networks: list) -> bool:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return any(net.version == admin.version and net.subnet_of(admin) for admin in networks)


def _ssh_admin_only(props: Mapping[str, Any], args) -> Iterator[str]:
    admins = admin_networks(args)
    for rule in props.get("inboundRules") or []:
        ports = port_range(rule)
        if rule.get("protocol") != "tcp" or ports is None or not ports[0] <= SSH_PORT <= ports[1]:
            continue
        outside = [a for a in strings(rule.get("sourceAddresses")) if not _inside(a, admins)]
        if outside:
            yield f"inbound rule {_describe(rule)} admits SSH from {', '.join(outside)}, outside adminCidrs"
        others = [key for key in _OTHER_SOURCES if strings(rule.get(key))]
        if others:
            yield f"inbound rule {_describe(rule)} admits SSH from {', '.join(others)}; only adminCidrs may reach 22"


def _covers_ssh(rule: Mapping[str, Any]) -> bool:
    ports = port_range(rule)
    return rule.get("protocol") == "tcp" and ports is not None and ports[0] <= SSH_PORT <= ports[1]


def _too_wide(what: str, sources: list[str], limit: dict[int, int]) -> Iterator[str]:
    for version, prefix in sorted(coverage(sources).items()):
        if prefix < limit[version]:
            shown = f"{prefix:.2f}".rstrip("0").rstrip(".")
            yield (
                f"inbound rules for {what} admit as many IPv{version} addresses as a /{shown} "
                f"({', '.join(sources)}); at most a /{limit[4]} of IPv4 and a /{limit[6]} of IPv6"
            )


def _sources_bounded(props: Mapping[str, Any], args) -> Iterator[str]:
    """All sources of SSH rules together, and of rules on ports not in allowedWorldPorts together,
    whatever adminCidrs says (the stack's own list; this rule does not trust it)."""
    allowed = allowed_world_ports(args)
    rules = props.get("inboundRules") or []
    ssh = [a for r in rules if _covers_ssh(r) for a in strings(r.get("sourceAddresses"))]
    closed = [a for r in rules if not _world_allowed(port_range(r), allowed) for a in strings(r.get("sourceAddresses"))]
    yield from _too_wide("SSH", ssh, SSH_SOURCE_LIMIT)
    yield from _too_wide(f"ports outside allowedWorldPorts {sorted(allowed)}", closed, OPEN_SOURCE_LIMIT)


no_world_ingress = resource_policy(
    "firewall-no-world-ingress",
    "Cloud firewall inbound rules do not admit 0.0.0.0/0 or ::/0, except on ports listed in allowedWorldPorts. "
    "Checkov CKV_DIO_4, Trivy AVD-DIG-0001.",
    FIREWALL,
    _no_world_ingress,
    config=("allowedWorldPorts",),
)
ssh_admin_only = resource_policy(
    "firewall-ssh-admin-only",
    "Cloud firewall rules that open TCP port 22 admit only addresses inside adminCidrs. "
    "DigitalOcean tutorial: Recommended Security Measures to Protect Your Servers (firewalls).",
    FIREWALL,
    _ssh_admin_only,
    config=("adminCidrs",),
)

sources_bounded = resource_policy(
    "firewall-sources-bounded",
    "Cloud firewall inbound sources, all rules together, admit at most a /16 of IPv4 and a /32 of IPv6 on SSH, "
    "and at most a /8 and a /16 on ports outside allowedWorldPorts: 0.0.0.0/1 + 128.0.0.0/1 is the world too. "
    "Checkov CKV_DIO_4 and Trivy AVD-DIG-0001 match only the literal /0.",
    FIREWALL,
    _sources_bounded,
    config=("allowedWorldPorts",),
)

POLICIES = [no_world_ingress, ssh_admin_only, sources_bounded]
