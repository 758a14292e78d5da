"""Origin TLS promises: Cloudflare reaches nginx over Full (strict) TLS with a
certificate that covers every name it serves, issued for the key nginx holds.

The Origin CA signs an ECC certificate ("origin-ecc") only for an ECDSA key, and Cloudflare
refuses a connection to a name the certificate does not cover (error 526)."""

from __future__ import annotations

import pytest

from tests.conftest import STACKS, recorded, recorded_with

KEY = "tls:index/privateKey:PrivateKey"
CSR = "tls:index/certRequest:CertRequest"
CERT = "cloudflare:index/originCaCertificate:OriginCaCertificate"
COMPONENT = "webstack:origin:OriginTls"


def _origin(run):
    (key,) = [k for k in run.of_type(KEY) if k.name.endswith("-origin-key")]
    (csr,) = [c for c in run.of_type(CSR) if c.name.endswith("-origin-csr")]
    return key, csr, run.one(CERT)


@pytest.mark.parametrize("stack", STACKS)
def test_the_certificate_covers_every_served_name_for_the_ecdsa_key(stack):
    run = recorded(stack)
    key, csr, cert = _origin(run)
    names = sorted(run.cfg.served_hostnames)
    assert (key.inputs["algorithm"], key.inputs["ecdsaCurve"]) == ("ECDSA", "P256")
    assert (cert.inputs["requestType"], cert.inputs["hostnames"]) == ("origin-ecc", names)
    assert cert.inputs["requestedValidity"] == 5475  # 15 years, the longest the Origin CA signs
    # The CSR is signed by that key and asks for the same names.
    assert csr.property_dependencies["privateKeyPem"] == [key.urn]
    assert csr.inputs["dnsNames"] == names and csr.inputs["subject"]["commonName"] == run.cfg.served_hostnames[0]
    assert cert.property_dependencies["csr"] == [csr.urn] and cert.inputs["csr"] == csr.outputs["certRequestPem"]
    # The three belong to the OriginTls component, so their URNs (and so their state) are stable.
    for r in (key, csr, cert):
        assert r.parent.endswith(f"${COMPONENT}::webstack-{stack}-origin"), r.parent


def test_a_new_hostname_is_covered():
    run = recorded_with(
        "staging", {"app.hostnames": ["staging.example.com", "api-staging.example.com", "ws.example.com"]}
    )
    _, _, cert = _origin(run)
    assert cert.inputs["hostnames"] == ["api-staging.example.com", "staging.example.com", "ws.example.com"]


@pytest.mark.parametrize("stack", STACKS)
def test_nginx_presents_that_certificate_with_that_key(stack):
    run = recorded(stack)
    key, _, cert = _origin(run)
    proxies = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"] == "proxy"]
    assert proxies
    for proxy in proxies:
        files = {u["file"]: u["content"] for u in proxy.inputs["uploads"]}
        assert files["/etc/nginx/certs/origin.pem"] == cert.outputs["certificate"]
        assert files["/etc/nginx/certs/origin.key"] == key.outputs["privateKeyPem"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_origin_pull_ca_is_the_stacks_own_and_signs_a_leaf_for_client_auth(stack):
    """The CA nginx trusts exists in this stack only; the certificate it signs is a leaf
    (Cloudflare refuses a CA there) for client authentication; both keys stay secret."""
    from components.cloud import origin

    run = recorded(stack)
    (ca,) = run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    (client,) = run.of_type("tls:index/locallySignedCert:LocallySignedCert")
    (ca_key,) = [k for k in run.of_type(KEY) if k.name.endswith("-origin-pull-ca-key")]
    (client_key,) = [k for k in run.of_type(KEY) if k.name.endswith("-origin-pull-key")]
    (client_csr,) = [c for c in run.of_type(CSR) if c.name.endswith("-origin-pull-csr")]
    assert ca.inputs["isCaCertificate"] is True and "cert_signing" in ca.inputs["allowedUses"]
    assert ca.inputs["privateKeyPem"] == ca_key.outputs["privateKeyPem"] and "privateKeyPem" in ca.secret_paths
    assert client.inputs["caCertPem"] == ca.outputs["certPem"]
    assert client.inputs["caPrivateKeyPem"] == ca_key.outputs["privateKeyPem"]
    assert "caPrivateKeyPem" in client.secret_paths
    assert client.inputs["certRequestPem"] == client_csr.outputs["certRequestPem"]
    assert client_csr.inputs["privateKeyPem"] == client_key.outputs["privateKeyPem"]
    assert "client_auth" in client.inputs["allowedUses"] and "cert_signing" not in client.inputs["allowedUses"]
    assert not client.inputs.get("isCaCertificate")
    # Renewed by any `pulumi up` in its last year; the CA (what nginx trusts) outlives it.
    assert client.inputs["earlyRenewalHours"] == origin.PULL_RENEWAL_HOURS < client.inputs["validityPeriodHours"]
    assert ca.inputs["validityPeriodHours"] > client.inputs["validityPeriodHours"]
    for proxy in [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"] == "proxy"]:
        files = {u["file"]: u["content"] for u in proxy.inputs["uploads"]}
        assert files["/etc/nginx/certs/origin-pull-ca.pem"] == ca.outputs["certPem"]
        assert client_key.outputs["privateKeyPem"] not in files.values()
