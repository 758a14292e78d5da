"""Droplet bootstrap promises (issue 11): fail2ban bans SSH guessers with the documented limits
on every droplet of every stack (5 failures in 10 minutes: banned for an hour)."""

from __future__ import annotations

import configparser

import pytest
import yaml

from components.cloudinit import FAIL2BAN_JAIL_PATH
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
