"""DockerHost: a Docker provider that talks to one app droplet over SSH, and its network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

DEPLOY_USER = "deploy"
NETWORK_NAME = "webstack"
LOG_OPTS = {"max-size": "10m", "max-file": "3"}


@dataclass(frozen=True, kw_only=True)
class DockerHostArgs:
    address: pulumi.Input[str]
    """Public IPv4 address of the droplet; no default."""
    ready: pulumi.Resource
    """The droplet's readiness step; nothing talks to Docker before it finishes. No default."""
    user: str = DEPLOY_USER
    """SSH user in the docker group; default deploy."""


class DockerHost(pulumi.ComponentResource):
    """`provider` (ssh://deploy@<ip>, the operator's SSH agent) and `network` for the containers.

    The docker CLI's own ssh runs with StrictHostKeyChecking=accept-new: the first contact
    with a new droplet records its key, a changed key afterwards is refused.
    No registry credentials go in the provider: its configuration is stored unencrypted.
    """

    provider: docker.Provider
    network: docker.Network

    def __init__(self, name: str, args: DockerHostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:dockerhost:DockerHost", name, None, opts)
        self.provider = docker.Provider(
            f"{name}-docker",
            host=pulumi.Output.concat("ssh://", args.user, "@", args.address),
            ssh_opts=["-o", "StrictHostKeyChecking=accept-new", "-o", "ServerAliveInterval=30"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.ready]),
        )
        self.network = docker.Network(
            f"{name}-net",
            name=NETWORK_NAME,
            driver="bridge",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        self.register_outputs({"network": self.network.name})


def data_container(
    owner: pulumi.Resource,
    name: str,
    host: DockerHost,
    *,
    role: str,
    image: str,
    data_path: str,
    memory_mb: int,
    protect: bool,
    env: Callable[[str], list[str]],
    **container_args,
) -> tuple[docker.Container, pulumi.Output[str]]:
    """A data service (dev's Postgres or Valkey) as a container on `host`, children of `owner`.

    A generated password reaches it only through its secret environment (`env(password)`),
    its data lives in a named volume (protected with the stack), and it is reachable only
    on the host's docker network under the alias `role`. Returns the container and the
    password.
    """
    on_host = pulumi.ResourceOptions(parent=owner, provider=host.provider)
    password = random.RandomPassword(
        f"{name}-password", length=40, special=False, opts=pulumi.ResourceOptions(parent=owner)
    )
    volume = docker.Volume(
        f"{name}-data",
        name=f"{name}-data",
        opts=pulumi.ResourceOptions.merge(on_host, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)),
    )
    pulled = docker.RemoteImage(f"{name}-image", name=image, keep_locally=True, opts=on_host)
    container = docker.Container(
        f"{name}-container",
        name=f"{name}-{role}",
        image=pulled.image_id,
        envs=pulumi.Output.secret(password.result.apply(env)),
        restart="unless-stopped",
        memory=memory_mb,
        volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=data_path)],
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=host.network.name, aliases=[role])],
        log_driver="json-file",
        log_opts=LOG_OPTS,
        wait=True,
        opts=pulumi.ResourceOptions.merge(on_host, pulumi.ResourceOptions(delete_before_replace=True)),
        **container_args,
    )
    return container, password.result


def exit_gate(container: docker.Container, what: str) -> pulumi.Output[str]:
    """Empty text once a one-shot container exited 0; fails the update otherwise.

    Whatever takes this output as an input (or as part of one) waits for the one-shot and is
    never created after a failure. In preview the exit code is unknown and nothing fails.
    """

    def check(code: int | None) -> str:
        if code not in (0, None):
            raise pulumi.RunError(
                f"{what} exited with code {code}; nothing that depends on it was started. "
                f"Read its output with `docker logs` on the first droplet, fix, then "
                f"`pulumi up --target-replace <its URN>`."
            )
        return ""

    return container.exit_code.apply(check)
