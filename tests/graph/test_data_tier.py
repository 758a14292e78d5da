"""Principles 4, 6, 7: data in the VPC behind the app tag, protected in prod, broker never evicts."""

from __future__ import annotations

from tests.conftest import recorded

CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
DB_FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall"
VALKEY_CONFIG = "digitalocean:index/databaseValkeyConfig:DatabaseValkeyConfig"


def test_every_cluster_is_in_the_vpc(run):
    vpc = run.one("digitalocean:index/vpc:Vpc")
    for cluster in run.of_type(CLUSTER):
        assert cluster.inputs["privateNetworkUuid"] == vpc.id
        assert vpc.urn in cluster.property_dependencies["privateNetworkUuid"]


def test_each_cluster_has_exactly_one_firewall_admitting_only_the_app_tag(run):
    tag = run.one("digitalocean:index/tag:Tag").inputs["name"]
    firewalls = run.of_type(DB_FIREWALL)
    for cluster in run.of_type(CLUSTER):
        mine = [f for f in firewalls if cluster.urn in f.property_dependencies["clusterId"]]
        assert len(mine) == 1, cluster.name
        assert mine[0].inputs["rules"] == [{"type": "tag", "value": tag}]
        assert mine[0].delete_before_replace


def test_prod_data_is_protected():
    run = recorded("prod")
    for r in run.of_type(CLUSTER) + run.of_type("digitalocean:index/databaseDb:DatabaseDb"):
        assert r.protect, r.name


def test_staging_protects_nothing():
    assert [r.name for r in recorded("staging").resources if r.protect] == []


def _policy_of(run, cluster):
    configs = [c for c in run.of_type(VALKEY_CONFIG) if cluster.urn in c.property_dependencies["clusterId"]]
    assert len(configs) == 1
    return configs[0].inputs["valkeyMaxmemoryPolicy"]


def test_broker_never_evicts(run):
    brokers = [c for c in run.of_type(CLUSTER) if c.inputs["engine"] == "valkey" and "broker" in c.name]
    for broker in brokers:
        assert _policy_of(run, broker) == "noeviction"
    if run.cfg.valkey.mode == "managed":
        assert len(brokers) == 1


def test_prod_cache_is_lru_on_its_own_cluster():
    run = recorded("prod")
    caches = [c for c in run.of_type(CLUSTER) if c.inputs["engine"] == "valkey" and "cache" in c.name]
    assert len(caches) == 1
    assert _policy_of(run, caches[0]) == "allkeys-lru"
    assert run.exports["cache_url"].value != run.exports["broker_url"].value


def test_urls_use_private_hosts_and_tls(run):
    if run.cfg.database.mode != "managed":
        return
    assert "@private-" in run.exports["database_url"].value
    assert "sslmode=require" in run.exports["database_url"].value
    assert run.exports["broker_url"].value.startswith("rediss://")
    assert "@private-" in run.exports["broker_url"].value


def _seconds(duration: str) -> int:
    assert duration.endswith("s") and duration[:-1].isdigit(), duration
    return int(duration[:-1])


def test_container_mode_data_services_can_turn_healthy_within_the_providers_wait():
    """Dev's Postgres and Valkey containers are created with `wait=True`: the docker provider
    polls for "healthy" for `wait_timeout` (60 s, left at its default) and fails the update
    after that. Docker runs the first probe one `interval` after start, then every `interval`;
    at docker's default of 30 s a server still starting (initdb, an AOF to load) would get one
    more chance inside that minute, at 10 s it gets five. A probe stuck on a hung server is cut
    at `timeout`, before the next one is due."""
    data = [c for c in recorded("dev").of_type("docker:index/container:Container") if c.inputs.get("wait")]
    assert sorted(c.name for c in data) == ["webstack-dev-db-container", "webstack-dev-valkey-container"]
    for container in data:
        check = container.inputs["healthcheck"]
        assert container.inputs.get("waitTimeout", 60) == 60
        interval, timeout = _seconds(check["interval"]), _seconds(check["timeout"])
        assert 60 // interval >= 4, (container.name, interval)
        assert 0 < timeout < interval, (container.name, timeout)


def test_container_postgres_keeps_its_data_in_its_named_volume():
    """Dev's Postgres writes to /var/lib/postgresql/data (the image's PGDATA): that path is the
    named volume, so a replaced container (a new image, a new release) keeps the database."""
    run = recorded("dev")
    (postgres,) = [c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-db-container")]
    (volume,) = [v for v in run.of_type("docker:index/volume:Volume") if v.name.endswith("-db-data")]
    name = volume.inputs.get("name", volume.outputs.get("name"))
    assert postgres.inputs["volumes"] == [{"volumeName": name, "containerPath": "/var/lib/postgresql/data"}]
