"""The Kubernetes engine under mocks: every object it sends passes the cluster version's API
schema (kubernetes-validate, strict); what waits on what, what scales on what, what is
secret, and what the managed data admits."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from components.config import cloudflare_ips
from testing import harness
from tests.conftest import recorded_with
from tests.graph.test_preview_secrets import CONFIG_SECRETS, SLACK
from tests.graph.test_secrets import plain_leaks

SCALE = {"min": 1, "max": 5, "cpuPercent": 70, "memoryPercent": 80}
# Staging on the Kubernetes engine, web autoscaled as the Smart Invoice guide asks, a
# scheduled job (for the CronJob and its failure report), room for every pod at its most, and
# the config secrets of tests/graph/test_preview_secrets.py (a registry token, a secretEnv, a
# Slack webhook), so every recording here carries secrets to search for. The contract suite
# records the same (tests/contracts/test_contracts.py, part "kubernetes"): one recording each
# for up and preview.
KUBE = {
    **CONFIG_SECRETS,
    "engine": "kubernetes",
    "app.dropletSize": None,
    "app.replicas": None,
    "app.autoscale": SCALE,
    "app.processes.worker.autoscale": {"min": 1, "max": 3, "cpuPercent": 80},
    "app.jobs": {"nightly": {"schedule": "30 3 * * *", "command": ["python", "manage.py", "clearsessions"]}},
    "cluster.maxNodes": 5,
    "database.size": "db-s-1vcpu-2gb",
    "database.poolSize": 30,
    "logs.enabled": True,
}
DEPLOYMENT, JOB, CRONJOB = "kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"
HPA, SECRET = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:core/v1:Secret"
CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
POOL = "digitalocean:index/kubernetesNodePool:KubernetesNodePool"
# Not Kubernetes API objects: the provider, and the chart release (its objects are the chart's).
NOT_OBJECTS = ("pulumi:providers:kubernetes", "kubernetes:helm.sh/v3:Release")


def _run(preview: bool = False) -> harness.Run:
    return recorded_with("staging", KUBE, preview=preview, secrets=SLACK)


def manifest(r: harness.Resource) -> dict:
    """The object as the API receives it: apiVersion and kind from the type, the inputs."""
    group_version, kind = r.type.removeprefix("kubernetes:").split(":")
    api = group_version.removeprefix("core/")
    return {"apiVersion": api, "kind": kind, **copy.deepcopy(r.inputs)}


def objects(run: harness.Run) -> list[harness.Resource]:
    return [r for r in run.resources if r.type.startswith("kubernetes:") and r.type not in NOT_OBJECTS]


def _deployment(run: harness.Run, part: str) -> harness.Resource:
    return next(r for r in run.of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == part)


def test_every_object_passes_the_strict_schema_of_the_cluster_version():
    run = _run()
    version = run.cfg.cluster.version
    found = objects(run)
    kinds = {manifest(r)["kind"] for r in found}
    assert {"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "CronJob", "Service", "Secret",
            "ConfigMap", "Namespace", "ServiceAccount", "Role", "RoleBinding", "DaemonSet", "ClusterRole",
            "ClusterRoleBinding"} <= kinds  # fmt: skip
    for r in found:
        kubernetes_validate.validate(manifest(r), version, strict=True)


def test_the_validator_refuses_a_mistyped_object():
    run = _run()
    web = manifest(_deployment(run, "web"))
    typo = copy.deepcopy(web)
    typo["spec"]["strategy"]["rollingUpdate"]["maxUnavailabel"] = 0
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, run.cfg.cluster.version, strict=True)
    wrong = copy.deepcopy(manifest(run.of_type(CRONJOB)[0]))
    wrong["spec"]["concurrencyPolicy"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, run.cfg.cluster.version, strict=True)


def test_web_autoscales_on_cpu_and_memory_and_leaves_the_count_to_the_hpa():
    run = _run()
    web = _deployment(run, "web").inputs["spec"]
    assert "replicas" not in web
    assert web["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    hpas = {h.inputs["spec"]["scaleTargetRef"]["name"]: h.inputs["spec"] for h in run.of_type(HPA)}
    assert set(hpas) == {"web", "worker"}
    assert (hpas["web"]["minReplicas"], hpas["web"]["maxReplicas"]) == (1, 5)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpas["web"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    container = web["template"]["spec"]["containers"][0]
    # Utilisation is relative to the requests: both are set.
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "384Mi"}


def test_the_readiness_probe_asks_what_the_droplet_probe_asks():
    run = _run()
    probe = _deployment(run, "web").inputs["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]
    assert probe["path"] == run.cfg.app.health_path and probe["port"] == run.cfg.app.port
    assert probe["httpHeaders"] == [
        {"name": "Host", "value": run.cfg.app.hostnames[0]},
        {"name": "X-Forwarded-Proto", "value": "https"},
    ]


def test_a_singleton_is_one_pod_replaced_never_doubled_and_never_autoscaled():
    run = _run()
    beat = _deployment(run, "beat").inputs["spec"]
    assert beat["replicas"] == 1 and beat["strategy"] == {"type": "Recreate"}
    assert "beat" not in {h.inputs["spec"]["scaleTargetRef"]["name"] for h in run.of_type(HPA)}


def test_the_app_pool_autoscales_with_no_node_count_to_fight_it():
    run = _run()
    pool = run.one(POOL).inputs
    assert (pool["autoScale"], pool["minNodes"], pool["maxNodes"]) == (True, 2, 5)
    assert "nodeCount" not in pool
    cluster = run.one(CLUSTER).inputs
    assert cluster["nodePool"]["nodeCount"] == 1 and "autoScale" not in cluster["nodePool"]
    assert cluster["vpcUuid"] == run.one("digitalocean:index/vpc:Vpc").id
    # App pods are scheduled on the app pool only.
    for r in run.of_type(DEPLOYMENT):
        assert r.inputs["spec"]["template"]["spec"]["nodeSelector"] == {"doks.digitalocean.com/node-pool": pool["name"]}
    # metrics-server, for the HPAs.
    assert run.one("kubernetes:helm.sh/v3:Release").inputs["chart"] == "metrics-server"


def test_the_release_job_gates_every_workload_and_the_admin_step_gates_it():
    run = _run()
    jobs = {r.inputs["metadata"]["labels"]["app.kubernetes.io/component"]: r for r in run.of_type(JOB)}
    assert set(jobs) == {"pg-grant", "release"}
    release, grant = jobs["release"], jobs["pg-grant"]
    assert grant.urn in release.dependencies
    assert release.inputs["spec"]["backoffLimit"] == 0
    for r in [*run.of_type(DEPLOYMENT), *run.of_type(CRONJOB)]:
        component = r.inputs["metadata"]["labels"]["app.kubernetes.io/component"]
        if component in ("web", "worker", "beat", "job-nightly"):
            assert release.urn in r.dependencies, component
    # The admin step runs once the database admits the cluster.
    firewall = next(f for f in run.of_type("digitalocean:index/databaseFirewall:DatabaseFirewall") if "-db-" in f.name)
    assert firewall.urn in grant.dependencies


def test_the_managed_data_admits_the_cluster_and_nothing_else():
    run = _run()
    cluster_id = run.one(CLUSTER).id
    firewalls = run.of_type("digitalocean:index/databaseFirewall:DatabaseFirewall")
    assert len(firewalls) == 2  # Postgres and Valkey
    for fw in firewalls:
        assert fw.inputs["rules"] == [{"type": "k8s", "value": cluster_id}]


def test_the_front_door_admits_cloudflare_only_with_proxy_protocol():
    run = _run()
    services = [s for s in run.of_type("kubernetes:core/v1:Service") if s.inputs["spec"]["type"] == "LoadBalancer"]
    assert len(services) == 1
    lb = services[0].inputs
    assert lb["spec"]["loadBalancerSourceRanges"] == [c for c in cloudflare_ips.ALL if ":" not in c]
    annotations = lb["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/do-loadbalancer-enable-proxy-protocol"] == "true"
    assert annotations["service.beta.kubernetes.io/do-loadbalancer-healthcheck-path"] == run.cfg.app.health_path
    # DNS points at the balancer's address, and no droplet, reserved IP or droplet firewall exists.
    ip = run.exports["public_ip"].value
    records = run.of_type("cloudflare:index/dnsRecord:DnsRecord")
    assert records and all(r.inputs["content"] == ip for r in records if r.inputs["type"] == "A")
    for gone in ("droplet:Droplet", "reservedIp:ReservedIp", "firewall:Firewall", "loadBalancer:LoadBalancer"):
        assert run.of_type(f"digitalocean:index/{gone}") == [], gone


def test_the_nginx_conf_is_the_droplet_balancer_one_but_for_the_upstream_and_resolver():
    from components.config import nginx_spec
    from components.render.nginx import render_nginx_conf

    run = _run()
    conf = next(c for c in run.of_type("kubernetes:core/v1:ConfigMap") if "nginx.conf" in c.inputs["data"])
    conf = conf.inputs["data"]["nginx.conf"]
    droplet = render_nginx_conf(nginx_spec(run.cfg, proxy_protocol=True))
    port = run.cfg.app.port
    expected = droplet.replace(f"http://web:{port}", f"http://web.webstack.svc.cluster.local:{port}").replace(
        "resolver 127.0.0.11 ", "resolver 10.245.0.10 "
    )
    assert conf == expected and conf != droplet


@pytest.mark.parametrize("preview", [False, True])
def test_no_plaintext_secret_in_any_input_or_export(preview):
    run = _run(preview)
    carriers = {r.type for r in run.resources if harness.SECRET_MARK in json.dumps(r.inputs)}
    # In preview the cluster does not exist yet: no kubeconfig to carry.
    assert {SECRET} | (set() if preview else {"pulumi:providers:kubernetes"}) <= carriers
    # The registry token reaches the pods as a dockerconfigjson Secret, a Pulumi secret.
    pull = [s for s in run.of_type(SECRET) if s.inputs.get("type") == "kubernetes.io/dockerconfigjson"]
    assert len(pull) == 1 and any(p.startswith("stringData") for p in pull[0].secret_paths)
    assert plain_leaks(run) == []
    for name, export in run.exports.items():
        assert export.secret or harness.SECRET_MARK not in json.dumps(export.value), name


def test_the_pods_read_their_env_from_secrets_that_change_name_when_they_change():
    run = _run()
    secrets = {s.name: s for s in run.of_type(SECRET)}
    env = secrets["webstack-staging-env"]
    assert "name" not in env.inputs["metadata"]  # Pulumi names it: a change replaces it, pods roll
    assert "stringData" in env.secret_paths or any(p.startswith("stringData") for p in env.secret_paths)
    web = _deployment(run, "web").inputs["spec"]["template"]["spec"]["containers"][0]
    assert web["envFrom"] == [{"secretRef": {"name": env.outputs["metadata"]["name"]}}]


def test_the_smart_invoice_kubernetes_example_scales_as_its_guide_asks_and_plans():
    from tools import plan

    run = recorded_with("examples/smart-invoice-k8s", {})
    hpa = run.one(HPA).inputs["spec"]
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert (hpa["minReplicas"], hpa["maxReplicas"], targets) == (1, 5, {"cpu": 70, "memory": 80})
    assert run.one(CLUSTER).inputs["ha"] is True
    built = plan.build(run)
    cost = built["cost"]
    # A band: the app pool from minNodes to maxNodes, with the HA control plane and the balancer.
    assert cost["monthly_max"] - cost["monthly_total"] == (4 - 2) * 24.0
    assert {"kubernetes HA control plane", "kubernetes app nodes", "load balancer (cluster)"} <= {
        row["kind"] for row in cost["rows"]
    }
    assert built["deploy"]["critical_seconds"] > 0
    for r in objects(run):
        kubernetes_validate.validate(manifest(r), run.cfg.cluster.version, strict=True)


def test_logs_ship_from_every_node_into_the_logs_bucket_with_a_scoped_key():
    run = _run()
    buckets = run.of_type("digitalocean:index/spacesBucket:SpacesBucket")
    bucket = next(b for b in buckets if b.inputs["name"].endswith("-logs"))
    assert run.exports["logs_bucket"].value == bucket.inputs["name"]
    key = next(k for k in run.of_type("digitalocean:index/spacesKey:SpacesKey") if k.name.endswith("-logs-key"))
    assert key.inputs["grants"] == [{"bucket": bucket.inputs["name"], "permission": "readwrite"}]
    daemon = run.one("kubernetes:apps/v1:DaemonSet").inputs
    assert "nodeSelector" not in daemon["spec"]["template"]["spec"]  # every node, the system pool too
    # Of the node, the shipper reads the pods' log files and its own buffer only: never /var/lib
    # as a whole, where the kubelet keeps every pod's Secret volumes.
    host_paths = {v["hostPath"]["path"] for v in daemon["spec"]["template"]["spec"]["volumes"] if "hostPath" in v}
    assert host_paths == {"/var/log/pods", "/var/lib/webstack-vector"}, host_paths
    config = next(c for c in run.of_type("kubernetes:core/v1:ConfigMap") if "vector.json" in c.inputs["data"])
    vector = json.loads(config.inputs["data"]["vector.json"])
    assert vector["sources"]["pods"]["type"] == "kubernetes_logs"
    assert vector["sinks"]["spaces"]["bucket"] == bucket.inputs["name"]
    project = run.one("digitalocean:index/project:Project").inputs["resources"]
    assert bucket.outputs["bucketUrn"] in project and run.one(CLUSTER).outputs["clusterUrn"] in project


def test_a_volume_is_one_claim_mounted_by_one_web_pod_replaced_not_rolled():
    volume = {"volume.enabled": True, "volume.processes": ["web"], "app.autoscale": None, "app.replicas": None}
    run = recorded_with("staging", {**KUBE, **volume})
    from tools import plan

    claim = run.one("kubernetes:core/v1:PersistentVolumeClaim")
    # Priced as the volume it is, and every type has its price and duration rows.
    rows = plan.build(run)["cost"]["rows"]
    assert [r["quantity"] for r in rows if r["kind"] == "volume (cluster)"] == [run.cfg.volume.size_gb]
    plan.build(_run())
    assert claim.inputs["spec"]["accessModes"] == ["ReadWriteOnce"]
    web = _deployment(run, "web").inputs["spec"]
    assert web["replicas"] == 1 and web["strategy"] == {"type": "Recreate"}
    assert web["template"]["spec"]["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert claim.urn in _deployment(run, "web").dependencies
    for r in objects(run):
        kubernetes_validate.validate(manifest(r), run.cfg.cluster.version, strict=True)


def test_make_exec_and_logs_go_through_the_cluster_with_plain_outputs_only(monkeypatch, capsys):
    from tools import ops

    run = _run()
    outputs = {k: ("[secret]" if e.secret else e.value) for k, e in run.exports.items()}
    monkeypatch.setattr(ops, "stack_outputs", lambda stack: outputs)
    monkeypatch.setattr(ops, "terminal_attached", lambda: False)
    assert ops.main(["exec", "--stack", "staging", "--dry-run", "--", "python", "manage.py", "shell"]) == 0
    assert capsys.readouterr().out.split() == [
        "kubectl", "--namespace", "webstack", "exec", "-i", "deploy/web", "--", "python", "manage.py", "shell",
    ]  # fmt: skip
    assert ops.main(["logs", "--stack", "staging", "--process", "worker", "--tail", "50", "--dry-run"]) == 0
    line = capsys.readouterr().out
    assert "--selector app.kubernetes.io/component=worker" in line and "--tail=50" in line and "--follow" in line
    assert ops.main(["ssh", "--stack", "staging", "--dry-run"]) == 2
    assert "no droplet to ssh to" in capsys.readouterr().err


def test_the_monitoring_alerts_watch_the_cluster_nodes_by_the_app_tag():
    run = _run()
    tag = run.one("digitalocean:index/tag:Tag").outputs.get("name") or run.one("digitalocean:index/tag:Tag").id
    alerts = run.of_type("digitalocean:index/monitorAlert:MonitorAlert")
    assert alerts and all(a.inputs["tags"] == [tag] for a in alerts)
    # DOKS makes each node a droplet with its pool's tags: both pools carry the app tag.
    assert tag in run.one(POOL).inputs["tags"] and tag in run.one(CLUSTER).inputs["nodePool"]["tags"]


def test_a_droplet_plan_never_imports_the_kubernetes_sdk():
    import subprocess
    import sys

    script = (
        "import sys; from testing import harness; harness.run('staging'); print('pulumi_kubernetes' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=harness.ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_kubernetes_engine_fills_the_seam():
    from components.cloud.runner import DataRunner
    from components.engine import Engine
    from components.kubernetes.engine import KubeData, KubernetesEngine
    from tests.unit.test_engine_seam import _assigned_in_init, _gaps

    assert _gaps(Engine, KubernetesEngine, _assigned_in_init(KubernetesEngine)) == []
    assert _gaps(DataRunner, KubeData, _assigned_in_init(KubeData)) == []
