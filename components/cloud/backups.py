"""Backups: a private, versioned Spaces bucket with expiry, a key scoped to it, and a
scheduled logical dump of Postgres into it, so a copy exists outside DigitalOcean's PITR; a
second bucket in another region holding a copy of every dump and volume archive; and the
heartbeat each complete run leaves there for the backup alert (components/cloud/monitoring.py).

What Spaces offers decides the shape. A key is limited to a bucket with `read`, `readwrite`
(read, write and delete) or `fullaccess`: there is no write-only grant; Spaces has no Object
Lock, no replication and no cross-region copy; a bucket policy that could deny deletes is
refused on a bucket a limited key is scoped to. So the dump container holds a key that can
delete in each bucket, and what protects the copies from it is versioning: a deleted or
overwritten object stays recoverable for `retention_days` (the README says what that does
not cover).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

from components.cloud.runner import DataRunner, File
from components.cloud.spaces import private_bucket, scoped_key

DUMP_PREFIX = "postgres"
VOLUME_PREFIX = "volume"
HEARTBEAT_PREFIX = "heartbeat"
# Written (public-read, a UTC time and nothing else) after each complete run; the off-site
# bucket's lifecycle expires it, and the uptime check on its URL then fails.
HEARTBEAT_KEY = f"{HEARTBEAT_PREFIX}/backups"
# Archives a directory to S3 on a cron schedule (a tar.gz written whole to its /tmp, then
# uploaded: cmd/backup/script.go), pinned by tag only: no public source gives its digest to check.
VOLUME_BACKUP_IMAGE = "offen/docker-volume-backup:v2.43.3"
# The service the restore runbook connects to (`pg_restore -d service=webstack`).
RESTORE_SERVICE = "webstack"
# The dump container's own files: the run script go-cron calls, and the aws CLI's settings.
RUN_SCRIPT = "/webstack/backup.sh"
AWS_CONFIG = "/webstack/aws-config"
# Streamed copies hold about ten parts in memory per direction (s3transfer's in-memory chunk
# limit): small parts and two requests at a time keep the copy inside the container's limit.
AWS_CONFIG_TEXT = "[default]\ns3 =\n  max_concurrent_requests = 2\n  multipart_chunksize = 5MB\n"


def render_run_script(prefixes: tuple[str, ...], image_dir: str = "/", dump: bool = True) -> str:
    """One scheduled run: the image's own backup.sh (pg_dump, upload to the stack's bucket,
    pruning; not with `dump` False, a stack without Postgres), then a copy of every object
    under `prefixes` that the off-site bucket lacks, then the heartbeat. Any failure ends the
    run before the heartbeat. `image_dir` holds the image's scripts (/, where its Dockerfile
    adds them)."""
    listed = " ".join(shlex.quote(p) for p in prefixes)
    return "\n".join(
        [
            "#!/bin/sh",
            "# Rendered by webstack (components/cloud/backups.py): one run of the backups, on backups.schedule.",
            "set -eu",
            "set -o pipefail",
            "# backup.sh reads ./env.sh.",
            f"cd {shlex.quote(image_dir)}",
            "TAB=$(printf '\\t')",
            "NL='",
            "'",
            "primary() {",
            '  AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$S3_SECRET_ACCESS_KEY" \\',
            '    AWS_DEFAULT_REGION="$S3_REGION" aws --endpoint-url "$S3_ENDPOINT" "$@"',
            "}",
            "offsite() {",
            '  AWS_ACCESS_KEY_ID="$OFFSITE_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$OFFSITE_SECRET_ACCESS_KEY" \\',
            '    AWS_DEFAULT_REGION="$OFFSITE_REGION" aws --endpoint-url "$OFFSITE_ENDPOINT" "$@"',
            "}",
            "# key<TAB>size per line under a prefix; the CLI prints None for an empty listing.",
            "listing() {",
            '  "$1" s3api list-objects-v2 --bucket "$2" --prefix "$3/" --query \'Contents[].[Key,Size]\' --output text',
            "}",
            "sh backup.sh" if dump else "# No database (database.mode none): the volume archive is the backup.",
            f"for prefix in {listed}; do",
            '  want=$(listing primary "$S3_BUCKET" "$prefix")',
            '  have=$(listing offsite "$OFFSITE_BUCKET" "$prefix" | cut -f1)',
            '  while IFS="$TAB" read -r key size; do',
            "    case \"$key\" in ''|None) continue ;; esac",
            '    case "$NL$have$NL" in *"$NL$key$NL"*) continue ;; esac',
            '    echo "webstack backup: copying $key off-site"',
            '    primary s3 cp "s3://$S3_BUCKET/$key" - |',
            '      offsite s3 cp - "s3://$OFFSITE_BUCKET/$key" --expected-size "$size"',
            "  done <<EOF",
            "$want",
            "EOF",
            "done",
            "date -u +%Y-%m-%dT%H:%M:%SZ |",
            f'  offsite s3 cp - "s3://$OFFSITE_BUCKET/{HEARTBEAT_KEY}" --acl public-read --content-type text/plain',
            'echo "webstack backup: complete; heartbeat written"',
            "",
        ]
    )


def heartbeat_url(offsite_bucket_name: str, offsite_region: str) -> str:
    """Where the heartbeat of the backups is public (the backup alert's uptime check)."""
    return f"https://{offsite_bucket_name}.{offsite_region}.digitaloceanspaces.com/{HEARTBEAT_KEY}"


def pg_service_file(*, service: str, host: str, port: int, dbname: str, user: str, password: str, sslmode: str) -> str:
    """A libpq connection service file with one service: what the restore runbook hands
    pg_restore through PGSERVICEFILE, so no password is on its command line. libpq reads each
    line as key=value to its end, with the surrounding blanks trimmed."""
    values = {"host": host, "port": str(port), "dbname": dbname, "user": user, "password": password, "sslmode": sslmode}
    for key, value in values.items():
        if not value or value != value.strip() or "\n" in value or "\r" in value:
            raise ValueError(f"{key}: a service file cannot hold {value!r} (empty, blank-edged or multi-line)")
    return f"[{service}]\n" + "".join(f"{key}={value}\n" for key, value in values.items())


# Both run as root (the dump image writes its dump into / : backup.sh `> db.dump` with no
# WORKDIR), with no capability beyond reading what they archive: the archiver reads files of
# any owner on the volume, which it mounts read-only, with DAC_OVERRIDE (capabilities(7): it
# bypasses read, write and execute checks; of the two capabilities that bypass reads it is the
# Baseline's, and Docker's seccomp profile admits open_by_handle_at only to DAC_READ_SEARCH);
# the dump only talks to the network.
DUMP_CAPS: tuple[str, ...] = ()
VOLUME_BACKUP_CAPS = ("DAC_OVERRIDE",)


@dataclass(frozen=True, kw_only=True)
class BackupsArgs:
    bucket_name: str
    """Spaces bucket name, unique in the region; no default (derived from domain and stack)."""
    region: str
    """Spaces region; no default (config `region`)."""
    offsite_bucket_name: str
    """The off-site copy's bucket; no default (derived from domain and stack)."""
    offsite_region: str
    """Its Spaces region, not `region`; no default (config `backups.offsiteRegion`)."""
    runner: DataRunner
    """Where the dump and the volume archiver run (the engine); no default."""
    pg_host: pulumi.Input[str] | None
    """Postgres host the dump connects to directly (not through the pool); None: no database
    (database.mode none), no dump, the volume archive is the backup; no default."""
    pg_port: pulumi.Input[int] | None
    """Its port; no default."""
    pg_database: str | None
    """Database to dump; no default."""
    pg_user: str | None
    """User to dump as; no default."""
    pg_password: pulumi.Input[str] | None
    """Its password (secret); no default."""
    pg_sslmode: str = "require"
    """libpq sslmode; default require (managed), `disable` for the container on the docker network."""
    retention_days: int = 7
    """Days a dump is kept, in both buckets' lifecycle and the dump job; default 7 (prod sets 30)."""
    schedule: str = "@daily"
    """Cron schedule of the dump; default @daily."""
    heartbeat_days: int = 2
    """Days the heartbeat outlives its run, the backup alert's delay; default 2 (config: the
    schedule's longest gap plus a day)."""
    image: str = "eeshugerman/postgres-backup-s3:17"
    """Pinned dump image; default eeshugerman/postgres-backup-s3:17."""
    protect: bool = False
    """Protect the buckets and never force_destroy them; default False (config `protect`)."""
    memory_mb: int = 256
    """Memory limit of the dump container; default 256 (components/config/sizing.py BACKUP_MEMORY_MB)."""
    volume_memory_mb: int = 128
    """Memory limit of the volume archiver; default 128 (VOLUME_BACKUP_MEMORY_MB)."""


def _expiry(what: str, prefix: str, days: int, noncurrent_days: int) -> do.SpacesBucketLifecycleRuleArgs:
    """Objects under `prefix` expire after `days`; a replaced or deleted one is kept `noncurrent_days`."""
    return do.SpacesBucketLifecycleRuleArgs(
        id=f"expire-{what}",
        enabled=True,
        prefix=f"{prefix}/",
        expiration=do.SpacesBucketLifecycleRuleExpirationArgs(days=days),
        noncurrent_version_expiration=do.SpacesBucketLifecycleRuleNoncurrentVersionExpirationArgs(days=noncurrent_days),
        abort_incomplete_multipart_upload_days=1,
    )


class Backups(pulumi.ComponentResource):
    """Outputs `bucket` and `endpoint`, `offsite` and `offsite_endpoint`, and `heartbeat_url`.
    Each bucket has its own key that may read and write it only; both secrets reach the dump
    container as secret env vars."""

    bucket: do.SpacesBucket
    endpoint: str
    offsite: do.SpacesBucket
    offsite_endpoint: str
    heartbeat_url: str

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:backups:Backups", name, None, opts)
        if args.offsite_region == args.region:
            raise ValueError("offsite_region must differ from region: the copy must outlive the region")
        self.endpoint = f"https://{args.region}.digitaloceanspaces.com"
        self.offsite_endpoint = f"https://{args.offsite_region}.digitaloceanspaces.com"
        self.heartbeat_url = heartbeat_url(args.offsite_bucket_name, args.offsite_region)
        dump = args.pg_host is not None
        prefixes = ((DUMP_PREFIX,) if dump else ()) + ((VOLUME_PREFIX,) if args.runner.volume_archived else ())
        if not prefixes:
            raise ValueError("nothing to back up: no database (pg_host None) and no volume archived")
        names = {DUMP_PREFIX: "dumps", VOLUME_PREFIX: "volume"}
        kept = [_expiry(names[p], p, args.retention_days, args.retention_days) for p in prefixes]
        # Disposable stacks empty the bucket on destroy; a protected one never does.
        self.bucket = private_bucket(
            f"{name}-bucket",
            parent=self,
            name=args.bucket_name,
            region=args.region,
            lifecycle_rules=kept,
            protect=args.protect,
        )
        # The copies live as long as the originals; the heartbeat `heartbeat_days`, its old
        # versions a day.
        self.offsite = private_bucket(
            f"{name}-offsite",
            parent=self,
            name=args.offsite_bucket_name,
            region=args.offsite_region,
            lifecycle_rules=[*kept, _expiry("heartbeat", HEARTBEAT_PREFIX, args.heartbeat_days, 1)],
            protect=args.protect,
        )
        key = scoped_key(f"{name}-key", f"{name}-dumps", self.bucket, self)
        offsite_key = scoped_key(f"{name}-offsite-key", f"{name}-offsite", self.offsite, self)

        def pg_env(host, port, password) -> list[str]:
            return [
                f"POSTGRES_HOST={host}",
                f"POSTGRES_PORT={port}",
                f"POSTGRES_DATABASE={args.pg_database}",
                f"POSTGRES_USER={args.pg_user}",
                f"POSTGRES_PASSWORD={password}",
                f"PGSSLMODE={args.pg_sslmode}",
            ]

        env = pulumi.Output.all(
            key.access_key,
            key.secret_key,
            args.pg_host if dump else "",
            args.pg_port if dump else "",
            args.pg_password if dump else "",
            self.bucket.name,
            offsite_key.access_key,
            offsite_key.secret_key,
            self.offsite.name,
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
                f"OFFSITE_REGION={args.offsite_region}",
                f"OFFSITE_ENDPOINT={self.offsite_endpoint}",
                f"OFFSITE_BUCKET={v[8]}",
                f"OFFSITE_ACCESS_KEY_ID={v[6]}",
                f"OFFSITE_SECRET_ACCESS_KEY={v[7]}",
                f"AWS_CONFIG_FILE={AWS_CONFIG}",
                *(pg_env(v[2], v[3], v[4]) if dump else []),
            ]
        )
        args.runner.scheduled(
            self, f"{name}-dump", f"{name}-image", image=args.image, role="pg-backup", memory_mb=args.memory_mb,
            env=env,
            # The image's own run.sh would call its backup.sh alone (go-cron is in the image).
            command=["/bin/sh", "-c", f'exec go-cron "$SCHEDULE" /bin/sh {RUN_SCRIPT}'],
            files=[
                File(RUN_SCRIPT, render_run_script(prefixes, dump=dump), executable=True),
                File(AWS_CONFIG, AWS_CONFIG_TEXT),
            ],
            caps=DUMP_CAPS,
        )  # fmt: skip
        if args.runner.volume_archived:
            self._volume_archiver(name, args, key)
        self.register_outputs(
            {
                "bucket": self.bucket.name,
                "endpoint": self.endpoint,
                "offsite": self.offsite.name,
                "offsite_endpoint": self.offsite_endpoint,
                "heartbeat_url": self.heartbeat_url,
            }
        )

    def _volume_archiver(self, name: str, args: BackupsArgs, key: do.SpacesKey) -> None:
        """The volume, read-only, archived (tar.gz) to <bucket>/volume/ on the dumps' schedule;
        the bucket's lifecycle expires the archives after `retention_days`, and the dump's next
        run copies each new one off-site."""
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
        # The volume read-only, and scratch space for the archive on the volume, never the root disk.
        args.runner.scheduled(
            self, f"{name}-volume", f"{name}-volume-image", image=VOLUME_BACKUP_IMAGE, role="volume-backup",
            memory_mb=args.volume_memory_mb, env=env, caps=VOLUME_BACKUP_CAPS, read_volume=True,
        )  # fmt: skip
