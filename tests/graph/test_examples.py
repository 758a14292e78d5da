"""The five seed apps as examples (examples/<app>/Pulumi.<app>.yaml).

Each example plans offline from a fresh clone (`make plan STACK=examples/<app>`), and gets
what its guide needs: its processes where they should run, the env names its app reads
(including aliases), its secrets as secrets, its Postgres extensions, its nginx timeouts and
options, its private image's pull credentials as a secret, and its uploads in the
media bucket, its logs kept for the guide's days, its static frontend on Pages, and the
zone-wide names (mail authentication, the apex) its prod* stack adds (prod-zone.yaml). The
needs below are written from the apps' deployment guides, not read back from the
stack files, so a stack file that drifts from its guide fails here.

Each example is recorded once (tests/conftest.py caches the run per session), and once more
as the zone-owning prod stack where it has a prod-zone.yaml.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.config import ConfigError
from components.droplets import logship
from components.render import cron
from components.render.nginx import CLIENT_CA_PATH
from testing import contracts, harness
from tests.conftest import recorded, recorded_with
from tests.graph.test_secrets import _plain_strings
from tests.unit.test_renderers import _nginx_t, _stripped_lines
from tools import plan
from tools.dev import config_schema

EXAMPLES_DIR = harness.ROOT / "examples"
# The droplet engine's examples; the Kubernetes variant (webstack:engine: kubernetes) is
# checked against its guide in tests/graph/test_kubernetes.py.
EXAMPLES = tuple(
    sorted(
        p.parent.name
        for p in EXAMPLES_DIR.glob("*/Pulumi.*.yaml")
        if "webstack:engine: kubernetes" not in p.read_text()
    )
)
CONTAINER = "docker:index/container:Container"
PROVIDER = "pulumi:providers:docker"
VALKEY_CLUSTER_PREFIX = "-valkey-"
MODELINE = "# yaml-language-server: $schema=../../schema/stack.schema.json"
# Names the stack sets itself when Valkey exists (components/render/env.py DEFAULT_NAMES).
VALKEY_NAMES = ("REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL")
DO, CF = "digitalocean:index/", "cloudflare:index/"
BUCKET, SPACES_KEY, CORS = (
    DO + "spacesBucket:SpacesBucket",
    DO + "spacesKey:SpacesKey",
    DO + "spacesBucketCorsConfiguration:SpacesBucketCorsConfiguration",
)
RECORD, ZONE_SETTING = CF + "dnsRecord:DnsRecord", CF + "zoneSetting:ZoneSetting"
PAGES_PROJECT, PAGES_DOMAIN = CF + "pagesProject:PagesProject", CF + "pagesDomain:PagesDomain"
# What an example's production stack adds: names only the zone's owner (a prod* stack) writes.
ZONE_FILE = "prod-zone.yaml"


@dataclass(frozen=True)
class Zone:
    """What the guide needs at the zone's shared names (the apex and names beside it), which
    only the zone-owning prod* stack may write: examples/<app>/prod-zone.yaml."""

    sendgrid_from: str | None = None
    """Env name of the From address the app sends as through SendGrid: its domain is authenticated."""
    frontend: str | None = None
    """The frontend's hostname there (the guide's apex)."""


@dataclass(frozen=True)
class Needs:
    """What a seed's guide asks of the platform."""

    processes: dict[str, tuple[bool, tuple[str, ...]]]
    """Background processes: name -> (singleton, the guide's command)."""
    release: tuple[str, ...] | None
    """The migration command run once per release, or None."""
    env: tuple[str, ...]
    """Env names the app reads (plain, generated, secret, the stack's URLs, aliases)."""
    secrets: tuple[str, ...]
    """Third-party secrets: they must arrive as Pulumi secrets."""
    generated: tuple[str, ...]
    """Secrets the stack generates."""
    jobs: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Scheduled jobs (the guide's cron): name -> (schedule, command)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Env name -> the stack export whose value it carries."""
    values: dict[str, str] = field(default_factory=dict)
    """Plain values the app compares literally."""
    valkey: bool = True
    """Whether anything in the guide uses Redis."""
    extensions: tuple[str, ...] = ()
    """Postgres extensions the guide creates."""
    health: tuple[str, int] = ("/health", 200)
    """The guide's health endpoint and its healthy status."""
    nginx: tuple[str, ...] = ()
    """Lines of the server's nginx.conf (http and server level)."""
    locations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """`location <match>` -> lines it must hold."""
    absent_locations: tuple[str, ...] = ()
    """Locations nginx must not have (the app handles them itself)."""
    stops: dict[str, int] = field(default_factory=dict)
    """Container role -> seconds of grace between SIGTERM and SIGKILL."""
    registry: tuple[str, str | None] = ("", None)
    """The registry the image is pulled from, and the token's user (None: DOCR's minted one)."""
    media: dict[str, str] = field(default_factory=dict)
    """Uploads in the media bucket: env name -> what it carries (bucket, endpoint, region,
    accessKey, secretKey). Empty: the guide keeps no uploaded files."""
    media_origins: tuple[str, ...] = ()
    """Origins the browser uploads from with presigned URLs (CORS)."""
    logs_days: int | None = None
    """Days the guide keeps logs (shipped off the droplets); None: no period in the guide."""
    frontend: tuple[str, str, str] | None = None
    """A static frontend on Pages: (hostname, project, production branch)."""
    zone: Zone | None = None
    """What the app's prod* stack adds at the zone's shared names (prod-zone.yaml)."""


CELERY = ("celery", "-A", "celery_worker.celery")


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NEEDS: dict[str, Needs] = {
    # 000: Flask + Celery worker and beat + Redis + Postgres (uuid-ossp), Ghostscript.
    "pdf-smaller": Needs(
        processes={
            "worker": (False, (*CELERY, "worker", "--loglevel=info", "--concurrency=4")),
            "beat": (True, (*CELERY, "beat", "--loglevel=info")),
        },
        release=("python", "manage_db.py", "upgrade"),
        jobs={
            "cleanup": (
                "0 3 * * *",
                (
                    "python",
                    "-c",
                    "from src.services.cleanup_service import CleanupService; "
                    "print(CleanupService.cleanup_expired_jobs())",
                ),
            )
        },
        env=_names(
            """
            FLASK_ENV SECRET_KEY JWT_SECRET_KEY DEBUG DATABASE_URL DB_POOL_SIZE DB_MAX_OVERFLOW
            DB_POOL_RECYCLE UPLOAD_FOLDER MAX_FILE_SIZE MAX_FILE_AGE_HOURS CLEANUP_ENABLED REDIS_URL
            CELERY_BROKER_URL CELERY_RESULT_BACKEND CELERY_WORKER_CONCURRENCY ALLOWED_ORIGINS
            SECURITY_HEADERS_ENABLED RATE_LIMIT_ENABLED RATE_LIMIT_STORAGE_URL LOG_LEVEL
            STRIPE_PUBLISHABLE_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET MAIL_SERVER MAIL_PORT
            MAIL_USE_TLS MAIL_USERNAME MAIL_PASSWORD MAIL_DEFAULT_SENDER HEALTH_CHECK_ENABLED
            METRICS_ENABLED MEDIA_BUCKET AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL
            AWS_DEFAULT_REGION
            """
        ),
        secrets=("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "MAIL_PASSWORD"),
        generated=("SECRET_KEY", "JWT_SECRET_KEY"),
        aliases={
            "REDIS_URL": "broker_url",
            "CELERY_BROKER_URL": "broker_url",
            "CELERY_RESULT_BACKEND": "cache_url",
            "RATE_LIMIT_STORAGE_URL": "cache_url",
        },
        values={"MAX_FILE_SIZE": "104857600"},
        extensions=("uuid-ossp",),
        nginx=("proxy_read_timeout 300s;", "proxy_send_timeout 300s;", "client_max_body_size 100m;"),
        locations={
            "/static/": ('add_header Cache-Control "public, max-age=31536000, immutable";',),
            "/api/auth/login": ("limit_req zone=auth burst=5 nodelay;",),
            "/api/auth/register": ("limit_req zone=auth burst=5 nodelay;",),
            "/api/auth/refresh": ("limit_req zone=auth burst=5 nodelay;",),
        },
        stops={"worker": 30},
        registry=("registry.digitalocean.com", None),
        # File Storage: uploads shared by web and the Celery worker, in the bucket; boto3's own names.
        media={
            "MEDIA_BUCKET": "bucket",
            "AWS_ACCESS_KEY_ID": "accessKey",
            "AWS_SECRET_ACCESS_KEY": "secretKey",
            "AWS_ENDPOINT_URL": "endpoint",
            "AWS_DEFAULT_REGION": "region",
        },
        media_origins=("https://pdfsmaller.site", "https://www.pdfsmaller.site"),
        # Monitoring and Logging §3, logrotate `daily` + `rotate 30`.
        logs_days=30,
    ),
    # 001: FastAPI under uvicorn, a /ws WebSocket, Redis (sessions, rate limits, cache), no
    # Celery, Postgres with uuid-ossp and pgcrypto, Twilio/Interakt/SMTP/Sentry secrets.
    "malar-market": Needs(
        processes={},
        release=("alembic", "upgrade", "head"),
        env=_names(
            """
            APP_NAME ENVIRONMENT DEBUG SECRET_KEY DATABASE_URL DATABASE_POOL_SIZE DATABASE_MAX_OVERFLOW
            REDIS_URL JWT_SECRET_KEY JWT_ALGORITHM ACCESS_TOKEN_EXPIRE_MINUTES REFRESH_TOKEN_EXPIRE_DAYS
            FRONTEND_URL ALLOWED_ORIGINS TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_WHATSAPP_NUMBER
            TWILIO_WEBHOOK_URL INTERAKT_API_KEY INTERAKT_WEBHOOK_URL SMTP_HOST SMTP_PORT SMTP_USER
            SMTP_PASSWORD EMAIL_FROM SENTRY_DSN LOG_LEVEL RATE_LIMIT_PER_MINUTE RATE_LIMIT_PER_HOUR
            """
        ),
        secrets=("TWILIO_AUTH_TOKEN", "INTERAKT_API_KEY", "SMTP_PASSWORD", "SENTRY_DSN"),
        generated=("SECRET_KEY", "JWT_SECRET_KEY"),
        aliases={"REDIS_URL": "broker_url"},
        extensions=("uuid-ossp", "pgcrypto"),
        nginx=("proxy_read_timeout 60s;", "map $http_upgrade $connection_upgrade {"),
        locations={
            "/ws": (
                "proxy_http_version 1.1;",
                "proxy_set_header Upgrade $http_upgrade;",
                "proxy_set_header Connection $connection_upgrade;",
            ),
            "/api/v1/auth/": ("limit_req zone=auth burst=5 nodelay;",),
        },
        registry=("ghcr.io", "malar-deploy-bot"),
        # Frontend Deployment: the React PWA (Vite, deployed on push to main), at www here (the
        # apex is zone-wide) and at the apex, the guide's production URL, in the prod* stack.
        frontend=("www.malar-market-ledger.com", "malar-market-ledger", "main"),
        zone=Zone(frontend="malar-market-ledger.com"),
    ),
    # 002: Flask under gunicorn, cron jobs (no Celery), no Redis, Stripe, SMTP, /static on a CDN.
    "flask-saas": Needs(
        processes={},
        release=("python", "-c", "from app import init_db; init_db()"),
        jobs={"reminders": ("0 9 * * *", ("python", "scripts/send_reminders.py"))},
        env=_names(
            """
            SECRET_KEY SESSION_COOKIE_SECURE REMEMBER_COOKIE_SECURE ENABLE_HSTS DATABASE_URL
            STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET SMTP_PASSWORD SENTRY_DSN
            """
        ),
        secrets=("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SMTP_PASSWORD", "SENTRY_DSN"),
        generated=("SECRET_KEY",),
        values={"SESSION_COOKIE_SECURE": "1", "REMEMBER_COOKIE_SECURE": "1", "ENABLE_HSTS": "1"},
        valkey=False,
        nginx=("proxy_read_timeout 60s;",),
        locations={"/static/": ('add_header Cache-Control "public, max-age=31536000, immutable";',)},
        registry=("registry.digitalocean.com", None),
        # §3 "Access logs and application logs retained for at least 30 days".
        logs_days=30,
    ),
    # 003: Django under gunicorn (--workers 4 --timeout 30), WhiteNoise, SendGrid, a field
    # encryption salt, /health/, Render autoscaling; no Celery, Redis optional.
    "smart-invoice": Needs(
        processes={},
        release=("python", "manage.py", "migrate", "--noinput"),
        env=_names(
            """
            SECRET_KEY DEBUG ALLOWED_HOSTS CSRF_TRUSTED_ORIGINS DATABASE_URL SENDGRID_API_KEY
            SENDGRID_FROM_EMAIL EMAIL_HOST EMAIL_PORT EMAIL_USE_TLS ENCRYPTION_SALT SENTRY_DSN
            WEB_CONCURRENCY
            """
        ),
        secrets=("SENDGRID_API_KEY", "ENCRYPTION_SALT", "SENTRY_DSN"),
        generated=("SECRET_KEY",),
        values={"DEBUG": "False", "EMAIL_USE_TLS": "True", "WEB_CONCURRENCY": "4"},
        valkey=False,
        health=("/health/", 200),
        nginx=("proxy_read_timeout 60s;",),
        absent_locations=("/static/",),
        stops={"web": 30},
        registry=("ghcr.io", "smartinvoice-deploy"),
        # §1 Email (SendGrid), noreply@your-domain.com: the apex, authenticated by its owner.
        zone=Zone(sendgrid_from="SENDGRID_FROM_EMAIL"),
    ),
    # 004: Astro SSR on Node 20 (no Python, no Celery), Redis sessions, Postgres 16, Stripe,
    # SendGrid over SMTP, /api/health, fingerprinted /assets/, a Stripe-aware CSP.
    "mystic-ecom": Needs(
        processes={},
        release=None,
        env=_names(
            """
            NODE_ENV HOST PORT PUBLIC_SITE_URL DATABASE_URL REDIS_URL JWT_SECRET STRIPE_SECRET_KEY
            STRIPE_PUBLISHABLE_KEY STRIPE_WEBHOOK_SECRET EMAIL_HOST EMAIL_PORT EMAIL_USER EMAIL_PASSWORD
            EMAIL_FROM SENTRY_DSN
            """
        ),
        secrets=("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "EMAIL_PASSWORD", "SENTRY_DSN"),
        generated=("JWT_SECRET",),
        aliases={"REDIS_URL": "broker_url"},
        values={"NODE_ENV": "production", "PORT": "4321", "HOST": "0.0.0.0"},
        health=("/api/health", 200),
        nginx=(
            "proxy_read_timeout 60s;",
            # The policy nginx adds where the app sends none (the map of that header).
            "\"\" \"default-src 'self'; script-src 'self' 'unsafe-inline' "
            "https://js.stripe.com; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
            "font-src 'self'; connect-src 'self' https://api.stripe.com;\";",
        ),
        locations={"/assets/": ('add_header Cache-Control "public, max-age=31536000, immutable";',)},
        registry=("docker.io", "mysticecom"),
        # Environment Variables, EMAIL (SMTP) through smtp.sendgrid.net from noreply@yourdomain.com.
        zone=Zone(sendgrid_from="EMAIL_FROM"),
    ),
}


def _run_of(slug: str) -> harness.Run:
    return recorded(f"examples/{slug}")


def _role(c: harness.Resource) -> str:
    """What an app container is (web, probe, worker-2, ...), from its resource name: web's
    container name changes with every release."""
    m = re.search(r"-app-\d+-(.+)$", c.name)
    return m[1] if m else c.inputs["name"]


def _droplet(c: harness.Resource) -> int:
    return int(re.search(r"-app-(\d+)-", c.name)[1])


def _app_containers(run: harness.Run) -> list[harness.Resource]:
    return [c for c in run.of_type(CONTAINER) if "-app-" in c.name]


def _with_app_env(run: harness.Run) -> list[harness.Resource]:
    """Containers running the app image with its env: web, the processes, the release."""
    return [c for c in _app_containers(run) if _role(c) not in ("proxy", "proxy-check", "probe")]


def _env(c: harness.Resource) -> dict[str, str]:
    return dict(line.split("=", 1) for line in c.inputs["envs"])


def _nginx_conf(run: harness.Run) -> str:
    (conf,) = {
        u["content"]
        for c in _app_containers(run)
        if _role(c) == "proxy"
        for u in c.inputs["uploads"]
        if u["file"] == "/etc/nginx/nginx.conf"
    }
    return conf


def _location(lines: list[str], match: str) -> list[str]:
    start = lines.index(f"location {match} {{")
    return lines[start + 1 : lines.index("}", start)]


def _config_secrets(slug: str) -> dict[str, str]:
    """Each {secure: ...} leaf of the example, by its config path, and the fake plaintext the
    harness hands the program for it (as the CLI would after decrypting)."""
    doc = yaml.safe_load(harness.stack_path(f"examples/{slug}").read_text())["config"]
    found: dict[str, str] = {}

    def walk(node, path):
        if isinstance(node, dict) and set(node) == {"secure"}:
            found[path] = harness.fake_secret("config", path)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")

    for key, value in doc.items():
        walk(value, key.split(":", 1)[1])
    return found


def _webstack_config(path: Path) -> dict:
    """The `webstack:` keys of a stack file (or of a prod-zone.yaml), without the namespace."""
    doc = yaml.safe_load(path.read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("webstack:")}


def _merged(base: dict, extra: dict) -> dict:
    """`extra` over `base`: maps key by key, anything else (lists too) replaced. How a
    prod-zone.yaml goes into the stack file."""
    out = dict(base)
    for key, value in extra.items():
        both_maps = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = _merged(base[key], value) if both_maps else value
    return out


def _with_zone(slug: str) -> dict:
    """The example's config with its prod-zone.yaml merged in."""
    example = _webstack_config(harness.stack_path(f"examples/{slug}"))
    return _merged(example, _webstack_config(EXAMPLES_DIR / slug / ZONE_FILE))


def _as_zone_owner(slug: str) -> harness.Run:
    """The example with its prod-zone.yaml, planned as the zone-owning stack `prod`: every key of
    the root Pulumi.prod.yaml replaced or removed, so only the example's config is left."""
    root = _webstack_config(harness.stack_path("prod"))
    return recorded_with("prod", {key: None for key in root} | _with_zone(slug))


ZONE_SLUGS = tuple(slug for slug in EXAMPLES if NEEDS[slug].zone)


# --------------------------------------------------------------------------- the files


def test_every_example_has_its_guide_needs_written_down():
    assert tuple(sorted(NEEDS)) == EXAMPLES, "add the new example's Needs (from its guide) above"


def test_root_stacks_are_unchanged_and_examples_are_not_among_them():
    assert harness.stack_path("prod") == harness.ROOT / "Pulumi.prod.yaml"
    assert harness.stack_name("prod") == "prod"
    assert not set(EXAMPLES) & set(harness.stack_files())
    for slug in EXAMPLES:
        for name in (f"examples/{slug}", f"examples/{slug}/"):
            assert harness.stack_path(name) == EXAMPLES_DIR / slug / f"Pulumi.{slug}.yaml"
            assert harness.stack_name(name) == slug


@pytest.mark.parametrize("slug", EXAMPLES)
def test_the_file_points_editors_at_the_schema_and_names_its_guide(slug):
    path = harness.stack_path(f"examples/{slug}")
    lines = path.read_text().splitlines()
    assert lines[0] == MODELINE
    schema = (path.parent / MODELINE.split("$schema=", 1)[1]).resolve()
    assert schema == config_schema.SCHEMA_PATH
    assert "Deployment Guide" in " ".join(line.lstrip("# ") for line in lines[:6]), "the header names its guide"
    assert sum("Guide:" in line for line in lines) >= 8, "settings say which guide section they come from"


def _decrypted_doc(slug: str) -> dict:
    """The stack file with each {secure: ...} leaf as the plaintext string the CLI hands over."""
    doc = yaml.safe_load(harness.stack_path(f"examples/{slug}").read_text())

    def walk(node):
        if isinstance(node, dict) and set(node) == {"secure"}:
            return "plaintext"
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node

    return walk(doc)


@pytest.mark.parametrize("slug", EXAMPLES)
def test_the_file_validates_against_the_schema(slug):
    validator = jsonschema.Draft202012Validator(json.loads(config_schema.SCHEMA_PATH.read_text()))
    assert [e.message for e in validator.iter_errors(_decrypted_doc(slug))] == []


def test_a_prod_zone_file_is_where_the_guide_needs_the_zones_shared_names():
    assert tuple(slug for slug in EXAMPLES if (EXAMPLES_DIR / slug / ZONE_FILE).exists()) == ZONE_SLUGS


@pytest.mark.parametrize("slug", ZONE_SLUGS)
def test_the_prod_zone_file_cites_its_guide_and_the_merge_validates(slug):
    text = (EXAMPLES_DIR / slug / ZONE_FILE).read_text()
    assert "Guide:" in text and "prod*" in text.split("config:", 1)[0], "it says why it is separate"
    doc = {"config": {f"webstack:{k}": v for k, v in _with_zone(slug).items()}}
    decrypted = json.loads(json.dumps(doc), object_hook=lambda d: "plaintext" if set(d) == {"secure"} else d)
    validator = jsonschema.Draft202012Validator(json.loads(config_schema.SCHEMA_PATH.read_text()))
    assert [e.message for e in validator.iter_errors(decrypted)] == []


@pytest.mark.parametrize("slug", EXAMPLES)
def test_secure_values_validate_against_the_schema_as_written(slug):
    # Every {secure: ...} value `pulumi config set --secret --path` writes is valid for editors.
    validator = jsonschema.Draft202012Validator(json.loads(config_schema.SCHEMA_PATH.read_text()))
    doc = yaml.safe_load(harness.stack_path(f"examples/{slug}").read_text())
    assert [e.message for e in validator.iter_errors(doc)] == []


@pytest.mark.parametrize("slug", EXAMPLES)
def test_secrets_are_only_secure_placeholders_in_the_file(slug):
    # The CLI reports secrecy per top-level key (one {secure: ...} leaf makes all of webstack:app
    # secret); the program finds a plaintext leaf in its stack file (tests/graph/test_secrets.py), and
    # this reads the examples as written: every secret a placeholder, no secret-looking plain name.
    app = yaml.safe_load(harness.stack_path(f"examples/{slug}").read_text())["config"]["webstack:app"]
    need = NEEDS[slug]
    assert set(app.get("secretEnv", {})) == set(need.secrets)
    for name, value in app.get("secretEnv", {}).items():
        assert set(value) == {"secure"} and value["secure"].startswith("v1:"), name
    password = app["registry"].get("password")
    if need.registry[1] is None:
        assert password is None, "DOCR credentials are minted by the stack"
    else:
        assert set(password) == {"secure"}, "a registry token is a secret"
    secret_like = re.compile(r"(PASSWORD|SECRET|SECRET_KEY|_TOKEN|API_KEY|SALT|DSN)$")
    assert [n for n in app.get("env", {}) if secret_like.search(n)] == []


# --------------------------------------------------------------------------- the plan


@pytest.mark.parametrize("slug", EXAMPLES)
def test_it_plans_offline_with_a_price_and_a_duration_for_everything(slug):
    built = plan.build(_run_of(slug))
    assert built["stack"] == slug
    assert built["cost"]["monthly_total"] > 0
    assert built["deploy"]["critical_path"]
    text = json.dumps(built) + plan.render(built)
    assert harness.SECRET_MARK not in text


def test_make_plan_takes_an_example_directory(capsys):
    assert plan.main(["examples/pdf-smaller/", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stack"] == "pdf-smaller" and out["total_resources"] > 0
    with pytest.raises(SystemExit):
        plan.main(["examples/no-such-app"])


# --------------------------------------------------------------------------- what runs where


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_processes_and_only_those_run_where_they_should(slug):
    run, need = _run_of(slug), NEEDS[slug]
    replicas = run.cfg.app.replicas
    expected = []
    for d in range(replicas):
        expected += [(d, "web"), (d, "probe"), (d, "proxy"), (d, "proxy-check")]
        expected += [(d, name) for name, (singleton, _) in need.processes.items() if d == 0 or not singleton]
    if need.release:
        expected.append((0, "migrate"))
    assert sorted((_droplet(c), _role(c)) for c in _app_containers(run)) == sorted(expected)
    for c in _app_containers(run):
        if _role(c) in need.processes:
            assert tuple(c.inputs["command"]) == need.processes[_role(c)][1], c.name
        if _role(c) == "migrate":
            assert tuple(c.inputs["command"]) == need.release
    if not any(name in ("worker", "beat") for name in need.processes):
        assert not any("celery" in " ".join(c.inputs.get("command") or []) for c in run.of_type(CONTAINER))


def test_singletons_stay_on_the_first_droplet_when_the_app_scales():
    # pdf-smaller runs on one droplet as its guide does; scaled out, beat (the scheduler) and
    # the release still run once, on the first droplet, while the worker runs on each (its
    # volume, for one droplet only, goes: scaled out, uploads meet in the media bucket).
    run = harness.run("examples/pdf-smaller", {"app.replicas": 3, "database.poolSize": 28, "volume": None})
    roles = sorted((_droplet(c), _role(c)) for c in _app_containers(run))
    assert [d for d, role in roles if role == "beat"] == [0]
    assert [d for d, role in roles if role == "migrate"] == [0]
    assert [d for d, role in roles if role == "worker"] == [0, 1, 2]
    assert [d for d, role in roles if role == "web"] == [0, 1, 2]


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_scheduled_jobs_run_once_on_the_first_droplet_with_the_app_env_as_a_secret(slug):
    run, need = _run_of(slug), NEEDS[slug]
    runners = [c for c in run.of_type(CONTAINER) if c.inputs.get("name") == "jobs"]
    if not need.jobs:
        assert runners == []
        return
    (runner,) = runners
    assert runner.provider_urn == run.named(f"webstack-{run.stack}-host-0-docker").urn
    uploads = {u["file"]: (i, u["content"]) for i, u in enumerate(runner.inputs["uploads"])}
    crontab, script = uploads[cron.CRONTAB][1], uploads[cron.SCRIPT][1]
    (web,) = [c for c in _app_containers(run) if _role(c) == "web" and _droplet(c) == 0]
    for name, (schedule, command) in need.jobs.items():
        assert f"{schedule} {cron.SCRIPT} {name} " in crontab, name
        (known,) = [line.strip()[: -len(") ;;")] for line in script.splitlines() if line.endswith(") ;;")]
        assert name in known.split("|"), "the script knows the job"
        (job,) = [c for c in run.of_type(CONTAINER) if c.inputs.get("name") == f"job-{name}"]
        assert job.inputs["command"] == list(command), name
        assert job.inputs["envs"] == web.inputs["envs"] and "envs" in job.secret_paths, "the jobs get the app's env"
        if need.release:
            (migrate,) = [c for c in _app_containers(run) if _role(c) == "migrate"]
            assert migrate.urn in run.upstream(job.urn), "jobs run against the migrated schema"


@pytest.mark.parametrize("slug", EXAMPLES)
def test_the_release_runs_before_anything_of_the_app_starts(slug):
    run, need = _run_of(slug), NEEDS[slug]
    migrate = [c for c in _app_containers(run) if _role(c) == "migrate"]
    if need.release is None:
        assert migrate == []
        return
    (migrate,) = migrate
    assert migrate.inputs["restart"] == "no" and migrate.inputs["mustRun"] is False
    for c in _with_app_env(run):
        if c is not migrate:
            assert migrate.urn in run.upstream(c.urn), c.name


@pytest.mark.parametrize("slug", EXAMPLES)
def test_stop_grace_reaches_the_containers(slug):
    run, need = _run_of(slug), NEEDS[slug]
    app = run.cfg.app
    stops = {"web": app.web_stop_seconds} | {n: p.stop_seconds for n, p in app.processes.items()}
    assert need.stops.items() <= stops.items(), "the stack file keeps the guide's stop times"
    for c in _with_app_env(run):
        role = _role(c)
        if role in stops:
            assert c.inputs["stopTimeout"] == c.inputs["destroyGraceSeconds"] == stops[role], c.name


# --------------------------------------------------------------------------- env and secrets


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_env_names_reach_every_app_container(slug):
    run, need = _run_of(slug), NEEDS[slug]
    containers = _with_app_env(run)
    assert containers
    for c in containers:
        env = _env(c)
        assert set(need.env) <= set(env), (c.name, sorted(set(need.env) - set(env)))
        for name, value in need.values.items():
            assert env[name] == value, (c.name, name)
        for name in need.generated:
            assert harness.SECRET_MARK in env[name], name
        if not need.valkey:
            assert not set(VALKEY_NAMES) & set(env), c.name


@pytest.mark.parametrize("slug", EXAMPLES)
def test_aliases_carry_the_stacks_own_values(slug):
    run, need = _run_of(slug), NEEDS[slug]
    for c in _with_app_env(run):
        env = _env(c)
        expected_db = run.exports["database_direct_url" if _role(c) == "migrate" else "database_url"].value
        assert env["DATABASE_URL"] == expected_db, c.name
        for name, export in need.aliases.items():
            assert env[name] == run.exports[export].value, (c.name, name)


@pytest.mark.parametrize("slug", EXAMPLES)
def test_valkey_exists_only_where_the_guide_uses_redis(slug):
    run, need = _run_of(slug), NEEDS[slug]
    clusters = [
        r for r in run.of_type("digitalocean:index/databaseCluster:DatabaseCluster") if r.inputs["engine"] != "pg"
    ]
    assert bool(clusters) == need.valkey
    assert (run.exports["valkey_host"].value is not None) == need.valkey


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_secrets_reach_the_app_only_as_secrets(slug):
    run, need = _run_of(slug), NEEDS[slug]
    fakes = _config_secrets(slug)
    for c in _with_app_env(run):
        assert "envs" in c.secret_paths, c.name
        env = _env(c)
        for name in need.secrets:
            assert env[name] == fakes[f"app.secretEnv.{name}"], (c.name, name)
    leaks = [
        (r.name, path)
        for r in run.resources
        for path, text in _plain_strings(r.inputs, "", r.secret_paths)
        if harness.SECRET_MARK in text or any(fake in text for fake in fakes.values())
    ]
    assert leaks == []
    for name, export in run.exports.items():
        assert export.secret or harness.SECRET_MARK not in json.dumps(export.value), name


# --------------------------------------------------------------------------- data tier


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_extensions_are_created_by_the_admin_step_before_migrations(slug):
    run, need = _run_of(slug), NEEDS[slug]
    (grant,) = [c for c in run.of_type(CONTAINER) if c.inputs.get("name") == "pg-grant"]
    script = grant.inputs["command"][0]
    created = re.findall(r'CREATE EXTENSION IF NOT EXISTS "([a-z0-9_-]+)"', script)
    assert sorted(created) == sorted(need.extensions)
    if created:
        assert script.index("CREATE EXTENSION") < script.index("GRANT ALL")
    assert not grant.inputs.get("envs") and "uploads[0].content" in grant.secret_paths, "credentials: a secret file"
    for c in _with_app_env(run):
        assert grant.urn in run.upstream(c.urn), c.name


# --------------------------------------------------------------------------- nginx and health


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_timeouts_and_proxy_options_reach_nginx_conf(slug):
    run, need = _run_of(slug), NEEDS[slug]
    lines = _stripped_lines(_nginx_conf(run))
    for line in need.nginx:
        assert line in lines, line
    for match, wanted in need.locations.items():
        block = _location(lines, match)
        for line in wanted:
            assert line in block, (match, line)
    for match in need.absent_locations:
        assert f"location {match} {{" not in lines
    assert f"location = {need.health[0]} {{" in lines


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_nginx_conf_passes_nginx_t(slug, origin_cert, tmp_path):
    cert, key = origin_cert
    text = _nginx_conf(_run_of(slug))
    text = text.replace("/etc/nginx/certs/origin.pem", str(cert)).replace("/etc/nginx/certs/origin.key", str(key))
    text = text.replace(CLIENT_CA_PATH, str(cert))  # any certificate stands in for the CA here
    result = _nginx_t(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("slug", EXAMPLES)
def test_one_health_endpoint_for_the_probe_the_load_balancer_and_the_uptime_checks(slug):
    run, need = _run_of(slug), NEEDS[slug]
    path, status = need.health
    host = run.cfg.app.hostnames[0]
    probes = [c for c in _app_containers(run) if _role(c) == "probe"]
    assert len(probes) == run.cfg.app.replicas
    for probe in probes:
        script = probe.inputs["command"][0]
        assert f"http://127.0.0.1:{run.cfg.app.port}{path})" in script, script
        assert f'"{status}" ]' in script and f"Host: {host}" in script
    checks = run.of_type("digitalocean:index/uptimeCheck:UptimeCheck")
    targets = [c.inputs["target"] for c in checks if not c.name.endswith("-backups")]  # not the backups' heartbeat
    assert targets and all(t.endswith(path) for t in targets)
    for lb in run.of_type("digitalocean:index/loadBalancer:LoadBalancer"):
        assert lb.inputs["healthcheck"]["path"] == path


# --------------------------------------------------------------------------- private image


def _registry_auth(provider: harness.Resource) -> dict:
    value = provider.inputs["registryAuth"]
    (auth,) = json.loads(value) if isinstance(value, str) else value
    return auth


@pytest.mark.parametrize("slug", EXAMPLES)
def test_its_image_is_pulled_with_the_registry_credentials_as_a_secret(slug):
    run, need = _run_of(slug), NEEDS[slug]
    address, username = need.registry
    # The docker provider looks credentials up by the registry the image name spells
    # (kreuzwerker pullImage: registry-1.docker.io for a name without one), so the name
    # must spell the credentials' address.
    assert run.cfg.app.image.startswith(address + "/")
    providers = run.of_type(PROVIDER)
    assert len(providers) == run.cfg.app.replicas
    for provider in providers:
        auth = _registry_auth(provider)
        assert auth["address"] == address
        assert any(p.startswith("registryAuth") for p in provider.secret_paths), provider.secret_paths
        assert harness.SECRET_MARK in auth["password"]
        if username is None:
            (creds,) = run.of_type(
                "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials"
            )
            assert creds.inputs["registryName"] == run.cfg.app.registry.name and creds.inputs["write"] is False
        else:
            assert auth["username"] == username
            assert auth["password"] == harness.fake_secret("config", "app.registry.password")
    images = [r for r in run.of_type("docker:index/remoteImage:RemoteImage") if r.name.endswith("-image")]
    app_images = [i for i in images if i.inputs["name"] == run.cfg.app.image]
    assert len(app_images) == run.cfg.app.replicas
    assert {i.provider_urn for i in app_images} == {p.urn for p in providers}


# --------------------------------------------------------------------------- uploads and logs


def _media(run: harness.Run) -> tuple[list[harness.Resource], list[harness.Resource]]:
    buckets = [b for b in run.of_type(BUCKET) if b.name.endswith("-media-bucket")]
    return buckets, [k for k in run.of_type(SPACES_KEY) if "-media-" in k.name]


@pytest.mark.parametrize("slug", EXAMPLES)
def test_uploads_live_in_a_private_bucket_of_their_own_where_the_guide_keeps_them(slug):
    run, need = _run_of(slug), NEEDS[slug]
    buckets, keys = _media(run)
    if not need.media:
        assert buckets == keys == [] and run.exports["media_bucket"].value is None
        for c in _with_app_env(run):
            assert not [n for n in _env(c) if n.startswith("MEDIA_")], c.name
        return
    (bucket,), (key,) = buckets, keys
    name = f"{run.cfg.domain.replace('.', '-')}-{slug}-media"
    assert bucket.inputs["name"] == run.exports["media_bucket"].value == name
    assert bucket.inputs["acl"] == "private" and not run.cfg.media.public_hostname
    # protect: true, as in prod: users' files are versioned and never emptied or deleted.
    assert bucket.protect and bucket.retain_on_delete and bucket.inputs["forceDestroy"] is False
    assert bucket.inputs["versioning"] == {"enabled": True}
    assert key.inputs["grants"] == [{"bucket": name, "permission": "readwrite"}], "this bucket only"
    (cors,) = [c for c in run.of_type(CORS) if "-media-" in c.name]
    (rule,) = cors.inputs["corsRules"]
    assert rule["allowedOrigins"] == list(need.media_origins)
    assert {"PUT", "POST"} <= set(rule["allowedMethods"]), "the browser uploads with a presigned URL"


@pytest.mark.parametrize("slug", [slug for slug in EXAMPLES if NEEDS[slug].media])
def test_the_media_key_reaches_every_app_process_as_a_secret_under_the_names_the_app_reads(slug):
    run, need = _run_of(slug), NEEDS[slug]
    (bucket,), (key,) = _media(run)
    carried = {
        "bucket": bucket.inputs["name"],
        "endpoint": f"https://{run.cfg.region}.digitaloceanspaces.com",
        "region": run.cfg.region,
        "accessKey": key.outputs["accessKey"],
        "secretKey": key.outputs["secretKey"],
    }
    assert harness.SECRET_MARK in carried["secretKey"], "the leak searches are not vacuous"
    containers = _with_app_env(run)
    assert {_role(c) for c in containers} >= {"web", "migrate", *need.processes}, "web, the release, each process"
    for c in containers:
        assert "envs" in c.secret_paths, c.name
        env = _env(c)
        for name, what in need.media.items():
            assert env[name] == carried[what], (c.name, name)
    # test_its_secrets_reach_the_app_only_as_secrets searches every plain input and export for
    # the mark; the key's secret is never an export of its own either.
    for name, export in run.exports.items():
        assert export.secret or carried["secretKey"] not in json.dumps(export.value), name


@pytest.mark.parametrize("slug", EXAMPLES)
def test_logs_are_kept_off_the_droplets_for_as_long_as_the_guide_keeps_them(slug):
    run, need = _run_of(slug), NEEDS[slug]
    shippers = [c for c in run.of_type(CONTAINER) if c.inputs.get("name") == logship.CONTAINER_NAME]
    buckets = [b for b in run.of_type(BUCKET) if b.name.endswith("-logs-bucket")]
    if need.logs_days is None:
        assert shippers == buckets == [] and run.exports["logs_bucket"].value is None
        return
    (bucket,) = buckets
    (rule,) = bucket.inputs["lifecycleRules"]
    assert rule["enabled"] is True and rule["expiration"] == {"days": need.logs_days}
    assert bucket.inputs["acl"] == "private"
    (key,) = [k for k in run.of_type(SPACES_KEY) if "-logs-" in k.name]
    assert key.inputs["grants"] == [{"bucket": bucket.inputs["name"], "permission": "readwrite"}]
    providers = sorted(p.urn for p in run.of_type(PROVIDER))
    assert sorted(s.provider_urn for s in shippers) == providers, "one shipper on each droplet"


# --------------------------------------------------------------------------- the domain


def _assert_frontend(run: harness.Run, hostname: str, project: str, branch: str) -> None:
    """A direct-upload Pages project, its custom domain and a proxied CNAME to its pages.dev
    name; the API the site calls admits it."""
    (pages,) = run.of_type(PAGES_PROJECT)
    assert pages.inputs["name"] == project and pages.inputs["productionBranch"] == branch
    assert pages.inputs["accountId"] == run.cfg.edge.account_id and "source" not in pages.inputs
    (domain,) = run.of_type(PAGES_DOMAIN)
    assert (domain.inputs["name"], domain.inputs["projectName"]) == (hostname, project)
    (cname,) = [r for r in run.of_type(RECORD) if r.inputs["name"] == hostname]
    assert (cname.inputs["type"], cname.inputs["proxied"]) == ("CNAME", True)
    assert cname.inputs["content"] == pages.outputs["subdomain"]
    assert domain.urn in run.upstream(cname.urn), "the domain is attached before the CNAME answers"
    assert run.exports["frontend_url"].value == f"https://{hostname}"
    assert run.exports["frontend_project"].value == project
    assert hostname not in run.cfg.app.hostnames
    for c in _with_app_env(run):
        env = _env(c)
        assert env["FRONTEND_URL"] == f"https://{hostname}", c.name
        assert f"https://{hostname}" in env["ALLOWED_ORIGINS"].split(","), "CORS admits the site"


@pytest.mark.parametrize("slug", EXAMPLES)
def test_a_static_frontend_is_on_pages_where_the_guide_ships_one(slug):
    run, need = _run_of(slug), NEEDS[slug]
    if need.frontend is None:
        assert run.of_type(PAGES_PROJECT) == run.of_type(PAGES_DOMAIN) == []
        assert run.exports["frontend_url"].value is None
        return
    _assert_frontend(run, *need.frontend)


@pytest.mark.parametrize("slug", EXAMPLES)
def test_the_example_is_not_the_zones_owner_and_writes_only_its_own_names(slug):
    run = _run_of(slug)
    assert not slug.startswith("prod") and run.cfg.edge.manage_zone_settings is False
    assert run.of_type(ZONE_SETTING) == []
    own = [h for h in (*run.cfg.app.hostnames, run.cfg.frontend.hostname) if h and h != run.cfg.domain]
    for r in run.of_type(RECORD):
        name = r.inputs["name"]
        assert name in run.cfg.app.hostnames or any(name == h or name.endswith("." + h) for h in own), name


@pytest.mark.parametrize("slug", ZONE_SLUGS)
def test_what_prod_zone_adds_is_refused_to_the_example_itself(slug):
    # Every entry of prod-zone.yaml needs the zone's owner: none of it could live in the example.
    zone, merged = _webstack_config(EXAMPLES_DIR / slug / ZONE_FILE), _with_zone(slug)
    with pytest.raises(ConfigError) as info:
        harness.run(f"examples/{slug}", merged)
    assert "webstack:edge.manageZoneSettings" in str(info.value) and "outside prod" in str(info.value)
    # Without the ownership, each name it adds is refused on its own.
    with pytest.raises(ConfigError) as info:
        harness.run(f"examples/{slug}", {**merged, "edge": {**merged["edge"], "manageZoneSettings": False}})
    message = str(info.value)
    for i in range(len(zone.get("edge", {}).get("records", []))):
        assert f"webstack:edge.records[{i}].name" in message, i
    if "frontend" in zone:
        assert "webstack:frontend.hostname" in message


@pytest.mark.parametrize("slug", ZONE_SLUGS)
def test_as_the_zones_owner_its_prod_stack_writes_what_the_guide_needs_there(slug):
    run, zone = _as_zone_owner(slug), NEEDS[slug].zone
    assert run.stack == "prod" and run.cfg.edge.manage_zone_settings is True
    settings = {z.inputs["settingId"]: z.inputs["value"] for z in run.of_type(ZONE_SETTING)}
    assert settings["always_use_https"] == settings["automatic_https_rewrites"] == "on"
    extra = {(r.inputs["name"], r.inputs["type"]): r.inputs for r in run.of_type(RECORD) if "-edge-dns-" in r.name}
    if zone.sendgrid_from:
        (web, *_) = [c for c in _with_app_env(run) if _role(c) == "web"]
        domain = _env(web)[zone.sendgrid_from].split("@", 1)[1]
        assert domain == run.cfg.domain, "the guide sends from the apex: zone-wide names"
        (em,) = [n for n, t in extra if t == "CNAME" and re.fullmatch(rf"em\d+\.{re.escape(domain)}", n)]
        assert extra[(em, "CNAME")]["content"].endswith(".sendgrid.net"), "the return path (SPF)"
        for selector in ("s1", "s2"):
            dkim = extra[(f"{selector}._domainkey.{domain}", "CNAME")]["content"]
            assert re.fullmatch(rf"{selector}\.domainkey\.u\d+\.wl\d*\.sendgrid\.net", dkim), dkim
        assert extra[(f"_dmarc.{domain}", "TXT")]["content"].startswith('"v=DMARC1; p=')
        assert len(extra) == 4
        for inputs in extra.values():
            assert inputs["proxied"] is False and inputs["ttl"] == 1, "mail records are DNS only"
    else:
        assert extra == {}
    if zone.frontend:
        _, project, branch = NEEDS[slug].frontend
        _assert_frontend(run, zone.frontend, project, branch)
    kinds = (RECORD, ZONE_SETTING, PAGES_PROJECT, PAGES_DOMAIN)
    violations = [v for v in contracts.check(run) if v.type in kinds]
    assert not violations, "\n".join(map(str, violations))
