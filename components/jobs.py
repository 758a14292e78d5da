"""JobRunner: the app's scheduled jobs, on the first droplet only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import cron
from components.dockerhost import DockerHost

# busybox crond and the docker CLI in one small pinned image; jobs themselves run from the
# app image, started through the host's docker socket.
RUNNER_IMAGE = "docker:27.5.1-cli"
ALERT_IMAGE = "curlimages/curl:8.11.1"
DOCKER_SOCKET = "/var/run/docker.sock"


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
    """What the runner waits on: the first droplet's web promotion (after the release command, so
    jobs run against the migrated schema, and after the new web passed its probe); default none."""
    volume: str | None = None
    """`host:path` bind of the droplet's volume into every job; default None."""


class JobRunner(pulumi.ComponentResource):
    """A `jobs` container (crond) whose crontab calls `webstack-job NAME`; it is replaced, with
    its files, whenever the jobs, the image or the env change."""

    container: docker.Container

    def __init__(self, name: str, args: JobRunnerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:jobs:JobRunner", name, None, opts)
        host = args.host
        runner_image = host.image(f"{name}-image", RUNNER_IMAGE, self)
        # Pulled here so a failure alert never waits on a pull (or fails on one).
        host.image(f"{name}-alert-image", ALERT_IMAGE, self)
        script = pulumi.Output.all(args.app_image_id, host.network.name).apply(
            lambda v: cron.render_job_script(
                args.jobs, image=v[0], network=v[1], stack=args.stack, alert_image=ALERT_IMAGE, volume=args.volume
            )
        )
        uploads = [
            docker.ContainerUploadArgs(file=cron.CRONTAB, content=cron.render_crontab(args.jobs)),
            docker.ContainerUploadArgs(file=cron.SCRIPT, content=script, executable=True),
            docker.ContainerUploadArgs(
                file=cron.ENV_FILE,
                content=pulumi.Output.secret(pulumi.Output.from_input(args.env).apply(lambda e: "\n".join(e) + "\n")),
            ),
        ]
        if args.alert_url is not None:
            uploads.append(
                docker.ContainerUploadArgs(file=cron.ALERT_URL_FILE, content=pulumi.Output.secret(args.alert_url))
            )
        self.container = host.container(
            f"{name}-runner",
            parent=self,
            memory_mb=args.memory_mb,
            depends_on=args.after,
            name="jobs",
            image=runner_image.image_id,
            entrypoints=["crond"],
            command=["-f", "-d", "8", "-c", "/etc/crontabs"],
            restart="unless-stopped",
            volumes=[docker.ContainerVolumeArgs(host_path=DOCKER_SOCKET, container_path=DOCKER_SOCKET)],
            uploads=uploads,
            stop_timeout=10,
            # crond as PID 1 ignores SIGTERM; tini forwards it. The provider sends `init` at
            # create only: a change must replace the container.
            init=True,
            replace_on_changes=["init"],
        )
        self.register_outputs({"jobs": [j.name for j in args.jobs]})
