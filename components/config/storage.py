"""`webstack:media`: the app's uploads in a Spaces bucket of their own."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.config.base import Section, text

Origin = text(r"https://[a-z0-9.-]+(:[0-9]+)?", "an origin such as https://example.com (no path)")
Hostname = text(r"[a-z0-9.-]+", "a hostname such as media.example.com")


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


VolumeName = text(r"[a-z][a-z0-9-]{0,30}", "web, release, jobs or a process name")
# Not a system directory of the image (the bind would hide it), not `..`.
ContainerPath = text(
    r"(?!/(bin|boot|dev|etc|lib|lib64|proc|run|sbin|sys|tmp|usr)(/|$))(?!.*(^|/)\.\.?(/|$))/[A-Za-z0-9._/-]*[A-Za-z0-9._-]",
    "an absolute path inside the containers, such as /app/data (not a system directory, no '.' or '..')",
)
Owner = text(r"[0-9]{1,10}:[0-9]{1,10}", "uid:gid numbers, such as 1000:1000")


class VolumeConfig(Section):
    enabled: bool = False
    """A DigitalOcean Volume (block storage, ext4) for single-droplet stacks: attached when the
    droplet is created, mounted by the droplet's boot, and bind-mounted at `path` into the
    processes below; it outlives a replaced droplet. Protected and never deleted in protected
    stacks; with backups.enabled, archived to the backups bucket on backups.schedule."""
    size_gb: Annotated[int, Field(ge=1, le=16384)] = 10
    """Size in GiB; it can grow later (resized in place; then `resize2fs` on the droplet), never shrink."""
    path: ContainerPath = "/data"
    """Where the processes see it (SQLite files, uploads)."""
    processes: tuple[VolumeName, ...] | None = None
    """Which of `web`, `release` (the release command and `make exec`), `jobs` and
    app.processes get it; unset: all of them."""
    owner: Owner | None = None
    """Owner of the volume's top directory, set at the droplet's first boot, for an image whose
    user is not root (e.g. 1000:1000); unset: root."""
