"""Parts of `webstack:app`: background processes, the private registry, the env names."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from components.config.base import Allowed, Section, choice, problem, raise_if, strings
from components.envmap import PROVIDED_ENV, STACK_VALUES

ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
# Container names the stack uses itself on every droplet.
RESERVED_NAMES = ("web", "proxy", "migrate", "probe", "pg-grant", "pg-backup")


def _env_name(name: str) -> str:
    if not re.match(ENV_NAME, name):
        raise ValueError(f"a name matching {ENV_NAME}")
    if name in PROVIDED_ENV:
        raise ValueError("absent: the stack provides this variable (URL or generated secret)")
    return name


def _process_name(name: str) -> str:
    if not re.match(r"^[a-z][a-z0-9-]{0,30}$", name) or name in RESERVED_NAMES:
        raise ValueError(f"a lower-case name ^[a-z][a-z0-9-]{{0,30}}$ other than {', '.join(RESERVED_NAMES)}")
    return name


EnvName = Annotated[str, AfterValidator(_env_name)]
EnvValue = Annotated[str | int | float | bool, Allowed("a string, number or boolean")]
ProcessName = Annotated[str, AfterValidator(_process_name)]
StackValue = choice(*STACK_VALUES)
Seconds = Annotated[int, Field(ge=0, le=3600)]


class Process(Section):
    command: strings()
    """The process's command in the app image; required."""
    memory_mb: Annotated[int, Field(ge=32)] = 512
    """Memory limit of each container (MB)."""
    count: Annotated[int, Field(ge=1, le=16)] = 1
    """Containers of this process per droplet (with singleton: in all)."""
    singleton: bool = False
    """Run on the first droplet only, like a scheduler (Celery beat): two would fire every job twice."""
    connections: Annotated[int, Field(ge=0, le=256)] = 1
    """Database connections each container opens at most (Celery: its concurrency); for the pool sizing."""
    stop_seconds: Seconds = 30
    """Grace between SIGTERM and SIGKILL when the container is replaced (finish the task at hand)."""


class Registry(Section):
    kind: choice("docr", "token")
    """`docr`: the account's DigitalOcean Container Registry (read-only credentials minted per stack);
    `token`: any registry with a username and a secret token (GHCR, Docker Hub)."""
    name: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,63}$")] | None = None
    """docr: the existing registry's name (one per account; never created by a stack)."""
    server: Annotated[str, Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?$")] | None = None
    """token: registry host, e.g. ghcr.io or docker.io."""
    username: Annotated[str, Field(min_length=1)] | None = None
    """token: the user the token belongs to."""
    password: Annotated[str, Field(min_length=1)] | None = None
    """token: the token, set with `pulumi config set --secret --path app.registry.password`."""

    @property
    def address(self) -> str:
        return "registry.digitalocean.com" if self.kind == "docr" else str(self.server)

    @model_validator(mode="after")
    def _complete(self) -> Registry:
        need = ("name",) if self.kind == "docr" else ("server", "username", "password")
        bad = [problem(f"app.registry.{k}", None, f"set for kind {self.kind}") for k in need if not getattr(self, k)]
        bad += [
            problem(f"app.registry.{k}", getattr(self, k), f"unset for kind {self.kind}")
            for k in ("name", "server", "username", "password")
            if k not in need and getattr(self, k)
        ]
        raise_if(bad)
        return self


def image_registry(image: str) -> str:
    """The registry host an image reference pulls from (Docker Hub when it names none)."""
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"
