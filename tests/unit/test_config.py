"""Principle 8: config is validated once, up front, with one message naming every bad key."""

from __future__ import annotations

import pulumi
import pytest

from components.config import ConfigError, connections_needed
from testing import harness
from tests.conftest import recorded

# (stack, overrides, the key the message must name, a word of what is allowed)
BAD = [
    ("staging", {"domain": "not a domain"}, "webstack:domain", "zone apex"),
    ("staging", {"domain": "example"}, "webstack:domain", "zone apex"),
    ("staging", {"region": "mars1"}, "webstack:region", "nyc3"),
    ("staging", {"vpcCidr": "8.8.8.0/24"}, "webstack:vpcCidr", "RFC 1918"),
    ("staging", {"vpcCidr": "192.0.2.0/24"}, "webstack:vpcCidr", "RFC 1918"),
    ("staging", {"vpcCidr": "10.244.0.0/20"}, "webstack:vpcCidr", "reserved"),
    ("staging", {"sshKeyFingerprints": ["SHA256:abc"]}, "webstack:sshKeyFingerprints", "MD5"),
    ("staging", {"vpcCIDR": "10.50.0.0/20"}, "webstack:vpcCIDR", "unknown key"),
    ("staging", {"app.generatedSecrets": {"SECRET_KEY": 0}}, "app.generatedSecrets.SECRET_KEY", ">= 1"),
    ("staging", {"app.hostnames": ["a-b.example.com", "a.b.example.com"]}, "app.hostnames", "same"),
    ("staging", {"app.webCommand": ["gunicorn", "x:app", "--bind=0.0.0.0:9000"]}, "app.webCommand", "app.port"),
    ("staging", {"app.authPaths": ["/"]}, "webstack:app.authPaths", "other than '/'"),
    ("staging", {"app.healthPath": "/"}, "webstack:app.healthPath", "not '/' alone"),
    ("staging", {"proxy.apiBurst": 1000001}, "webstack:proxy.apiBurst", "0-1000000"),
    ("staging", {"proxy.clientMaxBodySize": "8589934592g"}, "webstack:proxy.clientMaxBodySize", "8589934591g"),
    ("staging", {"proxy.contentSecurityPolicy": "script-src $x"}, "proxy.contentSecurityPolicy", "without '$'"),
    ("prod", {"database.mode": "container"}, "webstack:database.mode", "reachable from that droplet only"),
    ("staging", {"vpcCidr": "10.0.0.0/8"}, "webstack:vpcCidr", "/16 to /24"),
    ("staging", {"sshTrustedCidrs": ["0.0.0.0/0"]}, "webstack:sshTrustedCidrs", "whole internet"),
    ("staging", {"sshTrustedCidrs": ["::/0"]}, "webstack:sshTrustedCidrs", "whole internet"),
    ("staging", {"sshTrustedCidrs": ["203.0.113.5/24"]}, "webstack:sshTrustedCidrs", "host bits"),
    ("staging", {"sshTrustedCidrs": []}, "webstack:sshTrustedCidrs", "at least 1"),
    ("staging", {"sshPublicKeys": ["hunter2"]}, "webstack:sshPublicKeys", "OpenSSH"),
    ("staging", {"alertEmails": ["ops-at-example"]}, "webstack:alertEmails", "email"),
    ("staging", {"app.image": "ghcr.io/example/shop"}, "webstack:app.image", "pinned"),
    ("staging", {"app.image": "ghcr.io/example/shop:latest"}, "webstack:app.image", "latest"),
    ("staging", {"app.image": None}, "webstack:app.image", "no default"),
    ("staging", {"app.port": 70000}, "webstack:app.port", "1-65535"),
    ("staging", {"app.replicas": 0}, "webstack:app.replicas", "integer"),
    ("staging", {"app.replicas": "two"}, "webstack:app.replicas", "integer"),
    ("staging", {"app.dropletSize": "s-64vcpu-1tb"}, "webstack:app.dropletSize", "s-1vcpu-1gb"),
    ("staging", {"app.hostnames": ["shop.example.org"]}, "webstack:app.hostnames", "inside example.com"),
    ("staging", {"app.hostnames": ["staging.example.com", "staging.example.com"]}, "app.hostnames", "duplicates"),
    ("staging", {"app.healthPath": "health"}, "webstack:app.healthPath", "starting with /"),
    ("staging", {"app.env": {"9_lives": "x"}}, "webstack:app.env.9_lives", "POSIX-portable"),
    ("staging", {"app.env": {"app-address": "x"}}, "webstack:app.env.app-address", "POSIX-portable"),
    ("staging", {"app.env": {"DATABASE_URL": "sqlite://"}}, "webstack:app.env.DATABASE_URL", "provides"),
    ("staging", {"app.env": {"SECRET_KEY": "changeme"}}, "webstack:app.generatedSecrets.SECRET_KEY", "app.env"),
    ("staging", {"app.generatedSecrets": {"REDIS_URL": 1}}, "webstack:app.generatedSecrets.REDIS_URL", "provides"),
    ("staging", {"app.replica": 2}, "webstack:app.replica", "unknown key"),
    ("staging", {"app.processes": {"web": {"command": ["x"]}}}, "webstack:app.processes.web", "other than web"),
    ("staging", {"app.processes": {"worker": {"memoryMb": 64}}}, "app.processes.worker.command", "no default"),
    ("staging", {"app.envAliases": {"X_URL": "nope"}}, "webstack:app.envAliases.X_URL", "cacheUrl"),
    ("staging", {"app.secretEnv": {"STRIPE_KEY": "sk"}}, "webstack:app.secretEnv.STRIPE_KEY", "--secret"),
    ("staging", {"app.registry": {"kind": "token", "server": "ghcr.io"}}, "app.registry.password", "set for kind"),
    ("staging", {"secretEnv": {"STRIPE_KEY": "sk"}}, "webstack:secretEnv.STRIPE_KEY", "--secret"),
    ("staging", {"secretEnv": {"SECRET_KEY": {"secure": "v1:x"}}}, "webstack:secretEnv.SECRET_KEY", "defined once"),
    ("staging", {"database.extensions": ["postgis2"]}, "webstack:database.extensions", "uuid-ossp"),
    ("staging", {"database.mode": "sqlite"}, "webstack:database.mode", "container, managed"),
    ("staging", {"database.nodes": 4}, "webstack:database.nodes", "1-3"),
    ("staging", {"database.nodes": 2}, "webstack:database.nodes", "standby"),
    ("staging", {"database.size": "db-s-huge"}, "webstack:database.size", "db-s-1vcpu-1gb"),
    ("staging", {"database.version": "9.6"}, "webstack:database.version", "17"),
    ("staging", {"database.poolMode": "pooled"}, "webstack:database.poolMode", "transaction"),
    ("staging", {"database.maintenance": {"day": "someday"}}, "database.maintenance.day", "sunday"),
    ("staging", {"database.poolSize": 3}, "webstack:database.poolSize", "at least"),
    ("staging", {"database.poolSize": 21}, "webstack:database.poolSize", "at most"),
    ("staging", {"valkey.mode": "memcached"}, "webstack:valkey.mode", "managed"),
    ("staging", {"valkey.splitCache": "yes"}, "webstack:valkey.splitCache", "true or false"),
    ("staging", {"edge.manageZoneSettings": True}, "webstack:edge.manageZoneSettings", "one owner"),
    ("staging", {"app.webMemoryMb": 4096}, "webstack:app.dropletSize", "MB"),
    ("prod", {"protect": False}, "webstack:protect", "production"),
    # Cloudflare's rate-limit values by zone plan, and what Universal SSL covers
    ("staging", {"edge.rateLimitPeriod": 60}, "webstack:edge.rateLimitPeriod", "free plan"),
    ("staging", {"edge.rateLimitTimeout": 3600}, "webstack:edge.rateLimitTimeout", "free plan"),
    ("prod", {"edge.plan": "pro", "edge.rateLimitPeriod": 120}, "webstack:edge.rateLimitPeriod", "pro plan"),
    ("prod", {"edge.plan": "pro", "edge.rateLimitTimeout": 86400}, "webstack:edge.rateLimitTimeout", "pro plan"),
    ("prod", {"edge.plan": "business", "edge.rateLimitPeriod": 3600}, "edge.rateLimitPeriod", "business plan"),
    ("prod", {"edge.plan": "pro", "edge.rateLimitPeriod": 25}, "webstack:edge.rateLimitPeriod", "10, 15, 20, 30"),
    ("staging", {"edge.plan": "gold"}, "webstack:edge.plan", "business"),
    ("staging", {"app.hostnames": ["api.staging.example.com"]}, "webstack:app.hostnames", "Universal SSL"),
    ("staging", {"edge.import": {"records": {"staging.example.com": "abc"}}, "edge.zoneId": "f" * 32},
     "webstack:edge.import.records.staging.example.com", "32-hex"),
    ("staging", {"edge.import": {"records": {"x.example.com": "0" * 32}}, "edge.zoneId": "f" * 32},
     "webstack:edge.import.records.x.example.com", "app.hostnames"),
    ("staging", {"edge.import": {"records": {"staging.example.com": "0" * 32}}}, "webstack:edge.zoneId", "import"),
    ("prod", {"edge.import": {"rateLimit": "nope"}, "edge.zoneId": "f" * 32}, "edge.import.rateLimit", "32-hex"),
    ("staging", {"edge.import": {"rateLimit": "0" * 32}, "edge.zoneId": "f" * 32}, "edge.import.rateLimit", "owns"),
    ("staging", {"edge.import": {"rulesets": "x"}}, "webstack:edge.import.rulesets", "unknown key"),
    # nginx options the seed guides need
    ("staging", {"proxy.websocketPaths": ["ws"]}, "webstack:proxy.websocketPaths", "path prefix such as /ws"),
    ("staging", {"proxy.websocketPaths": "/ws"}, "webstack:proxy.websocketPaths", "a list"),
    ("staging", {"proxy.websocketPaths": ["/ws", "/ws"]}, "webstack:proxy.websocketPaths", "unique"),
    ("staging", {"proxy.websocketPaths": ["/api/"]}, "webstack:proxy.websocketPaths", "locations of their own"),
    ("staging", {"proxy.websocketPaths": ["/login/ws"]}, "webstack:proxy.websocketPaths", "auth_paths entry '/login'"),
    ("staging", {"proxy.websocketPaths": ["/health"]}, "webstack:proxy.websocketPaths", "health_path"),
    ("staging", {"proxy.readTimeoutSeconds": 0}, "webstack:proxy.readTimeoutSeconds", "1-3600"),
    ("staging", {"proxy.readTimeoutSeconds": 3601}, "webstack:proxy.readTimeoutSeconds", "1-3600"),
    ("staging", {"proxy.staticPath": "/static"}, "webstack:proxy.staticPath", "ending in '/'"),
    ("staging", {"proxy.staticPath": "/.assets/"}, "webstack:proxy.staticPath", "'/.'"),
    ("staging", {"proxy.staticPath": "/api/"}, "webstack:proxy.staticPath", "locations of their own"),
    ("staging", {"proxy.staticPath": "/ws/", "proxy.websocketPaths": ["/ws"]}, "webstack:proxy.staticPath",
     "websocket_paths entry '/ws'"),
    ("staging", {"proxy.staticMaxAgeSeconds": 0}, "webstack:proxy.staticMaxAgeSeconds", "1-31536000"),
    ("staging", {"proxy.staticMaxAgeSeconds": 31536001}, "webstack:proxy.staticMaxAgeSeconds", "1-31536000"),
]  # fmt: skip


def _reject(stack: str, overrides: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        harness.run(stack, overrides)
    return info.value


@pytest.mark.parametrize(("stack", "overrides", "key", "allowed"), BAD, ids=[f"{b[2]}-{i}" for i, b in enumerate(BAD)])
def test_bad_value_is_rejected_naming_key_before_any_resource(stack, overrides, key, allowed):
    err = _reject(stack, overrides)
    message = str(err)
    assert key in message
    assert allowed.lower() in message.lower()
    assert isinstance(err, pulumi.RunError), "RunError is what the CLI prints without a traceback"
    assert err.recorded == [], "validation must fail before any resource is registered"


def test_table_is_large_enough():
    assert len(BAD) >= 20


def test_all_problems_reported_together():
    err = _reject("staging", {"region": "mars1", "app.port": 0, "database.mode": "sqlite"})
    message = str(err)
    assert "3 problems" in message
    for key in ("webstack:region", "webstack:app.port", "webstack:database.mode"):
        assert key in message


def test_message_shows_the_bad_value():
    assert "'mars1'" in str(_reject("staging", {"region": "mars1"}))


def test_a_missing_required_key_is_named_by_the_program():
    """Pulumi.yaml declares nothing (a declaration would follow the project's name, which
    `pulumi new` changes), so the program itself names what a stack must set."""
    with pytest.raises(ConfigError, match=r"webstack:domain = None: must be set \(it has no default\)"):
        harness.parsed_config("staging", {"domain": None})


def test_a_list_key_given_a_string_is_refused_by_the_program():
    with pytest.raises(ConfigError, match=r"webstack:sshTrustedCidrs = '203.0.113.0/24': must be valid JSON/YAML"):
        harness.parsed_config("staging", {"sshTrustedCidrs": "203.0.113.0/24"})


def test_the_models_defaults_apply_when_stack_omits_them():
    assert "region" not in harness.stack_config("staging", {"region": None})
    assert harness.parsed_config("staging", {"region": None}).region == "nyc3"


def _cfg(stack, overrides):
    return harness.parsed_config(stack, overrides)


def test_sizing_formula_counts_every_process():
    # prod: replicas 2 x (web workers 4 + worker 1x4) + beat (singleton) 1 + release 1
    assert connections_needed(recorded("prod").cfg.app) == 2 * (4 + 4) + 1 + 1


def test_sizing_counts_only_the_processes_that_exist():
    # A Node app with no background process and no release command: web workers only.
    cfg = _cfg("staging", {"app.processes": {}, "app.releaseCommand": None, "app.replicas": 2, "app.webWorkers": 5})
    assert connections_needed(cfg.app) == 2 * 5
    # A per-droplet process counts on each droplet, a singleton once, whatever it is called.
    cfg = _cfg(
        "staging",
        {
            "app.replicas": 3,
            "app.webWorkers": 2,
            "app.releaseCommand": None,
            "database.poolSize": 26,
            "database.size": "db-s-2vcpu-4gb",
            "app.processes": {
                "consumer": {"command": ["node", "consumer.js"], "count": 2, "connections": 3, "memoryMb": 128},
                "clock": {"command": ["node", "clock.js"], "singleton": True, "connections": 2, "memoryMb": 64},
            },
        },
    )
    assert connections_needed(cfg.app) == 3 * (2 + 2 * 3) + 2
