"""A proxy change never takes the site down: each droplet's nginx is replaced only after the
real `nginx -t` passed on the new conf and certificates (a one-shot from the same image),
only once Cloudflare sends the client certificate the new conf asks for, and one droplet at
a time. The proxy's name is fixed, so the old one stops before the new one starts: what
precedes that stop is what these tests hold."""

from __future__ import annotations

import pytest

from tests.conftest import STACKS, recorded
from tests.graph.test_one_shots import _started_when_failing

CONTAINER = "docker:index/container:Container"
ASSOCIATION = "cloudflare:index/authenticatedOriginPulls:AuthenticatedOriginPulls"
PULL_CERT = "cloudflare:index/authenticatedOriginPullsHostnameCertificate:AuthenticatedOriginPullsHostnameCertificate"


def _per_droplet(run, name: str) -> list:
    return sorted((c for c in run.of_type(CONTAINER) if c.inputs["name"] == name), key=lambda c: c.name)


@pytest.mark.parametrize("stack", STACKS)
def test_each_proxy_waits_for_nginx_t_of_exactly_its_own_files(stack):
    run = recorded(stack)
    proxies, checks = _per_droplet(run, "proxy"), _per_droplet(run, "proxy-check")
    assert len(proxies) == len(checks) == run.cfg.app.replicas
    for proxy, check in zip(proxies, checks, strict=True):
        assert check.name == proxy.name + "-check"
        # The same image and the very files the proxy gets, checked by nginx itself.
        assert check.inputs["image"] == proxy.inputs["image"]
        assert check.inputs["uploads"] == proxy.inputs["uploads"]
        assert (check.inputs["entrypoints"], check.inputs["command"]) == (["nginx"], ["-t"])
        # A one-shot that keeps nginx's words for the error (as a secret, like every one-shot's).
        assert check.inputs["restart"] == "no" and check.inputs["mustRun"] is False
        assert check.inputs["logs"] and check.inputs["attach"] and "containerLogs" in check.additional_secret_outputs
        assert not check.inputs.get("ports")
        # The proxy takes the check's result as an input: it is not even registered before it.
        (label,) = [x for x in proxy.inputs["labels"] if x["label"] == "webstack.checked"]
        assert label["value"] == ""
        assert check.urn in proxy.property_dependencies["labels"]


@pytest.mark.parametrize("stack", STACKS)
def test_nginx_asks_for_the_client_certificate_only_once_cloudflare_has_it(stack):
    """Every proxy waits for the upload of the stack's client certificate and its association
    with every served hostname: a first deploy or the upgrade that brings origin pulls never
    runs an nginx that refuses Cloudflare's requests because Cloudflare was not told yet."""
    run = recorded(stack)
    cloudflare = {r.urn for r in run.of_type(ASSOCIATION)} | {r.urn for r in run.of_type(PULL_CERT)}
    assert len(cloudflare) == len(run.cfg.served_hostnames) + 1
    for proxy in _per_droplet(run, "proxy"):
        assert cloudflare <= set(proxy.dependencies), proxy.name


def test_proxies_roll_one_droplet_after_the_other():
    run = recorded("prod")
    first, second = _per_droplet(run, "proxy")
    assert first.urn in second.dependencies
    assert second.urn not in run.upstream(first.urn)


def test_a_conf_nginx_refuses_stops_the_update_before_any_proxy_stops(monkeypatch):
    """`nginx -t` fails in the one-shot (here: the harness answers it with exit code 1): the
    update fails with nginx's own words, and no proxy of any droplet was replaced, so the
    running ones keep serving the old conf."""
    started, error, failed = _started_when_failing(
        monkeypatch, "prod", "proxy-check", 1, "nginx -t of the new proxy conf",
        output='nginx: [emerg] too long parameter "default-sr..." started in /etc/nginx/nginx.conf:92\n',
    )  # fmt: skip
    assert "too long parameter" in error
    assert failed.inputs["command"] == ["-t"]
    assert not {"app-0-proxy", "app-1-proxy"} & started, started
