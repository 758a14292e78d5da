"""What every config model shares: camelCase keys, no unknown keys, frozen instances, and a
human description of what a field allows, used by the error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

NAMESPACE = "webstack"


@dataclass(frozen=True)
class Allowed:
    """Field metadata: what a value must be, in words (`webstack:key = value: must be <this>`)."""

    text: str


class Section(BaseModel):
    """A config object: keys as the stack file spells them, typos refused, read-only."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        regex_engine="python-re",
    )


def problem(key: str, value: Any, allowed: str) -> str:
    """One line of a ConfigError, the same shape for every kind of problem."""
    return f"{NAMESPACE}:{key} = {value!r}: must be {allowed}"


class ProblemsError(ValueError):
    """Cross-field problems found by a model validator, each already worded by `problem`."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def raise_if(lines: list[str]) -> None:
    if lines:
        raise ProblemsError(lines)


def choice(*values: Any) -> Any:
    """A Literal of `values` (sorted, so messages and the JSON Schema list them in order)."""
    return Literal[tuple(sorted(values))]  # type: ignore[valid-type]


def text(pattern: str, what: str) -> Any:
    """A non-empty string matching `pattern`; `what` says what it must be."""
    return Annotated[str, Field(min_length=1, pattern=pattern), Allowed(what)]


def strings(min_len: int = 1) -> Any:
    """A list of non-empty strings, at least `min_len` long."""
    what = f"a list of at least {min_len} non-empty strings"
    item = Annotated[str, Field(min_length=1), Allowed(what)]
    return Annotated[tuple[item, ...], Field(min_length=min_len), Allowed(what)]


IMAGE_RE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def image_problem(value: str) -> str | None:
    """Why an image reference is not pinned, or None when it is."""
    m = IMAGE_RE.match(value)
    if not m:
        return "an image reference like registry/name:tag"
    if not m["tag"] and not m["digest"]:
        return "a pinned tag or digest (a missing tag means `latest`)"
    if m["tag"] == "latest" and not m["digest"]:
        return "a pinned tag or digest, not `latest`"
    return None


def _pinned(value: str) -> str:
    why = image_problem(value)
    if why:
        raise ValueError(why)
    return value


Image = Annotated[str, AfterValidator(_pinned), Allowed("a pinned image reference such as ghcr.io/org/app:1.2.3")]


# A value set with `pulumi config set --secret` is stored in the stack file as
# {secure: <ciphertext>}; the program receives the plaintext.
SECURE_SCHEMA = {
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}
SecretText = Annotated[
    str,
    Field(min_length=1),
    WithJsonSchema({"anyOf": [SECURE_SCHEMA, {"type": "string", "minLength": 1}]}),
]
"""A secret leaf: validated as plaintext (what the CLI hands over), published in the stack-file
schema as the {secure: ...} form `pulumi config set --secret --path` writes."""


_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def is_domain(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.match(label) for label in labels)
        and labels[-1].isalpha()
    )
