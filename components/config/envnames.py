"""The names of the values the stack hands the app: plain data, read by config (which refuses
an entry that would shadow one) and by the env renderer (components/render/env.py)."""

from __future__ import annotations

# The stack's own values an app can receive, by the name `app.envAliases` uses for them.
STACK_VALUES: tuple[str, ...] = (
    "databaseUrl",
    "directDatabaseUrl",
    "brokerUrl",
    "cacheUrl",
    "mediaBucket",
    "mediaEndpoint",
    "mediaRegion",
    "mediaAccessKeyId",
    "mediaSecretAccessKey",
    "mediaPublicUrl",
    "mediaDefaultAcl",
)
# Names the stack sets itself, and which of its values each carries (Valkey's and the media
# bucket's only when they exist).
DEFAULT_NAMES: dict[str, str] = {
    "DATABASE_URL": "databaseUrl",
    "CELERY_BROKER_URL": "brokerUrl",
    "REDIS_URL": "brokerUrl",
    "CACHE_URL": "cacheUrl",
    "MEDIA_BUCKET": "mediaBucket",
    "MEDIA_ENDPOINT": "mediaEndpoint",
    "MEDIA_REGION": "mediaRegion",
    "MEDIA_ACCESS_KEY_ID": "mediaAccessKeyId",
    "MEDIA_SECRET_ACCESS_KEY": "mediaSecretAccessKey",
    "MEDIA_PUBLIC_URL": "mediaPublicUrl",
    "MEDIA_DEFAULT_ACL": "mediaDefaultAcl",
}
PROVIDED_ENV: tuple[str, ...] = (*DEFAULT_NAMES, "WEB_CONCURRENCY")
