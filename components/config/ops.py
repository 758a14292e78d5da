"""`webstack:monitoring`, `webstack:backups` and `webstack:logs`."""

from __future__ import annotations

import datetime
import itertools
import re
from typing import Annotated

from pydantic import AfterValidator, Field

from components.config import catalog
from components.config.base import Allowed, Image, Section, choice, text


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


# Where the off-site copy of the dumps goes when backups.offsiteRegion is unset: another
# Spaces region, far enough for a regional outage not to take both, on the same continent
# where there is one (Canada, the UK, India, Singapore and Australia have one Spaces region
# each, so their copy leaves the country: set offsiteRegion where the data may not).
OFFSITE_REGIONS = {
    "nyc3": "sfo3",
    "atl1": "sfo3",
    "sfo2": "nyc3",
    "sfo3": "nyc3",
    "tor1": "nyc3",
    "ams3": "fra1",
    "fra1": "ams3",
    "lon1": "ams3",
    "blr1": "sgp1",
    "sgp1": "syd1",
    "syd1": "sgp1",
}
assert set(OFFSITE_REGIONS) == catalog.SPACES_REGIONS and set(OFFSITE_REGIONS.values()) <= catalog.SPACES_REGIONS

# The dump's scheduler is go-cron (robfig/cron v3, SecondOptional | Minute | Hour | Dom |
# Month | Dow | Descriptor): its descriptors, and its field ranges (day of week 0-6).
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))
_ITEM = re.compile(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?")
# Eight years from a leap year hold every pattern of weekdays, month lengths and leap days.
_WINDOW = (datetime.date(2028, 1, 1), 8 * 366)


def _values(item_list: str, what: str, lo: int, hi: int) -> set[int]:
    values: set[int] = set()
    for item in item_list.split(","):
        m = _ITEM.fullmatch(item)
        if not m:
            raise ValueError(f"{what} {item!r}: *, N, N-M or a list of them, optionally /STEP")
        start, end = (lo, hi) if m[1] == "*" else (int(m[2]), int(m[3] if m[3] is not None else m[2]))
        step = int(m[4]) if m[4] is not None else 1
        if m[4] is not None and m[1] != "*" and m[3] is None:
            end = hi  # robfig: N/STEP runs from N to the field's end
        if not lo <= start <= end <= hi or step == 0:
            raise ValueError(f"{what} {item!r}: values in {lo}-{hi}, a range from low to high, a step above 0")
        values.update(range(start, end + 1, step))
    return values


def schedule_gap_minutes(schedule: str) -> int:
    """The longest time between two runs of a (valid) dump schedule, in minutes; ValueError
    with the reason when a field is out of range or the schedule never fires."""
    fields = DESCRIPTORS.get(schedule, schedule).split()
    minute, hour, dom, month, dow = (_values(f, *spec) for f, spec in zip(fields, _FIELDS, strict=True))
    # robfig: when day of month or day of week is `*` (or starts with it), both must match; else either.
    either = not (fields[2].startswith("*") or fields[4].startswith("*"))
    times = sorted(h * 60 + m for h in hour for m in minute)
    first, days = _WINDOW
    fire_days = []
    for n in range(days):
        day = first + datetime.timedelta(days=n)
        in_dom, in_dow = day.day in dom, day.isoweekday() % 7 in dow
        if day.month in month and ((in_dom or in_dow) if either else (in_dom and in_dow)):
            fire_days.append(n)
    if not fire_days:
        raise ValueError("a schedule that fires (no date matches it)")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    gaps += [(b - a) * 1440 + times[0] - times[-1] for a, b in itertools.pairwise(fire_days)]
    return max(gaps, default=1440 * 366)


def _schedule(value: str) -> str:
    schedule_gap_minutes(value)
    return value


class BackupsConfig(Section):
    enabled: bool = True
    """Scheduled logical dumps to a private, versioned Spaces bucket, copied to another in
    `offsiteRegion`, with an alert (monitoring on) when no run completes in time."""
    droplet_backups: bool = False
    """DigitalOcean droplet backups (prod: true)."""
    droplet_plan: choice("daily", "weekly") = "daily"
    """Droplet backup frequency."""
    droplet_hour: choice(0, 4, 8, 12, 16, 20) = 4
    """UTC start of the droplet backup window."""
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 7
    """Days dumps and their off-site copies (and the old versions of both) are kept."""
    # The descriptors both schedulers' cron parser (robfig/cron) knows; not @reboot.
    schedule: Annotated[
        text(
            r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9*/,-]+( [0-9*/,-]+){4}",
            "a cron schedule such as @daily or 0 3 * * *",
        ),
        AfterValidator(_schedule),
    ] = "@daily"
    """When the dump runs (UTC); five fields (day of week 0-6) or @hourly, @daily, @weekly, @monthly, @yearly."""
    # Tag only: no public source gives this tag's digest to check (add @sha256:... once known).
    image: Image = "eeshugerman/postgres-backup-s3:17"
    """Pinned dump image."""
    offsite_region: (
        Annotated[choice(*catalog.SPACES_REGIONS), Allowed("a Spaces region other than `region`")] | None
    ) = None
    """Spaces region of the off-site copy of every dump and volume archive; unset: sfo3 for
    nyc3 and atl1, nyc3 for sfo2, sfo3 and tor1, fra1 for ams3, ams3 for fra1 and lon1, sgp1
    for blr1 and syd1, syd1 for sgp1."""

    @property
    def stale_after_days(self) -> int:
        """Days without a new dump (its heartbeat) before the backup alert: the schedule's
        longest gap in whole days, plus a day for the dump's own run and Spaces' daily expiry."""
        return -(-schedule_gap_minutes(self.schedule) // 1440) + 1


class LogsConfig(Section):
    enabled: bool = False
    """Ship every container's log lines off the droplets (a Vector container per droplet) into
    a private Spaces bucket of their own, so a replaced droplet loses none (prod: true)."""
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Days a log object is kept (the bucket's lifecycle expiry)."""
    # Tag only: no public source gives this tag's digest to check (add @sha256:... once known).
    image: Image = "timberio/vector:0.43.1-alpine"
    """Pinned Vector image."""
