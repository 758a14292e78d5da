"""Network: the VPC, the app droplets' tag, the front door (load balancer or reserved IP)
and the tag's cloud firewall.

The front door lives here rather than with the droplets because the firewall needs it:
with a load balancer, droplets admit 80/443 from the load balancer only, and the load
balancer admits only the edge. Neither needs a droplet to exist, so they are built in
parallel with the servers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

ALL_PORTS = "1-65535"
WORLD = ["0.0.0.0/0", "::/0"]


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    region: pulumi.Input[str]
    """DigitalOcean region slug; no default (config `region`, default nyc3)."""
    vpc_cidr: pulumi.Input[str]
    """Private IPv4 range of the VPC; no default (config `vpcCidr`)."""
    ssh_cidrs: tuple[str, ...]
    """Sources admitted on port 22; no default (config `sshTrustedCidrs`)."""
    web_cidrs: tuple[str, ...]
    """Sources admitted on 80/443 (the edge's ranges); no default."""
    load_balanced: bool = False
    """True puts a load balancer in front of the tag (replicas >= 2); default False: a reserved IP."""
    health_path: str = "/health"
    """Path the load balancer's HTTP health check requests on port 80; default /health."""
    droplets: bool = True
    """The droplet engine's front door and firewall; False (engine kubernetes): the VPC and the
    tag only, as the cluster makes its balancer and manages its nodes' firewalls itself."""


class Network(pulumi.ComponentResource):
    """VPC + app tag + front door + firewall: SSH from trusted CIDRs, web only via the edge."""

    vpc: do.Vpc
    app_tag: do.Tag
    firewall: do.Firewall | None
    load_balancer: do.LoadBalancer | None
    reserved_ip: do.ReservedIp | None
    public_ip: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = do.Vpc(
            f"{name}-vpc",
            name=f"{name}-vpc",
            region=args.region,
            ip_range=args.vpc_cidr,
            description=f"webstack {name}",
            # The name is unique per account and ipRange/region force a replacement: the old VPC
            # (and what must move with it) goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.app_tag = do.Tag(f"{name}-app", name=f"{name}-app", opts=child)

        self.load_balancer = None
        self.reserved_ip = None
        self.firewall = None
        if not args.droplets:
            self.public_ip = pulumi.Output.from_input("")
            self.register_outputs({"vpc_id": self.vpc.id, "app_tag": self.app_tag.name})
            return
        if args.load_balanced:
            self.load_balancer = self._load_balancer(name, args, child)
            self.public_ip = self.load_balancer.ip
            web_rules = [
                do.FirewallInboundRuleArgs(
                    protocol="tcp", port_range=port, source_load_balancer_uids=[self.load_balancer.id]
                )
                for port in ("80", "443")
            ]
        else:
            self.reserved_ip = do.ReservedIp(f"{name}-ip", region=args.region, opts=child)
            self.public_ip = self.reserved_ip.ip_address
            web_rules = [
                do.FirewallInboundRuleArgs(protocol="tcp", port_range=port, source_addresses=list(args.web_cidrs))
                for port in ("80", "443")
            ]

        self.firewall = do.Firewall(
            f"{name}-firewall",
            name=f"{name}-app",
            tags=[self.app_tag.name],
            inbound_rules=[
                do.FirewallInboundRuleArgs(protocol="tcp", port_range="22", source_addresses=list(args.ssh_cidrs)),
                *web_rules,
            ],
            # Outbound stays open: apt, image pulls, Spaces and the managed databases.
            outbound_rules=[
                do.FirewallOutboundRuleArgs(protocol="tcp", port_range=ALL_PORTS, destination_addresses=WORLD),
                do.FirewallOutboundRuleArgs(protocol="udp", port_range=ALL_PORTS, destination_addresses=WORLD),
                do.FirewallOutboundRuleArgs(protocol="icmp", destination_addresses=WORLD),
            ],
            opts=child,
        )
        self.register_outputs({"vpc_id": self.vpc.id, "app_tag": self.app_tag.name, "public_ip": self.public_ip})

    def _load_balancer(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> do.LoadBalancer:
        return do.LoadBalancer(
            f"{name}-lb",
            name=f"{name}-lb",
            region=args.region,
            vpc_uuid=self.vpc.id,
            droplet_tag=self.app_tag.name,
            size_unit=1,
            # Each connection to a droplet opens with a PROXY protocol line naming the address
            # the balancer was reached from (a Cloudflare edge): nginx believes CF-Connecting-IP
            # only when that address is Cloudflare's, as it does without a balancer, instead of
            # trusting whatever reaches it from the VPC. The health checks send it too, so
            # nginx's port 80 expects it as well (components/render/nginx.py).
            enable_proxy_protocol=True,
            # TCP passthrough: nginx terminates TLS with the Cloudflare origin certificate,
            # so Full (strict) holds end to end. No plain-HTTP rule: Cloudflare reaches the
            # origin on 443 only, and port 80 is used by the health check alone.
            forwarding_rules=[
                do.LoadBalancerForwardingRuleArgs(
                    entry_protocol="tcp", entry_port=443, target_protocol="tcp", target_port=443
                )
            ],
            healthcheck=do.LoadBalancerHealthcheckArgs(
                protocol="http",
                port=80,
                path=args.health_path,
                check_interval_seconds=10,
                response_timeout_seconds=5,
                healthy_threshold=3,
                unhealthy_threshold=3,
            ),
            # The load balancer has an IPv4 address only, and Cloudflare reaches it over IPv4.
            firewall=do.LoadBalancerFirewallArgs(
                allows=[f"cidr:{cidr}" for cidr in args.web_cidrs if ipaddress.ip_network(cidr).version == 4]
            ),
            opts=child,
        )
