"""DockerHost: a Docker provider that talks to one app droplet over SSH, its network, and the
one way to put an image or a container on that droplet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pulumi
import pulumi_docker as docker

from components.config.sizing import SOCKET_PROXY_MEMORY_MB
from components.render.cloudinit import DOCKER_LOG_OPTS
from components.render.dockerapi import DOCKER_SOCKET, SOCKET_PROXY_IMAGE, proxy_command

DEPLOY_USER = "deploy"
NETWORK_PREFIX = "webstack-"
# Exactly the daemon's defaults (cloud-init's daemon.json): see cloudinit.DOCKER_LOG_OPTS.
LOG_OPTS = DOCKER_LOG_OPTS
# Every docker resource on a droplet carries the droplet's id in a property that forces its
# replacement (container/network/volume labels, image triggers): the docker provider's `host`
# does not, so without it a replaced droplet would come up empty while the update "succeeds".
DROPLET_LABEL = "webstack.droplet"
# The daemon sets MemorySwap to twice Memory when it is unset, and the provider reads that
# back into `memory_swap`; sending the read-back form keeps the next preview empty.
SWAP_FACTOR = 2
# A failed one-shot's error shows this many of its last lines (each cut to OUTPUT_LINE_MAX), with
# the values of its env of this length or more replaced (shorter ones, like DEBUG=0, would blank
# out ordinary words).
OUTPUT_TAIL_LINES = 20
OUTPUT_LINE_MAX = 500
REDACT_MIN_LENGTH = 8
# Every container starts from no capability at all and gets back only what its image needs
# (`caps`), and no process in it can gain privileges (setuid binaries, file capabilities).
# The daemon keeps HostConfig.CapAdd/CapDrop as its Go client sent them, which normalises
# each name to CAP_<NAME> (moby client/container_create.go:72, normalizeCap), and the
# provider reads them back from there: the canonical form is what is sent, or every
# container would be replaced on every update.
DROP_ALL = "ALL"
NO_NEW_PRIVILEGES = "no-new-privileges"
# What an entrypoint that prepares a data directory and then drops to its service user needs
# (postgres and valkey images: chown/find, then su-exec/gosu): nothing else.
ENTRYPOINT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")
# A socket proxy (a Go binary serving a handful of requests) and its user: root, the socket's
# owner, so it may open the socket without any capability; the socket's group (docker) has a
# number that differs per droplet, and the image has no /etc/group to name it by.
SOCKET_PROXY_USER = "0:0"


def capabilities(adds: Sequence[str] = ()) -> docker.ContainerCapabilitiesArgs:
    """Drop every capability, then add `adds` back (names without the CAP_ prefix), sorted,
    in the form the provider reads back."""
    return docker.ContainerCapabilitiesArgs(drops=[DROP_ALL], adds=sorted(f"CAP_{c}" for c in set(adds)) or None)


def known_hosts_file(droplet_id: str) -> str:
    """The runner's known_hosts file for one droplet.

    DigitalOcean reuses IPv4 addresses, so a key trusted per address would make a rebuilt
    droplet on a known address fail with "host key changed". One file per droplet id: the
    first contact with a droplet records its key (accept-new), any later change is refused.
    """
    return f"~/.ssh/webstack_known_hosts_{droplet_id}"


def ssh_opts(droplet_id: str) -> list[str]:
    """Options for the docker CLI's ssh: strict per-droplet host keys, a live connection."""
    return [
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"UserKnownHostsFile={known_hosts_file(droplet_id)}",
        "-o",
        "ServerAliveInterval=30",
    ]


@dataclass(frozen=True, kw_only=True)
class VolumeMount:
    """The droplet's volume as the app's containers see it."""

    host_path: str
    """Where the droplet mounts it (/mnt/<volume_name>); no default."""
    path: str
    """Where the containers see it; no default (config `volume.path`)."""
    users: frozenset[str]
    """Who gets it: `web`, `release`, `jobs` and process names; no default."""

    def volumes(self, user: str) -> list[docker.ContainerVolumeArgs]:
        """The bind mount for `user`'s containers, or none."""
        if user not in self.users:
            return []
        return [docker.ContainerVolumeArgs(host_path=self.host_path, container_path=self.path)]

    def bind(self, user: str) -> str | None:
        """`host:path` for `docker run --volume`, or None."""
        return f"{self.host_path}:{self.path}" if user in self.users else None


@dataclass(frozen=True, kw_only=True)
class DockerHostArgs:
    address: pulumi.Input[str]
    """Public IPv4 address of the droplet; no default."""
    droplet_id: pulumi.Input[str]
    """The droplet's id: names its known_hosts file and pins every docker resource to it; no default."""
    ready: pulumi.Resource
    """The droplet's readiness step; nothing talks to Docker before it finishes. No default."""
    user: str = DEPLOY_USER
    """SSH user in the docker group; default deploy."""
    registry_auth: Sequence[docker.ProviderRegistryAuthArgs] = ()
    """Credentials the daemon pulls private images with; each password must be a Pulumi secret
    (the provider encrypts secret inputs in the state); default none (public images)."""


class DockerHost(pulumi.ComponentResource):
    """`provider` (ssh://deploy@<ip>, the operator's SSH agent) and `network` for the containers.

    `image()` and `container()` are the only way components put an image or a container there:
    they apply the provider, the droplet pin, log rotation, the memory limit in its read-back
    form, the hardening every container gets (no capabilities but those named, no new
    privileges) and delete-before-replace (container names are fixed per host).
    """

    provider: docker.Provider
    network: docker.Network
    droplet_id: pulumi.Output[str]

    def __init__(self, name: str, args: DockerHostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:dockerhost:DockerHost", name, None, opts)
        self.droplet_id = pulumi.Output.from_input(args.droplet_id)
        self.provider = docker.Provider(
            f"{name}-docker",
            host=pulumi.Output.concat("ssh://", args.user, "@", args.address),
            ssh_opts=self.droplet_id.apply(ssh_opts),
            registry_auth=list(args.registry_auth) or None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.ready]),
        )
        self.network = docker.Network(
            f"{name}-net",
            # Named after its droplet: a replaced droplet's network is created before the old
            # one goes, and no two droplets' networks ever share a name.
            name=pulumi.Output.concat(NETWORK_PREFIX, self.droplet_id),
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label=DROPLET_LABEL, value=self.droplet_id)],
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        self.register_outputs({"network": self.network.name, "droplet_id": self.droplet_id})

    def _on_host(self, parent: pulumi.Resource, **opts) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, provider=self.provider, **opts)

    def image(self, name: str, ref: str, parent: pulumi.Resource) -> docker.RemoteImage:
        """Pull `ref` onto this droplet, kept when the resource goes: another resource may pull
        the same reference, and the provider's delete (kreuzwerker removeImage) fails the update
        while any container, even a stopped one, uses the image. The app's images of earlier
        releases are removed by AppContainers' image cleanup instead."""
        return docker.RemoteImage(
            name, name=ref, keep_locally=True, triggers={DROPLET_LABEL: self.droplet_id}, opts=self._on_host(parent)
        )

    def volume(self, name: str, parent: pulumi.Resource, protect: bool) -> docker.Volume:
        """A named volume; a protected one is also retained if its resource is ever deleted."""
        return docker.Volume(
            name,
            name=name,
            labels=[docker.VolumeLabelArgs(label=DROPLET_LABEL, value=self.droplet_id)],
            opts=self._on_host(parent, protect=protect, retain_on_delete=protect),
        )

    def internal_network(self, name: str, role: str, parent: pulumi.Resource) -> docker.Network:
        """A network of this droplet with no way out (`internal`): a socket proxy and its one
        client meet there, and nothing else can reach the proxy. Named after its role and the
        droplet, like the droplet's network."""
        return docker.Network(
            name,
            name=pulumi.Output.concat(NETWORK_PREFIX, role, "-", self.droplet_id),
            driver="bridge",
            internal=True,
            labels=[docker.NetworkLabelArgs(label=DROPLET_LABEL, value=self.droplet_id)],
            opts=self._on_host(parent),
        )

    def socket_proxy(
        self,
        resource_name: str,
        *,
        parent: pulumi.Resource,
        name: str,
        network: docker.Network,
        client: str,
        allow: Mapping[str, Sequence[str]],
    ) -> docker.Container:
        """The only container that mounts the daemon's socket: a proxy reachable on `network`
        as `name`, answering only the container `client` and only the requests `allow` admits
        (components/render/dockerapi.py)."""
        image = self.image(f"{resource_name}-image", SOCKET_PROXY_IMAGE, parent)
        return self.container(
            resource_name,
            parent=parent,
            memory_mb=SOCKET_PROXY_MEMORY_MB,
            name=name,
            image=image.image_id,
            command=proxy_command(allow, client),
            user=SOCKET_PROXY_USER,
            caps=(),
            read_only=True,
            restart="unless-stopped",
            volumes=[docker.ContainerVolumeArgs(host_path=DOCKER_SOCKET, container_path=DOCKER_SOCKET, read_only=True)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
        )

    def container(
        self,
        resource_name: str,
        *,
        parent: pulumi.Resource,
        memory_mb: int,
        caps: Sequence[str],
        read_only: bool = False,
        tmpfs: Mapping[str, str] | None = None,
        labels: Sequence[docker.ContainerLabelArgs] = (),
        depends_on: Sequence[pulumi.Resource] = (),
        delete_before_replace: bool = True,
        replace_on_changes: Sequence[str] = (),
        **kwargs,
    ) -> docker.Container:
        """A container on this droplet; `kwargs` are docker.Container arguments (`name` among them).

        It has the capabilities `caps` (names without CAP_; every other one is dropped) and
        no-new-privileges. `read_only` mounts its root read-only, with `tmpfs` (path: mount
        options) where it writes; a container with `uploads` cannot have a read-only root
        (the daemon refuses to extract into it, moby daemon/archive_unix.go checkWritablePath).
        Delete-before-replace unless the caller derives a new name per replacement. A one-shot
        that keeps its output (`logs=True`) keeps it as a secret: the provider stores it in the
        state, and a release command prints whatever the app prints."""
        if read_only and kwargs.get("uploads"):
            raise ValueError(f"{resource_name}: uploads need a writable root (the daemon extracts them into it)")
        kwargs.setdefault("networks_advanced", [docker.ContainerNetworksAdvancedArgs(name=self.network.name)])
        # tmpfs is neither force-new nor applied by the provider's update (only restart, memory
        # and cpu are: resource_docker_container_funcs.go:1016): a change must replace.
        replace = [*replace_on_changes, *(["tmpfs"] if tmpfs else [])]
        return docker.Container(
            resource_name,
            labels=[docker.ContainerLabelArgs(label=DROPLET_LABEL, value=self.droplet_id), *labels],
            memory=memory_mb,
            memory_swap=memory_mb * SWAP_FACTOR,
            log_driver="json-file",
            log_opts=LOG_OPTS,
            capabilities=capabilities(caps),
            security_opts=[NO_NEW_PRIVILEGES],
            read_only=read_only or None,
            tmpfs=dict(tmpfs) if tmpfs else None,
            opts=self._on_host(
                parent,
                delete_before_replace=delete_before_replace,
                depends_on=list(depends_on),
                replace_on_changes=replace or None,
                additional_secret_outputs=["containerLogs"] if kwargs.get("logs") else None,
            ),
            **kwargs,
        )


def redact(text: str, env: Sequence[str]) -> str:
    """`text` with every value of `env` (KEY=VALUE items) of REDACT_MIN_LENGTH characters or
    more, each such line of a multi-line value, and the password of every URL among them (of
    that length too), replaced by `[secret]`."""
    values: set[str] = set()
    for item in env:
        value = item.partition("=")[2]
        values.update((value, *value.splitlines()))
        try:
            password = urlsplit(value).password
        except ValueError:  # not a URL (e.g. a bracket in a key)
            password = None
        if password:
            values.update((password, unquote(password)))
    for value in sorted((v for v in values if len(v) >= REDACT_MIN_LENGTH), key=len, reverse=True):
        text = text.replace(value, "[secret]")
    return text


# Docker's log stream frames each chunk with an 8-byte header (stream 1 or 2, three zeros, a
# 4-byte size); the provider kept them in `container_logs` before (2026-04)
# https://github.com/kreuzwerker/terraform-provider-docker/pull/899.
_FRAME = re.compile(r"[\x01\x02]\x00\x00\x00[\s\S]{4}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def output_tail(output: str, env: Sequence[str]) -> list[str]:
    """The last OUTPUT_TAIL_LINES lines of a one-shot's output, readable (no stream headers or
    control characters), redacted before they are cut, each at most OUTPUT_LINE_MAX long."""
    text = redact(_CONTROL.sub("", _FRAME.sub("", output)), env)
    return [line[:OUTPUT_LINE_MAX] for line in text.rstrip("\n").splitlines()[-OUTPUT_TAIL_LINES:]]


def exited_ok(code: int | None) -> bool:
    """Whether a one-shot's exit code (None when the provider read none) lets what waits on it go."""
    return code in (0, None)


def exit_gate(
    container: docker.Container,
    what: str,
    rerun: pulumi.Resource | None = None,
    secrets: pulumi.Input[list[str]] | None = None,
) -> pulumi.Output[str]:
    """Empty text once a one-shot container exited 0; fails the update otherwise, with the last
    lines of its output (when it keeps them, `logs=True`), its env values redacted, and so are
    `secrets` (KEY=VALUE items, like env) it was given another way (an uploaded file); and how
    to run it again: `pulumi up --target-replace` of the one-shot, or `pulumi up --replace` of
    `rerun` when replacing that resource is what runs it again (and replaces what it feeds).

    Whatever takes this output as an input (or as part of one) waits for the one-shot and is
    never created after a failure. In preview the exit code is unknown and nothing fails.
    """

    def check(args: list) -> str:
        code, output, env, container_name, urn, extra = args
        if exited_ok(code):
            return ""
        lines = output_tail(output or "", [*(env or []), *(extra or [])])
        shown = "".join(f"\n    {line}" for line in lines)
        last = "line" if len(lines) == 1 else f"{len(lines)} lines"
        raise pulumi.RunError(
            f"{what} exited with code {code}; nothing that depends on it was started. "
            + (f"Its last {last} of output (env values redacted):{shown}\n" if lines else "")
            + f"Read all of it with `docker logs {container_name}` on its droplet, fix, then "
            + (f"`pulumi up --replace '{urn}'`." if rerun else f"`pulumi up --target-replace '{urn}'`.")
        )

    # Its value is always empty text: not secret, though it read the (secret) env and output.
    return pulumi.Output.unsecret(
        pulumi.Output.all(
            container.exit_code,
            container.container_logs,
            container.envs,
            container.name,
            (rerun or container).urn,
            secrets or [],
        ).apply(check)
    )
