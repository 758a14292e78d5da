"""AppSecrets: the application's generated secrets, born in the graph and kept secret."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_random as random

# URL-safe: survives env files, shell quoting and connection URLs without escaping.
URL_SAFE_SPECIAL = "-_"
SECRET_LENGTH = 64
BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True, kw_only=True)
class SecretSpec:
    """What the app validates: `length` characters of `alphabet` (for base64, `length` random
    bytes encoded), and the rotation counter."""

    length: int = SECRET_LENGTH
    alphabet: str = "urlsafe"
    rotation: int = 1


def password_inputs(spec: SecretSpec) -> dict:
    """The RandomPassword inputs drawing from `spec.alphabet` only (terraform-provider-random
    picks every character from the union of the enabled sets, `override_special` standing for
    the special set). The urlsafe inputs are exactly those every secret had before alphabets
    existed, so the short form `NAME: n` keeps its resource and its value."""
    if spec.alphabet == "urlsafe":
        return dict(length=spec.length, special=True, override_special=URL_SAFE_SPECIAL)
    if spec.alphabet == "alphanumeric":
        return dict(length=spec.length, special=False)
    if spec.alphabet == "hex":
        return dict(length=spec.length, upper=False, lower=False, numeric=True, special=True, override_special="abcdef")
    if spec.alphabet == "base64":
        # Enough base64 characters for `length` bytes; base64_text trims and pads them.
        return dict(length=math.ceil(spec.length * 4 / 3), special=True, override_special="+/")
    raise ValueError(f"unknown alphabet {spec.alphabet!r}")


def base64_text(chars: str, nbytes: int) -> str:
    """`chars` (random base64 characters, ceil(4n/3) of them) as the canonical base64 of
    `nbytes` bytes: the last character's unused low bits cleared and `=` padding added, so a
    strict decoder (Python's validate=True, Go's StdEncoding.Strict) takes it."""
    unused = (3 - nbytes % 3) % 3  # pad characters
    if unused:
        keep_bits = 6 - 2 * unused  # bits of the last character that carry data: 2 or 4
        last = BASE64_ALPHABET.index(chars[-1]) >> (6 - keep_bits) << (6 - keep_bits)
        chars = chars[:-1] + BASE64_ALPHABET[last]
    return chars + "=" * unused


def resource_name(component: str, secret_name: str) -> str:
    """The RandomPassword's name: an upper-case env name as it always was (SECRET_KEY ->
    <component>-secret-key); any other as written after `-_`, which the first form never has,
    so `SECRET_KEY` and `secret_key` (two env vars) get two resources."""
    if secret_name == secret_name.upper():
        return f"{component}-{secret_name.lower().replace('_', '-')}"
    return f"{component}-_{secret_name}"


@dataclass(frozen=True, kw_only=True)
class AppSecretsArgs:
    rotations: tuple[tuple[str, int | SecretSpec], ...]
    """(env var name, rotation counter or SecretSpec) per secret to generate: bumping one
    counter regenerates that secret only; a bare counter is 64 URL-safe characters; no default
    (config `app.generatedSecrets`)."""


class AppSecrets(pulumi.ComponentResource):
    """One random password per name; `values` maps name -> secret Output."""

    values: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:secrets:AppSecrets", name, None, opts)
        self.values = {}
        for secret_name, given in args.rotations:
            spec = given if isinstance(given, SecretSpec) else SecretSpec(rotation=given)
            password = random.RandomPassword(
                resource_name(name, secret_name),
                **password_inputs(spec),
                keepers={"rotation": str(spec.rotation)},
                opts=pulumi.ResourceOptions(parent=self),
            )
            value = password.result
            if spec.alphabet == "base64":
                value = pulumi.Output.secret(value.apply(lambda chars, n=spec.length: base64_text(chars, n)))
            self.values[secret_name] = value
        self.register_outputs({"names": [n for n, _ in args.rotations]})
