"""webstack: config -> components -> exports. Nothing else lives here."""

import pulumi

from components import cloudflare_ips
from components.backups import Backups, BackupsArgs
from components.cache import Valkey, ValkeyArgs
from components.config import BACKUP_MEMORY_MB, BEAT_MEMORY_MB, PROXY_MEMORY_MB, load, nginx_spec
from components.containers import AppContainers, AppContainersArgs
from components.database import Postgres, PostgresArgs
from components.dockerhost import DockerHost, DockerHostArgs
from components.edge import Edge, EdgeArgs
from components.envmap import app_env
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.origin import OriginTls, OriginTlsArgs
from components.project import Project, ProjectArgs
from components.proxy import render_nginx_conf
from components.secrets import AppSecrets, AppSecretsArgs
from components.servers import AppServers, AppServersArgs

cfg = load()
name = f"webstack-{cfg.stack}"
app = cfg.app
load_balanced = app.replicas >= 2

secrets = AppSecrets(
    f"{name}-secrets",
    AppSecretsArgs(names=app.generated_secrets, rotation=app.secrets_rotation),
)
network = Network(
    name,
    NetworkArgs(
        region=cfg.region,
        vpc_cidr=cfg.vpc_cidr,
        ssh_cidrs=cfg.ssh_trusted_cidrs,
        web_cidrs=cloudflare_ips.ALL,
        load_balanced=load_balanced,
        health_path=app.health_path,
    ),
)
servers = AppServers(
    f"{name}-node",
    AppServersArgs(
        region=cfg.region,
        vpc_id=network.vpc.id,
        tags=(network.app_tag.name, f"env:{cfg.stack}"),
        size=app.droplet_size,
        memory_mb=app.droplet_memory_mb,
        replicas=app.replicas,
        ssh_public_keys=cfg.ssh_public_keys,
        ssh_key_fingerprints=cfg.ssh_key_fingerprints,
        ready_after=(network.firewall,),
        backups=cfg.backups.droplet_backups,
        backup_plan=cfg.backups.droplet_plan,
        backup_hour=cfg.backups.droplet_hour,
        reserved_ip=network.reserved_ip,
    ),
)
hosts = [
    DockerHost(f"{name}-host-{i}", DockerHostArgs(address=address, ready=ready))
    for i, (address, ready) in enumerate(zip(servers.addresses, servers.ready, strict=True))
]
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
        docker_host=hosts[0],
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
        docker_host=hosts[0],
        container_image=cfg.valkey.container_image,
    ),
)
origin = OriginTls(f"{name}-origin", OriginTlsArgs(hostnames=app.hostnames))

env_args = dict(
    plain=dict(app.env),
    broker_url=valkey.broker_url,
    cache_url=valkey.cache_url,
    secrets=secrets.values,
    web_workers=app.web_workers,
)
app_env_lines = app_env(database_url=postgres.url, **env_args)
release_env_lines = app_env(database_url=postgres.direct_url, **env_args)
nginx_conf = render_nginx_conf(nginx_spec(app, cfg.proxy, cfg.vpc_cidr if load_balanced else None))
containers: list[AppContainers] = []
for i, host in enumerate(hosts):
    first = containers[0] if containers else None
    containers.append(
        AppContainers(
            f"{name}-app-{i}",
            AppContainersArgs(
                host=host,
                image=app.image,
                proxy_image=cfg.proxy.image,
                env=app_env_lines,
                release_env=release_env_lines,
                nginx_conf=nginx_conf,
                cert_pem=origin.cert_pem,
                key_pem=origin.key_pem,
                web_command=app.web_command,
                worker_command=app.worker_command,
                worker_concurrency=app.worker_concurrency,
                beat_command=app.beat_command,
                release_command=app.release_command,
                port=app.port,
                health_path=app.health_path,
                web_memory_mb=app.web_memory_mb,
                worker_memory_mb=app.worker_memory_mb,
                proxy_memory_mb=PROXY_MEMORY_MB,
                beat_memory_mb=BEAT_MEMORY_MB,
                first=first is None,
                release_gate=first.release_gate if first else None,
                release_resource=first.migrate if first else None,
                rollout_after=containers[-1].web if containers else None,
            ),
        )
    )

edge = Edge(
    f"{name}-edge",
    EdgeArgs(
        domain=cfg.domain,
        hostnames=app.hostnames,
        target=network.public_ip,
        zone_id=cfg.edge.zone_id,
        manage_zone_settings=cfg.edge.manage_zone_settings,
        hsts_max_age=cfg.edge.hsts_max_age,
        auth_paths=app.auth_paths,
        rate_limit_requests=cfg.edge.rate_limit_requests,
        rate_limit_period=cfg.edge.rate_limit_period,
        rate_limit_timeout=cfg.edge.rate_limit_timeout,
    ),
)

if cfg.monitoring.enabled:
    Monitoring(
        f"{name}-monitoring",
        MonitoringArgs(
            app_tag=network.app_tag.name,
            hostnames=app.hostnames,
            health_path=app.health_path,
            emails=cfg.alert_emails,
            slack_url=cfg.slack_webhook_url,
            slack_channel=cfg.monitoring.slack_channel,
            cpu_percent=cfg.monitoring.cpu_percent,
            memory_percent=cfg.monitoring.memory_percent,
            disk_percent=cfg.monitoring.disk_percent,
            window=cfg.monitoring.window,
            latency_ms=cfg.monitoring.latency_ms,
            ssl_expiry_days=cfg.monitoring.ssl_expiry_days,
        ),
    )

backups = None
if cfg.backups.enabled:
    backups = Backups(
        f"{name}-backups",
        BackupsArgs(
            bucket_name=cfg.bucket_name,
            region=cfg.region,
            docker_host=hosts[0],
            pg_host=postgres.host,
            pg_port=postgres.port,
            pg_database=postgres.database,
            pg_user=postgres.user,
            pg_password=postgres.password,
            pg_sslmode="require" if cfg.database.mode == "managed" else "disable",
            retention_days=cfg.backups.retention_days,
            schedule=cfg.backups.schedule,
            image=cfg.backups.image,
            protect=cfg.protect,
            memory_mb=BACKUP_MEMORY_MB,
        ),
    )

front_door = network.load_balancer.load_balancer_urn if network.load_balancer else network.reserved_ip.reserved_ip_urn
Project(
    name,
    ProjectArgs(
        environment=cfg.environment,
        description=f"webstack {cfg.stack} for {cfg.domain}",
        resources=(
            *(d.droplet_urn for d in servers.droplets),
            front_door,
            *([postgres.cluster.cluster_urn] if postgres.cluster else []),
            *(c.cluster_urn for c in valkey.clusters),
            *([backups.bucket.bucket_urn] if backups else []),
        ),
    ),
)

pulumi.export("environment", cfg.environment)
pulumi.export("urls", edge.urls)
pulumi.export("vpc_id", network.vpc.id)
pulumi.export("public_ip", network.public_ip)
pulumi.export("front_door", "load balancer" if load_balanced else "reserved IP")
pulumi.export("droplet_ips", servers.addresses)
pulumi.export("ssh", [pulumi.Output.concat("ssh deploy@", address) for address in servers.addresses])
pulumi.export("database_host", postgres.host)
pulumi.export("valkey_host", valkey.host)
pulumi.export("backup_bucket", backups.bucket.name if backups else None)
pulumi.export("backup_endpoint", backups.endpoint if backups else None)
pulumi.export("database_url", postgres.url)
pulumi.export("database_direct_url", postgres.direct_url)
pulumi.export("broker_url", valkey.broker_url)
pulumi.export("cache_url", valkey.cache_url)
