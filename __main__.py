"""webstack: config -> components -> exports. Nothing else lives here."""

import pulumi

from components import cloudflare_ips
from components.cache import Valkey, ValkeyArgs
from components.config import load
from components.database import Postgres, PostgresArgs
from components.network import Network, NetworkArgs
from components.secrets import AppSecrets, AppSecretsArgs

cfg = load()
name = f"webstack-{cfg.stack}"

secrets = AppSecrets(
    f"{name}-secrets",
    AppSecretsArgs(names=cfg.app.generated_secrets, rotation=cfg.app.secrets_rotation),
)
network = Network(
    name,
    NetworkArgs(
        region=cfg.region,
        vpc_cidr=cfg.vpc_cidr,
        ssh_cidrs=cfg.ssh_trusted_cidrs,
        web_cidrs=cloudflare_ips.ALL,
        load_balanced=cfg.app.replicas >= 2,
        health_path=cfg.app.health_path,
    ),
)
postgres = Postgres(
    f"{name}-db",
    PostgresArgs(
        mode=cfg.database.mode,
        region=cfg.region,
        vpc_id=network.vpc.id,
        app_tag=network.app_tag.name,
        version=cfg.database.version,
        size=cfg.database.size,
        nodes=cfg.database.nodes,
        pool_size=cfg.database.pool_size,
        pool_mode=cfg.database.pool_mode,
        maintenance_day=cfg.database.maintenance_day,
        maintenance_hour=cfg.database.maintenance_hour,
        protect=cfg.protect,
        container_image=cfg.database.container_image,
    ),
)
valkey = Valkey(
    f"{name}-valkey",
    ValkeyArgs(
        mode=cfg.valkey.mode,
        region=cfg.region,
        vpc_id=network.vpc.id,
        app_tag=network.app_tag.name,
        version=cfg.valkey.version,
        size=cfg.valkey.size,
        split_cache=cfg.valkey.split_cache,
        cache_size=cfg.valkey.cache_size,
        protect=cfg.protect,
        container_image=cfg.valkey.container_image,
    ),
)

pulumi.export("environment", cfg.environment)
pulumi.export("vpc_id", network.vpc.id)
pulumi.export("public_ip", network.public_ip)
pulumi.export("database_host", postgres.host)
pulumi.export("valkey_host", valkey.host)
pulumi.export("database_url", postgres.url)
pulumi.export("database_direct_url", postgres.direct_url)
pulumi.export("broker_url", valkey.broker_url)
pulumi.export("cache_url", valkey.cache_url)
