"""Valkey: Celery's broker (never evicts) and, optionally, a separate LRU cache."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

from components.cloud.runner import DataRunner, TrustedSource
from components.config.data import ValkeyConfig

BROKER_POLICY = "noeviction"
CACHE_POLICY = "allkeys-lru"
CONTAINER_PORT = 6379


@dataclass(frozen=True, kw_only=True)
class ValkeyArgs:
    config: ValkeyConfig
    """The stack's `valkey` section: mode (`managed` clusters or `container` run by the
    engine), version, broker size, split cache and its size, container image; no default."""
    region: pulumi.Input[str]
    """Region slug; no default (config `region`)."""
    vpc_id: pulumi.Input[str]
    """VPC the clusters live in; no default."""
    trusted: tuple[TrustedSource, ...]
    """What the DB firewalls admit (the engine's app tier), nothing else; no default."""
    protect: bool = False
    """Refuse deletion of the clusters; default False (config `protect`)."""
    tags: tuple[pulumi.Input[str], ...] = ()
    """Extra tags on the clusters; default none."""
    runner: DataRunner | None = None
    """Container mode only: where the server runs (the engine); default None."""
    memory_mb: int = 256
    """Container mode only: memory limit; default 256."""


class Valkey(pulumi.ComponentResource):
    """Outputs `broker_url` and `cache_url`, both secret.

    A broker that evicts silently drops queued tasks, so the broker runs noeviction. An LRU
    cache is a different role: with `split_cache` it gets its own cluster; without, the cache
    uses database 1 of the broker and inherits noeviction.
    """

    broker_url: pulumi.Output[str]
    cache_url: pulumi.Output[str]
    host: pulumi.Output[str]
    clusters: list[do.DatabaseCluster]

    def __init__(self, name: str, args: ValkeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:cache:Valkey", name, None, opts)
        self.clusters = []
        if args.config.mode == "managed":
            broker, ready = self._cluster(f"{name}-broker", args, args.config.size, BROKER_POLICY)
            self.host = broker.private_host
            self.broker_url = _url(broker, 0, ready)
            if args.config.split_cache:
                cache, cache_ready = self._cluster(f"{name}-cache", args, args.config.cache_size_slug, CACHE_POLICY)
                self.cache_url = _url(cache, 0, cache_ready)
            else:
                self.cache_url = _url(broker, 1, ready)
        else:
            self._container(name, args)
        self.register_outputs({"host": self.host, "broker_url": self.broker_url, "cache_url": self.cache_url})

    def _cluster(
        self, role: str, args: ValkeyArgs, size: str, policy: str
    ) -> tuple[do.DatabaseCluster, pulumi.Output[str]]:
        """The cluster, and an output that resolves once its policy and firewall are in place."""
        cluster = do.DatabaseCluster(
            f"{role}-cluster",
            name=role,
            engine="valkey",
            version=args.config.version,
            size=size,
            node_count=1,
            region=args.region,
            private_network_uuid=args.vpc_id,
            tags=list(args.tags),
            # A fixed name, unique per account: the old cluster goes before its replacement.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
        )
        config = do.DatabaseValkeyConfig(
            f"{role}-config",
            cluster_id=cluster.id,
            valkey_maxmemory_policy=policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        firewall = do.DatabaseFirewall(
            f"{role}-firewall",
            cluster_id=cluster.id,
            rules=[do.DatabaseFirewallRuleArgs(type=t.kind, value=t.value) for t in args.trusted],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.clusters.append(cluster)
        return cluster, pulumi.Output.all(config.id, firewall.id).apply(lambda _: "")

    def _container(self, name: str, args: ValkeyArgs) -> None:
        runner = args.runner
        if runner is None:
            raise ValueError("Valkey in container mode needs a runner (the engine)")
        service = runner.service(
            self,
            name,
            role="valkey",
            image=args.config.container_image,
            data_path="/data",
            memory_mb=args.memory_mb,
            protect=args.protect,
            env=lambda pw: [f"VALKEY_PASSWORD={pw}"],
            # The password reaches the server through the environment, never the command line
            # (which `docker inspect` and `ps` show).
            shell_command="exec valkey-server " + " ".join(server_args(args.memory_mb)),
            health='valkey-cli -a "$VALKEY_PASSWORD" --no-auth-warning ping | grep -q PONG',
            # It writes only its data directory (the volume); a scratch /tmp for the shell.
            tmpfs={"/tmp": "rw,nosuid,nodev,noexec"},
        )
        self.host = service.host  # consumers wait for the service
        base = pulumi.Output.format("redis://default:{0}@{1}:{2}", service.password, self.host, CONTAINER_PORT)
        self.broker_url = pulumi.Output.secret(base.apply(lambda b: f"{b}/0"))
        self.cache_url = pulumi.Output.secret(base.apply(lambda b: f"{b}/1"))


def server_args(memory_mb: int) -> list[str]:
    """valkey-server's arguments in container mode, as shell words: the shell expands
    "$VALKEY_PASSWORD" from the environment. Append-only persistence, a broker that never
    evicts, and maxmemory at 3/4 of the container's `memory_mb` limit."""
    return [
        "--requirepass",
        '"$VALKEY_PASSWORD"',
        "--appendonly",
        "yes",
        "--maxmemory",
        f"{memory_mb * 3 // 4}mb",
        "--maxmemory-policy",
        BROKER_POLICY,
    ]


def _url(cluster: do.DatabaseCluster, db: int, ready: pulumi.Output[str]) -> pulumi.Output[str]:
    """rediss:// on the private host; Celery needs ssl_cert_reqs spelled out for TLS.

    `ready` (empty text) makes every consumer wait for the eviction policy and firewall.
    """
    return pulumi.Output.secret(
        pulumi.Output.format(
            "rediss://{0}:{1}@{2}:{3}/{4}?ssl_cert_reqs=required{5}",
            cluster.user,
            cluster.password,
            cluster.private_host,
            cluster.port,
            db,
            ready,
        )
    )
