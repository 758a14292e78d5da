"""Sizing rules: the connection pool covers every process that connects and fits the plan,
and the containers' memory limits fit the droplet (principle 10)."""

from __future__ import annotations

from components.config import catalog
from components.config.app import AppConfig
from components.config.base import NAMESPACE
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


def connections_needed(app: AppConfig) -> int:
    """Connections the app opens at once: every web thread of every worker and every background
    container's connections (or threads) on each droplet (singletons once), plus the release
    command."""
    web = app.web_workers * app.web_threads
    per_droplet = web + sum(p.count * _per_container(p) for p in app.processes.values() if not p.singleton)
    once = sum(p.count * _per_container(p) for p in app.processes.values() if p.singleton)
    return app.replicas * per_droplet + once + (1 if app.release_command else 0)


def _formula(app: AppConfig) -> str:
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
) -> list[str]:
    problems = []
    need = connections_needed(app)
    formula = f"{_formula(app)} = {need}"
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
