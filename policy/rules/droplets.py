"""Droplets: key-only SSH, no root login, monitoring agent, private network, a cloud
firewall in front, and backups where data must be kept."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from .common import (
    ADVISORY,
    DROPLET,
    FIREWALL,
    is_set,
    of_type,
    protect_data,
    refers_to,
    resource_policy,
    shares_tag,
    stack_policy,
)

SSHD_CONFIG = "/etc/ssh/sshd_config"
_PASSWORD_OFF = re.compile(r"^\s*PasswordAuthentication\s+no\s*$", re.IGNORECASE | re.MULTILINE)
_ROOT_OFF = re.compile(r"^\s*PermitRootLogin\s+no\s*$", re.IGNORECASE | re.MULTILINE)


def _ssh_keys(props: Mapping[str, Any], args) -> Iterator[str]:
    if not is_set(props, "sshKeys"):
        yield "droplet has no sshKeys: DigitalOcean then mails a root password and enables password login"


def _monitoring(props: Mapping[str, Any], args) -> Iterator[str]:
    if props.get("monitoring") is not True:
        yield "droplet has monitoring off: without the agent, memory and disk alerts never fire"


def _in_vpc(props: Mapping[str, Any], args) -> Iterator[str]:
    if not is_set(props, "vpcUuid"):
        yield "droplet has no vpcUuid: it joins the region's default VPC, shared with every other droplet there"


def sshd_settings(user_data: str) -> tuple[bool, bool]:
    """(password login off, root login off) as a #cloud-config or a shell script user_data sets them.

    cloud-config: `ssh_pwauth: false` / `disable_root: true`, or an sshd_config(.d) file in
    write_files with `PasswordAuthentication no` / `PermitRootLogin no` (the first one only
    while ssh_pwauth is not true). A script: those sshd lines anywhere in it.
    """
    if not user_data.startswith("#cloud-config"):
        return bool(_PASSWORD_OFF.search(user_data)), bool(_ROOT_OFF.search(user_data))
    try:
        doc = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return False, False
    if not isinstance(doc, dict):
        return False, False
    sshd = "\n".join(
        str(f.get("content", ""))
        for f in doc.get("write_files") or []
        if isinstance(f, dict) and str(f.get("path", "")).startswith(SSHD_CONFIG)
    )
    # ssh_pwauth: true makes cloud-init write 50-cloud-init.conf with `PasswordAuthentication
    # yes`, which sshd reads (and keeps) before any later drop-in: then no drop-in helps.
    pwauth = doc.get("ssh_pwauth")
    password_off = pwauth is False or (pwauth not in (True, "yes") and bool(_PASSWORD_OFF.search(sshd)))
    root_off = doc.get("disable_root") is True or bool(_ROOT_OFF.search(sshd))
    return password_off, root_off


def _user_data_hardened(props: Mapping[str, Any], args) -> Iterator[str]:
    user_data = props.get("userData")
    if not isinstance(user_data, str) or not user_data.strip():
        yield "droplet has no userData: nothing turns off SSH password and root login"
        return
    password_off, root_off = sshd_settings(user_data)
    if not password_off:
        yield "userData leaves SSH password login on: set `ssh_pwauth: false` or `PasswordAuthentication no`"
    if not root_off:
        yield "userData leaves SSH root login on: set `disable_root: true` or `PermitRootLogin no`"


def _firewall_coverage(args) -> Iterator[tuple[str | None, str]]:
    firewalls = of_type(args, FIREWALL)
    for droplet in of_type(args, DROPLET):
        if not any(shares_tag(droplet, fw) or refers_to(fw, "dropletIds", droplet) for fw in firewalls):
            yield droplet.urn, f"droplet {droplet.name} is in no cloud firewall: none names one of its tags or its id"


def _backups(props: Mapping[str, Any], args) -> Iterator[str]:
    if protect_data(args) and props.get("backups") is not True:
        yield "droplet of a stack that protects data has backups off"


ssh_keys = resource_policy(
    "droplet-ssh-keys",
    "Droplets log in with SSH keys only. Checkov CKV_DIO_2, Trivy AVD-DIG-0004; DigitalOcean Droplet hardening "
    "guide: Ensure SSH Keys are Used to Authenticate.",
    DROPLET,
    _ssh_keys,
)
monitoring = resource_policy(
    "droplet-monitoring",
    "Droplets run the DigitalOcean metrics agent (monitoring = true), which memory and disk alerts need. "
    "DigitalOcean Monitoring docs: the metrics agent.",
    DROPLET,
    _monitoring,
)
in_vpc = resource_policy(
    "droplet-in-vpc",
    "Droplets join the stack's own VPC (vpcUuid). DigitalOcean docs: VPC best practices (isolate environments).",
    DROPLET,
    _in_vpc,
)
user_data_hardened = resource_policy(
    "droplet-ssh-hardened",
    "Droplet userData turns off SSH password and root login (ssh_pwauth: false, disable_root: true or an "
    "sshd drop-in). DigitalOcean tutorial: Recommended Security Measures to Protect Your Servers.",
    DROPLET,
    _user_data_hardened,
)
firewall_coverage = stack_policy(
    "droplet-firewall-coverage",
    "Every droplet is covered by a cloud firewall through one of its tags or its id. "
    "DigitalOcean Droplet hardening guide: Ensure the Droplet is Connected to a Firewall.",
    _firewall_coverage,
)
backups = resource_policy(
    "droplet-backups",
    "Droplets of a stack that protects data have backups on (advisory: droplets are cattle, data lives in "
    "managed services). DigitalOcean Droplet hardening guide: Ensure Backups are Enabled.",
    DROPLET,
    _backups,
    level=ADVISORY,
    config=("protectData",),
)

POLICIES = [ssh_keys, monitoring, in_vpc, user_data_hardened, firewall_coverage, backups]
