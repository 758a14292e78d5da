"""Sizing rules: the connection pool covers every process that connects and fits the plan,
and the containers' memory limits fit the droplet (principle 10)."""

from __future__ import annotations

from components.config import catalog
from components.config.app import AppConfig
from components.config.base import NAMESPACE
from components.config.cluster import ClusterConfig
from components.config.data import DatabaseConfig, ValkeyConfig
from components.config.ops import BackupsConfig, LogsConfig
from components.config.process import Process

# Direct (unpooled) connections besides the pool: the release command and the backup dump.
DIRECT_CONNECTIONS = 2
# Memory limits of the stack's own containers (one place; components take them as args).
DATA_CONTAINER_MEMORY_MB = 256  # containerised Postgres or Valkey (dev)
PROXY_MEMORY_MB = 128
PROBE_MEMORY_MB = 32
BACKUP_MEMORY_MB = 256
JOB_RUNNER_MEMORY_MB = 48  # crond + the docker CLI of a running job
LOGSHIP_MEMORY_MB = 112  # Vector shipping the droplet's container logs (logs.enabled)
VOLUME_BACKUP_MEMORY_MB = 128  # tar | gzip | upload of the volume (volume and backups enabled)
# The docker API proxy of the job runner, and of each log shipper (a Go binary of a few MB),
# taken from their budgets (64 and 128 before the proxies came): the droplets that fit before
# still fit.
SOCKET_PROXY_MEMORY_MB = 16
# Left to the OS, sshd, dockerd and the DigitalOcean agent on every droplet.
HOST_RESERVE_MB = 256


def _per_container(p: Process) -> int:
    """A background container's connections: what it opens, or one per thread if more."""
    return max(p.connections, p.threads)


def connections_needed(app: AppConfig, engine: str = "droplets") -> int:
    """Connections the app opens at once: every web thread of every worker and every background
    container's connections (or threads) on each droplet (singletons once), plus the release
    command. On Kubernetes: every pod at its most (autoscale.max, else replicas/count), one
    more of each Deployment while a rollout surges (maxSurge 1; a singleton is replaced, never
    doubled), plus the release command."""
    if engine == "kubernetes":
        return sum(n * c for _, n, c in _pods(app)) + (1 if app.release_command else 0)
    web = app.web_workers * app.web_threads
    per_droplet = web + sum(p.count * _per_container(p) for p in app.processes.values() if not p.singleton)
    once = sum(p.count * _per_container(p) for p in app.processes.values() if p.singleton)
    return app.replicas * per_droplet + once + (1 if app.release_command else 0)


def _pods(app: AppConfig) -> list[tuple[str, int, int]]:
    """(name, pods at most during a rollout, connections each) of web and every process."""
    web = app.autoscale.max if app.autoscale else app.replicas
    pods = [("web", web + 1, app.web_workers * app.web_threads)]
    for name, p in sorted(app.processes.items()):
        most = 1 if p.singleton else (p.autoscale.max if p.autoscale else p.count) + 1
        pods.append((name, most, _per_container(p)))
    return pods


def _formula(app: AppConfig, engine: str = "droplets") -> str:
    if engine == "kubernetes":
        parts = [f"{name} {n}x{c}" for name, n, c in _pods(app)]
        return " + ".join(parts + (["release 1"] if app.release_command else []))
    web = f"webWorkers {app.web_workers}" + (f"x{app.web_threads} threads" if app.web_threads > 1 else "")
    parts = [web] + [
        f"{name} {p.count}x{_per_container(p)}" for name, p in sorted(app.processes.items()) if not p.singleton
    ]
    once = [f"{name} {p.count}x{_per_container(p)}" for name, p in sorted(app.processes.items()) if p.singleton]
    release = ["release 1"] if app.release_command else []
    return " + ".join([f"replicas {app.replicas} x ({' + '.join(parts)})", *once, *release])


def sizing_problems(
    app: AppConfig,
    db: DatabaseConfig,
    valkey: ValkeyConfig,
    backups: BackupsConfig,
    logs: LogsConfig,
    volume_backup: bool,
    cluster: ClusterConfig | None = None,
) -> list[str]:
    """Pool and memory sizing; with `cluster` (the Kubernetes engine) the pods at their most
    and the app pool at its largest instead of the droplets."""
    problems = []
    engine = "kubernetes" if cluster else "droplets"
    need = connections_needed(app, engine)
    formula = f"{_formula(app, engine)} = {need}"
    if db.mode == "none":
        pass  # no database, no connections to count
    elif db.mode == "managed":
        limit = catalog.DATABASE_SIZES[db.size].pg_connection_limit
        if db.pool_size < need:
            problems.append(f"{NAMESPACE}:database.poolSize = {db.pool_size}: must be at least {formula}")
        if db.pool_size + DIRECT_CONNECTIONS > limit:
            problems.append(
                f"{NAMESPACE}:database.poolSize = {db.pool_size}: must be at most {limit - DIRECT_CONNECTIONS} "
                f"on {db.size} ({limit} connections, {DIRECT_CONNECTIONS} kept for migrate and backups)"
            )
    elif need + DIRECT_CONNECTIONS > catalog.CONTAINER_PG_MAX_CONNECTIONS:
        problems.append(
            f"{NAMESPACE}:app.replicas = {app.replicas}: {formula} exceeds the container Postgres "
            f"max_connections {catalog.CONTAINER_PG_MAX_CONNECTIONS}; use database.mode managed"
        )
    if cluster:
        return problems + _pool_problems(app, cluster, backups)
    # The first droplet carries the most: web (twice while a release swaps it), every
    # process (singletons run there), proxy, the backup dump and, in container mode, the data
    # services.
    parts = {"web": app.web_memory_mb, "web (next release)": app.web_memory_mb}
    parts |= {name: p.count * p.memory_mb for name, p in sorted(app.processes.items())}
    parts |= {"proxy": PROXY_MEMORY_MB, "host": HOST_RESERVE_MB}
    if app.jobs:
        # Jobs are counted one at a time (the largest): each never overlaps itself, and jobs
        # that fire together add up beyond this (give them different minutes).
        parts["jobs runner"] = JOB_RUNNER_MEMORY_MB
        parts["jobs API proxy"] = SOCKET_PROXY_MEMORY_MB
        parts["largest job"] = max(job.memory_mb for job in app.jobs.values())
    if backups.enabled:
        parts["backup dump"] = BACKUP_MEMORY_MB
    if volume_backup:
        parts["volume backup"] = VOLUME_BACKUP_MEMORY_MB
    if logs.enabled:
        parts["log shipper"] = LOGSHIP_MEMORY_MB
        parts["logs API proxy"] = SOCKET_PROXY_MEMORY_MB
    for label, mode in (("postgres", db.mode), ("valkey", valkey.mode)):
        if mode == "container":
            parts[label] = DATA_CONTAINER_MEMORY_MB
    used = sum(parts.values())
    if used > app.droplet_memory_mb:
        detail = " + ".join(f"{k} {v}" for k, v in parts.items())
        problems.append(
            f"{NAMESPACE}:app.dropletSize = {app.droplet_size!r}: must have at least {used} MB "
            f"({detail}); it has {app.droplet_memory_mb} MB"
        )
    return problems


# What a node keeps from its pods, by the reservation managed Kubernetes services document
# (e.g. https://yandex.cloud/en/docs/managed-kubernetes/concepts/node-group/allocatable-resources):
# memory 25 % of the first 4 GB, 20 % of the next 4, 10 % of the next 8, 6 % above, plus 100 MB
# for eviction; CPU 6 % of the first core, 1 % of the second, 0.5 % of the next two, 0.25 % above.
# DOKS' own per-size figures were not found in its documentation (unverified); its per-node
# agents (Cilium, CSI, konnectivity, do-agent) and this stack's log shipper take DAEMON_*.
DAEMON_MEMORY_MB = 384
DAEMON_CPU_MILLIS = 300
PROXY_CPU_MILLIS = 100
PROXY_PODS = 2
JOB_CPU_MILLIS = 100


def node_allocatable(size: str) -> tuple[int, int]:
    """(memory MB, CPU millicores) the pods of one node of `size` may request."""
    spec = catalog.DROPLET_SIZES[size]
    mem_reserved, edge = 100, 0
    for upto, share in ((4096, 0.25), (8192, 0.20), (16384, 0.10), (131072, 0.06)):
        mem_reserved += int(max(0, min(spec.memory_mb, upto) - edge) * share)
        edge = upto
    cpu_reserved = sum(
        1000 * (0.06 if core == 0 else 0.01 if core == 1 else 0.005 if core < 4 else 0.0025)
        for core in range(spec.vcpus)
    )
    memory = spec.memory_mb - mem_reserved - DAEMON_MEMORY_MB
    return memory, int(spec.vcpus * 1000 - cpu_reserved) - DAEMON_CPU_MILLIS


def _pool_problems(app: AppConfig, cluster: ClusterConfig, backups: BackupsConfig) -> list[str]:
    """Every pod at its most (rollout surge included) fits the app pool at maxNodes, and the
    largest pod fits one node: the cluster autoscaler adds nodes only for pods that fit one."""
    mem, cpu = node_allocatable(cluster.node_size)
    pods: dict[str, tuple[int, int, int]] = {}  # name: (pods, memory MB, CPU millicores) each
    pods["web"] = (_pods(app)[0][1], app.web_memory_mb, app.web_cpu_millis)
    for (name, n, _), (_, p) in zip(_pods(app)[1:], sorted(app.processes.items()), strict=True):
        pods[name] = (n, p.memory_mb, p.cpu_millis)
    pods["proxy"] = (PROXY_PODS + 1, PROXY_MEMORY_MB, PROXY_CPU_MILLIS)
    for name, job in sorted(app.jobs.items()):
        pods[f"job {name}"] = (1, job.memory_mb, JOB_CPU_MILLIS)
    if backups.enabled:
        pods["backup dump"] = (1, BACKUP_MEMORY_MB, JOB_CPU_MILLIS)
    problems = []
    for name, (_, m, c) in pods.items():
        if m > mem or c > cpu:
            problems.append(
                f"{NAMESPACE}:cluster.nodeSize = {cluster.node_size!r}: must fit one {name} pod "
                f"({m} MB, {c}m CPU); a node has about {mem} MB and {cpu}m for pods"
            )
    need_mem = sum(n * m for n, m, _ in pods.values())
    need_cpu = sum(n * c for n, _, c in pods.values())
    nodes = max(-(-need_mem // mem), -(-need_cpu // cpu)) if mem > 0 and cpu > 0 else 0
    if nodes > cluster.max_nodes:
        detail = " + ".join(f"{k} {n}x{m}MB/{c}m" for k, (n, m, c) in pods.items())
        problems.append(
            f"{NAMESPACE}:cluster.maxNodes = {cluster.max_nodes}: must be at least {nodes} for every pod at "
            f"its most ({detail} = {need_mem} MB, {need_cpu}m CPU; a {cluster.node_size} node has about "
            f"{mem} MB and {cpu}m for pods)"
        )
    return problems
