"""AppSecrets: the application's generated secrets, born in the graph and kept secret."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

# URL-safe: survives env files, shell quoting and connection URLs without escaping.
URL_SAFE_SPECIAL = "-_"
SECRET_LENGTH = 64


@dataclass(frozen=True, kw_only=True)
class AppSecretsArgs:
    rotations: tuple[tuple[str, int], ...]
    """(env var name, rotation counter) per secret to generate: bumping one counter regenerates
    that secret only; no default (config `app.generatedSecrets`)."""


class AppSecrets(pulumi.ComponentResource):
    """One 64-character random password per name; `values` maps name -> secret Output."""

    values: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:secrets:AppSecrets", name, None, opts)
        self.values = {}
        for secret_name, rotation in args.rotations:
            password = random.RandomPassword(
                f"{name}-{secret_name.lower().replace('_', '-')}",
                length=SECRET_LENGTH,
                special=True,
                override_special=URL_SAFE_SPECIAL,
                keepers={"rotation": str(rotation)},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.values[secret_name] = password.result
        self.register_outputs({"names": [n for n, _ in args.rotations]})
