"""Least privilege for every container on the recorded graph: each drops every capability but
those its image needs, none can gain privileges, only a socket proxy holds the docker socket,
and every third-party image is pinned by digest (the few no public source gives a digest for
are named here, and nowhere else).

The richest stack shape is used: jobs with an alert, logs, a volume (its archiver), backups and
container-mode data services (one droplet: a volume and data containers need that)."""

from __future__ import annotations

import os

import pytest

from components.cloud.backups import VOLUME_BACKUP_IMAGE
from components.config.app import APP_CAPABILITIES
from components.config.base import IMAGE_RE
from components.config.ops import BackupsConfig, LogsConfig
from components.render import cron, dockerapi
from testing import harness
from tests.conftest import recorded, recorded_with

CONTAINER = "docker:index/container:Container"
SOCKET = dockerapi.DOCKER_SOCKET
FULL = {
    "app.replicas": 1,
    "app.dropletSize": "s-4vcpu-8gb",
    "app.jobs": {"sweep": {"schedule": "0 * * * *", "command": ["python", "sweep.py"], "memoryMb": 64}},
    "logs": {"enabled": True},
    "volume": {"enabled": True, "sizeGb": 10, "path": "/app/data", "processes": ["web"]},
    "database.mode": "container",
    "valkey.mode": "container",
}
# What each container keeps, by name (names are fixed per host; web's is per release).
# Written out (not imported) so that widening a container's set fails here first.
CAPS = {
    "proxy": ("CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"),  # nginx: binds 80/443, starts its workers
    "proxy-check": ("CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"),  # nginx -t, as the proxy runs it
    "probe": (),
    "pg-grant": (),
    "pg-backup": (),
    "volume-backup": ("DAC_OVERRIDE",),  # reads every file it archives (its mount is read-only)
    "logship": (),
    "logship-docker": (),
    "jobs": ("SETGID", "SETUID"),  # busybox crond sets each job's identity
    "jobs-docker": (),
    cron.ALERT_CONTAINER: (),
    "data": ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"),  # entrypoint: chown, then su-exec
}
# Images no public source gives the digest of (the report lists them); everything else third-party
# must carry tag and digest.
TAG_ONLY = {BackupsConfig.model_fields["image"].default, LogsConfig.model_fields["image"].default, VOLUME_BACKUP_IMAGE}


@pytest.fixture(scope="module")
def full() -> harness.Run:
    return recorded_with("prod", FULL, secrets={"slackWebhookUrl": harness.fake_secret("slack")})


def _role(c: harness.Resource) -> str:
    name = c.inputs["name"]
    if name.startswith("web-") or name.startswith(cron.JOB_PREFIX) or name in ("migrate", "worker", "beat"):
        return "app"
    if name.endswith(("-postgres", "-valkey")):
        return "data"
    return name


def test_the_shape_has_every_kind_of_container(full):
    roles = {_role(c) for c in full.of_type(CONTAINER)}
    assert roles == {"app", *CAPS}, roles


def test_every_container_drops_every_capability_but_its_own_and_gains_none(full):
    for c in full.of_type(CONTAINER):
        role = _role(c)
        expected = APP_CAPABILITIES if role == "app" else CAPS.get(role)
        assert expected is not None, c.name
        caps = c.inputs["capabilities"]
        assert caps["drops"] == ["ALL"], c.name
        assert sorted(caps.get("adds") or []) == sorted(f"CAP_{x}" for x in expected), c.name
        assert c.inputs["securityOpts"] == ["no-new-privileges"], c.name
        assert not c.inputs.get("privileged") and not c.inputs.get("pidMode") and not c.inputs.get("ipcMode")


def test_the_app_keeps_no_raw_sockets_by_default():
    assert "NET_RAW" not in APP_CAPABILITIES and "SYS_ADMIN" not in APP_CAPABILITIES


def test_read_only_roots_wherever_nothing_is_uploaded(full):
    """A container with uploads cannot have a read-only root (the daemon extracts them into
    it); the app's is an opt-in; the rest are read-only."""
    writable = {"app", "proxy", "proxy-check", "pg-grant", "pg-backup", "volume-backup", "logship", "jobs"}
    for c in full.of_type(CONTAINER):
        role = _role(c)
        assert bool(c.inputs.get("readOnly")) == (role not in writable), c.name
        if c.inputs.get("uploads"):
            assert role in writable, c.name


def test_sidecars_run_as_non_root_where_their_image_allows_it(full):
    users = {c.inputs["name"]: c.inputs.get("user") for c in full.of_type(CONTAINER)}
    assert users["probe"] == users[cron.ALERT_CONTAINER] == "curl_user"
    assert users["pg-grant"] == "postgres"
    # The socket proxies are root only to own the socket's file, with no capability at all.
    assert users["jobs-docker"] == users["logship-docker"] == "0:0"


def test_only_a_socket_proxy_mounts_the_socket_read_only_on_a_network_of_its_own(full):
    internal = {n.inputs["name"] for n in full.of_type("docker:index/network:Network") if n.inputs.get("internal")}
    holders = []
    for c in full.of_type(CONTAINER):
        for v in c.inputs.get("volumes") or []:
            if v.get("hostPath") in (SOCKET, "/run/docker.sock") or "docker.sock" in (v.get("hostPath") or ""):
                holders.append(c.inputs["name"])
                assert v["readOnly"] is True
                assert {n["name"] for n in c.inputs["networksAdvanced"]} <= internal, c.name
    assert sorted(holders) == ["jobs-docker", "logship-docker"]


def test_the_proxy_image_is_the_one_whose_allow_lists_are_tested(full):
    images = {i.inputs["name"] for i in full.of_type("docker:index/remoteImage:RemoteImage")}
    assert dockerapi.SOCKET_PROXY_IMAGE in images
    assert dockerapi.SOCKET_PROXY_IMAGE.startswith("wollomatic/socket-proxy:1.13.1@sha256:")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_third_party_image_is_pinned_by_tag_and_digest(stack, full):
    runs = [recorded(stack)] + ([full] if stack == "prod" else [])
    for run in runs:
        app = run.cfg.app.image
        for image in run.of_type("docker:index/remoteImage:RemoteImage"):
            ref = image.inputs["name"]
            if ref == app or ref in TAG_ONLY:
                continue
            m = IMAGE_RE.match(ref)
            assert m and m["tag"] and m["digest"], ref


def test_config_accepts_images_with_or_without_a_digest():
    from components.config import parse

    for ref in ("nginx:1.27.5-alpine", dockerapi.SOCKET_PROXY_IMAGE, "ghcr.io/o/app@sha256:" + "a" * 64):
        raw, _ = harness.cli_values(harness.stack_config("staging", {"proxy.image": ref, "app.image": ref}))
        cfg = parse(raw, "staging")
        assert cfg.proxy.image == cfg.app.image == ref


# ------------------------------------------------------------------ nginx with only its capabilities


@pytest.fixture(scope="module")
def pull_pki(tmp_path_factory):
    """A throwaway origin-pull CA and client certificates, as the nginx behaviour tests use."""
    from tests.behaviour.test_nginx import Pki, _client_pki

    directory = tmp_path_factory.mktemp("pull")
    ca, client = _client_pki(directory, "stack")
    _, stranger = _client_pki(directory, "stranger")
    return Pki(ca, client, stranger)


def _nginx_holding(caps: tuple[str, ...], cert, pki) -> tuple[int | None, str]:
    """The rendered conf (dev's) in a real nginx started as root holding only `caps`, as the
    container does (setpriv sets the bounding set, so root's capabilities after exec are those,
    and no-new-privileges); the status a plain-HTTP request gets (None if nothing listens) and
    the error log."""
    import http.client
    import shutil
    import subprocess
    import time

    from components.render.nginx import render_nginx_conf
    from tests import realprog
    from tests.behaviour.test_nginx import _adapt, _stack_spec

    nginx, setpriv = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv or not os.path.exists(nginx):
        pytest.skip("needs root, setpriv and nginx")
    spec = _stack_spec("dev")
    with realprog.shared_tempdir() as workdir:
        ports = (realprog.free_port(), realprog.free_port(), realprog.free_port())
        conf, _ = _adapt(render_nginx_conf(spec), spec, workdir, ports, cert, pki)
        (workdir / "nginx.conf").write_text(conf)
        bounding = ",".join(["-all", *(f"+{c.lower()}" for c in caps)])
        command = [
            setpriv, f"--bounding-set={bounding}", "--inh-caps=-all", "--no-new-privs",
            nginx, "-c", str(workdir / "nginx.conf"), "-p", f"{workdir}/", "-e", str(workdir / "error.log"),
            "-g", f"daemon off; pid {workdir / 'nginx.pid'};",
        ]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        status = None
        try:
            deadline, log = time.monotonic() + 5, workdir / "error.log"
            while status is None and proc.poll() is None and time.monotonic() < deadline:
                if log.exists() and "Operation not permitted" in log.read_text():
                    break  # a worker (or the master) could not do what it needed
                try:
                    conn = http.client.HTTPConnection(realprog.LOOPBACK, ports[0], timeout=0.5)
                    conn.request("GET", "/somewhere", headers={"Host": "dev.example.com"})
                    status = conn.getresponse().status
                except OSError:
                    time.sleep(0.05)
        finally:
            realprog.stop(proc)
        log = (workdir / "error.log").read_text() if (workdir / "error.log").exists() else ""
    return status, log


def test_nginx_serves_holding_only_the_proxys_capabilities(full, origin_cert, pull_pki):
    (proxy,) = [c for c in full.of_type(CONTAINER) if c.inputs["name"] == "proxy"]
    caps = tuple(c.removeprefix("CAP_") for c in proxy.inputs["capabilities"]["adds"])
    status, log = _nginx_holding(caps, origin_cert, pull_pki)
    assert status == 301, log
    assert "Operation not permitted" not in log, log


@pytest.mark.parametrize("missing", ["CHOWN", "SETUID", "SETGID"])
def test_nginx_needs_each_of_them(full, origin_cert, pull_pki, missing):
    """A set one smaller fails: CHOWN for its temp directories, SETUID/SETGID for its workers
    (NET_BIND_SERVICE is for ports below 1024, which the test cannot bind on loopback here)."""
    status, log = _nginx_holding(tuple(c for c in CAPS["proxy"] if c != missing), origin_cert, pull_pki)
    assert status != 301 and "Operation not permitted" in log, (status, log)
