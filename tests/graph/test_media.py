"""Uploads: a media bucket per stack, private unless a public hostname is set, a key
that may use that bucket only, its credentials in the app as secrets; prod's undeletable."""

from __future__ import annotations

import json

import pytest

from components.config import nginx_spec
from components.render.nginx import render_nginx_conf
from testing import harness
from tests.conftest import recorded_with
from tests.graph.test_secrets import plain_leaks
from tests.unit.test_renderers import nginx_t_with_throwaway_cert

DO = "digitalocean:index/"
BUCKET, KEY, POLICY = (
    DO + "spacesBucket:SpacesBucket",
    DO + "spacesKey:SpacesKey",
    DO + "spacesBucketPolicy:SpacesBucketPolicy",
)
CORS = DO + "spacesBucketCorsConfiguration:SpacesBucketCorsConfiguration"
PUBLIC = {"media": {"enabled": True, "publicHostname": "media.example.com"}}
PRIVATE = {"media": {"enabled": True}}


def _run(stack: str, public: bool, preview: bool = False) -> harness.Run:
    aliases = {
        "AWS_ACCESS_KEY_ID": "mediaAccessKeyId",
        "AWS_SECRET_ACCESS_KEY": "mediaSecretAccessKey",
        "AWS_DEFAULT_ACL": "mediaDefaultAcl",
    }
    return recorded_with(stack, {**(PUBLIC if public else PRIVATE), "app.envAliases": aliases}, preview)


def _media_bucket(run):
    (bucket,) = [b for b in run.of_type(BUCKET) if b.name.endswith("-media-bucket")]
    return bucket


def _web_env(run):
    web = next(c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-app-0-web"))
    return web, dict(line.split("=", 1) for line in web.inputs["envs"])


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_key_may_use_the_media_bucket_only(stack):
    run = _run(stack, False)
    bucket = _media_bucket(run)
    (key,) = [k for k in run.of_type(KEY) if "-media-" in k.name]
    assert key.inputs["grants"] == [{"bucket": bucket.inputs["name"], "permission": "readwrite"}]
    assert bucket.inputs["name"] == f"example-com-{stack}-media"


def test_credentials_reach_the_app_as_secrets_under_its_own_names():
    run = _run("staging", False)
    web, env = _web_env(run)
    assert "envs" in web.secret_paths
    (key,) = [k for k in run.of_type(KEY) if "-media-" in k.name]
    assert env["MEDIA_ACCESS_KEY_ID"] == env["AWS_ACCESS_KEY_ID"] == key.outputs["accessKey"]
    assert env["MEDIA_SECRET_ACCESS_KEY"] == env["AWS_SECRET_ACCESS_KEY"] == key.outputs["secretKey"]
    assert harness.SECRET_MARK in env["MEDIA_SECRET_ACCESS_KEY"], "the search below is not vacuous"
    assert env["MEDIA_BUCKET"] == "example-com-staging-media"
    assert env["MEDIA_ENDPOINT"] == "https://nyc3.digitaloceanspaces.com" and env["MEDIA_REGION"] == "nyc3"
    assert "MEDIA_PUBLIC_URL" not in env
    assert env["MEDIA_DEFAULT_ACL"] == env["AWS_DEFAULT_ACL"] == "private"


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_no_media_secret_in_any_plain_input_or_export(preview):
    run = _run("prod", True, preview)
    assert plain_leaks(run) == []
    for name, export in run.exports.items():
        assert export.secret or harness.SECRET_MARK not in json.dumps(export.value), name


def test_prod_media_is_undeletable_and_staging_disposable():
    prod, staging = _media_bucket(_run("prod", False)), _media_bucket(_run("staging", False))
    assert prod.protect and prod.retain_on_delete and prod.inputs["forceDestroy"] is False
    assert prod.inputs["versioning"] == {"enabled": True}
    assert not staging.protect and not staging.retain_on_delete and staging.inputs["forceDestroy"] is True


def test_private_by_default_with_cors_for_the_apps_origins():
    run = _run("staging", False)
    assert _media_bucket(run).inputs["acl"] == "private"
    assert not run.of_type(POLICY), "no public read without a public hostname"
    (cors,) = run.of_type(CORS)
    (rule,) = cors.inputs["corsRules"]
    assert rule["allowedOrigins"] == [f"https://{h}" for h in run.cfg.app.hostnames]
    assert set(rule["allowedMethods"]) == {"GET", "HEAD", "PUT", "POST"}
    assert "media.example.com" not in json.dumps(run.exports["urls"].value)


def test_public_media_is_read_only_objects_under_the_domain_through_cloudflare():
    run = _run("prod", True)
    # No bucket policy: DigitalOcean refuses one on a bucket a limited-access key is scoped to
    # (and the key is); the app uploads public objects with the public-read ACL instead.
    assert not run.of_type(POLICY)
    assert _media_bucket(run).inputs["acl"] == "private"
    record = next(
        r for r in run.of_type("cloudflare:index/dnsRecord:DnsRecord") if r.inputs["name"] == "media.example.com"
    )
    assert record.inputs["proxied"] is True
    (cert,) = run.of_type("cloudflare:index/originCaCertificate:OriginCaCertificate")
    assert "media.example.com" in cert.inputs["hostnames"]
    _, env = _web_env(run)
    assert env["MEDIA_PUBLIC_URL"] == "https://media.example.com"
    assert env["MEDIA_DEFAULT_ACL"] == env["AWS_DEFAULT_ACL"] == "public-read"
    conf = next(
        u["content"]
        for c in run.of_type("docker:index/container:Container")
        if c.inputs["name"] == "proxy"
        for u in c.inputs["uploads"]
        if u["file"].endswith("nginx.conf")
    )
    media = conf[conf.index("server_name media.example.com;") :]
    assert "limit_except GET HEAD { deny all; }" in media
    assert "proxy_set_header Host example-com-prod-media.nyc3.digitaloceanspaces.com;" in media
    assert "proxy_ssl_verify on;" in media and 'proxy_set_header Cookie "";' in media


def test_the_public_media_server_passes_nginx_t(tmp_path):
    run = _run("prod", True)
    text = render_nginx_conf(nginx_spec(run.cfg, proxy_protocol=True))
    result = nginx_t_with_throwaway_cert(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        ({"media": {"enabled": True, "publicHostname": "staging.example.com"}}, "media.publicHostname", "not one of"),
        ({"media": {"enabled": True, "publicHostname": "a.b.example.com"}}, "media.publicHostname", "one label"),
        ({"media": {"publicHostname": "media.example.com"}}, "media.enabled", "true to use"),
        ({"app.envAliases": {"AWS_ACCESS_KEY_ID": "mediaAccessKeyId"}}, "app.envAliases.AWS_ACCESS_KEY_ID", "media"),
        ({"media": {"enabled": True, "corsOrigins": ["http://x.com"]}}, "media.corsOrigins", "https://"),
    ],
)
def test_bad_media_config_names_its_key(overrides, key, words):
    from tests.unit.test_config import _reject

    message = str(_reject("staging", overrides))
    assert f"webstack:{key}" in message and words in message
