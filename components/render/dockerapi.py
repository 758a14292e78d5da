"""What the containers that talk to the Docker API may ask of it, and the socket proxy that
holds them to that. Pure functions, no resources (components/droplets/dockerhost.py deploys the proxy).

No container but a socket proxy mounts the daemon's socket: a container with the socket is
root on the droplet (mounting it read-only limits nothing, it only stops the file itself from
being replaced). The proxy is wollomatic/socket-proxy, a small Go program (no dependency but
the standard library) that answers a request only when its method has an allow-list and the
request's path fully matches one of its regular expressions (cmd/socket-proxy/
handlehttprequest.go: `regexp.Compile("^" + regex + "$")` in internal/config/config.go,
matched against the URL path, never the query), and only for the client hostnames it is told.
It cannot judge a request's body: so the job runner gets no way to create a container at all.
Its job containers exist beforehand (created by the program, hardened like every other
container), and the runner may only read those by name and start, attach to and wait for a
container by the 64-hex id that reading gave it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Pinned by tag and the multi-arch index digest of that tag.
SOCKET_PROXY_IMAGE = (
    "wollomatic/socket-proxy:1.13.1@sha256:3935b709275e4ec35d6ed5a5c4a1f0d01ed31eec5e7234efc3357ecd47689002"
)
PROXY_PORT = 2375
DOCKER_SOCKET = "/var/run/docker.sock"
# Requests come with the client's API version (/v1.47/...) or, from some clients, without one.
_VERSION = r"(/v1\.[0-9]+)?"
_ID = "[0-9a-f]{64}"


def job_runner_allowlist(containers: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """What `docker container inspect NAME` and `docker start --attach NAME` of the named
    containers send (docker/cli cli/command/container/start.go: ContainerInspect by name, then
    attach, wait and start by the returned id), and the CLI's ping. Nothing creates, removes,
    pulls, executes in or lists anything."""
    names = "|".join(sorted(containers))
    return {
        "HEAD": ("/_ping",),
        "GET": ("/_ping", f"{_VERSION}/containers/({names})/json"),
        "POST": (f"{_VERSION}/containers/{_ID}/(attach|wait|start)",),
    }


def log_reader_allowlist() -> dict[str, tuple[str, ...]]:
    """What Vector's docker_logs source reads (src/sources/docker_logs/mod.rs: events,
    list_containers, inspect_container, logs) and the ping: GET only. Reading a container
    (inspect) shows its env, so a log reader sees every container's secrets; it cannot change
    or start anything."""
    return {
        "HEAD": ("/_ping",),
        "GET": ("/_ping", f"{_VERSION}/(version|events|containers/json|containers/{_ID}/(json|logs))"),
    }


def proxy_command(allow: Mapping[str, Sequence[str]], client: str) -> list[str]:
    """The proxy's arguments: listen on its own network, answer only `client` (a container
    name, looked up on each connection), allow `allow` (method: path regexes, one flag each:
    the proxy anchors each whole pattern, so no pattern has a top-level `|`), and stop when the
    daemon's socket goes away (a daemon restart replaces the socket the container holds), so
    its restart policy brings it back on the new one."""
    return [
        "-loglevel=INFO",
        "-listenip=0.0.0.0",
        f"-proxyport={PROXY_PORT}",
        f"-allowfrom={client}",
        "-watchdoginterval=30",
        "-stoponwatchdog",
        "-shutdowngracetime=5",
        *(f"-allow{method}={pattern}" for method in sorted(allow) for pattern in allow[method]),
    ]
