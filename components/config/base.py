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


@dataclass(frozen=True)
class FreeText:
    """Field metadata: text that may span lines (commands, env values, secrets), with `why` its
    consumers take any character but NUL. Every other string is one line (`ONE_LINE`)."""

    why: str


@dataclass(frozen=True)
class Secret:
    """Field metadata: a secret; a problem with it never shows the value."""


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


SHOWN_MAX = 100


def shown(value: Any) -> str:
    """`value` as a message shows it: its repr, cut to SHOWN_MAX characters with the original
    length, so a huge value (a pasted file, an expanded YAML anchor) reads as one short line."""
    try:
        text = repr(value)
    except RecursionError:  # a structure nested deeper than repr goes
        return "[nested too deep to show]"
    if len(text) <= SHOWN_MAX:
        return text
    return f"{text[: SHOWN_MAX - 3]}... ({len(value) if isinstance(value, str) else len(text)} characters)"


def problem(key: str, value: Any, allowed: str) -> str:
    """One line of a ConfigError, the same shape for every kind of problem (a key holding a
    huge name of the user's is cut)."""
    if len(key) > 2 * SHOWN_MAX:
        key = f"{key[: 2 * SHOWN_MAX - 3]}..."
    return f"{NAMESPACE}:{key} = {shown(value)}: must be {allowed}"


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


def whole(pattern: str) -> str:
    """`pattern` (with or without ^ and $) made to match whole strings only, both in Python (re,
    pydantic) and in the JSON Schema's ECMA-262 dialect (editors): a Python `$` also matches
    before a final newline, so `^[a-z]+$` takes "web\\n"; ECMA-262 has no `\\Z`, hence `$(?!\\n)`."""
    body = pattern.removeprefix("^")
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    return rf"^(?:{body})$(?!\n)"


# Control characters (C0, DEL, C1 with NEL U+0085) and the Unicode line and paragraph
# separators: what a line-based consumer (crontab, sh, an env file, nginx.conf, YAML) may split
# on or choke on. NUL fits nowhere: no argv, env entry or file line can hold it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
ONE_LINE = "one line of printable text (no newline, tab, NUL or other control character, no U+2028/U+2029)"
# Linux refuses an argv or environment string over 128 KiB (MAX_ARG_STRLEN, 32 pages:
# include/uapi/linux/binfmts.h), so a longer command argument or env value would never start.
FREE_TEXT_MAX_BYTES = 65536


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(ONE_LINE)
    return value


def _free_text(value: str) -> str:
    if "\0" in value:
        raise ValueError("text without NUL characters")
    if len(value.encode()) > FREE_TEXT_MAX_BYTES:
        raise ValueError(f"at most {FREE_TEXT_MAX_BYTES} bytes (Linux refuses an argument or env string over 128 KiB)")
    return value


OneLine = AfterValidator(_one_line)
"""Validator of every config string but free text: one line, no control characters."""


def one_line(value: Any) -> Any:
    """`value` checked as OneLine does, for a BeforeValidator that normalises it afterwards."""
    return _one_line(value) if isinstance(value, str) else value


def free_text(why: str) -> Any:
    """Text that may span lines, e.g. a command argument or an env value; `why` says why its
    consumers are safe with any character but NUL (the hostile-config tests list it)."""
    return Annotated[str, AfterValidator(_free_text), FreeText(why)]


def text(pattern: str, what: str) -> Any:
    """A non-empty string of one line matching all of `pattern`; `what` says what it must be."""
    return Annotated[str, Field(min_length=1, pattern=whole(pattern)), OneLine, Allowed(what)]


def strings(min_len: int = 1) -> Any:
    """A list of non-empty one-line strings, at least `min_len` long."""
    what = f"a list of at least {min_len} non-empty strings"
    item = Annotated[str, Field(min_length=1), OneLine, Allowed(what)]
    return Annotated[tuple[item, ...], Field(min_length=min_len), Allowed(what)]


ARGV = (
    "an argument of a container's command: Docker passes it to exec as is, and the job script "
    "quotes it with shlex.quote (components/render/cron.py)"
)


def command(min_len: int = 1) -> Any:
    """A command as a list of arguments (free text each: `sh -c` scripts span lines)."""
    what = f"a list of at least {min_len} non-empty strings"
    item = Annotated[free_text(ARGV), Field(min_length=1), Allowed(what)]
    return Annotated[tuple[item, ...], Field(min_length=min_len), Allowed(what)]


IMAGE_RE = re.compile(
    whole(
        r"(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
        r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
    )
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
    AfterValidator(_free_text),
    FreeText(
        "a secret reaches its container as one env entry through the Docker API "
        "(the job env file refuses a line break: rules.py)"
    ),
    Secret(),
    WithJsonSchema({"anyOf": [SECURE_SCHEMA, {"type": "string", "minLength": 1}]}),
]
"""A secret leaf: validated as plaintext (what the CLI hands over), published in the stack-file
schema as the {secure: ...} form `pulumi config set --secret --path` writes."""


_DOMAIN_LABEL = re.compile(whole(r"(?!-)[a-z0-9-]{1,63}(?<!-)"))


def dns_labels(value: str) -> list[str] | None:
    """The labels of `value` as dnspython reads a name in presentation form (label and name
    lengths, empty labels, escapes: dns.name.from_text), or None when it is no DNS name. The
    root's trailing dot is not taken: a config name is written without it."""
    import dns.exception
    import dns.name

    if not value or not value.isascii() or value.endswith(".") or "\\" in value:
        return None  # an IDN is written in its xn-- form (dnspython would encode it silently)
    try:
        name = dns.name.from_text(value)
    except dns.exception.DNSException:
        return None
    return [label.decode("ascii", "replace") for label in name.labels[:-1]]


def is_domain(value: str) -> bool:
    """A host name dnspython parses whose labels are letters, digits and inner '-' (RFC 1123),
    at least two, the last alphabetic (a TLD)."""
    labels = dns_labels(value)
    return (
        labels is not None
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.match(label) for label in labels)
        and labels[-1].isalpha()
    )
