"""The app as containers: one beat, migrations before web, only the proxy exposed."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from components.cloud import database
from components.droplets import containers
from testing import harness
from tests import realprog
from tests.conftest import recorded, recorded_with

CONTAINER = "docker:index/container:Container"
COMMAND = "command:remote:Command"
NETWORK = "docker:index/network:Network"
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


def _nginx_conf(run) -> str:
    (conf,) = {
        u["content"] for p in _containers(run, "proxy") for u in p.inputs["uploads"] if u["file"].endswith("nginx.conf")
    }
    return conf


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
        # One-shots, and the job containers the runner starts (created, never started here).
        one_shot = c.inputs["name"] in ("migrate", "pg-grant", "probe", "proxy-check") or c.inputs.get("start") is False
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


def test_web_is_released_side_by_side_and_reaches_nginx_only_once_promoted(run):
    conf = _nginx_conf(run)
    (upstream,) = set(re.findall(r"set \$upstream http://([^:;]+):", conf))
    for web in _containers(run, "web"):
        i = _droplet(web)
        (live,) = [n for n in run.of_type(NETWORK) if n.name == f"webstack-{run.stack}-app-{i}-live"]
        (proxy,) = [p for p in _containers(run, "proxy") if _droplet(p) == i]
        # nginx is on the live network alone; a new web starts on the app network, without the
        # name nginx proxies to, and the promotion adds it there once its probe passed.
        assert [n["name"] for n in proxy.inputs["networksAdvanced"]] == [live.outputs["name"]]
        (net,) = web.inputs["networksAdvanced"]
        assert net["name"] != live.outputs["name"] and not net.get("aliases"), "no request before its probe passed"
        # Joined to both, web keeps its default route on the network whose name sorts first.
        assert net["name"] < live.outputs["name"]
        assert live.urn in web.dependencies, "web goes before the network it was connected to"
        promote = run.named(f"webstack-{run.stack}-app-{i}-web-promote")
        assert promote.urn in proxy.dependencies, "a new nginx starts once a web serves on its network"
        assert web.inputs["mustRun"] is False, "a web stopped for failing its probe stays stopped on refresh"
        assert (
            f"docker network connect --alias {upstream} {live.outputs['name']} {web.inputs['name']}"
            in (promote.inputs["create"])
        )
        grace = run.cfg.app.web_stop_seconds
        assert web.inputs["stopTimeout"] == grace and web.inputs["destroyGraceSeconds"] == grace
        # A new name whenever the release, the env or web's own spec (its probe too) changes.
        release_id = run.named(f"{web.name}-release")
        assert release_id.urn in web.dependencies
        assert set(release_id.inputs["keepers"]) == {"release", "env", "spec"}
        spec = json.loads(release_id.inputs["keepers"]["spec"])
        # init is sent only at create upstream: it is in the spec, so a change renames web.
        assert spec["init"] is True
        (probe,) = [p for p in _containers(run, "probe") if _droplet(p) == i]
        assert spec["probe"] == probe.inputs["command"][0], "a new probe needs a new (running) web"
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


def _step(run, i: int, what: str):
    return run.named(f"webstack-{run.stack}-app-{i}-{what}")


def test_each_droplet_rolls_out_after_its_web_serves_and_the_next_one_after_it():
    """On a droplet: web, its probe, the promotion, then the background processes and
    singletons, then the image cleanup. The next droplet's web waits for all of it but the
    cleanup; the job runner waits for the first droplet's promotion."""
    run = recorded("prod")
    webs = {_droplet(w): w for w in _containers(run, "web")}
    assert len(webs) >= 2
    for i, web in webs.items():
        (probe,) = [p for p in _containers(run, "probe") if _droplet(p) == i]
        promote, prune = _step(run, i, "web-promote"), _step(run, i, "image-prune")
        assert probe.urn in promote.dependencies and web.urn in run.upstream(promote.urn)
        processes = [
            c for c in _containers(run) if "-app-" in c.name and _droplet(c) == i and _role(c) in ("worker", "beat")
        ]
        assert processes and {_role(c) for c in processes} >= {"worker"}
        # Each also carries web's verdict in an input (a label, the script): after a failed
        # probe the promotion itself succeeds (it stops the web), the verdict does not.
        verdict = {probe.urn, promote.urn}
        for c in processes:
            assert promote.urn in c.dependencies, f"{c.name} rolls out once web serves on its droplet"
            assert verdict <= set(c.property_dependencies["labels"]), c.name
        assert {promote.urn, *(c.urn for c in processes)} <= set(prune.dependencies)
        assert verdict <= set(prune.property_dependencies["create"])
        if i + 1 in webs:
            later = webs[i + 1]
            assert {probe.urn, promote.urn, *(c.urn for c in processes)} <= set(later.dependencies)
            assert verdict <= set(later.property_dependencies["labels"])
            assert prune.urn not in run.upstream(later.urn), "the cleanup holds no droplet back"
    assert not any(r.name.endswith("-web-promote") for r in map(run.by_urn, run.upstream(webs[0].urn)))
    # The jobs are containers of the app image the runner starts: each waits on the promotion,
    # and its image is the one web serves there only once the probe passed.
    promote = _step(run, 0, "web-promote").urn
    (runner,) = [c for c in run.of_type(CONTAINER) if c.name.endswith("-jobs-runner")]
    jobs = [c for c in run.of_type(CONTAINER) if c.urn in runner.dependencies and "webstack.job" in str(c.inputs)]
    assert jobs
    for job in jobs:
        assert promote in job.dependencies
        assert promote in job.property_dependencies["image"], "the image web serves, once it passed"
        assert job.inputs["image"] == webs[0].inputs["image"]


def test_the_promotion_outlasts_nginxs_address_cache(run):
    """The previous web is stopped (at the end of the update) only once every nginx has looked
    the alias up again: the promotion waits longer than nginx keeps an answer."""
    valid = int(re.search(r"resolver \S+ valid=(\d+)s", _nginx_conf(run))[1])
    assert valid < containers.DNS_SETTLE_SECONDS
    for web in _containers(run, "web"):
        create = _step(run, _droplet(web), "web-promote").inputs["create"]
        assert create.startswith("sh -c ") and f"sleep {containers.DNS_SETTLE_SECONDS}" in shlex.split(create)[2]


def test_old_release_images_are_pruned_once_per_new_image_after_the_rollout(run):
    repository = containers.familiar_repository(run.cfg.app.image)
    for web in _containers(run, "web"):
        prune = _step(run, _droplet(web), "image-prune")
        assert prune.inputs["triggers"] == [web.inputs["image"]], "it runs again with every new app image"
        script = shlex.split(prune.inputs["create"])[2]
        assert script == containers.prune_script(repository=repository)
        assert prune.inputs["connection"]["user"] == "deploy" and "privateKey" not in prune.inputs["connection"]


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("ghcr.io/example/shop:1.4.2", "ghcr.io/example/shop"),
        ("registry.digitalocean.com/acme/app:2.3.0", "registry.digitalocean.com/acme/app"),
        ("docker.io/mysticecom/web:1.0.0", "mysticecom/web"),
        ("mysticecom/web:1.0.0", "mysticecom/web"),
        ("index.docker.io/library/nginx:1.27.5", "nginx"),
        ("nginx@sha256:" + "a" * 64, "nginx"),
        ("docker.io/library/team/app:1", "library/team/app"),
        ("localhost:5000/app:1", "localhost:5000/app"),
        ("localhost/app:1", "localhost/app"),
    ],
)
def test_the_pruned_repository_is_named_as_docker_lists_it(image, repository):
    assert containers.familiar_repository(image) == repository


# --------------------------------------------------------------------------- the scripts, run

FAKE_DOCKER = r"""#!/bin/sh
# Logs its arguments (one line per call), answers from files in $FAKE.
echo "docker $*" >> "$FAKE/log"
case "$1 $2" in
  "network inspect") cat "$FAKE/members" ;;
  "network connect") echo "$6" >> "$FAKE/members" ;;
  "ps -aq") cat "$FAKE/containers" ;;
  "ps --filter") cat "$FAKE/running" ;;
  "inspect --format") shift 3; for c in "$@"; do grep "^$c " "$FAKE/images" | cut -d' ' -f2; done ;;
  "image ls") cat "$FAKE/repository" ;;
  "image rm") if grep -qx "$3" "$FAKE/refuse" 2>/dev/null; then echo "conflict: $3" >&2; exit 1; fi ;;
  "stop -t") if [ -e "$FAKE/stop-fails" ]; then echo "No such container: $4" >&2; exit 1; fi ;;
esac
"""


def _shells() -> list[str]:
    return [realprog.require("busybox", "busybox") + " sh", "sh"]


@pytest.fixture(params=_shells(), ids=["busybox", "sh"])
def on_droplet(request, tmp_path: Path):
    """Run a script as the droplet would (with `docker` and `sleep` faked), in each shell;
    returns (result, the fake's log)."""
    bin_dir, fake = tmp_path / "bin", tmp_path / "fake"
    bin_dir.mkdir()
    fake.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "sleep").write_text(f'#!/bin/sh\necho "sleep $*" >> {fake}/log\n')
    for tool in ("docker", "sleep"):
        (bin_dir / tool).chmod(0o755)

    def run(script: str, **files: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        for name, text in files.items():
            (fake / name).write_text(text)
        (fake / "log").write_text("")
        syntax = subprocess.run([*request.param.split(), "-n", "-c", script], capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE": str(fake)}
        done = subprocess.run(
            [*request.param.split(), "-c", script], capture_output=True, text=True, timeout=10, env=env
        )
        return done, (fake / "log").read_text().splitlines()

    return run


def test_a_passing_web_joins_the_alias_once_then_the_promotion_waits_for_nginx(on_droplet):
    script = containers.promote_script(web="web-0a1b2c3d", network="webstack-42-live")
    done, log = on_droplet(script, members="proxy\n")
    assert done.returncode == 0, done.stderr
    assert log == [
        "docker network inspect --format {{range .Containers}}{{println .Name}}{{end}} webstack-42-live",
        "docker network connect --alias web webstack-42-live web-0a1b2c3d",
        f"sleep {containers.DNS_SETTLE_SECONDS}",
    ]
    assert "web-0a1b2c3d passed its health probe" in done.stdout
    # Run again (an update of the step): already there, not connected twice.
    done, log = on_droplet(script)
    assert done.returncode == 0 and not any("connect" in line for line in log)
    assert "already serves" in done.stdout


def test_a_promotion_that_cannot_connect_fails(on_droplet):
    script = containers.promote_script(web="web-0a1b2c3d", network="webstack-42-live")
    done, _ = on_droplet(script.replace("docker network connect", "false"), members="")
    assert done.returncode != 0


def test_a_failing_web_is_stopped_with_its_grace_and_the_step_still_succeeds(on_droplet):
    script = containers.stop_script(web="web-0a1b2c3d", network="webstack-42-live", grace=45)
    # The previous web (started before the live network existed: not on it yet), the one
    # before it (on it), and other containers.
    running = "proxy\nweb-11111111\nweb-22222222\nweb-0a1b2c3d\nworker\nweb-1\n"
    done, log = on_droplet(script, running=running, members="proxy\nweb-22222222\n")
    assert done.returncode == 0, done.stderr
    assert log[0] == "docker stop -t 45 web-0a1b2c3d"
    assert [line for line in log if "connect" in line] == [
        "docker network connect --alias web webstack-42-live web-11111111"
    ], "whatever serves on is where a new nginx looks"
    assert "web-0a1b2c3d failed its health probe and is stopped; it never got a request" in done.stdout
    # The update fails on the probe's message, not on this step's: a stop that fails is reported,
    # and the failed web still never joins the alias.
    done, log = on_droplet(script, **{"stop-fails": ""}, members="proxy\nweb-11111111\nweb-22222222\n")
    assert done.returncode == 0 and "could not stop web-0a1b2c3d" in done.stderr
    assert not any("connect" in line for line in log)


def test_the_cleanup_removes_only_images_of_the_app_no_container_uses(on_droplet):
    current, previous, older, shared = ("sha256:" + c * 64 for c in "abcd")
    done, log = on_droplet(
        containers.prune_script(repository="ghcr.io/example/shop"),
        # the new web, the previous web (removed only at the end of the update), a stopped migrate
        containers="c1\nc2\nc3\n",
        images=f"c1 {current}\nc2 {previous}\nc3 {current}\n",
        # one image under two tags is listed twice; `shared` has a tag in another repository too
        repository=f"{current}\n{previous}\n{older}\n{older}\n{shared}\n",
        refuse=f"{shared}\n",
    )
    assert done.returncode == 0, done.stderr
    assert "docker image ls -q --no-trunc --filter reference=ghcr.io/example/shop" in log
    assert [line for line in log if line.startswith("docker image rm")] == [
        f"docker image rm {older}",
        f"docker image rm {shared}",
    ]
    assert log[-1] == "docker image prune -f"
    assert f"removed {older}" in done.stdout and f"removed {shared}" not in done.stdout
    assert f"conflict: {shared}" in done.stderr, "a refused removal is reported, not fatal"


def test_custom_health_probe_settings_reach_the_probe():
    run = recorded_with("prod", CUSTOM_HEALTH)
    for probe in _containers(run, "probe"):
        script = probe.inputs["command"][0]
        assert "http://127.0.0.1:3000/healthz" in script and '= "204" ] && exit 0' in script


def test_every_docker_provider_waits_on_its_droplets_readiness_and_key_sync(run):
    providers = run.of_type(PROVIDER)
    ready_steps = [c for c in run.of_type("command:remote:Command") if c.name.endswith("-ready")]
    assert len(providers) == len(ready_steps) == run.cfg.app.replicas
    for provider in providers:
        i = re.search(r"-host-(\d+)-", provider.name)[1]
        droplet = run.named(f"webstack-{run.stack}-node-{i}")
        ready = run.named(f"webstack-{run.stack}-node-{i}-ready")
        keys = run.named(f"webstack-{run.stack}-node-{i}-keys")
        assert keys.urn in provider.dependencies and ready.urn in run.upstream(keys.urn)
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
    from tests.unit.test_renderers import nginx_t_with_throwaway_cert

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
    assert grant.inputs["mustRun"] is False and grant.inputs["attach"] is True
    if run.cfg.database.mode == "managed":
        firewall = next(
            f for f in run.of_type("digitalocean:index/databaseFirewall:DatabaseFirewall") if "-db-" in f.name
        )
        assert firewall.urn in run.upstream(grant.urn), "it connects through the DB firewall"
    for c in _containers(run, "migrate") + _containers(run, "web") + _containers(run, "pg-backup"):
        assert grant.urn in run.upstream(c.urn), c.name


def _admin_password(run) -> str:
    """The password the admin step logs in with: doadmin's (managed) or the container's owner's."""
    if run.cfg.database.mode == "managed":
        (cluster,) = [c for c in run.of_type("digitalocean:index/databaseCluster:DatabaseCluster") if "-db-" in c.name]
        return cluster.outputs["password"]
    (password,) = [p for p in run.of_type("random:index/randomPassword:RandomPassword") if "-db-" in p.name]
    return password.outputs["result"]


def test_the_admin_password_persists_in_no_input_of_the_exited_admin_container(run):
    """The exited pg-grant stays on droplet 0: its config (env, command, labels) must hold no
    credential. The password travels only in the uploaded file, which its script reads and
    deletes before it connects (tests/behaviour/test_postgres.py runs it), and as a secret."""
    (grant,) = _containers(run, "pg-grant")
    password = _admin_password(run)
    assert harness.SECRET_MARK in password, "a recorded secret, or this proves nothing"
    assert not grant.inputs.get("envs")
    holders = {path for path, text in _strings(grant.inputs, "") if password in text}
    assert holders == {"uploads[0].content"}, holders
    (upload,) = grant.inputs["uploads"]
    assert upload["file"] == database.ADMIN_FILE and "uploads[0].content" in grant.secret_paths
    assert f"PGPASSWORD={shlex.quote(password)}" in upload["content"]
    assert grant.inputs["command"] == [database.admin_script(database.admin_sql("app", run.cfg.database.extensions))]
    assert grant.inputs["user"] == database.ADMIN_USER and grant.inputs["capabilities"] == {"drops": ["ALL"]}


def _strings(value, path):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


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
    checks = run.of_type("digitalocean:index/uptimeCheck:UptimeCheck")
    targets = [c.inputs["target"] for c in checks if not c.name.endswith("-backups")]
    assert targets and all(t.endswith("/healthz") for t in targets)
    for probe in _containers(run, "probe"):
        assert "/healthz" in probe.inputs["command"][0] and '"204" ]' in probe.inputs["command"][0]
    (conf,) = {
        u["content"] for p in _containers(run, "proxy") for u in p.inputs["uploads"] if u["file"].endswith(".conf")
    }
    port80 = conf[conf.index("listen 80") : conf.index("ssl_reject_handshake")]
    assert "location = /healthz" in port80 and f'proxy_set_header Host "{run.cfg.app.hostnames[0]}";' in port80
