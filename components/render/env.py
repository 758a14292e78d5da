"""The environment every app process sees: a pure function, no resources.

Plain values come from `app.env`, the user's secrets from `app.secretEnv`, generated ones
from AppSecrets; the stack's own values (connection URLs) go in under fixed names and under
any alias the app already uses (`app.envAliases`), so config validation can refuse an entry
that would shadow one of them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import unquote, urlsplit

import pulumi

from components.config.envnames import (
    DEFAULT_NAMES,
    PORT_NAME,
    PROVIDED_ENV,
    SECRET_PARTS,
    STACK_VALUES,
    URL_PARTS,
    URL_VALUES,
    part_names,
)

__all__ = ["DEFAULT_NAMES", "PORT_NAME", "PROVIDED_ENV", "STACK_VALUES", "app_env", "url_parts", "with_url_parts"]
_DEFAULT_PORTS = {"postgresql": "5432", "postgres": "5432", "redis": "6379", "rediss": "6379"}


def url_parts(url: str) -> dict[str, str]:
    """The parts of a connection URL by URL_PARTS name: host, port, name (the database, or a
    Redis database number), user, password (percent-decoded) and sslmode (libpq's word:
    `require` for `?sslmode=require` or a rediss:// URL, else `disable`)."""
    split = urlsplit(url)
    query = dict(q.split("=", 1) for q in split.query.split("&") if "=" in q)
    tls = "require" if split.scheme == "rediss" else query.get("sslmode", "disable")
    return {
        "Host": split.hostname or "",
        "Port": str(split.port) if split.port else _DEFAULT_PORTS.get(split.scheme, ""),
        "Name": unquote(split.path.lstrip("/")),
        "User": unquote(split.username or ""),
        "Password": unquote(split.password or ""),
        "Sslmode": tls,
    }


def with_url_parts(
    values: Mapping[str, pulumi.Input[str] | None], wanted: Collection[str] | None = None
) -> dict[str, pulumi.Input[str] | None]:
    """`values` plus each URL's parts (None where the URL is), or only the parts named in
    `wanted`. A part comes out of its URL with the URL's secrecy, and the password is made
    secret whatever the URL was."""
    out = dict(values)
    for url_value in URL_VALUES:
        url = values.get(url_value)
        for part, name in zip(URL_PARTS, part_names(url_value), strict=True):
            if wanted is not None and name not in wanted:
                continue
            if url is None:
                out[name] = None
                continue
            value = pulumi.Output.from_input(url).apply(lambda u, p=part: url_parts(u)[p])
            out[name] = pulumi.Output.secret(value) if part in SECRET_PARTS else value
    return out


def app_env(
    *,
    plain: Mapping[str, str],
    values: Mapping[str, pulumi.Input[str] | None],
    aliases: Mapping[str, str] = {},
    secrets: Mapping[str, pulumi.Input[str]],
    web_workers: int,
    port: int | None = None,
) -> pulumi.Output[list[str]]:
    """`KEY=value` lines for a container, secret as a whole because URLs and secrets are.

    `values` maps each STACK_VALUES name to its Output (None where the stack has none, e.g.
    no Valkey); the URL parts are derived here. Sorted so an unchanged config renders the
    same list and replaces nothing. gunicorn reads WEB_CONCURRENCY as its worker count; PORT
    is `port` (app.port) when given.
    """
    names_values = {**DEFAULT_NAMES, **aliases}
    # Only the parts some name receives: each is an Output of its own, on every recording.
    values = with_url_parts(values, wanted=set(names_values.values()))
    env: dict[str, pulumi.Input[str]] = dict(plain)
    env.update(secrets)
    for name, value_name in names_values.items():
        if values.get(value_name) is not None:
            env[name] = values[value_name]
    env["WEB_CONCURRENCY"] = str(web_workers)
    if port is not None:
        env[PORT_NAME] = str(port)
    names = sorted(env)
    return pulumi.Output.secret(
        pulumi.Output.all(*[env[n] for n in names]).apply(
            lambda vals: [f"{n}={v}" for n, v in zip(names, vals, strict=True)]
        )
    )
