"""Managed databases: inside the VPC, behind exactly one DB firewall that admits no one from
the world, protected where data must be kept, and a Celery broker that never evicts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .common import (
    DB_CLUSTER,
    DB_FIREWALL,
    SPACES_BUCKET,
    VALKEY_CONFIG,
    is_set,
    is_world,
    known,
    of_type,
    protect_data,
    refers_to,
    resource_policy,
    stack_policy,
)

REDIS_CONFIG = "digitalocean:index/databaseRedisConfig:DatabaseRedisConfig"
# The maxmemory-policy input of each engine's config resource.
EVICTION_KEYS = {VALKEY_CONFIG: "valkeyMaxmemoryPolicy", REDIS_CONFIG: "maxmemoryPolicy"}
BROKER_MARK = "broker"


def _in_vpc(props: Mapping[str, Any], args) -> Iterator[str]:
    if not is_set(props, "privateNetworkUuid"):
        yield "database cluster has no privateNetworkUuid: it lands in the region's default VPC"


def _firewall_per_cluster(args) -> Iterator[tuple[str | None, str]]:
    firewalls = of_type(args, DB_FIREWALL)
    for cluster in of_type(args, DB_CLUSTER):
        mine = [fw for fw in firewalls if refers_to(fw, "clusterId", cluster)]
        if len(mine) != 1:
            # Each DatabaseFirewall replaces the cluster's whole rule set: two would overwrite each other.
            yield cluster.urn, f"cluster {cluster.name} has {len(mine)} DatabaseFirewall resources; exactly 1 expected"
        for fw in mine:
            rules = known(fw.props, "rules") or []
            if not rules:
                yield fw.urn, f"DB firewall {fw.name} has no rules: the cluster would admit every source"
            for rule in rules:
                if rule.get("type") == "ip_addr" and is_world(rule.get("value")):
                    yield fw.urn, f"DB firewall {fw.name} admits {rule.get('value')}"


def _data_protected(args) -> Iterator[tuple[str | None, str]]:
    if not protect_data(args):
        return
    for resource in of_type(args, DB_CLUSTER, SPACES_BUCKET):
        if not resource.opts.protect:
            yield resource.urn, f"{resource.name} holds data but is not protected (ResourceOptions protect=True)"


def _is_broker(cluster) -> bool:
    engine = known(cluster.props, "engine")
    name = known(cluster.props, "name") or cluster.name
    return engine in ("valkey", "redis") and BROKER_MARK in str(name)


def _broker_noeviction(args) -> Iterator[tuple[str | None, str]]:
    configs = of_type(args, *EVICTION_KEYS)
    for cluster in filter(_is_broker, of_type(args, DB_CLUSTER)):
        policies = [
            known(c.props, EVICTION_KEYS[c.resource_type]) for c in configs if refers_to(c, "clusterId", cluster)
        ]
        if not policies:
            yield cluster.urn, f"broker cluster {cluster.name} has no config resource setting its maxmemory policy"
        for policy in policies:
            if policy != "noeviction":
                yield cluster.urn, f"broker cluster {cluster.name} evicts ({policy}): queued Celery tasks get lost"


in_vpc = resource_policy(
    "db-cluster-in-vpc",
    "Managed database clusters live in the stack's VPC (privateNetworkUuid). "
    "DigitalOcean docs: VPC best practices; How to Secure PostgreSQL Managed Database Clusters.",
    DB_CLUSTER,
    _in_vpc,
)
firewall_per_cluster = stack_policy(
    "db-firewall-per-cluster",
    "Every managed database cluster has exactly one DatabaseFirewall (matched on clusterId), with rules, none of "
    "them an ip_addr of 0.0.0.0/0 or ::/0. DigitalOcean docs: How to Secure PostgreSQL Managed Database "
    "Clusters (restrict incoming connections).",
    _firewall_per_cluster,
)
data_protected = stack_policy(
    "data-protected",
    "Where the stack protects data, database clusters and Spaces buckets carry protect=True, so `pulumi destroy` "
    "refuses them. DigitalOcean Managed Databases shared responsibility model (protect the cluster's data).",
    _data_protected,
    config=("protectData",),
)
broker_noeviction = stack_policy(
    "broker-noeviction",
    "The Celery broker (a valkey/redis cluster whose name contains 'broker') has a config resource with "
    "maxmemory policy noeviction. Celery docs: Using Redis (broker); DigitalOcean docs: Valkey eviction policy.",
    _broker_noeviction,
)

POLICIES = [in_vpc, firewall_per_cluster, data_protected, broker_noeviction]
