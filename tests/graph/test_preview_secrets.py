"""Principle 1 in preview mode: the plaintext-secret search there can fail.

The stack files hold no `secure:` value, so a preview of them holds no secret value at all and
a search of it finds nothing whatever the code does. Config secrets are known in preview,
though: with a registry token, a Slack webhook and the user's own secrets set, a preview
carries real (fake) secret values, and the search proves they stay secret there too.
"""

from __future__ import annotations

import json

import pytest

from testing import harness
from tests.conftest import STACKS, recorded_with
from tests.graph.test_secrets import plain_leaks

CONFIG_SECRETS = {
    "app.image": "ghcr.io/example/shop:1.4.2",
    "app.registry": {"kind": "token", "server": "ghcr.io", "username": "ci-bot", "password": {"secure": "v1:CCCC"}},
    "app.secretEnv": {"STRIPE_SECRET_KEY": {"secure": "v1:AAAA"}},
    "monitoring.enabled": True,
}
SLACK = {"slackWebhookUrl": f"https://hooks.slack.com/services/{harness.fake_secret('config', 'slack')}"}


@pytest.mark.parametrize("stack", STACKS)
def test_config_secrets_stay_secret_in_preview(stack):
    run = recorded_with(stack, CONFIG_SECRETS, preview=True, secrets=SLACK)
    # Not vacuous: the secret values are in this recording, for the search to find if plain.
    carriers = {r.type for r in run.resources if harness.SECRET_MARK in json.dumps(r.inputs)}
    assert {"pulumi:providers:docker", "digitalocean:index/uptimeAlert:UptimeAlert"} <= carriers
    assert plain_leaks(run) == []
    for name, export in run.exports.items():
        assert export.secret or harness.SECRET_MARK not in json.dumps(export.value), name
