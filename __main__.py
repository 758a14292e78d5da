"""webstack, in the order it is built: config -> shared cloud resources -> the app tier's engine
-> data, TLS, media -> edge/DNS -> the app on the engine -> frontend, monitoring, backups ->
project -> exports (docs/design.md). Nothing else lives here."""

import pulumi

from components.cloud.backups import RESTORE_SERVICE, Backups, BackupsArgs, heartbeat_url, pg_service_file
from components.cloud.cache import Valkey, ValkeyArgs
from components.cloud.database import Postgres, PostgresArgs
from components.cloud.edge import Edge, EdgeArgs
from components.cloud.frontend import Frontend, FrontendArgs
from components.cloud.media import Media, MediaArgs
from components.cloud.monitoring import Monitoring, MonitoringArgs
from components.cloud.network import Network, NetworkArgs
from components.cloud.origin import OriginTls, OriginTlsArgs
from components.cloud.project import Project, ProjectArgs
from components.cloud.registry import registry_auth
from components.cloud.secrets import AppSecrets, AppSecretsArgs, SecretSpec
from components.config import BACKUP_MEMORY_MB, VOLUME_BACKUP_MEMORY_MB, cloudflare_ips, load
from components.droplets.engine import DropletEngine
from components.engine import Engine, Release
from components.render.env import app_env

# --------------------------------------------------------------------------- config
cfg = load()
name = f"webstack-{cfg.stack}"
app = cfg.app
load_balanced = app.replicas >= 2

# --------------------------------------------------------------------------- shared cloud resources
secrets = AppSecrets(
    f"{name}-secrets",
    AppSecretsArgs(
        rotations=tuple(
            (n, SecretSpec(length=s.length, alphabet=s.alphabet, rotation=s.rotation)) for n, s in app.secret_specs
        )
    ),
)
# The user's own secrets: plaintext only inside the config reader, Pulumi secrets from here on.
user_secrets = {key: pulumi.Output.secret(value) for key, value in sorted(cfg.user_secret_env.items())}
pull_auth = registry_auth(f"{name}-registry", app.registry, app.image) if app.registry else ()
network = Network(
    name,
    NetworkArgs(
        region=cfg.region,
        vpc_cidr=cfg.vpc_cidr,
        ssh_cidrs=cfg.ssh_trusted_cidrs,
        web_cidrs=cloudflare_ips.ALL,
        load_balanced=load_balanced,
        droplets=cfg.engine == "droplets",
        health_path=app.health_path,
    ),
)
# --------------------------------------------------------------------------- engine
# The app tier's engine: servers and their docker hosts (the Kubernetes engine, chosen by
# `engine` in the config, implements the same seam, components/engine.py).
if cfg.engine == "kubernetes":
    # Imported only here: droplet plans never load the Kubernetes SDK (plan speed).
    from components.kubernetes.engine import KubernetesEngine

    engine: Engine = KubernetesEngine(name, cfg, network, pull_auth)
else:
    engine = DropletEngine(name, cfg, network, pull_auth)
# --------------------------------------------------------------------------- data, TLS, media
# database.mode none: no cluster, no container, no admin step, no dump.
postgres = None
if cfg.database.mode != "none":
    postgres = Postgres(
        f"{name}-db",
        PostgresArgs(
            config=cfg.database,
            region=cfg.region,
            vpc_id=network.vpc.id,
            trusted=engine.trusted,
            protect=cfg.protect,
            runner=engine.data,
        ),
    )
valkey = None
if cfg.valkey.mode != "none":
    valkey = Valkey(
        f"{name}-valkey",
        ValkeyArgs(
            config=cfg.valkey,
            region=cfg.region,
            vpc_id=network.vpc.id,
            trusted=engine.trusted,
            protect=cfg.protect,
            runner=engine.data,
        ),
    )
origin = OriginTls(f"{name}-origin", OriginTlsArgs(hostnames=cfg.served_hostnames))
media = None
if cfg.media.enabled:
    media = Media(
        f"{name}-media",
        MediaArgs(
            bucket_name=cfg.media_bucket_name,
            region=cfg.region,
            cors_origins=cfg.media_cors_origins,
            cors_max_age_seconds=cfg.media.cors_max_age_seconds,
            protect=cfg.protect,
        ),
    )

# --------------------------------------------------------------------------- what the app sees
stack_values = {
    "databaseUrl": postgres.url if postgres else None,
    "directDatabaseUrl": postgres.direct_url if postgres else None,
    "brokerUrl": valkey.broker_url if valkey else None,
    "cacheUrl": valkey.cache_url if valkey else None,
    "mediaBucket": media.bucket.name if media else None,
    "mediaEndpoint": media.endpoint if media else None,
    "mediaRegion": cfg.region if media else None,
    "mediaAccessKeyId": media.access_key if media else None,
    "mediaSecretAccessKey": media.secret_key if media else None,
    "mediaPublicUrl": f"https://{cfg.media.public_hostname}" if media and cfg.media.public_hostname else None,
    # The ACL uploads get (django-storages: AWS_DEFAULT_ACL): public-read where a public
    # hostname serves them, else private (presigned URLs).
    "mediaDefaultAcl": ("public-read" if cfg.media.public_hostname else "private") if media else None,
    # The public hostname alone, for apps that build the URL themselves.
    "mediaHostname": cfg.media.public_hostname if media and cfg.media.public_hostname else None,
    "port": str(app.port),
    "workers": str(app.web_workers),
    # Web's threads; a process's own `threads` in its containers (process_envs below).
    "threads": str(app.web_threads),
}
env_args = dict(
    plain=dict(app.env_vars),
    aliases=dict(app.env_aliases),
    secrets={**secrets.values, **user_secrets},
    web_workers=app.web_workers,
    port=app.port,
)
app_env_lines = app_env(values=stack_values, **env_args)
# The release command (migrations) gets the direct connection under DATABASE_URL.
release_env_lines = app_env(
    values={**stack_values, "databaseUrl": postgres.direct_url if postgres else None}, **env_args
)
# A process that runs its own number of threads gets them as the value `threads`.
process_envs = {
    proc: app_env(values={**stack_values, "threads": str(spec.threads)}, **env_args)
    for proc, spec in sorted(app.processes.items())
    if spec.threads != app.web_threads and "threads" in app.env_aliases.values()
}
# --------------------------------------------------------------------------- edge and DNS
edge = Edge(
    f"{name}-edge",
    EdgeArgs(
        config=cfg.edge,
        domain=cfg.domain,
        hostnames=cfg.served_hostnames,
        target=engine.front_door,
        auth_paths=app.auth_paths,
        origin_pull_cert=origin.pull_cert_pem,
        origin_pull_key=origin.pull_key_pem,
    ),
)

# --------------------------------------------------------------------------- the app, on the engine
engine.deploy(
    Release(
        env=app_env_lines,
        release_env=release_env_lines,
        process_env=process_envs,
        cert_pem=origin.cert_pem,
        key_pem=origin.key_pem,
        client_ca_pem=origin.pull_ca_pem,
        edge_ready=edge.origin_pulls,
    )
)

# --------------------------------------------------------------------------- frontend, monitoring, backups
frontend = None
if cfg.frontend.hostname:
    frontend = Frontend(
        f"{name}-frontend",
        FrontendArgs(
            account_id=cfg.edge.account_id,
            zone_id=edge.zone_id,
            hostname=cfg.frontend.hostname,
            project_name=cfg.frontend_project,
            production_branch=cfg.frontend.production_branch,
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
            thresholds=cfg.monitoring,
            backup_heartbeat_url=heartbeat_url(cfg.offsite_bucket_name, cfg.offsite_region)
            if cfg.backups.enabled
            else None,
        ),
    )

backups = None
if cfg.backups.enabled:
    backups = Backups(
        f"{name}-backups",
        BackupsArgs(
            bucket_name=cfg.bucket_name,
            region=cfg.region,
            offsite_bucket_name=cfg.offsite_bucket_name,
            offsite_region=cfg.offsite_region,
            runner=engine.data,
            pg_host=postgres.host if postgres else None,
            pg_port=postgres.port if postgres else None,
            pg_database=postgres.database if postgres else None,
            pg_user=postgres.user if postgres else None,
            pg_password=postgres.password if postgres else None,
            pg_sslmode="require" if cfg.database.mode == "managed" else "disable",
            retention_days=cfg.backups.retention_days,
            schedule=cfg.backups.schedule,
            heartbeat_days=cfg.backups.stale_after_days,
            image=cfg.backups.image,
            protect=cfg.protect,
            memory_mb=BACKUP_MEMORY_MB,
            volume_memory_mb=VOLUME_BACKUP_MEMORY_MB,
        ),
    )

# --------------------------------------------------------------------------- project and exports
Project(
    name,
    ProjectArgs(
        environment=cfg.environment,
        description=f"webstack {cfg.stack} for {cfg.domain}",
        resources=(
            *engine.project_resources(),
            *([postgres.cluster.cluster_urn] if postgres and postgres.cluster else []),
            *(c.cluster_urn for c in (valkey.clusters if valkey else [])),
            *([backups.bucket.bucket_urn, backups.offsite.bucket_urn] if backups else []),
            *([media.bucket.bucket_urn] if media else []),
            *engine.bucket_resources(),
        ),
    ),
)

pulumi.export("environment", cfg.environment)
pulumi.export("urls", edge.urls)
pulumi.export("frontend_url", frontend.url if frontend else None)
pulumi.export("frontend_project", frontend.project_name if frontend else None)
pulumi.export("vpc_id", network.vpc.id)
pulumi.export("public_ip", engine.front_door)
for key, value in engine.exports().items():
    pulumi.export(key, value)
# For `make exec/logs/ssh` (tools/ops.py), all plain: the background processes' layout, and
# whether a release command (the `migrate` container) runs.
# The job runner (`jobs`, first droplet) counts as a singleton process for `make logs`.
pulumi.export(
    "processes",
    {n: {"count": p.count, "singleton": p.singleton} for n, p in sorted(app.processes.items())}
    | ({"jobs": {"count": 1, "singleton": True}} if app.jobs else {}),
)
pulumi.export("release_command", app.release_command is not None)
pulumi.export("database_host", postgres.host if postgres else None)
pulumi.export("valkey_host", valkey.host if valkey else None)
pulumi.export("backup_bucket", backups.bucket.name if backups else None)
pulumi.export("media_bucket", media.bucket.name if media else None)
pulumi.export("backup_endpoint", backups.endpoint if backups else None)
pulumi.export("backup_offsite_bucket", backups.offsite.name if backups else None)
pulumi.export("backup_offsite_endpoint", backups.offsite_endpoint if backups else None)
pulumi.export("database_url", postgres.url if postgres else None)
pulumi.export("database_direct_url", postgres.direct_url if postgres else None)
# The restore runbook's libpq service file (README, "Restore a dump"): no password on a command line.
pulumi.export(
    "database_restore_service",
    None
    if postgres is None
    else pulumi.Output.secret(
        pulumi.Output.all(postgres.host, postgres.port, postgres.password).apply(
            lambda v: pg_service_file(
                service=RESTORE_SERVICE,
                host=v[0],
                port=v[1],
                dbname=postgres.database,
                user=postgres.user,
                password=v[2],
                sslmode="require" if cfg.database.mode == "managed" else "disable",
            )
        )
    ),
)
pulumi.export("broker_url", valkey.broker_url if valkey else None)
pulumi.export("cache_url", valkey.cache_url if valkey else None)
