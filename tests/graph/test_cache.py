"""Valkey promises: where each URL the app gets actually points.

Celery's broker must never evict; the cache may. With `valkey.splitCache` the cache is its own
allkeys-lru cluster, and CACHE_URL must point at that cluster: another database of the broker
would still work, but cached keys would fill the never-evicting broker until tasks are refused.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import recorded

CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
CONFIG = "digitalocean:index/databaseValkeyConfig:DatabaseValkeyConfig"


def _url(run, name: str):
    export = run.exports[name]
    assert export.secret
    return urlsplit(export.value)


def _valkey(run) -> dict[str, object]:
    """The stack's Valkey clusters by role (broker, cache) and their eviction policies."""
    clusters = {c.name.rsplit("-", 2)[-2]: c for c in run.of_type(CLUSTER) if c.inputs["engine"] == "valkey"}
    policies = {c.inputs["clusterId"]: c.inputs["valkeyMaxmemoryPolicy"] for c in run.of_type(CONFIG)}
    return {role: (c, policies[c.id]) for role, c in clusters.items()}


def _points_at(url, cluster, db: int) -> None:
    out = cluster.outputs
    assert (url.scheme, url.hostname, url.port, url.path) == ("rediss", out["privateHost"], out["port"], f"/{db}")
    assert (url.username, url.password) == (out["user"], out["password"])
    assert parse_qs(url.query) == {"ssl_cert_reqs": ["required"]}


def test_a_split_cache_url_points_at_the_lru_cluster_and_the_broker_url_at_the_broker():
    run = recorded("prod")
    assert run.cfg.valkey.split_cache
    clusters = _valkey(run)
    assert {role: policy for role, (_, policy) in clusters.items()} == {"broker": "noeviction", "cache": "allkeys-lru"}
    _points_at(_url(run, "broker_url"), clusters["broker"][0], 0)
    _points_at(_url(run, "cache_url"), clusters["cache"][0], 0)


def test_without_a_split_the_cache_is_database_1_of_the_broker():
    run = recorded("staging")
    assert not run.cfg.valkey.split_cache
    clusters = _valkey(run)
    assert {role: policy for role, (_, policy) in clusters.items()} == {"broker": "noeviction"}
    _points_at(_url(run, "broker_url"), clusters["broker"][0], 0)
    _points_at(_url(run, "cache_url"), clusters["broker"][0], 1)


def test_in_container_mode_both_urls_reach_the_container_with_its_password():
    run = recorded("dev")
    (container,) = [c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-valkey-container")]
    env = dict(line.split("=", 1) for line in container.inputs["envs"])
    for name, db in (("broker_url", 0), ("cache_url", 1)):
        url = _url(run, name)
        assert (url.scheme, url.hostname, url.port, url.path) == ("redis", container.inputs["name"], 6379, f"/{db}")
        assert (url.username, url.password) == ("default", env["VALKEY_PASSWORD"])


def test_each_valkey_cluster_is_one_node_reachable_privately_and_exported_by_its_private_host():
    """One node per cluster (a standby would double its price and is not configurable here);
    `valkey_host` (the operations commands, the README's runbooks) is the broker's private host."""
    run = recorded("prod")
    roles = _valkey(run)
    assert set(roles) == {"broker", "cache"}
    assert {c.inputs["nodeCount"] for c, _ in roles.values()} == {1}
    broker, _ = roles["broker"]
    assert run.exports["valkey_host"].value == broker.outputs["privateHost"]


def test_nothing_connects_before_the_eviction_policy_and_the_firewall_are_in_place():
    """The URLs carry a gate on each cluster's config and firewall: the app's containers (their
    env holds the URLs) are created only once both exist, so no task lands in a broker that
    still evicts, or on a cluster the droplets cannot reach yet."""
    run = recorded("prod")
    web = next(c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-app-0-web"))
    waits_on = set(web.property_dependencies.get("envs", []))
    for kind in (CONFIG, "digitalocean:index/databaseFirewall:DatabaseFirewall"):
        for cluster, _ in _valkey(run).values():
            (item,) = [r for r in run.of_type(kind) if r.inputs["clusterId"] == cluster.id]
            assert item.urn in waits_on, f"web's env does not wait on {item.name}"


def test_container_valkey_persists_in_its_volume_and_leaves_a_quarter_of_its_memory_free():
    """Dev's container: its append-only file is written to /data, the image's working directory,
    which is the named volume (a replaced container keeps the queue); maxmemory is 3/4 of the
    container's limit (the rest for the AOF rewrite's fork), and docker reports its health."""
    run = recorded("dev")
    (valkey,) = [c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-valkey-container")]
    (mount,) = valkey.inputs["volumes"]
    assert mount["containerPath"] == "/data" and mount["volumeName"]
    limit = valkey.inputs["memory"]
    assert f"--maxmemory {limit * 3 // 4}mb" in valkey.inputs["command"][0]
    assert valkey.inputs["healthcheck"]["tests"][0] == "CMD-SHELL"
    assert "ping" in valkey.inputs["healthcheck"]["tests"][1]
