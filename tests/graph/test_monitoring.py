"""Monitoring promises: every alert fires on the configured threshold, in the right
direction, for the configured window, and reaches every configured recipient."""

from __future__ import annotations

from tests.conftest import recorded_with

ALERT = "digitalocean:index/monitorAlert:MonitorAlert"
CHECK = "digitalocean:index/uptimeCheck:UptimeCheck"
UPTIME_ALERT = "digitalocean:index/uptimeAlert:UptimeAlert"
EMAILS = ["ops@example.com", "oncall@example.net"]
WEBHOOK = "https://hooks.slack.com/services/T000/B000/monitoring"
SETTINGS = {
    "alertEmails": EMAILS,
    "monitoring.cpuPercent": 70,
    "monitoring.memoryPercent": 75,
    "monitoring.diskPercent": 90,
    "monitoring.window": "10m",
    "monitoring.latencyMs": 1500,
    "monitoring.sslExpiryDays": 21,
    "monitoring.slackChannel": "#ops",
    "app.healthPath": "/healthz",
}


def _run():
    return recorded_with("staging", SETTINGS, secrets={"slackWebhookUrl": WEBHOOK})


def test_resource_alerts_follow_config_on_the_app_tag():
    run = _run()
    tag = run.one("digitalocean:index/tag:Tag").inputs["name"]
    alerts = {a.inputs["type"]: a for a in run.of_type(ALERT)}
    assert {t: a.inputs["value"] for t, a in alerts.items()} == {
        "v1/insights/droplet/cpu": 70,
        "v1/insights/droplet/memory_utilization_percent": 75,
        "v1/insights/droplet/disk_utilization_percent": 90,
    }
    for a in alerts.values():
        i = a.inputs
        assert (i["compare"], i["window"], i["tags"], i["enabled"]) == ("GreaterThan", "10m", [tag], True)
        assert i["alerts"]["emails"] == EMAILS
        assert [s["channel"] for s in i["alerts"]["slacks"]] == ["#ops"]
        assert [s["url"] for s in i["alerts"]["slacks"]] == [WEBHOOK]
        assert "alerts.slacks[0].url" in a.secret_paths or "alerts" in a.secret_paths


def test_each_hostname_gets_a_check_and_three_alerts_as_configured():
    run = _run()
    # The backups' heartbeat has a check of its own (tests/graph/test_backups_offsite.py).
    checks = {c.inputs["target"]: c for c in run.of_type(CHECK) if not c.name.endswith("-backups")}
    assert set(checks) == {f"https://{h}/healthz" for h in run.cfg.app.hostnames}
    for c in checks.values():
        assert (c.inputs["type"], c.inputs["enabled"]) == ("https", True)
        assert c.inputs["regions"] == ["us_east", "us_west", "eu_west", "se_asia"]
    alerts = [a for a in run.of_type(UPTIME_ALERT) if not a.name.endswith("-backups-stale")]
    assert len(alerts) == 3 * len(checks)
    want = {
        "down_global": {"period": "2m"},
        "latency": {"threshold": 1500, "comparison": "greater_than", "period": "5m"},
        "ssl_expiry": {"threshold": 21, "comparison": "less_than", "period": "2m"},
    }
    ids = {c.id: target for target, c in checks.items()}
    seen = set()
    for a in alerts:
        i = a.inputs
        host = ids[i["checkId"]].split("/")[2]
        seen.add((host, i["type"]))
        assert {k: i[k] for k in want[i["type"]]} == want[i["type"]]
        assert i["name"] == f"{host} {dict(down_global='down', latency='latency', ssl_expiry='tls')[i['type']]}"
        (notify,) = i["notifications"]
        assert notify["emails"] == EMAILS
        assert [(s["channel"], s["url"]) for s in notify["slacks"]] == [("#ops", WEBHOOK)]
    assert seen == {(h, t) for h in run.cfg.app.hostnames for t in want}
