"""Patched hosts (principle 14): a droplet reboots when an installed update needs it, at the
stack's reboot window, one droplet at a time behind the load balancer.

The apt settings are read back by the real `apt-config`, the user data by `cloud-init schema`.
"""

from __future__ import annotations

import re

import pytest
import yaml

from components.config import ConfigError
from components.render.cloudinit import AUTO_REBOOT_PATH, REBOOT_SPACING_MINUTES, auto_reboot, reboot_time
from testing import harness
from tests import realprog
from tests.conftest import recorded, recorded_with
from tests.unit.test_renderers import _schema

DROPLET = "digitalocean:index/droplet:Droplet"


def _reboot_conf(droplet) -> str | None:
    files = yaml.safe_load(droplet.inputs["userData"])["write_files"]
    found = [f["content"] for f in files if f["path"] == AUTO_REBOOT_PATH]
    return found[0] if found else None


def _apt_settings(tmp_path, text: str) -> dict[str, str]:
    """What apt (and so unattended-upgrade, through apt_pkg) reads from `text` as a conf file."""
    apt_config = realprog.require("apt-config", "apt")
    conf = tmp_path / "52unattended-upgrades-webstack"
    conf.write_text(text)
    result = realprog.run([apt_config, "-c", str(conf), "dump"])
    assert result.returncode == 0, result.stderr
    pairs = (re.fullmatch(r'(Unattended-Upgrade::\S+) "(.*)";', line) for line in result.stdout.splitlines())
    return {m[1]: m[2] for m in pairs if m}


def test_prod_droplets_reboot_ten_minutes_apart_from_the_window(tmp_path):
    """The LB needs about a minute to take a droplet out and put it back (3 checks 10 s apart
    each way): 10 minutes apart, one droplet is ever down, and never both."""
    run = recorded("prod")
    assert (run.cfg.reboot_window.enabled, run.cfg.reboot_window.hour) == (True, 2)
    times = []
    for droplet in sorted(run.of_type(DROPLET), key=lambda d: d.name):
        settings = _apt_settings(tmp_path, _reboot_conf(droplet))
        assert settings["Unattended-Upgrade::Automatic-Reboot"] == "true"
        assert settings["Unattended-Upgrade::Automatic-Reboot-WithUsers"] == "true"
        times.append(settings["Unattended-Upgrade::Automatic-Reboot-Time"])
        assert _schema(tmp_path, droplet.inputs["userData"]).returncode == 0
    assert times == ["02:00", "02:10"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_single_droplet_stacks_reboot_at_the_window(stack, tmp_path):
    (droplet,) = recorded(stack).of_type(DROPLET)
    assert _apt_settings(tmp_path, _reboot_conf(droplet))["Unattended-Upgrade::Automatic-Reboot-Time"] == "02:00"


def test_a_disabled_window_never_reboots_and_an_hour_moves_it():
    off = recorded_with("prod", {"rebootWindow": {"enabled": False}})
    assert [_reboot_conf(d) for d in off.of_type(DROPLET)] == [None, None]
    late = harness.parsed_config("prod", {"rebootWindow": {"hour": 23}})
    assert late.reboot_window.hour == 23


def test_the_stagger_wraps_past_midnight_and_spaces_every_droplet():
    assert REBOOT_SPACING_MINUTES >= 5  # > the LB's ~1 minute out and back, plus a reboot
    assert [reboot_time(23, i) for i in (0, 5, 6, 7)] == ["23:00", "23:50", "00:00", "00:10"]
    assert len({reboot_time(2, i) for i in range(144)}) == 144, "a day's worth of droplets, all apart"


def test_apt_config_refuses_what_the_renderer_would_never_write(tmp_path):
    """The check above can fail: apt rejects a line without its ';'."""
    apt_config = realprog.require("apt-config", "apt")
    conf = tmp_path / "bad"
    conf.write_text(auto_reboot("02:00").replace('"true";', '"true"', 1))
    assert realprog.run([apt_config, "-c", str(conf), "dump"]).returncode != 0
    with pytest.raises(ValueError, match="must be HH:MM"):
        auto_reboot("2:00")


@pytest.mark.parametrize(
    ("window", "line"),
    [
        ({"hour": 24}, "webstack:rebootWindow.hour = 24: must be an integer 0-23"),
        ({"hour": "2"}, "webstack:rebootWindow.hour = '2': must be an integer 0-23"),
        ({"day": "sunday"}, "webstack:rebootWindow.day = 'sunday': unknown key; allowed: enabled, hour"),
    ],
)
def test_a_bad_window_is_a_config_error(window, line):
    with pytest.raises(ConfigError) as info:
        harness.parsed_config("staging", {"rebootWindow": window})
    assert str(info.value).split("\n")[1:] == [f"  - {line}"]
