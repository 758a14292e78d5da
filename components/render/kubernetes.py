"""The Kubernetes objects of the app tier, as plain dicts (manifests). Pure functions, no
resources: components/kubernetes/engine.py hands `metadata` and `spec` of each to
pulumi_kubernetes, and the suite validates every one against the cluster version's API
schema (kubernetes-validate, strict).

Every pod runs as the image's user with no capability gained and none kept but the app's
(`app.capabilities`), no privilege escalation, the RuntimeDefault seccomp profile; requests
equal limits for memory (a pod is never killed for memory its node promised elsewhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAMESPACE = "webstack"
# DOKS labels every node with its pool's name (docs.digitalocean.com/products/kubernetes/details/managed/,
# "Automatic Application of Labels to Nodes"): app pods go to the autoscaling app pool.
POOL_LABEL = "doks.digitalocean.com/node-pool"
APP_LABEL = "app.kubernetes.io/name"
PART_LABEL = "app.kubernetes.io/component"
# The proxy's image runs as root to bind 80/443 and drops to its worker user (nginx's own
# entrypoint); it keeps only what that needs.
PROXY_CAPS = ("CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID")
PROXY_REPLICAS = 2
# DigitalOcean's cloud controller reads these Service annotations
# (github.com/digitalocean/digitalocean-cloud-controller-manager, docs/controllers/services/annotations.md).
LB_ANNOTATIONS = "service.beta.kubernetes.io/do-loadbalancer-"
# A Job's pods are kept a day for `kubectl logs`, then removed with the Job.
JOB_TTL_SECONDS = 86400


@dataclass(frozen=True, kw_only=True)
class Probe:
    """What today's release probe asks (components/droplets/containers.py): the path on the web
    port with the first hostname as Host and X-Forwarded-Proto https (ALLOWED_HOSTS and
    SECURE_SSL_REDIRECT answer it as they answer users)."""

    path: str
    host: str
    port: int


@dataclass(frozen=True, kw_only=True)
class Scale:
    min: int
    max: int
    cpu_percent: int | None
    memory_percent: int | None


@dataclass(frozen=True, kw_only=True)
class Workload:
    """One Deployment: web, a background process, or the proxy."""

    name: str
    image: str
    command: tuple[str, ...] = ()
    memory_mb: int
    cpu_millis: int
    stop_seconds: int
    replicas: int = 1
    scale: Scale | None = None
    singleton: bool = False
    port: int | None = None
    probe: Probe | None = None
    caps: tuple[str, ...] = ()
    read_only_root: bool = False
    run_as_non_root: bool = False


def labels(part: str) -> dict[str, str]:
    return {APP_LABEL: "webstack", PART_LABEL: part}


def _meta(name: str, part: str, annotations: Mapping[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "labels": labels(part)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace() -> dict[str, Any]:
    """The stack's namespace. Pod Security Admission enforces the Baseline profile (the app's
    image may run as root, as on the droplet engine, and nginx binds ports below 1024) and warns
    on what Restricted would refuse; every container still drops ALL capabilities but its own,
    cannot escalate and runs under the runtime's default seccomp profile."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                **labels("namespace"),
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }


def security(caps: Sequence[str], read_only_root: bool, run_as_non_root: bool) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"], **({"add": list(caps)} if caps else {})},
        "readOnlyRootFilesystem": read_only_root,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_non_root:
        ctx["runAsNonRoot"] = True
    return ctx


def _resources(memory_mb: int, cpu_millis: int) -> dict[str, Any]:
    return {
        "requests": {"cpu": f"{cpu_millis}m", "memory": f"{memory_mb}Mi"},
        "limits": {"memory": f"{memory_mb}Mi"},
    }


def _container(
    w: Workload, env_secret: Any, extra: Mapping[str, Any] | None = None, mounts: Sequence[Any] = ()
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": w.name,
        "image": w.image,
        "resources": _resources(w.memory_mb, w.cpu_millis),
        "securityContext": security(w.caps, w.read_only_root, w.run_as_non_root),
    }
    if w.command:
        c["command"] = list(w.command)
    if env_secret is not None:
        c["envFrom"] = [{"secretRef": {"name": env_secret}}]
    tmp = [{"name": "tmp", "mountPath": "/tmp"}] if w.read_only_root else []
    if tmp or mounts:
        c["volumeMounts"] = [*tmp, *mounts]
    return {**c, **(extra or {})}


def _pod(
    containers: list[dict[str, Any]],
    *,
    stop_seconds: int,
    pool: Any,
    pull_secret: Any,
    volumes: Sequence[Any] = (),
    restart: str | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": containers,
        "terminationGracePeriodSeconds": stop_seconds,
        "automountServiceAccountToken": service_account is not None,
        "enableServiceLinks": False,
    }
    if service_account:
        spec["serviceAccountName"] = service_account
    if pool is not None:
        spec["nodeSelector"] = {POOL_LABEL: pool}
    if pull_secret is not None:
        spec["imagePullSecrets"] = [{"name": pull_secret}]
    if restart:
        spec["restartPolicy"] = restart
    tmp = any("volumeMounts" in c and any(m["name"] == "tmp" for m in c["volumeMounts"]) for c in containers)
    vols = ([{"name": "tmp", "emptyDir": {}}] if tmp else []) + list(volumes)
    if vols:
        spec["volumes"] = vols
    return spec


def deployment(
    w: Workload,
    *,
    env_secret: Any,
    pool: Any,
    pull_secret: Any = None,
    volumes: Sequence[Any] = (),
    mounts: Sequence[Any] = (),
    template_annotations: Mapping[str, Any] | None = None,
    ports: Sequence[tuple[str, int]] = (),
    tcp_ready: int | None = None,
) -> dict[str, Any]:
    """web, a process or the proxy. With `scale` the HPA owns the count (no `replicas`: each
    `up` would fight it); a singleton is one pod replaced, never two at once (Recreate);
    everything else rolls one new pod at a time and never below the serving count."""
    extra: dict[str, Any] = {}
    named = list(ports) or ([("http", w.port)] if w.port is not None else [])
    if named:
        extra["ports"] = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in named]
    if w.probe is not None:
        extra["readinessProbe"] = {
            "httpGet": {
                "path": w.probe.path,
                "port": w.probe.port,
                "httpHeaders": [
                    {"name": "Host", "value": w.probe.host},
                    {"name": "X-Forwarded-Proto", "value": "https"},
                ],
            },
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
        # The balancer and nginx stop sending before SIGTERM (endpoints are removed first).
        extra["lifecycle"] = {"preStop": {"sleep": {"seconds": 5}}}
    elif tcp_ready is not None:
        extra["readinessProbe"] = {"tcpSocket": {"port": tcp_ready}, "periodSeconds": 5, "failureThreshold": 3}
    template = {
        "metadata": {
            "labels": labels(w.name),
            **({"annotations": dict(template_annotations)} if template_annotations else {}),
        },
        "spec": _pod(
            [_container(w, env_secret, extra, mounts)],
            stop_seconds=w.stop_seconds + (5 if w.probe else 0),
            pool=pool,
            pull_secret=pull_secret,
            volumes=volumes,
        ),
    }
    strategy = (
        {"type": "Recreate"}
        if w.singleton
        else {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    )
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels(w.name)},
        "strategy": strategy,
        "revisionHistoryLimit": 5,
        "template": template,
    }
    if w.scale is None:
        spec["replicas"] = 1 if w.singleton else w.replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(w.name, w.name), "spec": spec}


def hpa(name: str, scale: Scale) -> dict[str, Any]:
    """autoscaling/v2: CPU and/or memory utilisation of the requests; scale up fast, down
    after five quiet minutes (the default window, written out)."""
    metrics = [
        {"type": "Resource", "resource": {"name": res, "target": {"type": "Utilization", "averageUtilization": pct}}}
        for res, pct in (("cpu", scale.cpu_percent), ("memory", scale.memory_percent))
        if pct is not None
    ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scale.min,
            "maxReplicas": scale.max,
            "metrics": metrics,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def pdb(name: str) -> dict[str, Any]:
    """A drain (node upgrade, scale-down) takes one pod of `name` at a time; with one pod it
    still may (a budget of zero would block node upgrades forever)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(name, name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(name)}},
    }


def service(name: str, port: int, target: int) -> dict[str, Any]:
    """A ClusterIP Service: web behind nginx."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, name),
        "spec": {
            "type": "ClusterIP",
            "selector": labels(name),
            "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def balancer(name: str, *, lb_name: str, source_ranges: Sequence[str], health_path: str) -> dict[str, Any]:
    """The front door: a DigitalOcean load balancer the cloud controller makes for this
    Service. TCP 443 passes through to nginx (Full (strict) with the Origin CA certificate),
    every connection opens with a PROXY protocol header naming the Cloudflare edge (nginx
    believes CF-Connecting-IP from Cloudflare only, as behind the droplet balancer), only
    Cloudflare's ranges reach it, and it checks nginx's port 80 health location."""
    a = LB_ANNOTATIONS
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(
            name,
            name,
            {
                f"{a}name": lb_name,
                f"{a}enable-proxy-protocol": "true",
                f"{a}protocol": "tcp",
                f"{a}healthcheck-protocol": "http",
                f"{a}healthcheck-port": "80",
                f"{a}healthcheck-path": health_path,
                f"{a}healthcheck-check-interval-seconds": "10",
                f"{a}healthcheck-response-timeout-seconds": "5",
                f"{a}healthcheck-healthy-threshold": "3",
                f"{a}healthcheck-unhealthy-threshold": "3",
                f"{a}size-unit": "1",
            },
        ),
        "spec": {
            "type": "LoadBalancer",
            "selector": labels(name),
            # IPv4 only, as the droplet balancer: Cloudflare reaches the origin over IPv4.
            "loadBalancerSourceRanges": [r for r in source_ranges if ":" not in r],
            "externalTrafficPolicy": "Cluster",
            "ports": [
                {"name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"},
                {"name": "health", "port": 80, "targetPort": 80, "protocol": "TCP"},
            ],
        },
    }


def job(
    name: str,
    w: Workload,
    *,
    env_secret: Any,
    pool: Any,
    pull_secret: Any = None,
    deadline_seconds: int = 1800,
) -> dict[str, Any]:
    """A one-shot (release command, admin step): one try, its failure fails the update
    (pulumi-kubernetes waits for a Job to complete and fails when it fails)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, w.name),
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": {
                "metadata": {"labels": labels(w.name)},
                "spec": _pod(
                    [_container(w, env_secret)],
                    stop_seconds=w.stop_seconds,
                    pool=pool,
                    pull_secret=pull_secret,
                    restart="Never",
                ),
            },
        },
    }


def cronjob(
    name: str,
    schedule: str,
    w: Workload,
    *,
    env_secret: Any,
    pool: Any,
    pull_secret: Any = None,
    volumes: Sequence[Any] = (),
    mounts: Sequence[Any] = (),
) -> dict[str, Any]:
    """A scheduled job: UTC, never two at once (a run due while one runs is skipped), one try;
    a failed Job stays listed for the failure report (`job_watch`)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(name, w.name),
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": {**labels(w.name), "webstack/job": w.name}},
                "spec": {
                    "backoffLimit": 0,
                    "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
                    "template": {
                        "metadata": {"labels": {**labels(w.name), "webstack/job": w.name}},
                        "spec": _pod(
                            [_container(w, env_secret, mounts=mounts)],
                            stop_seconds=w.stop_seconds,
                            pool=pool,
                            pull_secret=pull_secret,
                            volumes=volumes,
                            restart="Never",
                        ),
                    },
                },
            },
        },
    }


# The failure report: every five minutes, each failed Job of a scheduled job not reported yet
# is posted to the Slack webhook (its URL from a Secret, never a command line), then marked.
JOB_WATCH = "job-watch"
JOB_WATCH_SCRIPT = r"""set -u
kubectl get jobs -n "$NAMESPACE" -l webstack/job,'!webstack/reported' \
  -o jsonpath='{range .items[?(@.status.failed)]}{.metadata.name} {.metadata.labels.webstack/job}{"\n"}{end}' |
while read -r job name; do
  [ -n "$job" ] || continue
  printf '{"text": "webstack job %s/%s failed (%s)"}' "$STACK" "$name" "$job" > /tmp/message.json
  if curl -fsS -m 10 -o /dev/null -H 'Content-Type: application/json' --data-binary @/tmp/message.json "$WEBHOOK"; then
    kubectl label job -n "$NAMESPACE" "$job" webstack/reported=true
  else
    echo "webstack job $name: the failure alert could not be sent" >&2
  fi
done
"""


def job_watch(image: str, *, stack: str, webhook_secret: Any, pool: Any) -> dict[str, Any]:
    w = Workload(name=JOB_WATCH, image=image, memory_mb=64, cpu_millis=20, stop_seconds=10, run_as_non_root=True)
    container = _container(w, None)
    container["command"] = ["sh", "-c", JOB_WATCH_SCRIPT]
    container["env"] = [
        {"name": "NAMESPACE", "value": NAMESPACE},
        {"name": "STACK", "value": stack},
        {"name": "WEBHOOK", "valueFrom": {"secretKeyRef": {"name": webhook_secret, "key": "url"}}},
    ]
    container["securityContext"]["runAsUser"] = 65534
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(JOB_WATCH, JOB_WATCH),
        "spec": {
            "schedule": "*/5 * * * *",
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "ttlSecondsAfterFinished": 3600,
                    "template": {
                        "metadata": {"labels": labels(JOB_WATCH)},
                        "spec": _pod(
                            [container],
                            stop_seconds=10,
                            pool=pool,
                            pull_secret=None,
                            restart="Never",
                            service_account=JOB_WATCH,
                        ),
                    },
                },
            },
        },
    }


def job_watch_rbac() -> list[dict[str, Any]]:
    """The watcher's account: read the namespace's Jobs and label them, nothing else."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(JOB_WATCH, JOB_WATCH)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(JOB_WATCH, JOB_WATCH),
            "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "patch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(JOB_WATCH, JOB_WATCH),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": JOB_WATCH},
            "subjects": [{"kind": "ServiceAccount", "name": JOB_WATCH, "namespace": NAMESPACE}],
        },
    ]


def secret(name: str, string_data: Any, *, kind: str = "Opaque", part: str = "env") -> dict[str, Any]:
    """A Secret (its `stringData` a Pulumi secret in the engine). Named by the engine with a
    suffix Pulumi picks: pulumi-kubernetes replaces an auto-named Secret or ConfigMap when its
    data changes (github.com/pulumi/pulumi-kubernetes/issues/1567), so the new name reaches the
    pod templates that read it and they roll."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels(part)},
        "type": kind,
        "stringData": string_data,
    }


def config_map(name: str, data: Any, part: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels(part)},
        "data": data,
    }


def proxy_volumes(conf_map: Any, tls_secret: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts) of nginx: the rendered conf, and the origin certificate, its key and
    the edge's client CA from a Secret, read-only; writable cache and run directories."""
    volumes = [
        {"name": "conf", "configMap": {"name": conf_map}},
        {"name": "tls", "secret": {"secretName": tls_secret, "defaultMode": 0o440}},
        {"name": "cache", "emptyDir": {}},
        {"name": "run", "emptyDir": {}},
    ]
    mounts = [
        {"name": "conf", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf", "readOnly": True},
        {"name": "tls", "mountPath": "/etc/nginx/certs", "readOnly": True},
        {"name": "cache", "mountPath": "/var/cache/nginx"},
        {"name": "run", "mountPath": "/var/run"},
    ]
    return volumes, mounts


def volume_claim(name: str, size_gb: int) -> dict[str, Any]:
    """`webstack:volume` as a DigitalOcean block-storage volume the one web pod mounts
    (ReadWriteOnce: one node, hence one pod, replaced rather than rolled)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(name, "web"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "do-block-storage",
            "resources": {"requests": {"storage": f"{size_gb}Gi"}},
        },
    }


# The log shipper: Vector on every node reads the pods' log files and writes gzipped JSON lines
# into the logs bucket under node-<name>/<day>/, as the droplet shipper does per droplet. Its
# own namespace, as it needs the nodes' log directories (hostPath), which the app's refuses.
LOGS_NAMESPACE = "webstack-logs"
LOGSHIP = "logship"
VECTOR_DATA = "/vector-data-dir"


def render_vector_k8s_config(*, bucket: str, region: str, batch_seconds: int, buffer_bytes: int) -> str:
    import json

    config = {
        "data_dir": VECTOR_DATA,
        "sources": {"pods": {"type": "kubernetes_logs", "extra_namespace_label_selector": f"{APP_LABEL}=webstack"}},
        "sinks": {
            "spaces": {
                "type": "aws_s3",
                "inputs": ["pods"],
                "endpoint": f"https://{region}.digitaloceanspaces.com",
                "region": region,
                "bucket": bucket,
                "key_prefix": "node-{{ kubernetes.pod_node_name }}/%Y-%m-%d/",
                "compression": "gzip",
                "encoding": {"codec": "json"},
                "framing": {"method": "newline_delimited"},
                "batch": {"timeout_secs": batch_seconds},
                "buffer": {"type": "disk", "max_size": buffer_bytes, "when_full": "block"},
            }
        },
    }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def logs_namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": LOGS_NAMESPACE,
            "labels": {**labels("logs"), "pod-security.kubernetes.io/enforce": "privileged"},
        },
    }


def logship_rbac() -> list[dict[str, Any]]:
    """Read pods, namespaces and nodes (the kubernetes_logs source's metadata), nothing else."""
    meta = {"name": f"webstack-{LOGSHIP}", "labels": labels(LOGSHIP)}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": LOGSHIP, "namespace": LOGS_NAMESPACE, "labels": labels(LOGSHIP)},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta,
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": meta["name"]},
            "subjects": [{"kind": "ServiceAccount", "name": LOGSHIP, "namespace": LOGS_NAMESPACE}],
        },
    ]


POD_LOGS = "/var/log/pods"


def logship_daemonset(
    image: str, *, config_map: Any, credentials: Any, memory_mb: int, stop_seconds: int
) -> dict[str, Any]:
    container = {
        "name": LOGSHIP,
        "image": image,
        "args": ["--config-dir", "/etc/vector/"],
        "env": [
            {"name": "VECTOR_SELF_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "VECTOR_SELF_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "VECTOR_SELF_POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        "envFrom": [{"secretRef": {"name": credentials}}],
        "resources": _resources(memory_mb, 50),
        # Root, to read the node's log files; nothing else.
        "securityContext": security((), True, False),
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/vector/", "readOnly": True},
            {"name": "data", "mountPath": VECTOR_DATA},
            # The pods' log files and nothing else of the node: containerd writes them as plain
            # files under /var/log/pods (no symlinks into /var/lib, where the kubelet keeps
            # every pod's Secret volumes, which a root reader of /var/lib could read).
            {"name": "pod-logs", "mountPath": POD_LOGS, "readOnly": True},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": LOGSHIP, "namespace": LOGS_NAMESPACE, "labels": labels(LOGSHIP)},
        "spec": {
            "selector": {"matchLabels": labels(LOGSHIP)},
            "template": {
                "metadata": {"labels": labels(LOGSHIP)},
                "spec": {
                    "serviceAccountName": LOGSHIP,
                    "terminationGracePeriodSeconds": stop_seconds,
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": config_map}},
                        {"name": "data", "hostPath": {"path": "/var/lib/webstack-vector", "type": "DirectoryOrCreate"}},
                        {"name": "pod-logs", "hostPath": {"path": POD_LOGS}},
                    ],
                },
            },
        },
    }
