"""Frontend: a static site (React/Vite, Astro) on Cloudflare Pages under a hostname of the zone.

The project is a direct-upload project: CI builds the site and runs `wrangler pages deploy`;
Pages never sees the repository. The program owns the project, its custom domain and the
proxied CNAME that sends the hostname to the project's pages.dev name.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare


@dataclass(frozen=True, kw_only=True)
class FrontendArgs:
    account_id: str
    """Cloudflare account holding the Pages project; no default (config `edge.accountId`)."""
    zone_id: pulumi.Input[str]
    """Zone of the hostname; no default (the Edge's zone id)."""
    hostname: str
    """Custom domain of the site; no default (config `frontend.hostname`)."""
    project_name: str
    """Pages project name, unique in the account; no default (config `frontend.projectName`)."""
    production_branch: str = "main"
    """Branch whose deployments are production; default main (config `frontend.productionBranch`)."""


class Frontend(pulumi.ComponentResource):
    """Pages project + custom domain + CNAME, in that order.

    The domain is attached to the project before the CNAME exists: a CNAME to pages.dev for a
    name the project does not know answers 522. The CNAME points at the project's `subdomain`
    output, not at `<name>.pages.dev`: when that name is taken on pages.dev, Pages adds a suffix.
    """

    url: str
    project_name: pulumi.Output[str]
    pages_subdomain: pulumi.Output[str]

    def __init__(self, name: str, args: FrontendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:frontend:Frontend", name, None, opts)
        # No `source`: a direct-upload project (Pages cannot switch it to git later, nor back).
        project = cloudflare.PagesProject(
            f"{name}-project",
            account_id=args.account_id,
            name=args.project_name,
            production_branch=args.production_branch,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # A hostname belongs to one project: a new project (or account) must take it from the
        # old one, so the old attachment goes first.
        domain = cloudflare.PagesDomain(
            f"{name}-domain",
            account_id=args.account_id,
            project_name=project.name,
            name=args.hostname,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        cloudflare.DnsRecord(
            f"{name}-record",
            zone_id=args.zone_id,
            name=args.hostname,
            type="CNAME",
            content=project.subdomain,
            proxied=True,
            ttl=1,
            comment="managed by webstack (Cloudflare Pages)",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[domain], delete_before_replace=True),
        )
        self.url = f"https://{args.hostname}"
        self.project_name = project.name
        self.pages_subdomain = project.subdomain
        self.register_outputs(
            {"url": self.url, "project_name": self.project_name, "pages_subdomain": self.pages_subdomain}
        )
