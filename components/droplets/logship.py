"""LogShipping: every container's log lines, off the droplets, into a private Spaces bucket
that expires them after the configured days. One Vector container per droplet reads the
docker daemon's log stream and writes gzipped JSON lines under `droplet-<id>/<day>/`, so a
replaced droplet loses no more than the batch in flight."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do
import pulumi_docker as docker

from components.cloud.spaces import expiring, private_bucket, scoped_key
from components.droplets.dockerhost import DockerHost
from components.render.dockerapi import PROXY_PORT, log_reader_allowlist

CONFIG_PATH = "/etc/vector/vector.json"
DATA_DIR = "/var/lib/vector"
CONTAINER_NAME = "logship"
# Vector reads the daemon through a proxy that admits only reads (components/render/dockerapi.py);
# it runs as root (its buffer volume is root's), with no capability.
PROXY_NAME = "logship-docker"
# A batch goes out at least this often: what a droplet that vanishes can lose.
BATCH_SECONDS = 60
# Vector's smallest disk buffer: lines survive a restart of the shipper while Spaces is away.
BUFFER_BYTES = 268435488


def render_vector_config(*, bucket: str, region: str, droplet_id: str) -> str:
    """Vector's config (JSON, which Vector reads like its YAML/TOML): the docker_logs source
    (every container but the shipper itself, read through the read-only API proxy) into the
    aws_s3 sink on Spaces. Credentials come from the container's environment
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), never this file."""
    config = {
        "data_dir": DATA_DIR,
        "sources": {
            "containers": {
                "type": "docker_logs",
                "docker_host": f"http://{PROXY_NAME}:{PROXY_PORT}",
                "exclude_containers": [CONTAINER_NAME],
            }
        },
        "sinks": {
            "spaces": {
                "type": "aws_s3",
                "inputs": ["containers"],
                "endpoint": f"https://{region}.digitaloceanspaces.com",
                "region": region,
                "bucket": bucket,
                "key_prefix": f"droplet-{droplet_id}/%Y-%m-%d/",
                "compression": "gzip",
                "encoding": {"codec": "json"},
                "framing": {"method": "newline_delimited"},
                "batch": {"timeout_secs": BATCH_SECONDS},
                "buffer": {"type": "disk", "max_size": BUFFER_BYTES, "when_full": "block"},
            }
        },
    }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True, kw_only=True)
class LogShippingArgs:
    bucket_name: str
    """Spaces bucket name, unique in the region; no default (derived from domain and stack)."""
    region: str
    """Spaces region; no default (config `region`)."""
    hosts: tuple[DockerHost, ...]
    """Every app droplet's docker host: one shipper each; no default."""
    retention_days: int
    """Days a log object is kept; no default (config `logs.retentionDays`)."""
    image: str
    """Pinned Vector image; no default (config `logs.image`)."""
    memory_mb: int
    """Memory limit of each shipper; no default (components/config LOGSHIP_MEMORY_MB)."""
    protect: bool = False
    """Protect the bucket; default False (config `protect`)."""


class LogShipping(pulumi.ComponentResource):
    """Outputs the bucket; its key may use that bucket only and reaches the shippers as a secret."""

    bucket: do.SpacesBucket

    def __init__(self, name: str, args: LogShippingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:logship:LogShipping", name, None, opts)
        # Versioned: the shippers' key can write and delete, so someone holding a droplet could
        # erase its tracks; a deleted or overwritten object stays as an old version for the retention.
        self.bucket = private_bucket(
            f"{name}-bucket",
            parent=self,
            name=args.bucket_name,
            region=args.region,
            lifecycle_rules=[expiring("expire-logs", args.retention_days)],
            protect=args.protect,
        )
        key = scoped_key(f"{name}-key", f"{name}-shippers", self.bucket, self)
        env = pulumi.Output.secret(
            pulumi.Output.all(key.access_key, key.secret_key).apply(
                lambda k: [f"AWS_ACCESS_KEY_ID={k[0]}", f"AWS_SECRET_ACCESS_KEY={k[1]}"]
            )
        )
        for i, host in enumerate(args.hosts):
            image = host.image(f"{name}-{i}-image", args.image, self)
            data = host.volume(f"{name}-{i}-buffer", self, protect=False)
            config = pulumi.Output.all(self.bucket.name, host.droplet_id).apply(
                lambda v: render_vector_config(bucket=v[0], region=args.region, droplet_id=str(v[1]))
            )
            network = host.internal_network(f"{name}-{i}-api-net", "logs-api", self)
            proxy = host.socket_proxy(
                f"{name}-{i}-docker",
                parent=self,
                name=PROXY_NAME,
                network=network,
                client=CONTAINER_NAME,
                allow=log_reader_allowlist(),
            )
            host.container(
                f"{name}-{i}-shipper",
                parent=self,
                memory_mb=args.memory_mb,
                name=CONTAINER_NAME,
                image=image.image_id,
                command=["--config", CONFIG_PATH],
                envs=env,
                restart="unless-stopped",
                uploads=[docker.ContainerUploadArgs(file=CONFIG_PATH, content=config)],
                volumes=[docker.ContainerVolumeArgs(volume_name=data.name, container_path=DATA_DIR)],
                # Spaces through the droplet's network, the daemon through the proxy's.
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=host.network.name),
                    docker.ContainerNetworksAdvancedArgs(name=network.name),
                ],
                depends_on=[proxy],
                caps=(),
                # Flush the batch in flight before the container goes: the provider stops it
                # with destroy_grace_seconds (default 0: SIGKILL at once) when it deletes it.
                stop_timeout=BATCH_SECONDS,
                destroy_grace_seconds=BATCH_SECONDS,
            )
        self.register_outputs({"bucket": self.bucket.name})
