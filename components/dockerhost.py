"""DockerHost: a Docker provider that talks to one app droplet over SSH, and its network."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

DEPLOY_USER = "deploy"
NETWORK_NAME = "webstack"


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
