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
    names: tuple[str, ...]
    """Env var names to generate a secret for; default (SECRET_KEY, JWT_SECRET_KEY) from config."""
    rotation: pulumi.Input[int]
    """Bump to regenerate every secret; default 1 from config."""


class AppSecrets(pulumi.ComponentResource):
    """One 64-character random password per name; `values` maps name -> secret Output."""

    values: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("webstack:secrets:AppSecrets", name, None, opts)
        self.values = {}
        for secret_name in args.names:
            password = random.RandomPassword(
                f"{name}-{secret_name.lower().replace('_', '-')}",
                length=SECRET_LENGTH,
                special=True,
                override_special=URL_SAFE_SPECIAL,
                keepers={"rotation": pulumi.Output.from_input(args.rotation).apply(str)},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.values[secret_name] = password.result
        self.register_outputs({"names": list(args.names)})
