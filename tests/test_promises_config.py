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


# What the user reads, in full, for each kind of problem: the key as written in the stack file,
# the value as given, and what is allowed (issue 12 keeps this contract through the refactor).
MESSAGES = [
    ({"edge.import": {"rulesets": "x"}},
     "webstack:edge.import.rulesets = 'x': unknown key; allowed: rateLimit, records"),
    ({"app.image": None}, "webstack:app.image = None: must be set (it has no default)"),
    ({"database": "managed"}, "webstack:database = 'managed': must be valid JSON/YAML structure"),
    ({"region": "mars1"}, "webstack:region = 'mars1': must be one of ams3, atl1, blr1, fra1, lon1, nyc1, nyc3, "
     "sfo2, sfo3, sgp1, syd1, tor1"),
    ({"backups.dropletHour": 5}, "webstack:backups.dropletHour = 5: must be one of 0, 4, 8, 12, 16, 20"),
    ({"app.registry": {"kind": "ftp"}}, "webstack:app.registry.kind = 'ftp': must be one of docr, token"),
    ({"app.port": 70000}, "webstack:app.port = 70000: must be an integer 1-65535"),
    ({"app.replicas": "two"}, "webstack:app.replicas = 'two': must be an integer 1-100"),
    ({"app.webMemoryMb": 10}, "webstack:app.webMemoryMb = 10: must be an integer >= 64"),
    ({"app.processes": {"worker": {"command": ["x"], "count": 0}}},
     "webstack:app.processes.worker.count = 0: must be an integer 1-16"),
    ({"valkey.splitCache": "yes"}, "webstack:valkey.splitCache = 'yes': must be true or false"),
    ({"app.healthPath": ""}, "webstack:app.healthPath = '': must be a path starting with /"),
    ({"app.hostnames": []}, "webstack:app.hostnames = []: must be a list of at least 1 non-empty strings"),
    ({"app.env": {"X": [1]}}, "webstack:app.env.X = [1]: must be a string, number or boolean"),
    ({"alertEmails": ["a@b"]}, "webstack:alertEmails = 'a@b': must be an email address"),
    ({"app.image": "Ghcr.io/x:1"}, "webstack:app.image = 'Ghcr.io/x:1': must be an image reference like "
     "registry/name:tag"),
    ({"app.registry": {"kind": "docr"}}, "webstack:app.registry.name = None: must be set for kind docr"),
    ({"app.jobs": {"nightly": {"schedule": "5 4-2 * * *", "command": ["x"]}}},
     "webstack:app.jobs.nightly.schedule = '5 4-2 * * *': must be hour '4-2': a range from low to high"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "line"), MESSAGES, ids=[next(iter(m[0])) + f"-{i}" for i, m in enumerate(MESSAGES)]
)
def test_each_kind_of_problem_reads_key_value_and_what_is_allowed(overrides, line):
    assert _problems("staging", overrides) == [line]


def test_an_unknown_key_lists_the_known_ones_sorted():
    (line,) = _problems("staging", {"vpcCIDR": "10.50.0.0/20"})
    head, _, allowed = line.partition("allowed: ")
    assert head == "webstack:vpcCIDR = '10.50.0.0/20': unknown key; "
    keys = allowed.split(", ")
    assert keys == sorted(keys) and "vpcCidr" in keys
    assert set(harness.stack_config("staging")) <= set(keys)


def test_the_problem_count_heads_the_message():
    with pytest.raises(ConfigError) as one:
        _cfg("staging", {"region": "mars1"})
    assert str(one.value).startswith("invalid configuration for stack 'staging' (1 problem):\n  - webstack:region")
    with pytest.raises(ConfigError) as two:
        _cfg("staging", {"region": "mars1", "app.port": 0})
    assert str(two.value).startswith("invalid configuration for stack 'staging' (2 problems):\n  - ")
