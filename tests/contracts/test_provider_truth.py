"""What the real providers would do with our inputs, one test per defect found by
reading their upstream sources; each failed on the code before its fix."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from components.cloud.database import admin_env, admin_script, admin_sql
from components.droplets.dockerhost import DROPLET_LABEL, SWAP_FACTOR
from testing import harness
from tests.conftest import recorded

DROPLET = "digitalocean:index/droplet:Droplet"
CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
POOL = "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool"


def _droplet_of_provider(run, provider_urn: str):
    """The droplet a docker provider talks to: host-<i> runs on node-<i>."""
    index = provider_urn.rsplit("-host-", 1)[1].split("-", 1)[0]
    return next(d for d in run.of_type(DROPLET) if d.name.endswith(f"-node-{index}"))


def _docker_providers(run):
    return [r for r in run.resources if r.type == "pulumi:providers:docker"]


def test_a_pool_size_change_deletes_the_old_pool_first():
    """Every pool field is ForceNew upstream and the name is fixed: create-before-delete would
    collide on the name and on the cluster's connection budget."""
    (pool,) = recorded("prod").of_type(POOL)
    assert pool.inputs["name"] == "app-pool"
    assert pool.delete_before_replace


def test_every_docker_resource_is_replaced_with_its_droplet(run):
    """The docker provider's `host` does not force replacement of what it manages: each docker
    resource carries its droplet's id in a property that does (labels / triggers)."""
    pinned = 0
    for r in run.resources:
        if r.type not in (CONTAINER, IMAGE, NETWORK, VOLUME):
            continue
        droplet_id = _droplet_of_provider(run, r.provider_urn).id
        if r.type == IMAGE:
            assert r.inputs["triggers"] == {DROPLET_LABEL: droplet_id}, r.name
        else:
            assert {"label": DROPLET_LABEL, "value": droplet_id} in r.inputs["labels"], r.name
        pinned += 1
    assert pinned >= 6


def test_host_keys_are_trusted_per_droplet_never_per_address(run):
    """DigitalOcean reuses IPv4 addresses: a known_hosts entry per address breaks a rebuilt
    droplet ("host key changed"); one file per droplet id keeps strict checking."""
    files = set()
    for provider in _docker_providers(run):
        opts = json.loads(provider.inputs["sshOpts"])
        pairs = dict(opts[i + 1].split("=", 1) for i in range(0, len(opts), 2) if opts[i] == "-o")
        assert pairs["StrictHostKeyChecking"] in ("accept-new", "yes")
        droplet_id = _droplet_of_provider(run, provider.urn).id
        assert pairs["UserKnownHostsFile"].endswith(f"_{droplet_id}")
        files.add(pairs["UserKnownHostsFile"])
    assert len(files) == len(run.of_type(DROPLET)) >= 1


def test_containers_send_the_swap_limit_the_daemon_reads_back(run):
    """Unset, the daemon makes MemorySwap 2 x Memory and the provider reads it back: a diff on
    every preview after a release."""
    limited = [c for c in run.of_type(CONTAINER) if "memory" in c.inputs]
    assert limited
    for c in limited:
        assert c.inputs["memorySwap"] == c.inputs["memory"] * SWAP_FACTOR == c.inputs["memory"] * 2, c.name


# -- the admin step retries while the DB firewall rule is being applied


@pytest.fixture
def fake_psql(tmp_path: Path):
    """A psql that fails with `rc` until call number `ok_at`, counting its calls."""
    script = tmp_path / "psql"
    script.write_text(
        "#!/bin/sh\n"
        'n=$(cat "$COUNT" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNT"\n'
        '[ "$n" -ge "$OK_AT" ] && exit 0\n'
        'exit "$RC"\n'
    )
    script.chmod(0o755)
    sh = shutil.which("sh")
    assert sh

    def run(rc: int, ok_at: int, attempts: int = 4) -> tuple[int, int, str]:
        count = tmp_path / "count"
        count.unlink(missing_ok=True)
        env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "COUNT": str(count)}
        env |= {"RC": str(rc), "OK_AT": str(ok_at)}
        credentials = tmp_path / "admin"
        credentials.write_text(
            admin_env(host="h", port=5432, user="doadmin", password="pw", database="app", sslmode=None)
        )
        proc = subprocess.run(
            [sh, "-c", admin_script(admin_sql("app"), attempts=attempts, delay=0, credentials=str(credentials))],
            env=env, capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        return proc.returncode, int(count.read_text()), proc.stderr

    return run


def test_admin_step_retries_while_the_database_is_unreachable(fake_psql):
    code, calls, _ = fake_psql(rc=2, ok_at=3)
    assert (code, calls) == (0, 3)


def test_admin_step_gives_up_after_its_attempts_with_a_clear_message(fake_psql):
    code, calls, err = fake_psql(rc=2, ok_at=99, attempts=4)
    assert code != 0 and calls == 4
    assert "database firewall admits this droplet" in err


def test_admin_step_does_not_retry_an_sql_error(fake_psql):
    code, calls, _ = fake_psql(rc=1, ok_at=99)
    assert (code, calls) == (1, 1)


def test_the_grant_container_runs_the_retrying_script():
    run = recorded("staging")
    (grant,) = [c for c in run.of_type(CONTAINER) if c.inputs["name"] == "pg-grant"]
    assert grant.inputs["command"] == [admin_script(admin_sql("app", run.cfg.database.extensions))]
    assert "seq 30" in grant.inputs["command"][0]


# -- Cloudflare

RULESET = "cloudflare:index/ruleset:Ruleset"
RECORD = "cloudflare:index/dnsRecord:DnsRecord"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
ORIGIN_CERT = "cloudflare:index/originCaCertificate:OriginCaCertificate"
ZONE = "f" * 32


def test_the_rate_limit_ruleset_is_replaced_delete_first():
    """One http_ratelimit entry point per zone (error 20217): create-before-delete collides."""
    (ruleset,) = recorded("prod").of_type(RULESET)
    assert ruleset.inputs["phase"] == "http_ratelimit"
    assert ruleset.delete_before_replace


def test_existing_cloudflare_objects_are_adopted_by_import_ids_from_config():
    ruleset_id, record_id = "a" * 32, "b" * 32
    run = harness.run(
        "prod",
        {"edge.zoneId": ZONE, "edge.import": {"rateLimit": ruleset_id, "records": {"www.example.com": record_id}}},
    )
    assert run.one(RULESET).import_id == f"zones/{ZONE}/{ruleset_id}"
    records = {r.inputs["name"]: r.import_id for r in run.of_type(RECORD)}
    assert records == {"example.com": "", "www.example.com": f"{ZONE}/{record_id}", "api.example.com": ""}
    assert all(r.delete_before_replace for r in run.of_type(RECORD))
    assert not any(r.import_id for r in recorded("prod").resources), "nothing is imported unless asked"


def _edge_matches(expression: str, path: str) -> bool:
    """Evaluate our rate-limit expression: an `or` of starts_with/eq on the URI path."""
    import re

    terms = re.findall(
        r'\((starts_with\(http\.request\.uri\.path, "([^"]+)"\)|http\.request\.uri\.path eq "([^"]+)")\)', expression
    )
    assert " or ".join(f"({t[0]})" for t in terms) == expression, "only the forms this evaluator knows"
    return any(path.startswith(t[1]) if t[1] else path == t[2] for t in terms)


def _nginx_auth_locations(conf: str) -> list[str]:
    """Locations that apply the auth zone; each must be a plain prefix location."""
    found = re.findall(r"location ([^{]+?) \{\s*limit_req zone=auth", conf)
    assert found
    for match in found:
        assert not match.startswith(("=", "~", "^~")), f"auth location {match!r} is not a plain prefix"
    return found


@pytest.mark.parametrize("path", ["/login", "/login/", "/login/reset", "/loginx", "/logi", "/api/auth/", "/api/auth/x",
                                  "/api/auth", "/api/", "/", "/Login"])  # fmt: skip
def test_an_auth_path_means_the_same_at_the_edge_and_in_nginx(path):
    from components.cloud.edge import auth_expression
    from components.config import nginx_spec
    from components.render.nginx import render_nginx_conf

    cfg = recorded("prod").cfg
    expression = recorded("prod").one(RULESET).inputs["rules"][0]["expression"]
    assert expression == auth_expression(cfg.app.auth_paths)
    locations = _nginx_auth_locations(render_nginx_conf(nginx_spec(cfg)))
    assert sorted(locations) == sorted(cfg.app.auth_paths)
    # nginx picks the longest matching prefix; an auth prefix is longer than "/" and "/api/".
    assert _edge_matches(expression, path) == any(path.startswith(p) for p in locations)


def test_the_rate_limit_rule_counts_only_what_the_zone_plan_allows():
    from components.config.catalog import ZONE_PLANS

    run = recorded("prod")
    (rule,) = run.one(RULESET).inputs["rules"]
    plan = ZONE_PLANS[run.cfg.edge.plan]
    assert run.cfg.edge.plan == "free"
    assert rule["ratelimit"]["period"] in plan.periods == (10,)
    assert rule["ratelimit"]["mitigationTimeout"] in plan.timeouts == (10,)
    assert set(rule["ratelimit"]["characteristics"]) <= ZONE_PLANS["free"].characteristics
    pro = harness.run("prod", {"edge.plan": "pro", "edge.rateLimitPeriod": 60, "edge.rateLimitTimeout": 3600})
    assert pro.one(RULESET).inputs["rules"][0]["ratelimit"]["period"] == 60


def test_the_rate_limit_rule_keeps_its_id_across_changes():
    (rule,) = recorded("prod").one(RULESET).inputs["rules"]
    assert rule["ref"] == "webstack_auth_rate_limit"


def test_the_origin_certificate_names_are_sent_in_a_stable_order():
    run = recorded("prod")
    assert list(run.cfg.app.hostnames) != sorted(run.cfg.app.hostnames), "prod lists them unsorted"
    cert = run.one(ORIGIN_CERT)
    assert cert.inputs["hostnames"] == sorted(run.cfg.app.hostnames)


def test_hsts_has_one_source_for_the_zone_and_nginx():
    from components.config import nginx_spec
    from components.render.nginx import render_nginx_conf

    for max_age in (31536000, 15552000):
        run = harness.run("prod", {"edge.hstsMaxAge": max_age})
        (hsts,) = [s for s in run.of_type(ZONE_SETTING) if s.inputs["settingId"] == "security_header"]
        assert hsts.inputs["value"]["strict_transport_security"]["max_age"] == max_age
        conf = render_nginx_conf(nginx_spec(run.cfg))
        assert f'"" "max-age={max_age}; includeSubDomains";' in conf  # nginx's Strict-Transport-Security


def test_a_hostname_under_universal_ssl_only_with_an_advanced_certificate():
    run = harness.run("staging", {"app.hostnames": ["api.staging.example.com"], "edge.advancedCertificate": True})
    assert run.one(ORIGIN_CERT).inputs["hostnames"] == ["api.staging.example.com"]
