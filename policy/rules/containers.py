"""Containers: pinned images, a restart policy, no privileges, host ports on the proxy only,
and docker providers that pull with token credentials only and talk to the daemon securely."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .common import CONTAINER, DOCKER_PROVIDER, REMOTE_IMAGE, resource_policy

PROXY_NAME = "proxy"
RESTART_POLICIES = ("always", "unless-stopped", "on-failure")
ROOT_CAPABILITIES = ("ALL", "SYS_ADMIN", "CAP_SYS_ADMIN")
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
    added = [str(c).upper() for c in (props.get("capabilities") or {}).get("adds") or []]
    if root := [c for c in added if c in ROOT_CAPABILITIES]:
        yield f"container adds capabilities {root}: root on the host"


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
    "Containers are not privileged and add no root-equivalent capability. Docker docs: Runtime privilege and "
    "Linux capabilities; CIS Docker Benchmark, container runtime section.",
    CONTAINER,
    _not_privileged,
)
ports_proxy_only = resource_policy(
    "container-ports-proxy-only",
    f"Only the container named {PROXY_NAME!r} publishes host ports; no container uses the host network. "
    "DESIGN.md principle 7 (least exposure); CIS Docker Benchmark, container runtime section.",
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

POLICIES = [pinned, restart, not_privileged, ports_proxy_only, registry_auth_token, secure_host]
