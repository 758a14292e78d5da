"""`webstack:proxy`: nginx at the origin."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.config import proxyspec as nginx
from components.config.base import Allowed, Image, OneLine, Section, text, whole


class ProxyConfig(Section):
    image: Image = "nginx:1.27.5-alpine@sha256:65645c7bb6a0661892a8b03b89d0743208a18dd2f3f17a54ef4b76fb8e2f2a10"
    """Pinned nginx image."""
    client_max_body_size: text(r"^[1-9][0-9]*[kKmMgG]?$", "an nginx size such as 10m") = "10m"
    """Largest request body nginx accepts (413 above); nginx reads it as a 64-bit offset, so at
    most 8589934591g, 8796093022207m, 9007199254740991k or 9223372036854775807 (bytes)."""
    content_security_policy: Annotated[
        str,
        Field(pattern=whole(r'[^"\\\n\r]*'), max_length=nginx.MAX_PARAMETER_BYTES),
        OneLine,
        Allowed(f"a CSP of at most {nginx.MAX_PARAMETER_BYTES} bytes, without double quotes, backslashes, newlines"),
    ] = "default-src 'self'"
    """Content-Security-Policy nginx adds to every answer whose app sent none (an app's own
    policy wins, and is then the only one), at most 4094 bytes (nginx's longest parameter).
    Empty: nginx adds none."""
    api_rate_per_s: Annotated[int, Field(ge=1, le=nginx.MAX_RATE, alias="apiRatePerSecond")] = 10
    """Sustained requests per second per client under /api/."""
    api_burst: Annotated[int, Field(ge=0, le=nginx.MAX_BURST)] = 20
    """Burst above the API rate served without delay (0: none, every request past the rate is refused)."""
    auth_rate_per_s: Annotated[int, Field(ge=1, le=nginx.MAX_RATE, alias="authRatePerSecond")] = 5
    """Sustained requests per second per client on the auth paths."""
    auth_burst: Annotated[int, Field(ge=0, le=nginx.MAX_BURST)] = 5
    """Burst above the auth rate served without delay (0: none)."""
    websocket_paths: Annotated[
        tuple[
            text(
                r"^(?!.*/\.)/[A-Za-z0-9._~!*+,=@%/-]*$",
                "a path prefix such as /ws, without spaces, quotes, ';', braces, '$' or '/.'",
            ),
            ...,
        ],
        Field(max_length=20),
    ] = ()
    """Path prefixes whose requests may upgrade to a WebSocket, e.g. [/ws]: Upgrade and Connection
    pass to the app and nginx keeps a silent socket open for an hour; Cloudflare closes one silent
    for 100 s, so ping more often. Empty: no path passes an upgrade."""
    read_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    """How long nginx waits on the app between two reads or writes (s). Cloudflare answers 524
    after 100 s on non-Enterprise plans whatever this says: work longer than that (PDF
    processing, exports) belongs in a background job the page polls, not in the request."""
    static_path: (
        text(
            r"^(?!.*/\.)/[A-Za-z0-9._~!*+,=@%/-]*/$",
            "a path prefix ending in '/', such as /static/, without spaces, quotes, ';', braces, '$' or '/.'",
        )
        | None
    ) = None
    """Prefix of fingerprinted files (e.g. /static/): successful responses get Cache-Control
    "public, max-age=staticMaxAgeSeconds, immutable" instead of the app's; the security headers
    stay. Unset: no such location."""
    static_max_age_seconds: Annotated[int, Field(ge=1, le=31536000)] = 86400
    """max-age of staticPath's responses (s), at most a year."""
