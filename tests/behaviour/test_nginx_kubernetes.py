"""The Kubernetes engine's nginx, for real: the conf its ConfigMap holds (the droplet
balancer's conf with the web Service's cluster name as upstream and the cluster's DNS as
resolver) behind DigitalOcean's balancer, which opens every connection with a PROXY protocol
line. The client the rate limits count is CF-Connecting-IP from a Cloudflare edge only."""

from __future__ import annotations

import dataclasses
import socket
import ssl
from collections.abc import Iterator

import pytest

from components.config import nginx_spec
from components.render.nginx import render_nginx_conf
from tests.behaviour.test_nginx import (
    CLOUDFLARE_EDGE,
    LOOPBACK,
    Proxy,
    _client_ip,
    _context,
    _https,
    _limited,
    _start,
    _stranger_edge,
    pki,  # noqa: F401 (fixture)
    upstream,  # noqa: F401 (fixture)
)
from tests.graph.test_kubernetes import _run


@pytest.fixture(scope="module")
def kube_proxy(upstream, origin_cert, pki) -> Iterator[Proxy]:  # noqa: F811
    run = _run()
    (conf,) = [
        c.inputs["data"]["nginx.conf"]
        for c in run.of_type("kubernetes:core/v1:ConfigMap")
        if "nginx.conf" in c.inputs["data"]
    ]
    spec = dataclasses.replace(
        nginx_spec(run.cfg, proxy_protocol=True),
        upstream=f"web.webstack.svc.cluster.local:{run.cfg.app.port}",
        resolver="10.245.0.10",
    )
    assert render_nginx_conf(spec) == conf, "the test runs what the cluster gets"
    yield from _start(run.stack, spec, upstream, origin_cert, pki)


def test_the_client_is_cf_connecting_ip_from_a_cloudflare_edge_only(kube_proxy: Proxy) -> None:
    client, stranger = _client_ip(), _stranger_edge()
    for edge, expected in ((CLOUDFLARE_EDGE, client), (stranger, stranger)):
        forged = {"CF-Connecting-IP": client, "X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.10"}
        seen = _https(kube_proxy, "/api/items", forged, edge=edge).echo()
        assert (seen["headers"]["x-forwarded-for"], seen["headers"]["x-real-ip"]) == (expected, expected), edge
    assert seen["peer"] == LOOPBACK


def test_the_rate_limit_counts_the_client_from_a_cloudflare_edge(kube_proxy: Proxy) -> None:
    rate, burst = kube_proxy.spec.api_rate_per_s, kube_proxy.spec.api_burst
    statuses = _limited(
        kube_proxy, "/api/items", rate, burst, None, {"CF-Connecting-IP": _client_ip()}, CLOUDFLARE_EDGE
    )
    assert kube_proxy.limit_status in statuses


def test_a_connection_without_the_proxy_header_gets_no_answer(kube_proxy: Proxy) -> None:
    before = len(kube_proxy.upstream.seen)
    with socket.create_connection((LOOPBACK, kube_proxy.https_port), 5) as raw, pytest.raises((ssl.SSLError, OSError)):
        _context(kube_proxy.pki.client).wrap_socket(raw, server_hostname=kube_proxy.hostname)
    assert len(kube_proxy.upstream.seen) == before
