"""The droplet engine (components/engine.py's Engine): the app tier on droplets.

Servers (droplets, their key sync and readiness, the optional volume), a docker host per
droplet, the data tier's processes on the first host (components/droplets/data.py); then, in
`deploy`, the app's containers droplet by droplet, the job runner and the log shipper. It is
a plain object, not a component: every resource keeps the name and parent it has always had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker

from components.cloud.network import Network
from components.cloud.runner import TrustedSource
from components.config import (
    JOB_RUNNER_MEMORY_MB,
    LOGSHIP_MEMORY_MB,
    PROBE_MEMORY_MB,
    PROXY_MEMORY_MB,
    StackConfig,
    nginx_spec,
)
from components.droplets.containers import AppContainers, AppContainersArgs
from components.droplets.data import DockerData
from components.droplets.dockerhost import DockerHost, DockerHostArgs, VolumeMount
from components.droplets.jobs import JobRunner, JobRunnerArgs
from components.droplets.logship import LogShipping, LogShippingArgs
from components.droplets.servers import AppServers, AppServersArgs, VolumeSpec
from components.engine import Release
from components.render.cloudinit import volume_data_dir, volume_scratch_dir
from components.render.cron import JobSpec
from components.render.nginx import render_nginx_conf


class DropletEngine:
    """`name` is the stack's base name (webstack-<stack>); children are named after it."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        network: Network,
        registry_auth: Sequence[docker.ProviderRegistryAuthArgs] = (),
    ):
        self.name, self.cfg, self.network = name, cfg, network
        self.servers = self._servers()
        self.hosts = [
            DockerHost(
                f"{name}-host-{i}",
                # After readiness and the key sync: docker never runs with a removed key still in place.
                DockerHostArgs(
                    address=droplet.ipv4_address, droplet_id=droplet.id, ready=keys, registry_auth=registry_auth
                ),
            )
            for i, (droplet, keys) in enumerate(zip(self.servers.droplets, self.servers.keys, strict=True))
        ]
        volume = cfg.volume
        self.volume_mount = (
            VolumeMount(host_path=volume_data_dir(cfg.volume_name), path=volume.path, users=cfg.volume_users)
            if volume.enabled
            else None
        )
        self.data = DockerData(
            self.hosts[0],
            volume_path=self.volume_mount.host_path if self.volume_mount else None,
            volume_scratch=volume_scratch_dir(cfg.volume_name) if volume.enabled else None,
        )
        # The managed data's firewalls admit the droplets by their tag.
        self.trusted = (TrustedSource("tag", network.app_tag.name),)
        self.front_door = network.public_ip
        self.addresses = self.servers.addresses
        self.containers: list[AppContainers] = []
        self.logs: LogShipping | None = None

    def _servers(self) -> AppServers:
        cfg, network = self.cfg, self.network
        app, backups = cfg.app, cfg.backups
        return AppServers(
            f"{self.name}-node",
            AppServersArgs(
                region=cfg.region,
                vpc_id=network.vpc.id,
                tags=(network.app_tag.name, f"env:{cfg.stack}"),
                size=app.droplet_size,
                memory_mb=app.droplet_memory_mb,
                replicas=app.replicas,
                ssh_public_keys=cfg.ssh_public_keys,
                ssh_key_fingerprints=cfg.ssh_key_fingerprints,
                ready_after=(network.firewall,),
                backups=backups.droplet_backups,
                backup_plan=backups.droplet_plan,
                backup_hour=backups.droplet_hour,
                reboot_hour=cfg.reboot_window.hour if cfg.reboot_window.enabled else None,
                reserved_ip=network.reserved_ip,
                volume=VolumeSpec(
                    name=cfg.volume_name, size_gb=cfg.volume.size_gb, owner=cfg.volume.owner, protect=cfg.protect
                )
                if cfg.volume.enabled
                else None,
            ),
        )

    def deploy(self, release: Release) -> None:
        """The app's containers on each droplet in turn, then the jobs and the log shipper."""
        self._containers(release)
        self._jobs(release)
        self._logs()

    def _containers(self, release: Release) -> None:
        cfg, app = self.cfg, self.cfg.app
        # Behind the load balancer every connection opens with a PROXY protocol header (network.py).
        nginx_conf = render_nginx_conf(nginx_spec(cfg, proxy_protocol=app.replicas >= 2))
        for i, host in enumerate(self.hosts):
            first = self.containers[0] if self.containers else None
            previous = self.containers[-1] if self.containers else None
            self.containers.append(
                AppContainers(
                    f"{self.name}-app-{i}",
                    AppContainersArgs(
                        host=host,
                        address=self.servers.addresses[i],
                        image=app.image,
                        proxy_image=cfg.proxy.image,
                        env=release.env,
                        release_env=release.release_env,
                        process_env=release.process_env,
                        nginx_conf=nginx_conf,
                        cert_pem=release.cert_pem,
                        key_pem=release.key_pem,
                        client_ca_pem=release.client_ca_pem,
                        web_command=app.web_command,
                        web_memory_mb=app.web_memory_mb,
                        web_stop_seconds=app.web_stop_seconds,
                        processes=tuple(sorted(app.processes.items())),
                        release_command=app.release_command,
                        port=app.port,
                        health_path=app.health_path,
                        health_status=app.health_status,
                        health_host=app.hostnames[0],
                        proxy_memory_mb=PROXY_MEMORY_MB,
                        probe_memory_mb=PROBE_MEMORY_MB,
                        first=first is None,
                        release_gate=first.release_gate if first else None,
                        release_resource=first.migrate if first else None,
                        rollout_after=previous.rolled_out if previous else (),
                        rollout_gate=previous.healthy if previous else None,
                        volume=self.volume_mount,
                        app_caps=app.capabilities,
                        read_only_root=app.read_only_root,
                        # nginx asks for the client certificate only once Cloudflare has it, and a
                        # new conf reaches one droplet at a time.
                        proxy_after=(*release.edge_ready, *([previous.proxy] if previous else [])),
                    ),
                )
            )

    def _jobs(self, release: Release) -> None:
        cfg, app = self.cfg, self.cfg.app
        if not app.jobs:
            return
        JobRunner(
            f"{self.name}-jobs",
            JobRunnerArgs(
                host=self.hosts[0],
                jobs=tuple(
                    JobSpec(name=job, schedule=spec.schedule, command=spec.command, memory_mb=spec.memory_mb)
                    for job, spec in sorted(app.jobs.items())
                ),
                app_image_id=self.containers[0].released_image,
                env=release.env,
                stack=cfg.stack,
                alert_url=cfg.slack_webhook_url,
                memory_mb=JOB_RUNNER_MEMORY_MB,
                after=(self.containers[0].promote,),
                volume=self.volume_mount.volumes("jobs") if self.volume_mount else (),
                app_caps=app.capabilities,
                read_only_root=app.read_only_root,
            ),
        )

    def _logs(self) -> None:
        cfg = self.cfg
        if not cfg.logs.enabled:
            return
        self.logs = LogShipping(
            f"{self.name}-logs",
            LogShippingArgs(
                bucket_name=cfg.logs_bucket_name,
                region=cfg.region,
                hosts=tuple(self.hosts),
                retention_days=cfg.logs.retention_days,
                image=cfg.logs.image,
                memory_mb=LOGSHIP_MEMORY_MB,
                protect=cfg.protect,
            ),
        )

    def project_resources(self) -> tuple[pulumi.Input[str], ...]:
        """The droplets, the volume and the front door. The API lists a reserved IP in a project
        as do:floatingip:<ip>, whatever URN the resource reports; sending that form keeps the
        next `pulumi up` from trying to move it (provider issues
        https://github.com/digitalocean/terraform-provider-digitalocean/issues/1031 and .../1264)."""
        network, servers = self.network, self.servers
        front_door = (
            network.load_balancer.load_balancer_urn
            if network.load_balancer
            else pulumi.Output.concat("do:floatingip:", network.reserved_ip.ip_address)
        )
        return (
            *(d.droplet_urn for d in servers.droplets),
            *([servers.volume.volume_urn] if servers.volume else []),
            front_door,
        )

    def bucket_resources(self) -> tuple[pulumi.Input[str], ...]:
        """The logs bucket, after `deploy`."""
        return (self.logs.bucket.bucket_urn,) if self.logs else ()

    def exports(self) -> Mapping[str, object]:
        """The front door's kind, the droplets' addresses and SSH commands, their ids (for
        `make exec/logs/ssh`: known_hosts file, docker network and label per droplet, in
        droplet_ips order), and the logs bucket."""
        return {
            "front_door": "load balancer" if self.cfg.app.replicas >= 2 else "reserved IP",
            "droplet_ips": self.servers.addresses,
            "ssh": [pulumi.Output.concat("ssh deploy@", address) for address in self.servers.addresses],
            "droplet_ids": [droplet.id for droplet in self.servers.droplets],
            "logs_bucket": self.logs.bucket.name if self.logs else None,
        }
