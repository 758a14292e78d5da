"""Generic host bootstrap for app droplets, rendered as a ``#cloud-config`` document.

The output becomes droplet ``user_data``, which anyone on the droplet can read back from the
metadata service and whose change would replace the droplet. So its only inputs are public
keys and sizes: no secret, no app config, nothing that changes per release (docs/design.md,
principles 1 and 2). The app itself arrives later, as containers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml

SSHD_DROPIN_PATH = "/etc/ssh/sshd_config.d/60-webstack.conf"
DOCKER_DAEMON_PATH = "/etc/docker/daemon.json"
AUTO_UPGRADES_PATH = "/etc/apt/apt.conf.d/20auto-upgrades"
# After Ubuntu's 50unattended-upgrades (whose reboot lines are commented out), so ours hold.
AUTO_REBOOT_PATH = "/etc/apt/apt.conf.d/52unattended-upgrades-webstack"
FAIL2BAN_JAIL_PATH = "/etc/fail2ban/jail.d/webstack.local"
SWAP_FILE = "/swapfile"
# The daemon's default log options, the one source for them: the daemon merges each key a
# container lacks into its log config (moby daemon/logs.go mergeAndVerifyLogConfig) and the
# docker provider reads the merged map back into `log_opts`, a force-new input. So every
# container sends these same keys (dockerhost.LOG_OPTS is this map): a key here that the
# containers did not send would replace every container on every run.
DOCKER_LOG_OPTS = {"max-size": "10m", "max-file": "3"}

_SWAP_THRESHOLD_MB = 2048
_SMALL_HOST_SWAP_MB = 2048

_KEY_PREFIXES = ("ssh-", "ecdsa-", "sk-")
_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_LOG_SIZE_RE = re.compile(r"[1-9][0-9]*[kmg]")
_VOLUME_RE = re.compile(r"[a-z][a-z0-9-]{0,63}")
_OWNER_RE = re.compile(r"[0-9]{1,10}:[0-9]{1,10}")
_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
# Between two droplets' reboots: the load balancer takes a droplet out after 3 failed checks
# 10 s apart and back after 3 good ones (about a minute in all), and a reboot with docker
# restarting the containers takes 1-3 minutes; 10 minutes leaves a slow boot room.
REBOOT_SPACING_MINUTES = 10
# DigitalOcean's fstab line for a volume (its "Mount a volume" guide): nofail so a missing
# volume never blocks the boot (the readiness step then refuses the droplet instead),
# discard for TRIM on the network block device.
VOLUME_MOUNT_OPTIONS = "defaults,nofail,discard,noatime"


def volume_device(volume_name: str) -> str:
    """The stable path of a DigitalOcean volume on its droplet (udev, by the volume's name)."""
    return f"/dev/disk/by-id/scsi-0DO_Volume_{volume_name}"


def volume_data_dir(volume_name: str) -> str:
    """What the containers get: a directory on the volume, not its root (whose lost+found,
    root's and mode 0700, would trip an app sweeping its folder)."""
    return f"{volume_mount_point(volume_name)}/data"


def volume_scratch_dir(volume_name: str) -> str:
    """The archiver's /tmp: its tar.gz is written whole before the upload, so it goes on the
    volume, beside the data it copies, never on the droplet's root disk."""
    return f"{volume_mount_point(volume_name)}/.backup-tmp"


def docker_waits_for(mount_point: str) -> str:
    """A drop-in for docker.service: every boot, dockerd (and the containers it restarts) waits
    for the volume's mount, and does not start without it; `nofail` alone orders nothing, so
    after a reboot a container could otherwise write into the bare mount point."""
    return f"[Unit]\nRequiresMountsFor={mount_point}\n"


DOCKER_VOLUME_DROPIN = "/etc/systemd/system/docker.service.d/10-webstack-volume.conf"


def volume_mount_point(volume_name: str) -> str:
    """Where the droplet mounts the volume: where DigitalOcean's own automatic mount of a
    pre-formatted volume puts it on Ubuntu (/mnt/<name, hyphens as underscores>), so whichever
    mounts it, DigitalOcean's agent or this fstab line, the volume ends up at this one path."""
    return f"/mnt/{volume_name.replace('-', '_')}"


def swap_size_mb(memory_mb: int) -> int:
    """Swap to give a droplet with ``memory_mb`` of RAM: 2048 below 2 GiB, else 0.

    On 512 MiB-1 GiB droplets an apt upgrade, an image pull or a burst of gunicorn
    workers can exhaust RAM and let the OOM killer take a container; swap on the SSD is the
    cheap safety net. From 2 GiB up the app fits, and swapping would only hide memory
    pressure that the memory alert is there to report.
    """
    if memory_mb <= 0:
        raise ValueError(f"memory_mb must be positive, got {memory_mb!r}")
    return 0 if memory_mb >= _SWAP_THRESHOLD_MB else _SMALL_HOST_SWAP_MB


def reboot_time(hour: int, index: int) -> str:
    """The droplet `index`'s reboot time (HH:MM, UTC): the window's hour, then one droplet every
    REBOOT_SPACING_MINUTES, wrapping past midnight."""
    minutes = (hour * 60 + index * REBOOT_SPACING_MINUTES) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def auto_reboot(time: str) -> str:
    """apt.conf lines that make unattended-upgrades reboot at `time` when an update needs it.

    unattended-upgrade (mvo5/unattended-upgrades 2.13, reboot_if_requested_and_needed and
    schedule_shutdown) runs `shutdown -r <time>` after its daily run when
    /var/run/reboot-required exists; WithUsers true so an idle SSH session never holds a
    kernel fix back (its default, written out).
    """
    if not _TIME_RE.fullmatch(time):
        raise ValueError(f"reboot_time: {time!r} must be HH:MM (24 h)")
    return (
        'Unattended-Upgrade::Automatic-Reboot "true";\n'
        'Unattended-Upgrade::Automatic-Reboot-WithUsers "true";\n'
        f'Unattended-Upgrade::Automatic-Reboot-Time "{time}";\n'
    )


def _check_keys(ssh_public_keys: Sequence[str]) -> list[str]:
    # A bare string is a Sequence too; iterating it would yield one "key" per character.
    if isinstance(ssh_public_keys, str):
        raise TypeError("ssh_public_keys must be a sequence of keys, not a single string")
    keys = [k.strip() for k in ssh_public_keys]
    if not keys:
        raise ValueError("ssh_public_keys must hold at least one key: login is by key only")
    for key in keys:
        # A newline would smuggle extra lines into authorized_keys; a private key or a
        # pasted fingerprint fails the prefix test.
        if not key.startswith(_KEY_PREFIXES) or "\n" in key or "\r" in key:
            shown = key[:24] + ("..." if len(key) > 24 else "")
            raise ValueError(
                f"ssh_public_keys: {shown!r} is not an OpenSSH public key "
                f"(must start with one of {', '.join(_KEY_PREFIXES)})"
            )
    return keys


def _check_args(deploy_user: str, log_max_size: str, log_max_file: int) -> None:
    if not _USER_RE.fullmatch(deploy_user) or deploy_user == "root":
        raise ValueError(
            f"deploy_user: {deploy_user!r} is not a valid non-root login name "
            "(lower case letters, digits, '_' or '-', at most 32 characters)"
        )
    if not _LOG_SIZE_RE.fullmatch(log_max_size):
        raise ValueError(f"log_max_size: {log_max_size!r} must look like '10m' (k, m or g)")
    if isinstance(log_max_file, bool) or not isinstance(log_max_file, int) or log_max_file < 1:
        raise ValueError(f"log_max_file: {log_max_file!r} must be a positive integer")


def _file(path: str, content: str, permissions: str = "0644") -> dict[str, Any]:
    return {"path": path, "owner": "root:root", "permissions": permissions, "content": content}


# Beyond login: no tunnels of any kind (a deploy key must not become a way into the VPC: the
# managed databases admit the droplets' tag), few tries and little time per connection, dead
# clients dropped. Docker over SSH and the deploy steps run commands only, so they need none
# of what is turned off. MaxAuthTries 4 (CIS): an agent offering more keys than that before
# the deploy key is refused (`ssh -o IdentitiesOnly=yes -i key`, or fewer keys in the agent).
SSHD_HARDENING = (
    "DisableForwarding yes",
    "MaxAuthTries 4",
    "LoginGraceTime 30",
    "ClientAliveInterval 60",
    "ClientAliveCountMax 3",
    # Only the file the key sync step rewrites counts: a key planted in authorized_keys2
    # would survive its removal from sshPublicKeys.
    "AuthorizedKeysFile .ssh/authorized_keys",
)


def sshd_dropin(deploy_user: str = "deploy") -> str:
    """The sshd_config.d drop-in of every droplet (also what `sshd -t` checks in the tests)."""
    # sshd keeps the first value it reads and sshd_config includes sshd_config.d/*.conf at
    # its top, so this beats the image's main file. The only earlier drop-in on Ubuntu
    # images, 50-cloud-init.conf, sets PasswordAuthentication, which ssh_pwauth: false
    # makes "no" as well.
    lines = (
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin no",
        f"AllowUsers {deploy_user}",
        *SSHD_HARDENING,
    )
    return "".join(f"{line}\n" for line in lines)


def _docker_daemon(log_max_size: str, log_max_file: int) -> str:
    # Without log-opts json-file logs grow until the disk is full. live-restore keeps the
    # containers serving while dockerd itself is upgraded by unattended-upgrades. The keys are
    # DOCKER_LOG_OPTS's, whatever the values. Every container the program creates sets
    # no-new-privileges itself; the daemon's default covers one started by hand as well (it is
    # not written into HostConfig, so nothing reads back differently). icc only governs the
    # default bridge, where the program puts nothing.
    daemon = {
        "log-driver": "json-file",
        "log-opts": {**DOCKER_LOG_OPTS, "max-size": log_max_size, "max-file": str(log_max_file)},
        "live-restore": True,
        "no-new-privileges": True,
        "icc": False,
    }
    return json.dumps(daemon, indent=2) + "\n"


_AUTO_UPGRADES = 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'

# Read from the journal: Ubuntu 24.04 images need not run rsyslog, so auth.log may not
# exist. python3-systemd (installed below) is what lets fail2ban read the journal.
_FAIL2BAN_JAIL = "".join(
    f"{line}\n"
    for line in (
        "[sshd]",
        "enabled = true",
        "backend = systemd",
        "maxretry = 5",
        "findtime = 10m",
        "bantime = 1h",
    )
)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks, so files read as files."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def render_cloud_init(
    *,
    ssh_public_keys: Sequence[str],
    memory_mb: int,
    deploy_user: str = "deploy",
    log_max_size: str = DOCKER_LOG_OPTS["max-size"],
    log_max_file: int = int(DOCKER_LOG_OPTS["max-file"]),
    volume_name: str | None = None,
    volume_owner: str | None = None,
    reboot_time: str | None = None,
) -> str:
    """Render the ``#cloud-config`` user data for an Ubuntu 24.04 app droplet.

    Same arguments give byte-identical output, so an unchanged stack never sees a diff.
    Raises ValueError on a key that is not an OpenSSH public key or on a bad size, and
    TypeError when ``ssh_public_keys`` is one string rather than a sequence of keys.
    With ``volume_name`` the volume attached at creation is mounted at
    /mnt/<name_with_underscores> (fstab, so every boot mounts it), docker waits for that mount
    on every boot, and the first boot makes its data directory, owned by ``volume_owner``
    (uid:gid) when given. With ``reboot_time`` (HH:MM, UTC) unattended-upgrades reboots the
    droplet at that time when an update needs a reboot; without it, never.
    """
    keys = _check_keys(ssh_public_keys)
    _check_args(deploy_user, log_max_size, log_max_file)
    swap_mb = swap_size_mb(memory_mb)
    if volume_name is not None and not _VOLUME_RE.fullmatch(volume_name):
        raise ValueError(f"volume_name: {volume_name!r} is not a DigitalOcean volume name")
    if volume_owner is not None and (volume_name is None or not _OWNER_RE.fullmatch(volume_owner)):
        raise ValueError(f"volume_owner: {volume_owner!r} must be uid:gid numbers, with a volume_name")

    config: dict[str, Any] = {
        # Only the docker group, no sudo: membership of docker is already root-equivalent,
        # and it is all the deploy path (docker over SSH) needs. A second, password-less
        # sudo route would add attack surface and nothing the deploy path uses.
        "users": [
            {
                "name": deploy_user,
                # Created here when missing; docker.io's postinst then adopts the group.
                "groups": ["docker"],
                "shell": "/bin/bash",
                "lock_passwd": True,
                "ssh_authorized_keys": keys,
            }
        ],
        "disable_root": True,
        "ssh_pwauth": False,
        "package_update": True,
        "package_upgrade": True,
        "packages": ["docker.io", "unattended-upgrades", "fail2ban", "python3-systemd"],
        # write_files runs in the init stage, before packages are installed in the final
        # stage, so docker and fail2ban start with these files already in place.
        "write_files": [
            _file(SSHD_DROPIN_PATH, sshd_dropin(deploy_user)),
            _file(DOCKER_DAEMON_PATH, _docker_daemon(log_max_size, log_max_file)),
            _file(AUTO_UPGRADES_PATH, _AUTO_UPGRADES),
            _file(FAIL2BAN_JAIL_PATH, _FAIL2BAN_JAIL),
        ],
    }
    if reboot_time is not None:
        config["write_files"].append(_file(AUTO_REBOOT_PATH, auto_reboot(reboot_time)))
    if swap_mb > 0:
        size = swap_mb * 1024 * 1024
        config["swap"] = {"filename": SWAP_FILE, "size": size, "maxsize": size}
    if volume_name is not None:
        # cc_mounts runs in the init stage, before runcmd and before docker starts: it
        # creates the mount point, writes fstab and mounts it.
        point = volume_mount_point(volume_name)
        config["mounts"] = [[volume_device(volume_name), point, "ext4", VOLUME_MOUNT_OPTIONS, "0", "2"]]
        config["write_files"].append(_file(DOCKER_VOLUME_DROPIN, docker_waits_for(point)))
    config["runcmd"] = [
        # sshd may have started before the drop-in landed on some images; restart to be sure.
        "systemctl restart ssh",
        "systemctl enable --now docker",
        # enable --now would leave an already-running fail2ban on its old jail set.
        "systemctl enable fail2ban",
        "systemctl restart fail2ban",
    ]
    if volume_name is not None:
        # Only when mounted: never write into the bare mount point on the root disk.
        point, data = volume_mount_point(volume_name), volume_data_dir(volume_name)
        owner = f" && chown {volume_owner} {data}" if volume_owner else ""
        config["runcmd"].append(f"mountpoint -q {point} && mkdir -p {data}{owner}")

    body = yaml.dump(
        config,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=100_000,  # never fold a long public key across lines
        allow_unicode=False,
    )
    return "#cloud-config\n" + body
