"""The pure renderers, checked by the real tools that consume their output.

``cloud-init schema`` validates the droplet user data and ``nginx -t`` the proxy's nginx.conf
(both from Debian, installed by .ci/run). A test skips only when its tool is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.render.cloudinit import (
    FAIL2BAN_JAIL_PATH,
    SSHD_DROPIN_PATH,
    render_cloud_init,
    swap_size_mb,
)
from components.render.nginx import CLIENT_CA_PATH, PERMISSIONS_POLICY, ProxySpec, render_nginx_conf
from tests import realprog

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7"
    "opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= bob@ci"
)
CF_RANGES = ("173.245.48.0/20", "103.21.244.0/22", "2400:cb00::/32", "2606:4700::/32")

# Where Debian's cloud-init keeps the schema that `cloud-init schema` applies.
_SCHEMA_FILES = sorted(
    Path("/usr/lib/python3/dist-packages/cloudinit").glob("config/schemas/schema-cloud-config-v1.json")
)


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run must install it")
        pytest.skip(f"{name} is not installed (.ci/run installs it from Debian)")
    return path


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


# ----------------------------------------------------------------------------- cloud-init


def _cloud_config(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ssh_public_keys", [ED25519])
    kwargs.setdefault("memory_mb", 1024)
    return yaml.safe_load(render_cloud_init(**kwargs))


def _written(doc: dict[str, Any], path: str) -> str:
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    assert path in files, f"{path} not in write_files: {sorted(files)}"
    return files[path]


def _schema(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    cloud_init = _tool("cloud-init")
    config = tmp_path / "user-data.yaml"
    config.write_text(text)
    return _run(cloud_init, "schema", "--config-file", str(config))


@pytest.mark.parametrize("memory_mb", [1024, 4096])
@pytest.mark.parametrize("keys", [[ED25519], [ED25519, ECDSA]], ids=["1key", "2keys"])
def test_cloud_init_passes_real_schema(tmp_path: Path, memory_mb: int, keys: list[str]) -> None:
    text = render_cloud_init(ssh_public_keys=keys, memory_mb=memory_mb)
    result = _schema(tmp_path, text)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Valid cloud-config" in output, output
    # cloud-init prints deprecations yet exits 0; the next release turns them into errors.
    assert "deprecat" not in output.lower(), output

    doc = yaml.safe_load(text)
    assert doc["users"][0]["ssh_authorized_keys"] == keys
    assert ("swap" in doc) == (memory_mb < 2048)


def test_schema_check_can_fail(tmp_path: Path) -> None:
    """The harness above would notice a document cloud-init rejects."""
    text = render_cloud_init(ssh_public_keys=[ED25519], memory_mb=1024)
    broken = text.replace("lock_passwd: true", "lock_passwd: 3")
    assert broken != text
    result = _schema(tmp_path, broken)
    assert result.returncode != 0, result.stdout + result.stderr


@pytest.mark.skipif(not _SCHEMA_FILES, reason="cloud-init's schema file is not installed")
def test_cloud_init_uses_only_known_top_level_keys() -> None:
    # cloud-init 22.4 still passes unknown keys ("swapp:") with exit 0; this catches them.
    known = json.loads(_SCHEMA_FILES[0].read_text())
    properties: set[str] = set()
    for definition in known["$defs"].values():
        properties |= set(definition.get("properties", {}))
    doc = _cloud_config(ssh_public_keys=[ED25519, ECDSA], memory_mb=512)
    assert set(doc) <= properties, set(doc) - properties


def test_first_line_is_the_cloud_config_header() -> None:
    text = render_cloud_init(ssh_public_keys=[ED25519], memory_mb=1024)
    assert text.splitlines()[0] == "#cloud-config"
    assert text.endswith("\n")


@pytest.mark.parametrize(("memory_mb", "expected_mb"), [(512, 2048), (1024, 2048), (2047, 2048), (2048, 0), (4096, 0)])
def test_swap_only_below_2_gib(memory_mb: int, expected_mb: int) -> None:
    assert swap_size_mb(memory_mb) == expected_mb
    doc = _cloud_config(memory_mb=memory_mb)
    if expected_mb:
        size = expected_mb * 1024 * 1024
        assert doc["swap"] == {"filename": "/swapfile", "size": size, "maxsize": size}
    else:
        assert "swap" not in doc


@pytest.mark.parametrize("memory_mb", [0, -1024])
def test_swap_size_rejects_non_positive_memory(memory_mb: int) -> None:
    with pytest.raises(ValueError, match="memory_mb"):
        swap_size_mb(memory_mb)


def test_deploy_user_is_key_only_and_not_root() -> None:
    doc = _cloud_config(ssh_public_keys=[ED25519, ECDSA])
    (user,) = doc["users"]
    assert user["name"] == "deploy"
    assert user["groups"] == ["docker"]
    assert user["lock_passwd"] is True
    assert user["shell"] == "/bin/bash"
    assert user["ssh_authorized_keys"] == [ED25519, ECDSA]
    assert "sudo" not in user
    assert doc["disable_root"] is True
    assert doc["ssh_pwauth"] is False


def test_sshd_dropin_hardens_login() -> None:
    doc = _cloud_config(deploy_user="ops")
    lines = _written(doc, SSHD_DROPIN_PATH).splitlines()
    for line in (
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin no",
        "AllowUsers ops",
    ):
        assert line in lines
    assert "systemctl restart ssh" in doc["runcmd"]


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node))
    return set()


def test_no_password_anywhere() -> None:
    doc = _cloud_config(ssh_public_keys=[ED25519, ECDSA], memory_mb=1024)
    forbidden = {"passwd", "plain_text_passwd", "hashed_passwd", "password", "chpasswd"}
    assert not _keys(doc) & forbidden


def test_host_services_and_log_rotation() -> None:
    doc = _cloud_config(log_max_size="50m", log_max_file=5)
    assert doc["package_update"] is True
    assert doc["package_upgrade"] is True
    assert {"docker.io", "unattended-upgrades", "fail2ban"} <= set(doc["packages"])
    assert json.loads(_written(doc, "/etc/docker/daemon.json")) == {
        "log-driver": "json-file",
        "log-opts": {"max-size": "50m", "max-file": "5"},
        "live-restore": True,
        "no-new-privileges": True,
        "icc": False,
    }
    auto = _written(doc, "/etc/apt/apt.conf.d/20auto-upgrades")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in auto
    jail = _written(doc, FAIL2BAN_JAIL_PATH).splitlines()
    assert jail[0] == "[sshd]"
    assert "enabled = true" in jail
    assert "systemctl enable --now docker" in doc["runcmd"]
    assert "systemctl restart fail2ban" in doc["runcmd"]


def test_cloud_init_is_deterministic() -> None:
    first = render_cloud_init(ssh_public_keys=[ED25519, ECDSA], memory_mb=1024)
    again = render_cloud_init(ssh_public_keys=(ED25519, ECDSA), memory_mb=1024)
    assert first == again


@pytest.mark.parametrize(
    "keys",
    [
        ["AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"],
        ["-----BEGIN OPENSSH PRIVATE KEY-----"],
        [ED25519, "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"],
        ["ssh-ed25519 AAAA alice\nssh-rsa AAAA mallory"],
        [],
    ],
    ids=["no-type", "private-key", "fingerprint", "newline", "empty"],
)
def test_bad_keys_are_rejected(keys: list[str]) -> None:
    with pytest.raises(ValueError, match="ssh_public_keys"):
        render_cloud_init(ssh_public_keys=keys, memory_mb=1024)


def test_single_string_is_not_a_key_list() -> None:
    with pytest.raises(TypeError, match="ssh_public_keys"):
        render_cloud_init(ssh_public_keys=ED25519, memory_mb=1024)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"deploy_user": "root"}, "deploy_user"),
        ({"deploy_user": "Deploy User"}, "deploy_user"),
        ({"log_max_size": "10MB"}, "log_max_size"),
        ({"log_max_file": 0}, "log_max_file"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        render_cloud_init(ssh_public_keys=[ED25519], memory_mb=1024, **kwargs)


# ----------------------------------------------------------------------------------- nginx


@pytest.fixture(scope="module")
def origin_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed pair standing in for the Cloudflare origin certificate."""
    openssl = _tool("openssl")
    directory = tmp_path_factory.mktemp("certs")
    cert, key = directory / "origin.pem", directory / "origin.key"
    result = _run(
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=test", "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return cert, key


def _spec(cert: tuple[Path, Path] | None = None, **overrides: Any) -> ProxySpec:
    fields: dict[str, Any] = {
        "server_names": ("example.com", "www.example.com", "api.example.com"),
        "upstream": "myapp-web:8000",
        "health_path": "/health",
        "real_ip_ranges": CF_RANGES,
    }
    if cert is not None:
        # The throwaway certificate stands in for the origin-pull CA too: nginx -t only loads it.
        fields["cert_path"], fields["key_path"] = str(cert[0]), str(cert[1])
        fields["client_ca_path"] = str(cert[0])
    fields.update(overrides)
    return ProxySpec(**fields)


def _nginx_t(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    nginx = _tool("nginx")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    # The file sets neither pid nor error_log (the image's compiled-in defaults are right),
    # so both can be pointed into tmp_path here without overriding anything it says.
    return _run(
        nginx, "-t", "-c", str(conf), "-p", f"{tmp_path}/", "-e", str(tmp_path / "error.log"),
        "-g", f"pid {tmp_path / 'nginx.pid'};",
    )  # fmt: skip


def nginx_t_with_throwaway_cert(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of a deployed nginx.conf, its origin certificate paths pointed at a throwaway
    self-signed P-256 pair made here (which also stands in for the origin-pull CA)."""
    cert, key = realprog.throwaway_cert(tmp_path / "origin.pem", tmp_path / "origin.key", "test")
    text = text.replace("/etc/nginx/certs/origin.pem", str(cert)).replace("/etc/nginx/certs/origin.key", str(key))
    text = text.replace(CLIENT_CA_PATH, str(cert))
    return _nginx_t(tmp_path, text)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "server_names": ("staging.example.com",),
            "auth_paths": ("/accounts/login/", "/api/v1/token", "/api/auth/"),
            "content_security_policy": ("default-src 'self'; img-src 'self' data:; style-src 'self' \"x\" {y}"),
            "client_max_body_size": "100m",
        },
    ],
    ids=["defaults", "custom"],
)
def test_nginx_accepts_rendered_conf(tmp_path: Path, origin_cert: tuple[Path, Path], overrides: dict[str, Any]) -> None:
    result = _nginx_t(tmp_path, render_nginx_conf(_spec(origin_cert, **overrides)))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "test is successful" in output, output
    # Debian 12's nginx 1.22 warns about nothing in a correct file; a warning here means
    # the file relies on behaviour nginx is about to drop.
    assert "[warn]" not in output, output


def test_nginx_check_can_fail(tmp_path: Path, origin_cert: tuple[Path, Path]) -> None:
    """The harness above would notice a file nginx rejects: here, a missing key file."""
    spec = _spec(origin_cert, key_path=str(tmp_path / "missing.key"))
    result = _nginx_t(tmp_path, render_nginx_conf(spec))
    assert result.returncode != 0, result.stdout + result.stderr


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_nginx_conf_content() -> None:
    spec = _spec()
    text = render_nginx_conf(spec)
    lines = _stripped_lines(text)

    assert not any(line.startswith("user ") for line in lines)
    assert "worker_processes auto;" in lines
    assert "server_tokens off;" in lines
    # The client: CF-Connecting-IP when the edge address is Cloudflare's, else that address.
    start = lines.index("geo $edge_addr $edge_is_trusted {")
    assert lines[start + 1 : start + 2 + len(CF_RANGES)] == ["default 0;", *(f"{cidr} 1;" for cidr in CF_RANGES)]
    assert not any(line.startswith(("set_real_ip_from", "real_ip_header")) for line in lines)

    assert "limit_req_zone $client_addr zone=api:10m rate=10r/s;" in lines
    assert "limit_req_zone $client_addr zone=auth:10m rate=5r/s;" in lines
    assert "limit_req_status 429;" in lines
    for path in spec.auth_paths:
        start = lines.index(f"location {path} {{")
        assert lines[start + 1] == "limit_req zone=auth burst=5 nodelay;"
    start = lines.index("location /api/ {")
    assert lines[start + 1] == "limit_req zone=api burst=20 nodelay;"

    # Each secure header where the app sent none of its own.
    for header, value in (
        ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
        ("Content-Security-Policy", "default-src 'self'"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin-allow-popups"),
        ("Cross-Origin-Resource-Policy", "same-site"),
        ("X-Permitted-Cross-Domain-Policies", "none"),
    ):
        variable = "$webstack_" + header.lower().replace("-", "_")
        start = lines.index(f"map $upstream_http_{header.lower().replace('-', '_')} {variable} {{")
        assert lines[start + 1 : start + 3] == [f'"" "{value}";', 'default "";'], header
        assert f"add_header {header} {variable} always;" in lines
    assert "proxy_hide_header X-Powered-By;" in lines
    # Cloudflare's client certificate, signed by the stack's CA, or no answer.
    assert "ssl_client_certificate /etc/nginx/certs/origin-pull-ca.pem;" in lines
    assert "ssl_verify_client on;" in lines
    assert not any("proxy_protocol;" in line for line in lines)
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in lines
    assert "ssl_reject_handshake on;" in lines
    assert "server_name example.com www.example.com api.example.com;" in lines
    assert "resolver 127.0.0.11 valid=10s ipv6=off;" in lines
    assert lines.count("set $upstream http://myapp-web:8000;") == 2
    assert "proxy_set_header X-Forwarded-Proto https;" in lines
    assert "return 301 https://$host$request_uri;" in lines
    # Health is answered on 80 (load balancer) and 443 (uptime check), never logged.
    assert lines.count("location = /health {") == 2
    for index, line in enumerate(lines):
        if line == "location = /health {":
            assert lines[index + 1] == "access_log off;"
    assert "location ~ /\\. {" in lines
    assert "location ~* \\.(env|log|conf)$ {" in lines
    assert "location ^~ /.well-known/ {" in lines
    assert "proxy_pass http://" not in text


def test_nginx_csp_is_quoted() -> None:
    text = render_nginx_conf(_spec(content_security_policy='default-src "self"; a {b}'))
    assert '"" "default-src \\"self\\"; a {b}";' in text


def test_without_a_policy_nginx_sends_none() -> None:
    lines = _stripped_lines(render_nginx_conf(_spec(content_security_policy=None)))
    assert not [line for line in lines if "content_security_policy" in line]
    assert "add_header X-Frame-Options $webstack_x_frame_options always;" in lines


def test_behind_the_load_balancer_every_listener_reads_the_proxy_protocol() -> None:
    lines = _stripped_lines(render_nginx_conf(_spec(proxy_protocol=True)))
    listens = [line for line in lines if line.startswith("listen ")]
    assert len(listens) == 6 and all(line.endswith(" proxy_protocol;") for line in listens)
    assert "map $proxy_protocol_addr $edge_addr {" in lines


def test_nginx_conf_is_deterministic() -> None:
    assert render_nginx_conf(_spec()) == render_nginx_conf(_spec())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"server_names": ()}, "server_names"),
        ({"server_names": ("example.com; evil",)}, "server_names"),
        ({"upstream": "http://myapp-web:8000"}, "upstream"),
        ({"health_path": "health"}, "health_path"),
        ({"real_ip_ranges": ()}, "real_ip_ranges"),
        ({"real_ip_ranges": ("173.245.48.0/33",)}, "real_ip_ranges"),
        ({"auth_paths": ("login",)}, "auth_paths"),
        ({"auth_paths": ("/login;",)}, "auth_paths"),
        ({"client_max_body_size": "10 MB"}, "client_max_body_size"),
        ({"content_security_policy": "script-src $evil"}, "content_security_policy"),
        ({"api_rate_per_s": 0}, "api_rate_per_s"),
        ({"api_burst": -1}, "api_burst"),
        ({"auth_rate_per_s": 0}, "auth_rate_per_s"),
        ({"auth_burst": -1}, "auth_burst"),
        ({"cert_path": "origin.pem"}, "cert_path"),
        ({"key_path": "/etc/nginx/certs/origin key"}, "key_path"),
        ({"resolver": "dns.internal"}, "resolver"),
    ],
)
def test_bad_spec_names_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=rf"\b{field}\b"):
        render_nginx_conf(_spec(**overrides))
