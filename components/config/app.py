"""`webstack:app`: the image, its one HTTP process and any background processes, hostnames,
environment and secrets."""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any

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
from components.config.envnames import PORT_NAME
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
# What a container may keep after dropping ALL: the Kubernetes Pod Security Standards'
# Baseline list (its "Capabilities" control), which is Docker's default set (moby
# daemon/pkg/oci/caps/defaults.go) without NET_RAW. Anything else (SYS_ADMIN, NET_ADMIN,
# SYS_PTRACE, DAC_READ_SEARCH: Docker's seccomp profile allows open_by_handle_at, the "shocker"
# host-file read, only with it) is refused here and by the policy pack's
# container-capabilities-baseline rule (policy/rules/containers.py), which reads this list.
BASELINE_CAPABILITIES = (
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)  # fmt: skip
# The app image is unknown: its containers keep what a typical entrypoint needs to prepare
# files and drop to a user (chown, gosu/su-exec, tini signalling that user), and a process may
# bind a port below 1024; the Baseline's others (MKNOD, AUDIT_WRITE, SETFCAP, SETPCAP,
# SYS_CHROOT) are dropped unless listed.
APP_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID")
# Where the common servers are told their port (each tested in tests/unit/test_config.py):
# gunicorn and hypercorn `--bind`/`-b HOST:PORT`, uvicorn, daphne, granian, waitress `--port`,
# uWSGI `--http`/`--http-socket [HOST]:PORT`, waitress `--listen`, puma `-b tcp://HOST:PORT`,
# `next start -p`, `rails server -p`, puma `-p`, daphne `-p`; and a bare HOST:PORT argument.
_ADDRESS = re.compile(whole(r"(?:tcp://|http://)?(\[[0-9a-fA-F:]*\]|[A-Za-z0-9.-]*):(\d{1,5})"))
_BARE = re.compile(whole(r"([0-9.]+|\[[0-9a-fA-F:]+\]):(\d{1,5})"))
_ADDRESS_FLAGS = ("--bind", "-b", "--http", "--http-socket", "--listen")
_PORT_FLAGS = ("--port", "-p")
# gunicorn's and hypercorn's -p is a pid file.
_P_IS_PID = ("gunicorn", "hypercorn")
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def listen_addresses(cmd: tuple[str, ...]) -> list[tuple[str, str | None, int]]:
    """(how it was written, host or None, port) of every listening address `cmd` gives, through
    one level of `sh -c '...'`; a flag without a port (rails `-b 0.0.0.0`) gives none."""
    words: list[str] = []
    for arg in cmd:
        try:
            words += shlex.split(arg) if any(c.isspace() for c in arg) else [arg]
        except ValueError:
            words.append(arg)
    program = words[0].rsplit("/", 1)[-1] if words else ""
    found: list[tuple[str, str | None, int]] = []
    for i, word in enumerate(words):
        flag, eq, inline = word.partition("=")
        value = inline if eq else None
        if not eq and word.startswith(("-b", "-p")) and len(word) > 2 and not word.startswith("--"):
            flag, value = word[:2], word[2:]
        if value is None and i + 1 < len(words) and flag in (*_ADDRESS_FLAGS, *_PORT_FLAGS, "--host"):
            value = words[i + 1]
        if flag == "-p" and program in _P_IS_PID:
            continue
        if flag == "--host" and value in _LOOPBACK:
            found.append((f"--host {value}", value, 0))
        if flag in _PORT_FLAGS and value is not None and value.isdigit():
            found.append((f"{flag} {value}", None, int(value)))
        elif value is not None and flag in _ADDRESS_FLAGS and (m := _ADDRESS.match(value)):
            found.append((f"{flag} {value}", m[1], int(m[2])))
        elif (m := _BARE.match(word)) and (i == 0 or words[i - 1] not in (*_ADDRESS_FLAGS, *_PORT_FLAGS)):
            found.append((word, m[1], int(m[2])))
    if _is_uvicorn(words) and "--host" not in {w.partition("=")[0] for w in words}:
        # uvicorn's own default host is 127.0.0.1 (uvicorn/config.py: host="127.0.0.1").
        found.append(("uvicorn's default host 127.0.0.1 (add --host 0.0.0.0)", "127.0.0.1", 0))
    return found


def _is_uvicorn(words: list[str]) -> bool:
    program = words[0].rsplit("/", 1)[-1] if words else ""
    return program == "uvicorn" or (program.startswith("python") and words[1:3] == ["-m", "uvicorn"])


SECRET_ALPHABETS = ("alphanumeric", "base64", "hex", "urlsafe")
# The policy pack's floor for a RandomPassword (policy/rules/secrets.py random-password-length).
MIN_SECRET_CHARACTERS = 32


class GeneratedSecret(Section):
    length: Annotated[int, Field(ge=24, le=512)] = 64
    """Characters (hex, alphanumeric, urlsafe: at least 32, the policy pack's
    random-password-length), or for base64 the random bytes it encodes (at least 24; 32: 44
    characters with padding)."""
    alphabet: choice(*SECRET_ALPHABETS) = "urlsafe"
    """hex: 0-9a-f; alphanumeric: A-Za-z0-9; urlsafe: those and - _; base64: standard base64
    (RFC 4648 section 4) of `length` random bytes."""
    rotation: Annotated[int, Field(ge=1), Allowed("an integer >= 1")] = 1
    """Rotation counter: bump it to regenerate this secret only."""

    @model_validator(mode="after")
    def _long_enough(self) -> GeneratedSecret:
        if self.alphabet != "base64" and self.length < MIN_SECRET_CHARACTERS:
            raise ValueError(
                f"at least {MIN_SECRET_CHARACTERS} characters long for {self.alphabet}, not {self.length} "
                "(the policy pack's minimum; base64: at least 24 bytes)"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        """`NAME: 3` is {rotation: 3}: 64 URL-safe characters, as before alphabets existed."""
        return {"rotation": data} if isinstance(data, int) and not isinstance(data, bool) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        full = handler(core_schema)
        return {"anyOf": [{"type": "integer", "minimum": 1}, full]}


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
    """The one HTTP process behind nginx; the port it is told (gunicorn/hypercorn `--bind`, uvicorn
    `--port`, uWSGI `--http`, `next start -p`, ...) must equal `port`, which it also gets as PORT."""
    web_workers: Annotated[int, Field(ge=1, le=64)] = 3
    """Its worker processes, passed as WEB_CONCURRENCY (stack value `workers`)."""
    web_threads: Annotated[int, Field(ge=1, le=64)] = 1
    """Threads per worker (Puma, gunicorn --threads), each holding its own database connection:
    the sizing counts webWorkers x webThreads; stack value `threads` (e.g. envAliases
    RAILS_MAX_THREADS: threads)."""
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
    generated_secrets: dict[
        EnvName,
        Annotated[GeneratedSecret, Allowed("a rotation counter (an integer >= 1) or {length, alphabet, rotation}")],
    ] = Field(default_factory=dict)
    """Env vars filled with random secrets, each with its own rotation counter (bump one to rotate
    only that secret): `NAME: 1` is 64 URL-safe characters, `NAME: {length: 64, alphabet: hex,
    rotation: 1}` what the app validates (alphabet hex, alphanumeric, urlsafe or base64)."""
    capabilities: tuple[
        Annotated[
            choice(*BASELINE_CAPABILITIES),
            Allowed(
                f"a Baseline capability (Pod Security Standards), without CAP_: {', '.join(BASELINE_CAPABILITIES)}"
            ),
        ],
        ...,
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
    def secret_specs(self) -> tuple[tuple[str, GeneratedSecret], ...]:
        """`generated_secrets` sorted by name."""
        return tuple(sorted(self.generated_secrets.items()))

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
        for written, host, port in listen_addresses(self.web_command):
            if port and port != self.port:
                bad.append(
                    problem(
                        "app.webCommand",
                        list(self.web_command),
                        f"binding app.port {self.port} (nginx and the probe use it), not {port} ({written})",
                    )
                )
            elif host in _LOOPBACK and not (written.startswith("uvicorn") and "UVICORN_HOST" in self.env):
                bad.append(
                    problem(
                        "app.webCommand",
                        list(self.web_command),
                        f"listening on 0.0.0.0 (all addresses): nginx reaches it from its own container, not {written}",
                    )
                )
        port_value = self.env.get(PORT_NAME)
        if port_value is not None and port_value != str(self.port):
            bad.append(
                problem(f"app.env.{PORT_NAME}", port_value, f"{self.port!r} (app.port) or unset: the stack sets PORT")
            )
        for where, names in (
            ("secretEnv", self.secret_env),
            ("generatedSecrets", self.generated_secrets),
        ):
            if PORT_NAME in names:
                bad.append(problem(f"app.{where}.{PORT_NAME}", "...", "absent: the stack sets PORT to app.port"))
        if self.env_aliases.get(PORT_NAME, "port") != "port":
            bad.append(
                problem(f"app.envAliases.{PORT_NAME}", self.env_aliases[PORT_NAME], "port or absent (PORT is app.port)")
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
