"""What the shared data components ask of the engine that runs the app tier.

Postgres and Valkey are managed clusters (this layer's own resources) or, in dev, services
the engine runs next to the app; the database's admin step (extensions, grants) and the
scheduled dumps run where the app runs too. The droplet engine runs them as containers on
its first docker host (components/droplets/data.py); a cluster engine would run them as
Deployments, Jobs and CronJobs. Every resource is created as a child of `owner`, the data
component, under the name given: where it runs never changes its URN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi


@dataclass(frozen=True)
class TrustedSource:
    """One source a managed cluster's firewall admits: `kind` is the provider's rule type
    (`tag` for droplets by tag, `k8s` for a Kubernetes cluster by id, `ip_addr`, ...)."""

    kind: str
    value: pulumi.Input[str]


@dataclass(frozen=True)
class File:
    """A file a scheduled task gets at `path` (`content` may be a secret output)."""

    path: str
    content: pulumi.Input[str]
    executable: bool = False


@dataclass(frozen=True)
class Service:
    """A running data service: its host name on the app's private network (resolved once it
    is healthy), its generated password, and the resource later steps wait on."""

    host: pulumi.Output[str]
    password: pulumi.Output[str]
    resource: pulumi.Resource


class DataRunner(Protocol):
    """Runs the data tier's own processes where the app runs."""

    def service(
        self,
        owner: pulumi.Resource,
        name: str,
        *,
        role: str,
        image: str,
        data_path: str,
        memory_mb: int,
        protect: bool,
        env: Callable[[str], list[str]],
        health: str,
        tmpfs: Mapping[str, str],
        shell_command: str | None = None,
    ) -> Service:
        """A long-running data service with a generated password (reaching it only through
        `env(password)`) and persistent data at `data_path`."""
        ...

    def admin_step(
        self,
        owner: pulumi.Resource,
        name: str,
        *,
        image: str,
        command: str,
        credentials: File,
        user: str,
        after: Sequence[pulumi.Resource],
        secrets: pulumi.Output[list[str]],
        what: str,
    ) -> pulumi.Output[str]:
        """A one-shot shell `command` (the image's shell, as `user`) with the file
        `credentials`, re-run whenever its inputs change; empty text once it succeeded, a
        failed deploy naming `what` (its output redacted of `secrets`) otherwise."""
        ...

    def scheduled(
        self,
        owner: pulumi.Resource,
        name: str,
        image_name: str,
        *,
        image: str,
        role: str,
        memory_mb: int,
        env: pulumi.Output[list[str]],
        caps: tuple[str, ...],
        command: Sequence[str] | None = None,
        files: Sequence[File] = (),
        read_volume: bool = False,
    ) -> None:
        """A task that keeps its own schedule (its env a secret), from a pinned image; with
        `read_volume`, the app's data volume read-only at /backup/volume and scratch space on
        the volume at /tmp."""
        ...

    @property
    def volume_archived(self) -> bool:
        """Whether the app has a data volume for `scheduled(read_volume=True)` to archive."""
        ...
