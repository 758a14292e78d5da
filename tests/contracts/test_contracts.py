"""Provider contracts (testing/contracts.py, data in contracts/): every stack, and every config
variant the test suite runs that registers something the stacks do not, meets what the real
providers enforce; every type and property we use is covered, the check catches a value
broken one at a time, and the data cites its upstream lines.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from components.render import cloudinit
from contracts import regen
from testing import contracts, harness
from tests.conftest import STACKS, recorded, recorded_with
from tests.graph import test_kubernetes
from tests.graph.test_domain_records import PROD as DOMAIN_FEATURES
from tests.graph.test_logship import LOGS
from tests.graph.test_media import PUBLIC as PUBLIC_MEDIA
from tests.graph.test_real_apps import SQLITE
from tests.graph.test_secrets import DOCR_REGISTRY, TOKEN_REGISTRY, USER_SECRETS
from tests.graph.test_volume import ON as VOLUME_ON
from tests.graph.test_volume import PROD_SINGLE, SINGLE

UNKNOWN = harness.UNKNOWN


# --------------------------------------------------------------------------- the variants


@dataclasses.dataclass(frozen=True)
class Part:
    """`--set` overrides (and `--secret` values) of a stack that another test already runs."""

    stack: str
    overrides: dict[str, Any]
    used_by: str  # the test that runs it, and what it registers that the three stacks do not
    secrets: dict[str, str] | None = None
    alone: bool = False  # recorded on its own: its overrides would change the other parts' resources


NODE_PROCESSES = {
    "consumer": {"command": ["node", "consumer.js"], "count": 2, "memoryMb": 256, "stopSeconds": 90},
    "clock": {"command": ["node", "clock.js"], "singleton": True, "memoryMb": 64, "connections": 0},
}
ZONE = "f" * 32
# test_media.py's aliases (its _run): the media key's credentials and the objects' default ACL
# under the AWS SDK's names.
MEDIA_ALIASES = {
    "AWS_ACCESS_KEY_ID": "mediaAccessKeyId",
    "AWS_SECRET_ACCESS_KEY": "mediaSecretAccessKey",
    "AWS_DEFAULT_ACL": "mediaDefaultAcl",
}
# Overrides that only remove resources (monitoring/backups off, test_plan.py) or change values
# no rule reads (proxy options, generated-secret counters, ESC secretEnv) are left out. The
# parts of a stack are recorded together (Variant below), but for the few recorded `alone`:
# 10 recordings instead of 28.
PARTS = {
    "docr": Part(
        "prod",
        {**USER_SECRETS, **DOCR_REGISTRY},
        "test_secrets.py private images: ContainerRegistryDockerCredentials, provider registryAuth from it",
    ),
    "node-processes": Part(
        "prod",
        {"app.processes": NODE_PROCESSES, "app.releaseCommand": None, "app.webCommand": ["node", "server.js"]},
        "test_containers.py processes: other commands, memory, stop timeouts; no release container",
    ),
    "edge-import": Part(
        "prod",
        {"edge.zoneId": ZONE, "edge.import": {"rateLimit": "a" * 32, "records": {"www.example.com": "b" * 32}}},
        "test_provider_truth.py adoption: import ids, a configured zone id",
    ),
    "pro-plan": Part(
        "prod",
        {"edge.plan": "pro", "edge.rateLimitPeriod": 60, "edge.rateLimitTimeout": 3600},
        "test_provider_truth.py zone plans: another rate-limit period and timeout",
    ),
    "public-media": Part(
        "prod",
        {**PUBLIC_MEDIA, "app.envAliases": MEDIA_ALIASES},
        "test_media.py public media: a second SpacesBucket and SpacesKey, SpacesBucketCorsConfiguration "
        "(and no SpacesBucketPolicy: the objects are public by their ACL)",
    ),
    "domain-features": Part(
        "prod",
        DOMAIN_FEATURES,
        "test_domain_records.py: extra DnsRecords (MX priority, CAA data, TXT, AAAA), PagesProject, PagesDomain",
    ),
    "logs": Part("prod", LOGS, "test_logship.py: the logs bucket, its key and a Vector shipper per droplet"),
    "token": Part(
        "dev", {**USER_SECRETS, **TOKEN_REGISTRY}, "test_secrets.py private images: provider registryAuth, a token"
    ),
    "extensions": Part(
        "dev",
        {"database.extensions": ["uuid-ossp", "pgcrypto", "citext"]},
        "test_containers.py extensions: the admin container's script",
    ),
    "secret-alphabets": Part(
        "dev",
        {
            "app.generatedSecrets": {
                "SECRET_KEY": 1,
                "HEX_KEY": {"length": 64, "alphabet": "hex"},
                "ALNUM_KEY": {"length": 32, "alphabet": "alphanumeric", "rotation": 2},
                "B64_KEY": {"length": 32, "alphabet": "base64"},
            }
        },
        "test_real_apps.py secrets in format: RandomPassword with upper, lower and numeric off (hex), "
        "special off (alphanumeric), other specials (base64)",
    ),
    "monitoring": Part(
        "dev",
        {"monitoring.enabled": True, "alertEmails": ["dev@example.com"]},
        "test_operations.py monitoring: alerts and uptime checks in dev",
    ),
    "valkey-none": Part("staging", {"valkey.mode": "none"}, "valkey.mode none: no Valkey, no broker URLs"),
    "slack": Part(
        "staging",
        {},
        "test_operations.py Slack: alerts with a slack channel and url",
        secrets={"slackWebhookUrl": "https://hooks.slack.com/services/" + harness.fake_secret("slack")},
    ),
    "uploaded-ssh-keys": Part(
        "staging", {"sshKeyFingerprints": []}, "test_servers.py key upload: SshKey, droplets keyed by its output"
    ),
    "advanced-certificate": Part(
        "staging",
        {"app.hostnames": ["api.staging.example.com"], "edge.advancedCertificate": True},
        "test_provider_truth.py Universal SSL: a hostname two labels below the apex",
    ),
    "3-replicas": Part(
        "staging",
        {
            "app.replicas": 3,
            "app.webWorkers": 2,
            "app.releaseCommand": None,
            "database.poolSize": 26,
            "database.size": "db-s-2vcpu-4gb",
            "app.processes": {
                "consumer": {"command": ["node", "consumer.js"], "count": 2, "connections": 3, "memoryMb": 128},
                "clock": {"command": ["node", "clock.js"], "singleton": True, "connections": 2, "memoryMb": 64},
            },
        },
        "test_config.py sizing: a load balancer in staging, three droplets and their docker hosts",
    ),
    # A volume needs a single droplet: apart from 3-replicas (staging) and from prod's two droplets.
    "volume": Part(
        "staging",
        {**SINGLE, "volume": VOLUME_ON},
        "test_volume.py: a disposable Volume, the droplet's volumeIds, the read-only volume-backup "
        "container and the bucket's expire-volume lifecycle rule",
        alone=True,
    ),
    "no-database": Part(
        "staging",
        SQLITE,
        "test_real_apps.py database.mode none: no database, the backup container without a dump, "
        "the bucket's volume rule alone",
        alone=True,
    ),
    "protected-volume": Part(
        "prod",
        {**PROD_SINGLE, "volume": VOLUME_ON},
        "test_volume.py: a protected, retained Volume on prod's single droplet, archived like staging's",
        alone=True,
    ),
    # The Kubernetes engine: the cluster, its app pool and the data firewalls' `k8s` rule (the
    # Kubernetes objects themselves are checked against the API schema, tests/graph/test_kubernetes.py).
    "kubernetes": Part(
        "staging",
        test_kubernetes.KUBE,
        "test_kubernetes.py: the DOKS cluster, its autoscaling app pool, the data firewalls admitting it",
        secrets=test_kubernetes.SLACK,
        alone=True,
    ),
}


@dataclasses.dataclass(frozen=True)
class Variant:
    """The parts of one stack in one recording: the check is per resource, and parts set
    disjoint keys (tested), so each part's resources get the values its own test records,
    at the cost of one recording per stack instead of one per part. A part whose overrides
    would change the others' resources (a single droplet) is a variant of its own."""

    stack: str
    parts: tuple[str, ...]
    overrides: dict[str, Any]
    secrets: dict[str, str]


def _group(name: str) -> tuple[str, str]:
    part = PARTS[name]
    return part.stack, name if part.alone else ""


def _variants() -> dict[str, Variant]:
    """One recording per stack of its parts together, and one per part recorded `alone`."""
    out = {}
    for stack, group in dict.fromkeys(map(_group, PARTS)):
        names = tuple(n for n in PARTS if _group(n) == (stack, group))
        overrides = {k: v for n in names for k, v in PARTS[n].overrides.items()}
        secrets = {k: v for n in names for k, v in (PARTS[n].secrets or {}).items()}
        out[f"{stack}+" + "+".join(names)] = Variant(stack, names, overrides, secrets)
    return out


VARIANTS = _variants()
PROD_V, DEV_V, STAGING_V = (next(n for n, v in VARIANTS.items() if v.stack == s) for s in ("prod", "dev", "staging"))
VOLUME_V, PROTECTED_VOLUME_V = "staging+volume", "prod+protected-volume"
RECORDINGS = (*STACKS, *VARIANTS)


PAGES_PROJECT, PAGES_DOMAIN = "cloudflare:index/pagesProject:PagesProject", "cloudflare:index/pagesDomain:PagesDomain"


@pytest.fixture(scope="module", autouse=True)
def _pages_answers():
    """The mocks answer Pages as the API does (as in test_domain_records.py): the project's
    pages.dev name, which the frontend's CNAME points at, and the domain's status."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(
            harness._FAKES,
            PAGES_PROJECT,
            lambda self, key, inputs: (inputs["name"], {"subdomain": f"{inputs['name']}.pages.dev"}),
        )
        mp.setitem(harness._FAKES, PAGES_DOMAIN, lambda self, key, inputs: (inputs["name"], {"status": "initializing"}))
        yield


def recording(name: str, preview: bool = False) -> harness.Run:
    """A stack's recording or a variant's, each made at most once per session and mutant
    (tests.conftest)."""
    if name in STACKS:
        return recorded(name, preview)
    v = VARIANTS[name]
    return recorded_with(v.stack, v.overrides, preview, v.secrets or None)


def _runs() -> list[tuple[str, bool]]:
    return [(s, p) for s in RECORDINGS for p in (False, True)]


# --------------------------------------------------------------------------- every stack and variant is clean


@pytest.mark.parametrize(("stack", "preview"), _runs(), ids=[f"{s}-{'preview' if p else 'up'}" for s, p in _runs()])
def test_stack_meets_the_provider_contracts(stack, preview):
    violations = contracts.check(recording(stack, preview))
    assert not violations, "\n".join(map(str, violations))


def test_each_part_is_in_one_variant_of_its_stack_and_keeps_its_own_values():
    assert all(p.stack in STACKS for p in PARTS.values())
    assert sorted(n for v in VARIANTS.values() for n in v.parts) == sorted(PARTS)
    for v in VARIANTS.values():
        keys = [k for n in v.parts for k in [*PARTS[n].overrides, *(PARTS[n].secrets or {})]]
        shared = {k for k in keys if keys.count(k) > 1}
        assert not shared, f"parts of {v.stack} set the same keys: {shared}"
        assert all(v.overrides[k] == PARTS[n].overrides[k] for n in v.parts for k in PARTS[n].overrides)


# --------------------------------------------------------------------------- coverage


def _custom(name: str) -> list[harness.Resource]:
    return [r for r in recording(name).resources if r.custom]


def _custom_types() -> set[str]:
    return {r.type for name in RECORDINGS for r in _custom(name) if not contracts.delegated(r.type)}


def test_every_recorded_type_has_a_schema_and_a_replacement_entry():
    data = contracts.load()
    for type_ in sorted(_custom_types()):
        assert contracts.schema_entry(type_) is not None, f"{type_}: add it to replacement.yaml and run contracts.regen"
        assert type_ in data.replacement, f"{type_}: not in contracts/replacement.yaml"
    stale = set(data.replacement) - _custom_types()
    assert not stale, f"replacement.yaml lists types no stack or variant registers: {sorted(stale)}"


def test_every_property_we_set_has_rules_or_is_listed_unvalidated():
    missing = set()
    for name in RECORDINGS:
        for r in _custom(name):
            missing |= {(r.type, leaf) for leaf in contracts.set_paths(r) if not contracts.covered(r.type, leaf)}
    assert not missing, (
        "transcribe the upstream validation into rules.yaml, or list under `unvalidated`:\n"
        + "\n".join(f"  {t} {p}" for t, p in sorted(missing))
    )


def test_every_unvalidated_listing_is_set_somewhere():
    """No stale `unvalidated` entry: each names a property some stack or variant sets."""
    set_paths: dict[str, set[str]] = {}
    for name in RECORDINGS:
        for r in _custom(name):
            set_paths.setdefault(r.type, set()).update(contracts.set_paths(r))
    stale = [
        f"{type_} {path}"
        for type_, paths in contracts.load().unvalidated.items()
        for path in paths
        if not any(leaf == path or leaf.startswith((path + ".", path + "[")) for leaf in set_paths.get(type_, ()))
    ]
    assert not stale, "unvalidated lists properties nothing sets:\n" + "\n".join(stale)


def test_every_imported_type_has_its_import_form_and_no_form_is_stale():
    imported = {r.type for name in RECORDINGS for r in _custom(name) if r.import_id}
    forms = set(contracts.load().imports)
    assert imported, "no variant adopts anything: the import forms are untested"
    assert imported == forms, f"imported {sorted(imported)}; rules.yaml imports {sorted(forms)}"
    for spec in contracts.load().imports.values():
        re.compile(spec["pattern"])
        assert spec["sources"] and all(map(_well_formed_source, spec["sources"]))
        assert any("file" in s for s in spec["sources"])


def test_every_path_in_the_data_names_a_schema_property():
    data = contracts.load()
    wrong = [
        f"rules.yaml {r['type']} {r['path']}" for r in data.rules if not contracts.schema_has_path(r["type"], r["path"])
    ]
    for type_, spec in data.replacement.items():
        identity = spec["identity"]
        update = [*spec["update"]["applies"], *spec["update"]["harmless"]]
        for path in [*spec["force_new"], *identity.get("key", []), *identity.get("scope", []), *spec["holds"], *update]:
            if not contracts.schema_has_path(type_, path):
                wrong.append(f"replacement.yaml {type_} {path}")
    for type_, paths in data.unvalidated.items():
        wrong += [f"unvalidated {type_} {p}" for p in paths if not contracts.schema_has_path(type_, p)]
    assert not wrong, "\n".join(wrong)


def test_force_new_agrees_with_the_schema_where_the_schema_says():
    """SDKv2-bridged schemas flag ForceNew inputs willReplaceOnChanges: both lists must agree on what we set."""
    data = contracts.load()
    set_by_us: dict[str, set[str]] = {}
    for name in RECORDINGS:
        for r in recording(name).resources:
            set_by_us.setdefault(r.type, set()).update(k for k, v in r.inputs.items() if v is not None)
    for type_, spec in data.replacement.items():
        entry = contracts.schema_entry(type_)
        flagged = {k for k, v in entry["inputProperties"].items() if v.get("willReplaceOnChanges")}
        if not flagged:
            continue  # framework and native providers decide at plan time; the transcription stands alone
        listed = {p for p, src in spec["force_new"].items() if not src.get("conditional")}
        assert listed <= flagged, f"{type_}: listed force-new but not willReplaceOnChanges: {listed - flagged}"
        updated = {*spec["update"]["applies"], *spec["update"]["harmless"]}
        assert not updated & listed, f"{type_}: force-new and updated in place: {updated & listed}"
        unlisted = (flagged & set_by_us.get(type_, set())) - listed
        assert not unlisted, f"{type_}: we set force-new inputs missing from replacement.yaml: {unlisted}"


# --------------------------------------------------------------------------- the vendored schemas


@pytest.mark.parametrize("provider", sorted(contracts.load().schemas))
def test_vendored_schema_names_its_upstream_and_matches_the_pinned_sdk(provider):
    schema = contracts.load().schemas[provider]
    upstream = schema["upstream"]
    for key in ("repo", "tag", "path", "pinned_sdk"):
        assert upstream.get(key), f"{provider}: upstream.{key} missing"
    assert upstream["pinned_sdk"] == f"pulumi_{provider}=={regen.sdk_version(provider)}", "requirements.txt moved"
    assert upstream.get("from") in ("schema.json", "sdk"), provider
    if upstream["from"] == "schema.json":
        assert re.fullmatch(r"[0-9a-f]{40}", upstream.get("commit") or ""), f"{provider}: upstream.commit missing"
    else:
        assert upstream["tag"] == f"v{regen.sdk_version(provider)}", f"{provider}: derived from another SDK"
    tokens = regen.used_tokens(provider)
    assert sorted([*schema["resources"], *(["pulumi:providers:" + provider] if "provider" in schema else [])]) == tokens
    drift = regen.differences(schema, regen.sdk_schema(provider, tokens))
    assert drift == upstream["pinned_sdk_drift"], (
        f"{provider}: the pinned SDK and the vendored schema differ otherwise than recorded; "
        f"regenerate (python -m contracts.regen ...):\n" + "\n".join(drift)
    )


# --------------------------------------------------------------------------- the data is well-formed

KINDS = {
    "enum": ["values"],
    "range": [],
    "length": [],
    "regex": ["pattern"],
    "not_regex": ["pattern"],
    "nonzero": [],
    "ipv4": [],
    "cidr": [],
    "ip_or_cidr": [],
    "duration": [],
    "required": [],
    "requires": ["other"],
    "contains": ["value"],
    "sorted": [],
    "keys": ["values"],
    "absent": [],
    "conflicts": ["other"],
    "canonical_ip": [],
}


def _well_formed_source(source: dict) -> bool:
    if "url" in source:
        return source["url"].startswith("https://")
    return (
        all(source.get(k) for k in ("repo", "tag", "file", "text"))
        and re.fullmatch(r"[0-9a-f]{40}", source.get("commit", ""))
        and isinstance(source.get("line"), int)
        and source["line"] > 0
    )


def test_every_rule_is_well_formed_and_cites_a_file_and_line():
    for rule in contracts.load().rules:
        where = f"{rule['type']} {rule['path']} {rule['kind']}"
        assert rule["kind"] in KINDS, where
        assert all(k in rule for k in KINDS[rule["kind"]]), f"{where}: needs {KINDS[rule['kind']]}"
        if rule["kind"] == "range":
            assert "min" in rule or "max" in rule, where
        if "pattern" in rule:
            re.compile(rule["pattern"])
        assert rule.get("category", "validation") in ("validation", "readback"), where
        assert rule["sources"] and all(map(_well_formed_source, rule["sources"])), where
        assert any("file" in s and "line" in s for s in rule["sources"]), f"{where}: no file:line source"


def test_every_replacement_entry_cites_its_lines():
    for type_, spec in contracts.load().replacement.items():
        for prop, source in spec["force_new"].items():
            assert "file" in source and _well_formed_source(source), f"{type_} force_new {prop}"
        identity = spec["identity"]
        if identity.get("unique"):
            assert "key" in identity, f"{type_}: a unique identity names its key"
            assert identity.get("sources") and all(map(_well_formed_source, identity["sources"])), type_
        for prop, held in spec["holds"].items():
            assert held["sources"] and all(map(_well_formed_source, held["sources"])), f"{type_} holds {prop}"
            assert any("file" in s for s in held["sources"]), f"{type_} holds {prop}: no file:line source"
        update = spec["update"]
        assert update["source"] and _well_formed_source(update["source"]), f"{type_}: update cites no Update"
        for kind in ("applies", "harmless"):
            for prop, source in update[kind].items():
                assert _well_formed_source(source), f"{type_} update {kind} {prop}"
        assert all(src.get("why") for src in update["harmless"].values()), f"{type_}: a harmless input says why"
        if update["all"]:
            assert not update["applies"] and not update["harmless"], f"{type_}: `all` lists nothing else"


# --------------------------------------------------------------------------- the check bites


@dataclasses.dataclass(frozen=True)
class Case:
    """Break one recorded value; the check must name `path` (default: the mutated one) and cite `source`."""

    stack: str  # a stack or a variant (VARIANTS)
    type: str
    mutate: Callable[[harness.Resource], harness.Resource]
    source: str
    name: str = ""  # a part of the resource name, when the type has several
    path: str = ""


def put(path: str, value) -> Callable[[harness.Resource], harness.Resource]:
    """A mutation writing `value` at `path` (`a.b[0].c`); `...` deletes the property."""

    def mutate(r: harness.Resource) -> harness.Resource:
        keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
        node = r.inputs
        for key in keys[:-1]:
            node = node[key]
        if value is ...:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
        return r

    mutate.path = path
    return mutate


def no_dbr(r: harness.Resource) -> harness.Resource:
    return dataclasses.replace(r, delete_before_replace=False)


no_dbr.path = "delete_before_replace"


def no_replace_on_changes(r: harness.Resource) -> harness.Resource:
    """The resource as registered without replace_on_changes (the program before it said so)."""
    return dataclasses.replace(r, replace_on_changes=[])


def adopt(import_id: str) -> Callable[[harness.Resource], harness.Resource]:
    """A mutation setting the `import` resource option."""

    def mutate(r: harness.Resource) -> harness.Resource:
        return dataclasses.replace(r, import_id=import_id)

    mutate.path = contracts.IMPORT_PATH
    return mutate


DO, CF = "digitalocean:index/", "cloudflare:index/"
POOL, VALKEY = DO + "databaseConnectionPool:DatabaseConnectionPool", DO + "databaseValkeyConfig:DatabaseValkeyConfig"
CLUSTER, DROPLET, FIREWALL = DO + "databaseCluster:DatabaseCluster", DO + "droplet:Droplet", DO + "firewall:Firewall"
MONITOR, UPTIME, CHECK = (
    DO + "monitorAlert:MonitorAlert",
    DO + "uptimeAlert:UptimeAlert",
    DO + "uptimeCheck:UptimeCheck",
)
BUCKET, KEY, LB = DO + "spacesBucket:SpacesBucket", DO + "spacesKey:SpacesKey", DO + "loadBalancer:LoadBalancer"
PROJECT, ASSIGN = DO + "project:Project", DO + "reservedIpAssignment:ReservedIpAssignment"
RULESET, ORIGIN = CF + "ruleset:Ruleset", CF + "originCaCertificate:OriginCaCertificate"
RECORD, SETTING = CF + "dnsRecord:DnsRecord", CF + "zoneSetting:ZoneSetting"
CONTAINER, DOCKER = "docker:index/container:Container", "pulumi:providers:docker"
TLS_KEY, PASSWORD = "tls:index/privateKey:PrivateKey", "random:index/randomPassword:RandomPassword"
LIMIT, WEB, PROXY = "rules[0].ratelimit", "app-0-web", "app-0-proxy"
DB_CONTAINER = "db-container"
CREDS = DO + "containerRegistryDockerCredentials:ContainerRegistryDockerCredentials"
SSH_KEY = DO + "sshKey:SshKey"
CORS = DO + "spacesBucketCorsConfiguration:SpacesBucketCorsConfiguration"
MX, SPF, CAA, AAAA = "-mx-", "-txt-spf1", "-caa-", "-aaaa-"
VOLUME = DO + "volume:Volume"


MUTATIONS = {
    "valkey policy with underscore": Case(
        "prod", VALKEY, put("valkeyMaxmemoryPolicy", "allkeys_lru"), "valkey_config.go:147"
    ),
    "pool mode": Case("prod", POOL, put("mode", "bogus"), "connection_pool.go:52"),
    "pool name too short": Case("prod", POOL, put("name", "ap"), "connection_pool.go:38"),
    "pool size of wrong type": Case("prod", POOL, put("size", "40"), "schema.json"),
    "pool without delete_before_replace": Case("prod", POOL, no_dbr, "connection_pool.go:126"),
    "cluster maintenance day": Case(
        "prod", CLUSTER, put("maintenanceWindows[0].day", "funday"), "cluster.go:112", "db"
    ),
    "cluster maintenance hour": Case(
        "prod", CLUSTER, put("maintenanceWindows[0].hour", "25:00"), "cluster.md:144", "db"
    ),
    "cluster engine": Case("prod", CLUSTER, put("engine", "postgres"), "database_cluster.md:120", "db"),
    "cluster size slug": Case("prod", CLUSTER, put("size", "large"), "database_cluster.md:121", "db"),
    "cluster without version": Case("prod", CLUSTER, put("version", ...), "database_cluster.go:323", "db"),
    "droplet backup hour off the 4h grid": Case("prod", DROPLET, put("backupPolicy.hour", 5), "droplet.md:43"),
    "droplet backup plan": Case("prod", DROPLET, put("backupPolicy.plan", "monthly"), "resource_droplet.go:174"),
    "droplet backup policy without backups": Case(
        "prod", DROPLET, put("backups", False), "resource_droplet.go:414", path="backupPolicy"
    ),
    "droplet unknown property": Case("prod", DROPLET, put("bogusProp", 1), "schema.json"),
    "droplet missing required size": Case("prod", DROPLET, put("size", ...), "schema.json"),
    "droplet tag": Case("prod", DROPLET, put("tags[0]", "has space"), "tags.go:14"),
    "firewall protocol": Case("prod", FIREWALL, put("inboundRules[0].protocol", "sctp"), "firewalls.go:81"),
    "firewall port format": Case("prod", FIREWALL, put("inboundRules[0].portRange", "ssh"), "firewall.md:87"),
    "firewall tcp rule without ports": Case("prod", FIREWALL, put("outboundRules[0].portRange", ...), "firewall.go:52"),
    "firewall source address": Case("prod", FIREWALL, put("inboundRules[0].sourceAddresses[0]", "x"), "firewall.md:91"),
    "monitor window": Case("prod", MONITOR, put("window", "15m"), "monitor_alert.go:152"),
    "monitor compare": Case("prod", MONITOR, put("compare", ">"), "monitor_alert.go:70"),
    "monitor type": Case("prod", MONITOR, put("type", "cpu"), "monitor_alert.go:35"),
    "uptime alert period": Case("prod", UPTIME, put("period", "4m"), "uptime_alert.go:71"),
    "uptime alert comparison": Case("prod", UPTIME, put("comparison", "more"), "uptime_alert.go:62", "latency"),
    "uptime check region": Case("prod", CHECK, put("regions[0]", "mars"), "uptime_check.md:30"),
    "bucket acl": Case("prod", BUCKET, put("acl", "public"), "spaces_bucket.md:77"),
    "bucket region": Case("prod", BUCKET, put("region", "nyc1"), "spaces_bucket.go:51"),
    "spaces key permission": Case("prod", KEY, put("grants[0].permission", "write"), "spaces_key.md:66"),
    "lb health check interval": Case("prod", LB, put("healthcheck.checkIntervalSeconds", 1), "loadbalancer.go:288"),
    "lb port": Case("prod", LB, put("forwardingRules[0].entryPort", 0), "loadbalancer.go:225"),
    "vpc range": Case("prod", DO + "vpc:Vpc", put("ipRange", "10.40.0.0"), "resource_vpc.go:57"),
    "project environment": Case("prod", PROJECT, put("environment", "Prod"), "resource_project.go:58"),
    "project reserved ip urn": Case(
        "staging", PROJECT, put("resources[0]", "do:reservedip:198.51.100.7"), "projects.go:153"
    ),
    "reserved ip assignment": Case("staging", ASSIGN, put("ipAddress", "2001:db8::1"), "ip_assignment.go:34"),
    "ratelimit period": Case("prod", RULESET, put(f"{LIMIT}.period", 30), "parameters.mdx:110"),
    "ratelimit mitigation timeout": Case("prod", RULESET, put(f"{LIMIT}.mitigationTimeout", 5), "parameters.mdx:175"),
    "ratelimit requests per period": Case("prod", RULESET, put(f"{LIMIT}.requestsPerPeriod", 0), "schema.go:2319"),
    "ratelimit without cf.colo.id": Case(
        "prod", RULESET, put(f"{LIMIT}.characteristics", ["ip.src"]), "parameters.mdx:41"
    ),
    "ratelimit action": Case("prod", RULESET, put("rules[0].action", "skip"), "parameters.mdx:133"),
    "ruleset phase": Case("prod", RULESET, put("phase", "http_ratelimits"), "ruleset/schema.go:96"),
    "ruleset rule without ref": Case("prod", RULESET, put("rules[0].ref", ...), "ruleset/resource.go:343"),
    "ruleset without delete_before_replace": Case("prod", RULESET, no_dbr, "rulesets.mdx:27"),
    "origin hostnames unsorted": Case(
        "prod",
        ORIGIN,
        put("hostnames", ["www.example.com", "example.com"]),
        "github.com/cloudflare/terraform-provider-cloudflare/issues/5392",
    ),
    "origin request type": Case("prod", ORIGIN, put("requestType", "origin-dsa"), "certificate/schema.go:41"),
    "origin validity": Case("prod", ORIGIN, put("requestedValidity", 100), "certificate/schema.go:60"),
    "dns record type": Case("prod", RECORD, put("type", "AA"), "dns_record/schema.go:74"),
    "dns record ttl": Case("prod", RECORD, put("ttl", 30), "dns_record/schema.go:346"),
    "dns record content": Case("prod", RECORD, put("content", "not-an-ip"), "dns_record/schema.go:54"),
    "dns record without ttl": Case("prod", RECORD, put("ttl", ...), "pulumi_cloudflare 6.23.1"),
    "zone setting ssl": Case("prod", SETTING, put("value", "fullest"), "zone_setting.md:78", "-ssl"),
    "zone setting tls": Case("prod", SETTING, put("value", "1.4"), "zone_setting.md:54", "min-tls"),
    "zone setting id": Case("prod", SETTING, put("settingId", "ssl_mode"), "zone_setting.md:23", "-ssl"),
    "hsts key": Case(
        "prod",
        SETTING,
        put("value.strict_transport_security.maxAge", 1),
        "zone_setting.md:132",
        "hsts",
        path="value.strict_transport_security",
    ),
    "container restart": Case("prod", CONTAINER, put("restart", "sometimes"), "container.go:235", WEB),
    "container log driver": Case("prod", CONTAINER, put("logDriver", "file"), "logdrivers_linux.go:11", WEB),
    "container log opt": Case("prod", CONTAINER, put("logOpts.max-files", "3"), "jsonfilelog.go:167", WEB, "logOpts"),
    "container healthcheck interval": Case(
        "dev", CONTAINER, put("healthcheck.interval", "10 s"), "container.go:1064", DB_CONTAINER
    ),
    "container healthcheck test": Case(
        "dev", CONTAINER, put("healthcheck.tests[0]", "RUN"), "health.go:332", DB_CONTAINER
    ),
    "probe network mode by name": Case(
        "prod", CONTAINER, put("networkMode", "container:web-0d512006"), "daemon_unix.go:410", "app-0-probe"
    ),
    "container memory below the daemon minimum": Case("prod", CONTAINER, put("memory", 4), "daemon_unix.go:421", WEB),
    "container memory without swap": Case(
        "prod", CONTAINER, put("memorySwap", ...), "daemon_unix.go:334", WEB, "memory"
    ),
    "container name": Case("prod", CONTAINER, put("name", "-web"), "names.go:9", WEB),
    "container without delete_before_replace": Case("prod", CONTAINER, no_dbr, "daemon/errors.go:68", PROXY),
    "docker provider host of wrong type": Case("prod", DOCKER, put("host", 5), "schema.json"),
    "tls key algorithm": Case("prod", TLS_KEY, put("algorithm", "DSA"), "private_key.go:63"),
    "tls key curve": Case("prod", TLS_KEY, put("ecdsaCurve", "P999"), "private_key.go:87"),
    "password length": Case("prod", PASSWORD, put("length", 0), "resource_password.go:588"),
    # ------------------------------------------------------------ the variants' own types and properties
    "docr registry name empty": Case(PROD_V, CREDS, put("registryName", ""), "docker_credentials.go:41"),
    "docr registry name format": Case(PROD_V, CREDS, put("registryName", "Shop_Images"), "registry_create.yml:7"),
    "docr expiry beyond the maximum": Case(PROD_V, CREDS, put("expirySeconds", 1576800001), "docker_credentials.go:52"),
    "docr write of wrong type": Case(PROD_V, CREDS, put("write", "false"), "schema.json"),
    "registry auth without address": Case(PROD_V, DOCKER, put("registryAuth[0].address", ""), "provider.go:112"),
    "registry auth password without username": Case(
        DEV_V, DOCKER, put("registryAuth[0].username", ...), "provider.go:327", path="registryAuth[0].password"
    ),
    "registry auth empty username": Case(DEV_V, DOCKER, put("registryAuth[0].username", ""), "provider.go:355"),
    "registry auth unknown key": Case(DEV_V, DOCKER, put("registryAuth[0].token", "x"), "schema.json"),
    "ssh key public key empty": Case(STAGING_V, SSH_KEY, put("publicKey", ""), "ssh_key.go:42"),
    "ssh key name empty": Case(STAGING_V, SSH_KEY, put("name", ""), "ssh_key.go:34"),
    "ssh key without public key": Case(STAGING_V, SSH_KEY, put("publicKey", ...), "schema.json"),
    "monitor slack url empty": Case(STAGING_V, MONITOR, put("alerts.slacks[0].url", ""), "monitor_alert.go:121"),
    "uptime slack url empty": Case(STAGING_V, UPTIME, put("notifications[0].slacks[0].url", ""), "uptime_alert.go:105"),
    "ruleset import id form": Case(PROD_V, RULESET, adopt("a" * 32), "ruleset/resource.go:252"),
    "ruleset import id of another zone": Case(
        PROD_V, RULESET, adopt(f"zones/{'e' * 32}/{'a' * 32}"), "ruleset/resource.go:252"
    ),
    "dns record import id form": Case(
        PROD_V, RECORD, adopt(f"zones/{ZONE}/{'b' * 32}"), "dns_record/resource.go:244", "-www"
    ),
    "dns record import id of another zone": Case(
        PROD_V, RECORD, adopt(f"{'e' * 32}/{'b' * 32}"), "dns_record/resource.go:244", "-www"
    ),
    "import of a type without an import form": Case("prod", DROPLET, adopt("12345"), "contracts/rules.yaml"),
    # ------------------------------------------------------------ media (SpacesBucketCorsConfiguration)
    "cors region": Case(PROD_V, CORS, put("region", "nyc1"), "bucket_cors_configuration.go:36"),
    "cors method": Case(PROD_V, CORS, put("corsRules[0].allowedMethods[0]", "PATCH"), "cors_configuration.md:73"),
    "cors without methods": Case(PROD_V, CORS, put("corsRules[0].allowedMethods", []), "cors_configuration.go:51"),
    "cors without origins": Case(PROD_V, CORS, put("corsRules[0].allowedOrigins", []), "cors_configuration.go:56"),
    "cors origin with a path": Case(
        PROD_V, CORS, put("corsRules[0].allowedOrigins[0]", "https://example.com/"), "cors_configuration.md:74"
    ),
    "cors rule id too long": Case(PROD_V, CORS, put("corsRules[0].id", "r" * 256), "cors_configuration.go:67"),
    "cors without rules": Case(PROD_V, CORS, put("corsRules", []), "cors_configuration.go:40"),
    "cors without region": Case(PROD_V, CORS, put("region", ...), "schema.json"),
    # ------------------------------------------------------------ Pages (PagesProject, PagesDomain)
    "pages project without production branch": Case(PROD_V, PAGES_PROJECT, put("productionBranch", ...), "schema.json"),
    "pages project name of wrong type": Case(PROD_V, PAGES_PROJECT, put("name", 5), "schema.json"),
    "pages project unknown property": Case(PROD_V, PAGES_PROJECT, put("subdomain", "x.pages.dev"), "schema.json"),
    "pages domain without delete_before_replace": Case(PROD_V, PAGES_DOMAIN, no_dbr, "pages_domain/schema.go:31"),
    "pages domain without project": Case(PROD_V, PAGES_DOMAIN, put("projectName", ...), "schema.json"),
    # ------------------------------------------------------------ extra DNS records (edge.records)
    "mx priority out of range": Case(PROD_V, RECORD, put("priority", 70000), "dns_record/schema.go:67", MX),
    "mx without priority": Case(PROD_V, RECORD, put("priority", ...), "dns_record/schema.go:64", MX),
    "priority on a txt record": Case(PROD_V, RECORD, put("priority", 10), "dns_record/custom.go:207", SPF),
    "mx content with a trailing dot": Case(
        PROD_V, RECORD, put("content", "mx1.mail.example.net."), "resource_test.go:1675", MX
    ),
    "mx content in capitals": Case(PROD_V, RECORD, put("content", "MX1.mail.example.net"), "custom.go:165", MX),
    "mx content an address": Case(PROD_V, RECORD, put("content", "203.0.113.25"), "rfc1035#section-3.3.9", MX),
    "txt content unquoted": Case(PROD_V, RECORD, put("content", "v=spf1 -all"), "dns-record-types.mdx:249", SPF),
    "txt string over 255": Case(PROD_V, RECORD, put("content", '"' + "x" * 256 + '"'), "dns-record-types.mdx:249", SPF),
    "txt content over 2048": Case(
        PROD_V, RECORD, put("content", " ".join(['"' + "x" * 255 + '"'] * 9)), "dns-record-types.mdx:259", SPF
    ),
    "aaaa not canonical": Case(
        PROD_V, RECORD, put("content", "2001:0db8:0000:0000::0025"), "dns-record-types.mdx:38", AAAA
    ),
    "caa with content as well": Case(
        PROD_V, RECORD, put("content", '0 issue "letsencrypt.org"'), "dns_record/schema.go:105", CAA, "data"
    ),
    "caa tag": Case(PROD_V, RECORD, put("data.tag", "issues"), "dns_record/schema.go:119", CAA),
    "caa flags": Case(PROD_V, RECORD, put("data.flags", 256), "dns_record/schema.go:113", CAA),
    "caa value quoted": Case(PROD_V, RECORD, put("data.value", '"letsencrypt.org"'), "record_config_caa.tf:8", CAA),
    # ------------------------------------------------------------ the volume (webstack:volume)
    "volume filesystem type": Case(VOLUME_V, VOLUME, put("initialFilesystemType", "ext3"), "resource_volume.go:74"),
    "volume size zero": Case(VOLUME_V, VOLUME, put("size", 0), "resource_volume.go:53"),
    "volume name with an underscore": Case(VOLUME_V, VOLUME, put("name", "example_com-data"), "volume.md:54"),
    "volume without delete_before_replace": Case(VOLUME_V, VOLUME, no_dbr, "delete_volume_by_name.yml:7"),
    "droplet with a volume without delete_before_replace": Case(VOLUME_V, DROPLET, no_dbr, "volume_base.yml:18"),
    "droplet volume id empty": Case(VOLUME_V, DROPLET, put("volumeIds[0]", ""), "resource_droplet.go:377"),
    "volume beyond 16 TiB": Case(PROTECTED_VOLUME_V, VOLUME, put("size", 16385), "volume_action_post_resize.yml:9"),
    # ------------------------------------------------------------ silent updates (replacement.yaml `update`)
    "backups bucket renamed in place": Case(
        "prod", BUCKET, no_replace_on_changes, "resource_spaces_bucket.go:271", "-backups-bucket", "name"
    ),
    "media bucket renamed in place": Case(
        PROD_V, BUCKET, no_replace_on_changes, "resource_spaces_bucket.go:271", "-media-bucket", "name"
    ),
    "offsite bucket renamed in place": Case(
        "prod", BUCKET, no_replace_on_changes, "resource_spaces_bucket.go:271", "-backups-offsite", "name"
    ),
    "heartbeat alert moved to another check in place": Case(
        "prod", UPTIME, no_replace_on_changes, "uptime_alert.go:160", "-backups-stale", "checkId"
    ),
    "logs bucket renamed in place": Case(
        PROD_V, BUCKET, no_replace_on_changes, "resource_spaces_bucket.go:271", "-logs-bucket", "name"
    ),
    "cors moved to another bucket in place": Case(
        PROD_V, CORS, no_replace_on_changes, "bucket_cors_configuration.go:133", path="bucket"
    ),
    "postgres container healthcheck changed in place": Case(
        "dev", CONTAINER, no_replace_on_changes, "container_funcs.go:991", DB_CONTAINER, "healthcheck"
    ),
    "valkey container healthcheck changed in place": Case(
        "dev", CONTAINER, no_replace_on_changes, "container_funcs.go:991", "valkey-container", "healthcheck"
    ),
    "web init changed in place": Case("prod", CONTAINER, no_replace_on_changes, "container_funcs.go:991", WEB, "init"),
    "jobs runner init changed in place": Case(
        "prod", CONTAINER, no_replace_on_changes, "container_funcs.go:991", "jobs-runner", "init"
    ),
    "uptime alert moved to another check in place": Case(
        "prod", UPTIME, no_replace_on_changes, "uptime_alert.go:160", path="checkId"
    ),
    # tmpfs is not force-new and not in Update's list either: a container that sets it must replace on it.
    "container tmpfs": Case(
        "prod",
        CONTAINER,
        lambda r: put("tmpfs", {"/tmp": "rw"})(no_replace_on_changes(r)),
        "container_funcs.go:991",
        PROXY,
        "tmpfs",
    ),
}


def _first(stack: str, type_: str, name: str = "") -> harness.Resource:
    """A copy of the first recorded `type_` (named `*name*`) of a stack or variant, a provider's
    config decoded from its JSON strings so that mutations can reach into it."""
    r = next(r for r in recording(stack).resources if r.type == type_ and name in r.name)
    return dataclasses.replace(r, inputs=copy.deepcopy(contracts.inputs_of(r)))


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_a_broken_value_is_reported_with_its_property_and_source(case):
    c = MUTATIONS[case]
    path = c.path or c.mutate.path

    def matching(violations: list[contracts.Violation]) -> list[contracts.Violation]:
        return [v for v in violations if v.path == path and c.source in v.source]

    assert not matching(contracts.check_resource(_first(c.stack, c.type, c.name))), (
        "the recorded value breaks it already"
    )
    violations = contracts.check_resource(c.mutate(_first(c.stack, c.type, c.name)))
    assert matching(violations), f"expected a violation at {path} citing {c.source}; got:\n" + "\n".join(
        map(str, violations)
    )


SPACES_POLICY = DO + "spacesBucketPolicy:SpacesBucketPolicy"


def _with_bucket_policy(name: str) -> tuple[list[harness.Resource], harness.Resource]:
    """The resources of a recording (copies) and a SpacesBucketPolicy on its media bucket, as
    the program registered it before media went policy-free (components/cloud/media.py)."""
    resources = [dataclasses.replace(r, inputs=copy.deepcopy(r.inputs)) for r in recording(name).resources]
    bucket = next(r for r in resources if r.type == BUCKET and r.name.endswith("-media-bucket"))
    policy_name = bucket.name.removesuffix("-bucket") + "-public-read"
    prefix, _ = bucket.urn.rsplit("::", 1)
    policy = dataclasses.replace(
        bucket,
        urn=prefix.replace(BUCKET, SPACES_POLICY) + "::" + policy_name,
        id="",
        type=SPACES_POLICY,
        name=policy_name,
        inputs={"bucket": bucket.inputs["name"], "region": bucket.inputs["region"], "policy": "{}"},
        property_dependencies={},
        outputs={},
    )
    return [*resources, policy], policy


def test_a_bucket_policy_beside_a_limited_key_is_reported_and_not_beside_a_full_access_one():
    """No stack or variant registers a bucket policy any more, so the clean-stack tests cannot
    show the `exclusive` rule at work: it must still report one added beside the media key."""
    assert not any(r.type == SPACES_POLICY for r in recording(PROD_V).resources)
    resources, policy = _with_bucket_policy(PROD_V)
    (found,) = contracts.check_exclusive(resources)
    assert (found.name, found.path, found.value) == (policy.name, "bucket", policy.inputs["bucket"])
    assert "media-key" in found.rule and "configure-bucket-policies" in found.source
    run = harness.Run(stack=PROD_V, preview=False, config={}, resources=resources, exports={})
    assert found in contracts.check(run), "the check the stacks are held to reports it"
    (key,) = [r for r in resources if r.type == KEY and r.inputs["grants"][0]["bucket"] == policy.inputs["bucket"]]
    key.inputs["grants"] = [{"bucket": "", "permission": "fullaccess"}]
    assert not contracts.check_exclusive(resources)
    key.inputs["grants"] = [{"bucket": policy.inputs["bucket"], "permission": UNKNOWN}]
    assert not contracts.check_exclusive(resources), "an unknown permission is not judged"
    assert not contracts.check_exclusive(recording(PROD_V).resources), "no policy, nothing to report"


def test_unknown_values_are_tolerated():
    r = _first("prod", VALKEY)
    r.inputs["valkeyMaxmemoryPolicy"] = UNKNOWN
    assert not contracts.check_resource(r)
    ruleset = _first("prod", RULESET)
    ruleset.inputs["rules"][0]["ratelimit"] = UNKNOWN
    ruleset.inputs["zoneId"] = UNKNOWN
    assert not contracts.check_resource(ruleset)


def test_a_derived_identity_needs_no_delete_before_replace():
    """A name that comes from another resource's output can change with the replacement."""
    pool = dataclasses.replace(_first("prod", POOL), delete_before_replace=False)
    assert contracts.check_replacement(pool)
    derived = dataclasses.replace(pool, property_dependencies={**pool.property_dependencies, "name": ["urn:x"]})
    assert not contracts.check_replacement(derived)


def test_a_silent_update_is_excused_only_by_replacing_or_ignoring_it():
    """The rename of a bucket is reported until the program replaces (or ignores) it on that
    change; a type whose Update sends every changed input has nothing to report."""
    bucket = no_replace_on_changes(_first("prod", BUCKET, "-backups-bucket"))
    assert [v.path for v in contracts.check_update(bucket)] == ["name"]
    assert not contracts.check_update(dataclasses.replace(bucket, replace_on_changes=["name"]))
    assert not contracts.check_update(dataclasses.replace(bucket, ignore_changes=["name"]))
    # forceDestroy is read at delete only (documented harmless); acl is sent by Update.
    assert {"forceDestroy", "acl"} <= set(bucket.inputs)
    record = _first("prod", RECORD)
    assert contracts.load().replacement[RECORD]["update"]["all"]
    assert not contracts.check_update(dataclasses.replace(record, inputs={**record.inputs, "comment": "x"}))


def _daemon_log_config(droplet: harness.Resource) -> tuple[str, dict[str, str]]:
    """The log driver and options of the docker daemon a droplet's cloud-init writes."""
    config = yaml.safe_load(droplet.inputs["userData"])
    (daemon,) = [f for f in config["write_files"] if f["path"] == cloudinit.DOCKER_DAEMON_PATH]
    settings = json.loads(daemon["content"])
    return settings["log-driver"], settings["log-opts"]


@pytest.mark.parametrize("stack", STACKS)
def test_containers_send_every_log_option_the_daemon_would_merge_in(stack):
    """The daemon adds each of its default log options a container lacks (moby daemon/logs.go
    mergeAndVerifyLogConfig) and the provider reads the merged map back into `log_opts`, which
    forces a replacement: every container must already send what the daemon would add, or
    every container is replaced on every run."""
    run = recording(stack)
    (daemon,) = {json.dumps(_daemon_log_config(d)) for d in run.of_type(DROPLET)}
    driver, defaults = json.loads(daemon)
    containers = run.of_type(CONTAINER)
    assert containers and defaults
    for c in containers:
        sent = c.inputs["logOpts"]
        assert c.inputs["logDriver"] == driver, c.name
        assert {**defaults, **sent} == sent, f"{c.name}: the daemon adds {sorted(set(defaults) - set(sent))}"


def test_the_cli_prints_violations_and_fails(monkeypatch, capsys):
    bad = dataclasses.replace(_first("prod", VALKEY), inputs={"clusterId": "c", "valkeyMaxmemoryPolicy": "allkeys_lru"})
    run = harness.Run(stack="x", preview=False, config={}, resources=[bad], exports={})
    monkeypatch.setattr(harness, "run", lambda stack, preview=False: run)
    assert contracts.main(["x"]) == 1
    out = capsys.readouterr().out
    assert "valkeyMaxmemoryPolicy" in out and "resource_database_valkey_config.go:147" in out
    assert json.dumps("allkeys_lru") in out


def test_the_schema_check_is_jsonschema_on_the_vendored_schemas():
    """Types, required and unknown properties are judged by jsonschema (Draft 2020-12) on each
    provider's vendored schema turned into JSON Schema; unknown values fit any type."""
    import jsonschema

    r = _first("prod", RULESET)
    validator = contracts._validator(r.type)
    assert validator.META_SCHEMA == jsonschema.Draft202012Validator.META_SCHEMA  # an extension of 2020-12
    jsonschema.Draft202012Validator.check_schema(validator.schema)
    assert not contracts.check_schema(r)
    broken = dataclasses.replace(r, inputs=copy.deepcopy(r.inputs))
    broken.inputs["rules"][0]["enabled"] = "yes"
    broken.inputs["rules"][0]["colour"] = "red"
    del broken.inputs["phase"]
    found = {(v.path, v.rule) for v in contracts.check_schema(broken)}
    assert found == {
        ("rules[0].enabled", "schema type boolean, got str"),
        ("rules[0].colour", "schema: no such property"),
        ("phase", "schema: required property missing"),
    }
    broken.inputs["phase"] = contracts.UNKNOWN
    broken.inputs["rules"][0] = contracts.UNKNOWN
    assert not contracts.check_schema(broken)
