"""Each stack evaluates to the graph it promises, the same way every time."""

from __future__ import annotations

from collections import Counter

from testing import contracts, harness
from tests.conftest import recorded

CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"


def _counts(run: harness.Run) -> Counter:
    return Counter(r.type for r in run.resources if r.custom)


def test_staging_inventory():
    c = _counts(recorded("staging"))
    assert c[CLUSTER] == 2  # postgres + one valkey
    assert c["digitalocean:index/databaseConnectionPool:DatabaseConnectionPool"] == 1
    assert c["digitalocean:index/databaseFirewall:DatabaseFirewall"] == 2
    assert c["digitalocean:index/reservedIp:ReservedIp"] == 1
    assert c["digitalocean:index/loadBalancer:LoadBalancer"] == 0
    assert c["digitalocean:index/vpc:Vpc"] == 1
    assert c["digitalocean:index/firewall:Firewall"] == 1


def test_prod_inventory():
    run = recorded("prod")
    c = _counts(run)
    assert c[CLUSTER] == 3  # postgres + valkey broker + valkey cache
    assert c["digitalocean:index/databaseFirewall:DatabaseFirewall"] == 3
    assert c["digitalocean:index/loadBalancer:LoadBalancer"] == 1
    assert c["digitalocean:index/reservedIp:ReservedIp"] == 0
    pg = next(r for r in run.of_type(CLUSTER) if r.inputs["engine"] == "pg")
    assert pg.inputs["nodeCount"] == 2, "prod Postgres is primary + standby"


def _signature(run: harness.Run):
    return [
        (r.urn, r.inputs, r.parent, sorted(r.dependencies), r.protect, r.secret_paths, r.ignore_changes)
        for r in sorted(run.resources, key=lambda r: r.urn)
    ]


def test_running_twice_registers_the_same_graph():
    for stack in harness.stack_files():
        assert _signature(harness.run(stack)) == _signature(recorded(stack))


def test_preview_mode_evaluates_with_unknown_outputs():
    run = recorded("prod", preview=True)
    assert not run.exports["vpc_id"].known
    assert not run.exports["database_url"].known
    assert len(run.resources) == len(recorded("prod").resources)


def test_children_are_named_after_their_parent(run):
    names = {r.urn: r.name for r in run.resources}
    for r in run.resources:
        if r.parent and "pulumi:pulumi:Stack" not in r.parent:
            assert r.name.startswith(names[r.parent]), (r.name, names[r.parent])


def test_environment_export(run):
    expected = {"prod": "Production", "staging": "Staging", "dev": "Development"}[run.stack]
    assert run.exports["environment"].value == expected


# Objects that live inside another (a cluster's databases, users and pools; a check's alerts):
# their names only need to be unique there.
_INNER = {
    "digitalocean:index/databaseDb:DatabaseDb",
    "digitalocean:index/databaseUser:DatabaseUser",
    "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool",
    "digitalocean:index/uptimeAlert:UptimeAlert",
}


def test_every_account_level_object_is_named_after_its_stack(run):
    """Staging and prod can share one DigitalOcean account: each VPC, firewall, tag, droplet,
    load balancer, cluster, bucket, key, volume, project and check carries its stack's name,
    set by us (left unset, Pulumi would add a random suffix), so no two stacks collide and the
    control panel tells whose each one is."""
    named = [
        r
        for r in run.resources
        if r.type.startswith("digitalocean:")
        and r.type not in _INNER
        and "name" in (contracts.schema_entry(r.type) or {}).get("inputProperties", {})
    ]
    assert len(named) >= 5
    for r in named:
        assert run.stack in str(r.inputs.get("name")), (r.type, r.name, r.inputs.get("name"))
