"""The app as containers: one beat, migrations before web, only the proxy exposed."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.conftest import recorded
from tests.test_renderers import _nginx_t
from tools import harness

CONTAINER = "docker:index/container:Container"
PROVIDER = "pulumi:providers:docker"


def _containers(run, role=None):
    return [c for c in run.of_type(CONTAINER) if role is None or c.inputs["name"] == role]


def test_exactly_one_beat_and_one_migrate_on_the_first_droplet(run):
    for role in ("beat", "migrate"):
        found = _containers(run, role)
        assert len(found) == 1, role
        assert "-app-0-" in found[0].name
    assert len(_containers(run, "web")) == len(_containers(run, "worker")) == run.cfg.app.replicas


def test_migrate_is_upstream_of_every_web_and_worker(run):
    migrate = _containers(run, "migrate")[0]
    assert migrate.inputs["mustRun"] is False and migrate.inputs["attach"] is True
    for c in _containers(run, "web") + _containers(run, "worker"):
        assert migrate.urn in run.upstream(c.urn), c.name


def test_migrate_uses_the_direct_url_and_web_the_pool():
    run = recorded("prod")
    migrate, web = _containers(run, "migrate")[0], _containers(run, "web")[0]
    direct = run.exports["database_direct_url"].value
    pooled = run.exports["database_url"].value
    assert f"DATABASE_URL={direct}" in migrate.inputs["envs"]
    assert f"DATABASE_URL={pooled}" in web.inputs["envs"]
    assert ":25061/" in pooled and ":25060/" in direct


def test_env_carries_urls_and_generated_secrets_all_secret(run):
    for c in _containers(run, "web") + _containers(run, "worker") + _containers(run, "beat"):
        assert "envs" in c.secret_paths
        names = {line.split("=", 1)[0] for line in c.inputs["envs"]}
        expected = {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CACHE_URL", "WEB_CONCURRENCY"}
        assert expected | set(run.cfg.app.generated_secrets) | {k for k, _ in run.cfg.app.env} <= names


def test_only_the_proxy_publishes_ports(run):
    for c in run.of_type(CONTAINER):
        if c.inputs["name"] == "proxy":
            assert sorted(p["external"] for p in c.inputs["ports"]) == [80, 443]
        else:
            assert not c.inputs.get("ports"), c.name


def test_every_container_restarts_rotates_logs_and_is_replaced_safely(run):
    for c in run.of_type(CONTAINER):
        one_shot = c.inputs["name"] in ("migrate", "pg-grant")
        expected = "no" if one_shot else "unless-stopped"
        assert c.inputs["restart"] == expected, c.name
        assert c.inputs["logDriver"] == "json-file"
        assert set(c.inputs["logOpts"]) == {"max-size", "max-file"}
        assert c.inputs.get("memory"), c.name
        assert c.delete_before_replace, "fixed names: the old container must go first"
        assert not c.inputs.get("privileged")


def test_web_has_a_healthcheck_on_the_health_path(run):
    for web in _containers(run, "web"):
        assert run.cfg.app.health_path in " ".join(web.inputs["healthcheck"]["tests"])
        assert web.inputs["wait"] is True


def test_worker_gets_the_configured_concurrency(run):
    for worker in _containers(run, "worker"):
        assert worker.inputs["command"][-1] == f"--concurrency={run.cfg.app.worker_concurrency}"


def test_every_docker_provider_waits_on_its_droplets_readiness(run):
    providers = run.of_type(PROVIDER)
    assert len(providers) == len(run.of_type("command:remote:Command")) == run.cfg.app.replicas
    for provider in providers:
        i = re.search(r"-host-(\d+)-", provider.name)[1]
        droplet = run.named(f"webstack-{run.stack}-node-{i}")
        ready = run.named(f"webstack-{run.stack}-node-{i}-ready")
        assert ready.urn in provider.dependencies
        assert droplet.urn in run.upstream(ready.urn)
        assert provider.inputs["host"] == f"ssh://deploy@{droplet.outputs['ipv4Address']}"
        assert "StrictHostKeyChecking=accept-new" in provider.inputs["sshOpts"]
        assert "registryAuth" not in provider.inputs


def test_every_container_runs_on_its_hosts_provider(run):
    providers = {p.urn for p in run.of_type(PROVIDER)}
    for c in run.of_type(CONTAINER):
        assert c.provider_urn in providers


def test_the_origin_key_reaches_nginx_only_as_a_secret(any_run):
    for proxy in _containers(any_run, "proxy"):
        uploads = proxy.inputs["uploads"]
        key_index = next(i for i, u in enumerate(uploads) if u["file"].endswith(".key"))
        assert f"uploads[{key_index}].content" in proxy.secret_paths or "uploads" in proxy.secret_paths


@pytest.mark.parametrize("stack", harness.stack_files())
def test_nginx_conf_of_every_stack_passes_nginx_t(stack, tmp_path):
    from tests.test_renderers import _run, _tool

    run = recorded(stack)
    conf = {
        next(u["content"] for u in p.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
        for p in _containers(run, "proxy")
    }
    assert len(conf) == 1
    text = conf.pop()
    cert, key = tmp_path / "origin.pem", tmp_path / "origin.key"
    done = _run(
        _tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "1", "-subj", "/CN=test", "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = text.replace("/etc/nginx/certs/origin.pem", str(cert)).replace("/etc/nginx/certs/origin.key", str(key))
    result = _nginx_t(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Strict-Transport-Security" in text
    assert "real_ip_header CF-Connecting-IP;" in text
    assert "limit_req zone=auth" in text and "limit_req zone=api" in text
    for path in run.cfg.app.auth_paths:
        assert path in text


def test_managed_postgres_grants_the_app_user_before_migrating(run):
    grants = _containers(run, "pg-grant")
    if run.cfg.database.mode != "managed":
        assert grants == []
        return
    (grant,) = grants
    assert "GRANT ALL ON SCHEMA public TO app" in grant.inputs["command"][0]
    assert "envs" in grant.secret_paths, "the admin URL is a secret"
    assert grant.inputs["mustRun"] is False and grant.inputs["attach"] is True
    firewall = next(f for f in run.of_type("digitalocean:index/databaseFirewall:DatabaseFirewall") if "-db-" in f.name)
    assert firewall.urn in run.upstream(grant.urn), "it connects through the DB firewall"
    for c in _containers(run, "migrate") + _containers(run, "web") + _containers(run, "pg-backup"):
        assert grant.urn in run.upstream(c.urn), c.name


def test_data_containers_never_evict_and_stay_on_the_docker_network(run):
    if run.cfg.valkey.mode != "container":
        return
    (valkey,) = [c for c in run.of_type(CONTAINER) if c.name.endswith("-valkey-container")]
    assert "--maxmemory-policy noeviction" in valkey.inputs["command"][0]
    assert "--appendonly yes" in valkey.inputs["command"][0]
    assert "VALKEY_PASSWORD" not in valkey.inputs["command"][0].replace('"$VALKEY_PASSWORD"', "")
    assert not valkey.inputs.get("ports")


def test_a_release_rolls_web_droplet_by_droplet():
    # Droplet i's web is registered only after droplet i-1's web is healthy (wait=True), so
    # with fixed container names the load balancer always has a droplet serving.
    run = recorded("prod")
    webs = sorted(_containers(run, "web"), key=lambda c: c.name)
    assert len(webs) >= 2
    for before, after in itertools.pairwise(webs):
        assert before.urn in after.dependencies
