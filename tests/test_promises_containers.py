"""Release promises (issue 11): a one-shot that fails stops what depends on it, and data kept
in containers (container mode) is as undeletable in prod as a managed cluster.

The harness answers every container with exit code 0; here one is made to fail, as a failed
`manage.py migrate` does, and the program must stop the release instead of starting the new
web on an unmigrated schema."""

from __future__ import annotations

import pulumi
import pytest

from tests.conftest import recorded_with
from tools import harness

CONTAINER = "docker:index/container:Container"


def _started_when_failing(monkeypatch, stack: str, name: str, code: int, message: str) -> set[str]:
    """Run `stack` with the container called `name` exiting `code`: the run must fail with
    `message`; returns the containers that were started before it stopped."""
    answer = harness._FAKES[CONTAINER]

    def fake(self, key, inputs):
        rid, outputs = answer(self, key, inputs)
        return rid, ({**outputs, "exitCode": code} if inputs.get("name") == name else outputs)

    monkeypatch.setitem(harness._FAKES, CONTAINER, fake)
    with pytest.raises(pulumi.RunError) as info:
        harness.run(stack)
    assert str(info.value).startswith(f"{message} exited with code {code}; nothing that depends on it was started")
    return {r.name.removeprefix(f"webstack-{stack}-") for r in info.value.recorded if r.type == CONTAINER}


def test_a_failed_migration_starts_no_process_of_the_release(monkeypatch):
    started = _started_when_failing(monkeypatch, "staging", "migrate", 3, "the release command")
    assert "app-0-migrate" in started
    assert not {"app-0-web", "app-0-worker", "app-0-beat", "app-0-proxy"} & started


def test_a_web_failing_its_health_probe_stops_the_rollout_to_the_next_droplet(monkeypatch):
    started = _started_when_failing(monkeypatch, "prod", "probe", 1, "the web health probe")
    assert {"app-0-web", "app-0-probe"} <= started
    assert not {"app-1-web", "app-1-proxy"} & started


def test_a_failed_admin_step_starts_nothing_that_uses_the_database(monkeypatch):
    started = _started_when_failing(
        monkeypatch, "staging", "pg-grant", 2, "the database admin step (extensions, schema grant)"
    )
    assert started == {"db-grant"}


def test_container_mode_data_volumes_are_protected_and_retained_in_prod():
    data = {"app.replicas": 1, "database.mode": "container", "valkey.mode": "container"}
    prod = recorded_with("prod", {**data, "app.dropletSize": "s-4vcpu-8gb"})
    volumes = {v.name: v for v in prod.of_type("docker:index/volume:Volume")}
    assert set(volumes) == {"webstack-prod-db-data", "webstack-prod-valkey-data"}
    assert all(v.protect and v.retain_on_delete for v in volumes.values())
    # ... and each is the one its data service mounts.
    mounts = {m.get("volumeName") for c in prod.of_type(CONTAINER) for m in c.inputs.get("volumes") or []}
    assert set(volumes) <= mounts
    dev = recorded_with("dev", {})
    assert [(v.protect, v.retain_on_delete) for v in dev.of_type("docker:index/volume:Volume")] == [(False, False)] * 2
