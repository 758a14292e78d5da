"""The CrossGuard pack (policy/): each rule on a violating and a passing case, every stack
clean, and prod mutated one property at a time caught by the rule that owns it.

Everything runs through policy.adapter, which builds pulumi-policy's own argument objects;
no PolicyPack is constructed (that would start the analyzer's gRPC server).
"""

from __future__ import annotations

import copy
import re
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.config import cloudflare_ips
from policy.adapter import Res, Violation, evaluate, evaluate_run
from policy.rules import ALL_POLICIES, pack_config
from tests.conftest import STACKS, recorded

UNKNOWN = UNKNOWN_STRING_VALUE
ADMIN = ["203.0.113.0/24", "2001:db8:a::/48"]
BY_NAME = {p.name: p for p in ALL_POLICIES}
MANDATORY = EnforcementLevel.MANDATORY

T = {
    "droplet": "digitalocean:index/droplet:Droplet",
    "tag": "digitalocean:index/tag:Tag",
    "firewall": "digitalocean:index/firewall:Firewall",
    "lb": "digitalocean:index/loadBalancer:LoadBalancer",
    "cluster": "digitalocean:index/databaseCluster:DatabaseCluster",
    "dbfw": "digitalocean:index/databaseFirewall:DatabaseFirewall",
    "valkeycfg": "digitalocean:index/databaseValkeyConfig:DatabaseValkeyConfig",
    "bucket": "digitalocean:index/spacesBucket:SpacesBucket",
    "key": "digitalocean:index/spacesKey:SpacesKey",
    "alert": "digitalocean:index/monitorAlert:MonitorAlert",
    "uptime": "digitalocean:index/uptimeCheck:UptimeCheck",
    "record": "cloudflare:index/dnsRecord:DnsRecord",
    "setting": "cloudflare:index/zoneSetting:ZoneSetting",
    "ruleset": "cloudflare:index/ruleset:Ruleset",
    "container": "docker:index/container:Container",
    "image": "docker:index/remoteImage:RemoteImage",
    "docker": "pulumi:providers:docker",
    "password": "random:index/randomPassword:RandomPassword",
    "reserved-ip": "digitalocean:index/reservedIp:ReservedIp",
    "pull-cert": "cloudflare:index/authenticatedOriginPullsHostnameCertificate:"
    "AuthenticatedOriginPullsHostnameCertificate",
    "pulls": "cloudflare:index/authenticatedOriginPulls:AuthenticatedOriginPulls",
    "zone-pulls": "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings",
    "zone-pull-cert": "cloudflare:index/authenticatedOriginPullsCertificate:AuthenticatedOriginPullsCertificate",
}


def res(kind: str, resource_name: str = "", protect: bool = False, deps: dict | None = None, **inputs) -> Res:
    return Res(T[kind], resource_name or kind, inputs, protect=protect, property_dependencies=deps or {})


# --------------------------------------------------------------------------- fixtures of good resources

CLOUD_CONFIG = "#cloud-config\ndisable_root: true\nssh_pwauth: false\n"
DROPIN_ONLY = (
    "#cloud-config\nwrite_files:\n- path: /etc/ssh/sshd_config.d/60-x.conf\n"
    "  content: |\n    PasswordAuthentication no\n    PermitRootLogin no\n"
)
SCRIPT = "#!/bin/sh\ncat > /etc/ssh/sshd_config.d/x.conf <<EOF\nPasswordAuthentication no\nPermitRootLogin no\nEOF\n"


def droplet(name: str = "node-0", **over) -> Res:
    inputs = dict(
        sshKeys=["aa:bb"], monitoring=True, vpcUuid="vpc-1", userData=CLOUD_CONFIG, tags=["app"], backups=True
    )
    inputs.update(over)
    return Res(T["droplet"], name, {k: v for k, v in inputs.items() if v is not None})


def firewall(*rules: dict, deps: dict | None = None, **over) -> Res:
    return res("firewall", deps=deps, **{"inboundRules": list(rules), "tags": ["app"], **over})


HALVES = ("0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1")


def rule(ports: str, *sources: str, protocol: str = "tcp", **other) -> dict:
    return {"protocol": protocol, "portRange": ports, "sourceAddresses": list(sources), **other}


def lb(**over) -> Res:
    inputs = dict(
        vpcUuid="vpc-1",
        healthcheck={"protocol": "http", "port": 80, "path": "/health"},
        forwardingRules=[{"entryProtocol": "tcp", "entryPort": 443, "targetProtocol": "tcp", "targetPort": 443}],
    )
    inputs.update(over)
    return res("lb", **{k: v for k, v in inputs.items() if v is not None})


CLUSTER = res("cluster", "db", protect=True, engine="pg", name="db-pg", privateNetworkUuid="vpc-1")


def dbfw(name: str = "dbfw", cluster: Res = CLUSTER, rules=None) -> Res:
    rules = [{"type": "tag", "value": "app"}] if rules is None else rules
    return res("dbfw", name, clusterId="c1", rules=rules, deps={"clusterId": [cluster.urn]})


BROKER = res("cluster", "broker", protect=True, engine="valkey", name="x-broker", privateNetworkUuid="vpc-1")
CACHE = res("cluster", "cache", protect=True, engine="valkey", name="x-cache", privateNetworkUuid="vpc-1")


def valkey_config(cluster: Res, policy: str) -> Res:
    return res(
        "valkeycfg",
        f"{cluster.name}-cfg",
        clusterId="c",
        valkeyMaxmemoryPolicy=policy,
        deps={"clusterId": [cluster.urn]},
    )


def bucket(**over) -> Res:
    inputs = dict(
        acl="private",
        versioning={"enabled": True},
        forceDestroy=False,
        lifecycleRules=[{"enabled": True, "expiration": {"days": 7}}],
    )
    inputs.update(over)
    return res("bucket", protect=True, **inputs)


ALERT_TYPES = {
    "cpu": "v1/insights/droplet/cpu",
    "memory": "v1/insights/droplet/memory_utilization_percent",
    "disk": "v1/insights/droplet/disk_utilization_percent",
}


def alerts(*metrics: str, tags=("app",), emails=("ops@example.com",)) -> list[Res]:
    return [
        res("alert", f"alert-{m}", type=ALERT_TYPES[m], tags=list(tags), enabled=True, alerts={"emails": list(emails)})
        for m in metrics
    ]


def setting(setting_id: str, value, zone: str = "z1") -> Res:
    return res("setting", f"setting-{setting_id}", zoneId=zone, settingId=setting_id, value=value)


HSTS = {"strict_transport_security": {"enabled": True, "max_age": 31536000, "include_subdomains": True}}
ZONE = [setting("ssl", "strict"), setting("min_tls_version", "1.2"), setting("always_use_https", "on")]
ZONE.append(setting("security_header", HSTS))


def record(name: str = "example.com", type_: str = "A", proxied: bool = True) -> Res:
    return res("record", name, name=name, type=type_, proxied=proxied, content="192.0.2.1")


def ratelimit(*characteristics: str) -> Res:
    limit = {"characteristics": list(characteristics), "period": 10, "requestsPerPeriod": 20}
    return res("ruleset", phase="http_ratelimit", rules=[{"expression": "true", "ratelimit": limit}])


def container(name: str = "web", deps: dict | None = None, **over) -> Res:
    inputs = dict(
        name=name,
        image="sha256:" + "a" * 64,
        restart="unless-stopped",
        capabilities={"drops": ["ALL"]},
        securityOpts=["no-new-privileges"],
    )
    inputs.update(over)
    return res("container", name, deps=deps, **{k: v for k, v in inputs.items() if v is not None})


SOCKET_PROXY = "wollomatic/socket-proxy:1.13.1@sha256:" + "c" * 64
SOCKET = [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock", "readOnly": True}]


def pulled(image: str, name: str = "img") -> Res:
    return res("image", name, name=image)


def socket_holder(image: str, volumes=SOCKET, name: str = "sock") -> list[Res]:
    """A container running `image` (through its RemoteImage, as the program passes image ids) with `volumes`."""
    source = pulled(image, f"{name}-image")
    return [source, container(name, volumes=volumes, deps={"image": [source.urn]})]


# A served hostname: its record points at the front door (through the dependency), and the
# stack's hostname certificate is associated with it.
DOOR = res("reserved-ip", "ip", region="nyc3")
PULL_CERT = res("pull-cert", "pull-cert", zoneId="z1", certificate="-----BEGIN CERTIFICATE-----")


def served(name: str = "example.com", zone: str = "z1") -> Res:
    return res("record", name, name=name, type="A", proxied=True, zoneId=zone, content=UNKNOWN,
               deps={"content": [DOOR.urn]})  # fmt: skip


def association(host: str = "example.com", cert: Res | None = PULL_CERT, zone: str = "z1", **config) -> Res:
    entry = {"hostname": host, "certId": UNKNOWN if cert else "foreign-cert", "enabled": True, **config}
    return res("pulls", f"pulls-{host}", zoneId=zone, configs=[entry], deps={"configs": [cert.urn] if cert else []})


def web_firewall(*sources: dict, deps: dict | None = None) -> Res:
    web = [{"protocol": "tcp", "portRange": port, **source} for source in sources for port in ("80", "443")]
    return firewall(rule("22", "203.0.113.0/24"), *web, deps=deps)


BALANCER = lb(enableProxyProtocol=True)


# --------------------------------------------------------------------------- the table


@dataclass
class Case:
    policy: str
    fires: bool
    resources: list[Res]
    config: dict = field(default_factory=dict)
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.policy}-{'fires' if self.fires else 'passes'}-{self.label}"


def bad(policy: str, label: str, *resources: Res | list[Res], **config) -> Case:
    return Case(policy, True, _flat(resources), config, label)


def good(policy: str, label: str, *resources: Res | list[Res], **config) -> Case:
    return Case(policy, False, _flat(resources), config, label)


def _flat(items) -> list[Res]:
    return [r for item in items for r in (item if isinstance(item, list) else [item])]


TAG = res("tag", "app-tag", name="app")
UNKNOWN_TAGGED_DROPLET = Res(
    T["droplet"], "node-u", {"tags": [UNKNOWN], "sshKeys": ["k"]}, property_dependencies={"tags": [TAG.urn]}
)

CASES = [
    # droplets
    good("droplet-ssh-keys", "keys", droplet()),
    good("droplet-ssh-keys", "unknown-fingerprints", droplet(sshKeys=[UNKNOWN])),
    bad("droplet-ssh-keys", "empty", droplet(sshKeys=[])),
    bad("droplet-ssh-keys", "missing", droplet(sshKeys=None)),
    good("droplet-monitoring", "on", droplet()),
    bad("droplet-monitoring", "off", droplet(monitoring=False)),
    bad("droplet-monitoring", "unset", droplet(monitoring=None)),
    good("droplet-in-vpc", "vpc", droplet()),
    good("droplet-in-vpc", "vpc-unknown-in-preview", droplet(vpcUuid=UNKNOWN)),
    bad("droplet-in-vpc", "default-vpc", droplet(vpcUuid=None)),
    good("droplet-ssh-hardened", "cloud-config", droplet()),
    good("droplet-ssh-hardened", "sshd-dropin", droplet(userData=DROPIN_ONLY)),
    good("droplet-ssh-hardened", "shell-script", droplet(userData=SCRIPT)),
    bad("droplet-ssh-hardened", "no-user-data", droplet(userData=None)),
    bad(
        "droplet-ssh-hardened", "password-on", droplet(userData="#cloud-config\ndisable_root: true\nssh_pwauth: true\n")
    ),
    bad("droplet-ssh-hardened", "root-on", droplet(userData="#cloud-config\nssh_pwauth: false\n")),
    bad("droplet-ssh-hardened", "pwauth-beats-dropin", droplet(userData=DROPIN_ONLY + "ssh_pwauth: true\n")),
    bad("droplet-ssh-hardened", "script-without-sshd", droplet(userData="#!/bin/sh\napt-get -y upgrade\n")),
    bad(
        "droplet-ssh-hardened", "dropin-root-only", droplet(userData=DROPIN_ONLY.replace("PasswordAuthentication", "X"))
    ),
    good("droplet-firewall-coverage", "by-tag", droplet(), firewall()),
    good(
        "droplet-firewall-coverage",
        "by-tag-resource",
        TAG,
        UNKNOWN_TAGGED_DROPLET,
        firewall(tags=[UNKNOWN], deps={"tags": [TAG.urn]}),
    ),
    good(
        "droplet-firewall-coverage",
        "by-droplet-id",
        droplet(tags=[]),
        res("firewall", dropletIds=[UNKNOWN], deps={"dropletIds": [droplet().urn]}),
    ),
    bad("droplet-firewall-coverage", "other-tag", droplet(), firewall(tags=["db"])),
    bad("droplet-firewall-coverage", "no-firewall", droplet()),
    good("droplet-backups", "on", droplet()),
    good("droplet-backups", "off-disposable", droplet(backups=False), protect_data=False),
    bad("droplet-backups", "off-protected", droplet(backups=False)),
    # cloud firewall
    good("firewall-no-world-ingress", "cloudflare-only", firewall(rule("443", "173.245.48.0/20"))),
    good(
        "firewall-no-world-ingress",
        "allowed-port",
        firewall(rule("443", "0.0.0.0/0", "::/0")),
        allowed_world_ports=[443],
    ),
    good(
        "firewall-no-world-ingress",
        "ports-as-floats",
        firewall(rule("80-81", "::/0")),
        allowed_world_ports=[80.0, 81.0],
    ),
    bad("firewall-no-world-ingress", "world", firewall(rule("443", "0.0.0.0/0"))),
    bad("firewall-no-world-ingress", "world-spelt-differently", firewall(rule("443", "::0/0"))),
    bad(
        "firewall-no-world-ingress", "range-beyond-allowed", firewall(rule("80-443", "::/0")), allowed_world_ports=[80]
    ),
    bad(
        "firewall-no-world-ingress", "icmp", firewall(rule("", "0.0.0.0/0", protocol="icmp")), allowed_world_ports=[80]
    ),
    bad("firewall-no-world-ingress", "all-ports", firewall(rule("all", "0.0.0.0/0")), allowed_world_ports=[22]),
    good("firewall-ssh-admin-only", "admin-cidrs", firewall(rule("22", "203.0.113.7/32", "2001:db8:a:1::/64"))),
    good("firewall-ssh-admin-only", "web-only", firewall(rule("443", "0.0.0.0/0"))),
    bad("firewall-ssh-admin-only", "world", firewall(rule("22", "0.0.0.0/0"))),
    bad("firewall-ssh-admin-only", "wider-than-admin", firewall(rule("22", "203.0.0.0/16"))),
    bad("firewall-ssh-admin-only", "range-covers-22", firewall(rule("1-1024", "198.51.100.1/32"))),
    bad("firewall-ssh-admin-only", "tag-source", firewall(rule("22", sourceTags=["bastion"]))),
    bad("firewall-ssh-admin-only", "no-admin-cidrs", firewall(rule("22", "203.0.113.7/32")), admin_cidrs=[]),
    good(
        "firewall-sources-bounded",
        "office-vpn-and-cloudflare",
        firewall(rule("22", "203.0.0.0/16", "2001:db8::/32", "2001:db8::/33"), rule("443", *cloudflare_ips.ALL)),
    ),
    good("firewall-sources-bounded", "allowed-port", firewall(rule("443", *HALVES)), allowed_world_ports=[443]),
    # The stack's own sshTrustedCidrs is the pack's adminCidrs: those halves pass firewall-ssh-admin-only.
    bad("firewall-sources-bounded", "ssh-halves", firewall(rule("22", *HALVES[:2])), admin_cidrs=list(HALVES)),
    bad("firewall-sources-bounded", "ssh-v6-halves", firewall(rule("22", *HALVES[2:])), admin_cidrs=list(HALVES)),
    bad(
        "firewall-sources-bounded", "ssh-over-rules", firewall(rule("22", "10.0.0.0/16"), rule("1-100", "10.1.0.0/16"))
    ),
    bad("firewall-sources-bounded", "web-halves", firewall(rule("443", *HALVES))),
    # load balancer
    good("lb-in-vpc", "vpc", lb()),
    bad("lb-in-vpc", "no-vpc", lb(vpcUuid=None)),
    good("lb-http-healthcheck", "http-path", lb()),
    bad("lb-http-healthcheck", "tcp", lb(healthcheck={"protocol": "tcp", "port": 443})),
    bad("lb-http-healthcheck", "no-path", lb(healthcheck={"protocol": "https", "port": 443})),
    good("lb-no-plain-http", "tcp-passthrough", lb()),
    good(
        "lb-no-plain-http",
        "redirected",
        lb(redirectHttpToHttps=True, forwardingRules=[{"entryProtocol": "http", "entryPort": 80.0}]),
    ),
    bad("lb-no-plain-http", "plain-http", lb(forwardingRules=[{"entryProtocol": "http", "entryPort": 80}])),
    good(
        "lb-proxy-protocol",
        "on",
        BALANCER,
        web_firewall({"sourceLoadBalancerUids": [UNKNOWN]}, deps={"inboundRules": [BALANCER.urn]}),
    ),
    good(
        "lb-proxy-protocol",
        "droplets-also-open-to-cloudflare",
        lb(),
        web_firewall({"sourceLoadBalancerUids": ["lb-1"], "sourceAddresses": list(cloudflare_ips.ALL)}),
    ),
    bad(
        "lb-proxy-protocol",
        "off",
        lb(),
        web_firewall({"sourceLoadBalancerUids": [UNKNOWN]}, deps={"inboundRules": [lb().urn]}),
    ),
    bad("lb-proxy-protocol", "off-by-id", lb(id="lb-1"), web_firewall({"sourceLoadBalancerUids": ["lb-1"]})),
    # managed databases
    good("db-cluster-in-vpc", "vpc", CLUSTER),
    bad("db-cluster-in-vpc", "no-vpc", res("cluster", engine="pg")),
    good("db-firewall-per-cluster", "one-by-dependency", CLUSTER, dbfw()),
    good(
        "db-firewall-per-cluster",
        "one-by-id",
        res("cluster", "c", id="c1"),
        res("dbfw", clusterId="c1", rules=[{"type": "tag", "value": "app"}]),
    ),
    bad("db-firewall-per-cluster", "none", CLUSTER),
    bad("db-firewall-per-cluster", "two", CLUSTER, dbfw("fw-a"), dbfw("fw-b")),
    bad("db-firewall-per-cluster", "no-rules", CLUSTER, dbfw(rules=[])),
    bad("db-firewall-per-cluster", "world", CLUSTER, dbfw(rules=[{"type": "ip_addr", "value": "0.0.0.0/0"}])),
    good("data-protected", "protected", CLUSTER, bucket()),
    good("data-protected", "disposable", res("cluster"), res("bucket"), protect_data=False),
    bad("data-protected", "cluster", res("cluster")),
    bad("data-protected", "bucket", res("bucket")),
    good("broker-noeviction", "noeviction", BROKER, valkey_config(BROKER, "noeviction")),
    good("broker-noeviction", "lru-cache", CACHE, valkey_config(CACHE, "allkeys-lru")),
    bad("broker-noeviction", "lru", BROKER, valkey_config(BROKER, "allkeys-lru")),
    bad("broker-noeviction", "no-config", BROKER, valkey_config(CACHE, "noeviction")),
    # spaces
    good("spaces-bucket-not-public", "private", bucket()),
    bad("spaces-bucket-not-public", "public-read", bucket(acl="public-read")),
    good("spaces-bucket-versioning", "on", bucket()),
    bad("spaces-bucket-versioning", "off", bucket(versioning={"enabled": False})),
    bad("spaces-bucket-versioning", "unset", bucket(versioning=None)),
    good("spaces-bucket-no-force-destroy", "off", bucket()),
    good("spaces-bucket-no-force-destroy", "disposable", bucket(forceDestroy=True), protect_data=False),
    bad("spaces-bucket-no-force-destroy", "on", bucket(forceDestroy=True)),
    good("spaces-bucket-expiry", "expires", bucket()),
    bad("spaces-bucket-expiry", "no-rules", bucket(lifecycleRules=[])),
    bad("spaces-bucket-expiry", "disabled", bucket(lifecycleRules=[{"enabled": False, "expiration": {"days": 7}}])),
    good("spaces-key-scoped", "bucket", res("key", grants=[{"bucket": "dumps", "permission": "readwrite"}])),
    bad("spaces-key-scoped", "fullaccess", res("key", grants=[{"bucket": "", "permission": "fullaccess"}])),
    bad("spaces-key-scoped", "all-buckets", res("key", grants=[{"bucket": "", "permission": "read"}])),
    bad("spaces-key-scoped", "no-grants", res("key", name="k")),
    # monitoring
    good("monitor-alerts-cover-droplets", "all-three", droplet(), alerts("cpu", "memory", "disk")),
    good("monitor-alerts-cover-droplets", "dev-without-monitoring", droplet(), protect_data=False),
    bad("monitor-alerts-cover-droplets", "no-disk", droplet(), alerts("cpu", "memory")),
    bad("monitor-alerts-cover-droplets", "other-tag", droplet(), alerts("cpu", "memory", "disk", tags=("db",))),
    bad("monitor-alerts-cover-droplets", "nobody-notified", droplet(), alerts("cpu", "memory", "disk", emails=())),
    bad("monitor-alerts-cover-droplets", "prod-without-monitoring", droplet()),
    good(
        "uptime-check-per-hostname",
        "checked",
        record("example.com"),
        res("uptime", target="https://example.com/health", type="https"),
    ),
    good("uptime-check-per-hostname", "dns-only-record", record("mail.example.com", "MX", proxied=False)),
    bad("uptime-check-per-hostname", "none", record("example.com")),
    bad(
        "uptime-check-per-hostname",
        "only-www",
        record("example.com"),
        res("uptime", target="https://www.example.com/health"),
    ),
    # cloudflare
    good("cloudflare-ssl-strict", "strict", setting("ssl", "strict")),
    bad("cloudflare-ssl-strict", "flexible", setting("ssl", "flexible")),
    bad("cloudflare-ssl-strict", "full", setting("ssl", "full")),
    good("cloudflare-min-tls-1-2", "1.3", setting("min_tls_version", "1.3")),
    bad("cloudflare-min-tls-1-2", "1.0", setting("min_tls_version", "1.0")),
    good("cloudflare-always-use-https", "on", setting("always_use_https", "on")),
    bad("cloudflare-always-use-https", "off", setting("always_use_https", "off")),
    good("cloudflare-hsts", "one-year", setting("security_header", HSTS)),
    good(
        "cloudflare-hsts",
        "six-months-float",
        setting("security_header", {"strict_transport_security": {"enabled": True, "max_age": 15552000.0}}),
    ),
    bad(
        "cloudflare-hsts",
        "one-day",
        setting("security_header", {"strict_transport_security": {"enabled": True, "max_age": 86400}}),
    ),
    bad("cloudflare-hsts", "disabled", setting("security_header", {"strict_transport_security": {"enabled": False}})),
    good("cloudflare-zone-tls-settings-owned", "all-four", ZONE),
    good("cloudflare-zone-tls-settings-owned", "zone-not-managed", record()),
    bad("cloudflare-zone-tls-settings-owned", "ssl-only", setting("ssl", "strict")),
    bad("cloudflare-zone-tls-settings-owned", "second-zone-partial", ZONE, setting("ssl", "strict", zone="z2")),
    good("cloudflare-dns-proxied", "proxied", record()),
    good("cloudflare-dns-proxied", "txt", record("example.com", "TXT", proxied=False)),
    bad("cloudflare-dns-proxied", "grey-cloud", record(proxied=False)),
    bad("cloudflare-dns-proxied", "cname", record("www.example.com", "CNAME", proxied=False)),
    good("cloudflare-ratelimit-by-client", "ip-and-colo", ratelimit("ip.src", "cf.colo.id")),
    bad("cloudflare-ratelimit-by-client", "colo-only", ratelimit("cf.colo.id")),
    bad("cloudflare-ratelimit-by-client", "none", ratelimit()),
    good("cloudflare-origin-pulls-per-hostname", "associated", DOOR, PULL_CERT, served(), association()),
    good(
        "cloudflare-origin-pulls-per-hostname",
        "by-cert-id",
        DOOR,
        res("pull-cert", "c", zoneId="z1", id="cert-1"),
        served(),
        res("pulls", zoneId="z1", configs=[{"hostname": "example.com", "certId": "cert-1", "enabled": True}]),
    ),
    good(
        "cloudflare-origin-pulls-per-hostname",
        "pages-cname-not-served-here",
        DOOR,
        res("record", "app", name="app.example.com", type="CNAME", proxied=True, content="shop.pages.dev"),
    ),
    bad("cloudflare-origin-pulls-per-hostname", "none", DOOR, PULL_CERT, served()),
    bad(
        "cloudflare-origin-pulls-per-hostname",
        "other-hostname",
        DOOR,
        PULL_CERT,
        served(),
        association("www.example.com"),
    ),
    bad("cloudflare-origin-pulls-per-hostname", "disabled", DOOR, PULL_CERT, served(), association(enabled=False)),
    bad("cloudflare-origin-pulls-per-hostname", "no-certificate", DOOR, served(), association(cert=None)),
    bad("cloudflare-origin-pulls-per-hostname", "other-zone", DOOR, PULL_CERT, served(), association(zone="z2")),
    bad(
        "cloudflare-origin-pulls-per-hostname",
        "record-by-address",
        res("lb", "lb", ip="192.0.2.10"),
        record("example.com"),  # content 192.0.2.1 is not the balancer's
        res("lb", "lb2", ip="192.0.2.1"),
    ),
    good("cloudflare-zone-origin-pulls-owner-only", "owner", ZONE, res("zone-pulls", zoneId="z1", enabled=True)),
    good("cloudflare-zone-origin-pulls-owner-only", "per-hostname-only", PULL_CERT, association()),
    bad("cloudflare-zone-origin-pulls-owner-only", "not-owner", res("zone-pulls", zoneId="z1", enabled=True)),
    bad("cloudflare-zone-origin-pulls-owner-only", "zone-cert", ZONE, res("zone-pull-cert", zoneId="z2")),
    bad("cloudflare-zone-origin-pulls-owner-only", "zone-setting", setting("tls_client_auth", "on", zone="z2"), ZONE),
    # containers
    good("container-image-pinned", "image-id", container()),
    good("container-image-pinned", "tag", container(image="nginx:1.27.5-alpine")),
    good("container-image-pinned", "digest", res("image", name="nginx@sha256:" + "b" * 64)),
    good("container-image-pinned", "registry-port-tag", res("image", name="localhost:5000/app:1.2")),
    bad("container-image-pinned", "latest", container(image="nginx:latest")),
    bad("container-image-pinned", "untagged", res("image", name="ghcr.io/example/shop")),
    bad("container-image-pinned", "registry-port-untagged", res("image", name="localhost:5000/app")),
    good("container-restart-policy", "unless-stopped", container()),
    good("container-restart-policy", "one-shot", container("migrate", restart="no", mustRun=False)),
    bad("container-restart-policy", "unset", container(restart=None)),
    bad("container-restart-policy", "no", container(restart="no")),
    good("container-not-privileged", "plain", container()),
    bad("container-not-privileged", "privileged", container(privileged=True)),
    good("container-drops-all-capabilities", "all", container()),
    good(
        "container-drops-all-capabilities", "lower-case", container(capabilities={"drops": ["all"], "adds": ["CHOWN"]})
    ),
    bad("container-drops-all-capabilities", "docker-defaults", container(capabilities=None)),
    bad("container-drops-all-capabilities", "some", container(capabilities={"drops": ["NET_RAW", "MKNOD"]})),
    good(
        "container-capabilities-baseline",
        "nginx",
        container(capabilities={"drops": ["ALL"], "adds": ["CAP_CHOWN", "NET_BIND_SERVICE", "SETGID", "setuid"]}),
    ),
    bad("container-capabilities-baseline", "net-raw", container(capabilities={"drops": ["ALL"], "adds": ["NET_RAW"]})),
    bad("container-capabilities-baseline", "sys-admin", container(capabilities={"adds": ["cap_sys_admin"]})),
    bad("container-capabilities-baseline", "shocker", container(capabilities={"adds": ["CAP_DAC_READ_SEARCH"]})),
    bad("container-capabilities-baseline", "all", container(capabilities={"adds": ["ALL"]})),
    good("container-no-new-privileges", "set", container()),
    good("container-no-new-privileges", "old-separator", container(securityOpts=["no-new-privileges:true"])),
    bad("container-no-new-privileges", "unset", container(securityOpts=None)),
    bad(
        "container-no-new-privileges",
        "turned-off-after",
        container(securityOpts=["no-new-privileges", "no-new-privileges=false"]),
    ),
    good("container-docker-socket-proxy-only", "read-only-proxy", socket_holder(SOCKET_PROXY)),
    good(
        "container-docker-socket-proxy-only",
        "proxy-by-literal-image",
        container("sock", image="docker.io/wollomatic/socket-proxy:1.13.1", volumes=SOCKET),
    ),
    good("container-docker-socket-proxy-only", "other-volumes", container(volumes=[{"hostPath": "/srv/data"}])),
    bad("container-docker-socket-proxy-only", "job-runner", socket_holder("docker:27.5.1-cli")),
    bad(
        "container-docker-socket-proxy-only",
        "writable-proxy",
        socket_holder(SOCKET_PROXY, [{**SOCKET[0], "readOnly": False}]),
    ),
    bad(
        "container-docker-socket-proxy-only",
        "proxy-holds-run",
        socket_holder(SOCKET_PROXY, [{"hostPath": "/run/", "readOnly": True}]),
    ),
    bad(
        "container-docker-socket-proxy-only",
        "bind-mount-of-var-run",
        container("shipper", mounts=[{"type": "bind", "source": "/var/run", "target": "/host", "readOnly": True}]),
    ),
    bad("container-docker-socket-proxy-only", "image-unknown", container("sock", volumes=SOCKET)),
    good("container-image-digest", "digest", pulled(SOCKET_PROXY)),
    good("container-image-digest", "image-id", container()),
    good(
        "container-image-digest",
        "the-apps-own",
        pulled("ghcr.io/acme/shop:1.4.2"),
        app_images=["ghcr.io/acme/shop:1.4.1"],
    ),
    bad(
        "container-image-digest",
        "tag-only",
        pulled("timberio/vector:0.43.1-alpine"),
        app_images=["ghcr.io/acme/shop:1"],
    ),
    bad("container-image-digest", "no-app-images-given", pulled("ghcr.io/acme/shop:1.4.2")),
    good("container-ports-proxy-only", "proxy", container("proxy", ports=[{"internal": 443, "external": 443}])),
    good("container-ports-proxy-only", "web-no-ports", container("web")),
    bad("container-ports-proxy-only", "web-ports", container("web", ports=[{"internal": 8000, "external": 8000}])),
    bad("container-ports-proxy-only", "host-network", container("worker", networkMode="host")),
    good("docker-provider-registry-auth-token", "none", res("docker", host="ssh://deploy@192.0.2.1")),
    good("docker-provider-registry-auth-token", "empty-json", res("docker", host="ssh://d@h", registryAuth="[]")),
    good(
        "docker-provider-registry-auth-token",
        "token",
        res("docker", registryAuth='[{"address":"ghcr.io","username":"u","password":"p"}]'),
    ),
    bad(
        "docker-provider-registry-auth-token",
        "config-file",
        res("docker", registryAuth=[{"address": "ghcr.io", "configFileContent": "{}"}]),
    ),
    bad("docker-provider-registry-auth-token", "no-password", res("docker", registryAuth=[{"address": "ghcr.io"}])),
    good("docker-provider-secure-host", "ssh", res("docker", host="ssh://deploy@192.0.2.1")),
    good("docker-provider-secure-host", "tcp-tls", res("docker", host="tcp://h:2376", certPath="/certs")),
    bad("docker-provider-secure-host", "tcp", res("docker", host="tcp://192.0.2.1:2375")),
    # secrets
    good("random-password-length", "64", res("password", length=64)),
    good("random-password-length", "32-as-float", res("password", length=32.0)),
    bad("random-password-length", "16", res("password", length=16)),
]


def config_for(case: Case) -> dict:
    return pack_config(**{"admin_cidrs": ADMIN, "protect_data": True, **case.config})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_case(case: Case):
    policy = BY_NAME[case.policy]
    found = [v for v in evaluate(case.resources, config_for(case), [policy]) if v.policy == case.policy]
    if case.fires:
        assert found, f"{case.policy} did not report {case.label}"
        assert all(v.level == (policy.enforcement_level or MANDATORY) for v in found), found
    else:
        assert not found, "\n".join(map(str, found))


def test_every_rule_has_a_violating_and_a_passing_case():
    for policy in ALL_POLICIES:
        outcomes = {case.fires for case in CASES if case.policy == policy.name}
        assert outcomes == {True, False}, f"{policy.name} needs a violating and a passing case in CASES"
    assert {c.policy for c in CASES} <= set(BY_NAME), "a case names a policy the pack does not have"


def test_pack_shape():
    names = [p.name for p in ALL_POLICIES]
    assert len(names) == len(set(names))
    for policy in ALL_POLICIES:
        assert policy.name == policy.name.lower() and " " not in policy.name and "_" not in policy.name
        assert policy.enforcement_level in (MANDATORY, EnforcementLevel.ADVISORY)
        assert policy.description.rstrip().endswith(".") and len(policy.description) > 40
    config = pack_config(admin_cidrs=["10.0.0.0/8"], protect_data=False, allowed_world_ports=[443])
    assert config["firewall-ssh-admin-only"] == {"adminCidrs": ["10.0.0.0/8"]}
    assert config["data-protected"] == {"protectData": False}
    assert config["firewall-no-world-ingress"] == {"allowedWorldPorts": [443]}


def test_readme_lists_every_rule_with_its_level():
    readme = (Path(__file__).resolve().parents[2] / "policy" / "README.md").read_text()
    rows = {m[0]: m[1] for m in re.findall(r"^\| `([a-z0-9-]+)` \| (?:resource|stack) \| (\w+) \|", readme, re.M)}
    assert rows == {p.name: (p.enforcement_level or MANDATORY).value for p in ALL_POLICIES}


def test_main_only_assembles_the_pack(monkeypatch):
    """__main__.py run as the CLI runs it, with PolicyPack replaced so no server starts."""
    import pulumi_policy

    built: dict = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    pack_dir = str(Path(__file__).resolve().parents[2] / "policy")
    monkeypatch.syspath_prepend(pack_dir)
    try:
        runpy.run_path(pack_dir, run_name="__main__")
    finally:
        for module in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
            del sys.modules[module]
    assert built["name"] == "webstack"
    assert built["enforcement_level"] == MANDATORY
    assert [p.name for p in built["policies"]] == list(BY_NAME)
    assert set(built["initial_config"]) <= set(BY_NAME)


def test_unknown_values_are_advisory_cant_run():
    """A value unknown in preview makes a rule that needs it an advisory "can't run", never mandatory."""
    found = evaluate([container(image=UNKNOWN)], pack_config(admin_cidrs=ADMIN))
    assert [(v.policy, v.level) for v in found] == [
        ("container-image-pinned", EnforcementLevel.ADVISORY),
        ("container-image-digest", EnforcementLevel.ADVISORY),
    ]


# --------------------------------------------------------------------------- the real stacks


def _report(violations: list[Violation]) -> str:
    return "\n".join(map(str, violations)) or "(none)"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_has_no_mandatory_violation(stack: str):
    violations = evaluate_run(recorded(stack))
    mandatory = [v for v in violations if v.level == MANDATORY]
    assert not mandatory, f"{stack} violates the pack:\n{_report(violations)}"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_preview_has_no_mandatory_violation(stack: str):
    """In preview, ids and addresses are unknown: rules match by dependency or report "can't run"."""
    violations = evaluate_run(recorded(stack, True))  # positional: shares the cache with any_run
    mandatory = [v for v in violations if v.level == MANDATORY]
    assert not mandatory, f"{stack} preview violates the pack:\n{_report(violations)}"


# --------------------------------------------------------------------------- mutations of prod


def _one(resources, name: str):
    return next(r for r in resources if r.name == name)


def _set(resource_name: str, **inputs) -> Callable:
    def mutate(resources):
        _one(resources, resource_name).inputs.update(inputs)

    return mutate


def _drop(name: str) -> Callable:
    def mutate(resources):
        resources.remove(_one(resources, name))

    return mutate


def _unprotect(name: str) -> Callable:
    def mutate(resources):
        _one(resources, name).protect = False

    return mutate


def _ssh_from_world(resources):
    fw = _one(resources, "webstack-prod-firewall")
    fw.inputs["inboundRules"][0]["sourceAddresses"] = ["0.0.0.0/0"]


def _ssh_from_halves(resources):
    """The whole internet without a /0 (the CIDRs config refuses, written into the firewall)."""
    fw = _one(resources, "webstack-prod-firewall")
    fw.inputs["inboundRules"][0]["sourceAddresses"] = list(HALVES)


def _password_login(resources):
    droplet = _one(resources, "webstack-prod-node-1")
    droplet.inputs["userData"] = droplet.inputs["userData"].replace("ssh_pwauth: false", "ssh_pwauth: true")


def _untag(resources):
    _one(resources, "webstack-prod-node-0").inputs["tags"] = ["env:prod"]
    _one(resources, "webstack-prod-node-0").property_dependencies["tags"] = []


def _worker_holds_the_socket(resources):
    worker = _one(resources, "webstack-prod-app-1-worker")
    worker.inputs["volumes"] = [dict(SOCKET[0])]


def _zone_pulls_elsewhere(resources):
    """Zone-level origin pulls for a zone whose settings prod does not manage."""
    resources.append(res("zone-pulls", "zone-wide-pulls", zoneId="another-zone", enabled=True))


MUTATIONS = {
    # policy: (mutation, name of the resource the violation must point at)
    "droplet-monitoring": (_set("webstack-prod-node-0", monitoring=False), "webstack-prod-node-0"),
    "droplet-ssh-hardened": (_password_login, "webstack-prod-node-1"),
    "droplet-firewall-coverage": (_untag, "webstack-prod-node-0"),
    "firewall-ssh-admin-only": (_ssh_from_world, "webstack-prod-firewall"),
    "firewall-no-world-ingress": (_ssh_from_world, "webstack-prod-firewall"),
    "firewall-sources-bounded": (_ssh_from_halves, "webstack-prod-firewall"),
    "lb-no-plain-http": (
        _set("webstack-prod-lb", forwardingRules=[{"entryProtocol": "http", "entryPort": 80}]),
        "webstack-prod-lb",
    ),
    "db-firewall-per-cluster": (_drop("webstack-prod-db-firewall"), "webstack-prod-db-cluster"),
    "data-protected": (_unprotect("webstack-prod-db-cluster"), "webstack-prod-db-cluster"),
    "broker-noeviction": (
        _set("webstack-prod-valkey-broker-config", valkeyMaxmemoryPolicy="allkeys-lru"),
        "webstack-prod-valkey-broker-cluster",
    ),
    "spaces-bucket-no-force-destroy": (
        _set("webstack-prod-backups-bucket", forceDestroy=True),
        "webstack-prod-backups-bucket",
    ),
    "monitor-alerts-cover-droplets": (_drop("webstack-prod-monitoring-disk"), "webstack-prod-node-0"),
    "cloudflare-ssl-strict": (_set("webstack-prod-edge-ssl", value="flexible"), "webstack-prod-edge-ssl"),
    "cloudflare-dns-proxied": (_set("webstack-prod-edge-www", proxied=False), "webstack-prod-edge-www"),
    "container-not-privileged": (_set("webstack-prod-app-1-worker", privileged=True), "webstack-prod-app-1-worker"),
    "container-image-pinned": (
        _set("webstack-prod-app-0-image", name="ghcr.io/example/shop:latest"),
        "webstack-prod-app-0-image",
    ),
    "container-ports-proxy-only": (
        _set("webstack-prod-app-0-web", ports=[{"internal": 8000, "external": 8000}]),
        "webstack-prod-app-0-web",
    ),
    "cloudflare-zone-tls-settings-owned": (_drop("webstack-prod-edge-hsts"), None),
    "uptime-check-per-hostname": (_drop("webstack-prod-monitoring-www-example-com"), "webstack-prod-edge-www"),
    "cloudflare-origin-pulls-per-hostname": (_drop("webstack-prod-edge-origin-pull-www"), "webstack-prod-edge-www"),
    "cloudflare-zone-origin-pulls-owner-only": (_zone_pulls_elsewhere, "zone-wide-pulls"),
    "lb-proxy-protocol": (_set("webstack-prod-lb", enableProxyProtocol=False), "webstack-prod-lb"),
    "container-docker-socket-proxy-only": (_worker_holds_the_socket, "webstack-prod-app-1-worker"),
    "container-capabilities-baseline": (
        _set("webstack-prod-app-0-web", capabilities={"drops": ["ALL"], "adds": ["CAP_CHOWN", "CAP_NET_RAW"]}),
        "webstack-prod-app-0-web",
    ),
    "container-drops-all-capabilities": (
        _set("webstack-prod-jobs-runner", capabilities={"adds": ["CAP_SETGID", "CAP_SETUID"]}),
        "webstack-prod-jobs-runner",
    ),
    "container-no-new-privileges": (_set("webstack-prod-app-0-proxy", securityOpts=[]), "webstack-prod-app-0-proxy"),
}


@pytest.mark.parametrize("policy", MUTATIONS)
def test_prod_mutation_is_caught(policy: str):
    run = recorded("prod")
    mutate, culprit = MUTATIONS[policy]
    resources = copy.deepcopy(run.resources)
    mutate(resources)
    found = [v for v in evaluate_run(run, resources, [BY_NAME[policy]]) if v.policy == policy]
    assert found, f"{policy} missed the mutation"
    assert culprit is None or any(v.urn.endswith(f"::{culprit}") for v in found), _report(found)
    assert not [v for v in evaluate_run(run, policies=[BY_NAME[policy]]) if v.policy == policy]


def test_every_stack_rule_is_mutation_tested():
    """Stack rules match resources to each other: prove each on prod's real graph, not only on synthetic cases."""
    stack_rules = {p.name for p in ALL_POLICIES if isinstance(p, StackValidationPolicy)}
    assert stack_rules <= set(MUTATIONS)


def test_the_world_in_halves_is_caught_even_when_the_stack_lists_it_as_admin():
    """Without the config's refusal (an older program, a hand-edited firewall), the pack's
    adminCidrs come from the stack itself, so only firewall-sources-bounded stands between
    0.0.0.0/1 + 128.0.0.0/1 and SSH from everywhere."""
    fw = firewall(rule("22", *HALVES))
    found = evaluate([fw], pack_config(admin_cidrs=list(HALVES), protect_data=True))
    assert {v.policy for v in found if v.level == MANDATORY} == {"firewall-sources-bounded"}
    assert sorted(v.message for v in found) == [
        f"inbound rules for SSH admit as many IPv{v} addresses as a /0 ({', '.join(HALVES)}); "
        "at most a /16 of IPv4 and a /32 of IPv6"
        for v in (4, 6)
    ] + [
        f"inbound rules for ports outside allowedWorldPorts [] admit as many IPv{v} addresses as a /0 "
        f"({', '.join(HALVES)}); at most a /8 of IPv4 and a /16 of IPv6"
        for v in (4, 6)
    ]


def test_the_ssh_coverage_rule_takes_nothing_from_the_stack():
    """The stack's own config fills adminCidrs (firewall-ssh-admin-only) but never what
    firewall-sources-bounded reads: that rule's line holds whatever the stack lists."""
    from policy.adapter import run_config

    for stack in STACKS:
        assert run_config(recorded(stack))["firewall-sources-bounded"] == {"allowedWorldPorts": []}


def test_the_pack_reads_a_stacks_config_without_the_harness():
    """`python -m policy.adapter <stack> --config` reads the stack file through components.config
    (no program run, no test harness) and gets what the recorded program validated; the
    adapter module itself does not import the harness."""
    import ast

    from policy.adapter import run_config, stack_file_config

    for stack in (*STACKS, "examples/flask-saas"):
        assert stack_file_config(stack) == run_config(recorded(stack)), stack
    root = Path(__file__).resolve().parents[2]
    tree = ast.parse((root / "policy" / "adapter.py").read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not [n for n in top if "testing" in ast.unparse(n)]
    for path in (root / "policy").rglob("*.py"):
        if path.name != "adapter.py":
            assert "testing" not in path.read_text(), path


def test_zone_wide_origin_pulls_are_the_owners_alone():
    """On the real graphs: staging does not own the zone (no zone settings), prod does; the
    same zone-level setting is refused in the one and allowed in the other."""
    policy = BY_NAME["cloudflare-zone-origin-pulls-owner-only"]
    for stack, refused in (("staging", True), ("prod", False)):
        run = recorded(stack)
        (record, *_) = run.of_type(T["record"])
        zone_wide = res("zone-pulls", "zone-wide-pulls", zoneId=record.inputs["zoneId"], enabled=True)
        found = evaluate_run(run, [*run.resources, zone_wide], [policy])
        assert bool(found) == refused, (stack, _report(found))


def test_the_readmes_count_the_rules():
    total = len(ALL_POLICIES)
    mandatory = sum((p.enforcement_level or MANDATORY) == MANDATORY for p in ALL_POLICIES)
    counted = f"{total} rules ({mandatory}\nmandatory, {total - mandatory} advisory)"
    root = Path(__file__).resolve().parents[2]
    for readme in (root / "policy" / "README.md", root / "README.md"):
        text = " ".join(readme.read_text().split())
        assert " ".join(counted.split()) in text, readme


def test_the_pack_and_the_config_draw_the_ssh_line_in_the_same_place():
    from components.config.stack import SSH_SOURCE_LIMIT
    from policy.rules import common

    assert common.SSH_SOURCE_LIMIT == SSH_SOURCE_LIMIT
