"""Spaces: buckets private, versioned, never force-destroyed where data is protected, and
with an expiry for dumps; access keys scoped to named buckets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .common import ADVISORY, SPACES_BUCKET, SPACES_KEY, protect_data, resource_policy


def _not_public(props: Mapping[str, Any], args) -> Iterator[str]:
    acl = props.get("acl")
    if isinstance(acl, str) and acl.startswith("public"):
        yield f"bucket acl is {acl}: every object is readable by anyone"


def _versioning(props: Mapping[str, Any], args) -> Iterator[str]:
    if (props.get("versioning") or {}).get("enabled") is not True:
        yield "bucket versioning is off: an overwritten or deleted dump cannot be recovered"


def _no_force_destroy(props: Mapping[str, Any], args) -> Iterator[str]:
    if protect_data(args) and props.get("forceDestroy") is True:
        yield "bucket has forceDestroy on in a stack that protects data: destroy would delete every object"


def _expiry(props: Mapping[str, Any], args) -> Iterator[str]:
    rules = props.get("lifecycleRules") or []
    if not any(r.get("enabled") is not False and (r.get("expiration") or {}).get("days") for r in rules):
        yield "bucket has no enabled lifecycle rule with expiration days: dumps pile up forever"


def _key_scoped(props: Mapping[str, Any], args) -> Iterator[str]:
    grants = props.get("grants") or []
    if not grants:
        yield "Spaces key has no grants: give it the buckets it needs, by name"
    for grant in grants:
        if not grant.get("bucket") or grant.get("permission") == "fullaccess":
            yield f"Spaces key grant {dict(grant)} reaches every bucket; grant read/readwrite on a named bucket"


not_public = resource_policy(
    "spaces-bucket-not-public",
    "Spaces buckets are not public-read. Checkov CKV_DIO_3, Trivy AVD-DIG-0006.",
    SPACES_BUCKET,
    _not_public,
)
versioning = resource_policy(
    "spaces-bucket-versioning",
    "Spaces buckets have versioning enabled. Checkov CKV_DIO_1, Trivy AVD-DIG-0007.",
    SPACES_BUCKET,
    _versioning,
)
no_force_destroy = resource_policy(
    "spaces-bucket-no-force-destroy",
    "Where the stack protects data, Spaces buckets do not set forceDestroy. Trivy AVD-DIG-0009.",
    SPACES_BUCKET,
    _no_force_destroy,
    config=("protectData",),
)
expiry = resource_policy(
    "spaces-bucket-expiry",
    "Spaces buckets expire old objects through a lifecycle rule (the seed guides keep dumps 7 days; advisory). "
    "DigitalOcean docs: Spaces lifecycle policies.",
    SPACES_BUCKET,
    _expiry,
    level=ADVISORY,
)
key_scoped = resource_policy(
    "spaces-key-scoped",
    "Spaces access keys grant read or readwrite on named buckets, never fullaccess or every bucket. "
    "DigitalOcean docs: Spaces access keys (per-bucket permissions).",
    SPACES_KEY,
    _key_scoped,
)

POLICIES = [not_public, versioning, no_force_destroy, expiry, key_scoped]
