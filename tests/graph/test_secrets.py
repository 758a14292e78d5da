"""Principle 1: secrets are born in the graph and stay secret, in every input and export."""

from __future__ import annotations

import json

import pytest

from testing import harness
from tests.conftest import recorded, recorded_with


def _plain_strings(value, path, secret_paths):
    """Every string in a recorded value that is not under a secret path."""
    if any(path == s or path.startswith(s + ".") or path.startswith(s + "[") for s in secret_paths):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _plain_strings(v, f"{path}.{k}" if path else k, secret_paths)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _plain_strings(v, f"{path}[{i}]", secret_paths)
    elif isinstance(value, str):
        yield path, value


def plain_leaks(run: harness.Run) -> list[tuple[str, str]]:
    """(resource, input path) of every fake secret (harness.SECRET_MARK) in a plain input."""
    return [
        (r.name, path)
        for r in run.resources
        for path, text in _plain_strings(r.inputs, "", r.secret_paths)
        if harness.SECRET_MARK in text
    ]


# Up mode only: the stack files hold no `secure:` value, so their preview recordings hold no
# secret value to find. The preview search is tests/graph/test_preview_secrets.py, with config
# secrets (known in preview) that it can find.
def test_no_fake_secret_in_any_plain_input(run):
    assert plain_leaks(run) == []


def test_every_export_carrying_a_secret_is_secret(run):
    for name, export in run.exports.items():
        if harness.SECRET_MARK in json.dumps(export.value):
            assert export.secret, f"export {name} carries a secret in plain text"


def test_connection_urls_exported_only_as_secrets(any_run):
    for name in ("database_url", "database_direct_url", "broker_url", "cache_url"):
        assert any_run.exports[name].secret, name


def test_the_search_finds_secrets_where_they_are(run):
    # Guard against a vacuous search: the fake secrets do reach the recorded URLs.
    assert harness.SECRET_MARK in run.exports["database_url"].value


def test_generated_secrets_are_64_url_safe_characters(run):
    passwords = [r for r in run.of_type("random:index/randomPassword:RandomPassword") if "-secrets-" in r.name]
    assert len(passwords) == len(run.cfg.app.generated_secrets)
    for p in passwords:
        assert p.inputs["length"] == 64
        assert set(p.inputs["overrideSpecial"]) <= set("-_.~")


def test_each_generated_secret_rotates_on_its_own():
    # Bumping SECRET_KEY's counter regenerates SECRET_KEY only; JWT_SECRET_KEY keeps its value.
    before = recorded("staging")
    after = recorded_with("staging", {"app.generatedSecrets": {"SECRET_KEY": 2, "JWT_SECRET_KEY": 1}})
    keep = {r.name: r.inputs["keepers"] for r in before.of_type("random:index/randomPassword:RandomPassword")}
    changed = {
        r.name
        for r in after.of_type("random:index/randomPassword:RandomPassword")
        if "-secrets-" in r.name and r.inputs["keepers"] != keep[r.name]
    }
    assert changed == {"webstack-staging-secrets-secret-key"}


USER_SECRETS = {
    "app.secretEnv": {"STRIPE_SECRET_KEY": {"secure": "v1:AAAA"}, "SMTP_PASSWORD": {"secure": "v1:BBBB"}},
}
TOKEN_REGISTRY = {
    "app.image": "ghcr.io/example/shop:1.4.2",
    "app.registry": {"kind": "token", "server": "ghcr.io", "username": "ci-bot", "password": {"secure": "v1:CCCC"}},
}
DOCR_REGISTRY = {
    "app.image": "registry.digitalocean.com/example/shop:1.4.2",
    "app.registry": {"kind": "docr", "name": "example"},
}


PRIVATE = {"token": ("dev", TOKEN_REGISTRY), "docr": ("prod", DOCR_REGISTRY)}


def _private(kind: str, preview: bool = False) -> harness.Run:
    stack, registry = PRIVATE[kind]
    return recorded_with(stack, {**USER_SECRETS, **registry}, preview)


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("kind", sorted(PRIVATE))
def test_user_secrets_and_registry_credentials_are_never_plaintext(kind, preview):
    run = _private(kind, preview)
    # Config values are known in preview too, so this search can fail in both modes.
    assert plain_leaks(run) == []
    for name, export in run.exports.items():
        assert export.secret or harness.SECRET_MARK not in json.dumps(export.value), name
    # ... and it is not vacuous: the secrets do reach every app container's env, as secrets.
    apps = [
        c
        for c in run.of_type("docker:index/container:Container")
        if "-app-" in c.name and c.inputs.get("envs") is not None and c.inputs["name"] not in ("probe", "proxy")
    ]
    assert apps, "no app container to look in"
    for c in apps:
        assert "envs" in c.secret_paths
        if not preview:
            names = {line.split("=", 1)[0] for line in c.inputs["envs"]}
            assert {"STRIPE_SECRET_KEY", "SMTP_PASSWORD"} <= names, c.name
            assert any(harness.SECRET_MARK in line for line in c.inputs["envs"] if line.startswith("STRIPE"))


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_secrets_from_an_esc_environment_reach_the_app_as_secrets(preview):
    # An ESC environment's `pulumiConfig: {webstack:secretEnv: {...: {fn::secret: ...}}}` arrives as
    # the secret top-level key webstack:secretEnv, beside the stack file's webstack:app.
    run = recorded_with("staging", {"secretEnv": {"TWILIO_AUTH_TOKEN": {"secure": "v1:DDDD"}}}, preview)
    assert plain_leaks(run) == []
    webs = [c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-web")]
    assert webs and all("envs" in w.secret_paths for w in webs)
    if not preview:
        assert all(any(e.startswith("TWILIO_AUTH_TOKEN=mocksecret") for e in w.inputs["envs"]) for w in webs)


@pytest.mark.parametrize("kind", sorted(PRIVATE))
def test_private_images_are_pulled_with_the_registry_credentials(kind):
    run = _private(kind)
    registry = PRIVATE[kind][1]
    providers = run.of_type("pulumi:providers:docker")
    assert len(providers) == run.cfg.app.replicas
    for provider in providers:
        (auth,) = (
            json.loads(provider.inputs["registryAuth"])
            if isinstance(provider.inputs["registryAuth"], str)
            else provider.inputs["registryAuth"]
        )
        assert any(p.startswith("registryAuth") for p in provider.secret_paths), provider.secret_paths
        if registry is TOKEN_REGISTRY:
            assert auth["address"] == "ghcr.io" and auth["username"] == "ci-bot"
            assert harness.SECRET_MARK in auth["password"]
        else:
            assert auth["address"] == "registry.digitalocean.com"
            (creds,) = run.of_type(
                "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials"
            )
            assert creds.inputs["registryName"] == "example" and creds.inputs["write"] is False
            assert not run.of_type("digitalocean:index/containerRegistry:ContainerRegistry"), "one per account"
    # The app image is pulled through those providers; the public helper images need none.
    images = [r for r in run.of_type("docker:index/remoteImage:RemoteImage") if r.name.endswith("-app-0-image")]
    assert images and images[0].inputs["name"] == run.cfg.app.image


def test_public_images_need_no_credentials():
    run = recorded("prod")
    for provider in run.of_type("pulumi:providers:docker"):
        assert "registryAuth" not in provider.inputs


def test_container_env_and_tls_key_stay_secret_in_preview_too(any_run):
    # In preview no secret value exists yet, so the leak search above proves nothing there;
    # what must hold is that the inputs that will carry secrets are marked secret.
    for c in any_run.of_type("docker:index/container:Container"):
        # The job runner's env is only where its socket proxy is (no secret at all).
        if c.inputs.get("envs") and c.inputs["name"] != "jobs":
            assert "envs" in c.secret_paths, c.name
    # The origin key (kept secret by the tls SDK itself) reaches nginx as its key file, secret.
    (key,) = [k for k in any_run.of_type("tls:index/privateKey:PrivateKey") if k.name.endswith("-origin-key")]
    proxies = [c for c in any_run.of_type("docker:index/container:Container") if c.inputs["name"] == "proxy"]
    assert proxies
    for proxy in proxies:
        ((i, upload),) = [(i, u) for i, u in enumerate(proxy.inputs["uploads"]) if u["file"].endswith("origin.key")]
        assert f"uploads[{i}].content" in proxy.secret_paths or "uploads" in proxy.secret_paths
        assert any_run.preview or upload["content"] == key.outputs["privateKeyPem"]


def test_a_plaintext_secret_beside_a_secure_one_is_refused():
    # The CLI reports `webstack:app` secret as a whole once one leaf is secure; the stack file
    # shows the plaintext sibling, and the program refuses it without printing it.
    from components.config import ConfigError, parse
    from components.config.loading import plaintext_secret_leaves

    values = harness.stack_config(
        "staging", {"app.secretEnv": {"STRIPE_SECRET_KEY": {"secure": "v1:AAAA"}, "SMTP_PASSWORD": "hunter2"}}
    )
    raw, secret_keys = harness.cli_values(values)
    assert "app" in secret_keys
    with pytest.raises(ConfigError) as info:
        parse(raw, "staging", secret_keys=secret_keys, plaintext_leaves=plaintext_secret_leaves(values))
    message = str(info.value)
    assert "webstack:app.secretEnv.SMTP_PASSWORD = '[plaintext]'" in message
    assert "STRIPE_SECRET_KEY" not in message and "hunter2" not in message


def test_the_program_reads_plaintext_leaves_from_its_stack_file(tmp_path, monkeypatch):
    from components.config.loading import _stack_file_config, plaintext_secret_leaves

    (tmp_path / "Pulumi.shop.yaml").write_text(
        "config:\n"
        "  aws:region: us-east-1\n"
        "  webstack:app:\n"
        "    registry: {kind: token, server: ghcr.io, username: bot, password: ghp_plain}\n"
        "    secretEnv:\n"
        "      A: {secure: v1:AAAA}\n"
        "      B: plain\n"
        "  webstack:secretEnv: {C: {secure: v1:CCCC}, D: plain}\n"
    )
    monkeypatch.chdir(tmp_path)
    leaves = plaintext_secret_leaves(_stack_file_config("shop"))
    assert leaves == {"app.registry.password", "app.secretEnv.B", "secretEnv.D"}
    assert _stack_file_config("other") == {}


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("acme/shop:1.0", "registry-1.docker.io"),
        ("docker.io/acme/shop:1.0", "docker.io"),
        ("ghcr.io/acme/shop:1.0", "ghcr.io"),
        ("registry.digitalocean.com/acme/shop:1.0", "registry.digitalocean.com"),
        ("localhost:5000/shop:1.0", "localhost:5000"),
        ("localhost/shop:1.0", "localhost"),
        ("registry.example.com/shop:1.0", "registry.example.com"),
        ("acme/team/shop:1.0", "acme"),
        ("nginx:1.27.5-alpine", "registry-1.docker.io"),
    ],
)
def test_credentials_are_filed_under_the_host_the_provider_pulls_from(image, host):
    # kreuzwerker/terraform-provider-docker v4.5.0 resource_docker_image_funcs.go parseImageOptions
    # and pullImage: credentials are looked up by exactly this host.
    from components.config.process import image_registry

    assert image_registry(image) == host


def test_a_bare_docker_hub_image_gets_its_token_under_registry_1():
    hub = {"app.image": "acme/shop:1.4.2", "app.registry": {**TOKEN_REGISTRY["app.registry"], "server": "docker.io"}}
    run = recorded_with("dev", hub)
    (provider,) = run.of_type("pulumi:providers:docker")
    auths = provider.inputs["registryAuth"]
    (auth,) = json.loads(auths) if isinstance(auths, str) else auths
    assert auth["address"] == "registry-1.docker.io" and auth["username"] == "ci-bot"


def test_the_program_refuses_a_plaintext_sibling_its_stack_file_shows(tmp_path, monkeypatch):
    """End to end through load(): the CLI calls `webstack:app` secret once one leaf is secure,
    so only the stack file (read from the working directory, as the CLI runs the program)
    shows the plaintext sibling."""
    from components.config import ConfigError

    (tmp_path / "Pulumi.staging.yaml").write_text(
        "config:\n  webstack:app:\n    secretEnv:\n      A: {secure: v1:AAAA}\n      B: plain\n"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        harness.run("staging", {"app.secretEnv.A": {"secure": "v1:AAAA"}, "app.secretEnv.B": "plain"})
    assert "webstack:app.secretEnv.B = '[plaintext]'" in str(info.value)
    assert "app.secretEnv.A" not in str(info.value)
