"""AppContainers: the app on one droplet: nginx, the one HTTP process (web) with its health
probe, the background processes, and on the first droplet the singletons and the release
command.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.config.process import Process
from components.dockerhost import DockerHost, VolumeMount, exit_gate
from components.proxy import CLIENT_CA_PATH

CERT_PATH = "/etc/nginx/certs/origin.pem"
KEY_PATH = "/etc/nginx/certs/origin.key"
WEB_ALIAS = "web"
# The probe runs curl from its own small image inside the web container's network namespace,
# so nothing (no shell, no interpreter, no curl) is assumed inside the app image.
PROBE_IMAGE = "curlimages/curl:8.11.1"
PROBE_ATTEMPTS = 60
PROBE_INTERVAL_SECONDS = 2


def probe_script(*, port: int, path: str, status: int, host: str, attempts: int = PROBE_ATTEMPTS,
                 interval: int = PROBE_INTERVAL_SECONDS) -> str:  # fmt: skip
    """Shell for the probe: ask the web process for `path` as Cloudflare would (the served
    hostname, X-Forwarded-Proto https, so host checks and HTTPS redirects pass) until it
    answers `status`, at most `attempts` times; then fail naming what it last got."""
    curl = (
        "curl -s -o /dev/null -m 5 -w '%{http_code}' "
        f"-H {shlex.quote('Host: ' + host)} -H 'X-Forwarded-Proto: https' "
        f"{shlex.quote(f'http://127.0.0.1:{port}{path}')}"
    )
    return (
        f"for i in $(seq {attempts}); do code=$({curl}); "
        f'[ "$code" = "{status}" ] && exit 0; sleep {interval}; done; '
        f'echo "webstack: {path} answered $code, not {status}, after {attempts} tries; the release stops here" >&2; '
        "exit 1"
    )


def _digest(lines: list[str]) -> str:
    """A digest of the env (which holds secrets): enough to notice a change, and the output
    stays a secret because its input is one."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AppContainersArgs:
    host: DockerHost
    """Docker provider and network of this droplet; no default."""
    image: str
    """Pinned app image; no default (config `app.image`)."""
    proxy_image: str
    """Pinned nginx image; no default (config `proxy.image`, default nginx:1.27.5-alpine)."""
    env: pulumi.Input[list[str]]
    """Secret KEY=value list for web and the processes (pooled DATABASE_URL); no default."""
    release_env: pulumi.Input[list[str]]
    """Secret KEY=value list for the release command (direct DATABASE_URL); no default."""
    nginx_conf: str
    """Rendered nginx.conf; no default (components/proxy.py)."""
    cert_pem: pulumi.Input[str]
    """Origin certificate nginx serves; no default."""
    key_pem: pulumi.Input[str]
    """Its private key (secret); no default."""
    client_ca_pem: pulumi.Input[str]
    """CA nginx verifies Cloudflare's origin-pull client certificate against; no default."""
    web_command: tuple[str, ...]
    """The HTTP process's command; no default (config `app.webCommand`)."""
    web_memory_mb: int
    """Memory limit of web; no default (config `app.webMemoryMb`, default 512)."""
    web_stop_seconds: int = 30
    """Grace between SIGTERM and SIGKILL for web; default 30."""
    processes: tuple[tuple[str, Process], ...] = ()
    """Background processes (name, spec); default none."""
    release_command: tuple[str, ...] | None = None
    """Release command run once per release on the first droplet; default None (no step)."""
    port: int = 8000
    """Port the web process listens on; default 8000."""
    health_path: str = "/health"
    """Path the probe requests; default /health."""
    health_status: int = 200
    """Status a healthy web answers; default 200."""
    health_host: str
    """Host header of the probe: the first served hostname; no default."""
    proxy_memory_mb: int
    """Memory limit of nginx; no default (components/config PROXY_MEMORY_MB)."""
    probe_memory_mb: int
    """Memory limit of the probe; no default (components/config PROBE_MEMORY_MB)."""
    first: bool = False
    """True on the first droplet: runs the singletons and the release command; default False."""
    release_gate: pulumi.Input[str] | None = None
    """On other droplets: the first droplet's release to wait on; default None."""
    release_resource: pulumi.Resource | None = None
    """On other droplets: the first droplet's release command container; default None."""
    rollout_after: pulumi.Resource | None = None
    """The previous droplet's probe: this web is replaced only once that droplet's new web
    answers, so a release rolls droplet by droplet; default None (first droplet)."""
    rollout_gate: pulumi.Input[str] | None = None
    """That probe's result (empty text once it passed; fails the update otherwise); default None."""
    volume: VolumeMount | None = None
    """The droplet's volume, bound into the containers of its users; default None."""
    proxy_after: tuple[pulumi.Resource, ...] = ()
    """What this droplet's proxy waits for before it is replaced: Cloudflare's origin-pull
    associations (nginx never asks for the client certificate before Cloudflare sends it) and
    the previous droplet's proxy (a new conf rolls droplet by droplet); default none."""


class AppContainers(pulumi.ComponentResource):
    """web is released side by side: each release gets a new container name (a RandomId kept
    on everything that would replace it) under the shared network alias `web`, so the new one
    starts beside the old one and must pass the probe before the next droplet's web is
    touched; nginx resolves the alias per request, so both serve while both exist (a new web
    that answers errors gets a share of requests until the probe fails the update and the
    previous image is set back), and the old one is stopped (SIGTERM, `webStopSeconds` of
    grace) at the end of the update. Other containers have fixed names and are deleted before they are replaced. Only
    the proxy publishes host ports. The app's containers run under docker's init (tini): a
    process that is PID 1 (node, a shell script) gets SIGTERM forwarded and its zombies reaped,
    so the stop grace is used to finish work, not waited out.
    """

    migrate: docker.Container | None
    image: docker.RemoteImage
    probe: docker.Container
    proxy: docker.Container
    release_gate: pulumi.Output[str]
    healthy: pulumi.Output[str]

    def __init__(self, name: str, args: AppContainersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:containers:AppContainers", name, None, opts)
        host = args.host
        self.image = image = host.image(f"{name}-image", args.image, self)
        proxy_image = host.image(f"{name}-proxy-image", args.proxy_image, self)

        def mounts(user: str) -> list[docker.ContainerVolumeArgs] | None:
            return (args.volume.volumes(user) or None) if args.volume else None

        def container(role: str, memory_mb: int, after: list[pulumi.Resource] | None = None, **kwargs):
            kwargs.setdefault("restart", "unless-stopped")
            kwargs.setdefault("name", role)
            return host.container(f"{name}-{role}", parent=self, memory_mb=memory_mb, depends_on=after or [], **kwargs)

        self.migrate = None
        if args.first:
            self.release_gate = pulumi.Output.from_input(image.image_id)
            release_after: list[pulumi.Resource] = []
            if args.release_command:
                self.migrate = migrate = container(
                    "migrate",
                    args.web_memory_mb,
                    image=image.image_id,
                    command=list(args.release_command),
                    envs=args.release_env,
                    volumes=mounts("release"),
                    restart="no",
                    must_run=False,
                    attach=True,
                    logs=True,
                    init=True,
                    replace_on_changes=["init"],
                )
                # The release is named by its image id, once the release command has exited 0.
                self.release_gate = pulumi.Output.concat(exit_gate(migrate, "the release command"), image.image_id)
                release_after = [migrate]
        else:
            if args.release_gate is None:
                raise ValueError("a droplet that does not run the release needs the first droplet's release")
            self.release_gate = pulumi.Output.from_input(args.release_gate)
            release_after = [args.release_resource] if args.release_resource else []
        release_label = [docker.ContainerLabelArgs(label="webstack.release", value=self.release_gate)]
        # The previous droplet's probe result (empty text once it passed): a failed probe
        # there fails the update before this droplet's web is touched.
        web_label = [
            docker.ContainerLabelArgs(
                label="webstack.release", value=pulumi.Output.concat(self.release_gate, args.rollout_gate or "")
            )
        ]

        # Everything that replaces web, so a replacement always gets a new name: `init` too,
        # which the provider only sends at create (not ForceNew upstream).
        web_spec = {"command": args.web_command, "memory": args.web_memory_mb, "stop": args.web_stop_seconds,
                    "port": args.port, "init": True}  # fmt: skip
        if args.volume and args.volume.bind("web"):
            web_spec["volume"] = args.volume.bind("web")
        release_id = random.RandomId(
            f"{name}-web-release",
            byte_length=4,
            # A new name whenever anything that replaces web changes: the old container keeps
            # serving under the alias until the new one is up.
            keepers={
                "release": self.release_gate,
                "env": pulumi.Output.from_input(args.env).apply(_digest),
                "spec": json.dumps(web_spec, sort_keys=True),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        web = host.container(
            f"{name}-web",
            parent=self,
            memory_mb=args.web_memory_mb,
            depends_on=release_after + ([args.rollout_after] if args.rollout_after else []),
            delete_before_replace=False,
            name=pulumi.Output.concat("web-", release_id.hex),
            image=image.image_id,
            command=list(args.web_command),
            envs=args.env,
            labels=web_label,
            restart="unless-stopped",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=host.network.name, aliases=[WEB_ALIAS])],
            stop_timeout=args.web_stop_seconds,
            destroy_grace_seconds=args.web_stop_seconds,
            init=True,
            volumes=mounts("web"),
        )
        probe_image = host.image(f"{name}-probe-image", PROBE_IMAGE, self)
        self.probe = container(
            "probe",
            args.probe_memory_mb,
            after=[web],
            image=probe_image.image_id,
            entrypoints=["sh", "-c"],
            command=[
                probe_script(port=args.port, path=args.health_path, status=args.health_status, host=args.health_host)
            ],
            # By id: the daemon stores `container:<name>` as `container:<id>` (moby
            # daemon/daemon_unix.go adaptSharedNamespaceContainer) and the provider reads that
            # back; a name would show a forced replacement on every later update.
            network_mode=pulumi.Output.concat("container:", web.id),
            networks_advanced=None,
            restart="no",
            must_run=False,
            attach=True,
            logs=True,
        )
        self.healthy = exit_gate(self.probe, "the web health probe")
        for proc_name, proc in args.processes:
            if proc.singleton and not args.first:
                continue  # two schedulers would fire every job twice
            for k in range(proc.count):
                role = proc_name if proc.count == 1 else f"{proc_name}-{k + 1}"
                container(
                    role,
                    proc.memory_mb,
                    after=release_after,
                    image=image.image_id,
                    command=list(proc.command),
                    envs=args.env,
                    labels=release_label,
                    stop_timeout=proc.stop_seconds,
                    destroy_grace_seconds=proc.stop_seconds,
                    volumes=mounts(proc_name),
                    init=True,
                    replace_on_changes=["init"],
                )
        # nginx is replaced only after `nginx -t` passed on the new conf and certificates in a
        # one-shot from the same image: a conf nginx refuses fails the update with nginx's own
        # words while the running proxy keeps serving. The proxy's name is fixed, so it stops
        # before its replacement starts: one droplet at a time (proxy_after).
        proxy_files = [
            docker.ContainerUploadArgs(file="/etc/nginx/nginx.conf", content=args.nginx_conf),
            docker.ContainerUploadArgs(file=CERT_PATH, content=args.cert_pem),
            docker.ContainerUploadArgs(file=KEY_PATH, content=pulumi.Output.secret(args.key_pem)),
            docker.ContainerUploadArgs(file=CLIENT_CA_PATH, content=args.client_ca_pem),
        ]
        check = container(
            "proxy-check",
            args.proxy_memory_mb,
            image=proxy_image.image_id,
            entrypoints=["nginx"],
            command=["-t"],
            uploads=proxy_files,
            restart="no",
            must_run=False,
            attach=True,
            logs=True,
        )
        # Empty text once nginx -t passed; the update stops here otherwise.
        checked = exit_gate(check, "nginx -t of the new proxy conf")
        self.proxy = container(
            "proxy",
            args.proxy_memory_mb,
            after=[web, check, *args.proxy_after],
            image=proxy_image.image_id,
            labels=[docker.ContainerLabelArgs(label="webstack.checked", value=checked)],
            ports=[docker.ContainerPortArgs(internal=p, external=p) for p in (80, 443)],
            uploads=proxy_files,
        )
        self.register_outputs({"release": self.release_gate, "healthy": self.healthy})
