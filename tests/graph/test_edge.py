"""Principles 5 and 7: least exposure, proven by an exposure matrix; the zone has one owner."""

from __future__ import annotations

import ipaddress

import pytest

from components.config import cloudflare_ips
from tests.conftest import recorded, recorded_with

FIREWALL = "digitalocean:index/firewall:Firewall"
LB = "digitalocean:index/loadBalancer:LoadBalancer"
DB_FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall"
CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
RECORD = "cloudflare:index/dnsRecord:DnsRecord"

# Sample addresses standing for each kind of source.
SOURCES = {
    "internet": "8.8.8.8",
    "cloudflare": "173.245.48.1",
    "load balancer": "lb",
    "trusted ssh": "203.0.113.9",
    "app tag": "tag",
}
PORTS = ("22", "80", "443", "postgres", "valkey")


def _in(address: str, cidrs: list[str]) -> bool:
    if address in ("lb", "tag"):
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in map(ipaddress.ip_network, cidrs))


def _port_covered(rule: dict, port: int) -> bool:
    lo, _, hi = rule.get("portRange", "").partition("-")
    return bool(lo) and int(lo) <= port <= int(hi or lo)


def _droplet_admits(run, port: int, source: str) -> bool:
    fw = run.one(FIREWALL)
    tag = run.one("digitalocean:index/tag:Tag").inputs["name"]
    for rule in fw.inputs["inboundRules"]:
        if rule["protocol"] != "tcp" or not _port_covered(rule, port):
            continue
        if _in(source, rule.get("sourceAddresses", [])):
            return True
        if source == "lb" and rule.get("sourceLoadBalancerUids"):
            return True
        if source == "tag" and tag in rule.get("sourceTags", []):
            return True
    return False


def _front_door_admits(run, port: int, source: str) -> bool:
    """Reachable at the address the DNS records point at."""
    lbs = run.of_type(LB)
    if not lbs:
        return _droplet_admits(run, port, source)
    lb = lbs[0]
    if source == "lb":
        return _droplet_admits(run, port, source)  # the LB's own path to the droplets
    forwards = any(r["entryPort"] == port for r in lb.inputs["forwardingRules"])
    allowed = [a.removeprefix("cidr:") for a in lb.inputs["firewall"]["allows"] if a.startswith("cidr:")]
    return forwards and _in(source, allowed) and _droplet_admits(run, port, "lb")


def _data_admits(run, engine: str, source: str) -> bool:
    clusters = [c for c in run.of_type(CLUSTER) if c.inputs["engine"] == engine]
    if not clusters:  # container mode: no published port, only the host's docker network
        role = "postgres" if engine == "pg" else "valkey"
        published = [
            c for c in run.of_type("docker:index/container:Container") if role in c.name and c.inputs.get("ports")
        ]
        return source == "tag" and not published
    tag = run.one("digitalocean:index/tag:Tag").inputs["name"]
    verdicts = set()
    for cluster in clusters:
        (fw,) = [f for f in run.of_type(DB_FIREWALL) if cluster.urn in f.property_dependencies["clusterId"]]
        verdicts.add(
            any(
                (r["type"] == "tag" and source == "tag" and r["value"] == tag)
                or (r["type"] == "ip_addr" and source not in ("lb", "tag") and _in(source, [r["value"]]))
                for r in fw.inputs["rules"]
            )
        )
    assert len(verdicts) == 1, "every cluster of an engine admits the same sources"
    return verdicts.pop()


def exposure(run) -> dict[str, dict[str, bool]]:
    table = {}
    for port in PORTS:
        row = {}
        for name, source in SOURCES.items():
            if port == "22":
                row[name] = _droplet_admits(run, 22, source)
            elif port in ("80", "443"):
                row[name] = _front_door_admits(run, int(port), source)
            else:
                row[name] = _data_admits(run, "pg" if port == "postgres" else "valkey", source)
        table[port] = row
    return table


def _row(*admitted: str) -> dict[str, bool]:
    return {name: name in admitted for name in SOURCES}


SINGLE_DROPLET = {
    "22": _row("trusted ssh"),
    "80": _row("cloudflare"),
    "443": _row("cloudflare"),
    "postgres": _row("app tag"),
    "valkey": _row("app tag"),
}
EXPECTED = {
    "dev": SINGLE_DROPLET,
    "staging": SINGLE_DROPLET,
    "prod": {
        "22": _row("trusted ssh"),
        # Port 80 is the load balancer's health check only; Cloudflare reaches 443.
        "80": _row("load balancer"),
        "443": _row("cloudflare", "load balancer"),
        "postgres": _row("app tag"),
        "valkey": _row("app tag"),
    },
}


@pytest.mark.parametrize("stack", sorted(EXPECTED))
def test_exposure_matrix(stack):
    assert exposure(recorded(stack)) == EXPECTED[stack]


def test_the_matrix_can_fail():
    """Opening SSH to the world shows up in the matrix (guards against a vacuous check)."""
    run = recorded("staging")
    fw = run.one(FIREWALL)
    saved = fw.inputs["inboundRules"][0]["sourceAddresses"]
    fw.inputs["inboundRules"][0]["sourceAddresses"] = ["0.0.0.0/0"]
    try:
        assert exposure(run)["22"]["internet"] is True
    finally:
        fw.inputs["inboundRules"][0]["sourceAddresses"] = saved


def test_nothing_admits_the_whole_internet(run):
    world = {"0.0.0.0/0", "::/0"}
    for rule in run.one(FIREWALL).inputs["inboundRules"]:
        assert not world & set(rule.get("sourceAddresses", []))
    for lb in run.of_type(LB):
        assert not {f"cidr:{w}" for w in world} & set(lb.inputs["firewall"]["allows"])
    for fw in run.of_type(DB_FIREWALL):
        assert all(r["type"] == "tag" for r in fw.inputs["rules"])


def test_zone_settings_and_rate_limit_exist_in_prod_only(run):
    settings = {
        s.inputs["settingId"]: s.inputs["value"] for s in run.of_type("cloudflare:index/zoneSetting:ZoneSetting")
    }
    rulesets = run.of_type("cloudflare:index/ruleset:Ruleset")
    if run.stack != "prod":
        assert settings == {} and rulesets == []
        return
    assert settings["ssl"] == "strict"
    assert settings["always_use_https"] == "on"
    assert settings["min_tls_version"] == "1.2"
    assert settings["tls_1_3"] == "on"
    assert settings["automatic_https_rewrites"] == "on"
    hsts = settings["security_header"]["strict_transport_security"]
    assert hsts["enabled"] and hsts["include_subdomains"] and hsts["max_age"] >= 15552000
    (ruleset,) = rulesets
    assert ruleset.inputs["phase"] == "http_ratelimit" and ruleset.inputs["kind"] == "zone"
    (rule,) = ruleset.inputs["rules"]
    assert set(rule["ratelimit"]["characteristics"]) == {"ip.src", "cf.colo.id"}
    for path in run.cfg.app.auth_paths:
        assert f'"{path}"' in rule["expression"]


def test_records_are_proxied_full_names_pointing_at_the_front_door(run):
    records = run.of_type(RECORD)
    assert sorted(r.inputs["name"] for r in records) == sorted(run.cfg.app.hostnames)
    front = run.exports["public_ip"].value
    for r in records:
        assert r.inputs["proxied"] is True and r.inputs["ttl"] == 1
        assert r.inputs["name"] == run.cfg.domain or r.inputs["name"].endswith("." + run.cfg.domain)
        assert r.inputs["type"] == "A" and r.inputs["content"] == front
    doors = run.of_type(LB) or run.of_type("digitalocean:index/reservedIp:ReservedIp")
    assert all(doors[0].urn in r.property_dependencies["content"] for r in records)


ASSOCIATION = "cloudflare:index/authenticatedOriginPulls:AuthenticatedOriginPulls"
PULL_CERT = "cloudflare:index/authenticatedOriginPullsHostnameCertificate:AuthenticatedOriginPullsHostnameCertificate"


def _origin_pulls(run) -> tuple:
    (cert,) = run.of_type(PULL_CERT)
    (client,) = run.of_type("tls:index/locallySignedCert:LocallySignedCert")
    (key,) = [k for k in run.of_type("tls:index/privateKey:PrivateKey") if k.name.endswith("-origin-pull-key")]
    return cert, client, key, run.of_type(ASSOCIATION)


def test_every_served_hostname_sends_this_stacks_own_client_certificate(run):
    """Per hostname, with the stack's certificate: Cloudflare's shared origin-pull certificate
    would be presented by every Cloudflare zone and prove nothing about this one."""
    cert, client, key, associations = _origin_pulls(run)
    assert cert.inputs["certificate"] == client.outputs["certPem"]
    assert cert.inputs["privateKey"] == key.outputs["privateKeyPem"] and "privateKey" in cert.secret_paths
    assert {cert.inputs["zoneId"]} == {r.inputs["zoneId"] for r in run.of_type(RECORD)}
    hosts = []
    for association in associations:
        (config,) = association.inputs["configs"]
        assert config["enabled"] is True and config["certId"] == cert.id
        assert cert.urn in association.property_dependencies["configs"]
        assert association.inputs["zoneId"] == cert.inputs["zoneId"]
        hosts.append(config["hostname"])
    assert sorted(hosts) == sorted(run.cfg.served_hostnames)


def test_public_media_sends_the_client_certificate_too():
    run = recorded_with("prod", {"media": {"enabled": True, "publicHostname": "media.example.com"}})
    *_, associations = _origin_pulls(run)
    assert "media.example.com" in {a.inputs["configs"][0]["hostname"] for a in associations}


def test_no_stack_touches_zone_wide_origin_pulls(run):
    """Per-hostname pulls need no zone-level or global setting (Cloudflare: they are independent
    configurations): no stack turns on the zone's, which would make Cloudflare present its
    shared certificate to every other origin of the zone."""
    types = {r.type for r in run.resources}
    assert not types & {
        "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings",
        "cloudflare:index/authenticatedOriginPullsCertificate:AuthenticatedOriginPullsCertificate",
    }
    settings = {s.inputs["settingId"] for s in run.of_type("cloudflare:index/zoneSetting:ZoneSetting")}
    assert "tls_client_auth" not in settings


def _believed_edges(conf: str) -> set[str]:
    """The CIDRs whose CF-Connecting-IP nginx believes (its `geo $edge_addr` block)."""
    start = conf.index("geo $edge_addr $edge_is_trusted {")
    block = conf[start : conf.index("}", start)].splitlines()[1:]
    return {line.split()[0] for line in block if line.strip().endswith(" 1;")}


def test_nginx_believes_cf_connecting_ip_from_exactly_the_edges_the_front_door_admits(run):
    """What reaches 443 (through the load balancer or directly) is what nginx believes the
    client address from; behind the balancer the edge address is the PROXY protocol source,
    so the VPC (where the balancer's own address lives) is never believed."""
    (proxy,) = [c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-app-0-proxy")]
    conf = next(u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    believed = _believed_edges(conf)
    lbs = run.of_type(LB)
    if lbs:
        edge = {a.removeprefix("cidr:") for a in lbs[0].inputs["firewall"]["allows"]}
        assert lbs[0].inputs["enableProxyProtocol"] is True
        assert "listen 443 ssl http2 proxy_protocol;" in conf and "listen 80 default_server proxy_protocol;" in conf
        assert believed >= edge  # plus Cloudflare's IPv6 ranges, which the IPv4-only balancer never sees
    else:
        (web_rule,) = [r for r in run.one(FIREWALL).inputs["inboundRules"] if r["portRange"] == "443"]
        assert believed == set(web_rule["sourceAddresses"])
        assert "proxy_protocol;" not in conf
    assert believed == set(cloudflare_ips.ALL)
    assert not any(ipaddress.ip_network(run.cfg.vpc_cidr).overlaps(ipaddress.ip_network(c)) for c in believed)


def test_urls_are_exported(run):
    assert run.exports["urls"].value == [f"https://{h}" for h in run.cfg.app.hostnames]
