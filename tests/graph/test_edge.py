"""Principles 5 and 7: least exposure, proven by an exposure matrix; the zone has one owner.

The matrix says, per stack, which kind of source reaches which port at the address the DNS
records point at (and the droplets' SSH and the data tier), computed from the recorded
firewall, load balancer, DB-firewall inputs and the rendered nginx.conf: 443 is "reached" only
if nginx serves it (this stack's Cloudflare client certificate required), and the row
`client address` says who may choose the address the rate limits count. Beside it: the
address space SSH admits, who reaches the docker API inside a droplet, and what each Spaces
key may do to which bucket.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from pathlib import Path

import pytest

from components.config import cloudflare_ips
from components.config.stack import SSH_SOURCE_LIMIT
from tests.conftest import recorded, recorded_with

FIREWALL = "digitalocean:index/firewall:Firewall"
LB = "digitalocean:index/loadBalancer:LoadBalancer"
DB_FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall"
CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
RECORD = "cloudflare:index/dnsRecord:DnsRecord"
CONTAINER = "docker:index/container:Container"
SOCKET = "/var/run/docker.sock"

# Sample addresses standing for each kind of source.
SOURCES = {
    "internet": "8.8.8.8",
    # This zone's Cloudflare: it presents the client certificate the stack uploaded.
    "cloudflare": "173.245.48.1",
    # A Cloudflare address that does not (another zone, a Worker): the firewall admits it.
    "other zone": "173.245.48.2",
    "load balancer": "lb",
    # Another address of the stack's VPC (a droplet, a managed service, anything DigitalOcean
    # puts there): DigitalOcean's cloud firewalls filter VPC traffic too.
    "vpc": "vpc",
    "trusted ssh": "203.0.113.9",
    "app tag": "tag",
}
# Sources whose TLS connection carries this stack's client certificate: its own zone's
# Cloudflare, and the balancer, which passes that TCP connection through.
PRESENTS_CERTIFICATE = {"cloudflare", "load balancer"}
PORTS = ("22", "80", "443", "postgres", "valkey", "client address")


def _address(run, source: str) -> str:
    if source == "vpc":
        return str(ipaddress.ip_network(run.cfg.vpc_cidr).network_address + 9)
    return source


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
        if _in(_address(run, source), rule.get("sourceAddresses", [])):
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
    return forwards and _in(_address(run, source), allowed) and _droplet_admits(run, port, "lb")


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
                or (r["type"] == "ip_addr" and _in(_address(run, source), [r["value"]]))
                for r in fw.inputs["rules"]
            )
        )
    assert len(verdicts) == 1, "every cluster of an engine admits the same sources"
    return verdicts.pop()


def _confs(run) -> list[str]:
    """Every nginx.conf the stack deploys (one per droplet's proxy)."""
    return [
        u["content"]
        for c in run.of_type(CONTAINER)
        if c.name.endswith("-proxy")
        for u in c.inputs["uploads"]
        if u["file"] == "/etc/nginx/nginx.conf"
    ]


def _servers(conf: str) -> list[str]:
    """The `server { ... }` blocks of a conf (nginx's braces nest inside them)."""
    blocks, start = [], conf.find("server {")
    while start != -1:
        depth, i = 0, start
        while True:
            depth += {"{": 1, "}": -1}.get(conf[i], 0)
            i += 1
            if depth == 0 and conf[i - 1] == "}":
                break
        blocks.append(conf[start:i])
        start = conf.find("server {", i)
    return blocks


def _https_needs_client_certificate(run) -> bool:
    """Every TLS server of every proxy either refuses the handshake (unknown SNI) or requires a
    client certificate signed by the stack's origin-pull CA."""
    confs = _confs(run)
    assert confs, "no proxy conf recorded"
    for conf in confs:
        for server in _servers(conf):
            if "listen 443" not in server or "ssl_reject_handshake on;" in server:
                continue
            if "ssl_verify_client on;" not in server or "origin-pull-ca.pem;" not in server:
                return False
    return True


def _names_the_client(run, source: str) -> bool:
    """May `source` choose the address nginx's rate limits count? It must reach a served TLS
    server, and be either the connection's opener that a PROXY protocol line is read from, an
    address nginx believes CF-Connecting-IP from, or inside a `set_real_ip_from` range."""
    if not _served(run, 443, source):
        return False
    address = _address(run, source)
    for conf in _confs(run):
        if source == "lb" and re.search(r"listen 443 [^;]*proxy_protocol;", conf):
            return True
        if _in(address, sorted(_believed_edges(conf))):
            return True
        if _in(address, re.findall(r"set_real_ip_from (\S+);", conf)):
            return True
    return False


def _served(run, port: int, source: str) -> bool:
    """Reachable at the front door and, on 443, answered by nginx."""
    if not _front_door_admits(run, port, source):
        return False
    if port == 443 and source not in PRESENTS_CERTIFICATE_ADDRESSES:
        return not _https_needs_client_certificate(run)
    return True


PRESENTS_CERTIFICATE_ADDRESSES = {SOURCES[name] for name in PRESENTS_CERTIFICATE}


def exposure(run) -> dict[str, dict[str, bool]]:
    table = {}
    for port in PORTS:
        row = {}
        for name, source in SOURCES.items():
            if port == "22":
                row[name] = _droplet_admits(run, 22, source)
            elif port in ("80", "443"):
                row[name] = _served(run, int(port), source)
            elif port == "client address":
                row[name] = _names_the_client(run, source)
            else:
                row[name] = _data_admits(run, "pg" if port == "postgres" else "valkey", source)
        table[port] = row
    return table


def _row(*admitted: str) -> dict[str, bool]:
    return {name: name in admitted for name in SOURCES}


SINGLE_DROPLET = {
    "22": _row("trusted ssh"),
    # Port 80 answers the health path and redirects everything else: no certificate asked.
    "80": _row("cloudflare", "other zone"),
    "443": _row("cloudflare"),
    "postgres": _row("app tag"),
    "valkey": _row("app tag"),
    # CF-Connecting-IP is believed from Cloudflare's ranges only; the VPC names nobody.
    "client address": _row("cloudflare"),
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
        # The balancer names the edge in its PROXY protocol line, and CF-Connecting-IP is
        # believed when that edge is one of Cloudflare's: nothing in the VPC is believed.
        "client address": _row("cloudflare", "load balancer"),
    },
}


@pytest.mark.parametrize("stack", sorted(EXPECTED))
def test_exposure_matrix(stack):
    assert exposure(recorded(stack)) == EXPECTED[stack]


README_COLUMNS = {
    "internet": "internet",
    "Cloudflare": "cloudflare",
    "other zone": "other zone",
    "load balancer": "load balancer",
    "VPC": "vpc",
    "trusted SSH CIDR": "trusted ssh",
    "app tag": "app tag",
}


def readme_matrix(text: str) -> dict[str, dict[str, dict[str, bool]]]:
    """The README's exposure table as {stack: matrix}: a cell is `all`, `no` or stack names."""
    start = text.index("| port | internet |")
    lines = text[start:].split("\n\n")[0].splitlines()
    header = [c.strip() for c in lines[0].strip().strip("|").split("|")]
    tables: dict[str, dict[str, dict[str, bool]]] = {stack: {} for stack in EXPECTED}
    for line in lines[2:]:
        port, *cells = [c.strip() for c in line.strip().strip("|").split("|")]
        port = {"Postgres": "postgres", "Valkey": "valkey"}.get(port, port)
        for column, cell in zip(header[1:], cells, strict=True):
            stacks = set(EXPECTED) if cell == "all" else set() if cell == "no" else set(cell.split(", "))
            assert stacks <= set(EXPECTED), cell
            for stack in EXPECTED:
                tables[stack].setdefault(port, {})[README_COLUMNS[column]] = stack in stacks
    return tables


def test_the_readmes_exposure_table_is_the_computed_one():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert readme_matrix(readme) == EXPECTED
    opened = readme.replace("| 443 | no | all | no |", "| 443 | no | all | all |")
    assert opened != readme and readme_matrix(opened) != EXPECTED


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


def _swap_conf(run, old: str, new: str) -> None:
    """Edit every recorded nginx.conf of `run` (a copy) in place."""
    for c in run.of_type(CONTAINER):
        for u in c.inputs.get("uploads") or []:
            if c.name.endswith("-proxy") and u["file"] == "/etc/nginx/nginx.conf":
                assert old in u["content"]
                u["content"] = u["content"].replace(old, new)


TRUST_VPC = ("    map $proxy_protocol_addr", "    set_real_ip_from {vpc};\n    map $proxy_protocol_addr")
NO_CERTIFICATE = ("ssl_verify_client on;", "ssl_verify_client optional;")


@pytest.mark.parametrize(
    ("stack", "edits", "row", "source"),
    [
        # nginx no longer requiring the client certificate opens 443 to every Cloudflare zone.
        ("staging", [NO_CERTIFICATE], "443", "other zone"),
        ("prod", [("ssl_verify_client on;", "")], "443", "other zone"),
        # Trusting the VPC to name the client (as the origin did before PROXY protocol), for a
        # VPC host that reaches 443 and is served.
        ("prod", [TRUST_VPC, NO_CERTIFICATE], "client address", "vpc"),
        ("staging", [TRUST_VPC, NO_CERTIFICATE], "client address", "vpc"),
    ],
)
def test_the_origin_rows_can_fail(stack, edits, row, source):
    run = copy.deepcopy(recorded(stack))  # edited below: never the shared recording
    assert exposure(run)[row][source] is False
    for old, new in edits:
        _swap_conf(run, old, new.format(vpc=run.cfg.vpc_cidr))
    if source == "vpc":  # the VPC must also reach 443 for its header to count
        (rule,) = [r for r in run.one(FIREWALL).inputs["inboundRules"] if r["portRange"] == "443"]
        rule.setdefault("sourceAddresses", []).append(run.cfg.vpc_cidr)
        for lb in run.of_type(LB):
            lb.inputs["firewall"]["allows"].append(f"cidr:{run.cfg.vpc_cidr}")
    assert exposure(run)[row][source] is True


def ssh_span(run) -> dict[int, int]:
    """How many addresses, per IP version, port 22 admits (overlaps counted once)."""
    nets = [
        ipaddress.ip_network(a)
        for rule in run.one(FIREWALL).inputs["inboundRules"]
        if rule["protocol"] == "tcp" and _port_covered(rule, 22)
        for a in rule.get("sourceAddresses", [])
    ]
    return {
        v: sum(n.num_addresses for n in ipaddress.collapse_addresses(x for x in nets if x.version == v)) for v in (4, 6)
    }


SSH_SPAN = {"dev": {4: 256, 6: 0}, "staging": {4: 256, 6: 0}, "prod": {4: 257, 6: 0}}


@pytest.mark.parametrize("stack", sorted(SSH_SPAN))
def test_ssh_admits_a_bounded_address_space(stack):
    """What the stack files admit, and under the bound config enforces (a /16 of IPv4, a /32
    of IPv6, all CIDRs together), which the world in halves would break."""
    span = ssh_span(recorded(stack))
    assert span == SSH_SPAN[stack]
    assert span[4] <= 2 ** (32 - SSH_SOURCE_LIMIT[4]) and span[6] <= 2 ** (128 - SSH_SOURCE_LIMIT[6])


def test_the_ssh_span_counts_the_world_in_halves():
    run = copy.deepcopy(recorded("staging"))
    (rule,) = [r for r in run.one(FIREWALL).inputs["inboundRules"] if r["portRange"] == "22"]
    rule["sourceAddresses"] = ["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]
    assert ssh_span(run) == {4: 2**32, 6: 2**128}


def _role(run, name: str) -> str:
    return re.sub(r"-\d+-", "-N-", name.removeprefix(f"webstack-{run.stack}-"))


def docker_api(run) -> dict[str, str]:
    """Inside the droplets, per container role: `socket` if it mounts the docker socket,
    `via <role>` if it shares a network with a container that does, else `no`."""
    containers = run.of_type(CONTAINER)
    nets = {n.inputs["name"]: n for n in run.of_type("docker:index/network:Network")}

    def networks(c):
        return {n["name"] for n in c.inputs.get("networksAdvanced") or []}

    holders = [c for c in containers if any(v.get("hostPath") == SOCKET for v in c.inputs.get("volumes") or [])]
    table = {}
    for c in containers:
        if c in holders:
            (mount,) = [v for v in c.inputs["volumes"] if v.get("hostPath") == SOCKET]
            assert mount.get("readOnly") is True
            assert all(nets[n].inputs.get("internal") is True for n in networks(c)), "a socket on a routed network"
            verdict = "socket"
        else:
            via = sorted(_role(run, h.name) for h in holders if networks(h) & networks(c))
            verdict = f"via {', '.join(via)}" if via else "no"
        role = _role(run, c.name)
        assert table.setdefault(role, verdict) == verdict, f"{role} differs between droplets"
    return table


# Prod runs every kind of container the socket concerns (jobs, logs); what is not listed
# (web, processes, release, admin step, dump, probe, proxy, its check, every job) reaches no
# docker API at all.
DOCKER_API = {
    "jobs-docker": "socket",
    "jobs-runner": "via jobs-docker",
    "logs-N-docker": "socket",
    "logs-N-shipper": "via logs-N-docker",
}


def test_only_the_socket_proxies_hold_the_socket_and_only_their_one_client_reaches_them():
    table = docker_api(recorded("prod"))
    assert {role: v for role, v in table.items() if v != "no"} == DOCKER_API
    for role in ("app-N-web", "app-N-worker", "app-N-beat", "app-N-migrate", "app-N-proxy", "db-grant", "backups-dump"):
        assert table[role] == "no", role
    assert table["jobs-clearsessions"] == "no"


def test_the_docker_api_table_can_fail():
    """Web on the job runner's network would reach the socket proxy (it admits one client by
    name, but the network is the first wall)."""
    run = copy.deepcopy(recorded("prod"))
    (runner,) = [c for c in run.of_type(CONTAINER) if c.name.endswith("-jobs-runner")]
    for web in [c for c in run.of_type(CONTAINER) if c.name.endswith("-web")]:
        web.inputs["networksAdvanced"].append(runner.inputs["networksAdvanced"][0])
    assert docker_api(run)["app-N-web"] == "via jobs-docker"


def spaces_keys(run) -> dict[str, dict]:
    """Per Spaces key: the bucket(s) it may use and their region, whether it may delete in
    them (Spaces' `readwrite` is read, write and delete; `read` is not), and the containers
    that hold it."""
    buckets = {b.inputs["name"]: b for b in run.of_type("digitalocean:index/spacesBucket:SpacesBucket")}
    table = {}
    for key in run.of_type("digitalocean:index/spacesKey:SpacesKey"):
        grants = key.inputs["grants"]
        holders = sorted(
            {
                _role(run, c.name)
                for c in run.of_type(CONTAINER)
                if key.urn in (c.property_dependencies or {}).get("envs", [])
            }
        )
        table[_role(run, key.name)] = {
            "buckets": sorted(f"{g['bucket']} ({buckets[g['bucket']].inputs['region']})" for g in grants),
            "delete": any(g["permission"] in ("readwrite", "fullaccess") for g in grants),
            "holders": holders,
        }
    return table


def test_each_spaces_key_reaches_one_bucket_and_only_its_holders_have_it():
    """The off-site key reaches the off-site bucket only, in another region, and only the dump
    holds it; it can delete there: Spaces has no write-only grant and no Object Lock, so what
    keeps a deleted dump is the bucket's versioning (retentionDays), not the key (open; the
    README's backups section says what that covers)."""
    assert spaces_keys(recorded("prod")) == {
        "backups-key": {"buckets": ["example-com-prod-backups (nyc3)"], "delete": True, "holders": ["backups-dump"]},
        "backups-offsite-key": {
            "buckets": ["example-com-prod-offsite (sfo3)"],
            "delete": True,
            "holders": ["backups-dump"],
        },
        "logs-key": {"buckets": ["example-com-prod-logs (nyc3)"], "delete": True, "holders": ["logs-N-shipper"]},
    }
    media = spaces_keys(recorded_with("staging", {"media": {"enabled": True}}))
    (media_key,) = [k for k in media if k.startswith("media")]
    assert media[media_key]["buckets"] == ["example-com-staging-media (nyc3)"]
    assert {h.split("-")[-1] for h in media[media_key]["holders"]} >= {"web", "worker", "beat"}


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
