"""Parts of `webstack:app`: background processes, the private registry, the env names."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from components.config.base import (
    Allowed,
    OneLine,
    SecretText,
    Section,
    choice,
    command,
    free_text,
    problem,
    raise_if,
    whole,
)
from components.config.cluster import Autoscale
from components.config.envnames import PROVIDED_ENV, STACK_VALUES

# POSIX-portable names (IEEE Std 1003.1, Base Definitions 8.1: "letters, digits and the
# underscore, not beginning with a digit"), in either case: apps write `LISTMONK_app__address`.
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_NAME = re.compile(whole(ENV_NAME))
PROCESS_NAME = r"^[a-z][a-z0-9-]{0,30}$"
_PROCESS_NAME = re.compile(whole(PROCESS_NAME))
# Container names the stack uses itself on every droplet.
RESERVED_NAMES = ("web", "proxy", "migrate", "probe", "pg-grant", "pg-backup", "jobs", "volume-backup", "release",
                  "jobs-docker", "jobs-alert", "logship", "logship-docker")  # fmt: skip


def _env_name(name: str) -> str:
    if not _ENV_NAME.match(name):
        raise ValueError(f"a name matching {ENV_NAME}")
    if name in PROVIDED_ENV:
        raise ValueError("absent: the stack provides this variable (URL or generated secret)")
    return name


def _process_name(name: str) -> str:
    if not _PROCESS_NAME.match(name) or name in RESERVED_NAMES:
        raise ValueError(f"a lower-case name {PROCESS_NAME} other than {', '.join(RESERVED_NAMES)}")
    return name


# The pattern also reaches the JSON Schema (propertyNames), so editors flag what the program refuses.
EnvName = Annotated[
    str,
    Field(pattern=whole(ENV_NAME)),
    Allowed("a POSIX-portable name: letters, digits and _, not starting with a digit"),
    AfterValidator(_env_name),
]
# The CLI hands env values as it read them from YAML, where an unquoted 012345 is the number
# 5349 (octal), 1.10 is 1.1 and true, null and 0x1F are not text at all: a value that is not a
# string is refused rather than turned back into text the user never wrote.
EnvValue = Annotated[
    free_text(
        "an env value reaches its container as one env entry through the Docker API (the job env "
        "file refuses a line break: rules.py)"
    ),
    Allowed(
        'a string in quotes ("..."): YAML reads an unquoted 012345 as the number 5349, 1.10 as 1.1, '
        "and true, false or null as non-strings"
    ),
]
ProcessName = Annotated[str, AfterValidator(_process_name)]
StackValue = Annotated[
    choice(*STACK_VALUES),
    Allowed(
        "a stack value: databaseUrl, directDatabaseUrl, brokerUrl or cacheUrl, or one of their parts (databaseHost, "
        "-Port, -Name, -User, -Password, -Sslmode, and so on), a media value (mediaBucket, mediaEndpoint, mediaRegion, "
        "mediaAccessKeyId, mediaSecretAccessKey, mediaPublicUrl, mediaHostname, mediaDefaultAcl), "
        "port, workers or threads"
    ),
]
Seconds = Annotated[int, Field(ge=0, le=3600)]


class Process(Section):
    command: command()
    """The process's command in the app image; required."""
    memory_mb: Annotated[int, Field(ge=32)] = 512
    """Memory limit of each container (MB)."""
    count: Annotated[int, Field(ge=1, le=16)] = 1
    """Containers of this process per droplet (with singleton: in all)."""
    singleton: bool = False
    """Run on the first droplet only, like a scheduler (Celery beat): two would fire every job twice."""
    connections: Annotated[int, Field(ge=0, le=256)] = 1
    """Database connections each container opens at most (Celery: its concurrency); for the pool sizing."""
    threads: Annotated[int, Field(ge=1, le=256)] = 1
    """Threads each container runs (Sidekiq: its concurrency), each holding its own database
    connection: the sizing counts the larger of connections and threads; the stack value
    `threads` carries it to this process's containers (envAliases, e.g. RAILS_MAX_THREADS: threads)."""
    stop_seconds: Seconds = 30
    """Grace between SIGTERM and SIGKILL when the container is replaced (finish the task at hand)."""
    cpu_millis: Annotated[int, Field(ge=10, le=32000)] = 100
    """Kubernetes engine: CPU each pod requests (millicores), what autoscale.cpuPercent is relative to."""
    autoscale: Autoscale | None = None
    """Kubernetes engine: pods between min and max on CPU and/or memory use, instead of `count`
    {min, max, cpuPercent, memoryPercent}; not with singleton."""


# What busybox crond (the job runner's scheduler) reads: five numeric fields, each a
# comma list of `*`, `N`, `N-M`, optionally `/STEP`. Names (`mon`, `jan`) and the
# extensions of other crons (`@daily`, `L`, `#`, `?`, seconds) are refused: that subset rule
# is ours (busybox miscutils/crond.c ParseField reads numbers, `*`, `-`, `/` and `,` only).
# Whether each field's values are in range is croniter's (a maintained cron parser,
# https://github.com/pallets-eco/croniter), asked one field at a time so the message names it.
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_ITEM = re.compile(whole(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?"))


def _cron_valid(expression: str) -> bool:
    from croniter import croniter

    return bool(croniter.is_valid(expression))


def cron_problem(schedule: str) -> str | None:
    """Why `schedule` is not a five-field cron expression busybox crond runs, or None."""
    fields = schedule.split()
    if len(fields) != len(CRON_FIELDS):
        return "five fields: minute hour day-of-month month day-of-week, e.g. '30 3 * * *' (UTC)"
    for i, (text, (what, lo, hi)) in enumerate(zip(fields, CRON_FIELDS, strict=True)):
        for item in text.split(","):
            m = _CRON_ITEM.match(item)
            alone = " ".join(item if j == i else "*" for j in range(len(CRON_FIELDS)))
            if not m or not _cron_valid(alone):
                return f"{what} {item!r}: *, N, N-M or a list of them, optionally /STEP, with N in {lo}-{hi}"
            if m[3] is not None and int(m[2]) > int(m[3]):
                return f"{what} {item!r}: a range from low to high"
    if not _cron_valid(" ".join(fields)):
        return "a schedule cron can read, e.g. '30 3 * * *' (UTC)"
    return None


def _cron(schedule: str) -> str:
    # Fields are split on spaces and stored single-spaced, but a line break would end the
    # crontab line: one line only, whatever the split makes of it.
    why = cron_problem(schedule)
    if why:
        raise ValueError(why)
    return " ".join(schedule.split())


Schedule = Annotated[str, OneLine, AfterValidator(_cron)]


class Job(Section):
    schedule: Schedule
    """Five-field cron schedule in UTC (`30 3 * * *`: 03:30 every day); required."""
    command: command()
    """Command run from the app image with the app's env; required."""
    memory_mb: Annotated[int, Field(ge=32)] = 256
    """Memory limit of the job's container (MB)."""


class Registry(Section):
    kind: choice("docr", "token")
    """`docr`: the account's DigitalOcean Container Registry (read-only credentials minted per stack);
    `token`: any registry with a username and a secret token (GHCR, Docker Hub)."""
    name: (
        Annotated[
            str, Field(pattern=whole(r"[a-z0-9-]{1,63}")), Allowed("a registry name: lower-case letters, digits, '-'")
        ]
        | None
    ) = None
    """docr: the existing registry's name (one per account; never created by a stack)."""
    server: (
        Annotated[str, Field(pattern=whole(r"[a-z0-9.-]+(:[0-9]+)?")), Allowed("a registry host such as ghcr.io")]
        | None
    ) = None
    """token: registry host, e.g. ghcr.io or docker.io."""
    username: Annotated[str, Field(min_length=1), OneLine] | None = None
    """token: the user the token belongs to."""
    password: SecretText | None = None
    """token: the token, set with `pulumi config set --secret --path app.registry.password`."""

    @model_validator(mode="after")
    def _complete(self) -> Registry:
        need = ("name",) if self.kind == "docr" else ("server", "username", "password")
        bad = [problem(f"app.registry.{k}", None, f"set for kind {self.kind}") for k in need if not getattr(self, k)]
        shown = {k: getattr(self, k) for k in ("name", "server", "username")} | {"password": "[secret]"}
        bad += [
            problem(f"app.registry.{k}", shown[k], f"unset for kind {self.kind}")
            for k in ("name", "server", "username", "password")
            if k not in need and getattr(self, k)
        ]
        raise_if(bad)
        return self


# Docker Hub's names; the docker provider pulls a bare name (org/app) from registry-1.docker.io.
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


def image_registry(image: str) -> str:
    """The registry host the docker provider pulls `image` from, and under which it looks up
    the image's credentials (kreuzwerker/terraform-provider-docker parseImageOptions): the
    first path part when it looks like a host or there are three parts, else Docker Hub."""
    first, slash, _ = image.partition("/")
    if image.count("/") > 1 or (slash and ("." in first or ":" in first or first == "localhost")):
        return first
    return "registry-1.docker.io"
