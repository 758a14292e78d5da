"""AppServers: SSH keys, the app droplets (cattle), a readiness step and a key sync step per droplet."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_digitalocean as do

from components.config.catalog import DROPLET_IMAGE
from components.droplets.dockerhost import DEPLOY_USER
from components.render.cloudinit import reboot_time, render_cloud_init, volume_mount_point

# Wait for cloud-init (exit 2 means finished with warnings, e.g. deprecations), then for
# the Docker daemon; print its version so the step's stdout says what it found.
READY_SCRIPT = "cloud-init status --wait >/dev/null || test $? -eq 2 && docker info --format '{{.ServerVersion}}'"


def ready_script(mount_point: str | None = None) -> str:
    """READY_SCRIPT, and with a volume: fail unless it is mounted, so no container ever writes
    into the bare mount point on the root disk."""
    if mount_point is None:
        return READY_SCRIPT
    missing = f"echo 'volume not mounted at {mount_point}' >&2; exit 1"
    return f"{READY_SCRIPT} && {{ mountpoint -q {mount_point} || {{ {missing}; }}; }}"


def authorized_keys(keys: Sequence[str]) -> str:
    """The deploy user's whole ~/.ssh/authorized_keys: the keys, one a line, nothing else."""
    return "".join(f"{key}\n" for key in keys)


def key_sync_script(keys: Sequence[str]) -> str:
    """Replace ~/.ssh/authorized_keys with exactly `keys` (handed over on stdin), or change
    nothing: the new file is written beside the old one, checked (the SHA-256 of what config
    validated, and ssh-keygen reading every key), and only then renamed over it in one step, so
    a cut connection or a key sshd cannot read never leaves a droplet without the keys."""
    digest = hashlib.sha256(authorized_keys(keys).encode()).hexdigest()
    fail = "echo 'authorized_keys unchanged:' \"$1\" >&2; exit 1"
    return (
        "\n".join(
            (
                "set -eu",
                "umask 077",
                f"die() {{ {fail}; }}",
                'mkdir -p "$HOME/.ssh"',
                'new=$(mktemp "$HOME/.ssh/authorized_keys.XXXXXX")',
                "trap 'rm -f \"$new\"' EXIT",
                'cat >"$new"',
                f'echo "{digest}  $new" | sha256sum --check --status || die "the keys arrived incomplete"',
                f'test "$(ssh-keygen -l -f "$new" | wc -l)" -eq {len(keys)} || die "ssh-keygen cannot read every key"',
                'mv -f "$new" "$HOME/.ssh/authorized_keys"',
                # What is authorized now, by fingerprint, in the step's output.
                'ssh-keygen -l -f "$HOME/.ssh/authorized_keys"',
            )
        )
        + "\n"
    )


@dataclass(frozen=True, kw_only=True)
class VolumeSpec:
    name: str
    """DigitalOcean volume name, unique in the region; no default (config: <domain>-<stack>-data)."""
    size_gb: int
    """Size in GiB; no default (config `volume.sizeGb`)."""
    owner: str | None = None
    """uid:gid of its top directory, set at first boot; default None (root)."""
    protect: bool = False
    """Protect it and keep it in the account if its resource is ever deleted; default False."""


@dataclass(frozen=True, kw_only=True)
class AppServersArgs:
    region: pulumi.Input[str]
    """Region slug; no default (config `region`)."""
    vpc_id: pulumi.Input[str]
    """VPC the droplets join; no default."""
    tags: tuple[pulumi.Input[str], ...]
    """Tags on every droplet: the app tag (firewall, LB, DB firewalls) and an environment tag; no default."""
    size: str
    """Droplet size slug; no default (config `app.dropletSize`, default s-1vcpu-2gb)."""
    memory_mb: int
    """RAM of that size, for the swap decision; no default."""
    replicas: int = 1
    """Number of droplets; default 1."""
    ssh_public_keys: tuple[str, ...] = ()
    """The deploy user's keys: cloud-init installs them at the first boot, the key sync step
    keeps authorized_keys equal to them on every change; default none (config requires one)."""
    ssh_key_fingerprints: tuple[str, ...] = ()
    """Keys already in the DigitalOcean account to attach; default none: the keys above are
    uploaded as SshKeys (DigitalOcean refuses the same key twice in one account)."""
    ready_after: tuple[pulumi.Resource, ...] = ()
    """What must exist before a droplet counts as ready (its firewall); default none."""
    backups: bool = False
    """DigitalOcean droplet backups; default False (config `backups.dropletBackups`)."""
    backup_plan: str = "daily"
    """Backup frequency when on; default daily."""
    backup_hour: int = 4
    """UTC start of the backup window (0, 4, ..., 20); default 4."""
    reboot_hour: int | None = None
    """UTC hour at which droplet 0 reboots when an update needs it, droplet i 10 x i minutes
    later; default None (never: updates needing a reboot wait for one); config `rebootWindow`."""
    reserved_ip: do.ReservedIp | None = None
    """Reserved IP to assign to the first droplet (single-droplet stacks); default None."""
    volume: VolumeSpec | None = None
    """A volume attached to the single droplet at its creation and mounted at
    /mnt/<volume_name> (hyphens as underscores); default None."""


class AppServers(pulumi.ComponentResource):
    """Droplets boot a generic, secret-free cloud-init; the app arrives later as containers.

    Droplets ignore changes to user_data, ssh_keys and image, so editing the bootstrap never
    destroys a server (new droplets get the new bootstrap); a size change resizes in place,
    without growing the disk, so it can be undone.
    """

    droplets: list[do.Droplet]
    volume: do.Volume | None
    mount_point: str | None
    ready: list[command.remote.Command]
    keys: list[command.remote.Command]
    addresses: list[pulumi.Output[str]]

    def __init__(self, name: str, args: AppServersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:servers:AppServers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Root login is disabled; DigitalOcean's key list only spares us the emailed root password.
        fingerprints: list[pulumi.Input[str]] = list(args.ssh_key_fingerprints) or [
            do.SshKey(f"{name}-key-{i}", name=f"{name}-key-{i}", public_key=key, opts=child).fingerprint
            for i, key in enumerate(args.ssh_public_keys)
        ]
        self.volume, self.mount_point = None, None
        spec = args.volume
        if spec is not None:
            if args.replicas != 1:
                raise ValueError("a volume attaches to one droplet: replicas must be 1")
            self.mount_point = volume_mount_point(spec.name)
            # ext4 made by DigitalOcean at creation; name, region and filesystem force a new
            # (empty) volume, so a protected one is also retained if ever deleted. The name is
            # unique in the region: a new filesystem deletes the old volume first (which
            # DigitalOcean refuses while the droplet still has it attached).
            self.volume = do.Volume(
                f"{name}-data",
                name=spec.name,
                region=args.region,
                size=spec.size_gb,
                initial_filesystem_type="ext4",
                opts=pulumi.ResourceOptions(
                    parent=self, protect=spec.protect, retain_on_delete=spec.protect, delete_before_replace=True
                ),
            )
        self.droplets, self.ready, self.keys, self.addresses = [], [], [], []
        for i in range(args.replicas):
            # Droplets differ only in their reboot time, so they never reboot together.
            user_data = render_cloud_init(
                ssh_public_keys=args.ssh_public_keys,
                memory_mb=args.memory_mb,
                volume_name=spec.name if spec else None,
                volume_owner=spec.owner if spec else None,
                reboot_time=reboot_time(args.reboot_hour, i) if args.reboot_hour is not None else None,
            )
            droplet = do.Droplet(
                f"{name}-{i}",
                name=f"{name}-{i}",
                image=DROPLET_IMAGE,
                size=args.size,
                region=args.region,
                vpc_uuid=args.vpc_id,
                monitoring=True,
                ipv6=True,
                resize_disk=False,
                ssh_keys=fingerprints,
                tags=list(args.tags),
                user_data=user_data,
                backups=args.backups,
                backup_policy=do.DropletBackupPolicyArgs(plan=args.backup_plan, hour=args.backup_hour)
                if args.backups
                else None,
                # Attached at creation, so the first boot finds and mounts it; a replacement
                # deletes the old droplet first, since a volume attaches to one droplet at a time.
                volume_ids=[self.volume.id] if self.volume else None,
                # Deleting it detaches the volume: shut down first, so ext4 is clean and the
                # page cache written, not pulled from a running system.
                graceful_shutdown=True if self.volume else None,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    ignore_changes=["userData", "sshKeys", "image"],
                    delete_before_replace=self.volume is not None,
                ),
            )
            # Authenticates through the operator's SSH agent (SSH_AUTH_SOCK): no private key
            # is ever an input, so none enters the state.
            ready = command.remote.Command(
                f"{name}-{i}-ready",
                connection=command.remote.ConnectionArgs(
                    host=droplet.ipv4_address, user=DEPLOY_USER, dial_error_limit=60, per_dial_timeout=10
                ),
                create=ready_script(self.mount_point),
                triggers=[droplet.id],
                # Nothing is started on a droplet before its firewall is in place.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.ready_after)),
            )
            # Keys reach a droplet's user_data only at its creation (user_data changes are
            # ignored), so this step makes authorized_keys exactly ssh_public_keys: a changed
            # key list changes `create` and `stdin`, and the provider runs `create` again on
            # any input change (pulumi-command remote/commandController.go, Update); a new
            # droplet runs it afresh. It logs in with the operator's agent key like every
            # step: a run whose only key is one being removed succeeds here and then loses
            # the droplet for the docker steps that follow (README, "Removing a person's key").
            keys = command.remote.Command(
                f"{name}-{i}-keys",
                connection=command.remote.ConnectionArgs(
                    host=droplet.ipv4_address, user=DEPLOY_USER, dial_error_limit=60, per_dial_timeout=10
                ),
                create=key_sync_script(args.ssh_public_keys),
                stdin=authorized_keys(args.ssh_public_keys),
                triggers=[droplet.id],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ready]),
            )
            self.droplets.append(droplet)
            self.ready.append(ready)
            self.keys.append(keys)
            self.addresses.append(droplet.ipv4_address)
        if args.reserved_ip is not None:
            do.ReservedIpAssignment(
                f"{name}-ip",
                ip_address=args.reserved_ip.ip_address,
                droplet_id=self.droplets[0].id.apply(int),
                opts=child,
            )
        self.register_outputs({"addresses": self.addresses})
