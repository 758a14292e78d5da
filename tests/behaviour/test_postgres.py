"""The managed database's bootstrap, run against a real PostgreSQL 15 (Debian 12's).

DigitalOcean's setup is mirrored: a bootstrap superuser creates ``doadmin`` (LOGIN, CREATEDB,
CREATEROLE, not a superuser: DigitalOcean keeps superuser to itself); doadmin creates the
database and the LOGIN user ``app`` (neither superuser nor CREATEDB), as the API does. Then the
admin step of components/cloud/database.py, ``admin_script(admin_sql(...))``, runs under ``sh`` exactly
as the pg-grant container runs it, its credentials file (``admin_env``) pointing at the local
server over TLS.

A backup is restored end to end against the same server: dumped as the backup image dumps,
by the run script the stack gives its dump container (under busybox, with a stand-in aws),
copied off-site, and restored with the README's runbook line.

The server runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses root),
on a free loopback port, from a throwaway data directory. Production runs PostgreSQL 17; the
rule under test (only the database owner may create in schema public) holds from 15 on.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.cloud import backups, database
from components.cloud.database import (
    ADMIN_CONNECT_TIMEOUT,
    ADMIN_FILE,
    DB_NAME,
    DB_USER,
    RUNTIME_USER,
    admin_command,
    admin_env,
    admin_script,
    admin_sql,
)
from tests import fake_aws, realprog
from tests.conftest import STACKS, recorded

ROOT = Path(__file__).resolve().parents[2]
ADMIN, ADMIN_PASSWORD = "doadmin", "doadmin pw 'x'"
APP_PASSWORD = "app-pw"
RUNTIME_PASSWORD = "runtime-pw"
MANAGED = [s for s in STACKS if realprog.stack_cfg(s).database.mode == "managed"]
_names = itertools.count()


@dataclass
class Cluster:
    port: int
    psql: str
    pg_dump: str
    directory: Path
    granted: dict[str, str] = field(default_factory=dict)
    """stack -> a fresh database its admin step ran on (see _granted_db)."""

    def url(self, db: str, user: str = DB_USER, password: str = APP_PASSWORD) -> str:
        # The same shape as the stack's URLs: password in the URL, TLS required.
        quoted = password.replace("%", "%25").replace(" ", "%20").replace("'", "%27")
        return f"postgresql://{user}:{quoted}@{realprog.LOOPBACK}:{self.port}/{db}?sslmode=require"

    def admin_url(self, db: str) -> str:
        return self.url(db, ADMIN, ADMIN_PASSWORD)

    def sql(self, url: str, sql: str) -> subprocess.CompletedProcess[str]:
        return realprog.run(
            [self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], env=_client_env()
        )

    def ok(self, url: str, sql: str) -> str:
        result = self.sql(url, sql)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def new_database(self, prefix: str) -> str:
        """A database created by doadmin through its own connection, as the API creates `app`."""
        name = f"{prefix}_{next(_names)}"
        self.ok(self.admin_url("postgres"), f"CREATE DATABASE {name}")
        return name


def _client_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGCONNECT_TIMEOUT": "5", **extra}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    initdb = realprog.require("initdb", "postgresql")
    postgres = realprog.require("postgres", "postgresql")
    psql = realprog.require("psql", "postgresql-client")
    pg_dump = realprog.require("pg_dump", "postgresql-client")
    drop = realprog.unprivileged("postgres")
    owner = "postgres" if drop else None
    with realprog.shared_tempdir(owner) as directory:
        data, log = directory / "data", directory / "postgres.log"
        result = realprog.run(
            [initdb, "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C", "-N",
             "--auth-local=trust", "--auth-host=scram-sha-256"],
            **drop,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        cert, key = realprog.throwaway_cert(directory / "server.crt", directory / "server.key", "localhost")
        key.chmod(0o600)
        if owner:
            for path in (cert, key):
                shutil.chown(path, owner, owner)
        port = realprog.free_port()
        command = [
            postgres, "-D", str(data), "-p", str(port), "-k", str(directory),
            "-c", f"listen_addresses={realprog.LOOPBACK}", "-c", "fsync=off",
            "-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}",
        ]  # fmt: skip
        with realprog.server(command, port, log, stop_signal=signal.SIGINT, **drop):
            pg = Cluster(port, psql, pg_dump, directory)
            bootstrap = f"postgresql://postgres@/postgres?host={directory}&port={port}"
            deadline = time.monotonic() + 15  # the port opens a moment before logins are accepted
            while pg.sql(bootstrap, "SELECT 1").returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            pw = ADMIN_PASSWORD.replace("'", "''")
            pg.ok(bootstrap, f"CREATE ROLE {ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '{pw}'")
            # As on DigitalOcean: doadmin creates (owns) the database; the app user is a plain login.
            pg.ok(pg.admin_url("postgres"), f"CREATE DATABASE {DB_NAME}")
            pg.ok(pg.admin_url("postgres"), f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{APP_PASSWORD}'")
            # database.runtimeRole's user, also made through the API.
            pg.ok(pg.admin_url("postgres"), f"CREATE ROLE {RUNTIME_USER} LOGIN PASSWORD '{RUNTIME_PASSWORD}'")
            yield pg


def _extensions(stack: str) -> tuple[str, ...]:
    """The extensions the stack configures."""
    return tuple(recorded(stack).cfg.database.extensions)


def _stack_sql(stack: str) -> str:
    return admin_sql(DB_USER, extensions=_extensions(stack))


def _grant_command(stack: str) -> str:
    """The shell line the stack's pg-grant container runs, from the recording."""
    (grant,) = [r for r in recorded(stack).of_type("docker:index/container:Container") if r.name.endswith("-grant")]
    assert grant.inputs["entrypoints"] == ["sh", "-c"]
    (command,) = grant.inputs["command"]
    return command


def _run_admin(
    pg: Cluster, command: str, db: str, timeout: float = 30, port: int | None = None, owner: bool = False
) -> subprocess.CompletedProcess[str]:
    """`command` under sh as the container runs it: psql on PATH, and its credentials file,
    admin_env's text for doadmin on `db`, where the upload puts it (a fresh file per run, in
    the cluster's directory); afterwards the file must be gone."""
    credentials = pg.directory / f"admin-{next(_names)}"
    credentials.write_text(
        admin_env(
            host=realprog.LOOPBACK, port=port or pg.port, user=ADMIN, password=ADMIN_PASSWORD, database=db,
            sslmode="require", **({"owner": DB_USER, "owner_password": APP_PASSWORD} if owner else {}),
        )
    )  # fmt: skip
    env = _client_env()
    env["PATH"] = f"{Path(pg.psql).parent}{os.pathsep}{env['PATH']}"
    assert command.count(ADMIN_FILE) == 2, "read, then deleted"
    result = realprog.run(["sh", "-c", command.replace(ADMIN_FILE, str(credentials))], timeout=timeout, env=env)
    assert not credentials.exists(), "the script deletes its credentials"
    return result


def _can_create(pg: Cluster, db: str) -> subprocess.CompletedProcess[str]:
    return pg.sql(pg.url(db), "CREATE TABLE t_probe (i int); DROP TABLE t_probe")


# -------------------------------------------------------------------------------- the tests


def test_app_user_cannot_create_in_public_before_the_admin_step(cluster: Cluster) -> None:
    """Postgres 15+ (which this is): without the grant the app's first migration fails.
    (The `app` database is never given the admin step here.)"""
    version = int(cluster.ok(cluster.url(DB_NAME), "SHOW server_version_num"))
    assert version >= 150000
    result = _can_create(cluster, DB_NAME)
    assert result.returncode != 0
    assert "permission denied for schema public" in result.stderr


def _granted_db(cluster: Cluster, stack: str) -> str:
    """A database created by doadmin, on which the stack's pg-grant command then ran (once
    per stack: creating databases is the slow part here)."""
    if stack not in cluster.granted:
        command = _grant_command(stack)
        assert command == admin_script(_stack_sql(stack)), "the container runs admin_script(admin_sql(...))"
        db = cluster.new_database(f"grant_{stack}")
        assert _can_create(cluster, db).returncode != 0
        result = _run_admin(cluster, command, db)
        assert result.returncode == 0, result.stdout + result.stderr
        cluster.granted[stack] = db
    return cluster.granted[stack]


@pytest.mark.parametrize("stack", MANAGED)
def test_admin_step_lets_the_app_user_create_tables(cluster: Cluster, stack: str) -> None:
    db = _granted_db(cluster, stack)
    app = cluster.url(db)
    cluster.ok(app, "CREATE TABLE orders (id serial PRIMARY KEY, item text); INSERT INTO orders (item) VALUES ('a')")
    assert cluster.ok(app, "SELECT item FROM orders") == "a"
    assert cluster.ok(app, "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'") == DB_USER
    # A replaced pg-grant container runs it again: it must be repeatable.
    again = _run_admin(cluster, _grant_command(stack), db)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.parametrize("stack", MANAGED)
def test_app_user_stays_unprivileged_after_the_admin_step(cluster: Cluster, stack: str) -> None:
    db = _granted_db(cluster, stack)
    flags = cluster.ok(
        cluster.url(db),
        f"SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = '{DB_USER}'",
    )
    assert flags == "f|f|f|f"
    denied = cluster.sql(cluster.url(db), "CREATE DATABASE app_may_not")
    assert denied.returncode != 0 and "permission denied" in denied.stderr


@pytest.mark.parametrize("stack", MANAGED)
def test_configured_extensions_exist_after_the_admin_step(cluster: Cluster, stack: str) -> None:
    """Every extension the stack configures is installed, and no other."""
    assert _extensions(stack), "the stack configures some, or this proves nothing"
    db = _granted_db(cluster, stack)
    installed = set(cluster.ok(cluster.url(db), "SELECT extname FROM pg_extension").split())
    assert installed - {"plpgsql"} == set(_extensions(stack))
    # ... and the app user can use them (citext compares case-insensitively).
    if "citext" in _extensions(stack):
        app = cluster.url(db)
        cluster.ok(app, "CREATE TABLE u_probe (email citext UNIQUE); INSERT INTO u_probe VALUES ('A@x.io')")
        assert cluster.ok(app, "SELECT count(*) FROM u_probe WHERE email = 'a@X.IO'") == "1"
        cluster.ok(app, "DROP TABLE u_probe")


def test_admin_step_stops_at_once_on_an_sql_error(cluster: Cluster) -> None:
    """An SQL error is not a firewall still applying: no retry, psql's own message."""
    started = time.monotonic()
    result = _run_admin(cluster, admin_script("GRANT ALL ON SCHEMA no_such_schema TO app;"), DB_NAME)
    assert result.returncode != 0
    assert 'schema "no_such_schema" does not exist' in result.stderr
    assert "could not reach" not in result.stderr
    assert time.monotonic() - started < database.ADMIN_RETRY_SECONDS


def test_admin_step_retries_an_unreachable_server_then_names_the_cause(cluster: Cluster) -> None:
    closed = realprog.free_port()  # nothing listens there: like a firewall not applied yet
    command = admin_script(admin_sql(DB_USER), attempts=2, delay=1)
    started = time.monotonic()
    result = _run_admin(cluster, command, DB_NAME, port=closed)
    assert result.returncode == 1
    assert result.stderr.count("Connection refused") == 2, result.stderr
    assert "could not reach the database as doadmin in 2 attempts" in result.stderr
    # It waits between attempts (the firewall rule needs time), and says how long it tried:
    # each attempt waits out the delay and the connect timeout at most.
    assert time.monotonic() - started >= 1.0
    assert f"(about {2 * (1 + ADMIN_CONNECT_TIMEOUT)} s)" in result.stderr, result.stderr


# The dump as the image makes it (eeshugerman/postgres-backup-s3 src/backup.sh:9-15 at
# ecb08ff): `pg_dump --format=custom -h $POSTGRES_HOST -p $POSTGRES_PORT -U $POSTGRES_USER
# -d $POSTGRES_DATABASE $PGDUMP_EXTRA_OPTS > db.dump`, the password from env.sh's PGPASSWORD,
# uploaded as $S3_PREFIX/${POSTGRES_DATABASE}_<time>.dump with aws s3 cp; webstack sets no
# PASSPHRASE, so no gpg. A stand-in with those steps, under the image's file names.
IMAGE_BACKUP = """set -eu
. ./env.sh
pg_dump --format=custom -h $POSTGRES_HOST -p $POSTGRES_PORT -U $POSTGRES_USER -d $POSTGRES_DATABASE \\
  $PGDUMP_EXTRA_OPTS > db.dump
aws $aws_args s3 cp db.dump "s3://$S3_BUCKET/$S3_PREFIX/${POSTGRES_DATABASE}_2026-11-20T14:00:00.dump"
rm db.dump
"""
IMAGE_ENV = """aws_args="--endpoint-url $S3_ENDPOINT"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY PGPASSWORD=$POSTGRES_PASSWORD
"""


def _readme_restore_command() -> tuple[str, str]:
    """The README's restore line, a postgres container on the first droplet running a shell
    line with pg_restore: (the docker part, the shell line)."""
    commands = re.findall(r"`(docker run [^`]*) sh -c '([^']*pg_restore [^']+)'`", (ROOT / "README.md").read_text())
    assert len(commands) == 1, commands
    return commands[0]


def _dump_container(stack: str) -> tuple[dict[str, str], str]:
    """The recorded pg-backup container's env and the run script it is given."""
    containers = recorded(stack).of_type("docker:index/container:Container")
    (dump,) = [c for c in containers if c.inputs["name"] == "pg-backup"]
    env = dict(line.split("=", 1) for line in dump.inputs["envs"])
    (script,) = [u["content"] for u in dump.inputs["uploads"] if u["file"] == backups.RUN_SCRIPT]
    return env, script


def _table_counts(cluster: Cluster, db: str) -> dict[str, int]:
    tables = cluster.ok(cluster.url(db), "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    return {t: int(cluster.ok(cluster.url(db), f"SELECT count(*) FROM {t}")) for t in tables.split()}


def test_a_dump_restores_from_the_offsite_copy_with_the_readme_command(cluster: Cluster, tmp_path: Path) -> None:
    """End to end, as in prod: the app's data (with the stack's extensions, created by doadmin)
    is dumped as the image dumps it, by the run script prod's pg-backup container is given,
    with its env; the copy is taken from the off-site bucket and restored by the README's line
    with the stack's service file into a fresh database, then again over the restored one
    (--clean --if-exists). Every table has the same rows."""
    stack = "prod"
    admin_step = admin_script(_stack_sql(stack), attempts=1, delay=0)
    source, target = cluster.new_database("seeded"), cluster.new_database("restored")
    for db in (source, target):
        assert _run_admin(cluster, admin_step, db).returncode == 0
    rows = [(i, f"item {i}") for i in range(1, 51)]
    values = ", ".join(f"({i}, '{item}')" for i, item in rows)
    cluster.ok(
        cluster.url(source),
        f"CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL); INSERT INTO orders VALUES {values}; "
        "CREATE INDEX orders_item ON orders (item); "
        "CREATE TABLE customers (email citext PRIMARY KEY); "
        "INSERT INTO customers SELECT 'user' || i || '@Example.com' FROM generate_series(1, 20) i",
    )
    expected = _table_counts(cluster, source)
    assert expected == {"customers": 20, "orders": 50}

    # The backup run, with prod's dump container env (its buckets, endpoints and keys) aimed at
    # this server; busybox and a stand-in aws whose buckets answer to the stack's keys only.
    env, script = _dump_container(stack)
    env |= {"POSTGRES_HOST": realprog.LOOPBACK, "POSTGRES_PORT": str(cluster.port), "POSTGRES_DATABASE": source}
    env |= {"POSTGRES_PASSWORD": APP_PASSWORD, "PGDUMP_EXTRA_OPTS": "", "PGCONNECT_TIMEOUT": "5"}
    image = tmp_path / "image"
    image.mkdir()
    (image / "backup.sh").write_text(IMAGE_BACKUP)
    (image / "env.sh").write_text(IMAGE_ENV)
    assert script.count("\ncd /\n") == 1
    (tmp_path / "run.sh").write_text(script.replace("\ncd /\n", f"\ncd {image}\n"))
    host = {"s3": env["S3_ENDPOINT"], "off": env["OFFSITE_ENDPOINT"]}
    host = {name: url.removeprefix("https://") for name, url in host.items()}
    spaces = tmp_path / "spaces"
    fake_aws.install(
        tmp_path / "bin",
        spaces,
        {f"{host['s3']}/{env['S3_BUCKET']}": env["S3_ACCESS_KEY_ID"],
         f"{host['off']}/{env['OFFSITE_BUCKET']}": env["OFFSITE_ACCESS_KEY_ID"]},
    )  # fmt: skip
    bb = fake_aws.busybox_dir(tmp_path / "busybox")
    env["PATH"] = f"{tmp_path / 'bin'}:{bb}:{Path(cluster.pg_dump).parent}"
    done = realprog.run([str(bb / "sh"), str(tmp_path / "run.sh")], timeout=60, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    key = f"postgres/{source}_2026-11-20T14:00:00.dump"
    assert key in fake_aws.objects(spaces, host["off"], env["OFFSITE_BUCKET"])

    # The operator's side: the copy downloaded, the connection as the stack exports it.
    work = tmp_path / "restore"
    work.mkdir()
    dump = work / "app_20261120T140000.dump"
    shutil.copy(spaces / host["off"] / env["OFFSITE_BUCKET"] / key, dump)
    (work / "restore.conf").write_text(
        backups.pg_service_file(
            service=backups.RESTORE_SERVICE, host=realprog.LOOPBACK, port=cluster.port, dbname=target,
            user=DB_USER, password=APP_PASSWORD, sslmode="require",
        )
    )  # fmt: skip
    docker, shell = _readme_restore_command()
    assert "-e PGSERVICEFILE=restore.conf" in docker and '-v "$PWD:/restore" -w /restore' in docker
    assert docker.endswith(" postgres:17"), "pg_restore as new as the image's pg_dump (17)"
    assert f"-d service={backups.RESTORE_SERVICE}" in shell and "PGSERVICEFILE" not in shell
    line = shell.replace("app_<time>.dump", dump.name)
    client = _client_env(PGSERVICEFILE="restore.conf")
    client["PATH"] = f"{Path(cluster.pg_dump).parent}{os.pathsep}{client['PATH']}"
    for attempt in ("into the empty database", "over the restored one"):
        result = realprog.run(["sh", "-c", line], env=client, cwd=work)
        assert result.returncode == 0, f"{attempt}: {line}\n{result.stderr}"
        assert _table_counts(cluster, target) == expected, attempt
        restored = cluster.ok(cluster.url(target), "SELECT id, item FROM orders ORDER BY id")
        assert restored.splitlines() == [f"{i}|{item}" for i, item in rows], attempt
    assert cluster.ok(cluster.url(target), "SELECT indexname FROM pg_indexes WHERE indexname = 'orders_item'")
    assert cluster.ok(cluster.url(target), "SELECT count(*) FROM customers WHERE email = 'USER7@example.COM'") == "1"


# ---------------------------------------------------------------------------- the healthcheck


def _healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """Dev's Postgres container healthcheck (what `wait=True` waits for), run as docker runs it
    in the container, whose pg_isready reaches the server on its default host and port (here
    PGHOST/PGPORT point it at the test server)."""
    (container,) = [
        c for c in recorded("dev").of_type("docker:index/container:Container") if c.name.endswith("-db-container")
    ]
    kind, line = container.inputs["healthcheck"]["tests"]
    assert kind == "CMD-SHELL"
    pg_isready = realprog.require("pg_isready", "postgresql-client")
    env = _client_env(PGHOST=realprog.LOOPBACK, PGPORT=str(port))
    env["PATH"] = f"{Path(pg_isready).parent}:{env['PATH']}"
    return realprog.run(["sh", "-c", line], timeout=15, env=env)


def test_healthcheck_passes_while_the_server_accepts_connections(cluster: Cluster) -> None:
    result = _healthcheck(cluster.port)
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_fails_when_nothing_answers() -> None:
    assert _healthcheck(realprog.free_port()).returncode != 0


def test_admin_step_never_connects_when_it_cannot_delete_its_credentials(tmp_path: Path) -> None:
    """If the file cannot be deleted, the password would stay in the exited container's layer:
    the step stops before psql runs (a fake `rm` fails, a fake `psql` would leave a mark)."""
    credentials, mark = tmp_path / "admin", tmp_path / "psql-ran"
    credentials.write_text(admin_env(host="h", port=5432, user="u", password="p w'd", database="d", sslmode=None))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "rm").write_text("#!/bin/sh\nexit 1\n")
    (fake / "psql").write_text(f"#!/bin/sh\ntouch {mark}\n")
    for tool in ("rm", "psql"):
        (fake / tool).chmod(0o755)
    command = admin_script(admin_sql(DB_USER), attempts=1, delay=0).replace(ADMIN_FILE, str(credentials))
    result = realprog.run(["sh", "-c", command], env=_client_env(PATH=f"{fake}{os.pathsep}{os.environ['PATH']}"))
    assert result.returncode == 1 and "could not delete the admin credentials file" in result.stderr
    assert not mark.exists()


# ---------------------------------------------------------------------- database.runtimeRole


def test_the_runtime_role_writes_rows_of_old_and_new_tables_and_cannot_change_the_schema(cluster: Cluster) -> None:
    """An existing stack turning it on: `app` already owns a table; the admin step (as doadmin,
    then as app) runs; the next migration (as app) adds a table; app_runtime may then read and
    write both (serial ids included) and do nothing else."""
    db = cluster.new_database("runtime")
    assert _run_admin(cluster, admin_script(admin_sql(DB_USER), attempts=1, delay=0), db).returncode == 0
    app = cluster.url(db)
    cluster.ok(app, "CREATE TABLE old_orders (id serial PRIMARY KEY, item text)")
    step = _run_admin(cluster, admin_command(runtime_role=True), db, owner=True)
    assert step.returncode == 0, step.stdout + step.stderr
    cluster.ok(app, "CREATE TABLE new_orders (id bigserial PRIMARY KEY, item text)")  # a later migration
    runtime = cluster.url(db, RUNTIME_USER, RUNTIME_PASSWORD)
    for table in ("old_orders", "new_orders"):
        cluster.ok(runtime, f"INSERT INTO {table} (item) VALUES ('a'), ('b')")
        cluster.ok(runtime, f"UPDATE {table} SET item = 'c' WHERE item = 'a'")
        cluster.ok(runtime, f"DELETE FROM {table} WHERE item = 'b'")
        assert cluster.ok(runtime, f"SELECT id, item FROM {table}") == "1|c"
        for ddl in (
            f"DROP TABLE {table}",
            f"ALTER TABLE {table} ADD COLUMN x int",
            f"TRUNCATE {table}",
            f"CREATE INDEX {table}_item ON {table} (item)",
        ):
            denied = cluster.sql(runtime, ddl)
            assert denied.returncode != 0, ddl
            assert "must be owner" in denied.stderr or "permission denied" in denied.stderr, denied.stderr
    created = cluster.sql(runtime, "CREATE TABLE mine (i int)")
    assert created.returncode != 0 and "permission denied for schema public" in created.stderr
    # A replaced admin step runs it all again.
    again = _run_admin(cluster, admin_command(runtime_role=True), db, owner=True)
    assert again.returncode == 0, again.stderr


def test_without_the_runtime_role_the_admin_step_grants_it_nothing(cluster: Cluster) -> None:
    db = cluster.new_database("noruntime")
    assert _run_admin(cluster, admin_command(), db).returncode == 0
    cluster.ok(cluster.url(db), "CREATE TABLE t (i int)")
    denied = cluster.sql(cluster.url(db, RUNTIME_USER, RUNTIME_PASSWORD), "SELECT * FROM t")
    assert denied.returncode != 0 and "permission denied" in denied.stderr
