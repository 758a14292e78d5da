"""The Kubernetes engine (components/engine.py's Engine): the app tier on DigitalOcean
Kubernetes, from the same stack file.

The cluster (components/kubernetes/cluster.py) in the stack's VPC; the managed data's
firewalls admit the cluster (rule type `k8s`); the front door is a Service of type
LoadBalancer in front of nginx, made in the constructor so the edge's DNS can point at it;
`deploy` makes the app: its env as Secrets, the admin step and the release command as Jobs
that every workload waits on, web (Deployment, Service, HPA or fixed replicas, disruption
budget), each background process, nginx with the same rendered conf, the scheduled jobs as
CronJobs with a failure report to Slack. Imported only when `engine: kubernetes` (__main__),
so droplet plans never load the Kubernetes SDK.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_digitalocean as do
import pulumi_kubernetes as k8s

from components.cloud.network import Network
from components.cloud.runner import File, Service, TrustedSource
from components.cloud.spaces import expiring, private_bucket, scoped_key
from components.config import LOGSHIP_MEMORY_MB, PROXY_MEMORY_MB, StackConfig, cloudflare_ips, nginx_spec
from components.config.sizing import JOB_CPU_MILLIS, PROXY_CPU_MILLIS
from components.engine import Release
from components.kubernetes.cluster import (
    METRICS_SERVER_CHART,
    METRICS_SERVER_REPO,
    METRICS_SERVER_VERSION,
    Cluster,
    ClusterArgs,
)
from components.render import kubernetes as kr
from components.render.nginx import CLIENT_CA_PATH, render_nginx_conf

# A shell with kubectl and curl for the job failure report (components/render/kubernetes.py).
# Tag only, not verified here (no registry reachable): pin its digest once pulled.
JOB_WATCH_IMAGE = "alpine/k8s:1.35.0"
# nginx reads the origin certificate, its key and the edge's client CA from /etc/nginx/certs
# (ProxySpec's cert_path, key_path and CLIENT_CA_PATH).
TLS_FILES_CA = CLIENT_CA_PATH.rsplit("/", 1)[-1]


def _env_map(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines)


def _docker_config(auths: Sequence[Any]) -> pulumi.Output[dict[str, str]]:
    """The `.dockerconfigjson` of a kubernetes.io/dockerconfigjson Secret from the docker
    providers' registry_auth (components/cloud/registry.py), a Pulumi secret."""

    def render(entries: list[list[str]]) -> dict[str, str]:
        auths = {
            address: {
                "username": user,
                "password": password,
                "auth": base64.b64encode(f"{user}:{password}".encode()).decode(),
            }
            for address, user, password in entries
        }
        return {".dockerconfigjson": json.dumps({"auths": auths}, sort_keys=True)}

    return pulumi.Output.secret(
        pulumi.Output.all(*[pulumi.Output.all(a.address, a.username, a.password) for a in auths]).apply(render)
    )


class KubeData:
    """DataRunner on the cluster: the admin step as a Job, the dumps as a one-pod Deployment
    keeping its own schedule. Data services are refused by the config (rules.py)."""

    def __init__(self, engine: KubernetesEngine):
        self.engine = engine

    def service(
        self,
        owner: pulumi.Resource,
        name: str,
        *,
        role: str,
        image: str,
        data_path: str,
        memory_mb: int,
        protect: bool,
        env: Callable[[str], list[str]],
        health: str,
        tmpfs: Mapping[str, str],
        shell_command: str | None = None,
    ) -> Service:
        """Never called: the config refuses data containers on this engine (rules.py)."""
        raise pulumi.RunError("engine kubernetes runs no data containers (database/valkey mode managed)")

    @property
    def volume_archived(self) -> bool:
        """No volume archive on this engine yet: the claim is a block-storage volume whose
        copies are DigitalOcean's volume snapshots (not made by this program)."""
        return False

    def _files_secret(self, owner: pulumi.Resource, name: str, files: Sequence[File]) -> k8s.core.v1.Secret:
        return self.engine._secret(
            f"{name}-files",
            pulumi.Output.secret(
                pulumi.Output.all(*[f.content for f in files]).apply(
                    lambda contents: {f"f{i}": c for i, c in enumerate(contents)}
                )
            ),
            part=name,
            parent=owner,
        )

    @staticmethod
    def _mounts(secret_name: pulumi.Input[str], files: Sequence[File]) -> tuple[list, list]:
        volumes = [
            {
                "name": "files",
                "secret": {
                    "secretName": secret_name,
                    "items": [
                        {"key": f"f{i}", "path": f"f{i}", "mode": 0o555 if f.executable else 0o444}
                        for i, f in enumerate(files)
                    ],
                },
            }
        ]
        mounts = [
            {"name": "files", "mountPath": f.path, "subPath": f"f{i}", "readOnly": True} for i, f in enumerate(files)
        ]
        return volumes, mounts

    def admin_step(
        self,
        owner: pulumi.Resource,
        name: str,
        *,
        image: str,
        command: str,
        credentials: File,
        user: str,
        after: Sequence[pulumi.Resource],
        secrets: pulumi.Output[list[str]],
        what: str,
    ) -> pulumi.Output[str]:
        """A Job (`<name>-grant`) named after its inputs' secret, so a changed command or
        credentials run it again; pulumi-kubernetes fails the update when the Job fails."""
        files = self._files_secret(owner, f"{name}-grant", [credentials])
        volumes, mounts = self._mounts(files.metadata.name, [credentials])
        w = kr.Workload(
            name="pg-grant", image=image, command=("sh", "-c", command), memory_mb=128,
            cpu_millis=JOB_CPU_MILLIS, stop_seconds=10,
        )  # fmt: skip
        manifest = kr.job("pg-grant", w, env_secret=None, pool=self.engine.cluster.app_pool_name)
        pod = manifest["spec"]["template"]["spec"]
        pod["volumes"] = volumes
        pod["containers"][0]["volumeMounts"] = mounts
        del manifest["metadata"]["name"]  # auto-named: a new Job whenever its inputs change
        job = self.engine._apply(k8s.batch.v1.Job, f"{name}-grant", manifest, parent=owner, depends_on=[*after, files])
        self.engine.admin_steps.append(job)
        return job.id.apply(lambda _: "")

    def scheduled(
        self,
        owner: pulumi.Resource,
        name: str,
        image_name: str,
        *,
        image: str,
        role: str,
        memory_mb: int,
        env: pulumi.Output[list[str]],
        caps: tuple[str, ...],
        command: Sequence[str] | None = None,
        files: Sequence[File] = (),
        read_volume: bool = False,
    ) -> None:
        env_secret = self.engine._secret(
            f"{name}-env", pulumi.Output.secret(env.apply(_env_map)), part=role, parent=owner
        )
        files_secret = self._files_secret(owner, name, files) if files else None
        volumes, mounts = self._mounts(files_secret.metadata.name, files) if files_secret else ([], [])
        w = kr.Workload(
            name=role, image=image, command=tuple(command or ()), memory_mb=memory_mb, cpu_millis=JOB_CPU_MILLIS,
            stop_seconds=30, singleton=True, caps=caps,
        )  # fmt: skip
        manifest = kr.deployment(
            w,
            env_secret=env_secret.metadata.name,
            pool=self.engine.cluster.app_pool_name,
            volumes=volumes,
            mounts=mounts,
        )
        self.engine._apply(k8s.apps.v1.Deployment, name, manifest, parent=owner)


class KubernetesEngine:
    """`name` is the stack's base name (webstack-<stack>); children are named after it."""

    def __init__(self, name: str, cfg: StackConfig, network: Network, registry: Any = None):
        self.name, self.cfg, self.network = name, cfg, network
        c = cfg.cluster
        self.cluster = Cluster(
            f"{name}-k8s",
            ClusterArgs(
                region=cfg.region,
                vpc_id=network.vpc.id,
                version=c.version,
                ha=c.ha,
                node_size=c.node_size,
                min_nodes=c.min_nodes,
                max_nodes=c.max_nodes,
                system_node_size=c.system_node_size,
                system_nodes=c.system_nodes,
                maintenance_day=c.maintenance.day,
                maintenance_hour=c.maintenance.hour,
                auto_upgrade=c.auto_upgrade,
                surge_upgrade=c.surge_upgrade,
                tags=(network.app_tag.name, f"env:{cfg.stack}"),
                protect=cfg.protect,
            ),
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.cluster.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self.cluster),
        )
        # Every object waits for the app pool: nothing schedules before its nodes exist.
        self.namespace = self._apply(
            k8s.core.v1.Namespace, f"{name}-ns", kr.namespace(), parent=self.cluster, depends_on=[self.cluster.app_pool]
        )
        # The HorizontalPodAutoscalers read pod metrics from metrics-server.
        self.metrics = k8s.helm.v3.Release(
            f"{name}-metrics-server",
            chart=METRICS_SERVER_CHART,
            version=METRICS_SERVER_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=METRICS_SERVER_REPO),
            namespace="kube-system",
            opts=pulumi.ResourceOptions(
                parent=self.cluster, provider=self.provider, depends_on=[self.cluster.app_pool]
            ),
        )
        self.registry = registry
        self.trusted = (TrustedSource("k8s", self.cluster.cluster.id),)
        self.data = KubeData(self)
        self.admin_steps: list[pulumi.Resource] = []
        self.front = self._apply(
            k8s.core.v1.Service,
            f"{name}-front",
            kr.balancer(
                "proxy", lb_name=f"{name}-lb", source_ranges=cloudflare_ips.ALL, health_path=cfg.app.health_path
            ),
            parent=self.cluster,
        )
        self.front_door = self.front.status.apply(lambda s: s.load_balancer.ingress[0].ip)
        self.addresses: Sequence[pulumi.Output[str]] = ()
        self.release_job: pulumi.Resource | None = None
        self.logs_bucket: do.SpacesBucket | None = None

    # -- helpers -------------------------------------------------------------------

    def _apply(
        self,
        cls: Callable[..., pulumi.CustomResource],
        name: str,
        manifest: Mapping[str, Any],
        *,
        parent: pulumi.Resource | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        **opts: Any,
    ) -> Any:
        # Top-level fields are the SDK's keyword arguments (string_data, role_ref); everything
        # below them is passed as the manifest spells it.
        body = {
            re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): v
            for k, v in manifest.items()
            if k not in ("apiVersion", "kind")
        }
        deps = [*depends_on, *([self.namespace] if getattr(self, "namespace", None) else [])]
        return cls(
            name,
            **body,
            opts=pulumi.ResourceOptions(parent=parent or self.cluster, provider=self.provider, depends_on=deps, **opts),
        )

    def _rbac(
        self, prefix: str, classes: Sequence[Callable[..., pulumi.CustomResource]], manifests, **kw: Any
    ) -> list[Any]:
        """An account, its role and their binding (`manifests` in that order), each named
        `<prefix>-<kind>`."""
        return [
            self._apply(cls, f"{prefix}-{m['kind'].lower()}", m, **kw)
            for cls, m in zip(classes, manifests, strict=True)
        ]

    def _secret(
        self,
        name: str,
        data: pulumi.Output[Any],
        *,
        part: str,
        kind: str = "Opaque",
        parent: pulumi.Resource | None = None,
    ) -> k8s.core.v1.Secret:
        manifest = kr.secret("", data, kind=kind, part=part)
        del manifest["metadata"]["name"]  # auto-named: a change is a new Secret, and its readers roll
        return self._apply(k8s.core.v1.Secret, name, manifest, parent=parent)

    # -- the app -------------------------------------------------------------------

    def deploy(self, release: Release) -> None:
        app, name = self.cfg.app, self.name
        pool = self.cluster.app_pool_name
        env = self._secret(f"{name}-env", pulumi.Output.secret(release.env.apply(_env_map)), part="env")
        release_env = self._secret(
            f"{name}-release-env", pulumi.Output.secret(release.release_env.apply(_env_map)), part="release"
        )
        pull = None
        if self.registry:
            pull = self._secret(
                f"{name}-pull", _docker_config(self.registry), part="registry", kind="kubernetes.io/dockerconfigjson"
            )
        pull_name = pull.metadata.name if pull else None

        def workload(**kw: Any) -> kr.Workload:
            return kr.Workload(image=app.image, caps=app.capabilities, read_only_root=app.read_only_root, **kw)

        # The release command: one Job per release (auto-named, so a new image or env runs it
        # again), after the admin step; every workload waits on it.
        gate: list[pulumi.Resource] = list(self.admin_steps)
        if app.release_command:
            w = workload(
                name="release", command=app.release_command, memory_mb=app.web_memory_mb,
                cpu_millis=app.web_cpu_millis, stop_seconds=app.web_stop_seconds,
            )  # fmt: skip
            manifest = kr.job("release", w, env_secret=release_env.metadata.name, pool=pool, pull_secret=pull_name)
            del manifest["metadata"]["name"]
            self.release_job = self._apply(
                k8s.batch.v1.Job, f"{name}-release", manifest, depends_on=[*self.admin_steps, release_env]
            )
            gate = [self.release_job]

        scale = (
            kr.Scale(
                min=app.autoscale.min, max=app.autoscale.max, cpu_percent=app.autoscale.cpu_percent,
                memory_percent=app.autoscale.memory_percent,
            )
            if app.autoscale
            else None
        )  # fmt: skip
        # With a volume, web is one pod on the one node the volume attaches to, replaced (the
        # config allows no more: rules.py).
        volumes, mounts, claim = [], [], None
        if self.cfg.volume.enabled:
            claim = self._apply(
                k8s.core.v1.PersistentVolumeClaim,
                f"{name}-data",
                kr.volume_claim("data", self.cfg.volume.size_gb),
                protect=self.cfg.protect,
                retain_on_delete=self.cfg.protect,
            )
            volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
            mounts = [{"name": "data", "mountPath": self.cfg.volume.path}]
        web = workload(
            name="web", command=app.web_command, memory_mb=app.web_memory_mb, cpu_millis=app.web_cpu_millis,
            stop_seconds=app.web_stop_seconds, replicas=app.replicas, scale=scale, port=app.port,
            probe=kr.Probe(path=app.health_path, host=app.hostnames[0], port=app.port), singleton=claim is not None,
        )  # fmt: skip
        self.web = self._apply(
            k8s.apps.v1.Deployment,
            f"{name}-web",
            kr.deployment(
                web, env_secret=env.metadata.name, pool=pool, pull_secret=pull_name, volumes=volumes, mounts=mounts
            ),
            depends_on=[*gate, *([claim] if claim else [])],
        )
        self._apply(k8s.core.v1.Service, f"{name}-web-svc", kr.service("web", app.port, app.port))
        self._apply(k8s.policy.v1.PodDisruptionBudget, f"{name}-web-pdb", kr.pdb("web"))
        self.scalers: dict[str, Any] = {}
        if scale:
            self.scalers["web"] = self._apply(
                k8s.autoscaling.v2.HorizontalPodAutoscaler,
                f"{name}-web-hpa",
                kr.hpa("web", scale),
                depends_on=[self.web, self.metrics],
            )
        self.processes: dict[str, Any] = {}
        for pname, p in sorted(app.processes.items()):
            pscale = (
                kr.Scale(
                    min=p.autoscale.min, max=p.autoscale.max, cpu_percent=p.autoscale.cpu_percent,
                    memory_percent=p.autoscale.memory_percent,
                )
                if p.autoscale
                else None
            )  # fmt: skip
            w = workload(
                name=pname, command=p.command, memory_mb=p.memory_mb, cpu_millis=p.cpu_millis,
                stop_seconds=p.stop_seconds, replicas=p.count, scale=pscale, singleton=p.singleton,
            )  # fmt: skip
            self.processes[pname] = self._apply(
                k8s.apps.v1.Deployment,
                f"{name}-{pname}",
                kr.deployment(w, env_secret=env.metadata.name, pool=pool, pull_secret=pull_name),
                depends_on=gate,
            )
            if not p.singleton:
                self._apply(k8s.policy.v1.PodDisruptionBudget, f"{name}-{pname}-pdb", kr.pdb(pname))
            if pscale:
                self.scalers[pname] = self._apply(
                    k8s.autoscaling.v2.HorizontalPodAutoscaler,
                    f"{name}-{pname}-hpa",
                    kr.hpa(pname, pscale),
                    depends_on=[self.processes[pname], self.metrics],
                )
        self._proxy(release)
        self._jobs(env, pull_name, gate)
        self._logs()

    def _logs(self) -> None:
        """The logs bucket (as the droplet engine's: private, versioned, expiring) and a Vector
        on every node shipping the app's pod logs into it with a key scoped to that bucket."""
        cfg, name = self.cfg, self.name
        self.logs_bucket = None
        if not cfg.logs.enabled:
            return
        days = cfg.logs.retention_days
        owner = self.cluster
        self.logs_bucket = private_bucket(
            f"{name}-logs-bucket",
            parent=owner,
            name=cfg.logs_bucket_name,
            region=cfg.region,
            lifecycle_rules=[expiring("expire-logs", days)],
            protect=cfg.protect,
        )
        key = scoped_key(f"{name}-logs-key", f"{name}-logs-shippers", self.logs_bucket, owner)
        ns = self._apply(k8s.core.v1.Namespace, f"{name}-logs-ns", kr.logs_namespace())
        creds = self._apply(
            k8s.core.v1.Secret,
            f"{name}-logs-credentials",
            {
                "metadata": {"namespace": kr.LOGS_NAMESPACE, "labels": kr.labels(kr.LOGSHIP)},
                "type": "Opaque",
                "stringData": pulumi.Output.secret(
                    pulumi.Output.all(key.access_key, key.secret_key).apply(
                        lambda k: {"AWS_ACCESS_KEY_ID": k[0], "AWS_SECRET_ACCESS_KEY": k[1]}
                    )
                ),
            },
            depends_on=[ns],
        )
        conf = self._apply(
            k8s.core.v1.ConfigMap,
            f"{name}-logs-config",
            {
                "metadata": {"namespace": kr.LOGS_NAMESPACE, "labels": kr.labels(kr.LOGSHIP)},
                "data": {
                    "vector.json": self.logs_bucket.name.apply(
                        lambda b: kr.render_vector_k8s_config(
                            bucket=b, region=cfg.region, batch_seconds=60, buffer_bytes=268435488
                        )
                    )
                },
            },
            depends_on=[ns],
        )
        rbac = self._rbac(
            f"{name}-logs",
            (k8s.core.v1.ServiceAccount, k8s.rbac.v1.ClusterRole, k8s.rbac.v1.ClusterRoleBinding),
            kr.logship_rbac(),
            depends_on=[ns],
        )
        self._apply(
            k8s.apps.v1.DaemonSet,
            f"{name}-logship",
            kr.logship_daemonset(
                cfg.logs.image,
                config_map=conf.metadata.name,
                credentials=creds.metadata.name,
                memory_mb=LOGSHIP_MEMORY_MB,
                stop_seconds=60,
            ),
            depends_on=rbac,
        )

    def _proxy(self, release: Release) -> None:
        cfg, name = self.cfg, self.name
        # The same conf as behind the droplet balancer (PROXY protocol, Cloudflare-only real
        # IP), with the web Service's cluster name as upstream and the cluster's DNS service
        # (the tenth address of the service subnet, kube-dns' conventional ClusterIP) as resolver.
        spec = nginx_spec(cfg, proxy_protocol=True)

        def conf(subnet: str) -> str:
            dns = str(ipaddress.ip_network(subnet)[10]) if subnet else "10.245.0.10"
            return render_nginx_conf(
                dataclasses.replace(spec, upstream=f"web.{kr.NAMESPACE}.svc.cluster.local:{cfg.app.port}", resolver=dns)
            )

        conf_map = self._apply(
            k8s.core.v1.ConfigMap,
            f"{name}-nginx",
            {
                **(m := kr.config_map("", {"nginx.conf": self.cluster.cluster.service_subnet.apply(conf)}, "proxy")),
                # Auto-named: a new conf is a new ConfigMap, and nginx's pods roll onto it.
                "metadata": {k: v for k, v in m["metadata"].items() if k != "name"},
            },
        )
        tls = self._secret(
            f"{name}-origin-tls",
            pulumi.Output.secret(
                pulumi.Output.all(release.cert_pem, release.key_pem, release.client_ca_pem).apply(
                    lambda v: {"origin.pem": v[0], "origin.key": v[1], TLS_FILES_CA: v[2]}
                )
            ),
            part="proxy",
        )
        volumes, mounts = kr.proxy_volumes(conf_map.metadata.name, tls.metadata.name)
        w = kr.Workload(
            name="proxy", image=cfg.proxy.image, memory_mb=PROXY_MEMORY_MB, cpu_millis=PROXY_CPU_MILLIS,
            stop_seconds=30, replicas=kr.PROXY_REPLICAS, caps=kr.PROXY_CAPS,
        )  # fmt: skip
        self.proxy = self._apply(
            k8s.apps.v1.Deployment,
            f"{name}-proxy",
            kr.deployment(
                w,
                env_secret=None,
                pool=self.cluster.app_pool_name,
                volumes=volumes,
                mounts=mounts,
                ports=[("https", 443), ("http", 80)],
                tcp_ready=443,
            ),
            # nginx asks for the client certificate only once Cloudflare has it.
            depends_on=[*release.edge_ready, self.web],
        )
        self._apply(k8s.policy.v1.PodDisruptionBudget, f"{name}-proxy-pdb", kr.pdb("proxy"))

    def _jobs(self, env: Any, pull_name: Any, gate: Sequence[pulumi.Resource]) -> None:
        cfg, app, name = self.cfg, self.cfg.app, self.name
        pool = self.cluster.app_pool_name
        for job, spec in sorted(app.jobs.items()):
            w = kr.Workload(
                name=f"job-{job}", image=app.image, command=spec.command, memory_mb=spec.memory_mb,
                cpu_millis=JOB_CPU_MILLIS, stop_seconds=30, caps=app.capabilities, read_only_root=app.read_only_root,
            )  # fmt: skip
            self._apply(
                k8s.batch.v1.CronJob,
                f"{name}-job-{job}",
                kr.cronjob(
                    f"job-{job}", spec.schedule, w, env_secret=env.metadata.name, pool=pool, pull_secret=pull_name
                ),
                depends_on=gate,
            )
        if app.jobs and cfg.slack_webhook_url is not None:
            hook = self._secret(
                f"{name}-job-watch-hook",
                pulumi.Output.secret(cfg.slack_webhook_url.apply(lambda u: {"url": u})),
                part="job-watch",
            )
            rbac = self._rbac(
                f"{name}-job-watch",
                (k8s.core.v1.ServiceAccount, k8s.rbac.v1.Role, k8s.rbac.v1.RoleBinding),
                kr.job_watch_rbac(),
            )
            self._apply(
                k8s.batch.v1.CronJob,
                f"{name}-job-watch",
                kr.job_watch(JOB_WATCH_IMAGE, stack=cfg.stack, webhook_secret=hook.metadata.name, pool=pool),
                depends_on=rbac,
            )

    def project_resources(self) -> tuple[pulumi.Input[str], ...]:
        """The cluster (its nodes and the balancer the cloud controller makes are the cluster's)."""
        return (self.cluster.cluster.cluster_urn,)

    def bucket_resources(self) -> tuple[pulumi.Input[str], ...]:
        """The logs bucket, after `deploy`."""
        return (self.logs_bucket.bucket_urn,) if self.logs_bucket is not None else ()

    def exports(self) -> Mapping[str, object]:
        return {
            "front_door": "kubernetes load balancer",
            "droplet_ips": [],
            "ssh": [],
            "droplet_ids": [],
            "cluster_id": self.cluster.cluster.id,
            "cluster_name": self.cluster.cluster.name,
            "namespace": kr.NAMESPACE,
            "logs_bucket": self.logs_bucket.name if self.logs_bucket is not None else None,
        }
