"""Backup promises: the dump reaches the database directly (pg_dump cannot work
through a transaction pool) as the app user, writes to the stack's bucket in its region with
the key scoped to it, and dumps are kept as long as config says, in the bucket and by the
dump's own pruning, on the configured schedule."""

from __future__ import annotations

from tests.conftest import recorded_with

BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"
KEY = "digitalocean:index/spacesKey:SpacesKey"


def _staging():
    return recorded_with("staging", {"backups.retentionDays": 30, "backups.schedule": "0 3 * * *"})


def _dump_env(run) -> dict[str, str]:
    (dump,) = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"] == "pg-backup"]
    assert "envs" in dump.secret_paths
    return dict(line.split("=", 1) for line in dump.inputs["envs"])


def test_retention_and_schedule_come_from_config():
    run = _staging()
    (bucket,) = [b for b in run.of_type(BUCKET) if b.name.endswith("-backups-bucket")]
    (rule,) = bucket.inputs["lifecycleRules"]
    assert rule["enabled"] and rule["prefix"] == "postgres/"
    assert rule["expiration"]["days"] == 30 and rule["noncurrentVersionExpiration"]["days"] == 30
    # A dump upload cut off half way is not left to be billed for ever.
    assert rule["abortIncompleteMultipartUploadDays"] == 1
    env = _dump_env(run)
    assert (env["BACKUP_KEEP_DAYS"], env["SCHEDULE"], env["S3_PREFIX"]) == ("30", "0 3 * * *", "postgres")


def test_the_dump_goes_to_the_stacks_bucket_with_its_own_key():
    run = _staging()
    (bucket,) = [b for b in run.of_type(BUCKET) if b.name.endswith("-backups-bucket")]
    region = run.cfg.region
    assert (bucket.inputs["name"], bucket.inputs["region"]) == (run.cfg.bucket_name, region)
    (key,) = [k for k in run.of_type(KEY) if k.name.endswith("-backups-key")]
    # Named for the operator who has to find and revoke it in the control panel.
    assert key.inputs["name"] == "webstack-staging-backups-dumps"
    env = _dump_env(run)
    assert env["S3_BUCKET"] == bucket.inputs["name"]
    assert (env["S3_REGION"], env["S3_ENDPOINT"]) == (region, f"https://{region}.digitaloceanspaces.com")
    assert (env["S3_ACCESS_KEY_ID"], env["S3_SECRET_ACCESS_KEY"]) == (
        key.outputs["accessKey"],
        key.outputs["secretKey"],
    )


def test_the_dump_connects_directly_to_the_database_as_the_app_user():
    run = _staging()
    (cluster,) = [
        c for c in run.of_type("digitalocean:index/databaseCluster:DatabaseCluster") if c.inputs["engine"] == "pg"
    ]
    user = run.one("digitalocean:index/databaseUser:DatabaseUser")
    env = _dump_env(run)
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == (
        cluster.outputs["privateHost"],
        str(cluster.outputs["port"]),
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == (user.inputs["name"], user.outputs["password"])
    assert (env["POSTGRES_DATABASE"], env["PGSSLMODE"]) == ("app", "require")


def test_the_backup_schedulers_come_back_after_a_reboot():
    """Each scheduler is a long-running container with its own cron: `unless-stopped` brings it
    back after a droplet reboot or a crash; without it, backups would silently stop."""
    volume = {"app.replicas": 1, "volume.enabled": True, "backups.enabled": True}
    run = recorded_with("staging", volume)
    schedulers = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"].endswith("-backup")]
    assert sorted(c.inputs["name"] for c in schedulers) == ["pg-backup", "volume-backup"]
    assert all(c.inputs["restart"] == "unless-stopped" for c in schedulers)
