"""Postgres: managed cluster with a connection pool, or a container on the first app host (dev)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do
import pulumi_docker as docker

from components.dockerhost import LOG_OPTS, DockerHost, data_container, exit_gate

DB_NAME = "app"
DB_USER = "app"
CONTAINER_PORT = 5432


@dataclass(frozen=True, kw_only=True)
class PostgresArgs:
    mode: str
    """`managed` (DigitalOcean cluster) or `container` (on the first app host); default managed."""
    region: pulumi.Input[str]
    """Region slug of the cluster; no default (config `region`)."""
    vpc_id: pulumi.Input[str]
    """VPC the cluster lives in; no default."""
    app_tag: pulumi.Input[str]
    """The only tag the DB firewall admits; no default."""
    version: str = "17"
    """Postgres major version; default 17."""
    size: str = "db-s-1vcpu-1gb"
    """Node size slug; default db-s-1vcpu-1gb."""
    nodes: int = 1
    """Node count, primary plus standbys; default 1."""
    pool_size: int = 20
    """Connections in the app's PgBouncer pool; default 20."""
    pool_mode: str = "transaction"
    """PgBouncer pool mode; default transaction."""
    maintenance_day: str = "sunday"
    """Weekday of the maintenance window; default sunday."""
    maintenance_hour: int = 3
    """UTC hour of the maintenance window; default 3."""
    protect: bool = False
    """Refuse deletion of the cluster and database; default False (config `protect`)."""
    tags: tuple[pulumi.Input[str], ...] = ()
    """Extra tags on the cluster; default none."""
    docker_host: DockerHost | None = None
    """Container mode only: the host that runs the container; default None."""
    container_image: str = "postgres:17.6-alpine"
    """Container mode only: pinned image; default postgres:17.6-alpine."""
    memory_mb: int = 256
    """Container mode only: memory limit; default 256."""


class Postgres(pulumi.ComponentResource):
    """Outputs `url` (pooled, for app processes) and `direct_url` (for migrations and dumps).

    Migrations take advisory locks and use session state that PgBouncer's transaction mode
    breaks, so they get the direct connection. Both URLs are secrets.
    """

    url: pulumi.Output[str]
    direct_url: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    user: str
    password: pulumi.Output[str]
    database: str
    cluster: do.DatabaseCluster | None = None
    container: docker.Container | None = None

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:database:Postgres", name, None, opts)
        self.user = DB_USER
        self.database = DB_NAME
        if args.mode == "managed":
            self._managed(name, args)
        else:
            self._container(name, args)
        self.register_outputs({"host": self.host, "url": self.url, "direct_url": self.direct_url})

    def _managed(self, name: str, args: PostgresArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        data = pulumi.ResourceOptions(parent=self, protect=args.protect)
        self.cluster = do.DatabaseCluster(
            f"{name}-cluster",
            name=f"{name}-pg",
            engine="pg",
            version=args.version,
            size=args.size,
            node_count=args.nodes,
            region=args.region,
            private_network_uuid=args.vpc_id,
            maintenance_windows=[
                do.DatabaseClusterMaintenanceWindowArgs(
                    day=args.maintenance_day, hour=f"{args.maintenance_hour:02d}:00:00"
                )
            ],
            tags=list(args.tags),
            opts=data,
        )
        db = do.DatabaseDb(f"{name}-db", cluster_id=self.cluster.id, name=DB_NAME, opts=data)
        user = do.DatabaseUser(f"{name}-user", cluster_id=self.cluster.id, name=DB_USER, opts=child)
        pool = do.DatabaseConnectionPool(
            f"{name}-pool",
            cluster_id=self.cluster.id,
            name=f"{DB_NAME}-pool",
            mode=args.pool_mode,
            size=args.pool_size,
            db_name=db.name,
            user=user.name,
            opts=child,
        )
        # Each write replaces every rule, so a changed rule set must not coexist with the old one.
        firewall = do.DatabaseFirewall(
            f"{name}-firewall",
            cluster_id=self.cluster.id,
            rules=[do.DatabaseFirewallRuleArgs(type="tag", value=args.app_tag)],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.password = user.password
        # The URLs carry the firewall (and the grant below) as dependencies: a process that
        # gets one can connect.
        reachable = firewall.id.apply(lambda _: "")
        if args.docker_host is not None:
            reachable = pulumi.Output.concat(reachable, self._grant(name, args, db, user, firewall))
        self.host = pulumi.Output.concat(self.cluster.private_host, reachable)
        self.port = self.cluster.port
        self.url = pulumi.Output.secret(pulumi.Output.concat(pool.private_uri, reachable))
        self.direct_url = pulumi.Output.secret(
            pulumi.Output.format(
                "postgresql://{0}:{1}@{2}:{3}/{4}?sslmode=require{5}",
                user.name,
                user.password,
                self.cluster.private_host,
                self.cluster.port,
                db.name,
                reachable,
            )
        )

    def _grant(
        self, name: str, args: PostgresArgs, db: do.DatabaseDb, user: do.DatabaseUser, firewall: do.DatabaseFirewall
    ) -> pulumi.Output[str]:
        """Let the app user create tables: from Postgres 15 only the database owner (doadmin,
        who created it through the API) may create in schema public. A one-shot psql on the
        first droplet, as doadmin, through the DB firewall; empty text once it succeeded."""
        assert self.cluster is not None and args.docker_host is not None
        on_host = pulumi.ResourceOptions(parent=self, provider=args.docker_host.provider)
        admin_url = pulumi.Output.format(
            "postgresql://{0}:{1}@{2}:{3}/{4}?sslmode=require",
            self.cluster.user,
            self.cluster.password,
            self.cluster.private_host,
            self.cluster.port,
            db.name,
        )
        client = docker.RemoteImage(f"{name}-client", name=args.container_image, keep_locally=True, opts=on_host)
        grant = docker.Container(
            f"{name}-grant",
            name="pg-grant",
            image=client.image_id,
            entrypoints=["sh", "-c"],
            command=[f'psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -c "GRANT ALL ON SCHEMA public TO {DB_USER}"'],
            envs=pulumi.Output.secret(admin_url.apply(lambda url: [f"ADMIN_URL={url}"])),
            restart="no",
            must_run=False,
            attach=True,
            logs=True,
            memory=128,
            log_driver="json-file",
            log_opts=LOG_OPTS,
            opts=pulumi.ResourceOptions.merge(
                on_host, pulumi.ResourceOptions(delete_before_replace=True, depends_on=[user, firewall])
            ),
        )
        return exit_gate(grant, "granting schema public to the app user")

    def _container(self, name: str, args: PostgresArgs) -> None:
        host = args.docker_host
        if host is None:
            raise ValueError("Postgres in container mode needs a docker_host")
        self.container, password = data_container(
            self,
            name,
            host,
            role="postgres",
            image=args.container_image,
            data_path="/var/lib/postgresql/data",
            memory_mb=args.memory_mb,
            protect=args.protect,
            env=lambda pw: [f"POSTGRES_DB={DB_NAME}", f"POSTGRES_USER={DB_USER}", f"POSTGRES_PASSWORD={pw}"],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD-SHELL", f"pg_isready -U {DB_USER} -d {DB_NAME}"], interval="10s", timeout="5s", retries=5
            ),
        )
        # The container's own name output makes every consumer wait for it to be healthy.
        self.host = self.container.name
        self.port = pulumi.Output.from_input(CONTAINER_PORT)
        self.password = password
        # Reachable only on the host's docker network, which never leaves the droplet: no TLS.
        self.url = pulumi.Output.secret(
            pulumi.Output.format(
                "postgresql://{0}:{1}@{2}:{3}/{4}", DB_USER, password, self.host, CONTAINER_PORT, DB_NAME
            )
        )
        self.direct_url = self.url
