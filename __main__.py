"""webstack: config -> components -> exports. Nothing else lives here."""

import pulumi

from components.cloud.backups import RESTORE_SERVICE, Backups, BackupsArgs, heartbeat_url, pg_service_file
from components.cloud.cache import Valkey, ValkeyArgs
from components.cloud.database import Postgres, PostgresArgs
from components.cloud.edge import Edge, EdgeArgs, RecordSpec
from components.cloud.frontend import Frontend, FrontendArgs
from components.cloud.media import Media, MediaArgs
from components.cloud.monitoring import Monitoring, MonitoringArgs
from components.cloud.network import Network, NetworkArgs
from components.cloud.origin import OriginTls, OriginTlsArgs
from components.cloud.project import Project, ProjectArgs
from components.cloud.registry import registry_auth
from components.cloud.secrets import AppSecrets, AppSecretsArgs, SecretSpec
from components.config import (
    BACKUP_MEMORY_MB,
    JOB_RUNNER_MEMORY_MB,
    LOGSHIP_MEMORY_MB,
    PROBE_MEMORY_MB,
    PROXY_MEMORY_MB,
    VOLUME_BACKUP_MEMORY_MB,
    cloudflare_ips,
    load,
    nginx_spec,
)
from components.droplets.containers import AppContainers, AppContainersArgs
from components.droplets.dockerhost import DockerHost, DockerHostArgs, VolumeMount
from components.droplets.jobs import JobRunner, JobRunnerArgs
from components.droplets.logship import LogShipping, LogShippingArgs
from components.droplets.servers import AppServers, AppServersArgs, VolumeSpec
from components.render.cloudinit import volume_data_dir, volume_scratch_dir
from components.render.cron import JobSpec
from components.render.env import app_env
from components.render.nginx import render_nginx_conf

cfg = load()
name = f"webstack-{cfg.stack}"
app = cfg.app
load_balanced = app.replicas >= 2

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
        reboot_hour=cfg.reboot_window.hour if cfg.reboot_window.enabled else None,
        reserved_ip=network.reserved_ip,
        volume=VolumeSpec(name=cfg.volume_name, size_gb=cfg.volume.size_gb, owner=cfg.volume.owner, protect=cfg.protect)
        if cfg.volume.enabled
        else None,
    ),
)
volume_mount = (
    VolumeMount(host_path=volume_data_dir(cfg.volume_name), path=cfg.volume.path, users=cfg.volume_users)
    if cfg.volume.enabled
    else None
)
hosts = [
    DockerHost(
        f"{name}-host-{i}",
        # After readiness and the key sync: docker never runs with a removed key still in place.
        DockerHostArgs(address=droplet.ipv4_address, droplet_id=droplet.id, ready=keys, registry_auth=pull_auth),
    )
    for i, (droplet, keys) in enumerate(zip(servers.droplets, servers.keys, strict=True))
]
# database.mode none: no cluster, no container, no admin step, no dump.
postgres = None
if cfg.database.mode != "none":
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
            extensions=cfg.database.extensions,
            runtime_role=cfg.database.runtime_role,
        ),
    )
valkey = None
if cfg.valkey.mode != "none":
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
            cache_size=cfg.valkey.cache_size_slug,
            protect=cfg.protect,
            docker_host=hosts[0],
            container_image=cfg.valkey.container_image,
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
edge = Edge(
    f"{name}-edge",
    EdgeArgs(
        domain=cfg.domain,
        hostnames=cfg.served_hostnames,
        target=network.public_ip,
        zone_id=cfg.edge.zone_id,
        import_rate_limit=cfg.edge.import_rate_limit,
        import_records=cfg.edge.import_records,
        records=tuple(
            RecordSpec(
                name=r.name,
                type=r.type,
                key=r.key(),
                content=r.value(),
                data=r.data(),
                priority=r.priority,
                ttl=r.ttl,
                proxied=r.proxied,
                import_id=r.import_,
            )
            for r in cfg.edge.records
        ),
        manage_zone_settings=cfg.edge.manage_zone_settings,
        hsts_max_age=cfg.edge.hsts_max_age,
        auth_paths=app.auth_paths,
        rate_limit_requests=cfg.edge.rate_limit_requests,
        rate_limit_period=cfg.edge.rate_limit_period,
        rate_limit_timeout=cfg.edge.rate_limit_timeout,
        origin_pull_cert=origin.pull_cert_pem,
        origin_pull_key=origin.pull_key_pem,
    ),
)

# Behind the load balancer every connection opens with a PROXY protocol header (network.py).
nginx_conf = render_nginx_conf(nginx_spec(cfg, proxy_protocol=load_balanced))
containers: list[AppContainers] = []
for i, host in enumerate(hosts):
    first = containers[0] if containers else None
    previous = containers[-1] if containers else None
    containers.append(
        AppContainers(
            f"{name}-app-{i}",
            AppContainersArgs(
                host=host,
                address=servers.addresses[i],
                image=app.image,
                proxy_image=cfg.proxy.image,
                env=app_env_lines,
                release_env=release_env_lines,
                process_env=process_envs,
                nginx_conf=nginx_conf,
                cert_pem=origin.cert_pem,
                key_pem=origin.key_pem,
                client_ca_pem=origin.pull_ca_pem,
                web_command=app.web_command,
                web_memory_mb=app.web_memory_mb,
                web_stop_seconds=app.web_stop_seconds,
                processes=tuple(sorted(app.processes.items())),
                release_command=app.release_command,
                port=app.port,
                health_path=app.health_path,
                health_status=app.health_status,
                health_host=app.hostnames[0],
                proxy_memory_mb=PROXY_MEMORY_MB,
                probe_memory_mb=PROBE_MEMORY_MB,
                first=first is None,
                release_gate=first.release_gate if first else None,
                release_resource=first.migrate if first else None,
                rollout_after=previous.rolled_out if previous else (),
                rollout_gate=previous.healthy if previous else None,
                volume=volume_mount,
                app_caps=app.capabilities,
                read_only_root=app.read_only_root,
                # nginx asks for the client certificate only once Cloudflare has it, and a new
                # conf reaches one droplet at a time.
                proxy_after=(*edge.origin_pulls, *([previous.proxy] if previous else [])),
            ),
        )
    )

if app.jobs:
    JobRunner(
        f"{name}-jobs",
        JobRunnerArgs(
            host=hosts[0],
            jobs=tuple(
                JobSpec(name=job, schedule=spec.schedule, command=spec.command, memory_mb=spec.memory_mb)
                for job, spec in sorted(app.jobs.items())
            ),
            app_image_id=containers[0].released_image,
            env=app_env_lines,
            stack=cfg.stack,
            alert_url=cfg.slack_webhook_url,
            memory_mb=JOB_RUNNER_MEMORY_MB,
            after=(containers[0].promote,),
            volume=volume_mount.volumes("jobs") if volume_mount else (),
            app_caps=app.capabilities,
            read_only_root=app.read_only_root,
        ),
    )

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
            slack_channel=cfg.monitoring.slack_channel,
            cpu_percent=cfg.monitoring.cpu_percent,
            memory_percent=cfg.monitoring.memory_percent,
            disk_percent=cfg.monitoring.disk_percent,
            window=cfg.monitoring.window,
            latency_ms=cfg.monitoring.latency_ms,
            ssl_expiry_days=cfg.monitoring.ssl_expiry_days,
            backup_heartbeat_url=heartbeat_url(cfg.offsite_bucket_name, cfg.offsite_region)
            if cfg.backups.enabled
            else None,
        ),
    )

logs = None
if cfg.logs.enabled:
    logs = LogShipping(
        f"{name}-logs",
        LogShippingArgs(
            bucket_name=cfg.logs_bucket_name,
            region=cfg.region,
            hosts=tuple(hosts),
            retention_days=cfg.logs.retention_days,
            image=cfg.logs.image,
            memory_mb=LOGSHIP_MEMORY_MB,
            protect=cfg.protect,
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
            docker_host=hosts[0],
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
            volume_path=volume_mount.host_path if volume_mount else None,
            volume_scratch=volume_scratch_dir(cfg.volume_name) if cfg.volume.enabled else None,
            volume_memory_mb=VOLUME_BACKUP_MEMORY_MB,
        ),
    )

# The API lists a reserved IP in a project as do:floatingip:<ip>, whatever URN the resource
# reports; sending that form keeps the next `pulumi up` from trying to move it (provider
# issues #1031, #1264).
front_door = (
    network.load_balancer.load_balancer_urn
    if network.load_balancer
    else pulumi.Output.concat("do:floatingip:", network.reserved_ip.ip_address)
)
Project(
    name,
    ProjectArgs(
        environment=cfg.environment,
        description=f"webstack {cfg.stack} for {cfg.domain}",
        resources=(
            *(d.droplet_urn for d in servers.droplets),
            *([servers.volume.volume_urn] if servers.volume else []),
            front_door,
            *([postgres.cluster.cluster_urn] if postgres and postgres.cluster else []),
            *(c.cluster_urn for c in (valkey.clusters if valkey else [])),
            *([backups.bucket.bucket_urn, backups.offsite.bucket_urn] if backups else []),
            *([media.bucket.bucket_urn] if media else []),
            *([logs.bucket.bucket_urn] if logs else []),
        ),
    ),
)

pulumi.export("environment", cfg.environment)
pulumi.export("urls", edge.urls)
pulumi.export("frontend_url", frontend.url if frontend else None)
pulumi.export("frontend_project", frontend.project_name if frontend else None)
pulumi.export("vpc_id", network.vpc.id)
pulumi.export("public_ip", network.public_ip)
pulumi.export("front_door", "load balancer" if load_balanced else "reserved IP")
pulumi.export("droplet_ips", servers.addresses)
pulumi.export("ssh", [pulumi.Output.concat("ssh deploy@", address) for address in servers.addresses])
# For `make exec/logs/ssh` (tools/ops.py), all plain: droplet ids (known_hosts file, docker
# network and label per droplet, in droplet_ips order), the background processes' layout, and
# whether a release command (the `migrate` container) runs.
pulumi.export("droplet_ids", [droplet.id for droplet in servers.droplets])
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
pulumi.export("logs_bucket", logs.bucket.name if logs else None)
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
