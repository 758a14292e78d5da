"""The rest of the domain: extra DNS records land as configured, in the form
Cloudflare stores, only under the stack's own names where another stack owns the zone-wide
ones; a static frontend on Cloudflare Pages exists only when configured."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.config import ConfigError
from components.config.dns import txt_content, txt_strings
from testing import contracts, harness
from tests.conftest import recorded
from tests.graph.test_edge import EXPECTED, exposure
from tools import plan

RECORD = "cloudflare:index/dnsRecord:DnsRecord"
PROJECT = "cloudflare:index/pagesProject:PagesProject"
DOMAIN = "cloudflare:index/pagesDomain:PagesDomain"
ACCOUNT = "0123456789abcdef0123456789abcdef"

# What a mail relay asks for (SendGrid domain authentication), plus the other kinds.
PROD_RECORDS = [
    {"name": "example.com", "type": "MX", "content": "mx1.mail.example.net", "priority": 10},
    {"name": "example.com", "type": "MX", "content": "MX2.mail.example.net.", "priority": 20, "ttl": 3600},
    {"name": "example.com", "type": "TXT", "content": "v=spf1 include:sendgrid.net ~all"},
    {"name": "_dmarc.example.com", "type": "TXT", "content": "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"},
    {"name": "em1234.example.com", "type": "CNAME", "content": "u1234.wl.sendgrid.net"},
    {"name": "s1._domainkey.example.com", "type": "CNAME", "content": "s1.domainkey.u1234.wl.sendgrid.net"},
    {"name": "status.example.com", "type": "CNAME", "content": "statuspage.example.net", "proxied": True},
    {"name": "example.com", "type": "CAA", "content": '0 issue "letsencrypt.org"'},
    {"name": "mail.example.com", "type": "A", "content": "203.0.113.25", "ttl": 300},
    {"name": "mail.example.com", "type": "AAAA", "content": "2001:0db8:0000:0000:0000:0000:0000:0025"},
    {"name": "google._domainkey.example.com", "type": "TXT", "content": "v=DKIM1; k=rsa; p=" + "M" * 400},
]
FRONTEND = {"hostname": "app.example.com", "productionBranch": "main"}
PROD = {"edge.records": PROD_RECORDS, "edge.accountId": ACCOUNT, "frontend": FRONTEND}
# A stack that does not own the zone, under its own names (staging.example.com).
STAGING_RECORDS = [
    {"name": "staging.example.com", "type": "MX", "content": "mx.sendgrid.net", "priority": 10},
    {"name": "staging.example.com", "type": "TXT", "content": "v=spf1 include:sendgrid.net ~all"},
    {"name": "_dmarc.staging.example.com", "type": "TXT", "content": "v=DMARC1; p=none"},
    {"name": "em123.staging.example.com", "type": "CNAME", "content": "u123.wl.sendgrid.net"},
]


@pytest.fixture(scope="module")
def prod():
    return harness.run("prod", PROD)


@pytest.fixture(scope="module")
def prod_preview():
    return harness.run("prod", PROD, preview=True)


@pytest.fixture(scope="module")
def staging():
    adopted = [{**STAGING_RECORDS[0], "import": "f" * 32}, *STAGING_RECORDS[1:]]
    frontend = {"hostname": "app-staging.example.com", "projectName": "shop-web-staging"}
    overrides = {"edge.records": adopted, "edge.zoneId": "e" * 32, "edge.accountId": ACCOUNT, "frontend": frontend}
    return harness.run("staging", overrides)


def _extra(run) -> list:
    return [r for r in run.of_type(RECORD) if "-edge-dns-" in r.name]


def _by_name_type(run) -> dict[tuple[str, str], list]:
    out: dict[tuple[str, str], list] = {}
    for r in _extra(run):
        out.setdefault((r.inputs["name"], r.inputs["type"]), []).append(r.inputs)
    return out


def _reject(stack: str, overrides: dict) -> str:
    with pytest.raises(ConfigError) as info:
        harness.run(stack, overrides)
    assert isinstance(info.value, pulumi.RunError)
    assert info.value.recorded == [], "validation must fail before any resource is registered"
    return str(info.value)


# --------------------------------------------------------------------------- records as configured


def test_records_land_as_configured(prod):
    got = _by_name_type(prod)
    assert len(_extra(prod)) == len(PROD_RECORDS)
    mx = sorted(got[("example.com", "MX")], key=lambda i: i["priority"])
    assert [(m["content"], m["priority"], m["ttl"]) for m in mx] == [
        ("mx1.mail.example.net", 10, 1),
        ("mx2.mail.example.net", 20, 3600),  # hostnames as Cloudflare stores them
    ]
    (spf,) = got[("example.com", "TXT")]
    assert spf["content"] == '"v=spf1 include:sendgrid.net ~all"'  # quoted, as Cloudflare stores TXT
    (dmarc,) = got[("_dmarc.example.com", "TXT")]
    assert dmarc["content"] == '"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"'
    (dkim,) = got[("google._domainkey.example.com", "TXT")]
    assert [len(s) for s in txt_strings(dkim["content"])] == [255, 163]  # 418 bytes, split at 255
    assert got[("em1234.example.com", "CNAME")][0]["content"] == "u1234.wl.sendgrid.net"
    (caa,) = got[("example.com", "CAA")]
    assert caa["data"] == {"flags": 0, "tag": "issue", "value": "letsencrypt.org"} and "content" not in caa
    assert [a["content"] for a in got[("mail.example.com", "A")]] == ["203.0.113.25"]
    assert got[("mail.example.com", "AAAA")][0]["content"] == "2001:db8::25"  # canonical (RFC 5952)
    for inputs in (i for group in got.values() for i in group):
        assert inputs["zoneId"] == prod.one("cloudflare:index/ruleset:Ruleset").inputs["zoneId"]
        assert ("priority" in inputs) == (inputs["type"] == "MX")
        assert inputs["proxied"] is (inputs["name"] == "status.example.com")
        if inputs["proxied"]:
            assert inputs["type"] in ("A", "AAAA", "CNAME") and inputs["ttl"] == 1
        assert inputs["ttl"] == 1 or 60 <= inputs["ttl"] <= 86400


def test_records_are_children_of_the_edge_and_replace_delete_first(prod):
    (edge,) = [r for r in prod.resources if r.type == "webstack:edge:Edge"]
    for r in _extra(prod):
        assert r.parent == edge.urn
        assert r.delete_before_replace, r.name
        assert r.name.startswith("webstack-prod-edge-dns-" + r.inputs["name"] + "-")


def test_records_meet_the_provider_contracts(prod, prod_preview, staging):
    for run in (prod, prod_preview, staging):
        violations = [v for v in contracts.check(run) if v.type == RECORD]
        assert not violations, "\n".join(map(str, violations))


def test_an_existing_record_is_adopted_with_the_zone_in_its_import_id(staging):
    adopted = [r for r in _extra(staging) if r.import_id]
    assert [(r.inputs["name"], r.inputs["type"], r.import_id) for r in adopted] == [
        ("staging.example.com", "MX", f"{'e' * 32}/{'f' * 32}")
    ]
    assert "webstack:edge.zoneId" in _reject("staging", {"edge.records": [{**STAGING_RECORDS[0], "import": "f" * 32}]})


# --------------------------------------------------------------------------- values Cloudflare takes


def test_txt_content_is_quoted_escaped_and_split_as_cloudflare_stores_it():
    assert txt_content("v=spf1 -all") == '"v=spf1 -all"'
    assert txt_content('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert txt_content('"already" "quoted"') == '"already" "quoted"'
    assert txt_content('"a"   "b"') == '"a" "b"'
    long = "x" * 600
    assert txt_content(long) == '"' + "x" * 255 + '" "' + "x" * 255 + '" "' + "x" * 90 + '"'
    assert txt_strings(txt_content(long)) == ["x" * 255, "x" * 255, "x" * 90]  # round trip
    for bad in ('"unterminated', '"a" b', "line\nbreak", '"' + "y" * 256 + '"'):
        with pytest.raises(ValueError):
            txt_strings(bad)


# (overrides of prod, the key the message must name, a word of what is allowed)
BAD = [
    ([{"name": "x.example.com", "type": "TXT", "content": "a", "ttl": 30}], "edge.records[0].ttl", "60-86400"),
    ([{"name": "x.example.com", "type": "TXT", "content": "a", "ttl": 90000}], "edge.records[0].ttl", "86400"),
    ([{"name": "x.example.com", "type": "TXT", "content": "a", "proxied": True}], "edge.records[0].proxied", "only A"),
    ([{"name": "x.example.com", "type": "CNAME", "content": "a.b.net", "proxied": True, "ttl": 300}],
     "edge.records[0].ttl", "proxied"),
    ([{"name": "example.com", "type": "MX", "content": "mx.b.net"}], "edge.records[0].priority", "set for an MX"),
    ([{"name": "example.com", "type": "MX", "content": "mx.b.net", "priority": 70000}], "edge.records[0].priority",
     "0-65535"),
    ([{"name": "example.com", "type": "TXT", "content": "a", "priority": 1}], "edge.records[0].priority", "MX only"),
    ([{"name": "x.example.com", "type": "TXT", "content": "z" * 2040}], "edge.records[0].content", "2048"),
    ([{"name": "x.example.com", "type": "TXT", "content": '"open'}], "edge.records[0].content", "double-quoted"),
    ([{"name": "example.com", "type": "CAA", "content": "0 issue"}], "edge.records[0].content", "issuewild"),
    ([{"name": "example.com", "type": "CAA", "content": '5 issue "x.org"'}], "edge.records[0].content", "0 or 128"),
    ([{"name": "x.example.com", "type": "A", "content": "300.1.1.1"}], "edge.records[0].content", "IPv4"),
    ([{"name": "x.example.com", "type": "A", "content": "10.0.0.5", "proxied": True}], "edge.records[0].content",
     "public address"),
    ([{"name": "x.example.com", "type": "SRV", "content": "a"}], "edge.records[0].type", "CNAME"),
    ([{"name": "x.example.org", "type": "TXT", "content": "a"}], "edge.records[0].name", "inside example.com"),
    ([{"name": "*.example.com", "type": "TXT", "content": "a"}], "edge.records[0].name", "inside example.com"),
    ([{"name": "www.example.com", "type": "CNAME", "content": "a.b.net"}], "edge.records[0].name", "app.hostnames"),
    ([{"name": "x.example.com", "type": "CNAME", "content": "a.b.net"},
      {"name": "x.example.com", "type": "TXT", "content": "a"}], "edge.records[0].type", "only record"),
    ([{"name": "example.com", "type": "TXT", "content": "v=spf1 -all"},
      {"name": "example.com", "type": "TXT", "content": "v=spf1 include:a.net -all"}], "edge.records[1].content",
     "merged into edge.records[0]"),
    ([{"name": "example.com", "type": "TXT", "content": "token=1"},
      {"name": "example.com", "type": "TXT", "content": '"token=1"'}], "edge.records[1].content", "identical"),
    ([{"name": "example.com", "type": "MX", "content": "mx.b.net", "priority": 1},
      {"name": "example.com", "type": "MX", "content": "mx.b.net", "priority": 2}], "edge.records[1].content",
     "one MX per mail host"),
    ([{"name": "x.example.com", "type": "TXT", "content": "a", "import": "nope"}], "edge.records[0].import", "32-hex"),
]  # fmt: skip


@pytest.mark.parametrize(("records", "key", "allowed"), BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_a_value_cloudflare_would_refuse_is_a_config_error_naming_the_key(records, key, allowed):
    message = _reject("prod", {"edge.records": records})
    assert f"webstack:{key}" in message
    assert allowed.lower() in message.lower()


# --------------------------------------------------------------------------- one owner of the zone


@pytest.mark.parametrize(
    "record",
    [
        {"name": "example.com", "type": "MX", "content": "mx.sendgrid.net", "priority": 10},
        {"name": "example.com", "type": "TXT", "content": "v=spf1 include:sendgrid.net ~all"},
        {"name": "_dmarc.example.com", "type": "TXT", "content": "v=DMARC1; p=none"},
        {"name": "em123.example.com", "type": "CNAME", "content": "u123.wl.sendgrid.net"},
        {"name": "example.com", "type": "CAA", "content": '0 issue "letsencrypt.org"'},
        # prod's name, and a name that merely ends like staging's
        {"name": "www.example.com", "type": "TXT", "content": "token"},
        {"name": "xstaging.example.com", "type": "TXT", "content": "token"},
    ],
    ids=lambda r: f"{r['type']}-{r['name']}",
)
def test_a_stack_that_does_not_own_the_zone_cannot_write_zone_wide_names(record):
    message = _reject("staging", {"edge.records": [record]})
    assert "webstack:edge.records[0].name" in message
    assert "edge.manageZoneSettings" in message and "staging.example.com" in message


def test_the_zone_owner_may_write_them(prod):
    names = {r.inputs["name"] for r in _extra(prod)}
    assert {"example.com", "_dmarc.example.com", "em1234.example.com"} <= names
    assert prod.cfg.edge.manage_zone_settings and not recorded("staging").cfg.edge.manage_zone_settings


def test_a_non_owner_writes_only_at_or_under_its_own_names(staging):
    own = staging.cfg.app.hostnames
    records = _extra(staging)
    assert len(records) == len(STAGING_RECORDS)
    for r in records:
        name = r.inputs["name"]
        assert name != staging.cfg.domain
        assert any(name == h or name.endswith("." + h) for h in own), name


def test_the_public_media_hostname_is_one_of_the_stacks_own_names():
    media = {"media": {"enabled": True, "publicHostname": "media.example.com"}}
    cname = {"name": "media.example.com", "type": "CNAME", "content": "a.b.net"}
    assert "webstack:edge.records[0].name" in _reject("prod", {**media, "edge.records": [cname]})
    message = _reject("prod", {**media, "frontend": {"hostname": "media.example.com"}, "edge.accountId": ACCOUNT})
    assert "webstack:frontend.hostname" in message and "media.publicHostname" in message


def test_claiming_the_zone_outside_prod_is_refused_too():
    message = _reject("staging", {"edge.manageZoneSettings": True, "edge.records": [PROD_RECORDS[2]]})
    assert "webstack:edge.manageZoneSettings" in message


# --------------------------------------------------------------------------- identity and replacement


def test_editing_or_removing_a_record_never_moves_another(prod):
    """Records are known by name and kind (CNAME, SPF, DMARC, DKIM) or by value (MX hosts,
    addresses, tokens): an edited SPF keeps its resource (updated in place, never two SPF
    records side by side), and removing the first MX leaves the second one's resource alone."""
    base = prod
    edited = [dict(r) for r in PROD_RECORDS[1:]]  # the first MX removed
    edited[1]["content"] = "v=spf1 include:sendgrid.net include:_spf.google.com ~all"
    edited[3]["content"] = "u9999.wl.sendgrid.net"  # the CNAME retargeted
    after = harness.run("prod", {**PROD, "edge.records": edited})
    before_names = {r.name: r for r in _extra(base)}
    after_names = {r.name: r for r in _extra(after)}
    assert set(after_names) == set(before_names) - {
        next(n for n, r in before_names.items() if r.inputs.get("content") == "mx1.mail.example.net")
    }
    spf = "webstack-prod-edge-dns-example.com-txt-spf1"
    assert after_names[spf].inputs["content"] != before_names[spf].inputs["content"]
    cname = "webstack-prod-edge-dns-em1234.example.com-cname"
    assert after_names[cname].inputs["content"] == "u9999.wl.sendgrid.net"


def test_each_records_resource_name_is_fixed_across_releases(prod):
    """A record's resource name is its identity in the state: a release of webstack that named
    it differently (another digest length, another kind label) would make `pulumi up` delete
    and recreate every extra record, MX included. These are the names the records above get,
    for good."""
    assert sorted(r.name.removeprefix("webstack-prod-edge-dns-") for r in _extra(prod)) == [
        "_dmarc.example.com-txt-dmarc1",
        "em1234.example.com-cname",
        "example.com-caa-issue-f2bb7bab",
        "example.com-mx-9f63eb86",
        "example.com-mx-fcb178bb",
        "example.com-txt-spf1",
        "google._domainkey.example.com-txt-dkim",
        "mail.example.com-a-dea458f3",
        "mail.example.com-aaaa-8443c3e9",
        "s1._domainkey.example.com-cname",
        "status.example.com-cname",
    ]


# --------------------------------------------------------------------------- the frontend


def test_no_frontend_unless_configured(run):
    assert run.of_type(PROJECT) == [] and run.of_type(DOMAIN) == []
    assert run.exports["frontend_url"].value is None and run.exports["frontend_project"].value is None


def test_frontend_is_a_pages_project_with_its_domain_and_a_proxied_cname(prod, prod_preview):
    for run in (prod, prod_preview):
        project, domain = run.one(PROJECT), run.one(DOMAIN)
        assert project.inputs == {"accountId": ACCOUNT, "name": "example-com-prod", "productionBranch": "main"}
        assert "source" not in project.inputs  # direct upload: `wrangler pages deploy`
        assert domain.inputs == {"accountId": ACCOUNT, "projectName": "example-com-prod", "name": "app.example.com"}
        assert domain.delete_before_replace and project.urn in domain.property_dependencies["projectName"]
        (cname,) = [r for r in run.of_type(RECORD) if r.inputs["name"] == "app.example.com"]
        assert cname.inputs["type"] == "CNAME" and cname.inputs["proxied"] is True and cname.inputs["ttl"] == 1
        assert domain.urn in cname.dependencies, "the domain is attached before the CNAME points at Pages"
        assert project.urn in cname.property_dependencies["content"] and cname.delete_before_replace
    (cname,) = [r for r in prod.of_type(RECORD) if r.inputs["name"] == "app.example.com"]
    assert cname.inputs["content"] == "example-com-prod.pages.dev"  # the project's subdomain output
    assert prod.exports["frontend_url"].value == "https://app.example.com"
    assert prod.exports["frontend_project"].value == "example-com-prod"


@pytest.mark.parametrize(
    ("stack", "overrides", "key", "allowed"),
    [
        ("prod", {"frontend": FRONTEND}, "edge.accountId", "set with frontend"),
        ("prod", {"frontend": {"projectName": "shop-web"}, "edge.accountId": ACCOUNT}, "frontend.hostname",
         "set when frontend is configured"),
        ("prod", {"frontend": {"hostname": "www.example.com"}, "edge.accountId": ACCOUNT}, "frontend.hostname",
         "app.hostnames"),
        ("prod", {"frontend": {"hostname": "app.example.org"}, "edge.accountId": ACCOUNT}, "frontend.hostname",
         "inside example.com"),
        ("staging", {"frontend": {"hostname": "example.com"}, "edge.accountId": ACCOUNT}, "frontend.hostname",
         "manageZoneSettings"),
        ("prod", {"frontend": {**FRONTEND, "projectName": "Shop_Web"}, "edge.accountId": ACCOUNT},
         "frontend.projectName", "Pages project name"),
        ("prod", {**PROD, "edge.records": [{"name": "app.example.com", "type": "TXT", "content": "a"}]},
         "edge.records[0].name", "frontend.hostname"),
    ],
)  # fmt: skip
def test_frontend_config_errors_name_the_key(stack, overrides, key, allowed):
    message = _reject(stack, overrides)
    assert f"webstack:{key}" in message and allowed.lower() in message.lower()


def test_a_non_owner_may_have_a_frontend_under_its_own_name(staging):
    assert staging.one(PROJECT).inputs["name"] == "shop-web-staging"
    assert staging.one(DOMAIN).inputs["name"] == "app-staging.example.com"
    assert staging.exports["frontend_url"].value == "https://app-staging.example.com"


# --------------------------------------------------------------------------- the rest still holds


def test_no_secret_and_no_new_exposure(prod, prod_preview, staging):
    for run in (prod, prod_preview, staging):
        for r in run.resources:
            if r.type in (RECORD, PROJECT, DOMAIN):
                assert not r.secret_paths and harness.SECRET_MARK not in json.dumps(r.inputs), r.name
        for name, export in run.exports.items():
            assert export.secret or harness.SECRET_MARK not in json.dumps(export.value), name
    assert exposure(prod) == EXPECTED["prod"]
    assert exposure(staging) == EXPECTED["staging"]


def test_the_plan_prices_and_times_the_new_types(prod):
    p = plan.build(prod)
    assert p["total_resources"] == sum(1 for r in prod.resources if r.custom)
    assert {PROJECT, DOMAIN} <= set(plan.PRICES["billing"]) and {PROJECT, DOMAIN} <= set(plan.DURATIONS["seconds"])
