"""Project: the DigitalOcean project that groups every billable resource of the stack."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do


@dataclass(frozen=True, kw_only=True)
class ProjectArgs:
    environment: str
    """Development, Staging or Production; no default (derived from the stack name)."""
    resources: tuple[pulumi.Input[str], ...]
    """DigitalOcean URNs (`do:droplet:...`) of the resources to hold; no default."""
    description: str = "webstack"
    """Project description; default webstack."""


class Project(pulumi.ComponentResource):
    """Takes the resources' `*_urn` outputs (DigitalOcean URNs), not Pulumi's `.urn`."""

    project: do.Project

    def __init__(self, name: str, args: ProjectArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:project:Project", name, None, opts)
        self.project = do.Project(
            f"{name}-project",
            name=name,
            description=args.description,
            purpose="Web Application",
            environment=args.environment,
            resources=list(args.resources),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"project_id": self.project.id})
