"""`webstack:monitoring`, `webstack:backups` and `webstack:logs`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.config.base import Image, Section, choice, text


class MonitoringConfig(Section):
    enabled: bool = True
    """CPU/memory/disk alerts on the app tag and uptime checks per hostname."""
    cpu_percent: Annotated[int, Field(ge=1, le=100)] = 80
    """CPU alert threshold (%)."""
    memory_percent: Annotated[int, Field(ge=1, le=100)] = 85
    """Memory alert threshold (%)."""
    disk_percent: Annotated[int, Field(ge=1, le=100)] = 85
    """Disk alert threshold (%)."""
    window: choice("5m", "10m", "30m", "1h") = "5m"
    """How long a threshold must hold before an alert."""
    latency_ms: Annotated[int, Field(ge=100)] = 2000
    """Uptime latency alert threshold (ms)."""
    ssl_expiry_days: Annotated[int, Field(ge=1, le=90)] = 14
    """Alert this many days before the edge certificate expires."""
    slack_channel: text(r"[#@]?[a-z0-9._-]{1,80}", "a Slack channel") = "#alerts"
    """Slack channel, used with the secret `slackWebhookUrl`."""


class BackupsConfig(Section):
    enabled: bool = True
    """Scheduled logical dumps to a private, versioned Spaces bucket."""
    droplet_backups: bool = False
    """DigitalOcean droplet backups (prod: true)."""
    droplet_plan: choice("daily", "weekly") = "daily"
    """Droplet backup frequency."""
    droplet_hour: choice(0, 4, 8, 12, 16, 20) = 4
    """UTC start of the droplet backup window."""
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 7
    """Days dumps (and their old versions) are kept."""
    # The descriptors both schedulers' cron parser (robfig/cron) knows; not @reboot.
    schedule: text(
        r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9*/,-]+( [0-9*/,-]+){4}",
        "a cron schedule such as @daily or 0 3 * * *",
    ) = "@daily"
    """When the dump runs."""
    image: Image = "eeshugerman/postgres-backup-s3:17"
    """Pinned dump image."""


class LogsConfig(Section):
    enabled: bool = False
    """Ship every container's log lines off the droplets (a Vector container per droplet) into
    a private Spaces bucket of their own, so a replaced droplet loses none."""
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Days a log object is kept (the bucket's lifecycle expiry)."""
    image: Image = "timberio/vector:0.43.1-alpine"
    """Pinned Vector image."""
