"""Droplet bootstrap promises: fail2ban bans SSH guessers with the documented limits
on every droplet of every stack (5 failures in 10 minutes: banned for an hour)."""

from __future__ import annotations

import configparser
import json

import pytest
import yaml

from components.render.cloudinit import DOCKER_DAEMON_PATH, FAIL2BAN_JAIL_PATH, render_cloud_init
from tests.conftest import STACKS, recorded


@pytest.mark.parametrize("stack", STACKS)
def test_every_droplet_bans_ssh_guessers_with_the_documented_limits(stack):
    droplets = recorded(stack).of_type("digitalocean:index/droplet:Droplet")
    assert droplets
    for droplet in droplets:
        doc = yaml.safe_load(droplet.inputs["userData"])
        assert "fail2ban" in doc["packages"] and "python3-systemd" in doc["packages"]
        (jail_text,) = [f["content"] for f in doc["write_files"] if f["path"] == FAIL2BAN_JAIL_PATH]
        jail = configparser.ConfigParser()
        jail.read_string(jail_text)
        assert jail.sections() == ["sshd"]
        assert dict(jail["sshd"]) == {
            "enabled": "true",
            "backend": "systemd",  # Ubuntu 24.04 may have no auth.log; the journal it has
            "maxretry": "5",
            "findtime": "10m",
            "bantime": "1h",
        }
        # ... and it starts on that jail: a fail2ban already running would keep its old set.
        assert doc["runcmd"][-2:] == ["systemctl enable fail2ban", "systemctl restart fail2ban"]


# -------------------------------------------------------------- what the renderer refuses

_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci"


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"ssh_public_keys": _KEY}, TypeError, "ssh_public_keys must be a sequence of keys, not a single string"),
        ({"ssh_public_keys": []}, ValueError, "ssh_public_keys must hold at least one key: login is by key only"),
        ({"ssh_public_keys": ["AAAAC3NzaC1lZDI1NTE5AAAAIOMq"]}, ValueError,
         "ssh_public_keys: 'AAAAC3NzaC1lZDI1NTE5AAAA...' is not an OpenSSH public key "
         "(must start with one of ssh-, ecdsa-, sk-)"),
        ({"ssh_public_keys": ["x" * 24]}, ValueError,
         f"ssh_public_keys: {'x' * 24!r} is not an OpenSSH public key (must start with one of ssh-, ecdsa-, sk-)"),
        ({"ssh_public_keys": ["x" * 25]}, ValueError,
         f"ssh_public_keys: {'x' * 24 + '...'!r} is not an OpenSSH public key "
         "(must start with one of ssh-, ecdsa-, sk-)"),
        ({"ssh_public_keys": ["ssh-rsa AA\rssh-rsa BB"]}, ValueError,
         "ssh_public_keys: 'ssh-rsa AA\\rssh-rsa BB' is not an OpenSSH public key "
         "(must start with one of ssh-, ecdsa-, sk-)"),
        ({"deploy_user": "root"}, ValueError,
         "deploy_user: 'root' is not a valid non-root login name "
         "(lower case letters, digits, '_' or '-', at most 32 characters)"),
        ({"log_max_size": "10MB"}, ValueError, "log_max_size: '10MB' must look like '10m' (k, m or g)"),
        ({"log_max_file": 0}, ValueError, "log_max_file: 0 must be a positive integer"),
        ({"log_max_file": True}, ValueError, "log_max_file: True must be a positive integer"),
        ({"memory_mb": 0}, ValueError, "memory_mb must be positive, got 0"),
        ({"volume_name": "Data_1"}, ValueError, "volume_name: 'Data_1' is not a DigitalOcean volume name"),
        ({"volume_owner": "1000:1000"}, ValueError,
         "volume_owner: '1000:1000' must be uid:gid numbers, with a volume_name"),
        ({"volume_name": "shop-prod-data", "volume_owner": "app"}, ValueError,
         "volume_owner: 'app' must be uid:gid numbers, with a volume_name"),
    ],
)  # fmt: skip
def test_a_bad_argument_is_refused_with_what_is_wrong(args, error, message):
    """user_data is fixed at a droplet's creation: a bad key, login name or volume would only
    show on a broken droplet, so the renderer refuses it, saying which argument and why."""
    with pytest.raises(error) as info:
        render_cloud_init(**{"ssh_public_keys": [_KEY], "memory_mb": 1024, **args})
    assert str(info.value) == message


def test_the_smallest_good_values_render():
    doc = yaml.safe_load(render_cloud_init(ssh_public_keys=[_KEY], memory_mb=1, log_max_file=1))
    assert doc["swap"]["size"] == 2048 * 1024 * 1024  # 1 MB of RAM: the small-host swap
    with_volume = render_cloud_init(ssh_public_keys=[_KEY], memory_mb=1024, volume_name="a", volume_owner="0:0")
    assert "/mnt/a" in with_volume


@pytest.mark.parametrize("stack", STACKS)
def test_every_file_the_boot_writes_is_roots_and_not_writable_by_others(stack):
    """sshd's drop-in, docker's daemon.json, apt's and fail2ban's settings: a file another user
    could write would be a way to root."""
    droplets = recorded(stack).of_type("digitalocean:index/droplet:Droplet")
    assert droplets
    for droplet in droplets:
        doc = yaml.safe_load(droplet.inputs["userData"])
        assert len(doc["write_files"]) >= 4  # sshd, docker, apt, fail2ban
        for entry in doc["write_files"]:
            assert entry["owner"] == "root:root", entry["path"]
            assert int(entry["permissions"], 8) & 0o022 == 0, entry["path"]


@pytest.mark.parametrize("stack", STACKS)
def test_dockers_own_logs_are_capped_at_three_files_of_10_mb(stack):
    """A container with no log options of its own (any the app's ever start by hand) still
    cannot fill the disk: docker's default is json-file, unbounded."""
    for droplet in recorded(stack).of_type("digitalocean:index/droplet:Droplet"):
        doc = yaml.safe_load(droplet.inputs["userData"])
        (daemon,) = [f for f in doc["write_files"] if f["path"] == DOCKER_DAEMON_PATH]
        assert json.loads(daemon["content"])["log-opts"] == {"max-size": "10m", "max-file": "3"}
