"""Cloudflare's published edge ranges, pinned and dated.

Pinned rather than fetched with `cloudflare.get_ip_ranges` at deploy time: the firewall and
nginx's `set_real_ip_from` must agree, the offline plan must work without credentials, and
a change to the list should arrive as a reviewed diff, not as a surprise firewall update
during an unrelated `pulumi up`. Source: https://www.cloudflare.com/ips-v4 and
https://www.cloudflare.com/ips-v6, read on RANGES_READ_ON. Cloudflare changes this list
rarely and announces changes ahead; re-read it when they do.
"""

from __future__ import annotations

RANGES_READ_ON = "2026-11-22"

IPV4: tuple[str, ...] = (
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
)
IPV6: tuple[str, ...] = (
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
)
ALL: tuple[str, ...] = IPV4 + IPV6
