"""Pull credentials for a private app image: a pure function plus, for DigitalOcean's
registry, the one resource that mints read-only credentials. Nothing here is a component: the
credentials belong to each droplet's docker provider (`DockerHost`), and the DOCR registry
itself belongs to the account (one per account), so a stack never creates it."""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_digitalocean as do
import pulumi_docker as docker

from components.config.process import Registry, image_registry

DOCR = "registry.digitalocean.com"


def docker_config_login(config_json: str, address: str = DOCR) -> tuple[str, str]:
    """(username, password) for `address` from a docker config.json, as DOCR returns it."""
    auth = json.loads(config_json)["auths"][address]["auth"]
    username, _, password = base64.b64decode(auth).decode().partition(":")
    return username, password


def registry_auth(name: str, registry: Registry, image: str) -> tuple[docker.ProviderRegistryAuthArgs, ...]:
    """registry_auth for the docker providers, every password a Pulumi secret.

    DOCR: read-only (`write=False`) credentials of the existing registry, minted once per stack
    with the provider's default expiry (about 50 years); were they ever to expire, only a refresh
    renews them (`pulumi up --refresh`: the provider mints new ones on read once the stored
    expiry has passed; a plain `up` keeps the expired password). Token: the user's username and secret token,
    under the host the provider pulls `image` from (a bare Docker Hub name pulls from
    registry-1.docker.io, and the provider looks its credentials up by that host only).
    """
    if registry.kind == "docr":
        creds = do.ContainerRegistryDockerCredentials(name, registry_name=registry.name, write=False)
        login = pulumi.Output.secret(creds.docker_credentials.apply(docker_config_login))
        return (
            docker.ProviderRegistryAuthArgs(
                address=DOCR,
                username=login.apply(lambda pair: pair[0]),
                password=pulumi.Output.secret(login.apply(lambda pair: pair[1])),
            ),
        )
    return (
        docker.ProviderRegistryAuthArgs(
            address=image_registry(image),
            username=registry.username,
            password=pulumi.Output.secret(registry.password),
        ),
    )
