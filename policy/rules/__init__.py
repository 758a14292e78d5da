"""Every rule of the pack, and its initial config.

`ALL_POLICIES` is what `__main__.py` hands to the PolicyPack and what the tests run.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Policy

from . import cloudflare, containers, databases, droplets, firewall, loadbalancer, monitoring, secrets, spaces
from .common import CONFIG_PROPERTIES

ALL_POLICIES: list[Policy] = [
    *droplets.POLICIES,
    *firewall.POLICIES,
    *loadbalancer.POLICIES,
    *databases.POLICIES,
    *spaces.POLICIES,
    *monitoring.POLICIES,
    *cloudflare.POLICIES,
    *containers.POLICIES,
    *secrets.POLICIES,
]


def pack_config(
    admin_cidrs: list[str] | None = None,
    protect_data: bool | None = None,
    allowed_world_ports: list[int] | None = None,
    app_images: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-policy config, as `--policy-pack-config` and `initial_config` take it.

    CrossGuard hands each policy only its own entry, so a value goes to every policy
    whose schema declares it. An argument left None takes the schema's default.
    """
    given = {
        "adminCidrs": admin_cidrs,
        "protectData": protect_data,
        "allowedWorldPorts": allowed_world_ports,
        "appImages": app_images,
    }
    values = {k: CONFIG_PROPERTIES[k]["default"] if v is None else v for k, v in given.items()}
    return {
        p.name: {key: values[key] for key in p.config_schema.properties}
        for p in ALL_POLICIES
        if p.config_schema is not None
    }
