"""Monitoring: resource alerts on the app droplets, and uptime checks on every public URL."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

from components.config.ops import MonitoringConfig

# DigitalOcean's metric names for the three alerts the seed guides set up by hand.
METRICS = {
    "cpu": "v1/insights/droplet/cpu",
    "memory": "v1/insights/droplet/memory_utilization_percent",
    "disk": "v1/insights/droplet/disk_utilization_percent",
}
UPTIME_REGIONS = ["us_east", "us_west", "eu_west", "se_asia"]


def _alert_options(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """An uptime alert's options: its check id is only the path of the provider's update
    (resource_uptime_alert.go), so an alert follows a replaced check by being replaced."""
    return pulumi.ResourceOptions(parent=parent, replace_on_changes=["checkId"])


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    app_tag: pulumi.Input[str]
    """Tag of the droplets to watch; no default."""
    hostnames: tuple[str, ...]
    """Public names to check over HTTPS; no default (config `app.hostnames`)."""
    health_path: str = "/health"
    """Path the uptime checks request; default /health."""
    emails: tuple[str, ...] = ()
    """Alert recipients; default none (config `alertEmails`)."""
    slack_url: pulumi.Input[str] | None = None
    """Slack incoming-webhook URL (secret); default None (config `slackWebhookUrl`)."""
    thresholds: MonitoringConfig
    """The stack's `monitoring` section: Slack channel, cpu/memory/disk percent, window,
    latency and certificate-expiry thresholds; no default."""
    backup_heartbeat_url: str | None = None
    """Public URL of the backups' heartbeat object, alerted on when it is gone; default None (no backups)."""


class Monitoring(pulumi.ComponentResource):
    """CPU, memory and disk alerts over the app tag (so new droplets are covered without a
    change here), per hostname an uptime check with down, latency and TLS-expiry alerts, and
    with backups an uptime check on their heartbeat: each complete backup run rewrites it, the
    bucket's lifecycle deletes it once it is older than the schedule allows, and the check then
    fails everywhere. DigitalOcean runs the checks, so the alert fires when the first droplet
    (where the backups run) is gone too."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        limits = args.thresholds
        slack = (
            [{"channel": limits.slack_channel, "url": pulumi.Output.secret(args.slack_url)}] if args.slack_url else []
        )
        thresholds = {
            "cpu": limits.cpu_percent,
            "memory": limits.memory_percent,
            "disk": limits.disk_percent,
        }
        for metric, threshold in thresholds.items():
            do.MonitorAlert(
                f"{name}-{metric}",
                type=METRICS[metric],
                compare="GreaterThan",
                value=threshold,
                window=limits.window,
                tags=[args.app_tag],
                enabled=True,
                description=f"{name}: {metric} above {threshold}% for {limits.window}",
                alerts=do.MonitorAlertAlertsArgs(emails=list(args.emails), slacks=slack),
                opts=child,
            )
        notify = [do.UptimeAlertNotificationArgs(emails=list(args.emails), slacks=slack)]
        for host in args.hostnames:
            label = host.replace(".", "-")
            check = do.UptimeCheck(
                f"{name}-{label}",
                name=f"{name}-{label}",
                target=f"https://{host}{args.health_path}",
                type="https",
                regions=UPTIME_REGIONS,
                enabled=True,
                opts=child,
            )
            alerts = {
                "down": dict(type="down_global", period="2m"),
                "latency": dict(type="latency", threshold=limits.latency_ms, comparison="greater_than", period="5m"),
                "tls": dict(type="ssl_expiry", threshold=limits.ssl_expiry_days, comparison="less_than", period="2m"),
            }
            for role, spec in alerts.items():
                do.UptimeAlert(
                    f"{name}-{label}-{role}",
                    name=f"{host} {role}",
                    check_id=check.id,
                    notifications=notify,
                    opts=_alert_options(self),
                    **spec,
                )
        if args.backup_heartbeat_url:
            check = do.UptimeCheck(
                f"{name}-backups",
                name=f"{name}-backups",
                target=args.backup_heartbeat_url,
                type="https",
                regions=UPTIME_REGIONS,
                enabled=True,
                opts=child,
            )
            do.UptimeAlert(
                f"{name}-backups-stale",
                name=f"{name} backups stale",
                check_id=check.id,
                type="down_global",
                period="5m",
                notifications=notify,
                opts=_alert_options(self),
            )
        self.register_outputs({})
