"""The shared data tier's processes on the droplet engine (components/cloud/runner.py's
DataRunner): dev's Postgres and Valkey as containers, the database's admin step as a one-shot,
and the dumps and volume archives as containers keeping their own schedule, all on the first
droplet's docker host and all children of the data component that asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.cloud.runner import File, Service
from components.droplets.dockerhost import ENTRYPOINT_CAPS, DockerHost, exit_gate


class DockerData:
    """DataRunner on a docker host; `volume_path` (the app's data directory on the droplet's
    volume) and `volume_scratch` (a directory on the volume outside it) when the app has one."""

    def __init__(self, host: DockerHost, volume_path: str | None = None, volume_scratch: str | None = None):
        if volume_path and not volume_scratch:
            raise ValueError("volume_path needs volume_scratch: the archive must not land on the root disk")
        self.host = host
        self.volume_path = volume_path
        self.volume_scratch = volume_scratch

    @property
    def volume_archived(self) -> bool:
        return self.volume_path is not None

    def service(
        self,
        owner: pulumi.Resource,
        name: str,
        *,
        role: str,
        image: str,
        data_path: str,
        memory_mb: int,
        protect: bool,
        env: Callable[[str], list[str]],
        health: str,
        tmpfs: Mapping[str, str],
        shell_command: str | None = None,
    ) -> Service:
        """The service as a container on the host, a child of `owner`; its name is its host name.

        A generated password reaches it only through its secret environment (`env(password)`),
        its data lives in a named volume (protected with the stack), and it is reachable only
        on the host's docker network under the alias `role`. Its root is read-only (it writes
        the volume and `tmpfs`), and it keeps only what its entrypoint needs to prepare the data
        directory and drop to the service's user (ENTRYPOINT_CAPS).
        """
        host = self.host
        command = {"entrypoints": ["sh", "-c"], "command": [shell_command]} if shell_command else {}
        password = random.RandomPassword(
            f"{name}-password", length=40, special=False, opts=pulumi.ResourceOptions(parent=owner)
        )
        volume = host.volume(f"{name}-data", owner, protect)
        pulled = host.image(f"{name}-image", image, owner)
        container = host.container(
            f"{name}-container",
            parent=owner,
            memory_mb=memory_mb,
            name=f"{name}-{role}",
            image=pulled.image_id,
            envs=pulumi.Output.secret(password.result.apply(env)),
            restart="unless-stopped",
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=data_path)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=host.network.name, aliases=[role])],
            wait=True,
            # The provider sends a healthcheck at create only (not force-new upstream, not in its
            # update): a changed probe must replace the container or it never reaches the daemon.
            replace_on_changes=["healthcheck"],
            caps=ENTRYPOINT_CAPS,
            read_only=True,
            tmpfs=tmpfs,
            **command,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD-SHELL", health], interval="10s", timeout="5s", retries=5
            ),
        )
        return Service(container.name, password.result, container)

    def admin_step(
        self,
        owner: pulumi.Resource,
        name: str,
        *,
        image: str,
        command: str,
        credentials: File,
        user: str,
        after: Sequence[pulumi.Resource],
        secrets: pulumi.Output[list[str]],
        what: str,
    ) -> pulumi.Output[str]:
        """A one-shot container (`<name>-grant`, named pg-grant) of `image` (`<name>-client`),
        replaced, so run again, whenever its command or the credentials change (uploads force
        a replacement). The credentials reach it only as an uploaded file, so the exited
        container's config holds no secret; a failure's output is redacted of `secrets`."""
        client = self.host.image(f"{name}-client", image, owner)
        grant = self.host.container(
            f"{name}-grant",
            parent=owner,
            memory_mb=128,
            depends_on=after,
            name="pg-grant",
            image=client.image_id,
            entrypoints=["sh", "-c"],
            command=[command],
            uploads=[docker.ContainerUploadArgs(file=credentials.path, content=credentials.content)],
            user=user,
            caps=(),
            restart="no",
            must_run=False,
            attach=True,
            logs=True,
        )
        return exit_gate(grant, what, secrets=secrets)

    def scheduled(
        self,
        owner: pulumi.Resource,
        name: str,
        image_name: str,
        *,
        image: str,
        role: str,
        memory_mb: int,
        env: pulumi.Output[list[str]],
        caps: tuple[str, ...],
        command: Sequence[str] | None = None,
        files: Sequence[File] = (),
        read_volume: bool = False,
    ) -> None:
        """A container named `role` that runs its own schedule, from a pinned image, its env a secret."""
        extra: dict = {}
        if command is not None:
            extra["command"] = list(command)
        if files:
            extra["uploads"] = [
                docker.ContainerUploadArgs(file=f.path, content=f.content, executable=f.executable or None)
                for f in files
            ]
        if read_volume:
            if not self.volume_path:
                raise ValueError(f"{name}: no volume to archive on this droplet")
            source = docker.ContainerVolumeArgs(
                host_path=self.volume_path, container_path="/backup/volume", read_only=True
            )
            # The archive is as large as the data: on the volume, never on the droplet's root disk.
            scratch = docker.ContainerVolumeArgs(host_path=self.volume_scratch, container_path="/tmp")
            extra["volumes"] = [source, scratch]
        pulled = self.host.image(image_name, image, owner)
        self.host.container(
            name,
            parent=owner,
            memory_mb=memory_mb,
            name=role,
            image=pulled.image_id,
            envs=pulumi.Output.secret(env),
            restart="unless-stopped",
            caps=caps,
            **extra,
        )
