"""Config promises that no test held at first (a one-line regression of each left the
suite green), each proven on both sides of its boundary: the bad value is refused naming its
key, and the nearest good one is accepted."""

from __future__ import annotations

import re

import pytest

from components.config import ConfigError, connections_needed
from testing import harness
from tests.conftest import recorded


def _cfg(stack: str, overrides: dict):
    """The validated config of `stack` with `overrides` (nothing recorded)."""
    return harness.parsed_config(stack, overrides)


def _keys(lines: list[str]) -> list[str]:
    """The keys `lines` (as `_problems` returns them) name, without the namespace."""
    return [line.split(" = ")[0].removeprefix("webstack:") for line in lines]


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
# the value as given, and what is allowed (a refactor keeps this contract).
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
    ({"app.env": {"X": [1]}}, 'webstack:app.env.X = [1]: must be a string in quotes ("..."): YAML reads an unquoted '
     "012345 as the number 5349, 1.10 as 1.1, and true, false or null as non-strings"),
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


# ------------------------------------------------------- extra records: what Cloudflare is sent


def _record(**fields):
    """Prod's config with one extra record (prod owns the zone); the parsed record."""
    (record,) = _cfg("prod", {"edge.records": [{"name": "mail.example.com", "type": "A", **fields}]}).edge.records
    return record


def test_record_names_and_hostnames_are_sent_as_cloudflare_stores_them():
    """Lower case, no surrounding spaces, no trailing root dot: what the API reads back, so the
    next `pulumi up` sees no change."""
    assert _record(name=" Mail.Example.COM. ", content="203.0.113.5").name == "mail.example.com"
    cname = _record(name="em.example.com", type="CNAME", content="U1234.WL.SendGrid.net.")
    assert cname.value() == "u1234.wl.sendgrid.net"
    mx = _record(name="example.com", type="MX", content="MX1.Mail.example.net.", priority=10)
    assert mx.value() == "mx1.mail.example.net"
    assert _record(type="AAAA", content="2001:0DB8:0000::0025").value() == "2001:db8::25"  # RFC 5952


def test_only_a_proxied_record_needs_a_public_address():
    assert _record(content="10.0.0.5").value() == "10.0.0.5"  # an internal name, DNS only
    proxied = {"name": "x.example.com", "type": "A", "content": "10.0.0.5", "proxied": True}
    assert _problems("prod", {"edge.records": [proxied]}) == [
        "webstack:edge.records[0].content = '10.0.0.5': must be a public address when proxied "
        "(Cloudflare's edge cannot reach a private one)"
    ]


def _name(length: int, suffix: str) -> str:
    """A DNS name of `length` characters ending in `suffix`, its other labels at most 63 long
    and none empty."""
    labels, left = [], length - len(suffix)
    while left > 0:
        take = min(63, left - 2 if left > 63 else left)
        labels.append("a" * take)
        left -= take + 1
    return ".".join(labels) + suffix


def test_a_name_of_253_characters_is_a_dns_name_and_254_is_not():
    def host(length: int) -> str:
        return _name(length, ".example.com")

    assert len(host(253)) == 253 and len(host(254)) == 254
    assert _record(name=host(253), content="203.0.113.5").name == host(253)
    assert _problems("prod", {"edge.records": [{"name": host(254), "type": "A", "content": "203.0.113.5"}]})


def test_txt_content_is_counted_as_stored_up_to_2048_characters():
    """The limit applies to the quoted form Cloudflare stores: "..." around each 255 bytes."""
    fits = "x" * (2048 - 2 * 8 - 7)  # 8 quoted strings of at most 255, 7 spaces: 2048 stored
    assert len(_record(type="TXT", content=fits).value()) == 2048
    (line,) = _problems("prod", {"edge.records": [{"name": "mail.example.com", "type": "TXT", "content": fits + "x"}]})
    assert line.startswith("webstack:edge.records[0].content = ")


@pytest.mark.parametrize(("ttl", "ok"), [(1, True), (2, False), (59, False), (60, True), (86400, True)])
def test_ttl_is_automatic_or_from_a_minute_up(ttl, ok):
    overrides = {"edge.records": [{"name": "mail.example.com", "type": "A", "content": "203.0.113.5", "ttl": ttl}]}
    assert (_problems("prod", overrides) == []) is ok


def test_a_job_schedule_is_stored_with_single_spaces():
    jobs = {"app.jobs": {"nightly": {"schedule": " 30  3 * *   * ", "command": ["x"], "memoryMb": 64}}}
    assert _cfg("prod", jobs).app.jobs["nightly"].schedule == "30 3 * * *"


@pytest.mark.parametrize(
    ("domain", "ok"),
    [
        ("my-shop.com", True),
        ("shop.co.uk", True),
        ("2024-shop.example", True),
        ("example.123", False),
        ("shop.co.1uk", False),
    ],
)
def test_the_domain_is_a_zone_apex_with_a_letters_only_top_level_label(domain, ok):
    overrides = {"domain": domain, "app.hostnames": [f"www.{domain}"]}
    assert (_problems("staging", overrides) == []) is ok


def test_a_domain_of_253_characters_is_accepted_and_254_is_not():
    def domain(length: int) -> str:
        return _name(length, ".com")

    assert len(domain(253)) == 253 and len(domain(254)) == 254
    # At the apex itself, so the hostname is no longer than the domain.
    for length, ok in ((253, True), (254, False)):
        overrides = {"domain": domain(length), "app.hostnames": [domain(length)], "backups.enabled": False}
        bad = _keys(_problems("staging", overrides))
        assert ("domain" in bad) is not ok and (bad == []) is ok, (length, bad)


@pytest.mark.parametrize(
    ("cidr", "ok"),
    [("10.20.0.0/16", True), ("10.20.0.0/15", False), ("10.20.30.0/24", True), ("10.20.30.0/25", False)],
)
def test_the_vpc_is_a_slash_16_to_a_slash_24(cidr, ok):
    assert (_problems("staging", {"vpcCidr": cidr}) == []) is ok


def test_txt_records_of_one_name_may_hold_8192_characters_together():
    """Cloudflare's limit per name counts the stored (quoted) text: exactly 8192 passes."""
    records = [{"name": "mail.example.com", "type": "TXT", "content": c * 2000} for c in "uvwx"]
    stored = sum(len(r.value()) for r in _cfg("prod", {"edge.records": records}).edge.records)
    extra = {"name": "mail.example.com", "type": "TXT", "content": "y" * (8192 - stored - 2)}
    assert _problems("prod", {"edge.records": [*records, extra]}) == []
    extra["content"] += "y"
    assert _problems("prod", {"edge.records": [*records, extra]})


def test_every_proxy_key_reaches_nginx_as_configured():
    """Each `proxy.*` setting (and edge.hstsMaxAge) is what nginx gets, not the renderer's
    default; behind a load balancer nginx reads the PROXY protocol and still believes
    Cloudflare's ranges only (never the VPC), and an empty policy means nginx sends none."""
    from components.config import cloudflare_ips
    from components.config.nginx import nginx_spec

    configured = {
        "proxy.clientMaxBodySize": ("client_max_body_size", "25m"),
        "proxy.contentSecurityPolicy": ("content_security_policy", "default-src 'self' https://js.stripe.com"),
        "proxy.apiRatePerSecond": ("api_rate_per_s", 12),
        "proxy.apiBurst": ("api_burst", 30),
        "proxy.authRatePerSecond": ("auth_rate_per_s", 3),
        "proxy.authBurst": ("auth_burst", 7),
        "edge.hstsMaxAge": ("hsts_max_age", 20000000),
        "proxy.websocketPaths": ("websocket_paths", ("/ws",)),
        "proxy.readTimeoutSeconds": ("read_timeout_s", 90),
        "proxy.staticPath": ("static_path", "/static/"),
        "proxy.staticMaxAgeSeconds": ("static_max_age_s", 3600),
    }
    cfg = _cfg("staging", {key: value for key, (_, value) in configured.items()})
    spec = nginx_spec(cfg)
    assert {field: getattr(spec, field) for field, _ in configured.values()} == dict(configured.values())
    assert spec.real_ip_ranges == cloudflare_ips.ALL and not spec.proxy_protocol
    behind = nginx_spec(cfg, proxy_protocol=True)
    assert behind.proxy_protocol and behind.real_ip_ranges == cloudflare_ips.ALL
    assert nginx_spec(_cfg("staging", {"proxy.contentSecurityPolicy": ""})).content_security_policy is None


@pytest.mark.parametrize(("connections", "ok"), [(94, True), (95, False)])
def test_container_postgres_takes_the_need_plus_the_direct_connections_up_to_its_100(connections, ok):
    """dev's need is 2 web workers + the worker's connections + beat 1 + release 1; with the 2
    direct connections (migrate, backups) it must fit the container's max_connections 100."""
    overrides = {"app.processes.worker.connections": connections}
    assert connections_needed(_cfg("dev", {}).app) == 5
    assert (_problems("dev", overrides) == []) is ok


def _long_domain(length: int) -> dict:
    domain = _name(length, ".com")
    return {"domain": domain, "app.hostnames": [domain]}


@pytest.mark.parametrize(("length", "ok"), [(47, True), (48, False)])
def test_a_bucket_name_of_63_characters_is_accepted_and_64_is_not(length, ok):
    """<domain with dashes>-staging-backups: 47 + 16 characters is Spaces' 63."""
    bad = _problems("staging", {**_long_domain(length), "backups.enabled": True})
    assert bad == ([] if ok else [bad[0]])
    assert ok or bad[0].startswith("webstack:backups.enabled = True: must be false, or a domain and stack name giving")


def test_each_bucket_is_checked_even_when_an_earlier_one_is_off():
    bad = _problems("staging", {**_long_domain(50), "backups.enabled": False, "media.enabled": True})
    assert _keys(bad) == ["media.enabled"]


@pytest.mark.parametrize(("length", "ok"), [(51, True), (52, False)])
def test_a_volume_name_of_64_characters_is_accepted_and_65_is_not(length, ok):
    """<domain with dashes>-staging-data: 51 + 13 characters is DigitalOcean's 64."""
    bad = _problems("staging", {**_long_domain(length), "backups.enabled": False, "volume.enabled": True})
    assert _keys(bad) == ([] if ok else ["volume.enabled"])


def test_aliases_to_valkey_need_valkey():
    bad = _problems("staging", {"valkey.mode": "none", "app.envAliases": {"CACHE": "cacheUrl", "BROKER": "brokerUrl"}})
    allowed = "must be a value other than broker* and cache* with valkey.mode none"
    assert [line for line in bad if "envAliases" in line] == [
        f"webstack:app.envAliases.BROKER = 'brokerUrl': {allowed}",
        f"webstack:app.envAliases.CACHE = 'cacheUrl': {allowed}",
    ]


def test_container_data_services_need_a_single_droplet_each_named():
    bad = _problems("dev", {"app.replicas": 2, "app.dropletSize": "s-4vcpu-8gb"})
    assert _keys([line for line in bad if "reachable from that droplet only" in line]) == [
        "database.mode",
        "valkey.mode",
    ]


_ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
_ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7"
    "opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
)
_SK = (
    "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAEBAQEBAQEBAQEBAQEBAQEB"
    "AQEBAQEBAQEBAQEBAQEBAAAABHNzaDo="
)


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        (f"{_ED25519} ops@laptop", True),
        (_ED25519, True),  # the comment is optional
        (f"{_ECDSA} ops", True),
        (f"{_SK} yubikey", True),
        ("ssh-ed25519", False),
        ("AAAAC3NzaC1lZDI1NTE5AAAAIB ops@laptop", False),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB ops@laptop", False),  # the key data is cut short
    ],
)
def test_every_openssh_key_type_is_accepted_and_a_bare_type_or_blob_is_not(key, ok):
    # No account key attached by fingerprint: staging's would not be one of these keys.
    assert (_problems("staging", {"sshPublicKeys": [key], "sshKeyFingerprints": []}) == []) is ok


def test_each_fingerprint_is_checked_against_the_keys_parsed_by_cryptography():
    """sshKeyFingerprints attach account keys at droplet creation; the droplets' authorized_keys
    then follow sshPublicKeys, so each fingerprint must be the MD5 of one of those keys."""
    from components.config.rules import ssh_md5

    assert ssh_md5(f"{_ED25519} ops@laptop") == "65:96:2d:fc:e8:d5:a9:11:64:0c:0f:ea:00:6e:5b:bd"
    assert ssh_md5(_ED25519) == ssh_md5(f"{_ED25519} another comment")
    ok = {"sshPublicKeys": [f"{_ED25519} ops@laptop", f"{_ECDSA} ci"], "sshKeyFingerprints": [ssh_md5(_ECDSA)]}
    assert _problems("staging", ok) == []
    bad = _problems("staging", {**ok, "sshKeyFingerprints": ["9a:e6:ec:3d:33:0b:ad:d2:b1:d3:fb:5d:e0:6a:d2:9c"]})
    assert bad == [
        "webstack:sshKeyFingerprints = '9a:e6:ec:3d:33:0b:ad:d2:b1:d3:fb:5d:e0:6a:d2:9c': must be the MD5 "
        f"fingerprint of a key in sshPublicKeys: 65:96:2d:fc:e8:d5:a9:11:64:0c:0f:ea:00:6e:5b:bd (ops@laptop), "
        f"{ssh_md5(_ECDSA)} (ci)"
    ]


def test_a_registry_token_set_in_plaintext_is_refused():
    registry = {"kind": "token", "server": "ghcr.io", "username": "acme", "password": "ghp_x"}
    bad = _problems("staging", {"app.registry": registry, "app.image": "ghcr.io/acme/shop:1.0"})
    assert _keys(bad) == ["app.registry.password"]
    assert "[plaintext]" in bad[0]


@pytest.mark.parametrize(
    ("content", "data"),
    [
        ('0 issue "letsencrypt.org"', {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}),
        ("128 issuewild letsencrypt.org", {"flags": 128, "tag": "issuewild", "value": "letsencrypt.org"}),
        ('0 iodef "https://example.com/caa/X"', {"flags": 0, "tag": "iodef", "value": "https://example.com/caa/X"}),
        ('0 issue ""', None),
        ('0 issue "lets"encrypt.org"', None),
        ('0 policy "letsencrypt.org"', None),
    ],
)
def test_caa_content_is_sent_as_its_parts_without_the_quotes(content, data):
    """Cloudflare takes a CAA record as {flags, tag, value}; an empty value, a quote inside it
    or an unknown tag is refused."""
    if data:
        assert _record(name="example.com", type="CAA", content=content).data() == data
    else:
        (line,) = _problems("prod", {"edge.records": [{"name": "example.com", "type": "CAA", "content": content}]})
        assert line.startswith("webstack:edge.records[0].content = ")


def test_quoted_txt_strings_keep_escaped_quotes_and_backslashes():
    """DKIM keys pasted as the provider shows them: quoted strings, \\" and \\\\ inside."""
    from components.config.dns import txt_strings

    assert txt_strings('"v=DKIM1; k=rsa; " "p=MII\\"B\\\\x"') == ["v=DKIM1; k=rsa; ", 'p=MII"B\\x']


def test_every_record_is_checked_after_one_outside_the_zone():
    records = [
        {"name": "mail.example.org", "type": "A", "content": "203.0.113.5"},
        {"name": "mail.example.com", "type": "A", "content": "203.0.113.5"},
    ]
    assert _keys(_problems("staging", {"edge.records": records})) == ["edge.records[0].name", "edge.records[1].name"]


def test_a_stack_serving_only_the_apex_owns_no_name_for_records():
    records = [{"name": "mail.example.com", "type": "A", "content": "203.0.113.5"}]
    (line,) = _problems("staging", {"app.hostnames": ["example.com"], "edge.records": records})
    assert "at or under one of this stack's own names (none): the apex and the rest" in line


def test_a_cname_beside_other_records_does_not_hide_their_duplicates():
    at = "shop.example.com"
    records = [
        {"name": f"x.{at}", "type": "CNAME", "content": "a.example.net"},
        {"name": f"x.{at}", "type": "A", "content": "203.0.113.5"},
        {"name": f"x.{at}", "type": "A", "content": "203.0.113.5"},
    ]
    assert _keys(_problems("prod", {"edge.records": records})) == ["edge.records[0].type", "edge.records[2].content"]


def test_an_spf_record_is_known_by_its_strings_joined_as_rfc_7208_reads_them():
    """A resolver joins a TXT record's strings without spaces before reading `v=spf1`; so does
    the one-SPF-per-name rule (and the record's resource name, `txt-spf1`)."""
    assert _record(name="example.com", type="TXT", content='"v=sp" "f1 -all"').key() == "txt-spf1"


def test_records_under_the_frontend_hostname_are_the_stacks_own():
    frontend = {"frontend.hostname": "docs.example.com", "frontend.projectName": "docs", "edge.accountId": "a" * 32}
    records = [{"name": "_acme.docs.example.com", "type": "TXT", "content": "token"}]
    assert _problems("staging", {**frontend, "edge.records": records}) == []


def test_a_cname_conflict_names_every_other_record_at_its_name():
    records = [{"name": "x.shop.example.com", "type": t, "content": c} for t, c in (
        ("CNAME", "a.example.net"), ("A", "203.0.113.5"), ("A", "203.0.113.6"))]  # fmt: skip
    (line,) = _problems("prod", {"edge.records": records})
    assert line.endswith("(RFC 1034; here too: edge.records[1], edge.records[2])")


def test_the_slack_webhook_reaches_the_config_and_counts_as_somewhere_to_alert():
    from components.config import parse

    raw, secret_keys = harness.cli_values(
        harness.stack_config("staging", {"monitoring.enabled": True, "alertEmails": []})
    )
    with pytest.raises(ConfigError):
        parse(raw, "staging", secret_keys=secret_keys)
    hook = object()  # stands for the secret Output the program reads from webstack:slackWebhookUrl
    assert parse(raw, "staging", slack_webhook_url=hook, secret_keys=secret_keys).slack_webhook_url is hook


def test_content_longer_than_cloudflare_takes_says_how_long_it_may_be():
    (line,) = _problems("prod", {"edge.records": [{"name": "mail.example.com", "type": "TXT", "content": "x" * 2049}]})
    assert line.endswith("... (2049 characters): must be a non-empty string of at most 2048 characters")


def test_a_one_character_value_passes_where_its_format_allows_it():
    """A size in bytes (`5`) is a size nginx reads: the format, not a length, decides."""
    assert _problems("staging", {"proxy.clientMaxBodySize": "5"}) == []


def test_cron_ranges_are_croniters_and_the_busybox_subset_ours(monkeypatch):
    """The five-field syntax subset (numbers, *, -, /, ',') is our rule; whether the values are in
    range is croniter's, asked one field at a time so the message names the field."""
    from components.config import process

    assert process.cron_problem("30 3 * * *") is None
    assert process.cron_problem("0 0 * * mon").startswith("day of week 'mon'")  # croniter takes names; busybox not
    assert process.cron_problem("0 4-2 * * *") == "hour '4-2': a range from low to high"  # croniter takes it
    asked = []
    monkeypatch.setattr(process, "_cron_valid", lambda e: asked.append(e) or "25" not in e.split()[1])
    assert process.cron_problem("30 25 * * *").startswith("hour '25'")
    assert "* 25 * * *" in asked


def test_dns_names_and_record_contents_are_read_by_dnspython():
    from components.config.base import is_domain
    from components.config.dns import caa_data, is_dns_name, txt_content

    assert is_domain("example.com") and not is_domain(f"{'a' * 64}.example.com")  # label over 63 octets
    assert not is_domain(".".join(["a" * 63] * 4) + ".com")  # over 255 octets on the wire
    assert not is_domain("ex\u0430mple.com")  # a Cyrillic letter (U+0430): an IDN is written as xn--
    assert is_domain("xn--mnchen-3ya.de") and is_dns_name("_dmarc.example.com")
    assert txt_content('"\\065BC" "d\\"e"') == '"ABC" "d\\"e"'  # RFC 1035 decimal escapes, as dnspython reads them
    assert caa_data("0 issue letsencrypt.org") == {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}
