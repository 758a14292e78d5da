"""The seam between the shared resources and the engine that runs the app tier.

__main__.py builds the shared cloud resources (network, data, TLS, media, edge, backups,
monitoring, project) once, and asks an engine for what only the engine knows: where the data
tier's own processes run (`data`), whom the managed data's firewalls admit (`trusted`), the
address the edge's DNS points at (`front_door`), and, once the edge and the data exist, the
app itself (`deploy`). The droplet engine (components/droplets/engine.py) implements it with
droplets, docker hosts and containers; a cluster engine would implement it with a cluster, a
Service's load balancer, Deployments and Jobs. Neither engine is a component of its own: the
resources each creates keep the names and parents they always had, so no URN depends on the
seam.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pulumi

from components.cloud.runner import DataRunner, TrustedSource


@dataclass(frozen=True, kw_only=True)
class Release:
    """What the app needs from the shared resources to run, handed to `Engine.deploy`."""

    env: pulumi.Output[list[str]]
    """The app's `KEY=value` lines (secret as a whole; components/render/env.py app_env)."""
    release_env: pulumi.Output[list[str]]
    """The release command's lines: the direct database connection under DATABASE_URL."""
    process_env: Mapping[str, pulumi.Output[list[str]]] = field(default_factory=dict)
    """A background process's own lines where they differ from `env` (its `threads`); by name."""
    cert_pem: pulumi.Input[str]
    """The origin certificate the app's TLS proxy serves (components/cloud/origin.py)."""
    key_pem: pulumi.Input[str]
    """Its private key (secret)."""
    client_ca_pem: pulumi.Input[str]
    """The CA of the edge's origin-pull client certificate, which the proxy requires."""
    edge_ready: Sequence[pulumi.Resource] = ()
    """What the edge must finish before the proxy asks for client certificates (origin pulls)."""


class Engine(Protocol):
    """An engine for the app tier (the droplet engine today; `cfg.engine` chooses)."""

    data: DataRunner
    """Where dev's data services, the admin step and the dumps run."""
    trusted: tuple[TrustedSource, ...]
    """What the managed data's firewalls admit: the app tier, nothing else."""
    front_door: pulumi.Output[str]
    """The public IPv4 address the edge's DNS records point at."""
    addresses: Sequence[pulumi.Output[str]]
    """The app's machines' public addresses (for SSH and operations), possibly none."""

    def deploy(self, release: Release) -> None:
        """Create the app: its web and background processes, the release step, the scheduled
        jobs and the log shipper."""
        ...

    def project_resources(self) -> tuple[pulumi.Input[str], ...]:
        """The URNs (in the DigitalOcean project's own form) of the engine's machines, volumes
        and front door: the project lists them first."""
        ...

    def bucket_resources(self) -> tuple[pulumi.Input[str], ...]:
        """The URNs of the engine's own buckets (its logs), after `deploy`: listed last."""
        ...

    def exports(self) -> Mapping[str, object]:
        """The engine's own stack outputs (for operations), after `deploy`."""
        ...
