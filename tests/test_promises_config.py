"""Config promises that no test held before issue 11 (a one-line regression of each left the
suite green), each proven on both sides of its boundary: the bad value is refused naming its
key, and the nearest good one is accepted."""

from __future__ import annotations

import re

import pytest

from components.config import ConfigError, connections_needed
from tests.conftest import recorded
from tools import harness


def _cfg(stack: str, overrides: dict):
    """The validated config of `stack` with `overrides` (nothing recorded)."""
    return harness.Run(stack, False, harness.stack_config(stack, overrides), [], {}).cfg


def _problems(stack: str, overrides: dict) -> list[str]:
    """The lines of the ConfigError `overrides` cause, [] when the config is accepted."""
    try:
        _cfg(stack, overrides)
    except ConfigError as err:
        return [line.removeprefix("  - ") for line in str(err).splitlines()[1:]]
    return []


@pytest.mark.parametrize("host", ["evilexample.com", "shop.evilexample.com", "example.com.evil.net", "com"])
def test_a_hostname_merely_ending_with_the_domain_is_not_inside_it(host):
    assert _problems("staging", {"app.hostnames": [host]}) == [
        f"webstack:app.hostnames = {host!r}: must be a fully qualified name inside example.com"
    ]


@pytest.mark.parametrize("host", ["example.com", "staging.example.com", "evil-example.example.com"])
def test_the_apex_and_names_one_label_below_it_are_inside_the_domain(host):
    assert _problems("staging", {"app.hostnames": [host]}) == []


def test_monitoring_needs_somewhere_to_send_alerts():
    assert _problems("staging", {"alertEmails": []}) == [
        "webstack:alertEmails = []: must be at least one address while monitoring is enabled"
    ]
    # ... an address, a Slack webhook, or no monitoring.
    assert _problems("staging", {"alertEmails": ["ops@example.com"]}) == []
    assert _problems("staging", {"alertEmails": [], "monitoring.enabled": False}) == []
    webhook = {"slackWebhookUrl": "https://hooks.slack.com/services/T000/B000/xyz"}
    assert harness.run("dev", {"monitoring.enabled": True}, secrets=webhook).of_type(
        "digitalocean:index/uptimeAlert:UptimeAlert"
    )


def test_hsts_max_age_has_a_floor_of_six_months():
    six_months = 15552000
    problems = _problems("staging", {"edge.hstsMaxAge": six_months - 1})
    assert len(problems) == 1 and problems[0].startswith(f"webstack:edge.hstsMaxAge = {six_months - 1}: must be")
    assert _cfg("staging", {"edge.hstsMaxAge": six_months}).edge.hsts_max_age == six_months


def test_a_pool_exactly_the_size_of_the_need_is_enough():
    need = connections_needed(recorded("staging").cfg.app)
    assert _cfg("staging", {"database.poolSize": need}).database.pool_size == need
    (line,) = _problems("staging", {"database.poolSize": need - 1})
    assert line.startswith(f"webstack:database.poolSize = {need - 1}: must be at least ")
    assert line.endswith(f" = {need}")


def _budget(overrides: dict) -> tuple[int, int, str]:
    """(MB needed, MB the droplet has, itemised parts) of an over-budget staging droplet."""
    (line,) = _problems("staging", overrides)
    m = re.fullmatch(r"webstack:app\.dropletSize = '.+': must have at least (\d+) MB \((.+)\); it has (\d+) MB", line)
    assert m, line
    return int(m[1]), int(m[3]), m[2]


def test_the_backup_dump_counts_in_the_droplet_memory_budget():
    used, has, parts = _budget({"app.webMemoryMb": 4096})
    assert "backup dump 256" in parts.split(" + ")
    # The smallest web memory over budget: over by the dump's 256 MB at most, so it fits
    # exactly when the dump does not run on the droplet.
    web = (has - (used - 2 * 4096)) // 2 + 1
    assert _budget({"app.webMemoryMb": web})[0] - has <= 256
    assert _problems("staging", {"app.webMemoryMb": web, "backups.enabled": False}) == []
