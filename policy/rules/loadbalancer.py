"""Load balancers: inside the VPC, an HTTP(S) health check on a real path, and no plain
HTTP entry that is not redirected to HTTPS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .common import LOAD_BALANCER, is_set, resource_policy


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

POLICIES = [in_vpc, healthcheck, no_plain_http]
