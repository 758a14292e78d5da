"""Log retention: every droplet ships its containers' logs into a private bucket
that expires them after the configured days, with a key scoped to it; nothing secret leaks."""

from __future__ import annotations

import json

import pytest

from components.droplets import logship
from testing import harness
from tests.conftest import recorded_with
from tests.graph.test_secrets import plain_leaks

CONTAINER = "docker:index/container:Container"
LOGS = {"logs": {"enabled": True, "retentionDays": 14}, "app.webMemoryMb": 896}


def _run(preview: bool = False) -> harness.Run:
    return recorded_with("prod", LOGS, preview)


def _shippers(run):
    return sorted(
        (c for c in run.of_type(CONTAINER) if c.inputs["name"] == logship.CONTAINER_NAME), key=lambda c: c.name
    )


def _bucket(run):
    (bucket,) = [
        b for b in run.of_type("digitalocean:index/spacesBucket:SpacesBucket") if b.name.endswith("-logs-bucket")
    ]
    return bucket


def test_every_droplet_ships_its_logs_to_the_logs_bucket():
    run = _run()
    shippers = _shippers(run)
    providers = sorted(p.urn for p in run.of_type("pulumi:providers:docker"))
    assert sorted(s.provider_urn for s in shippers) == providers, "one shipper on each droplet"
    bucket = _bucket(run)
    ids = run.exports["droplet_ids"].value
    for shipper, droplet_id in zip(shippers, ids, strict=True):
        (upload,) = shipper.inputs["uploads"]
        config = json.loads(upload["content"])
        assert config["sources"]["containers"]["type"] == "docker_logs"
        assert config["sources"]["containers"]["exclude_containers"] == ["logship"], "not its own lines"
        sink = config["sinks"]["spaces"]
        assert sink["type"] == "aws_s3" and sink["inputs"] == ["containers"]
        assert sink["bucket"] == bucket.inputs["name"] == "example-com-prod-logs"
        assert sink["endpoint"] == "https://nyc3.digitaloceanspaces.com" and sink["region"] == "nyc3"
        assert sink["key_prefix"].startswith(f"droplet-{droplet_id}/")
        assert sink["batch"]["timeout_secs"] <= 60, "a vanished droplet loses at most a minute"
        assert "auth" not in sink and harness.SECRET_MARK not in upload["content"]
        (volume,) = shipper.inputs["volumes"]
        assert volume["containerPath"] == logship.DATA_DIR and volume.get("volumeName"), "the buffer survives a restart"
        # The daemon through its read-only proxy, never the socket itself.
        assert config["sources"]["containers"]["docker_host"] == f"http://{logship.PROXY_NAME}:2375"
        # The provider stops a container it deletes with destroy_grace_seconds (default 0).
        assert shipper.inputs["destroyGraceSeconds"] == logship.BATCH_SECONDS


def test_the_shipper_reads_the_daemon_only_through_a_read_only_proxy_of_its_own():
    run = _run()
    proxies = [c for c in run.of_type(CONTAINER) if c.inputs["name"] == logship.PROXY_NAME]
    shippers = _shippers(run)
    assert len(proxies) == len(shippers) == 2
    for shipper in shippers:
        (proxy,) = [p for p in proxies if p.provider_urn == shipper.provider_urn]
        assert proxy.urn in run.upstream(shipper.urn)
        assert "-allowfrom=logship" in proxy.inputs["command"]
        assert not [a for a in proxy.inputs["command"] if a.startswith(("-allowPOST", "-allowPUT", "-allowDELETE"))]
        (api_net,) = proxy.inputs["networksAdvanced"]
        assert api_net in shipper.inputs["networksAdvanced"] and len(shipper.inputs["networksAdvanced"]) == 2
        assert not shipper.inputs.get("user") and shipper.inputs["capabilities"] == {"drops": ["ALL"]}


def test_the_bucket_expires_logs_after_the_configured_days_and_prod_keeps_it():
    bucket = _bucket(_run())
    (rule,) = bucket.inputs["lifecycleRules"]
    assert rule["enabled"] is True and rule["expiration"] == {"days": 14} and not rule.get("prefix")
    assert bucket.inputs["acl"] == "private"
    assert bucket.protect and bucket.inputs["forceDestroy"] is False


def test_the_key_may_use_the_logs_bucket_only():
    run = _run()
    (key,) = [k for k in run.of_type("digitalocean:index/spacesKey:SpacesKey") if "-logs-" in k.name]
    assert key.inputs["grants"] == [{"bucket": "example-com-prod-logs", "permission": "readwrite"}]
    for shipper in _shippers(run):
        assert "envs" in shipper.secret_paths
        env = dict(line.split("=", 1) for line in shipper.inputs["envs"])
        assert env == {"AWS_ACCESS_KEY_ID": key.outputs["accessKey"], "AWS_SECRET_ACCESS_KEY": key.outputs["secretKey"]}


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_no_secret_of_the_shippers_in_any_plain_input(preview):
    run = _run(preview)
    assert plain_leaks(run) == []


def test_without_logs_nothing_ships():
    from tests.conftest import recorded

    run = recorded("staging")
    assert not run.cfg.logs.enabled
    assert not _shippers(run) and run.exports["logs_bucket"].value is None


def test_the_shipper_counts_in_each_droplets_memory():
    from tests.unit.test_config import _reject

    message = str(_reject("prod", {"app.webMemoryMb": 1024}))
    assert "log shipper 112 + logs API proxy 16" in message
