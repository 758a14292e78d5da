"""Load balancers: inside the VPC, an HTTP(S) health check on a real path, no plain HTTP
entry that is not redirected to HTTPS, and the client's address passed on (PROXY protocol)
where the droplets admit web traffic from the balancer alone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from .common import (
    FIREWALL,
    LOAD_BALANCER,
    is_set,
    items,
    known,
    of_type,
    plain,
    resource_policy,
    stack_policy,
    strings,
)
from .firewall import port_range

WEB_PORTS = (80, 443)
# Every kind of source a DigitalOcean firewall rule takes but the balancer's own.
_OTHER_SOURCES = ("sourceAddresses", "sourceTags", "sourceDropletIds", "sourceKubernetesIds")


def _in_vpc(props: Mapping[str, Any], args) -> Iterator[str]:
    if not is_set(props, "vpcUuid"):
        yield "load balancer has no vpcUuid: it reaches droplets over the region's default VPC"


def _healthcheck(props: Mapping[str, Any], args) -> Iterator[str]:
    check = props.get("healthcheck") or {}
    protocol = check.get("protocol")
    if protocol not in ("http", "https"):
        yield f"health check protocol is {protocol or 'unset (tcp)'}: a TCP check passes while the app returns 502"
    elif not check.get("path"):
        yield "HTTP health check has no path: it requests / instead of the app's health endpoint"


def _no_plain_http(props: Mapping[str, Any], args) -> Iterator[str]:
    if props.get("redirectHttpToHttps") is True:
        return
    for rule in props.get("forwardingRules") or []:
        if rule.get("entryProtocol") == "http":
            yield f"forwarding rule http:{rule.get('entryPort')} serves plain HTTP and redirectHttpToHttps is off"


def _web_rules(firewall) -> list[Mapping[str, Any]]:
    """The firewall's TCP rules covering 80 or 443 (read through the proxy: in preview a
    balancer's uid is unknown, and `known` would drop the whole list)."""
    out = []
    for rule in items(firewall.props, "inboundRules"):
        ports = port_range(rule)
        if rule.get("protocol") == "tcp" and ports and any(ports[0] <= p <= ports[1] for p in WEB_PORTS):
            out.append(rule)
    return out


def _given(rule: Mapping[str, Any], key: str) -> bool:
    """True when the rule lists sources of that kind; a computed (unknown) list counts."""
    try:
        value = rule.get(key)
        return bool(value) and len(value) > 0
    except UnknownValueError:
        return True


def _names(rule: Mapping[str, Any], lb) -> bool:
    """True when the rule names `lb` by its id (a literal uid)."""
    try:
        return known(lb.props, "id") in strings(plain(rule.get("sourceLoadBalancerUids")))
    except UnknownValueError:
        return False


def _proxy_protocol(args) -> Iterator[tuple[str | None, str]]:
    for firewall in of_type(args, FIREWALL):
        rules = _web_rules(firewall)
        lb_only = rules and all(
            _given(r, "sourceLoadBalancerUids") and not any(_given(r, k) for k in _OTHER_SOURCES) for r in rules
        )
        if not lb_only:
            continue
        deps = {dep.urn for dep in firewall.property_dependencies.get("inboundRules", [])}
        for lb in of_type(args, LOAD_BALANCER):
            behind = lb.urn in deps or any(_names(r, lb) for r in rules)
            if behind and known(lb.props, "enableProxyProtocol") is not True:
                yield (
                    lb.urn,
                    (
                        f"{lb.name} is the droplets' only source on 80/443 but sends no PROXY protocol header: the "
                        "origin sees the balancer's address for every client, so its per-client limits either count "
                        "everyone as one or must believe a client address from anything in the VPC"
                    ),
                )


in_vpc = resource_policy(
    "lb-in-vpc",
    "Load balancers live in the stack's VPC (vpcUuid). DigitalOcean docs: Load Balancers, VPC networking.",
    LOAD_BALANCER,
    _in_vpc,
)
healthcheck = resource_policy(
    "lb-http-healthcheck",
    "Load balancer health checks use HTTP or HTTPS with a path, so a droplet whose app fails leaves the pool. "
    "DigitalOcean docs: Load Balancers, health checks.",
    LOAD_BALANCER,
    _healthcheck,
)
no_plain_http = resource_policy(
    "lb-no-plain-http",
    "Load balancers do not terminate plain HTTP: no forwarding rule with entry protocol http unless "
    "redirectHttpToHttps is on. Trivy AVD-DIG-0002.",
    LOAD_BALANCER,
    _no_plain_http,
)

proxy_protocol = stack_policy(
    "lb-proxy-protocol",
    "A load balancer that is the droplets' only source on ports 80 and 443 has enable_proxy_protocol, so the "
    "origin learns the address each connection came from (and can believe Cloudflare's client header from "
    "Cloudflare's edges only). DigitalOcean docs: Load Balancers, PROXY protocol.",
    _proxy_protocol,
)

POLICIES = [in_vpc, healthcheck, no_plain_http, proxy_protocol]
