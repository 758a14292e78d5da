"""Operations: alerts and uptime checks, backups, the Project, protection vs. disposal."""

from __future__ import annotations

import pytest

from testing import harness
from tests.conftest import recorded

ALERT = "digitalocean:index/monitorAlert:MonitorAlert"
CHECK = "digitalocean:index/uptimeCheck:UptimeCheck"
UPTIME_ALERT = "digitalocean:index/uptimeAlert:UptimeAlert"
BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"
KEY = "digitalocean:index/spacesKey:SpacesKey"
PROJECT = "digitalocean:index/project:Project"
# Output fields holding a DigitalOcean URN, by resource type: what a Project can hold.
DO_URN_FIELDS = {"dropletUrn", "loadBalancerUrn", "reservedIpUrn", "clusterUrn", "bucketUrn", "volumeUrn"}


def test_prod_alerts_cover_the_app_tag_and_every_hostname():
    run = recorded("prod")
    tag = run.one("digitalocean:index/tag:Tag").inputs["name"]
    alerts = {a.inputs["type"].rsplit("/", 1)[-1]: a.inputs for a in run.of_type(ALERT)}
    assert set(alerts) == {"cpu", "memory_utilization_percent", "disk_utilization_percent"}
    assert alerts["cpu"]["value"] == 80 and alerts["memory_utilization_percent"]["value"] == 85
    for a in alerts.values():
        assert a["tags"] == [tag] and a["window"] == "5m" and a["compare"] == "GreaterThan"
        assert a["alerts"]["emails"] == list(run.cfg.alert_emails)
    # Per hostname; the backups' heartbeat has a check of its own (tests/graph/test_backups_offsite.py).
    checks = [c for c in run.of_type(CHECK) if not c.name.endswith("-backups")]
    assert sorted(c.inputs["target"] for c in checks) == sorted(
        f"https://{h}{run.cfg.app.health_path}" for h in run.cfg.app.hostnames
    )
    for check in checks:
        kinds = {a.inputs["type"] for a in run.of_type(UPTIME_ALERT) if check.urn in a.property_dependencies["checkId"]}
        assert kinds == {"down_global", "latency", "ssl_expiry"}
    latency = [a for a in run.of_type(UPTIME_ALERT) if a.inputs["type"] == "latency"]
    assert all(a.inputs["threshold"] == 2000 for a in latency)


def test_staging_has_monitoring_and_dev_has_none_unless_configured():
    assert len(recorded("staging").of_type(ALERT)) == 3
    dev = recorded("dev")
    assert dev.of_type(ALERT) == [] and dev.of_type(CHECK) == []
    enabled = harness.run("dev", {"monitoring.enabled": True, "alertEmails": ["dev@example.com"]})
    assert len(enabled.of_type(ALERT)) == 3 and len(enabled.of_type(CHECK)) == 1


def test_slack_webhook_reaches_alerts_only_as_a_secret():
    webhook = "https://hooks.slack.com/services/" + harness.fake_secret("slack")
    run = harness.run("staging", secrets={"slackWebhookUrl": webhook})
    alerts = run.of_type(ALERT) + run.of_type(UPTIME_ALERT)
    assert alerts
    for a in alerts:
        slacks = (a.inputs.get("alerts") or {}).get("slacks") or a.inputs["notifications"][0]["slacks"]
        assert slacks[0]["url"] == webhook and slacks[0]["channel"] == "#alerts"
        assert any("slacks" in path for path in a.secret_paths), a.name


@pytest.mark.parametrize(("stack", "days"), [("prod", 30), ("staging", 7)])
def test_bucket_is_private_versioned_and_expires_dumps(stack, days):
    (bucket,) = [b for b in recorded(stack).of_type(BUCKET) if b.name.endswith("-backups-bucket")]
    assert bucket.inputs["acl"] == "private"
    assert bucket.inputs["versioning"] == {"enabled": True}
    (rule,) = bucket.inputs["lifecycleRules"]
    assert rule["enabled"] and rule["expiration"]["days"] == days
    assert rule["noncurrentVersionExpiration"]["days"] == days


def test_spaces_key_is_scoped_to_the_bucket_and_backup_credentials_are_secret(run):
    buckets = [b for b in run.of_type(BUCKET) if b.name.endswith("-backups-bucket")]
    if not buckets:
        assert run.stack == "dev"
        return
    (key,) = [k for k in run.of_type(KEY) if k.name.endswith("-backups-key")]
    (bucket,) = [b for b in buckets if b.name.endswith("-backups-bucket")]
    (grant,) = key.inputs["grants"]
    assert grant == {"bucket": bucket.inputs["name"], "permission": "readwrite"}
    assert bucket.urn in key.property_dependencies["grants"]
    (dump,) = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"] == "pg-backup"]
    assert "envs" in dump.secret_paths
    names = {line.split("=", 1)[0] for line in dump.inputs["envs"]}
    assert {"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD", "BACKUP_KEEP_DAYS"} <= names
    # The dump signs with this key, the one scoped to the bucket (the SDK itself keeps its
    # secretKey output secret; what the program controls is that it lands only here, secret).
    env = dict(line.split("=", 1) for line in dump.inputs["envs"])
    assert env["S3_ACCESS_KEY_ID"] == key.outputs["accessKey"]
    assert env["S3_SECRET_ACCESS_KEY"] == key.outputs["secretKey"]
    assert dump.provider_urn.endswith("-host-0-docker"), "the dump runs on the first droplet"


def _as_api_lists_it(urn: str) -> str:
    """The project API lists reserved IPs under their old name (provider issues
    https://github.com/digitalocean/terraform-provider-digitalocean/issues/1031 and .../1264)."""
    return urn.replace("do:reservedip:", "do:floatingip:", 1)


def test_every_digitalocean_resource_is_in_the_stacks_project(run):
    (project,) = run.of_type(PROJECT)
    expected = {
        _as_api_lists_it(value) for r in run.resources for field, value in r.outputs.items() if field in DO_URN_FIELDS
    }
    assert expected, "the recording has DigitalOcean URNs"
    assert set(project.inputs["resources"]) == expected
    assert project.inputs["environment"] == run.cfg.environment


def test_the_project_sends_what_the_api_reads_back_so_a_second_up_changes_nothing(run):
    """A URN the API lists in another form would be a diff on every `pulumi up`, and moving a
    reserved IP that is assigned to a droplet fails (412)."""
    (project,) = run.of_type(PROJECT)
    sent = set(project.inputs["resources"])
    assert sent == {_as_api_lists_it(u) for u in sent}
    if run.of_type("digitalocean:index/reservedIp:ReservedIp"):
        ip = run.one("digitalocean:index/reservedIp:ReservedIp").outputs["ipAddress"]
        assert f"do:floatingip:{ip}" in sent


def test_prod_protects_every_data_resource():
    run = recorded("prod")
    data_types = (
        "digitalocean:index/databaseCluster:DatabaseCluster",
        "digitalocean:index/databaseDb:DatabaseDb",
        BUCKET,
    )
    data = [r for r in run.resources if r.type in data_types]
    assert len(data) == 7  # pg, broker, cache, the app database, the backups bucket, its off-site copy, logs
    assert all(r.protect for r in data)
    assert all(b.inputs["forceDestroy"] is False for b in run.of_type(BUCKET))


@pytest.mark.parametrize("stack", ["staging", "dev"])
def test_disposable_stacks_protect_nothing_and_empty_buckets_on_destroy(stack):
    run = recorded(stack)
    assert [r.name for r in run.resources if r.protect] == []
    assert all(b.inputs["forceDestroy"] is True for b in run.of_type(BUCKET))


def test_outputs_name_what_an_operator_needs(run):
    exports = run.exports
    for name in ("urls", "public_ip", "front_door", "droplet_ips", "ssh", "database_host", "valkey_host"):
        assert exports[name].value, name
        assert not exports[name].secret, name
    assert exports["ssh"].value == [f"ssh deploy@{ip}" for ip in exports["droplet_ips"].value]
    for name in ("database_url", "database_direct_url", "broker_url", "cache_url"):
        assert exports[name].secret
    assert (exports["backup_bucket"].value is None) == (run.stack == "dev")
