"""Principles 2 and 3: droplets are cattle with a secret-free bootstrap, built in parallel
with the slow database clusters; the front door fits the stack."""

from __future__ import annotations

import re

import yaml

from testing import harness
from tests.conftest import recorded
from tests.unit.test_renderers import _schema

DROPLET = "digitalocean:index/droplet:Droplet"
CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
READY = "command:remote:Command"


def _ready(run: harness.Run) -> list[harness.Resource]:
    """The droplets' readiness steps (the other remote commands run on the app's release)."""
    return [c for c in run.of_type(READY) if c.name.endswith("-ready")]


def test_one_droplet_per_replica_with_the_expected_settings(run):
    droplets = run.of_type(DROPLET)
    assert len(droplets) == run.cfg.app.replicas
    vpc = run.one("digitalocean:index/vpc:Vpc")
    tag = run.one("digitalocean:index/tag:Tag").inputs["name"]
    for d in droplets:
        assert d.inputs["image"] == "ubuntu-24-04-x64"
        assert d.inputs["size"] == run.cfg.app.droplet_size
        assert d.inputs["monitoring"] is True
        assert d.inputs["ipv6"] is True
        assert vpc.urn in d.property_dependencies["vpcUuid"]
        assert tag in d.inputs["tags"] and f"env:{run.stack}" in d.inputs["tags"]
        expected = run.cfg.ssh_key_fingerprints or run.cfg.ssh_public_keys
        assert len(d.inputs["sshKeys"]) == len(expected)
        if run.cfg.ssh_key_fingerprints:
            assert d.inputs["sshKeys"] == list(run.cfg.ssh_key_fingerprints)
            assert run.of_type("digitalocean:index/sshKey:SshKey") == [], "no duplicate key upload"


def test_without_fingerprints_the_stack_uploads_its_keys():
    run = harness.run("staging", {"sshKeyFingerprints": []})
    keys = run.of_type("digitalocean:index/sshKey:SshKey")
    assert len(keys) == len(run.cfg.ssh_public_keys)
    (droplet,) = run.of_type(DROPLET)
    assert all(k.urn in droplet.property_dependencies["sshKeys"] for k in keys)


def _ready(run):
    return [c for c in run.of_type(READY) if c.name.endswith("-ready")]


def test_readiness_waits_for_the_firewall(run):
    firewall = run.one("digitalocean:index/firewall:Firewall")
    for ready in _ready(run):
        assert firewall.urn in ready.dependencies


def test_cloud_init_of_every_stack_passes_the_real_validator(run, tmp_path):
    user_data = [d.inputs["userData"] for d in run.of_type(DROPLET)]
    # Every droplet of a stack boots the same bootstrap but for its reboot time.
    assert len({re.sub(r'Reboot-Time "[0-9:]+"', "", text) for text in user_data}) == 1
    for text in user_data:
        result = _schema(tmp_path, text)
        assert result.returncode == 0, result.stdout + result.stderr
        doc = yaml.safe_load(text)
        assert doc["users"][0]["ssh_authorized_keys"] == list(run.cfg.ssh_public_keys)


def test_user_data_holds_no_secret(any_run):
    for d in any_run.of_type(DROPLET):
        assert "userData" not in " ".join(d.secret_paths)
        assert harness.SECRET_MARK not in d.inputs["userData"]
        for name in any_run.cfg.app.generated_secrets:
            assert name not in d.inputs["userData"]
        assert "PRIVATE KEY" not in d.inputs["userData"]


def test_droplets_ignore_bootstrap_changes_and_resize_in_place(run):
    for d in run.of_type(DROPLET):
        assert set(d.ignore_changes) >= {"userData", "sshKeys", "image"}
        assert d.inputs["resizeDisk"] is False, "CPU/RAM-only resize stays reversible"
        assert not d.delete_before_replace


def test_droplets_do_not_wait_for_any_database_cluster(run):
    clusters = {c.urn for c in run.of_type(CLUSTER)}
    for d in run.of_type(DROPLET) + _ready(run):
        assert not (run.upstream(d.urn) & clusters), d.name


def test_containers_that_consume_a_db_url_wait_for_the_cluster(run):
    clusters = {c.urn for c in run.of_type(CLUSTER)}
    if not clusters:
        return
    for c in run.of_type("docker:index/container:Container"):
        if c.inputs["name"] in ("web", "worker", "migrate"):
            assert clusters & run.upstream(c.urn), c.name


def test_readiness_waits_for_cloud_init_and_docker_over_the_ssh_agent(run):
    for ready in _ready(run):
        assert "cloud-init status --wait" in ready.inputs["create"]
        assert "docker info" in ready.inputs["create"]
        conn = ready.inputs["connection"]
        assert conn["user"] == "deploy"
        assert "privateKey" not in conn and "password" not in conn, "the agent authenticates"


def test_prod_has_a_load_balancer_with_an_http_health_check():
    run = recorded("prod")
    lb = run.one("digitalocean:index/loadBalancer:LoadBalancer")
    check = lb.inputs["healthcheck"]
    assert check["protocol"] == "http" and check["path"] == run.cfg.app.health_path
    # On port 80, where nginx answers the health location in plain HTTP (no other port is open
    # to the balancer but 443, which is TLS). A droplet that fails 3 checks 10 s apart (5 s
    # each at most) leaves the rotation within about 30 s and rejoins after 3 good ones.
    assert check["port"] == 80
    assert (check["checkIntervalSeconds"], check["responseTimeoutSeconds"]) == (10, 5)
    assert (check["healthyThreshold"], check["unhealthyThreshold"]) == (3, 3)
    assert lb.inputs["dropletTag"] == run.one("digitalocean:index/tag:Tag").inputs["name"]
    assert run.one("digitalocean:index/vpc:Vpc").urn in lb.property_dependencies["vpcUuid"]
    # TLS passes through to nginx: Cloudflare's Full (strict) holds end to end.
    assert lb.inputs["forwardingRules"] == [
        {"entryProtocol": "tcp", "entryPort": 443, "targetProtocol": "tcp", "targetPort": 443}
    ]
    assert run.of_type("digitalocean:index/reservedIp:ReservedIp") == []


def test_single_droplet_stacks_get_a_reserved_ip_assigned_to_it():
    for stack in ("dev", "staging"):
        run = recorded(stack)
        ip = run.one("digitalocean:index/reservedIp:ReservedIp")
        assignment = run.one("digitalocean:index/reservedIpAssignment:ReservedIpAssignment")
        assert ip.urn in assignment.property_dependencies["ipAddress"]
        assert run.one(DROPLET).urn in assignment.property_dependencies["dropletId"]
        assert run.of_type("digitalocean:index/loadBalancer:LoadBalancer") == []


def test_prod_deploy_is_bounded_by_the_slowest_chain_not_a_sum():
    from tools import plan

    deploy = plan.simulate_deploy(recorded("prod"))
    types = [step["type"] for step in deploy["critical_path"]]
    assert CLUSTER in types, "the slowest chain runs through a database cluster"
    assert types[-1] in ("docker:index/container:Container", "command:remote:Command"), "it ends on the droplets"
    assert DROPLET not in types, "droplets are built while the clusters provision"
    assert deploy["critical_seconds"] < deploy["serial_seconds"] / 3
