"""AppContainers: the app on one droplet: proxy (nginx), web, worker, and on the first
droplet only, beat and the one-shot migration.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.dockerhost import LOG_OPTS, DockerHost, exit_gate

CERT_PATH = "/etc/nginx/certs/origin.pem"
KEY_PATH = "/etc/nginx/certs/origin.key"
WEB_ALIAS = "web"


@dataclass(frozen=True, kw_only=True)
class AppContainersArgs:
    host: DockerHost
    """Docker provider and network of this droplet; no default."""
    image: str
    """Pinned app image; no default (config `app.image`)."""
    proxy_image: str
    """Pinned nginx image; no default (config `proxy.image`, default nginx:1.27.5-alpine)."""
    env: pulumi.Input[list[str]]
    """Secret KEY=value list for web, worker and beat (pooled DATABASE_URL); no default."""
    release_env: pulumi.Input[list[str]]
    """Secret KEY=value list for the migration (direct DATABASE_URL); no default."""
    nginx_conf: str
    """Rendered nginx.conf; no default (components/proxy.py)."""
    cert_pem: pulumi.Input[str]
    """Origin certificate nginx serves; no default."""
    key_pem: pulumi.Input[str]
    """Its private key (secret); no default."""
    web_command: tuple[str, ...]
    """Web process command; no default (config `app.webCommand`)."""
    worker_command: tuple[str, ...]
    """Celery worker command, --concurrency appended; no default."""
    worker_concurrency: int
    """Celery concurrency; no default (config `app.workerConcurrency`, default 2)."""
    beat_command: tuple[str, ...]
    """Celery beat command; no default."""
    release_command: tuple[str, ...]
    """Migration command; no default (config `app.releaseCommand`)."""
    port: int = 8000
    """Port the web process listens on; default 8000."""
    health_path: str = "/health"
    """Health endpoint for the web healthcheck; default /health."""
    web_memory_mb: int = 512
    """Memory limit of web; default 512."""
    worker_memory_mb: int = 512
    """Memory limit of worker; default 512."""
    proxy_memory_mb: int
    """Memory limit of nginx; no default (components/config.py PROXY_MEMORY_MB)."""
    beat_memory_mb: int
    """Memory limit of beat; no default (components/config.py BEAT_MEMORY_MB)."""
    first: bool = False
    """True on the first droplet: runs beat and the migration; default False."""
    release_gate: pulumi.Input[str] | None = None
    """On other droplets: the first droplet's migration result to wait on; default None."""
    release_resource: pulumi.Resource | None = None
    """On other droplets: the first droplet's migration container; default None."""
    rollout_after: pulumi.Resource | None = None
    """The previous droplet's web container: this web is replaced only once that one is
    healthy, so a release rolls droplet by droplet; default None (first droplet)."""


class AppContainers(pulumi.ComponentResource):
    """Containers have fixed names, so each is deleted before its replacement is created.

    Only the proxy publishes host ports; web, worker and beat are reachable on the docker
    network alone. On the first droplet the migration runs once per release (its container
    is replaced when the image or env changes); every web and worker container of the
    release waits for it, and a non-zero exit fails the update before any of them starts.
    """

    migrate: docker.Container | None
    web: docker.Container
    release_gate: pulumi.Output[str]

    def __init__(self, name: str, args: AppContainersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:containers:AppContainers", name, None, opts)
        on_host = pulumi.ResourceOptions(parent=self, provider=args.host.provider)
        network = [docker.ContainerNetworksAdvancedArgs(name=args.host.network.name)]
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=on_host)
        proxy_image = docker.RemoteImage(f"{name}-proxy-image", name=args.proxy_image, keep_locally=True, opts=on_host)

        def container(role: str, after: list[pulumi.Resource] | None = None, **kwargs) -> docker.Container:
            kwargs.setdefault("restart", "unless-stopped")
            kwargs.setdefault("networks_advanced", network)
            return docker.Container(
                f"{name}-{role}",
                name=role,
                log_driver="json-file",
                log_opts=LOG_OPTS,
                opts=pulumi.ResourceOptions.merge(
                    on_host, pulumi.ResourceOptions(delete_before_replace=True, depends_on=after or [])
                ),
                **kwargs,
            )

        self.migrate = None
        if args.first:
            self.migrate = container(
                "migrate",
                image=image.image_id,
                command=list(args.release_command),
                envs=args.release_env,
                memory=args.web_memory_mb,
                restart="no",
                must_run=False,
                attach=True,
                logs=True,
            )
            # The release is named by its image id, once the migration has exited 0.
            self.release_gate = pulumi.Output.concat(exit_gate(self.migrate, "the migration"), image.image_id)
            release_after: list[pulumi.Resource] = [self.migrate]
        else:
            if args.release_gate is None or args.release_resource is None:
                raise ValueError("a droplet that does not run the migration needs the first droplet's release")
            self.release_gate = pulumi.Output.from_input(args.release_gate)
            release_after = [args.release_resource]
        release_label = [docker.ContainerLabelArgs(label="webstack.release", value=self.release_gate)]

        web = container(
            "web",
            after=release_after + ([args.rollout_after] if args.rollout_after else []),
            image=image.image_id,
            command=list(args.web_command),
            envs=args.env,
            memory=args.web_memory_mb,
            labels=release_label,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.host.network.name, aliases=[WEB_ALIAS])],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=[
                    "CMD",
                    "python",
                    "-c",
                    "import urllib.request; urllib.request.urlopen("
                    f"'http://127.0.0.1:{args.port}{args.health_path}', timeout=4)",
                ],
                interval="15s",
                timeout="5s",
                retries=3,
                start_period="30s",
            ),
            wait=True,
        )
        container(
            "worker",
            after=release_after,
            image=image.image_id,
            command=[*args.worker_command, f"--concurrency={args.worker_concurrency}"],
            envs=args.env,
            memory=args.worker_memory_mb,
            labels=release_label,
        )
        if args.first:
            # Two schedulers would fire every periodic task twice: beat runs here only.
            container(
                "beat", after=release_after, image=image.image_id, command=list(args.beat_command), envs=args.env,
                memory=args.beat_memory_mb, labels=release_label,
            )  # fmt: skip
        self.web = web
        container(
            "proxy",
            after=[web],
            image=proxy_image.image_id,
            memory=args.proxy_memory_mb,
            ports=[docker.ContainerPortArgs(internal=p, external=p) for p in (80, 443)],
            uploads=[
                docker.ContainerUploadArgs(file="/etc/nginx/nginx.conf", content=args.nginx_conf),
                docker.ContainerUploadArgs(file=CERT_PATH, content=args.cert_pem),
                docker.ContainerUploadArgs(file=KEY_PATH, content=pulumi.Output.secret(args.key_pem)),
            ],
        )
        self.register_outputs({"release": self.release_gate})
