"""The rules that span config keys (loading calls `problems` once every key is valid): prod-only
settings, hostnames inside the zone, one place per secret, container mode vs replicas, media,
the zone's records, what nginx accepts, and sizing."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from cryptography.hazmat.primitives import serialization

from components.config import catalog
from components.config.base import is_domain, problem, whole
from components.config.edge import zone_problems
from components.config.nginx import proxy_problems
from components.config.sizing import sizing_problems
from components.config.stack import StackConfig

_VOLUME_NAME = re.compile(whole(r"[a-z][a-z0-9-]*"))
_BUCKET_NAME = re.compile(whole(r"[a-z0-9][a-z0-9-]*"))


def ssh_md5(key_line: str) -> str:
    """The MD5 fingerprint DigitalOcean shows for an OpenSSH public key (`ssh-keygen -l -E md5`):
    of the key's wire form, as cryptography serializes the key it parsed."""
    key = serialization.load_ssh_public_key(" ".join(key_line.split()[:2]).encode())
    blob = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).split()[1]
    digest = hashlib.md5(base64.b64decode(blob), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def _fingerprint_problems(cfg: StackConfig) -> list[str]:
    """Each attached account key is one of sshPublicKeys: the droplets' authorized_keys follow
    that list, so a key attached only by fingerprint would be removed by the first key sync."""
    known = {ssh_md5(k): k for k in cfg.ssh_public_keys}
    listed = ", ".join(f"{fp} ({' '.join(k.split()[2:]) or k.split()[0]})" for fp, k in known.items())
    return [
        problem("sshKeyFingerprints", fp, f"the MD5 fingerprint of a key in sshPublicKeys: {listed}")
        for fp in cfg.ssh_key_fingerprints
        if fp not in known
    ]


def problems(cfg: StackConfig, context: dict[str, Any]) -> list[str]:
    """Every problem across keys, each naming the key as the user wrote it."""
    stack = context.get("stack", "")
    bad: list[str] = []
    if stack.startswith("prod") and not cfg.protect:
        bad.append(problem("protect", cfg.protect, f"true in a production stack ({stack!r}); prod data is protected"))
    for host in cfg.app.hostnames:
        if not (is_domain(host) and (host == cfg.domain or host.endswith("." + cfg.domain))):
            bad.append(problem("app.hostnames", host, f"a fully qualified name inside {cfg.domain}"))
        elif host != cfg.domain and host.count(".") - cfg.domain.count(".") > 1 and not cfg.edge.advanced_certificate:
            bad.append(problem("app.hostnames", host, (
                f"one label below {cfg.domain} (Universal SSL covers {cfg.domain} and *.{cfg.domain} only), "
                "or set edge.advancedCertificate: true once an Advanced Certificate covers it"
            )))  # fmt: skip
    for host, record_id in sorted(cfg.edge.import_.records.items()):
        if host not in cfg.app.hostnames:
            bad.append(
                problem(
                    f"edge.import.records.{host}",
                    record_id,
                    f"keyed by one of app.hostnames {list(cfg.app.hostnames)}",
                )
            )
    if not cfg.media.enabled:
        for name, value in sorted(cfg.app.env_aliases.items()):
            if value.startswith("media"):
                bad.append(problem(f"app.envAliases.{name}", value, "a non-media value while media.enabled is false"))
    elif not cfg.media.public_hostname:
        for name, value in sorted(cfg.app.env_aliases.items()):
            if value in ("mediaPublicUrl", "mediaHostname"):
                bad.append(problem(f"app.envAliases.{name}", value, "a value that exists: set media.publicHostname"))
    if cfg.valkey.mode == "none":
        for name, value in sorted(cfg.app.env_aliases.items()):
            if value.startswith(("broker", "cache")):
                why = "a value other than broker* and cache* with valkey.mode none"
                bad.append(problem(f"app.envAliases.{name}", value, why))
    if cfg.database.mode == "none":
        for name, value in sorted(cfg.app.env_aliases.items()):
            if value.startswith(("database", "directDatabase")):
                bad.append(
                    problem(
                        f"app.envAliases.{name}",
                        value,
                        "a value other than database* and directDatabase* with database.mode none",
                    )
                )
        if cfg.backups.enabled and not cfg.volume.enabled:
            bad.append(
                problem(
                    "backups.enabled",
                    True,
                    "false with database.mode none and no volume (nothing to back up), or set volume.enabled",
                )
            )
    secret_leaves = [f"app.secretEnv.{n}" for n in cfg.app.secret_env]
    secret_leaves += ["app.registry.password"] if cfg.app.registry and cfg.app.registry.password else []
    secret_leaves += [f"secretEnv.{n}" for n in cfg.secret_env]
    for leaf in secret_leaves:
        if leaf.split(".", 1)[0] not in context.get("secret_keys", ()) or leaf in context.get("plaintext_leaves", ()):
            bad.append(
                problem(
                    leaf,
                    "[plaintext]",
                    f"set with `pulumi config set --secret --path '{leaf}' ...`: it is stored in plaintext",
                )
            )
    if cfg.app.jobs:
        # Jobs get the env through docker's --env-file: one line per variable.
        plain = {f"app.env.{k}": v for k, v in cfg.app.env_vars}
        plain |= {f"app.secretEnv.{k}": v for k, v in cfg.app.secret_env.items()}
        plain |= {f"secretEnv.{k}": v for k, v in cfg.secret_env.items()}
        for key, value in sorted(plain.items()):
            if "\n" in value or "\r" in value:
                shown = "[secret]" if "ecretEnv" in key else value
                bad.append(problem(key, shown, "a single line while app.jobs is set (base64 a PEM or JSON)"))
    app_names = {**cfg.app.env, **cfg.app.secret_env, **cfg.app.env_aliases, **cfg.app.generated_secrets}
    for name in sorted(set(cfg.secret_env) & set(app_names)):
        bad.append(problem(f"secretEnv.{name}", "...", "defined once (app has it too)"))
    bad += _fingerprint_problems(cfg)
    bad += _media_problems(cfg)
    bad += _volume_problems(cfg, stack)
    if cfg.monitoring.enabled and not cfg.alert_emails and not context.get("has_slack"):
        bad.append(problem("alertEmails", list(cfg.alert_emails), "at least one address while monitoring is enabled"))
    bad += _engine_problems(cfg)
    for key, mode in (("database.mode", cfg.database.mode), ("valkey.mode", cfg.valkey.mode)):
        if mode == "container" and cfg.app.replicas > 1:
            bad.append(
                problem(
                    key,
                    "container",
                    f"managed with app.replicas = {cfg.app.replicas}; "
                    "a container on the first droplet is reachable from that droplet only",
                )
            )
    bad += _bucket_problems(cfg, stack)
    bad += zone_problems(cfg.domain, stack, cfg.served_hostnames, cfg.edge, cfg.frontend)
    bad += proxy_problems(cfg)
    bad += sizing_problems(
        cfg.app,
        cfg.database,
        cfg.valkey,
        cfg.backups,
        cfg.logs,
        cfg.volume.enabled and cfg.backups.enabled,
        cluster=cfg.cluster if cfg.engine == "kubernetes" else None,
    )
    return bad


def _engine_problems(cfg: StackConfig) -> list[str]:
    """What the chosen engine cannot do: autoscaling needs Kubernetes; Kubernetes cannot reach
    a data container, attach a volume to more than one pod, or size droplets."""
    app, bad = cfg.app, []
    scaled = [("app.autoscale", app.autoscale)] + [
        (f"app.processes.{n}.autoscale", p.autoscale) for n, p in sorted(app.processes.items())
    ]
    for key, autoscale in scaled:
        if autoscale is not None:
            bad += autoscale.problems(key)
    if cfg.engine == "droplets":
        if "cluster" in cfg.model_fields_set:
            bad.append(problem("cluster", "...", "unset while engine is droplets (it configures engine: kubernetes)"))
        for key, autoscale in scaled:
            if autoscale is not None:
                bad.append(
                    problem(key, autoscale.model_dump(by_alias=True), "unset while engine is droplets "
                            "(autoscaling needs engine: kubernetes; droplets take app.replicas)")
                )  # fmt: skip
        return bad
    for name, p in sorted(app.processes.items()):
        if p.singleton and p.autoscale is not None:
            bad.append(
                problem(f"app.processes.{name}.autoscale", p.autoscale.model_dump(by_alias=True),
                        "unset for a singleton (exactly one pod, never two at once)")
            )  # fmt: skip
    if app.autoscale is not None and "replicas" in app.model_fields_set:
        bad.append(problem("app.replicas", app.replicas, "unset with app.autoscale (the autoscaler owns the count)"))
    # Capabilities: config admits only the Baseline's on either engine (components/config/app.py),
    # the list the namespace's Pod Security Baseline profile admits.
    if "droplet_size" in app.model_fields_set:
        bad.append(
            problem("app.dropletSize", app.droplet_size, "unset with engine kubernetes (cluster.nodeSize sizes nodes)")
        )
    for key, mode in (("database.mode", cfg.database.mode), ("valkey.mode", cfg.valkey.mode)):
        if mode == "container":
            bad.append(problem(key, mode, "managed with engine kubernetes (data containers run on droplets only)"))
    if cfg.protect and not cfg.cluster.ha:
        bad.append(problem("cluster.ha", False, "true in a protected stack (protect: true): a highly available "
                           "control plane keeps deploys and autoscaling working through its maintenance"))  # fmt: skip
    web_pods = app.autoscale.max if app.autoscale else app.replicas
    if cfg.volume.enabled:
        if web_pods > 1 and app.replicas == 1:
            bad.append(
                problem("volume.enabled", True, f"false with app.autoscale.max = {web_pods}: a volume attaches "
                        "to one node and one pod (share files between pods through webstack:media)")
            )  # fmt: skip
        if set(cfg.volume_users) - {"web"}:
            bad.append(
                problem("volume.processes", sorted(cfg.volume_users), "[web] with engine kubernetes: the volume "
                        "is mounted by the one web pod (ReadWriteOnce)")
            )  # fmt: skip
    return bad


def _media_problems(cfg: StackConfig) -> list[str]:
    media, bad = cfg.media, []
    host = media.public_hostname
    if not media.enabled:
        if host or media.cors_origins is not None:
            bad.append(problem("media.enabled", False, "true to use media.publicHostname or media.corsOrigins"))
        return bad
    if host and (
        host in cfg.app.hostnames or not host.endswith("." + cfg.domain) or host.count(".") - cfg.domain.count(".") != 1
    ):
        bad.append(
            problem("media.publicHostname", host, f"a name one label below {cfg.domain}, not one of app.hostnames")
        )
    return bad


def _volume_problems(cfg: StackConfig, stack: str) -> list[str]:
    volume, bad = cfg.volume, []
    if not volume.enabled:
        if volume.processes is not None or volume.owner is not None:
            bad.append(problem("volume.enabled", False, "true to use volume.processes or volume.owner"))
        return bad
    if cfg.app.replicas > 1:
        bad.append(
            problem(
                "volume.enabled",
                True,
                f"false with app.replicas = {cfg.app.replicas}: a volume attaches to one droplet "
                "(share files between droplets through webstack:media)",
            )
        )
    allowed = ("web", "release", "jobs", *sorted(cfg.app.processes))
    for name in volume.processes or ():
        if name not in allowed:
            bad.append(problem("volume.processes", name, f"one of {', '.join(allowed)}"))
    if volume.processes is not None and not volume.processes:
        bad.append(problem("volume.processes", [], "at least one name, or unset for all"))
    name = f"{cfg.domain.replace('.', '-')}-{stack}-data"
    if len(name) > 64 or not _VOLUME_NAME.match(name):
        bad.append(
            problem("volume.enabled", True, f"false, or a domain and stack name giving a valid volume name ({name!r})")
        )
    if cfg.protect and not cfg.backups.enabled:
        bad.append(
            problem("backups.enabled", False, "true while volume.enabled in a protected stack: its files need a copy")
        )
    return bad


def _bucket_problems(cfg: StackConfig, stack: str) -> list[str]:
    """Each Spaces bucket the stack makes (<domain>-<stack>-<use>) needs Spaces in the region
    and a valid bucket name."""
    bad = []
    if cfg.backups.enabled and cfg.offsite_region == cfg.region:
        bad.append(problem("backups.offsiteRegion", cfg.offsite_region, "a Spaces region other than `region`"))
    # The off-site bucket (<domain>-<stack>-offsite) is as long as the backups one: one check for both.
    for key, use in (("backups", "backups"), ("media", "media"), ("logs", "logs")):
        if not getattr(cfg, key).enabled:
            continue
        if cfg.region not in catalog.SPACES_REGIONS:
            bad.append(problem("region", cfg.region, f"a region with Spaces while {key}.enabled is true"))
        bucket = f"{cfg.domain.replace('.', '-')}-{stack}-{use}"
        if len(bucket) > 63 or not _BUCKET_NAME.match(bucket):
            bad.append(
                problem(
                    f"{key}.enabled", True, f"false, or a domain and stack name giving a valid bucket name ({bucket!r})"
                )
            )
    return bad
