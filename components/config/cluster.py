"""`webstack:engine` and `webstack:cluster`: the app tier on DigitalOcean Kubernetes (DOKS),
and the `autoscale` shape web and background processes take on that engine."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from components.config import catalog
from components.config.base import Section, choice, problem, raise_if

ENGINES = ("droplets", "kubernetes")
# The Kubernetes minor versions whose API schemas the suite validates every object against
# (kubernetes-validate 1.37.0 ships 1.25 to 1.37; the oldest here are past upstream's support).
# DOKS offers only its current minors (`doctl kubernetes options versions`); the cluster takes
# the newest patch DigitalOcean has of the one chosen, and `pulumi up` fails when it has none.
KUBERNETES_VERSIONS = ("1.34", "1.35", "1.36", "1.37")
DEFAULT_KUBERNETES_VERSION = "1.35"
# DOKS' maintenance_policy.day takes a weekday or `any` (terraform-provider-digitalocean,
# digitalocean/kubernetes/kubernetes.go, maintenancePolicySchema).
MAINTENANCE_DAYS = ("any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Autoscale(Section):
    """Pods between `min` and `max`, added when the average use of the pods' requests passes a
    target (Kubernetes' HorizontalPodAutoscaler, autoscaling/v2; the larger proposal wins)."""

    min: Annotated[int, Field(ge=1, le=100)] = 1
    """Fewest pods."""
    max: Annotated[int, Field(ge=1, le=100)]
    """Most pods; required. The cluster's app pool must hold them (cluster.maxNodes)."""
    cpu_percent: Annotated[int, Field(ge=1, le=100)] | None = None
    """Target average CPU use, in percent of the CPU request (app.webCpuMillis, processes' cpuMillis)."""
    memory_percent: Annotated[int, Field(ge=1, le=100)] | None = None
    """Target average memory use, in percent of the memory request (= the limit, webMemoryMb)."""

    def problems(self, key: str) -> list[str]:
        """What is wrong across its keys, named under `key` (app.autoscale, app.processes.<n>.autoscale)."""
        bad = []
        if self.min > self.max:
            bad.append(problem(f"{key}.min", self.min, f"at most {key}.max ({self.max})"))
        if self.cpu_percent is None and self.memory_percent is None:
            bad.append(problem(key, self.model_dump(by_alias=True), "a target: cpuPercent, memoryPercent or both"))
        return bad


class ClusterMaintenance(Section):
    day: choice(*MAINTENANCE_DAYS) = "sunday"
    """Weekday of the cluster's maintenance window (or `any`)."""
    hour: Annotated[int, Field(ge=0, le=23)] = 4
    """UTC hour the window starts (DOKS keeps it about four hours)."""


class ClusterConfig(Section):
    version: choice(*KUBERNETES_VERSIONS) = DEFAULT_KUBERNETES_VERSION
    """Kubernetes minor version; the newest DOKS patch of it. Raising it upgrades the cluster in
    place; lowering it would replace the cluster (refused by DigitalOcean's provider)."""
    ha: bool = False
    """Highly available control plane ($40/month); required in protected stacks."""
    node_size: choice(*catalog.DROPLET_SIZES) = "s-2vcpu-4gb"
    """Droplet size of the app pool's nodes (a change replaces the pool)."""
    min_nodes: Annotated[int, Field(ge=1, le=100)] = 2
    """Fewest app nodes the cluster autoscaler keeps."""
    max_nodes: Annotated[int, Field(ge=1, le=100)] = 3
    """Most app nodes the cluster autoscaler adds when pods do not fit."""
    system_node_size: choice(*catalog.DROPLET_SIZES) = "s-2vcpu-2gb"
    """Droplet size of the small fixed system pool (metrics-server, log shipper, DNS)."""
    system_nodes: Annotated[int, Field(ge=1, le=3)] = 1
    """Nodes of the system pool; fixed (never autoscaled)."""
    maintenance: ClusterMaintenance = ClusterMaintenance()
    """Maintenance window {day, hour} for patch upgrades and DigitalOcean's own."""
    auto_upgrade: bool = True
    """Apply new patch versions in the maintenance window (never a new minor version)."""
    surge_upgrade: bool = True
    """Upgrade with extra nodes first, so pods move before a node is drained."""

    @model_validator(mode="after")
    def _bounds(self) -> ClusterConfig:
        if self.min_nodes > self.max_nodes:
            raise_if([problem("cluster.minNodes", self.min_nodes, f"at most cluster.maxNodes ({self.max_nodes})")])
        return self
