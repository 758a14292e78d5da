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


def private_bucket(
    resource_name: str,
    *,
    parent: pulumi.Resource,
    name: pulumi.Input[str],
    region: pulumi.Input[str],
    lifecycle_rules: list[do.SpacesBucketLifecycleRuleArgs],
    protect: bool,
) -> do.SpacesBucket:
    """A private, versioned bucket (a deleted or overwritten object stays as an old version for
    what `lifecycle_rules` keep: Checkov CKV_DIO_1, Trivy AVD-DIG-0007) that a disposable stack
    empties on destroy and a protected one never does."""
    return do.SpacesBucket(
        resource_name,
        name=name,
        region=region,
        acl="private",
        versioning=do.SpacesBucketVersioningArgs(enabled=True),
        lifecycle_rules=lifecycle_rules,
        force_destroy=not protect,
        opts=bucket_options(parent, protect=protect),
    )


def expiring(rule_id: str, days: int) -> do.SpacesBucketLifecycleRuleArgs:
    """Objects and their old versions gone after `days`; unfinished uploads after a day."""
    return do.SpacesBucketLifecycleRuleArgs(
        id=rule_id,
        enabled=True,
        expiration=do.SpacesBucketLifecycleRuleExpirationArgs(days=days),
        noncurrent_version_expiration=do.SpacesBucketLifecycleRuleNoncurrentVersionExpirationArgs(days=days),
        abort_incomplete_multipart_upload_days=1,
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
