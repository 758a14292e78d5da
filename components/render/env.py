"""The environment every app process sees: a pure function, no resources.

Plain values come from `app.env`, the user's secrets from `app.secretEnv`, generated ones
from AppSecrets; the stack's own values (connection URLs) go in under fixed names and under
any alias the app already uses (`app.envAliases`), so config validation can refuse an entry
that would shadow one of them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.config.envnames import DEFAULT_NAMES, PROVIDED_ENV, STACK_VALUES

__all__ = ["DEFAULT_NAMES", "PROVIDED_ENV", "STACK_VALUES", "app_env"]


def app_env(
    *,
    plain: Mapping[str, str],
    values: Mapping[str, pulumi.Input[str] | None],
    aliases: Mapping[str, str] = {},
    secrets: Mapping[str, pulumi.Input[str]],
    web_workers: int,
) -> pulumi.Output[list[str]]:
    """`KEY=value` lines for a container, secret as a whole because URLs and secrets are.

    `values` maps each STACK_VALUES name to its Output (None where the stack has none, e.g.
    no Valkey). Sorted so an unchanged config renders the same list and replaces nothing.
    gunicorn reads WEB_CONCURRENCY as its worker count.
    """
    env: dict[str, pulumi.Input[str]] = dict(plain)
    env.update(secrets)
    for name, value_name in {**DEFAULT_NAMES, **aliases}.items():
        if values.get(value_name) is not None:
            env[name] = values[value_name]
    env["WEB_CONCURRENCY"] = str(web_workers)
    names = sorted(env)
    return pulumi.Output.secret(
        pulumi.Output.all(*[env[n] for n in names]).apply(
            lambda vals: [f"{n}={v}" for n, v in zip(names, vals, strict=True)]
        )
    )
