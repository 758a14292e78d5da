"""AppContainers: the app on one droplet: nginx, the one HTTP process (web) with its health
probe and its promotion, the background processes, and on the first droplet the singletons and
the release command.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

from components.config.app import APP_CAPABILITIES
from components.config.base import IMAGE_RE
from components.config.process import Process
from components.droplets.dockerhost import DEPLOY_USER, DROPLET_LABEL, DockerHost, VolumeMount, exit_gate, exited_ok
from components.render.nginx import CLIENT_CA_PATH

CERT_PATH = "/etc/nginx/certs/origin.pem"
KEY_PATH = "/etc/nginx/certs/origin.key"
# The name nginx proxies to (components/config/nginx.py: upstream web:<port>), and it resolves it
# on the live network only: a web joins that network under this alias once its probe passed.
WEB_ALIAS = "web"
# web's container names: "web-" and its release id (a RandomId of 4 bytes; tools/ops.py matches
# them too).
WEB_NAME = "web-[0-9a-f]{8}"
LIVE_NETWORK_SUFFIX = "-live"
# nginx keeps what `web` resolved to for 10 s (components/render/nginx.py: `resolver ... valid=10s`).
# The promotion returns only after longer than that, so by the time anything stops the previous
# web (the engine, at the end of the update) every nginx cache also holds the new one.
DNS_SETTLE_SECONDS = 15
# The probe runs curl from its own small image inside the web container's network namespace,
# so nothing (no shell, no interpreter, no curl) is assumed inside the app image.
PROBE_IMAGE = "curlimages/curl:8.11.1@sha256:c1fe1679c34d9784c1b0d1e5f62ac0a79fca01fb6377cdd33e90473c6f9f9a69"
# The image's own non-root user; curl needs no capability and writes nothing.
PROBE_USER = "curl_user"
# nginx's master binds 80/443 as root and starts its workers as the nginx user, owning the
# temporary directories it creates for them: nothing else.
PROXY_CAPS = ("CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID")
# A read-only app root still gets a writable /tmp (most runtimes put temporary files there).
APP_TMPFS = {"/tmp": "rw,nosuid,nodev"}
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
    # curl writes 000 when no HTTP answer came: nothing listened on the port, or it never answered.
    never = (
        f"webstack: nothing answered on port {port} (app.port) in {attempts} tries: the web process "
        f"never accepted a connection there; is it listening on 0.0.0.0:{port} (its PORT env)? "
        "the release stops here"
    )
    return (
        f"for i in $(seq {attempts}); do code=$({curl}); "
        f'[ "$code" = "{status}" ] && exit 0; sleep {interval}; done; '
        f'if [ "$code" = "000" ]; then echo {shlex.quote(never)} >&2; exit 1; fi; '
        f'echo "webstack: {path} answered $code, not {status}, after {attempts} tries; the release stops here" >&2; '
        "exit 1"
    )


def _members(network: str) -> str:
    """Shell: the names of the containers on `network`, one a line."""
    return "docker network inspect --format '{{range .Containers}}{{println .Name}}{{end}}' " + shlex.quote(network)


def promote_script(*, web: str, network: str, alias: str = WEB_ALIAS, settle: int = DNS_SETTLE_SECONDS) -> str:
    """Shell run on the droplet once `web` passed its probe: connect it to `network` (the only
    one nginx is on) under `alias`, unless it already is, then wait `settle` seconds so every
    nginx has looked `alias` up again."""
    return "\n".join(
        [
            "set -eu",
            f"if {_members(network)} | grep -qxF {shlex.quote(web)}; then",
            f"  echo {shlex.quote(f'webstack: {web} already serves under the alias {alias}')}",
            "else",
            f"  docker network connect --alias {shlex.quote(alias)} {shlex.quote(network)} {shlex.quote(web)}",
            f"  echo {shlex.quote(f'webstack: {web} passed its health probe and serves under the alias {alias}')}",
            "fi",
            f"sleep {settle}",
        ]
    )


def stop_script(*, web: str, network: str, grace: int, alias: str = WEB_ALIAS) -> str:
    """Shell run on the droplet when `web` failed its probe: stop it (SIGTERM, `grace` seconds);
    the container stays, with its log. Every other running web is on `network` under `alias`,
    whatever release started it (one from before the live network has the alias on the app
    network only), so a new nginx reaches the web that serves on. It never fails: the update
    fails on the probe's own message."""
    stopped = f"webstack: {web} failed its health probe and is stopped; it never got a request (docker logs {web})"
    kept = f"webstack: could not stop {web}; it serves nothing (it never joined the alias {alias})"
    net, others = shlex.quote(network), f"grep -Ex {shlex.quote(WEB_NAME)} | grep -vxF {shlex.quote(web)}"
    return "\n".join(
        [
            f"if docker stop -t {grace} {shlex.quote(web)} >/dev/null; then",
            f"  echo {shlex.quote(stopped)}",
            "else",
            f"  echo {shlex.quote(kept)} >&2",
            "fi",
            f"for c in $(docker ps --filter status=running --format '{{{{.Names}}}}' | {others}); do",
            f'  if ! {_members(network)} | grep -qxF "$c"; then',
            f'    docker network connect --alias {shlex.quote(alias)} {net} "$c" &&',
            f'      echo "webstack: $c serves under the alias {alias}"',
            "  fi",
            "done",
            "exit 0",
        ]
    )


def familiar_repository(image: str) -> str:
    """The repository of `image` as docker names it in `docker image ls` and matches it in a
    `reference` filter: Docker Hub's domain and `library/` dropped (distribution/reference
    normalize.go familiarizeName, as vendored by moby)."""
    repo = IMAGE_RE.match(image)["repo"]
    first, slash, rest = repo.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first):
        if first not in ("docker.io", "index.docker.io"):
            return repo
        repo = rest
    official, _, name = repo.partition("/")
    return name if official == "library" and name and "/" not in name else repo


def prune_script(*, repository: str) -> str:
    """Shell run on the droplet once a release serves there: remove every image of the app's
    `repository` no container uses (running or stopped), then the dangling ones. The release's
    own image and the previous one stay: the previous web is removed only at the end of the
    update, so rolling back one release pulls nothing. A failure here is reported, not fatal."""
    images = f"docker image ls -q --no-trunc --filter {shlex.quote('reference=' + repository)} | sort -u"
    return "\n".join(
        [
            "set -u",
            "used=$(docker ps -aq | xargs -r docker inspect --format '{{.Image}}')",
            f"for id in $({images}); do",
            '  if printf \'%s\\n\' "$used" | grep -qxF "$id"; then continue; fi',
            '  if docker image rm "$id" >/dev/null; then echo "webstack: removed $id (an earlier release)"; fi',
            "done",
            "docker image prune -f || echo 'webstack: could not prune the dangling images' >&2",
        ]
    )


def _digest(lines: list[str]) -> str:
    """A digest of the env (which holds secrets): enough to notice a change, and the output
    stays a secret because its input is one."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AppContainersArgs:
    host: DockerHost
    """Docker provider and network of this droplet; no default."""
    address: pulumi.Input[str]
    """The droplet's public IPv4 address, where the promotion and the image cleanup run over SSH
    as the deploy user (the operator's agent); no default."""
    image: str
    """Pinned app image; no default (config `app.image`)."""
    proxy_image: str
    """Pinned nginx image; no default (config `proxy.image`)."""
    env: pulumi.Input[list[str]]
    """Secret KEY=value list for web and the processes (pooled DATABASE_URL); no default."""
    release_env: pulumi.Input[list[str]]
    """Secret KEY=value list for the release command (direct DATABASE_URL); no default."""
    process_env: Mapping[str, pulumi.Input[list[str]]] = field(default_factory=dict)
    """A process's own secret KEY=value list where it differs from `env` (its `threads`), by
    process name; default none (every process gets `env`)."""
    nginx_conf: str
    """Rendered nginx.conf; no default (components/render/nginx.py)."""
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
    rollout_after: tuple[pulumi.Resource, ...] = ()
    """The previous droplet's rollout (`rolled_out`: its probe, promotion and processes): this web
    is replaced only once that droplet's new release serves, so a release rolls droplet by
    droplet; default none (first droplet)."""
    rollout_gate: pulumi.Input[str] | None = None
    """That droplet's `healthy` (empty text once its new web passed; fails the update
    otherwise); default None."""
    volume: VolumeMount | None = None
    """The droplet's volume, bound into the containers of its users; default None."""
    app_caps: tuple[str, ...] = APP_CAPABILITIES
    """Capabilities web, the processes and the release keep; default APP_CAPABILITIES (config `app.capabilities`)."""
    read_only_root: bool = False
    """Their root filesystem read-only with a tmpfs /tmp; default False (config `app.readOnlyRoot`)."""
    proxy_after: tuple[pulumi.Resource, ...] = ()
    """What this droplet's proxy waits for before it is replaced: Cloudflare's origin-pull
    associations (nginx never asks for the client certificate before Cloudflare sends it) and
    the previous droplet's proxy (a new conf rolls droplet by droplet); default none."""


class AppContainers(pulumi.ComponentResource):
    """web is released side by side and gets requests only once healthy. nginx (the proxy) is on
    a network of its own, the live network, and proxies to the alias `web` there (resolved per
    request, cached 10 s). Each release of web gets a new container name (a RandomId kept on
    everything that would replace it, its probe included) and starts beside the web that serves,
    on the droplet's app network and without the alias, so nginx cannot reach it. Its probe asks
    it for the health path; then the promotion, a command on the droplet over SSH, either
    connects it to the live network under `web` and waits out nginx's cache, or, when the probe
    failed, stops it (its container and log stay) and makes sure the web that still serves is on
    the live network. The update then goes on, or fails with the probe's message (`healthy`).
    The previous web is stopped (SIGTERM, `webStopSeconds` of grace) by the engine at the end of
    a successful update, after every droplet's new web serves.

    Only after the promotion, on its droplet, are the background processes and singletons
    replaced (fixed names: each is stopped with its grace first), and nginx when it changes; the
    next droplet's web waits for all of it, so a release rolls droplet by droplet. Last, the
    images of the app that no container uses are removed: those of the release and the previous
    one stay (its web is removed only at the end of the update), so a rollback pulls nothing.

    Only the proxy publishes host ports. The app's containers run under docker's init (tini): a
    process that is PID 1 (node, a shell script) gets SIGTERM forwarded and its zombies reaped,
    so the stop grace is used to finish work, not waited out.
    """

    migrate: docker.Container | None
    image: docker.RemoteImage
    live_network: docker.Network
    probe: docker.Container
    promote: command.remote.Command
    proxy: docker.Container
    release_gate: pulumi.Output[str]
    healthy: pulumi.Output[str]
    released_image: pulumi.Output[str]
    rolled_out: tuple[pulumi.Resource, ...]

    def __init__(self, name: str, args: AppContainersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:containers:AppContainers", name, None, opts)
        host = args.host
        self.image = image = host.image(f"{name}-image", args.image, self)
        proxy_image = host.image(f"{name}-proxy-image", args.proxy_image, self)
        # Named after the droplet's app network (so after the droplet, like it): nginx and the
        # promoted webs, nothing else.
        self.live_network = live = docker.Network(
            f"{name}-live",
            name=pulumi.Output.concat(host.network.name, LIVE_NETWORK_SUFFIX),
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label=DROPLET_LABEL, value=host.droplet_id)],
            opts=pulumi.ResourceOptions(parent=self, provider=host.provider),
        )
        on_droplet = command.remote.ConnectionArgs(host=args.address, user=DEPLOY_USER)

        def mounts(user: str) -> list[docker.ContainerVolumeArgs] | None:
            return (args.volume.volumes(user) or None) if args.volume else None

        # What every container of the app image gets.
        app = {"caps": args.app_caps, "read_only": args.read_only_root}
        app["tmpfs"] = APP_TMPFS if args.read_only_root else None

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
                    **app,
                )
                # The release is named by its image id, once the release command has exited 0.
                self.release_gate = pulumi.Output.concat(exit_gate(migrate, "the release command"), image.image_id)
                release_after = [migrate]
        else:
            if args.release_gate is None:
                raise ValueError("a droplet that does not run the release needs the first droplet's release")
            self.release_gate = pulumi.Output.from_input(args.release_gate)
            release_after = [args.release_resource] if args.release_resource else []
        # The previous droplet's result (empty text once its new web passed): a failed probe
        # there fails the update before this droplet's web is touched.
        web_label = [
            docker.ContainerLabelArgs(
                label="webstack.release", value=pulumi.Output.concat(self.release_gate, args.rollout_gate or "")
            )
        ]

        probe_command = probe_script(
            port=args.port, path=args.health_path, status=args.health_status, host=args.health_host
        )
        # Everything that replaces web, so a replacement always gets a new name: `init` too,
        # which the provider only sends at create (not ForceNew upstream), and the probe: a web
        # that failed its probe is stopped, and a new probe needs a running web to join.
        web_spec = {"command": args.web_command, "memory": args.web_memory_mb, "stop": args.web_stop_seconds,
                    "port": args.port, "init": True, "probe": probe_command, "caps": sorted(args.app_caps),
                    "read_only": args.read_only_root}  # fmt: skip
        if args.volume and args.volume.bind("web"):
            web_spec["volume"] = args.volume.bind("web")
        release_id = random.RandomId(
            f"{name}-web-release",
            byte_length=4,
            # A new name whenever anything that replaces web changes: the old container keeps
            # serving under the alias until the new one is promoted.
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
            # The live network too, which the promotion connects it to: a destroy (or a replaced
            # droplet) removes web before that network (docker refuses to remove a network with
            # running containers on it).
            depends_on=[*release_after, *args.rollout_after, live],
            delete_before_replace=False,
            name=pulumi.Output.concat("web-", release_id.hex),
            image=image.image_id,
            command=list(args.web_command),
            envs=args.env,
            labels=web_label,
            restart="unless-stopped",
            # The app network only, no alias: nothing proxies to it before the promotion. The
            # provider reads networks_advanced back only when it is empty (import), so the live
            # network the promotion adds shows no diff (kreuzwerker resourceDockerContainerRead).
            # Its default route stays on the app network: of two equal networks the daemon picks
            # the name that sorts first (moby libnetwork/sandbox.go Endpoint.Less), and the live
            # network's name is the app network's plus a suffix.
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=host.network.name)],
            stop_timeout=args.web_stop_seconds,
            destroy_grace_seconds=args.web_stop_seconds,
            # A web stopped for failing its probe stays stopped: with must_run a refresh reads
            # it as must_run false and the update starts it (kreuzwerker
            # resourceDockerContainerRead, resourceDockerContainerUpdate).
            must_run=False,
            init=True,
            # Also in web_spec (a new name); said here too, where the contract check sees it.
            replace_on_changes=["init"],
            volumes=mounts("web"),
            **app,
        )
        probe_image = host.image(f"{name}-probe-image", PROBE_IMAGE, self)
        self.probe = container(
            "probe",
            args.probe_memory_mb,
            after=[web],
            image=probe_image.image_id,
            entrypoints=["sh", "-c"],
            command=[probe_command],
            # By id: the daemon stores `container:<name>` as `container:<id>` (moby
            # daemon/daemon_unix.go adaptSharedNamespaceContainer) and the provider reads that
            # back; a name would show a forced replacement on every later update.
            network_mode=pulumi.Output.concat("container:", web.id),
            networks_advanced=None,
            user=PROBE_USER,
            caps=(),
            read_only=True,
            restart="no",
            must_run=False,
            attach=True,
            logs=True,
        )
        # Whatever the probe's exit code: the new web joins the alias, or it is stopped.
        promotion = pulumi.Output.all(self.probe.exit_code, web.name, live.name).apply(
            lambda v: (
                promote_script(web=v[1], network=v[2])
                if exited_ok(v[0])
                else stop_script(web=v[1], network=v[2], grace=args.web_stop_seconds)
            )
        )
        self.promote = command.remote.Command(
            f"{name}-web-promote",
            connection=on_droplet,
            create=promotion.apply(lambda script: f"sh -c {shlex.quote(script)}"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.probe]),
        )
        gate = exit_gate(self.probe, "the web health probe", rerun=release_id)
        # The probe's verdict only once the promotion ran: a failure read any earlier could end
        # the program before the promotion is sent, and leave the failed web running.
        self.healthy = self.promote.stdout.apply(lambda _: gate)
        # The app image, once web serves it here: what the job runner runs.
        self.released_image = pulumi.Output.concat(self.healthy, image.image_id)
        released = pulumi.Output.concat(self.release_gate, self.healthy)
        release_label = [docker.ContainerLabelArgs(label="webstack.release", value=released)]
        processes: list[pulumi.Resource] = []
        for proc_name, proc in args.processes:
            if proc.singleton and not args.first:
                continue  # two schedulers would fire every job twice
            for k in range(proc.count):
                role = proc_name if proc.count == 1 else f"{proc_name}-{k + 1}"
                processes.append(
                    container(
                        role,
                        proc.memory_mb,
                        after=[*release_after, self.promote],
                        image=image.image_id,
                        command=list(proc.command),
                        envs=args.process_env.get(proc_name, args.env),
                        labels=release_label,
                        stop_timeout=proc.stop_seconds,
                        destroy_grace_seconds=proc.stop_seconds,
                        volumes=mounts(proc_name),
                        init=True,
                        replace_on_changes=["init"],
                        **app,
                    )
                )
        self.rolled_out = (self.probe, self.promote, *processes)
        # Once per new app image, after this droplet's rollout: earlier releases' images go.
        command.remote.Command(
            f"{name}-image-prune",
            connection=on_droplet,
            create=pulumi.Output.concat(
                self.healthy, "sh -c ", shlex.quote(prune_script(repository=familiar_repository(args.image)))
            ),
            triggers=[image.image_id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.rolled_out)),
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
            # nginx -t, as root, creates its temp paths and chowns them to its worker user.
            caps=PROXY_CAPS,
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
            # A new nginx (it reaches the live network only) starts once a web serves there: the
            # promoted one, or after a failed probe the previous one.
            after=[self.promote, check, *args.proxy_after],
            image=proxy_image.image_id,
            labels=[docker.ContainerLabelArgs(label="webstack.checked", value=checked)],
            ports=[docker.ContainerPortArgs(internal=p, external=p) for p in (80, 443)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=live.name)],
            caps=PROXY_CAPS,
            uploads=proxy_files,
        )
        self.register_outputs({"release": self.release_gate, "healthy": self.healthy})
