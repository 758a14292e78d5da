"""The names of the values the stack hands the app: plain data, read by config (which refuses
an entry that would shadow one) and by the env renderer (components/render/env.py)."""

from __future__ import annotations

# The stack's connection URLs, each also offered in parts (`databaseHost`, `brokerPassword`,
# ...) for apps that read DB_HOST, DB_PASSWORD and the like instead of a URL.
URL_VALUES: tuple[str, ...] = ("databaseUrl", "directDatabaseUrl", "brokerUrl", "cacheUrl")
URL_PARTS: tuple[str, ...] = ("Host", "Port", "Name", "User", "Password", "Sslmode")
# The parts carrying a credential (secret like the URL they come from; every part is, and the
# whole env is, but these are the ones that must be).
SECRET_PARTS: tuple[str, ...] = ("Password",)


def part_names(url_value: str) -> tuple[str, ...]:
    """`databaseUrl` -> databaseHost, databasePort, ..., databaseSslmode."""
    stem = url_value.removesuffix("Url")
    return tuple(stem + part for part in URL_PARTS)


# The stack's own values an app can receive, by the name `app.envAliases` uses for them.
STACK_VALUES: tuple[str, ...] = (
    *URL_VALUES,
    *(name for url in URL_VALUES for name in part_names(url)),
    "mediaBucket",
    "mediaEndpoint",
    "mediaRegion",
    "mediaAccessKeyId",
    "mediaSecretAccessKey",
    "mediaPublicUrl",
    "mediaDefaultAcl",
    "mediaHostname",
    "port",
    "workers",
    "threads",
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
# PORT is the stack's too (app.port, the convention of most platforms and servers: Next.js,
# Express, Rails' puma.rb, Go apps), but `app.env` may spell it out with the same value.
PORT_NAME = "PORT"
