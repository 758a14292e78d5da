"""The DOKS cluster: in the stack's VPC, a small fixed system pool (the cluster's own
`node_pool`, whose `size` forces a new cluster: terraform-provider-digitalocean
digitalocean/kubernetes/kubernetes.go line 28, contracts/replacement.yaml, so nothing that
grows with the app lives in it) and a separate app pool the cluster autoscaler sizes between
minNodes and maxNodes, with no `node_count` (the provider suppresses a node_count diff only
while it equals the actual count, digitalocean/kubernetes/kubernetes.go, so a fixed one fights
the autoscaler), metrics-server for the HorizontalPodAutoscalers, and a Kubernetes provider
built from a kubeconfig read fresh each run (the cluster's own `kube_configs` carry a token
that expires)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

# metrics-server is not part of a DOKS cluster: DigitalOcean's autoscaling guide installs it
# (docs.digitalocean.com/products/kubernetes/how-to/set-up-autoscaling/). Chart of
# kubernetes-sigs/metrics-server (https://kubernetes-sigs.github.io/metrics-server/); 3.13.0 as
# other projects pin it from that repository (github.com/linode/apl-core pull request 2514).
METRICS_SERVER_CHART = "metrics-server"
METRICS_SERVER_VERSION = "3.13.0"
METRICS_SERVER_REPO = "https://kubernetes-sigs.github.io/metrics-server/"


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    region: str
    vpc_id: pulumi.Input[str]
    version: str
    """Kubernetes minor version (1.35): the cluster gets DigitalOcean's newest patch of it."""
    ha: bool
    node_size: str
    min_nodes: int
    max_nodes: int
    system_node_size: str
    system_nodes: int
    maintenance_day: str
    maintenance_hour: int
    auto_upgrade: bool
    surge_upgrade: bool
    tags: tuple[str, ...]
    protect: bool


class Cluster(pulumi.ComponentResource):
    cluster: do.KubernetesCluster
    app_pool: do.KubernetesNodePool
    app_pool_name: str
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:kubernetes:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        versions = do.get_kubernetes_versions_output(
            version_prefix=f"{args.version}.", opts=pulumi.InvokeOptions(parent=self)
        )
        self.cluster = do.KubernetesCluster(
            f"{name}-cluster",
            name=name,
            region=args.region,
            version=versions.latest_version,
            vpc_uuid=args.vpc_id,
            ha=args.ha,
            auto_upgrade=args.auto_upgrade,
            surge_upgrade=args.surge_upgrade,
            maintenance_policy=do.KubernetesClusterMaintenancePolicyArgs(
                day=args.maintenance_day, start_time=f"{args.maintenance_hour:02d}:00"
            ),
            node_pool=do.KubernetesClusterNodePoolArgs(
                name=f"{name}-system",
                size=args.system_node_size,
                node_count=args.system_nodes,
                tags=list(args.tags),
            ),
            tags=list(args.tags),
            # The balancer and volumes the cluster makes go with it, except where data is protected.
            destroy_all_associated_resources=not args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.app_pool_name = f"{name}-app"
        self.app_pool = do.KubernetesNodePool(
            f"{name}-app",
            cluster_id=self.cluster.id,
            name=self.app_pool_name,
            size=args.node_size,
            auto_scale=True,
            min_nodes=args.min_nodes,
            max_nodes=args.max_nodes,
            tags=list(args.tags),
            opts=child,
        )
        # Fresh credentials each run: the data source asks the API for the cluster's current
        # kubeconfig (a new token), never the one stored in the state at creation.
        current = do.get_kubernetes_cluster_output(name=self.cluster.name, opts=pulumi.InvokeOptions(parent=self))
        self.kubeconfig = pulumi.Output.secret(current.kube_configs.apply(lambda k: k[0].raw_config))
        self.register_outputs({"cluster_id": self.cluster.id})
