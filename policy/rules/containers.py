"""Containers: pinned images (by digest where third-party, advisory), a restart policy, no
privileges (every capability dropped but the Baseline's, no-new-privileges), the docker socket
in a read-only socket proxy only, host ports on the proxy only, and docker providers that pull
with token credentials only and talk to the daemon securely."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from components.config import app as config_app

from .common import (
    ADVISORY,
    CONTAINER,
    DOCKER_PROVIDER,
    REMOTE_IMAGE,
    config,
    known,
    of_type,
    resource_policy,
    stack_policy,
)

PROXY_NAME = "proxy"
RESTART_POLICIES = ("always", "unless-stopped", "on-failure")
# What a container may add back after dropping ALL: the Kubernetes Pod Security Standards'
# Baseline list (its "Capabilities" control), which is Docker's default set (moby
# daemon/pkg/oci/caps/defaults.go) without NET_RAW (raw sockets: forged ARP and DNS answers to
# the other containers of a bridge). Everything outside it is refused, from SYS_ADMIN (mounts,
# namespaces: root on the host) to DAC_READ_SEARCH: Docker's seccomp profile allows
# open_by_handle_at only to a container holding it (moby profiles/seccomp/default.json), the
# call the 2014 "shocker" breakout read any host file with.
BASELINE_CAPABILITIES = frozenset(config_app.BASELINE_CAPABILITIES)
# The daemon's socket, and every directory that holds it (/var/run is /run on Ubuntu): mounting
# any of them hands the container the daemon's API, which is root on the host.
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
SOCKET_HOLDERS = frozenset({"/", "/var", "/var/run", "/run", *DOCKER_SOCKETS})
# The one image allowed to hold the socket: wollomatic/socket-proxy answers only allow-listed
# methods and paths, for the one client container it is told (components/dockerapi.py).
SOCKET_PROXY_REPOSITORIES = ("wollomatic/socket-proxy", "ghcr.io/wollomatic/socket-proxy")
SECURE_SCHEMES = ("ssh://", "unix://", "npipe://")
TLS_INPUTS = ("certPath", "certMaterial", "caMaterial")


def image_problem(image: Any) -> str | None:
    """Why `image` is not pinned, or None: an image id (sha256:...), a digest (@sha256:...) or any tag but latest."""
    if not isinstance(image, str) or not image:
        return "has no image"
    if image.startswith("sha256:") or "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]  # a registry's host:port is not a tag
    tag = last.partition(":")[2]
    if not tag:
        return f"image {image} has no tag: it pulls whatever latest is"
    if tag == "latest":
        return f"image {image} is :latest: every pull may bring another image"
    return None


def _pinned(props: Mapping[str, Any], args) -> Iterator[str]:
    problem = image_problem(props.get("image" if args.resource_type == CONTAINER else "name"))
    if problem:
        yield problem


def _restart(props: Mapping[str, Any], args) -> Iterator[str]:
    restart = props.get("restart")
    one_shot = restart == "no" and props.get("mustRun") is False
    if restart not in RESTART_POLICIES and not one_shot:
        yield (
            f"container restart is {restart!r}: use one of {', '.join(RESTART_POLICIES)} "
            "(or 'no' with mustRun false for a one-shot job)"
        )


def _not_privileged(props: Mapping[str, Any], args) -> Iterator[str]:
    if props.get("privileged") is True:
        yield "container is privileged: root on the host"


def capability(name: Any) -> str:
    """A capability as Docker normalises it (moby NormalizeLegacyCapabilities), without CAP_."""
    return str(name).strip().upper().removeprefix("CAP_")


def _capabilities(props: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    caps = props.get("capabilities") or {}
    return [capability(c) for c in caps.get("drops") or []], [capability(c) for c in caps.get("adds") or []]


def _drops_all(props: Mapping[str, Any], args) -> Iterator[str]:
    drops, _ = _capabilities(props)
    if "ALL" not in drops:
        yield (
            f"container {props.get('name')} keeps Docker's default capabilities (NET_RAW, MKNOD, SETFCAP, ...): "
            "drop ALL and add back only what its image needs"
        )


def _baseline_capabilities(props: Mapping[str, Any], args) -> Iterator[str]:
    _, adds = _capabilities(props)
    if beyond := sorted({c for c in adds if c not in BASELINE_CAPABILITIES}):
        yield (
            f"container {props.get('name')} adds {', '.join(beyond)}: beyond the Baseline list "
            f"({', '.join(sorted(BASELINE_CAPABILITIES))})"
        )


def no_new_privileges(options: Any) -> bool:
    """True when Docker's security options leave no-new-privileges on: the last of them that
    names it decides (moby daemon/daemon_unix.go parseSecurityOpt; `:` is the old separator)."""
    on = False
    for option in options or []:
        key, _, value = str(option).replace(":", "=", 1).partition("=")
        if key == "no-new-privileges":
            on = value.lower() in ("", "1", "t", "true")
    return on


def _no_new_privileges(props: Mapping[str, Any], args) -> Iterator[str]:
    if not no_new_privileges(props.get("securityOpts")):
        yield (
            f"container {props.get('name')} does not set no-new-privileges in securityOpts: "
            "a setuid binary in its image can regain what was dropped"
        )


def _host_paths(props: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(host path, read-only) of every bind of the container: volumes and bind mounts."""
    binds = [(v.get("hostPath"), v.get("readOnly") is True) for v in props.get("volumes") or []]
    binds += [
        (m.get("source"), m.get("readOnly") is True) for m in props.get("mounts") or [] if m.get("type") == "bind"
    ]
    return [(str(path).rstrip("/") or "/", ro) for path, ro in binds if path]


def repository(reference: str) -> str:
    """An image reference without its digest and tag, Docker Hub's default prefixes dropped."""
    name = reference.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:  # a tag, not a registry's host:port
        name = name[: len(name) - len(last)] + last.partition(":")[0]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def container_image(container, args) -> str | None:
    """The reference a container runs: its `image` when that is one, else the name of the
    RemoteImage its image id came from (the program passes `image_id`), else None."""
    image = known(container.props, "image")
    if isinstance(image, str) and image and not image.startswith("sha256:"):
        return image
    for dep in container.property_dependencies.get("image", []):
        if dep.resource_type == REMOTE_IMAGE and isinstance(name := known(dep.props, "name"), str):
            return name
    return None


def _socket_proxy_only(args) -> Iterator[tuple[str | None, str]]:
    for container in of_type(args, CONTAINER):
        name = known(container.props, "name") or container.name
        held = [(path, ro) for path, ro in _host_paths(container.props) if path in SOCKET_HOLDERS]
        if not held:
            continue
        image = container_image(container, args)
        if image is None or repository(image) not in SOCKET_PROXY_REPOSITORIES:
            yield (
                container.urn,
                (
                    f"container {name} ({image or 'image unknown'}) mounts {', '.join(p for p, _ in held)}: the docker "
                    "API is root on the host; only a socket proxy (wollomatic/socket-proxy) may hold the socket"
                ),
            )
            continue
        for path, ro in held:
            if path not in DOCKER_SOCKETS:
                yield container.urn, f"socket proxy {name} mounts {path}: it may hold the socket file only"
            elif not ro:
                yield container.urn, f"socket proxy {name} mounts {path} writable: mount it read-only"


def _third_party_digest(props: Mapping[str, Any], args) -> Iterator[str]:
    reference = props.get("image" if args.resource_type == CONTAINER else "name")
    if not isinstance(reference, str) or reference.startswith("sha256:") or "@sha256:" in reference:
        return
    if repository(reference) in {repository(str(a)) for a in config(args, "appImages")}:
        return
    yield (
        f"image {reference} is pinned by tag only: its publisher (or whoever holds its account) can move the tag; "
        "add @sha256:<digest> (docker buildx imagetools inspect)"
    )


def _ports_proxy_only(props: Mapping[str, Any], args) -> Iterator[str]:
    name = props.get("name")
    if name == PROXY_NAME:
        return
    if props.get("ports"):
        yield f"container {name} publishes host ports; only {PROXY_NAME} may (the rest talk on the docker network)"
    if props.get("networkMode") == "host":
        yield f"container {name} uses the host network: every port it listens on is public"


def _configured(value: Any) -> bool:
    """Provider inputs carry structured config as JSON text; '[]' or '{}' is no config."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            return True
    return bool(value)


def _entries(value: Any) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            return [value]
    return list(value or [])


def _registry_auth_token(props: Mapping[str, Any], args) -> Iterator[str]:
    for entry in _entries(props.get("registryAuth")):
        if not isinstance(entry, dict):
            yield f"docker provider registryAuth entry {entry!r} is not an object"
            continue
        address = entry.get("address", "?")
        if entry.get("configFile") or entry.get("configFileContent"):
            yield (
                f"docker provider registryAuth for {address} reads a docker config file: credentials outside "
                "Pulumi's secrets; give username and password (a Pulumi secret) instead"
            )
        if not (entry.get("address") and entry.get("username") and entry.get("password")):
            yield f"docker provider registryAuth for {address} needs an address, a username and a password (token)"


def _secure_host(props: Mapping[str, Any], args) -> Iterator[str]:
    host = props.get("host")
    if not host or str(host).startswith(SECURE_SCHEMES):
        return
    if not any(_configured(props.get(key)) for key in TLS_INPUTS):
        yield f"docker provider talks to {host} without TLS: the daemon's API is root on that host"


pinned = resource_policy(
    "container-image-pinned",
    "Container images and pulled images are pinned: an image id, a @sha256 digest or a tag other than latest. "
    "Docker docs: Image tags and digests; Checkov CKV_DOCKER_7 (its Dockerfile analogue).",
    (CONTAINER, REMOTE_IMAGE),
    _pinned,
)
restart = resource_policy(
    "container-restart-policy",
    "Containers set a restart policy (always, unless-stopped, on-failure; 'no' only for a one-shot job with "
    "mustRun false). Docker docs: Start containers automatically.",
    CONTAINER,
    _restart,
)
not_privileged = resource_policy(
    "container-not-privileged",
    "Containers are not privileged (every capability and device, no seccomp or AppArmor confinement). Docker docs: "
    "Runtime privilege and Linux capabilities; CIS Docker Benchmark: Ensure that privileged containers are not used.",
    CONTAINER,
    _not_privileged,
)
drops_all = resource_policy(
    "container-drops-all-capabilities",
    "Containers drop ALL capabilities (capabilities.drops) and add back only what their image needs. CIS Docker "
    "Benchmark: Ensure that Linux kernel capabilities are restricted within containers; Checkov CKV_K8S_37 (its "
    "Kubernetes analogue).",
    CONTAINER,
    _drops_all,
)
baseline_capabilities = resource_policy(
    "container-capabilities-baseline",
    "Containers add no capability outside the Kubernetes Pod Security Standards' Baseline list (Docker's defaults "
    "without NET_RAW): no NET_RAW, SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH, ALL, ... . "
    "Pod Security Standards, Baseline, Capabilities; moby daemon/pkg/oci/caps/defaults.go; Checkov CKV_K8S_28 and "
    "CKV_K8S_39 (NET_RAW, SYS_ADMIN).",
    CONTAINER,
    _baseline_capabilities,
)
no_new_privs = resource_policy(
    "container-no-new-privileges",
    "Containers set no-new-privileges in securityOpts, so no setuid or file-capability binary regains what was "
    "dropped. CIS Docker Benchmark: Ensure that the container is restricted from acquiring additional privileges; "
    "Checkov CKV_K8S_20 (allowPrivilegeEscalation, its Kubernetes analogue).",
    CONTAINER,
    _no_new_privileges,
)
socket_proxy_only = stack_policy(
    "container-docker-socket-proxy-only",
    "No container mounts the docker socket (or a directory holding it) but a socket proxy (the "
    "wollomatic/socket-proxy image), and that one read-only and the socket file only. CIS Docker Benchmark: Ensure "
    "that the Docker socket is not mounted inside any containers; Checkov CKV_K8S_27.",
    _socket_proxy_only,
)
third_party_digest = resource_policy(
    "container-image-digest",
    "Images other than the stack's own (appImages) are pinned by @sha256 digest, not by a tag their publisher can "
    "move (advisory: some publishers give no digest to check against). Checkov CKV_K8S_43 (its Kubernetes "
    "analogue); Docker docs: Image tags and digests.",
    (CONTAINER, REMOTE_IMAGE),
    _third_party_digest,
    level=ADVISORY,
    config=("appImages",),
)
ports_proxy_only = resource_policy(
    "container-ports-proxy-only",
    f"Only the container named {PROXY_NAME!r} publishes host ports; no container uses the host network. "
    "CIS Docker Benchmark: Ensure that only needed ports are open on the container; Ensure that the host's network "
    "namespace is not shared.",
    CONTAINER,
    _ports_proxy_only,
)
registry_auth_token = resource_policy(
    "docker-provider-registry-auth-token",
    "Docker providers pull private images with registryAuth entries of address, username and password (a "
    "token the stack holds as a Pulumi secret, encrypted in the state; the suite proves the secrecy), never "
    "with a docker config file. Pulumi docs: docker Provider, registryAuth.",
    DOCKER_PROVIDER,
    _registry_auth_token,
)
secure_host = resource_policy(
    "docker-provider-secure-host",
    "Docker providers reach the daemon over SSH or a local socket, or over TCP only with TLS. "
    "Docker docs: Protect the Docker daemon socket.",
    DOCKER_PROVIDER,
    _secure_host,
)

POLICIES = [
    pinned,
    third_party_digest,
    restart,
    not_privileged,
    drops_all,
    baseline_capabilities,
    no_new_privs,
    socket_proxy_only,
    ports_proxy_only,
    registry_auth_token,
    secure_host,
]
