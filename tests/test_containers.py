"""The app as containers: one beat, migrations before web, only the proxy exposed."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import recorded, recorded_with
from tools import harness

CONTAINER = "docker:index/container:Container"
CUSTOM_HEALTH = {
    "app.healthPath": "/healthz",
    "app.healthStatus": 204,
    "app.port": 3000,
    "app.webCommand": ["node", "server.js"],
}
PROVIDER = "pulumi:providers:docker"


def _role(c):
    """What an app container is (web, probe, worker-2, ...): from its resource name, since web's
    container name changes with every release."""
    m = re.search(r"-app-\d+-(.+)$", c.name)
    return m[1] if m else c.inputs["name"]


def _containers(run, role=None):
    return [c for c in run.of_type(CONTAINER) if role is None or _role(c) == role]


def _droplet(c):
    return int(re.search(r"-app-(\d+)-", c.name)[1])


def test_singletons_and_the_release_run_on_the_first_droplet_only(run):
    for role in ("beat", "migrate"):
        found = _containers(run, role)
        assert len(found) == 1, role
        assert _droplet(found[0]) == 0
    assert len(_containers(run, "web")) == len(_containers(run, "worker")) == run.cfg.app.replicas
    assert len(_containers(run, "probe")) == run.cfg.app.replicas


def test_processes_are_what_the_config_says_and_none_is_assumed():
    # A Node app: one consumer process with two containers per droplet, a singleton clock,
    # no release command, no Celery anywhere.
    processes = {
        "consumer": {"command": ["node", "consumer.js"], "count": 2, "memoryMb": 256, "stopSeconds": 90},
        "clock": {"command": ["node", "clock.js"], "singleton": True, "memoryMb": 64, "connections": 0},
    }
    run = recorded_with(
        "prod", {"app.processes": processes, "app.releaseCommand": None, "app.webCommand": ["node", "server.js"]}
    )
    roles = sorted((_droplet(c), _role(c)) for c in run.of_type(CONTAINER) if "-app-" in c.name)
    assert roles == [
        (0, "clock"), (0, "consumer-1"), (0, "consumer-2"), (0, "probe"), (0, "proxy"), (0, "proxy-check"), (0, "web"),
        (1, "consumer-1"), (1, "consumer-2"), (1, "probe"), (1, "proxy"), (1, "proxy-check"), (1, "web"),
    ]  # fmt: skip
    for c in _containers(run):
        spec = processes.get(_role(c).rsplit("-", 1)[0]) or processes.get(_role(c))
        if spec:
            assert c.inputs["command"] == spec["command"]
            assert c.inputs["memory"] == spec["memoryMb"]
            grace = spec.get("stopSeconds", 30)
            assert c.inputs["stopTimeout"] == grace and c.inputs["destroyGraceSeconds"] == grace, c.name
    (web,) = [w for w in _containers(run, "web") if _droplet(w) == 0]
    assert web.inputs["command"] == ["node", "server.js"]
    # Without a release command nothing waits on one.
    assert not _containers(run, "migrate")


def test_release_command_is_upstream_of_every_web_and_process(run):
    migrate = _containers(run, "migrate")[0]
    assert migrate.inputs["mustRun"] is False and migrate.inputs["attach"] is True
    for c in _containers(run, "web") + _containers(run, "worker") + _containers(run, "beat"):
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
        assert expected | set(run.cfg.app.generated_secrets) | set(run.cfg.app.env) <= names


def test_only_the_proxy_publishes_ports(run):
    for c in run.of_type(CONTAINER):
        if c.inputs["name"] == "proxy":
            assert sorted(p["external"] for p in c.inputs["ports"]) == [80, 443]
        else:
            assert not c.inputs.get("ports"), c.name


def test_every_container_restarts_rotates_logs_and_is_replaced_safely(run):
    for c in run.of_type(CONTAINER):
        one_shot = c.inputs["name"] in ("migrate", "pg-grant", "probe", "proxy-check")
        expected = "no" if one_shot else "unless-stopped"
        assert c.inputs["restart"] == expected, c.name
        assert c.inputs["logDriver"] == "json-file"
        assert set(c.inputs["logOpts"]) == {"max-size", "max-file"}
        assert c.inputs.get("memory"), c.name
        assert not c.inputs.get("privileged")
        if _role(c) in ("web", "migrate", "worker", "beat"):
            assert c.inputs["init"] is True, f"{c.name}: PID 1 gets SIGTERM forwarded by docker's init"
        if _role(c) == "web":
            # Released side by side: a new name per release, the old one removed after.
            assert not c.delete_before_replace and re.fullmatch(r"web-[0-9a-f]{8}", c.inputs["name"])
        else:
            assert c.delete_before_replace, f"{c.name}: a fixed name: the old container must go first"


def test_web_is_released_side_by_side_under_a_shared_alias(run):
    for web in _containers(run, "web"):
        (net,) = web.inputs["networksAdvanced"]
        assert net["aliases"] == ["web"], "nginx reaches web by the alias, whatever the release's name"
        grace = run.cfg.app.web_stop_seconds
        assert web.inputs["stopTimeout"] == grace and web.inputs["destroyGraceSeconds"] == grace
        # A new name whenever the release, the env or web's own spec changes.
        release_id = run.named(f"{web.name}-release")
        assert release_id.urn in web.dependencies
        assert set(release_id.inputs["keepers"]) == {"release", "env", "spec"}
        # init is sent only at create upstream: it is in the spec, so a change renames web.
        assert json.loads(release_id.inputs["keepers"]["spec"])["init"] is True
        assert "keepers.env" in release_id.secret_paths, "a digest of secrets stays a secret"
        assert web.inputs["name"] == "web-" + release_id.outputs["hex"]


def test_the_probe_needs_nothing_inside_the_app_image(run):
    for probe in _containers(run, "probe"):
        i = _droplet(probe)
        (web,) = [w for w in _containers(run, "web") if _droplet(w) == i]
        # Its own curl image, inside web's network namespace: no interpreter assumed in the app image.
        image = next(r for r in run.resources if r.outputs.get("imageId") == probe.inputs["image"])
        assert image.inputs["name"].startswith("curlimages/curl:")
        assert probe.inputs["networkMode"] == f"container:{web.id}", "the form the daemon reads back"
        script = probe.inputs["command"][0]
        first = run.cfg.app.hostnames[0]
        assert f"'Host: {first}'" in script and "'X-Forwarded-Proto: https'" in script
        assert f"http://127.0.0.1:{run.cfg.app.port}{run.cfg.app.health_path}" in script
        assert f'= "{run.cfg.app.health_status}" ] && exit 0' in script
        assert probe.inputs["mustRun"] is False and probe.inputs["attach"] is True


def test_a_release_rolls_web_droplet_by_droplet():
    # Droplet i's new web is created only after droplet i-1's new web passed its probe, so the
    # load balancer always has a droplet serving; a failed probe stops the rollout there.
    run = recorded("prod")
    probes = {_droplet(p): p for p in _containers(run, "probe")}
    webs = {_droplet(w): w for w in _containers(run, "web")}
    assert len(webs) >= 2
    for i in range(1, len(webs)):
        assert probes[i - 1].urn in webs[i].dependencies
        assert probes[i - 1].urn in run.upstream(webs[i].urn)
    assert not any(p.urn in run.upstream(webs[0].urn) for p in probes.values())


def test_custom_health_probe_settings_reach_the_probe():
    run = recorded_with("prod", CUSTOM_HEALTH)
    for probe in _containers(run, "probe"):
        script = probe.inputs["command"][0]
        assert "http://127.0.0.1:3000/healthz" in script and '= "204" ] && exit 0' in script


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
        assert "registryAuth" not in provider.inputs, "public images need no credentials"


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
    from tests.test_renderers import nginx_t_with_throwaway_cert

    run = recorded(stack)
    conf = {
        next(u["content"] for u in p.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
        for p in _containers(run, "proxy")
    }
    assert len(conf) == 1
    text = conf.pop()
    result = nginx_t_with_throwaway_cert(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Strict-Transport-Security" in text
    assert '"~^1:(?<cf_client>[0-9A-Fa-f.:]{2,45})$" $cf_client;' in text  # CF-Connecting-IP, from Cloudflare only
    assert "limit_req zone=auth" in text and "limit_req zone=api" in text
    for path in run.cfg.app.auth_paths:
        assert path in text


def test_the_admin_step_grants_and_creates_extensions_before_migrating(run):
    (grant,) = _containers(run, "pg-grant")
    sql = "GRANT ALL ON SCHEMA public TO app"
    assert sql in grant.inputs["command"][0]
    assert "envs" in grant.secret_paths, "the admin URL is a secret"
    assert grant.inputs["mustRun"] is False and grant.inputs["attach"] is True
    if run.cfg.database.mode == "managed":
        firewall = next(
            f for f in run.of_type("digitalocean:index/databaseFirewall:DatabaseFirewall") if "-db-" in f.name
        )
        assert firewall.urn in run.upstream(grant.urn), "it connects through the DB firewall"
    for c in _containers(run, "migrate") + _containers(run, "web") + _containers(run, "pg-backup"):
        assert grant.urn in run.upstream(c.urn), c.name


@pytest.mark.parametrize("stack", ["staging", "dev"])
def test_database_extensions_are_created_by_the_admin_step(stack):
    run = recorded_with(stack, {"database.extensions": ["uuid-ossp", "pgcrypto", "citext"]})
    (grant,) = _containers(run, "pg-grant")
    script = grant.inputs["command"][0]
    for ext in ("uuid-ossp", "pgcrypto", "citext"):
        assert f'CREATE EXTENSION IF NOT EXISTS "{ext}"' in script
    assert script.index("CREATE EXTENSION") < script.index("GRANT ALL")


def test_data_containers_never_evict_and_stay_on_the_docker_network(run):
    if run.cfg.valkey.mode != "container":
        return
    (valkey,) = [c for c in run.of_type(CONTAINER) if c.name.endswith("-valkey-container")]
    assert "--maxmemory-policy noeviction" in valkey.inputs["command"][0]
    assert "--appendonly yes" in valkey.inputs["command"][0]
    assert "VALKEY_PASSWORD" not in valkey.inputs["command"][0].replace('"$VALKEY_PASSWORD"', "")
    assert not valkey.inputs.get("ports")


def test_one_health_endpoint_for_the_probe_the_load_balancer_and_the_uptime_checks():
    run = recorded_with("prod", CUSTOM_HEALTH)
    (lb,) = run.of_type("digitalocean:index/loadBalancer:LoadBalancer")
    assert lb.inputs["healthcheck"]["path"] == "/healthz" and lb.inputs["healthcheck"]["port"] == 80
    targets = [c.inputs["target"] for c in run.of_type("digitalocean:index/uptimeCheck:UptimeCheck")]
    assert targets and all(t.endswith("/healthz") for t in targets)
    for probe in _containers(run, "probe"):
        assert "/healthz" in probe.inputs["command"][0] and '"204" ]' in probe.inputs["command"][0]
    (conf,) = {
        u["content"] for p in _containers(run, "proxy") for u in p.inputs["uploads"] if u["file"].endswith(".conf")
    }
    port80 = conf[conf.index("listen 80") : conf.index("ssl_reject_handshake")]
    assert "location = /healthz" in port80 and f'proxy_set_header Host "{run.cfg.app.hostnames[0]}";' in port80
