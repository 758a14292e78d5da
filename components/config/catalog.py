"""What DigitalOcean offers, as data: regions, droplet and database size slugs, limits.

Read on 2026-11-22 from DigitalOcean's product documentation (URLs beside each table).
Config validation checks slugs against these tables so a typo fails in the plan, not
twenty minutes into `pulumi up`. Prices live in tools/data/prices.yaml, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

# https://docs.digitalocean.com/platform/regional-availability/
REGIONS: frozenset[str] = frozenset(
    {"nyc1", "nyc3", "sfo2", "sfo3", "ams3", "sgp1", "lon1", "fra1", "tor1", "blr1", "syd1", "atl1"}
)
# Managed databases and Spaces are not offered in every datacenter.
# https://docs.digitalocean.com/products/databases/details/availability/
DATABASE_REGIONS: frozenset[str] = REGIONS
# https://docs.digitalocean.com/products/spaces/details/availability/
SPACES_REGIONS: frozenset[str] = frozenset(
    {"nyc3", "sfo2", "sfo3", "ams3", "sgp1", "fra1", "syd1", "blr1", "lon1", "tor1", "atl1"}
)


@dataclass(frozen=True)
class DropletSize:
    vcpus: int
    memory_mb: int


def _basic_sizes() -> dict[str, DropletSize]:
    # https://docs.digitalocean.com/products/droplets/details/pricing/ (Basic plans)
    base = {
        "s-1vcpu-512mb-10gb": DropletSize(1, 512),
        "s-1vcpu-1gb": DropletSize(1, 1024),
        "s-1vcpu-2gb": DropletSize(1, 2048),
        "s-2vcpu-2gb": DropletSize(2, 2048),
        "s-2vcpu-4gb": DropletSize(2, 4096),
        "s-4vcpu-8gb": DropletSize(4, 8192),
        "s-8vcpu-16gb": DropletSize(8, 16384),
    }
    sizes = dict(base)
    for slug, size in base.items():
        if slug != "s-1vcpu-512mb-10gb":
            sizes[f"{slug}-amd"] = size
            sizes[f"{slug}-intel"] = size
    return sizes


DROPLET_SIZES: dict[str, DropletSize] = _basic_sizes()


@dataclass(frozen=True)
class DatabaseSize:
    memory_mb: int
    # Connections a client may open: DigitalOcean allows 25 per GiB of RAM, at most 1000,
    # and keeps 3 for its own maintenance. https://docs.digitalocean.com/products/databases/postgresql/details/limits/
    pg_connection_limit: int
    # The 1 GiB plan runs a single node only; standby nodes need 2 GiB or more.
    # https://docs.digitalocean.com/products/databases/postgresql/how-to/add-standby-nodes/
    standby_allowed: bool


def _db_size(gib: int) -> DatabaseSize:
    return DatabaseSize(gib * 1024, min(25 * gib, 1000) - 3, gib >= 2)


DATABASE_SIZES: dict[str, DatabaseSize] = {
    "db-s-1vcpu-1gb": _db_size(1),
    "db-s-1vcpu-2gb": _db_size(2),
    "db-s-2vcpu-4gb": _db_size(4),
    "db-s-4vcpu-8gb": _db_size(8),
    "db-s-6vcpu-16gb": _db_size(16),
    "db-s-8vcpu-32gb": _db_size(32),
    "db-s-16vcpu-64gb": _db_size(64),
}

# https://docs.digitalocean.com/products/databases/postgresql/details/supported-versions/
# 14 reached end of life on 2026-11-12 and is no longer offered for new clusters.
POSTGRES_VERSIONS: frozenset[str] = frozenset({"15", "16", "17", "18"})
# https://docs.digitalocean.com/products/databases/valkey/details/supported-versions/
VALKEY_VERSIONS: frozenset[str] = frozenset({"8"})

# A containerised Postgres keeps the server default.
CONTAINER_PG_MAX_CONNECTIONS = 100

# Ubuntu 24.04 LTS, the image every app droplet boots.
DROPLET_IMAGE = "ubuntu-24-04-x64"

# Cloudflare rate limiting rules by zone plan ("Rate limiting rules: availability by plan",
# cloudflare-docs src/content/partials/waf/rate-limiting-availability-by-plan.mdx). Periods
# and timeouts come from one list of supported values, cut at the plan's maximum; the Free
# plan allows 10 s only. Counting by IP (ip.src, with the mandatory cf.colo.id) is on every plan.
RATE_LIMIT_VALUES = (10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600,
                     65535, 86400)  # fmt: skip


@dataclass(frozen=True)
class ZonePlan:
    periods: tuple[int, ...]
    timeouts: tuple[int, ...]
    characteristics: frozenset[str]


def _plan(max_period: int, max_timeout: int, *characteristics: str) -> ZonePlan:
    return ZonePlan(
        periods=tuple(v for v in RATE_LIMIT_VALUES if v <= max_period),
        timeouts=tuple(v for v in RATE_LIMIT_VALUES if v <= max_timeout),
        characteristics=frozenset(("cf.colo.id", "ip.src", *characteristics)),
    )


ZONE_PLANS = {
    "free": _plan(10, 10),
    "pro": _plan(60, 3600),
    "business": _plan(600, 86400, "cf.unique_visitor_id"),
    "enterprise": _plan(65535, 86400, "cf.unique_visitor_id"),
}
