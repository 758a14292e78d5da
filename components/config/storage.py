"""`webstack:media`: the app's uploads in a Spaces bucket of their own."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.config.base import Section, text

Origin = text(r"^https://[a-z0-9.-]+(:[0-9]+)?$", "an origin such as https://example.com (no path)")
Hostname = text(r"^[a-z0-9.-]+$", "a hostname such as media.example.com")


class MediaConfig(Section):
    enabled: bool = False
    """A Spaces bucket for uploads, with a key that may use that bucket only; the app gets
    MEDIA_BUCKET, MEDIA_ENDPOINT, MEDIA_REGION and, as secrets, MEDIA_ACCESS_KEY_ID and
    MEDIA_SECRET_ACCESS_KEY (alias them to AWS_* names with app.envAliases)."""
    public_hostname: Hostname | None = None
    """Serve the bucket's objects read-only at https://<this>/ through Cloudflare (one label below
    `domain`, not one of app.hostnames); MEDIA_PUBLIC_URL. Unset: private, the app hands out
    presigned URLs."""
    cors_origins: Annotated[tuple[Origin, ...], Field(max_length=16)] | None = None
    """Browser origins allowed to GET/PUT/POST with presigned URLs (direct uploads). Unset:
    https://<each app hostname>."""
    cors_max_age_seconds: Annotated[int, Field(ge=0, le=86400)] = 3600
    """How long browsers cache the CORS preflight."""
