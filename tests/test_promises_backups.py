"""Backup promises (issue 11): dumps are kept as long as config says, in the bucket and by the
dump's own pruning (the dumps under the prefix the expiry applies to), and run on the
configured schedule."""

from __future__ import annotations

from tests.conftest import recorded_with

BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"


def test_retention_and_schedule_come_from_config():
    run = recorded_with("staging", {"backups.retentionDays": 30, "backups.schedule": "0 3 * * *"})
    (bucket,) = [b for b in run.of_type(BUCKET) if b.name.endswith("-backups-bucket")]
    (rule,) = bucket.inputs["lifecycleRules"]
    assert rule["enabled"] and rule["prefix"] == "postgres/"
    assert rule["expiration"]["days"] == 30 and rule["noncurrentVersionExpiration"]["days"] == 30
    (dump,) = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"] == "pg-backup"]
    env = dict(line.split("=", 1) for line in dump.inputs["envs"])
    assert (env["BACKUP_KEEP_DAYS"], env["SCHEDULE"], env["S3_PREFIX"]) == ("30", "0 3 * * *", "postgres")
    assert env["S3_BUCKET"] == bucket.inputs["name"] == run.cfg.bucket_name
