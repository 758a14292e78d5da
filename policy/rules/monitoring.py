"""Monitoring: CPU, memory and disk alerts on every droplet, and an uptime check on every
public hostname."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

from .common import (
    ADVISORY,
    DNS_RECORD,
    DROPLET,
    MONITOR_ALERT,
    UPTIME_CHECK,
    known,
    of_type,
    protect_data,
    refers_to,
    shares_tag,
    stack_policy,
)

ALERT_TYPES = {
    "cpu": "v1/insights/droplet/cpu",
    "memory": "v1/insights/droplet/memory_utilization_percent",
    "disk": "v1/insights/droplet/disk_utilization_percent",
}
PROXIABLE = ("A", "AAAA", "CNAME")


def _notifies(alert) -> bool:
    targets = known(alert.props, "alerts") or {}
    return bool(targets.get("emails") or targets.get("slacks"))


def _alerts_cover_droplets(args) -> Iterator[tuple[str | None, str]]:
    alerts = [a for a in of_type(args, MONITOR_ALERT) if known(a.props, "enabled") is not False]
    if not of_type(args, MONITOR_ALERT) and not protect_data(args):
        return  # a stack without monitoring (dev); one that protects data must have it
    for droplet in of_type(args, DROPLET):
        for metric, alert_type in ALERT_TYPES.items():
            covering = [
                a
                for a in alerts
                if known(a.props, "type") == alert_type
                and (shares_tag(a, droplet) or refers_to(a, "entities", droplet))
            ]
            if not covering:
                yield droplet.urn, f"droplet {droplet.name} has no enabled {metric} alert on one of its tags"
            elif not any(map(_notifies, covering)):
                yield droplet.urn, f"the {metric} alert of droplet {droplet.name} notifies no email or Slack channel"


def _target_host(check) -> str | None:
    target = known(check.props, "target")
    return urlparse(target).hostname if isinstance(target, str) else None


def _uptime_per_hostname(args) -> Iterator[tuple[str | None, str]]:
    checked = {_target_host(c) for c in of_type(args, UPTIME_CHECK) if known(c.props, "enabled") is not False}
    for record in of_type(args, DNS_RECORD):
        name = known(record.props, "name")
        if known(record.props, "proxied") is True and known(record.props, "type") in PROXIABLE and name not in checked:
            yield record.urn, f"public hostname {name} has no uptime check (target https://{name}/...)"


alerts_cover_droplets = stack_policy(
    "monitor-alerts-cover-droplets",
    "Every droplet is covered (through a tag or its id) by enabled CPU, memory and disk MonitorAlerts that notify "
    "someone; applies when the stack has alerts or protects data. DigitalOcean docs: Monitoring, resource alerts.",
    _alerts_cover_droplets,
    config=("protectData",),
)
uptime_per_hostname = stack_policy(
    "uptime-check-per-hostname",
    "Every proxied public hostname has an uptime check targeting it (advisory). "
    "DigitalOcean docs: Uptime checks; the seed guides' /health checks.",
    _uptime_per_hostname,
    level=ADVISORY,
)

POLICIES = [alerts_cover_droplets, uptime_per_hostname]
