"""Backups that survive their droplet and their region, and an alert when they stop.

Each dump (and volume archive) is copied to a second bucket in another Spaces region, through
a key of its own; each complete run then rewrites a heartbeat there that the off-site bucket's
lifecycle expires, and a DigitalOcean uptime check on it alerts when it is gone. The run
script is run for real under busybox sh (the image is Alpine's) with a stand-in `aws`
(tests/fake_aws.py) whose buckets answer only to their own keys.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.cloud import backups
from components.config import BackupsConfig, ConfigError
from components.config.ops import OFFSITE_REGIONS, schedule_gap_minutes
from testing import harness
from tests import fake_aws
from tests.conftest import STACKS, recorded, recorded_with
from tests.graph.test_volume import ON, SINGLE

BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"
KEY = "digitalocean:index/spacesKey:SpacesKey"
CHECK = "digitalocean:index/uptimeCheck:UptimeCheck"
UPTIME_ALERT = "digitalocean:index/uptimeAlert:UptimeAlert"
CONTAINER = "docker:index/container:Container"
BACKED_UP = [s for s in STACKS if harness.parsed_config(s).backups.enabled]  # config only: no run at collection
# The recordings other test files make too (a run is cached per session and overrides).
VOLUME = {**SINGLE, "volume": ON}
# Another off-site region, and monitoring off: one recording for both tests.
ELSEWHERE_QUIET = {"backups.offsiteRegion": "ams3", "monitoring.enabled": False}


def _named(run: harness.Run, type_: str, suffix: str) -> harness.Resource:
    (found,) = [r for r in run.of_type(type_) if r.name.endswith(suffix)]
    return found


def _dump(run: harness.Run) -> harness.Resource:
    (dump,) = [c for c in run.of_type(CONTAINER) if c.inputs["name"] == "pg-backup"]
    return dump


def _env(run: harness.Run) -> dict[str, str]:
    return dict(line.split("=", 1) for line in _dump(run).inputs["envs"])


# ------------------------------------------------------------------------------ the resources


@pytest.mark.parametrize("stack", BACKED_UP)
def test_every_dump_has_a_versioned_copy_in_another_region_kept_as_long(stack):
    run = recorded(stack)
    primary, offsite = _named(run, BUCKET, "-backups-bucket"), _named(run, BUCKET, "-backups-offsite")
    assert offsite.inputs["region"] == OFFSITE_REGIONS[run.cfg.region] != primary.inputs["region"]
    assert offsite.inputs["name"] == run.cfg.offsite_bucket_name
    assert (offsite.inputs["acl"], offsite.inputs["versioning"]) == ("private", {"enabled": True})
    rules = {r["prefix"]: r for r in offsite.inputs["lifecycleRules"]}
    days = run.cfg.backups.retention_days
    # A copy lives as long as its original, and one deleted or overwritten through the key on
    # the droplet stays recoverable (a noncurrent version) as long again.
    assert rules["postgres/"] == next(r for r in primary.inputs["lifecycleRules"] if r["prefix"] == "postgres/")
    assert rules["postgres/"]["noncurrentVersionExpiration"]["days"] == days
    assert rules["heartbeat/"]["expiration"]["days"] == run.cfg.backups.stale_after_days
    # The copy is data: protected with the stack, never emptied by a destroy of prod.
    assert (offsite.protect, offsite.inputs["forceDestroy"]) == (run.cfg.protect, not run.cfg.protect)
    assert offsite.replace_on_changes == ["name"]


def test_the_volume_archives_are_copied_and_kept_like_the_dumps():
    run = recorded_with("staging", VOLUME)
    offsite = _named(run, BUCKET, "-backups-offsite")
    assert {r["prefix"] for r in offsite.inputs["lifecycleRules"]} == {"postgres/", "volume/", "heartbeat/"}
    script = next(u["content"] for u in _dump(run).inputs["uploads"] if u["file"] == backups.RUN_SCRIPT)
    assert "for prefix in postgres volume; do" in script


@pytest.mark.parametrize("stack", BACKED_UP)
def test_each_bucket_has_its_own_key_and_the_dump_holds_both_as_secrets(stack):
    run = recorded(stack)
    offsite = _named(run, BUCKET, "-backups-offsite")
    key, offsite_key = _named(run, KEY, "-backups-key"), _named(run, KEY, "-backups-offsite-key")
    assert offsite_key.inputs["grants"] == [{"bucket": offsite.inputs["name"], "permission": "readwrite"}]
    assert key.inputs["grants"][0]["bucket"] != offsite.inputs["name"]
    env = _env(run)
    assert "envs" in _dump(run).secret_paths
    assert (env["OFFSITE_ACCESS_KEY_ID"], env["OFFSITE_SECRET_ACCESS_KEY"]) == (
        offsite_key.outputs["accessKey"],
        offsite_key.outputs["secretKey"],
    )
    region = offsite.inputs["region"]
    assert (env["OFFSITE_BUCKET"], env["OFFSITE_REGION"]) == (offsite.inputs["name"], region)
    assert env["OFFSITE_ENDPOINT"] == f"https://{region}.digitaloceanspaces.com"


@pytest.mark.parametrize("stack", BACKED_UP)
def test_the_dump_runs_the_webstack_script_on_the_schedule_with_its_files(stack):
    run = recorded(stack)
    dump, env = _dump(run), _env(run)
    assert dump.inputs["command"] == ["/bin/sh", "-c", f'exec go-cron "$SCHEDULE" /bin/sh {backups.RUN_SCRIPT}']
    assert env["SCHEDULE"] == run.cfg.backups.schedule
    files = {u["file"]: u for u in dump.inputs["uploads"]}
    assert files[backups.RUN_SCRIPT]["executable"] and env["AWS_CONFIG_FILE"] in files


def test_the_offsite_region_is_configurable_and_never_the_stacks_own():
    run = recorded_with("staging", ELSEWHERE_QUIET)
    assert _named(run, BUCKET, "-backups-offsite").inputs["region"] == "ams3"
    with pytest.raises(ConfigError) as err:
        harness.run("staging", {"backups.offsiteRegion": "nyc3"})
    assert "webstack:backups.offsiteRegion = 'nyc3': must be a Spaces region other than `region`" in str(err.value)
    with pytest.raises(ConfigError) as err:
        harness.run("staging", {"backups.offsiteRegion": "nyc1"})
    assert "webstack:backups.offsiteRegion = 'nyc1'" in str(err.value)


@pytest.mark.parametrize(
    ("schedule", "gap", "days"),
    [
        ("@hourly", 60, 2),
        ("@daily", 1440, 2),
        ("0 3 * * *", 1440, 2),
        ("0 3 * * 1-5", 3 * 1440, 4),  # Friday to Monday
        ("0 3 1,15 * 1", 7 * 1440, 8),  # the 1st, the 15th or a Monday (robfig: either day field)
        ("@weekly", 7 * 1440, 8),
        ("@monthly", 31 * 1440, 32),
    ],
)
def test_the_alert_waits_the_schedules_longest_gap_plus_a_day(schedule, gap, days):
    assert schedule_gap_minutes(schedule) == gap
    assert BackupsConfig(schedule=schedule).stale_after_days == days


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("0 3 * * 7", "day of week '7'"),  # go-cron's parser (robfig) stops at 6
        ("61 3 * * *", "minute '61'"),
        ("0 5-1 * * *", "hour '5-1'"),
        ("0 0 30 2 *", "a schedule that fires"),
    ],
)
def test_a_schedule_go_cron_would_refuse_or_never_run_is_refused(schedule, why):
    with pytest.raises(ConfigError) as err:
        harness.run("staging", {"backups.schedule": schedule})
    assert f"webstack:backups.schedule = {schedule!r}: must be {why}" in str(err.value)


# ------------------------------------------------------------------------------ the alert


@pytest.mark.parametrize("stack", BACKED_UP)
def test_the_heartbeat_is_watched_from_outside_the_droplet(stack):
    """DigitalOcean's uptime service, not the first droplet, watches the heartbeat: the alert
    comes when the droplet is gone too, on the stack's alert channels."""
    run = recorded(stack)
    check = _named(run, CHECK, "-backups")
    offsite = _named(run, BUCKET, "-backups-offsite")
    url = f"https://{offsite.inputs['name']}.{offsite.inputs['region']}.digitaloceanspaces.com/heartbeat/backups"
    assert check.inputs["target"] == url == backups.heartbeat_url(run.cfg.offsite_bucket_name, run.cfg.offsite_region)
    assert (check.inputs["type"], check.inputs["enabled"]) == ("https", True)
    alert = _named(run, UPTIME_ALERT, "-backups-stale")
    assert check.urn in alert.property_dependencies["checkId"]
    assert (alert.inputs["type"], alert.inputs["period"]) == ("down_global", "5m")
    assert alert.inputs["notifications"][0]["emails"] == list(run.cfg.alert_emails)
    assert alert.replace_on_changes == ["checkId"]


def test_no_heartbeat_check_without_monitoring_or_without_backups():
    assert not [c for c in recorded("dev").of_type(CHECK)]  # dev: neither
    quiet = recorded_with("staging", ELSEWHERE_QUIET)
    assert quiet.of_type(CHECK) == [] and _named(quiet, BUCKET, "-backups-offsite")
    undumped = recorded_with("staging", {"backups.enabled": False})
    assert not [c for c in undumped.of_type(CHECK) if c.name.endswith("-backups")]


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_name_the_offsite_copy_and_hand_the_restore_service_as_a_secret(stack):
    exports = recorded(stack).exports
    if recorded(stack).cfg.backups.enabled:
        assert exports["backup_offsite_bucket"].value == recorded(stack).cfg.offsite_bucket_name
        assert not exports["backup_offsite_endpoint"].secret
    assert exports["database_restore_service"].secret
    assert exports["database_restore_service"].value.startswith(f"[{backups.RESTORE_SERVICE}]\n")


def test_a_service_file_refuses_what_libpq_would_misread():
    base = dict(service="webstack", host="h", port=5432, dbname="app", user="app", password="p w", sslmode="require")
    assert "password=p w\n" in backups.pg_service_file(**base)
    for bad in ("line\nbreak", " padded", ""):
        with pytest.raises(ValueError, match="password"):
            backups.pg_service_file(**{**base, "password": bad})


# ------------------------------------------------------------------------------ the run script, run

PRIMARY, OFFSITE = "nyc3.digitaloceanspaces.com", "sfo3.digitaloceanspaces.com"
KEYS = {f"{PRIMARY}/b-backups": "AKPRIMARY", f"{OFFSITE}/b-offsite": "AKOFFSITE"}
# Stands in for the image's backup.sh (source ./env.sh, a dump named <db>_<time>.dump uploaded
# under S3_PREFIX with the exported S3 key): what the run script relies on, nothing more.
FAKE_BACKUP = """set -eu
. ./env.sh
echo "dump of $POSTGRES_DATABASE" > db.dump
aws $aws_args s3 cp db.dump "s3://$S3_BUCKET/$S3_PREFIX/${POSTGRES_DATABASE}_$(cat stamp).dump"
rm db.dump
"""
FAKE_ENV = """aws_args="--endpoint-url $S3_ENDPOINT"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY
"""


@pytest.fixture
def box(tmp_path: Path):
    """The dump container's world: the image directory with backup.sh, busybox, the fake aws."""
    image = tmp_path / "image"
    image.mkdir()
    (image / "backup.sh").write_text(FAKE_BACKUP)
    (image / "env.sh").write_text(FAKE_ENV)
    root = tmp_path / "spaces"
    fake_aws.install(tmp_path / "bin", root, KEYS)
    bb = fake_aws.busybox_dir(tmp_path / "busybox")
    script = tmp_path / "backup-run.sh"
    env = {
        "PATH": f"{tmp_path / 'bin'}:{bb}",
        "POSTGRES_DATABASE": "app",
        "S3_BUCKET": "b-backups",
        "S3_PREFIX": "postgres",
        "S3_REGION": "nyc3",
        "S3_ENDPOINT": f"https://{PRIMARY}",
        "S3_ACCESS_KEY_ID": "AKPRIMARY",
        "S3_SECRET_ACCESS_KEY": "secret-primary",
        "OFFSITE_BUCKET": "b-offsite",
        "OFFSITE_REGION": "sfo3",
        "OFFSITE_ENDPOINT": f"https://{OFFSITE}",
        "OFFSITE_ACCESS_KEY_ID": "AKOFFSITE",
        "OFFSITE_SECRET_ACCESS_KEY": "secret-offsite",
    }

    def run(stamp: str, prefixes=("postgres",), **extra: str) -> subprocess.CompletedProcess[str]:
        (image / "stamp").write_text(stamp)
        script.write_text(backups.render_run_script(prefixes, image_dir=str(image)))
        return subprocess.run(
            [str(bb / "sh"), str(script)], capture_output=True, text=True, timeout=30, env={**env, **extra}
        )

    return run, root


def test_a_run_copies_the_new_dump_offsite_then_writes_a_public_heartbeat(box):
    run, root = box
    first = run("2026-12-07T03:00:00")
    assert first.returncode == 0, first.stdout + first.stderr
    dump = "postgres/app_2026-12-07T03:00:00.dump"
    assert fake_aws.objects(root, PRIMARY, "b-backups") == {dump: "private"}
    # The copy is private; only the heartbeat (a time and nothing else) is public.
    assert fake_aws.objects(root, OFFSITE, "b-offsite") == {dump: "private", backups.HEARTBEAT_KEY: "public-read"}
    heartbeat = (root / OFFSITE / "b-offsite" / backups.HEARTBEAT_KEY).read_text()
    assert heartbeat.strip().endswith("Z") and len(heartbeat.strip()) == len("2026-12-07T03:00:00Z")
    assert (root / OFFSITE / "b-offsite" / dump).read_text() == "dump of app\n"
    # The next run copies only what is new.
    second = run("2026-12-08T03:00:00")
    assert second.returncode == 0, second.stderr
    copied = [c for c in fake_aws.calls(root) if c["args"][:2] == ["s3", "cp"] and c["args"][3] == "-"]
    assert [c["args"][2] for c in copied] == [
        f"s3://b-backups/{dump}",
        "s3://b-backups/postgres/app_2026-12-08T03:00:00.dump",
    ]
    assert len(fake_aws.objects(root, OFFSITE, "b-offsite")) == 3


def test_each_bucket_is_used_with_its_own_key_only(box):
    run, root = box
    assert run("2026-12-07T03:00:00").returncode == 0
    for call in fake_aws.calls(root):
        expected = KEYS[f"{call['endpoint']}/b-backups" if call["endpoint"] == PRIMARY else f"{OFFSITE}/b-offsite"]
        assert call["key"] == expected, call


@pytest.mark.parametrize(
    ("failing", "copied"),
    [
        ("db.dump", False),  # the dump's own upload fails: no copy, no heartbeat
        ("s3://b-offsite/postgres/", False),  # the copy fails
        ("s3://b-offsite/heartbeat", True),  # only the heartbeat fails
    ],
)
def test_a_run_that_fails_anywhere_leaves_no_heartbeat_and_says_so(box, failing, copied):
    run, root = box
    result = run("2026-12-07T03:00:00", FAKE_AWS_FAIL=failing)
    assert result.returncode != 0
    assert "heartbeat written" not in result.stdout
    offsite = fake_aws.objects(root, OFFSITE, "b-offsite")
    assert backups.HEARTBEAT_KEY not in offsite
    assert bool(offsite) == copied


def test_a_copy_missed_by_one_run_is_made_by_the_next(box):
    run, root = box
    assert run("2026-12-07T03:00:00", FAKE_AWS_FAIL="s3://b-offsite/postgres/").returncode != 0
    assert run("2026-12-08T03:00:00").returncode == 0
    assert {k for k in fake_aws.objects(root, OFFSITE, "b-offsite") if k.startswith("postgres/")} == {
        "postgres/app_2026-12-07T03:00:00.dump",
        "postgres/app_2026-12-08T03:00:00.dump",
    }


def test_volume_archives_in_the_stacks_bucket_are_copied_too(box):
    run, root = box
    archive = root / PRIMARY / "b-backups" / "volume" / "backup-2026-12-07T03-00-00.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"\x1f\x8b archive")
    (Path(str(archive) + ".acl")).write_text("private")
    assert run("2026-12-07T03:00:00", prefixes=("postgres", "volume")).returncode == 0
    assert "volume/backup-2026-12-07T03-00-00.tar.gz" in fake_aws.objects(root, OFFSITE, "b-offsite")


def test_the_run_script_parses_under_sh():
    for prefixes in (("postgres",), ("postgres", "volume")):
        text = backups.render_run_script(prefixes)
        done = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert os.path.isabs(backups.RUN_SCRIPT) and backups.AWS_CONFIG_TEXT.startswith("[default]\n")
