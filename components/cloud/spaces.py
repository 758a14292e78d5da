"""The one way this stack mints Spaces keys (limited to one bucket) and the options every
bucket carries (plain functions, used by the components that own a bucket)."""

from __future__ import annotations

import pulumi
import pulumi_digitalocean as do

# A bucket cannot be renamed: the provider's update has no rename and keeps talking to the
# bucket by its old name while recording the new one (resource_spaces_bucket.go Update, Read),
# so a new name (a new domain) must plan a replacement, which a protected bucket refuses.
RENAME_REPLACES = ["name"]


def bucket_options(parent: pulumi.Resource, *, protect: bool, retain: bool = False) -> pulumi.ResourceOptions:
    """A bucket's options: protected with the stack's data (and retained if `retain`), and
    replaced, never silently "renamed", when its name changes."""
    return pulumi.ResourceOptions(
        parent=parent, protect=protect, retain_on_delete=retain, replace_on_changes=RENAME_REPLACES
    )


def scoped_key(resource_name: str, key_name: str, bucket: do.SpacesBucket, parent: pulumi.Resource) -> do.SpacesKey:
    """A key that may read and write `bucket` and nothing else (its secret is a provider
    secret output). DigitalOcean refuses a bucket policy on a bucket such a key is scoped to."""
    return do.SpacesKey(
        resource_name,
        name=key_name,
        grants=[do.SpacesKeyGrantArgs(bucket=bucket.name, permission="readwrite")],
        opts=pulumi.ResourceOptions(parent=parent),
    )
