"""OriginTls: the certificate nginx presents to Cloudflare (Full (strict) TLS), and the one
Cloudflare presents to nginx (Authenticated Origin Pulls)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare
import pulumi_tls as tls

# 15 years, Cloudflare's longest: the origin certificate is only trusted by Cloudflare,
# so a long life removes a renewal chore without exposing browsers to it.
VALIDITY_DAYS = 5475
# The origin-pull CA outlives any client certificate it signs: nginx trusts the CA, so a new
# client certificate needs no nginx change. The client certificate is renewed by any `pulumi
# up` in its last year (tls early renewal); Cloudflare also mails 30 and 14 days before expiry.
PULL_CA_HOURS = VALIDITY_DAYS * 24
PULL_CERT_HOURS = 5 * 365 * 24
PULL_RENEWAL_HOURS = 365 * 24


@dataclass(frozen=True, kw_only=True)
class OriginTlsArgs:
    hostnames: tuple[str, ...]
    """Names the certificate covers; no default (config `app.hostnames`)."""


class OriginTls(pulumi.ComponentResource):
    """An ECDSA key generated in the graph, a CSR, and a Cloudflare Origin CA certificate; and
    the stack's own origin-pull CA with the client certificate it signs for Cloudflare.

    `key_pem` and `pull_key_pem` are secret; they reach nginx and Cloudflare as an uploaded
    file and a provider input, never user_data. The origin-pull CA is this stack's alone (not
    Cloudflare's shared one, which every Cloudflare zone presents): a certificate it signed
    proves the request came through this stack's hostnames.
    """

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    pull_ca_pem: pulumi.Output[str]
    pull_cert_pem: pulumi.Output[str]
    pull_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: OriginTlsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:origin:OriginTls", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Cloudflare reads the hostnames back in its own order and a change to them replaces
        # the certificate: sending them sorted keeps an unchanged stack without a diff.
        names = sorted(args.hostnames)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=args.hostnames[0], organization="webstack"),
            dns_names=names,
            opts=child,
        )
        cert = cloudflare.OriginCaCertificate(
            f"{name}-cert",
            csr=csr.cert_request_pem,
            hostnames=names,
            request_type="origin-ecc",
            requested_validity=VALIDITY_DAYS,
            opts=child,
        )
        self.cert_pem = cert.certificate
        self.key_pem = pulumi.Output.secret(key.private_key_pem)
        self._origin_pull(name, args, child)
        self.register_outputs(
            {"cert_pem": self.cert_pem, "pull_ca_pem": self.pull_ca_pem, "pull_cert_pem": self.pull_cert_pem}
        )

    def _origin_pull(self, name: str, args: OriginTlsArgs, child: pulumi.ResourceOptions) -> None:
        # RSA, as Cloudflare's own instructions for per-hostname client certificates use.
        ca_key = tls.PrivateKey(f"{name}-pull-ca-key", algorithm="RSA", rsa_bits=4096, opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-pull-ca",
            private_key_pem=ca_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"{args.hostnames[0]} origin pull CA", organization="webstack"
            ),
            is_ca_certificate=True,
            validity_period_hours=PULL_CA_HOURS,
            allowed_uses=["cert_signing", "crl_signing"],
            opts=child,
        )
        pull_key = tls.PrivateKey(f"{name}-pull-key", algorithm="RSA", rsa_bits=2048, opts=child)
        pull_csr = tls.CertRequest(
            f"{name}-pull-csr",
            private_key_pem=pull_key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=f"{args.hostnames[0]} origin pull", organization="webstack"),
            opts=child,
        )
        # A leaf (basicConstraints CA:FALSE): Cloudflare refuses a CA certificate here.
        pull_cert = tls.LocallySignedCert(
            f"{name}-pull-cert",
            cert_request_pem=pull_csr.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=PULL_CERT_HOURS,
            early_renewal_hours=PULL_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "client_auth"],
            opts=child,
        )
        self.pull_ca_pem = ca.cert_pem
        self.pull_cert_pem = pull_cert.cert_pem
        self.pull_key_pem = pulumi.Output.secret(pull_key.private_key_pem)
