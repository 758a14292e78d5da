"""Generated secrets: long enough that guessing is not an attack."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .common import RANDOM_PASSWORD, resource_policy

MIN_LENGTH = 32


def _length(props: Mapping[str, Any], args) -> Iterator[str]:
    length = props.get("length")
    if not isinstance(length, int | float) or length < MIN_LENGTH:
        yield f"RandomPassword length is {length}; at least {MIN_LENGTH} characters"


password_length = resource_policy(
    "random-password-length",
    f"Generated passwords (random.RandomPassword) are at least {MIN_LENGTH} characters. "
    "Python docs, secrets module (32 bytes of randomness suffice); seed guides' secrets.token_hex(32).",
    RANDOM_PASSWORD,
    _length,
)

POLICIES = [password_length]
