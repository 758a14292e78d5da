"""OriginTls: the certificate nginx presents to Cloudflare (Full (strict) TLS)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare
import pulumi_tls as tls

# 15 years, Cloudflare's longest: the origin certificate is only trusted by Cloudflare,
# so a long life removes a renewal chore without exposing browsers to it.
VALIDITY_DAYS = 5475


@dataclass(frozen=True, kw_only=True)
class OriginTlsArgs:
    hostnames: tuple[str, ...]
    """Names the certificate covers; no default (config `app.hostnames`)."""


class OriginTls(pulumi.ComponentResource):
    """An ECDSA key generated in the graph, a CSR, and a Cloudflare Origin CA certificate.

    `key_pem` is secret; it reaches nginx as an uploaded file, never user_data.
    """

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]

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
        self.register_outputs({"cert_pem": self.cert_pem})
