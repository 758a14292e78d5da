"""`webstack:app`: the image, its one HTTP process and any background processes, hostnames,
environment and secrets."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, model_validator

from components.config import catalog
from components.config.base import (
    Allowed,
    Image,
    SecretText,
    Section,
    choice,
    command,
    problem,
    raise_if,
    strings,
    text,
    whole,
)
from components.config.cluster import Autoscale
from components.config.process import (
    DOCKER_HUB,
    EnvName,
    EnvValue,
    Job,
    Process,
    ProcessName,
    Registry,
    Seconds,
    StackValue,
    image_registry,
)

URL_PATH = r"/[A-Za-z0-9/_.-]*"
_URL_PATH = re.compile(whole(URL_PATH))
# The capabilities Docker knows (moby oci/caps/defaults.go and the kernel's list), without
# the CAP_ prefix. The app image is unknown: its containers keep what a typical entrypoint
# needs to prepare files and drop to a user (chown, gosu/su-exec, tini signalling that user),
# and a process may bind a port below 1024; Docker's other defaults (NET_RAW, MKNOD,
# AUDIT_WRITE, SETFCAP, SETPCAP, SYS_CHROOT) are dropped.
CAPABILITIES = (
    "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
    "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
    "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT",
    "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "WAKE_ALARM",
)  # fmt: skip
APP_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID")
_BIND = re.compile(whole(r"(?:--bind=|-b)?(?:[0-9.]+|\[[0-9a-f:]+\]):(\d+)"))


class AppConfig(Section):
    image: Image
    """Pinned app image (tag or digest, never `latest`); required."""
    registry: Registry | None = None
    """Private registry the image is pulled from {kind: docr, name} or {kind: token, server, username,
    password (secret)}; unset: a public image."""
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    """Port the web process listens on inside its container."""
    health_path: text(URL_PATH, "a path starting with /") = "/health"
    """Health endpoint: release probe, load balancer check, uptime checks."""
    health_status: Annotated[int, Field(ge=200, le=399)] = 200
    """Status the health endpoint answers when healthy."""
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    """App droplets; 2 or more puts a load balancer in front. Kubernetes engine: web pods (fixed)."""
    autoscale: Autoscale | None = None
    """Kubernetes engine: web pods between min and max on CPU and/or memory use, instead of
    `replicas` {min, max, cpuPercent, memoryPercent}; unset: `replicas` fixed pods."""
    web_cpu_millis: Annotated[int, Field(ge=10, le=32000)] = 250
    """Kubernetes engine: CPU each web pod requests (millicores), what autoscale.cpuPercent is relative to."""
    droplet_size: choice(*catalog.DROPLET_SIZES) = "s-1vcpu-2gb"
    """Droplet size slug."""
    hostnames: strings()
    """FQDNs served, each inside `domain` (one proxied DNS record each); the first is the probes' Host."""
    web_command: command() = ("gunicorn", "app.wsgi:application", "--bind=0.0.0.0:8000")
    """The one HTTP process behind nginx; a `--bind` port must equal `port`."""
    web_workers: Annotated[int, Field(ge=1, le=64)] = 3
    """Its workers (database connections), passed as WEB_CONCURRENCY."""
    web_memory_mb: Annotated[int, Field(ge=64)] = 512
    """Memory limit of the web container (MB)."""
    web_stop_seconds: Seconds = 30
    """Grace between SIGTERM and SIGKILL when a web container is replaced (in-flight requests)."""
    processes: dict[ProcessName, Process] = Field(default_factory=dict)
    """Background processes by name {command, memoryMb, count, singleton, connections, stopSeconds};
    none required (Celery worker and beat are one configuration of them)."""
    jobs: dict[ProcessName, Job] = Field(default_factory=dict)
    """Scheduled jobs by name {schedule (cron, UTC), command, memoryMb}: each runs from the app image
    with the app's env on the first droplet only, never twice at once; its exit code is logged and a
    failure alerts Slack (slackWebhookUrl)."""
    release_command: command() | None = None
    """One-shot command run before any process of a release starts (migrations); unset: none."""
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    """Plain env vars; may not shadow a URL or secret the stack provides."""
    secret_env: dict[EnvName, SecretText] = Field(default_factory=dict)
    """Your own secrets (Stripe, SMTP, ...), each set with `pulumi config set --secret --path
    'app.secretEnv.NAME'`; they reach the containers as Pulumi secrets only."""
    env_aliases: dict[EnvName, StackValue] = Field(default_factory=dict)
    """Extra names for the stack's values, e.g. CELERY_RESULT_BACKEND: cacheUrl."""
    generated_secrets: dict[EnvName, Annotated[int, Field(ge=1), Allowed("an integer >= 1")]] = Field(
        default_factory=dict
    )
    """Env vars filled with 64-character random secrets, each with its own rotation counter
    (bump one to rotate only that secret), e.g. {SECRET_KEY: 1}."""
    capabilities: tuple[
        Annotated[choice(*CAPABILITIES), Allowed("a Linux capability without CAP_, e.g. NET_BIND_SERVICE")], ...
    ] = APP_CAPABILITIES
    """Linux capabilities the app's containers (web, processes, release, jobs) keep, without CAP_;
    every other one is dropped and none can be gained (no-new-privileges). The default lets a
    typical entrypoint chown and drop to a user; list more only for an image that needs them."""
    read_only_root: bool = False
    """Mount the app containers' root filesystem read-only (a tmpfs /tmp is writable): for an
    image that writes only there and to the volume."""
    auth_paths: strings() = ("/login", "/api/auth/")
    """Prefixes rate-limited tighter at nginx and at the edge (/login covers /login/reset)."""

    @property
    def droplet_memory_mb(self) -> int:
        return catalog.DROPLET_SIZES[self.droplet_size].memory_mb

    @property
    def env_vars(self) -> tuple[tuple[str, str], ...]:
        """`env` as sorted (NAME, text) pairs."""
        return tuple(sorted(self.env.items()))

    @model_validator(mode="after")
    def _consistent(self) -> AppConfig:
        bad: list[str] = []
        if len({h.replace(".", "-") for h in self.hostnames}) != len(self.hostnames):
            bad.append(
                problem(
                    "app.hostnames",
                    list(self.hostnames),
                    "a list without duplicates (a-b.x and a.b.x count as the same)",
                )
            )
        for arg in self.web_command:
            bind = _BIND.match(arg)
            if bind and int(bind[1]) != self.port:
                bad.append(
                    problem(
                        "app.webCommand",
                        list(self.web_command),
                        f"binding app.port {self.port} (nginx and the probe use it)",
                    )
                )
        owners: dict[str, str] = {}
        for where, names in (
            ("env", self.env),
            ("secretEnv", self.secret_env),
            ("envAliases", self.env_aliases),
            ("generatedSecrets", self.generated_secrets),
        ):
            for name in names:
                if name in owners:
                    bad.append(problem(f"app.{where}.{name}", "...", f"defined once (app.{owners[name]} has it too)"))
                owners.setdefault(name, where)
        for path in self.auth_paths:
            if not _URL_PATH.match(path):
                bad.append(problem("app.authPaths", path, "a URL path starting with /"))
        if self.registry:
            host = image_registry(self.image)
            prefix = f"registry.digitalocean.com/{self.registry.name}/"
            if self.registry.kind == "docr" and not self.image.startswith(prefix):
                bad.append(problem("app.image", self.image, f"an image of the registry, {prefix}<name>:<tag>"))
            hub = host in DOCKER_HUB and self.registry.server in DOCKER_HUB
            if self.registry.kind == "token" and host != self.registry.server and not hub:
                bad.append(problem("app.registry.server", self.registry.server, f"the image's registry {host}"))
        raise_if(bad)
        return self
