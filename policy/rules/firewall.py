"""Cloud firewalls: nothing open to the world unless the config allows that port, and SSH
from the admin allow-list only."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from .common import FIREWALL, admin_networks, allowed_world_ports, is_world, resource_policy, strings

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

POLICIES = [no_world_ingress, ssh_admin_only]
