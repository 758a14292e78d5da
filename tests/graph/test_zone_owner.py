"""Edge promises: who owns the zone-wide settings is config (edge.manageZoneSettings),
not a side effect of `protect`."""

from __future__ import annotations

from tests.conftest import recorded, recorded_with

SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
RULESET = "cloudflare:index/ruleset:Ruleset"


def test_the_zone_owner_is_chosen_by_config_not_by_protect():
    owner = recorded("prod")
    assert owner.cfg.protect and owner.cfg.edge.manage_zone_settings
    assert owner.of_type(SETTING) and len(owner.of_type(RULESET)) == 1
    # A protected prod stack that leaves the zone to another owner touches no zone-wide state.
    guest = recorded_with("prod", {"edge.manageZoneSettings": False})
    assert guest.cfg.protect
    assert guest.of_type(SETTING) == [] and guest.of_type(RULESET) == []
    assert {r.inputs["name"] for r in guest.of_type("cloudflare:index/dnsRecord:DnsRecord")} >= set(
        guest.cfg.app.hostnames
    )


def test_the_zone_hsts_and_the_auth_rate_limit_follow_config():
    run = recorded_with(
        "prod",
        {"edge.hstsMaxAge": 20000000, "edge.rateLimitRequests": 9, "app.authPaths": ["/signin", "/api/token/"]},
    )
    (hsts,) = [s for s in run.of_type(SETTING) if s.inputs["settingId"] == "security_header"]
    assert hsts.inputs["value"]["strict_transport_security"]["max_age"] == 20000000
    (rule,) = run.one(RULESET).inputs["rules"]
    assert rule["ratelimit"]["requestsPerPeriod"] == 9
    assert rule["expression"] == (
        '(starts_with(http.request.uri.path, "/signin")) or (starts_with(http.request.uri.path, "/api/token/"))'
    )


def test_the_stack_finds_its_zone_by_the_configured_domain_and_only_without_a_zone_id():
    """Records land in the zone named `domain` (an exact lookup), or in `edge.zoneId` unlooked."""
    run = recorded("prod")
    zone_lookups = [args for token, args in run.invokes if token == "cloudflare:index/getZone:getZone"]
    assert zone_lookups == [{"filter": {"name": "example.com", "match": "all"}}]
    zone = "0123456789abcdef0123456789abcdef"
    pinned = recorded_with("prod", {"edge.zoneId": zone})
    assert [t for t, _ in pinned.invokes if t == "cloudflare:index/getZone:getZone"] == []
    assert {r.inputs["zoneId"] for r in pinned.of_type("cloudflare:index/dnsRecord:DnsRecord")} == {zone}


def test_hsts_covers_subdomains_sends_nosniff_and_never_asks_for_preload():
    """Preload puts the domain in browsers' built-in lists, which takes months to undo: it is
    the owner's decision, never the stack's."""
    (hsts,) = [s for s in recorded("prod").of_type(SETTING) if s.inputs["settingId"] == "security_header"]
    assert hsts.inputs["value"]["strict_transport_security"] == {
        "enabled": True,
        "max_age": recorded("prod").cfg.edge.hsts_max_age,
        "include_subdomains": True,
        "nosniff": True,
        "preload": False,
    }


def test_every_record_the_stack_manages_says_so_in_the_dashboard():
    """Someone editing DNS by hand in Cloudflare sees which records the next `pulumi up` resets."""
    run = recorded_with("prod", {"edge.records": [{"name": "example.com", "type": "TXT", "content": "v=spf1 -all"}]})
    records = run.of_type("cloudflare:index/dnsRecord:DnsRecord")
    assert {r.inputs["type"] for r in records} == {"A", "TXT"}
    assert {r.inputs["comment"] for r in records} == {"managed by webstack"}


def test_a_deeper_hostname_keeps_the_record_name_of_the_last_release():
    """The A record of api.eu.example.com is `<edge>-api-eu`, as it always was: another name
    would replace the record (a moment without DNS) on the next up."""
    run = recorded_with(
        "prod", {"edge.advancedCertificate": True, "app.hostnames": ["example.com", "api.eu.example.com"]}
    )
    names = {r.inputs["name"]: r.name for r in run.of_type("cloudflare:index/dnsRecord:DnsRecord")}
    assert names == {"example.com": "webstack-prod-edge-apex", "api.eu.example.com": "webstack-prod-edge-api-eu"}
