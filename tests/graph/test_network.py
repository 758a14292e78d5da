"""Only Cloudflare reaches the origin: the pinned ranges are Cloudflare's published
list, and the firewall, the load balancer and nginx's real-IP trust all use exactly that list.

Comparing the firewall with nginx alone would pass if both lost a range (users routed through
it would get errors) or both gained a foreign one (a path around the edge's rate limits)."""

from __future__ import annotations

import pytest

from components.config import cloudflare_ips
from tests.conftest import recorded

# https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6, read 2026-11-22.
PUBLISHED_V4 = {
    "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
    "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22", "198.41.128.0/17",
    "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22",
}  # fmt: skip
PUBLISHED_V6 = {
    "2400:cb00::/32", "2606:4700::/32", "2803:f800::/32", "2405:b500::/32", "2405:8100::/32",
    "2a06:98c0::/29", "2c0f:f248::/32",
}  # fmt: skip
FIREWALL = "digitalocean:index/firewall:Firewall"
LB = "digitalocean:index/loadBalancer:LoadBalancer"


def test_the_pinned_ranges_are_cloudflares_published_list():
    assert (set(cloudflare_ips.IPV4), set(cloudflare_ips.IPV6)) == (PUBLISHED_V4, PUBLISHED_V6)
    assert cloudflare_ips.RANGES_READ_ON == "2026-11-22"


def _web_rules(run) -> dict[str, dict]:
    rules = run.one(FIREWALL).inputs["inboundRules"]
    return {r["portRange"]: r for r in rules if r["portRange"] in ("80", "443")}


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_a_single_droplet_admits_http_and_https_from_cloudflare_only(stack):
    run = recorded(stack)
    assert not run.of_type(LB)
    web = _web_rules(run)
    assert set(web) == {"80", "443"}
    for rule in web.values():
        assert rule["protocol"] == "tcp"
        assert set(rule["sourceAddresses"]) == PUBLISHED_V4 | PUBLISHED_V6
        assert not rule.get("sourceLoadBalancerUids")


def test_behind_a_load_balancer_cloudflare_reaches_the_balancer_and_only_it_the_droplets():
    run = recorded("prod")
    lb = run.one(LB)
    assert set(lb.inputs["firewall"]["allows"]) == {f"cidr:{cidr}" for cidr in PUBLISHED_V4}
    web = _web_rules(run)
    assert set(web) == {"80", "443"}
    for rule in web.values():
        assert rule["sourceLoadBalancerUids"] == [lb.id] and not rule.get("sourceAddresses")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_nginx_restores_the_client_ip_only_from_cloudflare(stack):
    """Behind the balancer too: the edge address comes from the PROXY protocol header the
    balancer writes, and only Cloudflare's edges are believed (never the VPC)."""
    run = recorded(stack)
    trusted = set()
    for c in run.of_type("docker:index/container:Container"):
        if c.inputs["name"] == "proxy":
            conf = next(u["content"] for u in c.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
            start = conf.index("geo $edge_addr $edge_is_trusted {")
            block = conf[start : conf.index("}", start)]
            trusted |= {line.split()[0] for line in block.splitlines()[1:] if line.strip().endswith(" 1;")}
    assert trusted == PUBLISHED_V4 | PUBLISHED_V6
    lbs = run.of_type(LB)
    assert all(lb.inputs["enableProxyProtocol"] is True for lb in lbs)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_droplets_reach_out_to_anywhere(stack):
    """Outbound stays open (image pulls, apt, Spaces, the DigitalOcean API, DNS, NTP): a
    DigitalOcean firewall drops whatever its outbound rules do not name, so a rule without
    destinations would cut the droplets off the internet."""
    (firewall,) = recorded(stack).of_type(FIREWALL)
    world = ["0.0.0.0/0", "::/0"]
    assert sorted(firewall.inputs["outboundRules"], key=lambda r: r["protocol"]) == [
        {"protocol": "icmp", "destinationAddresses": world},
        {"protocol": "tcp", "portRange": "1-65535", "destinationAddresses": world},
        {"protocol": "udp", "portRange": "1-65535", "destinationAddresses": world},
    ]
