"""Forensics (principle 13): prod's container logs leave its droplets, into a bucket whose
objects a compromised droplet cannot make disappear before their retention ends."""

from __future__ import annotations

from tests.conftest import recorded

CONTAINER = "docker:index/container:Container"


def _logs_bucket(run):
    found = [b for b in run.of_type("digitalocean:index/spacesBucket:SpacesBucket") if b.name.endswith("-logs-bucket")]
    return found[0] if found else None


def test_prod_ships_every_droplets_logs_and_dev_and_staging_do_not():
    prod = recorded("prod")
    shippers = [c for c in prod.of_type(CONTAINER) if c.inputs["name"] == "logship"]
    assert len(shippers) == prod.cfg.app.replicas == 2
    assert prod.exports["logs_bucket"].value == "example-com-prod-logs"
    for stack in ("dev", "staging"):
        run = recorded(stack)
        assert _logs_bucket(run) is None and not [c for c in run.of_type(CONTAINER) if c.inputs["name"] == "logship"]


def test_a_deleted_log_object_stays_as_an_old_version_for_the_retention():
    """The shippers' key may delete (a Spaces key that writes is readwrite), so the bucket keeps
    what it deletes or overwrites as non-current versions, expired with the same days."""
    bucket = _logs_bucket(recorded("prod"))
    assert bucket.inputs["versioning"] == {"enabled": True}
    (rule,) = bucket.inputs["lifecycleRules"]
    assert rule["expiration"] == {"days": 30} and rule["noncurrentVersionExpiration"] == {"days": 30}
    assert bucket.protect and bucket.inputs["forceDestroy"] is False
