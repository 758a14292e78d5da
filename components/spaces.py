"""The one way this stack mints Spaces keys: limited to one bucket (a plain function, used by
the components that own a bucket)."""

from __future__ import annotations

import pulumi
import pulumi_digitalocean as do


def scoped_key(resource_name: str, key_name: str, bucket: do.SpacesBucket, parent: pulumi.Resource) -> do.SpacesKey:
    """A key that may read and write `bucket` and nothing else (its secret is a provider
    secret output). DigitalOcean refuses a bucket policy on a bucket such a key is scoped to."""
    return do.SpacesKey(
        resource_name,
        name=key_name,
        grants=[do.SpacesKeyGrantArgs(bucket=bucket.name, permission="readwrite")],
        opts=pulumi.ResourceOptions(parent=parent),
    )
