"""`make doctor STACK=prod`: check what a deploy needs before `pulumi up` finds out the hard way.

    python -m tools.doctor --stack prod

Each check prints `ok` or `FAIL` with what is wrong and the command that fixes it; the exit
code is 1 when any check fails. The checks (README "Running it for real" lists them by hand):

  digitalocean-token  DIGITALOCEAN_TOKEN is set, the account is active, and the token may read
                      every kind of resource the stack manages (GET /v2/account and one list
                      per kind; a 403 names the missing scope). Write scopes cannot be checked
                      without writing, so a read-only token passes this check.
  spaces-keys         SPACES_ACCESS_KEY_ID/SECRET are set, the key exists in the account with
                      full access (GET /v2/spaces/keys): the stack creates its buckets; and the
                      secret signs a ListBuckets Spaces accepts (AWS Signature Version 4).
  cloudflare-token    CLOUDFLARE_API_TOKEN is active (GET /user/tokens/verify) and reads the
                      zone of `domain` and its DNS records.
  ssh-agent           `ssh-add -L` lists a key of sshPublicKeys (pulumi up reaches the droplets
                      over ssh with the agent).
  trusted-address     this machine's public address (https://api.ipify.org) is inside
                      sshTrustedCidrs (the droplets' firewall lets ssh in from there only).
  zone-nameservers    the domain's NS records (dnspython) are Cloudflare's.
  registry-pull       the registry's token endpoint grants a pull of app.image's repository with
                      the stack's credentials, and the manifest of the tag is there
                      (https://distribution.github.io/distribution/spec/auth/token/).

Everything that reaches the outside world goes through one `Probes` object (HTTP, the agent's
keys, DNS, a secret config value); the tests hand in a fake with recorded API answers. The
stack's config is read offline from Pulumi.<stack>.yaml, validated (testing/harness.py);
only the registry password of a `token` registry is read through the Automation API
(tools/stackapi.py), used for the token request and printed nowhere.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from components.config.process import DOCKER_HUB, image_registry

DO_API = "https://api.digitalocean.com"
CF_API = "https://api.cloudflare.com/client/v4"
MY_ADDRESS = "https://api.ipify.org?format=json"
CLOUDFLARE_NS = re.compile(r".+\.ns\.cloudflare\.com\.?", re.I)
DO_TOKENS = "https://cloud.digitalocean.com/account/api/tokens"
CF_TOKENS = "https://dash.cloudflare.com/profile/api-tokens"
# List endpoints the stack's resources live behind, and the scope each needs
# (https://docs.digitalocean.com/reference/api/scopes/).
DO_READS = {
    "droplet:read": "/v2/droplets",
    "vpc:read": "/v2/vpcs",
    "firewall:read": "/v2/firewalls",
    "load_balancer:read": "/v2/load_balancers",
    "database:read": "/v2/databases",
    "project:read": "/v2/projects",
    "tag:read": "/v2/tags",
    "reserved_ip:read": "/v2/reserved_ips",
    "ssh_key:read": "/v2/account/keys",
    "monitoring:read": "/v2/monitoring/alerts",
    "uptime:read": "/v2/uptime/checks",
    "spaces_key:read": "/v2/spaces/keys",
}
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except json.JSONDecodeError:
            return None


class Probes(Protocol):
    def env(self, name: str) -> str | None: ...
    def http(self, method: str, url: str, headers: dict[str, str]) -> Response: ...
    def agent_keys(self) -> list[str] | None: ...
    def nameservers(self, domain: str) -> list[str]: ...
    def secret(self, stack: str, path: str) -> str | None: ...
    def now(self) -> dt.datetime: ...


@dataclass
class Result:
    name: str
    ok: bool
    detail: str
    fix: str = ""


# --------------------------------------------------------------------------- the real world


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx, which http() returns


_OPENER = urllib.request.build_opener()


class RealProbes:
    """HTTP with urllib, `ssh-add -L`, dnspython, the Automation API for a secret."""

    def env(self, name: str) -> str | None:
        return os.environ.get(name) or None

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def http(self, method: str, url: str, headers: dict[str, str]) -> Response:
        request = urllib.request.Request(url, method=method, headers=headers)
        # urllib carries every header across a redirect, to any host: a request holding
        # credentials follows none (the 3xx comes back as the answer).
        opener = urllib.request.build_opener(_NoRedirect) if "Authorization" in headers else _OPENER
        try:
            with opener.open(request, timeout=20) as r:
                return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            return Response(0, {}, str(e).encode())

    def agent_keys(self) -> list[str] | None:
        try:
            done = subprocess.run(["ssh-add", "-L"], capture_output=True, text=True, timeout=10, check=False)
        except FileNotFoundError:
            return None
        if done.returncode == 2:  # no agent to talk to
            return None
        return [line for line in done.stdout.splitlines() if line.strip() and " " in line]

    def nameservers(self, domain: str) -> list[str]:
        import dns.exception
        import dns.resolver

        try:
            return [r.target.to_text() for r in dns.resolver.resolve(domain, "NS", lifetime=10)]
        except dns.exception.DNSException:
            return []

    def secret(self, stack: str, path: str) -> str | None:
        from tools import stackapi

        try:
            return stackapi.secret_config(stack, path)
        except stackapi.StackApiError:
            return None


# --------------------------------------------------------------------------- AWS SigV4

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def sigv4_headers(
    method: str, url: str, key_id: str, secret: str, region: str, service: str, now: dt.datetime
) -> dict[str, str]:
    """Headers of a body-less request signed with AWS Signature Version 4, which Spaces takes
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html): the secret
    key never leaves this machine, only a signature made with it."""
    parts = urllib.parse.urlsplit(url)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    )
    signed = "host;x-amz-date"
    canonical = "\n".join(
        [method, parts.path or "/", query, f"host:{parts.netloc}", f"x-amz-date:{stamp}", "", signed, EMPTY_SHA256]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "x-amz-date": stamp,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}",
    }


# --------------------------------------------------------------------------- checks


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def check_digitalocean(cfg, stack: str, p: Probes) -> Result:
    name = "digitalocean-token"
    token = p.env("DIGITALOCEAN_TOKEN")
    fix = f"create a token with read and write access at {DO_TOKENS}, then: export DIGITALOCEAN_TOKEN=<token>"
    if not token:
        return Result(name, False, "DIGITALOCEAN_TOKEN is not set", fix)
    account = p.http("GET", f"{DO_API}/v2/account", _bearer(token))
    if account.status == 401:
        return Result(name, False, "DigitalOcean rejects the token (401: expired, revoked or mistyped)", fix)
    if account.status != 200:
        return Result(
            name, False, f"GET /v2/account answered {account.status}", "retry; https://status.digitalocean.com"
        )
    status = ((account.json() or {}).get("account") or {}).get("status")
    if status != "active":
        return Result(
            name,
            False,
            f"the account is {status!r}, not active",
            "resolve it at https://cloud.digitalocean.com/account",
        )
    missing = [
        scope
        for scope, path in DO_READS.items()
        if p.http("GET", f"{DO_API}{path}?per_page=1", _bearer(token)).status == 403
    ]
    if missing:
        return Result(
            name,
            False,
            f"the token lacks the scopes {', '.join(missing)} (a custom-scoped token)",
            f"create a token with those scopes and their create/update/delete at {DO_TOKENS}",
        )
    return Result(name, True, "active account; reads every kind of resource the stack manages (write scopes unchecked)")


def check_spaces(cfg, stack: str, p: Probes) -> Result:
    name = "spaces-keys"
    key_id, secret = p.env("SPACES_ACCESS_KEY_ID"), p.env("SPACES_SECRET_ACCESS_KEY")
    fix = (
        "doctl spaces keys create webstack-deploy --grants 'bucket=;permission=fullaccess', then export "
        "SPACES_ACCESS_KEY_ID=<access key> SPACES_SECRET_ACCESS_KEY=<secret key>"
    )
    if not key_id or not secret:
        return Result(name, False, "SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY must both be set", fix)
    token = p.env("DIGITALOCEAN_TOKEN")
    if not token:
        return Result(name, False, "cannot look the key up without DIGITALOCEAN_TOKEN", "see digitalocean-token")
    found = p.http("GET", f"{DO_API}/v2/spaces/keys?per_page=200", _bearer(token))
    if found.status != 200:
        return Result(
            name, False, f"GET /v2/spaces/keys answered {found.status}", "give the token the spaces_key:read scope"
        )
    keys = {k.get("access_key"): k for k in (found.json() or {}).get("keys") or []}
    if key_id not in keys:
        return Result(name, False, f"no Spaces key {key_id} in this account (deleted, or another account's)", fix)
    grants = keys[key_id].get("grants") or []
    if not any(g.get("permission") == "fullaccess" for g in grants):
        held = ", ".join(f"{g.get('bucket') or '*'}:{g.get('permission')}" for g in grants) or "none"
        return Result(
            name, False, f"Spaces key {key_id} has grants {held}; the stack creates buckets (full access)", fix
        )
    # The secret: a ListBuckets signed with it (S3 error codes: InvalidAccessKeyId, SignatureDoesNotMatch).
    url = f"https://{cfg.region}.digitaloceanspaces.com/"
    listed = p.http("GET", url, sigv4_headers("GET", url, key_id, secret, cfg.region, "s3", p.now()))
    if listed.status != 200:
        code = re.search(rb"<Code>([A-Za-z]+)</Code>", listed.body)
        said = code[1].decode() if code else f"HTTP {listed.status}"
        return Result(
            name, False, f"Spaces refuses the key pair ({said}): SPACES_SECRET_ACCESS_KEY is not {key_id}'s", fix
        )
    return Result(name, True, f"Spaces key {key_id} ({keys[key_id].get('name')}) with full access; its secret signs")


def check_cloudflare(cfg, stack: str, p: Probes) -> Result:
    name = "cloudflare-token"
    token = p.env("CLOUDFLARE_API_TOKEN")
    fix = (
        f"create a token with Zone:Read, DNS:Edit, Zone Settings:Edit and SSL and Certificates:Edit "
        f"for {cfg.domain} at {CF_TOKENS}, then: export CLOUDFLARE_API_TOKEN=<token>"
    )
    if not token:
        return Result(name, False, "CLOUDFLARE_API_TOKEN is not set", fix)
    verify = p.http("GET", f"{CF_API}/user/tokens/verify", _bearer(token))
    status = ((verify.json() or {}).get("result") or {}).get("status")
    if verify.status != 200 or status != "active":
        return Result(
            name, False, f"Cloudflare does not accept the token (HTTP {verify.status}, status {status!r})", fix
        )
    zones = p.http("GET", f"{CF_API}/zones?name={urllib.parse.quote(cfg.domain)}", _bearer(token))
    result = (zones.json() or {}).get("result") or []
    if zones.status != 200 or not result:
        return Result(name, False, f"the token cannot see the zone {cfg.domain} (Zone:Read for it)", fix)
    zone_id = result[0].get("id")
    records = p.http("GET", f"{CF_API}/zones/{zone_id}/dns_records?per_page=1", _bearer(token))
    if records.status != 200:
        return Result(
            name, False, f"the token cannot read the DNS records of {cfg.domain} (HTTP {records.status})", fix
        )
    return Result(name, True, f"active; zone {cfg.domain} ({result[0].get('status')}) and its DNS records readable")


def _key_id(line: str) -> tuple[str, str]:
    parts = line.split()
    return (parts[0], parts[1]) if len(parts) >= 2 else ("", "")


def check_ssh_agent(cfg, stack: str, p: Probes) -> Result:
    name = "ssh-agent"
    wanted = {_key_id(k): k for k in cfg.ssh_public_keys}
    comments = ", ".join(" ".join(k.split()[2:]) or k.split()[0] for k in cfg.ssh_public_keys)
    fix = f'eval "$(ssh-agent -s)" && ssh-add <private key of one of: {comments}>'
    held = p.agent_keys()
    if held is None:
        return Result(name, False, "no ssh-agent answers (SSH_AUTH_SOCK unset or stale)", fix)
    matching = [wanted[_key_id(k)] for k in held if _key_id(k) in wanted]
    if not matching:
        return Result(name, False, f"the agent holds {len(held)} key(s), none of sshPublicKeys", fix)
    return Result(name, True, f"the agent holds {' '.join(matching[0].split()[2:]) or 'a key'} of sshPublicKeys")


def check_address(cfg, stack: str, p: Probes) -> Result:
    name = "trusted-address"
    answer = p.http("GET", MY_ADDRESS, {"Accept": "application/json"})
    try:
        ip = ipaddress.ip_address(str((answer.json() or {}).get("ip")))
    except ValueError:
        return Result(
            name,
            False,
            f"could not learn this machine's public address (HTTP {answer.status})",
            "check the network, then retry",
        )
    cidrs = [ipaddress.ip_network(c, strict=False) for c in cfg.ssh_trusted_cidrs]
    if any(ip in c for c in cidrs):
        return Result(name, True, f"{ip} is inside sshTrustedCidrs")
    suffix = "/32" if ip.version == 4 else "/128"
    return Result(
        name,
        False,
        f"this machine's address {ip} is outside sshTrustedCidrs ({', '.join(map(str, cidrs))}): "
        "ssh to the droplets is refused",
        f"pulumi config set --path 'webstack:sshTrustedCidrs[{len(cidrs)}]' {ip}{suffix} --stack {stack} "
        "(or deploy from a machine inside them)",
    )


def check_nameservers(cfg, stack: str, p: Probes) -> Result:
    name = "zone-nameservers"
    found = sorted(n.lower() for n in p.nameservers(cfg.domain))
    if found and all(CLOUDFLARE_NS.fullmatch(n) for n in found):
        return Result(name, True, f"{cfg.domain} is served by {', '.join(found)}")
    what = f"{cfg.domain} has NS {', '.join(found)}" if found else f"{cfg.domain} has no NS records"
    return Result(
        name,
        False,
        f"{what}, not Cloudflare's: the stack's records would not be seen",
        "at the registrar, set the nameservers to the two Cloudflare assigned "
        f"(dash.cloudflare.com > {cfg.domain} > DNS > Records, 'Cloudflare nameservers')",
    )


def _image_parts(image: str) -> tuple[str, str, str]:
    """(registry host, repository, tag or digest) as the docker provider pulls it."""
    host = image_registry(image)
    rest = image[len(host) + 1 :] if image.startswith(host + "/") else image
    name, at, digest = rest.partition("@")
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    ref = digest if at else tag
    if host == "registry-1.docker.io" and "/" not in repo:
        repo = f"library/{repo}"
    return host, repo, ref


def _same_site(url: str, host: str) -> bool:
    """`url` is https on `host`'s domain (its last two labels: auth.docker.io for
    registry-1.docker.io, api.digitalocean.com for registry.digitalocean.com)."""
    split = urllib.parse.urlsplit(url)
    site = ".".join(host.split(".")[-2:])
    target = (split.hostname or "").lower()
    return split.scheme == "https" and (target == site or target.endswith("." + site))


def _challenge(header: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def check_registry(cfg, stack: str, p: Probes) -> Result:
    name = "registry-pull"
    image = cfg.app.image
    host, repo, ref = _image_parts(image)
    api = "registry-1.docker.io" if host in DOCKER_HUB else host
    registry = cfg.app.registry
    user = password = None
    if registry and registry.kind == "docr":
        user = password = p.env("DIGITALOCEAN_TOKEN")
        fix = "doctl registry login, then check the image is pushed: docker pull " + image
    elif registry and registry.kind == "token":
        user = registry.username
        password = p.secret(stack, "webstack:app.registry.password")
        fix = (
            f"pulumi config set --path --secret webstack:app.registry.password <a token with read access to {repo}> "
            f"--stack {stack}"
        )
        if password is None:
            return Result(
                name, False, "cannot read app.registry.password through the Automation API (pulumi CLI, login)", fix
            )
    else:
        fix = f"make the image public, or set app.registry (README, A private image); then: docker pull {image}"
    probe = p.http("GET", f"https://{api}/v2/", {})
    headers: dict[str, str] = {"Accept": MANIFEST_TYPES}
    if probe.status == 401:
        challenge = _challenge(probe.headers.get("www-authenticate", ""))
        realm = challenge.get("realm")
        if not realm:
            return Result(name, False, f"{api} asks for credentials without a token endpoint", fix)
        if user and password and not _same_site(realm, api):
            # The endpoint comes from the registry's answer: credentials (for DOCR the
            # DigitalOcean token itself) go only to https on the registry's own domain.
            return Result(
                name, False, f"{api} names a token endpoint off its own domain ({realm}): credentials not sent", fix
            )
        query = urllib.parse.urlencode({"service": challenge.get("service", api), "scope": f"repository:{repo}:pull"})
        auth = {}
        if user and password:
            auth["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        granted = p.http("GET", f"{realm}?{query}", auth)
        token = (granted.json() or {}).get("token") or (granted.json() or {}).get("access_token")
        if granted.status != 200 or not token:
            return Result(name, False, f"{api}'s token endpoint refused a pull of {repo} (HTTP {granted.status})", fix)
        headers["Authorization"] = f"Bearer {token}"
    elif probe.status != 200:
        return Result(name, False, f"https://{api}/v2/ answered {probe.status or 'nothing'}", fix)
    manifest = p.http("HEAD", f"https://{api}/v2/{repo}/manifests/{ref}", headers)
    if manifest.status != 200:
        what = "not found" if manifest.status == 404 else f"HTTP {manifest.status}"
        return Result(name, False, f"the manifest of {image} is {what} with these credentials", fix)
    return Result(name, True, f"{image} can be pulled ({'anonymously' if not user else 'with the stack credentials'})")


CHECKS: tuple[Callable[[Any, str, Probes], Result], ...] = (
    check_digitalocean,
    check_spaces,
    check_cloudflare,
    check_ssh_agent,
    check_address,
    check_nameservers,
    check_registry,
)


def run(cfg, stack: str, probes: Probes) -> list[Result]:
    return [check(cfg, stack, probes) for check in CHECKS]


def render(results: Sequence[Result]) -> str:
    lines = []
    for r in results:
        lines.append(f"{'ok  ' if r.ok else 'FAIL'}  {r.name:18} {r.detail}")
        if not r.ok and r.fix:
            lines.append(f"      {'':18} fix: {r.fix}")
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} of {len(results)} checks pass" + (f", {failed} fail" if failed else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, probes: Probes | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.doctor", description=__doc__.splitlines()[0])
    p.add_argument("--stack", required=True)
    args = p.parse_args(argv)
    from components.config import ConfigError
    from testing import harness

    if not harness.stack_path(args.stack).is_file():
        print(
            f"webstack doctor: no stack file for {args.stack!r}; stacks: {', '.join(harness.stack_files())}",
            file=sys.stderr,
        )
        return 2
    try:
        cfg = harness.parsed_config(args.stack)
    except (ConfigError, harness.StackConfigError) as exc:
        print(f"webstack doctor: the config of stack {args.stack} is invalid:\n{exc}", file=sys.stderr)
        return 2
    results = run(cfg, args.stack, probes or RealProbes())
    print(render(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
