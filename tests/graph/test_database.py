"""Postgres promises: the app reaches a managed cluster over TLS only, through the
pool for its requests and directly for migrations, and the backup dump too."""

from __future__ import annotations

import shlex
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import recorded, recorded_with

CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
POOL = "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool"
USER = "digitalocean:index/databaseUser:DatabaseUser"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_managed_postgres_urls_are_the_pools_and_a_direct_one_requiring_tls(stack):
    run = recorded(stack)
    (cluster,) = [c for c in run.of_type(CLUSTER) if c.inputs["engine"] == "pg"]
    pool, user = run.one(POOL), run.one(USER)
    # Requests go through the pool, by the URI DigitalOcean gives it (TLS required in it).
    assert run.exports["database_url"].value == pool.outputs["privateUri"]
    assert parse_qs(urlsplit(pool.outputs["privateUri"]).query) == {"sslmode": ["require"]}
    # Migrations and the admin step connect directly, and must insist on TLS themselves.
    direct = urlsplit(run.exports["database_direct_url"].value)
    assert parse_qs(direct.query) == {"sslmode": ["require"]}, direct.query
    assert (direct.scheme, direct.hostname, direct.port) == (
        "postgresql",
        *map(cluster.outputs.get, ("privateHost", "port")),
    )
    assert (direct.username, direct.password) == (user.inputs["name"], user.outputs["password"])
    assert direct.path == "/app"
    assert run.exports["database_url"].secret and run.exports["database_direct_url"].secret


def test_the_admin_step_connects_as_the_owner_requiring_tls():
    run = recorded("staging")
    (cluster,) = [c for c in run.of_type(CLUSTER) if c.inputs["engine"] == "pg"]
    (grant,) = [c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-db-grant")]
    (upload,) = grant.inputs["uploads"]
    assert "uploads[0].content" in grant.secret_paths
    admin = dict(shlex.split(line)[0].split("=", 1) for line in upload["content"].splitlines())
    assert admin == {
        "PGHOST": cluster.outputs["privateHost"],
        "PGPORT": str(cluster.outputs["port"]),
        "PGUSER": cluster.outputs["user"],
        "PGPASSWORD": cluster.outputs["password"],
        "PGDATABASE": "app",
        "PGSSLMODE": "require",
    }


@pytest.mark.parametrize(("stack", "sslmode"), [("dev", "disable"), ("staging", "require"), ("prod", "require")])
def test_the_backup_dump_connects_with_the_tls_mode_of_its_database(stack, sslmode):
    run = recorded(stack)
    dumps = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"] == "pg-backup"]
    if not run.cfg.backups.enabled:
        assert not dumps
        return
    (dump,) = dumps
    env = dict(line.split("=", 1) for line in dump.inputs["envs"])
    assert env["PGSSLMODE"] == sslmode


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_process_gets_the_database_before_the_grant_and_the_firewall(stack):
    """The pooled URL (web, workers, scheduler) and the direct one (the release command) carry
    the admin step: no process connects before the app user may create tables in `public`, and
    the admin step itself runs once the user and the firewall rule exist."""
    run = recorded(stack)
    containers = {c.name.removeprefix(f"webstack-{stack}-"): c for c in run.of_type("docker:index/container:Container")}
    grant = containers["db-grant"]
    (cluster,) = [c for c in run.of_type(CLUSTER) if c.inputs["engine"] == "pg"]
    firewalls = run.of_type("digitalocean:index/databaseFirewall:DatabaseFirewall")
    (firewall,) = [f for f in firewalls if f.inputs["clusterId"] == cluster.id]
    assert {firewall.urn, run.one(USER).urn} <= set(grant.dependencies)
    apps = [c for name, c in containers.items() if name.startswith("app-") and c.inputs.get("envs")]
    assert {name.rsplit("-", 1)[-1] for name in containers if name.startswith("app-")} >= {"web", "migrate"}
    for app in apps:
        assert grant.urn in app.property_dependencies["envs"], f"{app.name}'s env does not wait on the grant"


def test_in_container_mode_the_app_and_the_dump_reach_the_container_with_its_password():
    run = recorded_with("dev", {"backups.enabled": True, "app.dropletSize": "s-2vcpu-4gb"})
    containers = {c.inputs["name"]: c for c in run.of_type("docker:index/container:Container")}
    server = containers["webstack-dev-db-postgres"]
    env = dict(line.split("=", 1) for line in server.inputs["envs"])
    for name in ("database_url", "database_direct_url"):
        url = urlsplit(run.exports[name].value)
        # libpq reads a URI only by its lower-case prefix (psql takes "POSTGRESQL://..." for a
        # database name); urlsplit lowers the scheme, so check the text.
        assert run.exports[name].secret and run.exports[name].value.startswith("postgresql://")
        assert (url.scheme, url.hostname, url.port, url.path) == ("postgresql", server.inputs["name"], 5432, "/app")
        assert (url.username, url.password) == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"])
    # The dump, like the app, connects only once the admin step has run.
    assert containers["pg-grant"].urn in containers["pg-backup"].property_dependencies["envs"]
    dump = dict(line.split("=", 1) for line in containers["pg-backup"].inputs["envs"])
    assert (dump["POSTGRES_HOST"], dump["POSTGRES_PORT"]) == (server.inputs["name"], "5432")
    assert (dump["POSTGRES_USER"], dump["POSTGRES_PASSWORD"]) == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"])
    assert (dump["POSTGRES_DATABASE"], dump["PGSSLMODE"]) == (env["POSTGRES_DB"], "disable")


def test_with_a_runtime_role_the_processes_write_rows_and_only_the_release_owns_the_schema():
    """database.runtimeRole: the pool (web, processes, jobs) logs in as app_runtime; the release
    and the dump keep `app`, the owner; the admin step gets app's login too (for the grants
    only the owner may give), in its secret file."""
    run = recorded_with("staging", {"database.runtimeRole": True})
    users = {u.inputs["name"]: u for u in run.of_type(USER)}
    assert set(users) == {"app", "app_runtime"}
    pool = run.one(POOL)
    assert pool.inputs["user"] == "app_runtime"
    containers = run.of_type("docker:index/container:Container")
    env = {c.inputs["name"]: dict(line.split("=", 1) for line in c.inputs.get("envs") or []) for c in containers}
    (web,) = [n for n in env if n.startswith("web-")]
    assert env[web]["DATABASE_URL"] == pool.outputs["privateUri"]
    assert urlsplit(env["migrate"]["DATABASE_URL"]).username == "app"
    assert env["pg-backup"]["POSTGRES_USER"] == "app"
    (grant,) = [c for c in containers if c.inputs["name"] == "pg-grant"]
    (upload,) = grant.inputs["uploads"]
    admin = dict(shlex.split(line)[0].split("=", 1) for line in upload["content"].splitlines())
    assert admin["OWNER_PGUSER"] == "app" and admin["OWNER_PGPASSWORD"] == users["app"].outputs["password"]
    assert "uploads[0].content" in grant.secret_paths
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE app" in grant.inputs["command"][0]
    assert users["app_runtime"].urn in run.upstream(grant.urn), "the role exists before it is granted anything"


def test_the_runtime_role_is_off_by_default_and_refused_in_container_mode():
    from tests.unit.test_config import _reject

    assert [u.inputs["name"] for u in recorded("staging").of_type(USER)] == ["app"]
    message = str(_reject("dev", {"database.runtimeRole": True}))
    assert "webstack:database.runtimeRole = True: must be false in container mode" in message
