"""`make doctor` (tools/doctor.py): every check against a fake outside world.

FakeProbes answers HTTP from recorded API responses (shapes as DigitalOcean's, Cloudflare's
and a registry's APIs answer: https://docs.digitalocean.com/reference/api/,
https://developers.cloudflare.com/api/, the distribution token spec), lists the agent's keys
as `ssh-add -L` prints them and the zone's NS as a resolver would. Each test breaks one thing
and checks that exactly that check fails, saying what and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from testing import harness
from tools import doctor

DO_TOKEN = "dop_v1_" + "a" * 64
CF_TOKEN = "cf-token-" + "b" * 31
SPACES_ID = "DO00ABCDEFGHJKLMNPQR"
ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353"
PROD_KEY = harness.parsed_config("prod").ssh_public_keys[0]

ACCOUNT = {
    "account": {
        "droplet_limit": 25,
        "floating_ip_limit": 3,
        "email": "ops@example.com",
        "name": "Example Ops",
        "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
        "email_verified": True,
        "status": "active",
        "status_message": "",
        "team": {"uuid": "5df3e3004a17e242b7c20ca6c9fc25b701a47ece", "name": "Example"},
    }
}
SPACES_KEYS = {
    "keys": [
        {"name": "webstack-deploy", "access_key": SPACES_ID, "grants": [{"bucket": "", "permission": "fullaccess"}],
         "created_at": "2026-11-01T10:00:00Z"},
    ],
    "links": {},
    "meta": {"total": 1},
}  # fmt: skip
VERIFY = {
    "result": {"id": "ed17574386854bf78a67040be0a770b0", "status": "active"},
    "success": True,
    "errors": [],
    "messages": [{"code": 10000, "message": "This API Token is valid and active", "type": None}],
}
ZONES = {
    "result": [{"id": ZONE_ID, "name": "example.com", "status": "active",
                "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]}],
    "success": True,
}  # fmt: skip
SPACES = "https://nyc3.digitaloceanspaces.com/"
LIST_BUCKETS = (
    '<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Owner><ID>6174283</ID><DisplayName>6174283</DisplayName></Owner><Buckets></Buckets></ListAllMyBucketsResult>"
)
SIGNATURE_MISMATCH = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>'
    "<RequestId>tx00000b5e3c9a1f</RequestId><HostId>6174283-nyc3a</HostId></Error>"
)
GHCR_TOKEN = "https://ghcr.io/token?service=ghcr.io&scope=repository%3Aexample%2Fshop%3Apull"
GHCR_CHALLENGE = 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"'


class FakeProbes:
    def __init__(self):
        self.envs = {
            "DIGITALOCEAN_TOKEN": DO_TOKEN,
            "CLOUDFLARE_API_TOKEN": CF_TOKEN,
            "SPACES_ACCESS_KEY_ID": SPACES_ID,
            "SPACES_SECRET_ACCESS_KEY": "s" * 43,
        }
        self.routes: dict[tuple[str, str], doctor.Response] = {}
        self.keys: list[str] | None = [PROD_KEY, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherOther someone@laptop"]
        self.ns = ["ada.ns.cloudflare.com.", "bob.ns.cloudflare.com."]
        self.secrets: dict[str, str] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.answer("GET", f"{doctor.DO_API}/v2/account", 200, ACCOUNT)
        for path in doctor.DO_READS.values():
            self.answer("GET", f"{doctor.DO_API}{path}?per_page=1", 200, {"meta": {"total": 0}})
        self.answer("GET", f"{doctor.DO_API}/v2/spaces/keys?per_page=200", 200, SPACES_KEYS)
        self.answer("GET", f"{doctor.CF_API}/user/tokens/verify", 200, VERIFY)
        self.answer("GET", f"{doctor.CF_API}/zones?name=example.com", 200, ZONES)
        self.answer(
            "GET", f"{doctor.CF_API}/zones/{ZONE_ID}/dns_records?per_page=1", 200, {"result": [], "success": True}
        )
        self.answer("GET", doctor.MY_ADDRESS, 200, {"ip": "198.51.100.17"})
        self.answer("GET", "https://ghcr.io/v2/", 401, {"errors": [{"code": "UNAUTHORIZED"}]},
                    {"www-authenticate": GHCR_CHALLENGE})  # fmt: skip
        self.answer("GET", GHCR_TOKEN, 200,
                    {"token": "djE6ZXhhbXBsZS9zaG9wOjE3"})  # fmt: skip
        self.answer("HEAD", "https://ghcr.io/v2/example/shop/manifests/1.4.2", 200, None)
        self.xml("GET", SPACES, 200, LIST_BUCKETS)

    def answer(self, method, url, status, body, headers=None):
        raw = b"" if body is None else json.dumps(body).encode()
        self.routes[(method, url)] = doctor.Response(status, headers or {}, raw)

    def xml(self, method, url, status, body):
        self.routes[(method, url)] = doctor.Response(status, {"content-type": "application/xml"}, body.encode())

    def env(self, name):
        return self.envs.get(name)

    def now(self):
        return dt.datetime(2026, 12, 7, 10, 0, 0, tzinfo=dt.UTC)

    def http(self, method, url, headers):
        self.requests.append((method, url, headers))
        return self.routes.get((method, url), doctor.Response(404, {}, b"{}"))

    def agent_keys(self):
        return self.keys

    def nameservers(self, domain):
        assert domain == "example.com"
        return self.ns

    def secret(self, stack, path):
        return self.secrets.get(path)


def _results(probes, stack="prod", overrides=None) -> dict[str, doctor.Result]:
    cfg = harness.parsed_config(stack, overrides)
    return {r.name: r for r in doctor.run(cfg, stack, probes)}


def _failing(results) -> list[str]:
    return [name for name, r in results.items() if not r.ok]


def test_everything_in_order_passes_and_says_so(capsys):
    p = FakeProbes()
    assert doctor.main(["--stack", "prod"], probes=p) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == len(doctor.CHECKS) and "FAIL" not in out
    assert "7 of 7 checks pass" in out
    # The tokens travel only to their own APIs.
    for _, url, headers in p.requests:
        sent = json.dumps(headers)
        assert (DO_TOKEN in sent) == url.startswith(doctor.DO_API), url
        assert (CF_TOKEN in sent) == url.startswith(doctor.CF_API), url
    assert DO_TOKEN not in out and CF_TOKEN not in out


@pytest.mark.parametrize(
    ("breakage", "check", "said", "fix"),
    [
        (
            lambda p: p.envs.pop("DIGITALOCEAN_TOKEN"),
            "digitalocean-token",
            "DIGITALOCEAN_TOKEN is not set",
            "export DIGITALOCEAN_TOKEN",
        ),
        (
            lambda p: p.answer("GET", f"{doctor.DO_API}/v2/account", 401, {"id": "unauthorized"}),
            "digitalocean-token",
            "rejects the token",
            "cloud.digitalocean.com/account/api/tokens",
        ),
        (
            lambda p: p.answer("GET", f"{doctor.DO_API}/v2/databases?per_page=1", 403, {"id": "forbidden"}),
            "digitalocean-token",
            "lacks the scopes database:read",
            "create a token with those scopes",
        ),
        (
            lambda p: p.envs.pop("SPACES_SECRET_ACCESS_KEY"),
            "spaces-keys",
            "must both be set",
            "doctl spaces keys create",
        ),
        (
            lambda p: p.envs.update(SPACES_ACCESS_KEY_ID="DO00ZZZZZZZZZZZZZZZZ"),
            "spaces-keys",
            "no Spaces key DO00ZZZZZZZZZZZZZZZZ",
            "permission=fullaccess",
        ),
        (
            lambda p: p.answer(
                "GET",
                f"{doctor.DO_API}/v2/spaces/keys?per_page=200",
                200,
                {"keys": [{**SPACES_KEYS["keys"][0], "grants": [{"bucket": "media", "permission": "read"}]}]},
            ),
            "spaces-keys",
            "grants media:read",
            "permission=fullaccess",
        ),
        (
            lambda p: p.answer("GET", f"{doctor.CF_API}/user/tokens/verify", 401, {"success": False, "result": None}),
            "cloudflare-token",
            "does not accept the token",
            "dash.cloudflare.com/profile/api-tokens",
        ),
        (
            lambda p: p.answer("GET", f"{doctor.CF_API}/zones?name=example.com", 200, {"result": [], "success": True}),
            "cloudflare-token",
            "cannot see the zone example.com",
            "Zone:Read",
        ),
        (
            lambda p: p.xml("GET", SPACES, 403, SIGNATURE_MISMATCH),
            "spaces-keys",
            "Spaces refuses the key pair (SignatureDoesNotMatch)",
            "doctl spaces keys create",
        ),
        (lambda p: setattr(p, "keys", None), "ssh-agent", "no ssh-agent answers", "ssh-add"),
        (lambda p: setattr(p, "keys", p.keys[1:]), "ssh-agent", "none of sshPublicKeys", "deploy-prod@example.com"),
        (
            lambda p: p.answer("GET", doctor.MY_ADDRESS, 200, {"ip": "192.0.2.44"}),
            "trusted-address",
            "192.0.2.44 is outside sshTrustedCidrs",
            "pulumi config set --path 'webstack:sshTrustedCidrs[2]' 192.0.2.44/32 --stack prod",
        ),
        (
            lambda p: setattr(p, "ns", ["ns1.registrar-servers.com."]),
            "zone-nameservers",
            "not Cloudflare's",
            "set the nameservers",
        ),
        (
            lambda p: p.answer("HEAD", "https://ghcr.io/v2/example/shop/manifests/1.4.2", 404, None),
            "registry-pull",
            "is not found",
            "docker pull ghcr.io/example/shop:1.4.2",
        ),
        (
            lambda p: p.answer("GET", GHCR_TOKEN, 403, {"errors": []}),
            "registry-pull",
            "refused a pull of example/shop",
            "app.registry",
        ),
    ],
)
def test_each_check_notices_its_problem_and_names_the_fix(breakage, check, said, fix, capsys):
    p = FakeProbes()
    breakage(p)
    results = _results(p)
    # Spaces keys are looked up with the DigitalOcean token: without one that check fails too.
    alone = [check, "spaces-keys"] if "DIGITALOCEAN_TOKEN is not set" in said else [check]
    assert _failing(results) == alone
    assert said in results[check].detail
    assert fix in results[check].fix
    assert doctor.main(["--stack", "prod"], probes=p) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {check}" in out and "fix: " in out


def test_a_token_registry_sends_the_stack_credentials_to_the_token_endpoint_only():
    p = FakeProbes()
    p.secrets["webstack:app.registry.password"] = "ghp_" + "c" * 36
    registry = {"kind": "token", "server": "ghcr.io", "username": "deployer", "password": {"secure": "v1:AAAA"}}
    results = _results(p, overrides={"app.registry": registry})
    assert _failing(results) == []
    (token_call,) = [r for r in p.requests if r[1].startswith("https://ghcr.io/token")]
    assert token_call[2]["Authorization"].startswith("Basic ")
    manifest = next(r for r in p.requests if r[0] == "HEAD")
    assert manifest[2]["Authorization"] == "Bearer djE6ZXhhbXBsZS9zaG9wOjE3"
    assert all("ghp_" not in json.dumps(r) for r in p.requests if r is not token_call)
    # Without the Automation API (no CLI) the password is unknown: the check says so.
    p.secrets.clear()
    results = _results(p, overrides={"app.registry": registry})
    assert _failing(results) == ["registry-pull"]
    assert "cannot read app.registry.password" in results["registry-pull"].detail


def test_credentials_go_to_no_token_endpoint_off_the_registrys_domain():
    p = FakeProbes()
    p.secrets["webstack:app.registry.password"] = "ghp_" + "c" * 36
    p.answer("GET", "https://ghcr.io/v2/", 401, None, {"www-authenticate": 'Bearer realm="https://evil.example/token"'})
    registry = {"kind": "token", "server": "ghcr.io", "username": "deployer", "password": {"secure": "v1:AAAA"}}
    results = _results(p, overrides={"app.registry": registry})
    assert "credentials not sent" in results["registry-pull"].detail
    assert all("ghp_" not in json.dumps(r) and "evil" not in r[1] for r in p.requests)
    assert doctor._same_site("https://auth.docker.io/token", "registry-1.docker.io")
    assert doctor._same_site("https://api.digitalocean.com/v2/registry/auth", "registry.digitalocean.com")
    assert not doctor._same_site("http://ghcr.io/token", "ghcr.io")
    assert not doctor._same_site("https://ghcr.io.evil.example/token", "ghcr.io")


def test_a_request_with_credentials_follows_no_redirect():
    handler = doctor._NoRedirect()
    assert handler.redirect_request(None, None, 302, "Found", {}, "https://elsewhere.example/") is None


def test_an_open_registry_needs_no_token():
    p = FakeProbes()
    p.answer("GET", "https://ghcr.io/v2/", 200, {})
    p.answer("HEAD", "https://ghcr.io/v2/example/shop/manifests/1.4.2", 200, None)
    assert _failing(_results(p)) == []
    assert not any("ghcr.io/token" in url for _, url, _ in p.requests)


def test_an_invalid_config_or_no_stack_is_reported_before_any_check(monkeypatch, capsys, tmp_path):
    p = FakeProbes()
    assert doctor.main(["--stack", "nope"], probes=p) == 2
    assert "no stack file for 'nope'; stacks: dev, prod, staging" in capsys.readouterr().err
    bad = tmp_path / "Pulumi.x.yaml"
    bad.write_text("config:\n  webstack:region: nyc3\n")
    monkeypatch.setattr(harness, "stack_path", lambda stack: bad)
    assert doctor.main(["--stack", "x"], probes=p) == 2
    assert "the config of stack x is invalid" in capsys.readouterr().err
    assert p.requests == []


def test_the_real_agent_probe_reads_ssh_add(tmp_path, monkeypatch):
    """RealProbes.agent_keys: no agent (exit 2) is None; a listing is its lines."""
    fake = tmp_path / "ssh-add"
    fake.write_text(f'#!/bin/sh\n[ -n "$NO_AGENT" ] && exit 2\necho "{PROD_KEY}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert doctor.RealProbes().agent_keys() == [PROD_KEY]
    monkeypatch.setenv("NO_AGENT", "1")
    assert doctor.RealProbes().agent_keys() is None


def test_the_spaces_secret_is_only_a_signature_on_the_wire():
    """AWS Signature Version 4 as AWS's own test suite signs its `get-vanilla` request
    (aws-sig-v4-test-suite: AKIDEXAMPLE, 20150830T123600Z, us-east-1, service), and the doctor's
    ListBuckets carries the signature, never the secret."""
    vanilla = doctor.sigv4_headers(
        "GET", "https://example.amazonaws.com/", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "us-east-1", "service", dt.datetime(2015, 8, 30, 12, 36, 0),
    )  # fmt: skip
    assert vanilla["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )
    p = FakeProbes()
    assert _failing(_results(p)) == []
    (call,) = [r for r in p.requests if r[1] == SPACES]
    assert call[2]["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={SPACES_ID}/20261207/nyc3/s3/aws4_request")
    assert p.envs["SPACES_SECRET_ACCESS_KEY"] not in json.dumps(p.requests)
