"""Media: the app's uploads in a Spaces bucket of their own, with a key that may use that
bucket only. A public hostname serves objects the app uploaded with the `public-read` ACL
(MEDIA_DEFAULT_ACL): DigitalOcean refuses a bucket policy on a bucket a limited-access key
is scoped to (and such a key for a bucket with a policy), so the bucket itself stays private
and carries no policy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

from components.cloud.spaces import bucket_options, scoped_key

# What a browser may do with a presigned URL (direct uploads and downloads).
CORS_METHODS = ("GET", "HEAD", "PUT", "POST")


@dataclass(frozen=True, kw_only=True)
class MediaArgs:
    bucket_name: str
    """Spaces bucket name, unique in the region; no default (derived from domain and stack)."""
    region: str
    """Spaces region; no default (config `region`)."""
    cors_origins: tuple[str, ...]
    """Browser origins allowed to use presigned URLs; no default (config `media.corsOrigins`)."""
    cors_max_age_seconds: int = 3600
    """Preflight cache; default 3600."""
    protect: bool = False
    """Protect the bucket and never empty it on destroy; default False (config `protect`)."""


class Media(pulumi.ComponentResource):
    """Outputs the bucket, its endpoint and the key; the key's secret is a Pulumi secret."""

    bucket: do.SpacesBucket
    endpoint: str
    origin_host: pulumi.Output[str]
    access_key: pulumi.Output[str]
    secret_key: pulumi.Output[str]

    def __init__(self, name: str, args: MediaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:media:Media", name, None, opts)
        self.endpoint = f"https://{args.region}.digitaloceanspaces.com"
        self.bucket = do.SpacesBucket(
            f"{name}-bucket",
            name=args.bucket_name,
            region=args.region,
            acl="private",
            versioning=do.SpacesBucketVersioningArgs(enabled=args.protect),
            # Users' uploads: prod's bucket is protected and never emptied; staging's and
            # dev's are disposable and go with `pulumi destroy`.
            force_destroy=not args.protect,
            opts=bucket_options(self, protect=args.protect, retain=args.protect),
        )
        self.origin_host = pulumi.Output.concat(self.bucket.name, f".{args.region}.digitaloceanspaces.com")
        do.SpacesBucketCorsConfiguration(
            f"{name}-cors",
            bucket=self.bucket.name,
            region=args.region,
            cors_rules=[
                do.SpacesBucketCorsConfigurationCorsRuleArgs(
                    allowed_methods=list(CORS_METHODS),
                    allowed_origins=list(args.cors_origins),
                    allowed_headers=["*"],
                    expose_headers=["ETag"],
                    max_age_seconds=args.cors_max_age_seconds,
                )
            ],
            # Its update puts the rules on the bucket named now and leaves them on the old one:
            # a new bucket (a new name) gets a new configuration instead.
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["bucket"]),
        )
        key = scoped_key(f"{name}-key", f"{name}-app", self.bucket, self)
        self.access_key = pulumi.Output.secret(key.access_key)
        self.secret_key = pulumi.Output.secret(key.secret_key)
        self.register_outputs({"bucket": self.bucket.name, "endpoint": self.endpoint})
