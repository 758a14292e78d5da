"""JobRunner: the app's scheduled jobs, on the first droplet only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.config.app import APP_CAPABILITIES
from components.droplets.containers import APP_TMPFS, PROBE_IMAGE, PROBE_USER
from components.droplets.dockerhost import DockerHost
from components.render import cron
from components.render.dockerapi import PROXY_PORT, job_runner_allowlist

# busybox crond and the docker CLI in one small pinned image (tag and multi-arch index digest).
RUNNER_IMAGE = "docker:27.5.1-cli@sha256:851f91d241214e7c6db86513b270d58776379aacc5eb9c4a87e5b47115e3065c"
# The failure alert is curl from the probe's image, as its non-root user.
ALERT_IMAGE = PROBE_IMAGE
ALERT_MEMORY_MB = 32
RUNNER_NAME = "jobs"
PROXY_NAME = "jobs-docker"
# busybox crond sets each job's user and groups (libbb change_identity: initgroups, setgid,
# setuid) even when that is root already: setgroups needs SETGID.
RUNNER_CAPS = ("SETGID", "SETUID")
# A job that is replaced (a new release) while it runs gets this long to finish.
JOB_STOP_SECONDS = 30


@dataclass(frozen=True, kw_only=True)
class JobRunnerArgs:
    host: DockerHost
    """The first droplet's docker provider and network; no default."""
    jobs: tuple[cron.JobSpec, ...]
    """The jobs; no default (config `app.jobs`)."""
    app_image_id: pulumi.Input[str]
    """Image id of the app image already pulled on that droplet, known once web serves it there
    (AppContainers.released_image); no default."""
    env: pulumi.Input[list[str]]
    """Secret KEY=value list the jobs get (the app's env); no default."""
    stack: str
    """Stack name, for the failure alert's text; no default."""
    alert_url: pulumi.Input[str] | None = None
    """Secret webhook (Slack) posted to when a job fails; default None (exit codes in the log only)."""
    memory_mb: int
    """Memory limit of the runner itself (crond + the docker CLI); no default."""
    after: tuple[pulumi.Resource, ...] = ()
    """What the jobs wait on: the first droplet's web promotion (after the release command, so
    jobs run against the migrated schema, and after the new web passed its probe); default none."""
    volume: Sequence[docker.ContainerVolumeArgs] = ()
    """The droplet's volume, bound into every job; default none."""
    app_caps: tuple[str, ...] = APP_CAPABILITIES
    """Capabilities the job containers keep; default APP_CAPABILITIES (config `app.capabilities`)."""
    read_only_root: bool = False
    """The job containers' root read-only with a tmpfs /tmp; default False (config `app.readOnlyRoot`)."""


class JobRunner(pulumi.ComponentResource):
    """A container per job (`job-<name>`, created, never started by the program), a `jobs`
    container (crond) whose crontab starts them through `jobs-docker`, the socket proxy that
    admits only that, and, with an alert URL, the `jobs-alert` container. The runner and the
    proxy share a network of their own that leads nowhere else."""

    runner: docker.Container
    containers: dict[str, docker.Container]

    def __init__(self, name: str, args: JobRunnerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:jobs:JobRunner", name, None, opts)
        host = args.host
        app = {"caps": args.app_caps, "read_only": args.read_only_root}
        app["tmpfs"] = APP_TMPFS if args.read_only_root else None
        self.containers = {
            job.name: host.container(
                f"{name}-{job.name}",
                parent=self,
                memory_mb=job.memory_mb,
                depends_on=args.after,
                name=job.container,
                image=args.app_image_id,
                command=list(job.command),
                envs=args.env,
                labels=[docker.ContainerLabelArgs(label="webstack.job", value=job.name)],
                volumes=list(args.volume) or None,
                # Created only: the runner starts it on its schedule, and nothing restarts it.
                start=False,
                must_run=False,
                restart="no",
                init=True,
                replace_on_changes=["init"],
                stop_timeout=JOB_STOP_SECONDS,
                destroy_grace_seconds=JOB_STOP_SECONDS,
                **app,
            )
            for job in sorted(args.jobs, key=lambda j: j.name)
        }
        started = [job.container for job in args.jobs]
        runner_volumes: list[docker.ContainerVolumeArgs] = []
        alert_image = host.image(f"{name}-alert-image", ALERT_IMAGE, self)
        if args.alert_url is not None:
            started.append(cron.ALERT_CONTAINER)
            # The failure's message goes from the runner to the alert container here.
            messages = host.volume(f"{name}-alert-messages", self, protect=False)
            runner_volumes.append(docker.ContainerVolumeArgs(volume_name=messages.name, container_path=cron.ALERT_DIR))
            host.container(
                f"{name}-alert",
                parent=self,
                memory_mb=ALERT_MEMORY_MB,
                name=cron.ALERT_CONTAINER,
                image=alert_image.image_id,
                entrypoints=["sh", "-c"],
                command=[cron.ALERT_COMMAND],
                envs=pulumi.Output.secret(pulumi.Output.from_input(args.alert_url).apply(lambda u: [f"WEBHOOK={u}"])),
                volumes=[
                    docker.ContainerVolumeArgs(volume_name=messages.name, container_path=cron.ALERT_DIR, read_only=True)
                ],
                user=PROBE_USER,
                caps=(),
                read_only=True,
                start=False,
                must_run=False,
                restart="no",
            )
        network = host.internal_network(f"{name}-api-net", "jobs-api", self)
        proxy = host.socket_proxy(
            f"{name}-docker",
            parent=self,
            name=PROXY_NAME,
            network=network,
            client=RUNNER_NAME,
            allow=job_runner_allowlist(started),
        )
        runner_image = host.image(f"{name}-image", RUNNER_IMAGE, self)
        script = cron.render_job_script(args.jobs, stack=args.stack, alert=args.alert_url is not None)
        self.runner = host.container(
            f"{name}-runner",
            parent=self,
            memory_mb=args.memory_mb,
            depends_on=[proxy, *self.containers.values()],
            name=RUNNER_NAME,
            image=runner_image.image_id,
            entrypoints=["crond"],
            command=["-f", "-d", "8", "-c", "/etc/crontabs"],
            envs=[f"DOCKER_HOST=tcp://{PROXY_NAME}:{PROXY_PORT}"],
            restart="unless-stopped",
            uploads=[
                docker.ContainerUploadArgs(file=cron.CRONTAB, content=cron.render_crontab(args.jobs)),
                docker.ContainerUploadArgs(file=cron.SCRIPT, content=script, executable=True),
            ],
            volumes=runner_volumes or None,
            # The proxy's network only: the runner talks to nothing else.
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
            caps=RUNNER_CAPS,
            stop_timeout=10,
            # crond as PID 1 ignores SIGTERM; tini forwards it. The provider sends `init` at
            # create only: a change must replace the container.
            init=True,
            replace_on_changes=["init"],
        )
        self.register_outputs({"jobs": [j.name for j in args.jobs]})
