"""Backups: a private, versioned Spaces bucket with expiry, a key scoped to it, and a
scheduled logical dump of Postgres into it, so a copy exists outside DigitalOcean's PITR."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do
import pulumi_docker as docker

from components.dockerhost import DockerHost
from components.spaces import scoped_key

DUMP_PREFIX = "postgres"
VOLUME_PREFIX = "volume"
# Archives a directory to S3 on a cron schedule (a tar.gz written whole to its /tmp, then
# uploaded: cmd/backup/script.go), pinned by tag only: no public source gives its digest to check.
VOLUME_BACKUP_IMAGE = "offen/docker-volume-backup:v2.43.3"
# Both run as root (the dump image writes its dump into / : backup.sh `> db.dump` with no
# WORKDIR), with no capability beyond reading what they archive: the archiver reads files of
# any owner on the volume (DAC_READ_SEARCH), the dump only talks to the network.
DUMP_CAPS: tuple[str, ...] = ()
VOLUME_BACKUP_CAPS = ("DAC_READ_SEARCH",)


@dataclass(frozen=True, kw_only=True)
class BackupsArgs:
    bucket_name: str
    """Spaces bucket name, unique in the region; no default (derived from domain and stack)."""
    region: str
    """Spaces region; no default (config `region`)."""
    docker_host: DockerHost
    """Host that runs the dump container (the first droplet); no default."""
    pg_host: pulumi.Input[str]
    """Postgres host the dump connects to directly (not through the pool); no default."""
    pg_port: pulumi.Input[int]
    """Its port; no default."""
    pg_database: str
    """Database to dump; no default."""
    pg_user: str
    """User to dump as; no default."""
    pg_password: pulumi.Input[str]
    """Its password (secret); no default."""
    pg_sslmode: str = "require"
    """libpq sslmode; default require (managed), `disable` for the container on the docker network."""
    retention_days: int = 7
    """Days a dump is kept, in the bucket's lifecycle and the dump job; default 7 (prod sets 30)."""
    schedule: str = "@daily"
    """Cron schedule of the dump; default @daily."""
    image: str = "eeshugerman/postgres-backup-s3:17"
    """Pinned dump image; default eeshugerman/postgres-backup-s3:17."""
    protect: bool = False
    """Protect the bucket and never force_destroy it; default False (config `protect`)."""
    memory_mb: int = 256
    """Memory limit of the dump container; default 256 (components/config.py BACKUP_MEMORY_MB)."""
    volume_path: str | None = None
    """The data directory on the droplet's volume to archive under volume/ on `schedule`; default None."""
    volume_scratch: str | None = None
    """A directory on the volume, outside volume_path, for the archive before its upload; default None."""
    volume_memory_mb: int = 128
    """Memory limit of the volume archiver; default 128 (VOLUME_BACKUP_MEMORY_MB)."""


class Backups(pulumi.ComponentResource):
    """Outputs `bucket` (name) and `endpoint`. The Spaces key may read and write this bucket
    only; its secret reaches the dump container as a secret env var."""

    bucket: do.SpacesBucket
    endpoint: str

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:backups:Backups", name, None, opts)
        self.endpoint = f"https://{args.region}.digitaloceanspaces.com"
        self.bucket = do.SpacesBucket(
            f"{name}-bucket",
            name=args.bucket_name,
            region=args.region,
            acl="private",
            versioning=do.SpacesBucketVersioningArgs(enabled=True),
            lifecycle_rules=[
                do.SpacesBucketLifecycleRuleArgs(
                    id=f"expire-{what}",
                    enabled=True,
                    prefix=f"{prefix}/",
                    expiration=do.SpacesBucketLifecycleRuleExpirationArgs(days=args.retention_days),
                    noncurrent_version_expiration=do.SpacesBucketLifecycleRuleNoncurrentVersionExpirationArgs(
                        days=args.retention_days
                    ),
                    abort_incomplete_multipart_upload_days=1,
                )
                for what, prefix in (("dumps", DUMP_PREFIX), ("volume", VOLUME_PREFIX))
                if what == "dumps" or args.volume_path
            ],
            # Disposable stacks empty the bucket on destroy; a protected one never does.
            force_destroy=not args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        key = scoped_key(f"{name}-key", f"{name}-dumps", self.bucket, self)
        env = pulumi.Output.all(
            key.access_key, key.secret_key, args.pg_host, args.pg_port, args.pg_password, self.bucket.name
        ).apply(
            lambda v: [
                f"SCHEDULE={args.schedule}",
                f"BACKUP_KEEP_DAYS={args.retention_days}",
                f"S3_REGION={args.region}",
                f"S3_ENDPOINT={self.endpoint}",
                f"S3_BUCKET={v[5]}",
                f"S3_PREFIX={DUMP_PREFIX}",
                f"S3_ACCESS_KEY_ID={v[0]}",
                f"S3_SECRET_ACCESS_KEY={v[1]}",
                f"POSTGRES_HOST={v[2]}",
                f"POSTGRES_PORT={v[3]}",
                f"POSTGRES_DATABASE={args.pg_database}",
                f"POSTGRES_USER={args.pg_user}",
                f"POSTGRES_PASSWORD={v[4]}",
                f"PGSSLMODE={args.pg_sslmode}",
            ]
        )
        self._scheduler(
            args.docker_host, f"{name}-dump", f"{name}-image", args.image, "pg-backup", args.memory_mb, env,
            caps=DUMP_CAPS,
        )  # fmt: skip
        if args.volume_path:
            if not args.volume_scratch:
                raise ValueError("volume_path needs volume_scratch: the archive must not land on the root disk")
            self._volume_archiver(name, args, key)
        self.register_outputs({"bucket": self.bucket.name, "endpoint": self.endpoint})

    def _scheduler(
        self, host: DockerHost, resource: str, image_resource: str, image: str, container: str, memory_mb: int, env,
        **extra,
    ) -> None:  # fmt: skip
        """A container that runs its own schedule, from a pinned image, its env a secret."""
        pulled = host.image(image_resource, image, self)
        host.container(
            resource,
            parent=self,
            memory_mb=memory_mb,
            name=container,
            image=pulled.image_id,
            envs=pulumi.Output.secret(env),
            restart="unless-stopped",
            **extra,
        )

    def _volume_archiver(self, name: str, args: BackupsArgs, key: do.SpacesKey) -> None:
        """The volume, read-only, archived (tar.gz) to <bucket>/volume/ on the dumps' schedule;
        the bucket's lifecycle expires the archives after `retention_days`."""
        env = pulumi.Output.all(key.access_key, key.secret_key, self.bucket.name).apply(
            lambda v: [
                f"BACKUP_CRON_EXPRESSION={args.schedule}",
                f"AWS_ENDPOINT={args.region}.digitaloceanspaces.com",
                f"AWS_S3_BUCKET_NAME={v[2]}",
                f"AWS_S3_PATH={VOLUME_PREFIX}",
                f"AWS_ACCESS_KEY_ID={v[0]}",
                f"AWS_SECRET_ACCESS_KEY={v[1]}",
            ]
        )
        source = docker.ContainerVolumeArgs(host_path=args.volume_path, container_path="/backup/volume", read_only=True)
        # The archive is as large as the data: on the volume, never on the droplet's root disk.
        scratch = docker.ContainerVolumeArgs(host_path=args.volume_scratch, container_path="/tmp")
        self._scheduler(
            args.docker_host, f"{name}-volume", f"{name}-volume-image", VOLUME_BACKUP_IMAGE, "volume-backup",
            args.volume_memory_mb, env, volumes=[source, scratch], caps=VOLUME_BACKUP_CAPS,
        )  # fmt: skip
