"""Postgres: managed cluster with a connection pool, or a service the engine runs beside the app (dev)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

from components.cloud.runner import DataRunner, File, TrustedSource
from components.config.data import DatabaseConfig

DB_NAME = "app"
DB_USER = "app"
# With `database.runtimeRole`: the login of web, the processes and the jobs (through the pool),
# which may only read and write rows; DB_USER stays the migration role, owning the schema.
RUNTIME_USER = "app_runtime"
CONTAINER_PORT = 5432
# A DB firewall rule takes a while to apply after the API accepts it: the admin step retries
# for up to ADMIN_ATTEMPTS x ADMIN_RETRY_SECONDS before it gives up.
ADMIN_ATTEMPTS = 30
ADMIN_RETRY_SECONDS = 10
ADMIN_CONNECT_TIMEOUT = 10
# The admin step's credentials reach it as a file it reads and deletes before it connects: an
# env var would stay in the exited container's config, where `docker inspect` shows it to
# anyone in the docker group. It runs as the image's postgres user, whose home it is (the
# directory is its own, mode 1777: docker-library/postgres 17/alpine3.22/Dockerfile:16), so
# it may delete the file the daemon extracted as root.
ADMIN_USER = "postgres"
ADMIN_FILE = "/var/lib/postgresql/.webstack-admin"


def admin_sql(user: str, extensions: tuple[str, ...] = (), runtime: str | None = None) -> str:
    """What doadmin runs before every release's migrations: from Postgres 15 only the database
    owner (doadmin, who created it through the API) may create in schema public, and only it
    may create extensions, so both happen here; with a `runtime` role, that role may use the
    schema (and no more). Idempotent."""
    creates = "".join(f'CREATE EXTENSION IF NOT EXISTS "{e}"; ' for e in extensions)
    usage = f" GRANT USAGE ON SCHEMA public TO {runtime};" if runtime else ""
    return f"{creates}GRANT ALL ON SCHEMA public TO {user};{usage}"


def runtime_sql(runtime: str, owner: str = DB_USER) -> str:
    """What the owner of the tables (the migration role) runs so that `runtime` may read and
    write the rows of every table and sequence it has and every one it creates later (default
    privileges are per creating role: only tables `owner` creates get them), and nothing else:
    no DDL, no TRUNCATE, no REFERENCES or TRIGGER. Idempotent."""
    rows, sequences = "SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT, UPDATE"
    default = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT"
    return (
        f"GRANT {rows} ON ALL TABLES IN SCHEMA public TO {runtime}; "
        f"GRANT {sequences} ON ALL SEQUENCES IN SCHEMA public TO {runtime}; "
        f"{default} {rows} ON TABLES TO {runtime}; "
        f"{default} {sequences} ON SEQUENCES TO {runtime};"
    )


def admin_env(
    *,
    host: str,
    port: int | str,
    user: str,
    password: str,
    database: str,
    sslmode: str | None,
    owner: str | None = None,
    owner_password: str | None = None,
) -> str:
    """The admin connection as libpq's variables, one shell assignment a line (the file the
    admin step reads): psql takes them from its environment, so no command line (which `ps`
    on the droplet shows) carries the password. With `owner`, that user's login too (for
    runtime_sql, which only the tables' owner may run)."""
    values = {"PGHOST": host, "PGPORT": str(port), "PGUSER": user, "PGPASSWORD": password, "PGDATABASE": database}
    if sslmode:
        values["PGSSLMODE"] = sslmode
    if owner and owner_password:
        values |= {"OWNER_PGUSER": owner, "OWNER_PGPASSWORD": owner_password}
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def admin_script(
    sql: str,
    attempts: int = ADMIN_ATTEMPTS,
    delay: int = ADMIN_RETRY_SECONDS,
    credentials: str = ADMIN_FILE,
    owner_sql: str | None = None,
) -> str:
    """Shell run in the client container: `sql` through psql with the connection in the
    file `credentials` (admin_env), which it reads into its environment and deletes before it
    connects; if it cannot delete it, it stops without connecting. Then `owner_sql`, if any,
    as the owner login of the same file.

    psql exits 2 when it cannot reach the server (a firewall rule not applied yet): that is
    retried, each attempt bounded by PGCONNECT_TIMEOUT; any other failure (an SQL error) stops
    at once with psql's own message. Out of attempts, it fails naming the likely cause.
    """
    file = shlex.quote(credentials)
    owner = (
        'PGUSER="$OWNER_PGUSER" PGPASSWORD="$OWNER_PGPASSWORD" '
        f"psql -X -v ON_ERROR_STOP=1 -c {shlex.quote(owner_sql)} || exit $?; "
        if owner_sql
        else ""
    )
    return (
        f"set -a; . {file} || exit 1; set +a; "
        f"rm -f {file} || {{ echo 'webstack: could not delete the admin credentials file' >&2; exit 1; }}; "
        f"export PGCONNECT_TIMEOUT={ADMIN_CONNECT_TIMEOUT}; ok=; "
        f"for i in $(seq {attempts}); do "
        f"psql -X -v ON_ERROR_STOP=1 -c {shlex.quote(sql)}; rc=$?; "
        '[ "$rc" -eq 0 ] && { ok=1; break; }; [ "$rc" -ne 2 ] && exit "$rc"; '
        f"sleep {delay}; done; "
        '[ -n "$ok" ] || { '
        f"echo 'webstack: could not reach the database as doadmin in {attempts} attempts "
        f"(about {attempts * (delay + ADMIN_CONNECT_TIMEOUT)} s): check that the database firewall admits this droplet "
        "(its tag) and that the cluster is online' >&2; exit 1; }; "
        f"{owner}exit 0"
    )


def admin_command(extensions: tuple[str, ...] = (), runtime_role: bool = False) -> str:
    """The admin step's command: admin_sql as doadmin and, with a runtime role, runtime_sql as
    the tables' owner."""
    runtime = RUNTIME_USER if runtime_role else None
    return admin_script(admin_sql(DB_USER, extensions, runtime), owner_sql=runtime_sql(runtime) if runtime else None)


@dataclass(frozen=True, kw_only=True)
class PostgresArgs:
    config: DatabaseConfig
    """The stack's `database` section: mode (`managed` cluster or `container` run by the
    engine), version, size, nodes, pool, maintenance window, container image, extensions the
    admin step creates, runtime role; no default."""
    region: pulumi.Input[str]
    """Region slug of the cluster; no default (config `region`)."""
    vpc_id: pulumi.Input[str]
    """VPC the cluster lives in; no default."""
    trusted: tuple[TrustedSource, ...]
    """What the DB firewall admits (the engine's app tier), nothing else; no default."""
    protect: bool = False
    """Refuse deletion of the cluster and database; default False (config `protect`)."""
    tags: tuple[pulumi.Input[str], ...] = ()
    """Extra tags on the cluster; default none."""
    runner: DataRunner | None = None
    """Where the admin step and, in container mode, the server run (the engine); default None."""
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

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:database:Postgres", name, None, opts)
        self.user = DB_USER
        self.database = DB_NAME
        if args.config.mode == "managed":
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
            version=args.config.version,
            size=args.config.size,
            node_count=args.config.nodes,
            region=args.region,
            private_network_uuid=args.vpc_id,
            maintenance_windows=[
                do.DatabaseClusterMaintenanceWindowArgs(
                    day=args.config.maintenance_day, hour=f"{args.config.maintenance_hour:02d}:00:00"
                )
            ],
            tags=list(args.tags),
            # The name is unique per account and engine/VPC force a replacement: the old cluster
            # goes first (prod's is protected, so it never goes).
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
        )
        db = do.DatabaseDb(f"{name}-db", cluster_id=self.cluster.id, name=DB_NAME, opts=data)
        user = do.DatabaseUser(f"{name}-user", cluster_id=self.cluster.id, name=DB_USER, opts=child)
        runtime = None
        if args.config.runtime_role:
            runtime = do.DatabaseUser(f"{name}-runtime-user", cluster_id=self.cluster.id, name=RUNTIME_USER, opts=child)
        # Every pool field forces replacement and the name is fixed (it is the database name in
        # the pooled URL): delete first, so a new size never collides with the old pool's name
        # or shares the cluster's connection budget with it.
        pool = do.DatabaseConnectionPool(
            f"{name}-pool",
            cluster_id=self.cluster.id,
            name=f"{DB_NAME}-pool",
            mode=args.config.pool_mode,
            size=args.config.pool_size,
            db_name=db.name,
            # The pool logs in as its user: the runtime role when there is one.
            user=(runtime or user).name,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # Each write replaces every rule, so a changed rule set must not coexist with the old one.
        firewall = do.DatabaseFirewall(
            f"{name}-firewall",
            cluster_id=self.cluster.id,
            rules=[do.DatabaseFirewallRuleArgs(type=t.kind, value=t.value) for t in args.trusted],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.password = user.password
        # The URLs carry the firewall (and the grant below) as dependencies: a process that
        # gets one can connect.
        reachable = firewall.id.apply(lambda _: "")
        if args.runner is not None:
            admin = pulumi.Output.all(
                self.cluster.private_host,
                self.cluster.port,
                self.cluster.user,
                self.cluster.password,
                db.name,
                user.password,
            ).apply(
                lambda v: dict(
                    host=v[0], port=v[1], user=v[2], password=v[3], database=v[4], sslmode="require",
                    **({"owner": DB_USER, "owner_password": v[5]} if args.config.runtime_role else {}),
                )
            )  # fmt: skip
            after = [user, firewall, *([runtime] if runtime else [])]
            reachable = pulumi.Output.concat(reachable, self._admin(name, args, admin, after))
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

    def _admin(
        self, name: str, args: PostgresArgs, conn: pulumi.Output[dict], after: list[pulumi.Resource]
    ) -> pulumi.Output[str]:
        """The admin step (admin_sql: extensions, then schema public for the app user) as a
        one-shot psql where the engine runs the app, as the database owner (`conn`: admin_env's
        arguments); empty text once it exited 0. It runs again whenever its command or the
        connection changes.

        The owner's password reaches it only in a file that the script deletes before it
        connects, and a failure's output is redacted of it all the same."""
        runner = args.runner
        assert runner is not None
        secrets = pulumi.Output.secret(
            conn.apply(lambda c: [f"PGPASSWORD={c['password']}", f"OWNER_PGPASSWORD={c.get('owner_password', '')}"])
        )
        return runner.admin_step(
            self,
            name,
            image=args.config.container_image,
            command=admin_command(args.config.extensions, args.config.runtime_role),
            credentials=File(ADMIN_FILE, pulumi.Output.secret(conn.apply(lambda c: admin_env(**c)))),
            user=ADMIN_USER,
            after=after,
            secrets=secrets,
            what="the database admin step (extensions, schema grant)",
        )

    def _container(self, name: str, args: PostgresArgs) -> None:
        runner = args.runner
        if runner is None:
            raise ValueError("Postgres in container mode needs a runner (the engine)")
        service = runner.service(
            self,
            name,
            role="postgres",
            image=args.config.container_image,
            data_path="/var/lib/postgresql/data",
            memory_mb=args.memory_mb,
            protect=args.protect,
            env=lambda pw: [f"POSTGRES_DB={DB_NAME}", f"POSTGRES_USER={DB_USER}", f"POSTGRES_PASSWORD={pw}"],
            health=f"pg_isready -U {DB_USER} -d {DB_NAME}",
            # The server's socket and lock file (the entrypoint makes the directory the
            # postgres user's), and anything a session spills to temporary files.
            tmpfs={"/var/run/postgresql": "rw,nosuid,nodev,noexec,mode=3777", "/tmp": "rw,nosuid,nodev,noexec"},
        )
        # Reachable only on the host's docker network, which never leaves the droplet: no TLS.
        # The container's user owns the database, so the same admin step runs as it.
        server, password = service.host, service.password
        url = pulumi.Output.format(
            "postgresql://{0}:{1}@{2}:{3}/{4}", DB_USER, password, server, CONTAINER_PORT, DB_NAME
        )
        conn = pulumi.Output.all(server, password).apply(
            lambda v: dict(host=v[0], port=CONTAINER_PORT, user=DB_USER, password=v[1], database=DB_NAME, sslmode=None)
        )
        ready = self._admin(name, args, conn, [service.resource])
        # The container's name (and the admin step) make every consumer wait until it is usable.
        self.host = pulumi.Output.concat(server, ready)
        self.port = pulumi.Output.from_input(CONTAINER_PORT)
        self.password = password
        self.url = pulumi.Output.secret(pulumi.Output.concat(url, ready))
        self.direct_url = self.url
