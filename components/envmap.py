"""The environment every app process sees: a pure function, no resources.

Plain values come from `app.env`; everything the stack provides (connection URLs,
generated secrets) is added here, so config validation can refuse a plain entry that
would shadow one of them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

# Names the stack sets itself; a plain `app.env` entry may not override them.
PROVIDED_ENV: tuple[str, ...] = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "CACHE_URL",
    "WEB_CONCURRENCY",
)


def app_env(
    *,
    plain: Mapping[str, str],
    database_url: pulumi.Input[str],
    broker_url: pulumi.Input[str],
    cache_url: pulumi.Input[str],
    secrets: Mapping[str, pulumi.Input[str]],
    web_workers: int,
) -> pulumi.Output[list[str]]:
    """`KEY=value` lines for a container, secret as a whole because URLs and secrets are.

    Sorted so an unchanged config renders the same list and replaces nothing.
    gunicorn reads WEB_CONCURRENCY as its worker count.
    """
    values: dict[str, pulumi.Input[str]] = dict(plain)
    values.update(secrets)
    values["DATABASE_URL"] = database_url
    values["CELERY_BROKER_URL"] = broker_url
    values["REDIS_URL"] = broker_url
    values["CACHE_URL"] = cache_url
    values["WEB_CONCURRENCY"] = str(web_workers)
    names = sorted(values)
    return pulumi.Output.secret(
        pulumi.Output.all(*[values[n] for n in names]).apply(
            lambda vals: [f"{n}={v}" for n, v in zip(names, vals, strict=True)]
        )
    )
