"""The Kubernetes engine's config: `engine`, `cluster`, `autoscale` on web and processes, and
the rules refusing what the engine cannot do, each proven on both sides of its boundary."""

from __future__ import annotations

import pytest

from components.config import ConfigError, connections_needed
from components.config.cluster import KUBERNETES_VERSIONS
from components.config.sizing import node_allocatable
from testing import harness

# Staging on the Kubernetes engine: no droplet size there, room for every pod at its most.
KUBE = {
    "engine": "kubernetes",
    "app.dropletSize": None,
    "cluster.maxNodes": 5,
    "database.size": "db-s-1vcpu-2gb",
    "database.poolSize": 30,
}
SCALE = {"min": 1, "max": 5, "cpuPercent": 70, "memoryPercent": 80}


def _problems(overrides: dict, stack: str = "staging", base: dict | None = KUBE) -> list[str]:
    try:
        harness.parsed_config(stack, {**(base or {}), **overrides})
    except ConfigError as err:
        return [line.removeprefix("  - ") for line in str(err).splitlines()[1:]]
    return []


def _keys(lines: list[str]) -> list[str]:
    return [line.split(" = ")[0].removeprefix("webstack:") for line in lines]


def test_the_engine_defaults_to_droplets_and_staging_runs_on_kubernetes_unchanged_otherwise():
    assert harness.parsed_config("staging").engine == "droplets"
    cfg = harness.parsed_config("staging", KUBE)
    assert (cfg.engine, cfg.cluster.version, cfg.cluster.ha) == ("kubernetes", "1.35", False)
    assert _problems({"engine": "kubernetes"}, base=None)[0].startswith("webstack:app.dropletSize = 's-1vcpu-2gb'")


def test_the_default_version_is_one_the_validator_ships_a_strict_schema_for():
    import kubernetes_validate.utils as kv

    shipped = {kv.major_minor(v) for v in kv.all_versions()}
    assert set(KUBERNETES_VERSIONS) <= shipped
    assert _keys(_problems({"cluster.version": "1.33"})) == ["cluster.version"]


def test_autoscale_and_cluster_need_the_kubernetes_engine():
    lines = _problems({"app.replicas": None, "app.autoscale": SCALE}, base={"app.dropletSize": None})
    assert _keys(lines) == ["app.autoscale"] and "engine is droplets" in lines[0]
    assert _keys(_problems({"cluster.ha": True}, base=None)) == ["cluster"]
    assert _keys(_problems({"app.processes.worker.autoscale": SCALE}, base=None)) == ["app.processes.worker.autoscale"]


def test_autoscale_bounds_and_a_target():
    assert _problems({"app.replicas": None, "app.autoscale": SCALE}) == []
    assert _keys(_problems({"app.replicas": None, "app.autoscale": {**SCALE, "min": 6}})) == ["app.autoscale.min"]
    no_target = {"min": 1, "max": 3}
    assert _keys(_problems({"app.replicas": None, "app.autoscale": no_target})) == ["app.autoscale"]
    assert _problems({"app.replicas": None, "app.autoscale": {"max": 3, "memoryPercent": 80}}) == []
    # The autoscaler owns the count: an explicit replicas with it is refused.
    assert _keys(_problems({"app.autoscale": SCALE})) == ["app.replicas"]


def test_a_singleton_never_autoscales_a_worker_may():
    assert _problems({"app.processes.worker.autoscale": {"max": 3, "cpuPercent": 80}}) == []
    lines = _problems({"app.processes.beat.autoscale": {"max": 3, "cpuPercent": 80}})
    assert _keys(lines) == ["app.processes.beat.autoscale"] and "singleton" in lines[0]


@pytest.mark.parametrize("key", ["database.mode", "valkey.mode"])
def test_data_containers_are_refused(key):
    lines = _problems({key: "container", "database.poolSize": None, "valkey.size": None})
    assert key in _keys(lines)


def test_droplet_size_is_refused_node_size_sizes_the_nodes():
    assert _keys(_problems({"app.dropletSize": "s-1vcpu-2gb"})) == ["app.dropletSize"]
    assert _problems({"cluster.nodeSize": "s-4vcpu-8gb"}) == []


def test_a_protected_stack_needs_the_ha_control_plane():
    assert _keys(_problems({"protect": True})) == ["cluster.ha"]
    assert _problems({"protect": True, "cluster.ha": True}) == []


def test_a_volume_takes_one_web_pod_only():
    volume = {"volume.enabled": True, "volume.processes": ["web"], "backups.enabled": True}
    assert _problems(volume) == []
    lines = _problems({**volume, "app.replicas": None, "app.autoscale": SCALE})
    assert _keys(lines) == ["volume.enabled"]
    assert _keys(_problems({**volume, "app.replicas": 2})) == ["volume.enabled"]
    assert _keys(_problems({**volume, "volume.processes": ["web", "worker"]})) == ["volume.processes"]


def test_the_pool_covers_every_pod_at_autoscale_max_plus_the_rollout_surge():
    cfg = harness.parsed_config("staging", {**KUBE, "app.replicas": None, "app.autoscale": SCALE})
    # web (5 + 1 surging) x 3 workers + worker (1 + 1) x 2 + beat 1 + release 1
    assert connections_needed(cfg.app, "kubernetes") == 6 * 3 + 2 * 2 + 1 + 1
    lines = _problems({"app.replicas": None, "app.autoscale": SCALE, "database.poolSize": 23})
    assert _keys(lines) == ["database.poolSize"] and "web 6x3" in lines[0] and "= 24" in lines[0]
    assert _problems({"app.replicas": None, "app.autoscale": SCALE, "database.poolSize": 24}) == []


def test_the_app_pool_holds_every_pod_at_its_most():
    mem, cpu = node_allocatable("s-2vcpu-4gb")
    assert 2000 < mem < 4096 and 1000 < cpu < 2000
    big = {
        "app.replicas": None,
        "app.autoscale": {**SCALE, "max": 12},
        "app.webMemoryMb": 1024,
        "database.size": "db-s-2vcpu-4gb",
        "database.poolSize": 60,
    }
    lines = _problems(big)
    assert _keys(lines) == ["cluster.maxNodes"] and "must be at least 6" in lines[0]
    assert _problems({**big, "cluster.maxNodes": 6}) == []
    # A pod larger than a node never schedules, whatever the node count.
    lines = _problems({"app.webMemoryMb": 4096})
    assert "cluster.nodeSize" in _keys(lines)


def test_capabilities_stay_within_the_pod_security_baseline():
    assert _problems({"app.capabilities": ["CHOWN", "SYS_CHROOT"]}) == []
    lines = _problems({"app.capabilities": ["CHOWN", "SYS_ADMIN"]})
    assert _keys(lines) == ["app.capabilities"] and "SYS_ADMIN" in lines[0]
    # The same line on the droplet engine (and in the policy pack).
    assert _keys(_problems({"app.capabilities": ["CHOWN", "SYS_ADMIN"]}, base=None)) == ["app.capabilities"]
