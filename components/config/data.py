"""`webstack:database` and `webstack:valkey`: the data tier, managed or as containers (dev)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from components.config import catalog
from components.config.base import Image, Section, choice, problem, raise_if

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Mode = choice("managed", "container")
# Container mode's images, by tag and multi-arch index digest: an official image's tag is
# rebuilt now and then, the digest keeps what was checked.
POSTGRES_IMAGE = "postgres:17.6-alpine@sha256:ef257d85f76e48da1c64832459b59fcaba1a4dac97bf5d7450c77753542eee94"
VALKEY_IMAGE = "valkey/valkey:8.1.9-alpine@sha256:e0eb7c480958d32bdc4357a74bdd70653ae15f2f9b4c93c4a5a9fad1dc471c84"
# Extensions DigitalOcean's managed Postgres offers that apps commonly create
# (https://docs.digitalocean.com/products/databases/postgresql/details/supported-extensions/).
EXTENSIONS = (
    "btree_gin", "btree_gist", "citext", "cube", "fuzzystrmatch", "hstore", "intarray", "ltree", "pg_stat_statements",
    "pg_trgm", "pgcrypto", "postgis", "tablefunc", "unaccent", "uuid-ossp", "vector",
)  # fmt: skip


class Maintenance(Section):
    day: choice(*WEEKDAYS) = "sunday"
    """Weekday of the maintenance window."""
    hour: Annotated[int, Field(ge=0, le=23)] = 3
    """UTC hour of the maintenance window."""


class DatabaseConfig(Section):
    mode: choice("managed", "container", "none") = "managed"
    """`managed` (DigitalOcean cluster), `container` (on the first droplet, dev) or `none` (no
    Postgres: an app on SQLite or files on the volume; the volume archive is its backup)."""
    version: choice(*catalog.POSTGRES_VERSIONS) = "17"
    """Postgres major version."""
    size: choice(*catalog.DATABASE_SIZES) = "db-s-1vcpu-1gb"
    """Node size slug."""
    nodes: Annotated[int, Field(ge=1, le=3)] = 1
    """Primary plus standbys; a standby needs db-s-1vcpu-2gb or larger."""
    pool_size: Annotated[int, Field(ge=1)] = 20
    """Connections in the app's PgBouncer pool (checked against the sizing rule)."""
    pool_mode: choice("transaction", "session", "statement") = "transaction"
    """PgBouncer pool mode of databaseUrl. transaction: a connection per transaction, which breaks
    server-side prepared statements (Rails: `prepared_statements: false`, or give it
    directDatabaseUrl); session: a connection per client, as many as the app holds."""
    maintenance: Maintenance = Maintenance()
    """Maintenance window {day, hour}."""
    container_image: Image = POSTGRES_IMAGE
    """Container mode only: pinned Postgres image."""
    extensions: tuple[choice(*EXTENSIONS), ...] = ()
    """Extensions created by doadmin before migrations (the app user cannot on Postgres 15+)."""
    runtime_role: bool = False
    """Managed only: web, processes and jobs log in as `app_runtime`, which may read and write rows
    but not change the schema; the release command (and dumps) stay `app`, the tables' owner.
    Only for an app that never creates or alters tables outside its release command."""

    @property
    def maintenance_day(self) -> str:
        return self.maintenance.day

    @property
    def maintenance_hour(self) -> int:
        return self.maintenance.hour

    @model_validator(mode="after")
    def _standby(self) -> DatabaseConfig:
        if self.mode == "none":
            bad = [problem("database.runtimeRole", True, "false with database.mode none (no database)")] * bool(
                self.runtime_role
            )
            bad += [problem("database.extensions", list(self.extensions), "empty with database.mode none")] * bool(
                self.extensions
            )
            raise_if(bad)
            return self
        if self.runtime_role and self.mode != "managed":
            raise_if(
                [
                    problem(
                        "database.runtimeRole",
                        True,
                        "false in container mode (the container's app user is its superuser anyway)",
                    )
                ]
            )
        if self.mode == "managed" and self.nodes > 1 and not catalog.DATABASE_SIZES[self.size].standby_allowed:
            raise_if(
                [
                    problem(
                        "database.nodes", self.nodes, f"1 on {self.size}; standby nodes need db-s-1vcpu-2gb or larger"
                    )
                ]
            )
        return self


class ValkeyConfig(Section):
    mode: choice("managed", "container", "none") = "managed"
    """`managed` (DigitalOcean cluster), `container` (on the first droplet, dev) or `none` (no
    Celery, no cache: no Valkey at all)."""
    version: choice(*catalog.VALKEY_VERSIONS) = "8"
    """Valkey major version."""
    size: choice(*catalog.DATABASE_SIZES) = "db-s-1vcpu-1gb"
    """Broker node size."""
    split_cache: bool = False
    """True adds a separate allkeys-lru cache cluster beside the never-evicting broker."""
    cache_size: choice(*catalog.DATABASE_SIZES) | None = None
    """Cache node size when split; unset: the broker's size."""
    container_image: Image = VALKEY_IMAGE
    """Container mode only: pinned Valkey image."""

    @property
    def cache_size_slug(self) -> str:
        return self.cache_size or self.size
