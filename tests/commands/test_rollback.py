"""`make rollback` (tools/rollback.py) against a recorded update history.

data/history-prod.json is what `pulumi stack history --json` prints for prod without
--show-secrets (a secret config value has no `value`): a failed release 1.5.0 on top of
1.4.2, a refresh, and older releases. One test runs the real Automation API
(`stackapi.history`) against a fake `pulumi` CLI printing it; the others fake the boundary
(tools/stackapi.py) in process: history, the current config, setting config, `up`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from testing import harness
from tools import rollback, stackapi

HISTORY = Path(__file__).parent / "data" / "history-prod.json"
FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # pulumi/automation/_stack.py _DATETIME_FORMAT


def summaries(raw: list[dict]) -> list[auto.UpdateSummary]:
    """UpdateSummary objects as Stack.history builds them from the CLI's JSON."""
    from datetime import datetime

    return [
        auto.UpdateSummary(
            kind=e["kind"],
            start_time=datetime.strptime(e["startTime"], FORMAT),
            message=e["message"],
            environment=e["environment"],
            config=e["config"],
            result=e["result"],
            end_time=datetime.strptime(e["endTime"], FORMAT),
            version=e.get("version"),
            resource_changes=e.get("resourceChanges"),
        )
        for e in raw
    ]


def _app(image: str) -> dict:
    app = yaml.safe_load((harness.ROOT / "Pulumi.prod.yaml").read_text())["config"]["webstack:app"]
    return {**app, "image": image}


class FakeStack:
    """The boundary: a stack whose config holds `app` now and whose history is `raw`."""

    def __init__(self, monkeypatch, app: dict, raw: list[dict] | None = None, up_result="succeeded"):
        self.app = json.loads(json.dumps(app))
        self.raw = raw if raw is not None else json.loads(HISTORY.read_text())
        self.calls: list[tuple] = []
        self.up_result = up_result
        monkeypatch.setattr(stackapi, "history", self.history)
        monkeypatch.setattr(stackapi, "release_config", self.release_config)
        monkeypatch.setattr(stackapi, "set_release_config", self.set_release_config)
        monkeypatch.setattr(stackapi, "up", self.up)

    def history(self, stack):
        self.calls.append(("history", stack))
        return summaries(self.raw)

    def release_config(self, stack, paths):
        self.calls.append(("release_config", stack))
        return {p: self.app.get(p.split(".", 1)[1]) for p in paths}

    def set_release_config(self, stack, values):
        self.calls.append(("set", stack, values))
        for path, value in values.items():
            key = path.split(".", 1)[1]
            if value is None:
                self.app.pop(key, None)
            else:
                self.app[key] = value

    def up(self, stack, *, message, on_output):
        self.calls.append(("up", stack, message))
        on_output("Updating (prod):\n")
        on_output("    ~ docker:index/container:Container web updating\n")
        return self.up_result


def _yes(prompt):
    return "prod"


def test_after_a_failed_release_it_goes_back_to_the_last_release_that_deployed(monkeypatch, capsys):
    failed = _app("ghcr.io/example/shop:1.5.0")
    failed["env"] = {**failed["env"], "FEATURE_CART": "on"}
    s = FakeStack(monkeypatch, failed)
    assert rollback.main(["--stack", "prod"], ask=_yes) == 0
    out = capsys.readouterr().out
    assert "release of update 42" in out
    assert 'app.image: "ghcr.io/example/shop:1.5.0"' in out and '-> "ghcr.io/example/shop:1.4.2"' in out
    assert "FEATURE_CART" in out  # env changes too, shown
    ((_, _, values),), up = [c for c in s.calls if c[0] == "set"], [c for c in s.calls if c[0] == "up"]
    assert values == {"webstack:app.image": "ghcr.io/example/shop:1.4.2", "webstack:app.env": _app("x")["env"]}
    assert up == [("up", "prod", "rollback to the release of update 42")]
    assert s.app["image"] == "ghcr.io/example/shop:1.4.2"
    assert "docker:index/container:Container web updating" in out  # progress while it runs
    # Only release keys changed: the rest of app is as it was.
    assert {k: v for k, v in s.app.items() if k not in rollback.RELEASE_KEYS} == {
        k: v for k, v in failed.items() if k not in rollback.RELEASE_KEYS
    }


def test_after_a_good_release_it_goes_back_to_the_one_before(monkeypatch, capsys):
    s = FakeStack(monkeypatch, _app("ghcr.io/example/shop:1.4.2"))
    assert rollback.main(["--stack", "prod", "--yes"]) == 0
    (_, _, values) = next(c for c in s.calls if c[0] == "set")
    # 41 ran 1.4.1 with the current release command (40 had another one): 41 is the newest
    # release that differs from 42's.
    assert values == {"webstack:app.image": "ghcr.io/example/shop:1.4.1"}
    assert "release of update 41" in capsys.readouterr().out


def test_to_picks_an_older_release_with_its_release_settings(monkeypatch, capsys):
    s = FakeStack(monkeypatch, _app("ghcr.io/example/shop:1.4.2"))
    assert rollback.main(["--stack", "prod", "--to", "39"], ask=_yes) == 0
    (_, _, values) = next(c for c in s.calls if c[0] == "set")
    assert values == {
        "webstack:app.image": "ghcr.io/example/shop:1.4.0",
        "webstack:app.releaseCommand": ["python", "manage.py", "migrate", "--noinput", "--skip-checks"],
    }


@pytest.mark.parametrize("version", ["44", "43", "7"])
def test_to_refuses_a_failed_update_a_refresh_and_an_unknown_one(monkeypatch, capsys, version):
    s = FakeStack(monkeypatch, _app("ghcr.io/example/shop:1.4.2"))
    assert rollback.main(["--stack", "prod", "--to", version, "--yes"]) == 2
    err = capsys.readouterr().err
    assert f"update {version} of stack prod is not a successful update" in err
    assert "choose one of: 42, 41, 40, 39" in err
    assert [c[0] for c in s.calls] == ["history", "release_config"]


def test_nothing_changes_without_the_typed_stack_name(monkeypatch, capsys):
    s = FakeStack(monkeypatch, _app("ghcr.io/example/shop:1.4.2"))
    assert rollback.main(["--stack", "prod"], ask=lambda _: "yes") == 1
    assert rollback.main(["--stack", "prod"], ask=lambda _: (_ for _ in ()).throw(EOFError())) == 1
    assert [c[0] for c in s.calls if c[0] in ("set", "up")] == []
    assert "not confirmed" in capsys.readouterr().err


def test_dry_run_and_list_change_nothing(monkeypatch, capsys):
    s = FakeStack(monkeypatch, _app("ghcr.io/example/shop:1.4.2"))
    assert rollback.main(["--stack", "prod", "--dry-run"]) == 0
    assert '-> "ghcr.io/example/shop:1.4.1"' in capsys.readouterr().out
    assert rollback.main(["--stack", "prod", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed[1:]] == ["42", "41", "40", "39"]
    assert "ghcr.io/example/shop:1.4.2" in listed[1]
    assert [c[0] for c in s.calls if c[0] in ("set", "up")] == []


def test_a_failed_up_is_a_failure(monkeypatch, capsys):
    FakeStack(monkeypatch, _app("ghcr.io/example/shop:1.4.2"), up_result="failed")
    assert rollback.main(["--stack", "prod", "--yes"]) == 1
    assert "pulumi up: failed" in capsys.readouterr().out


def test_an_app_recorded_as_a_secret_is_refused_and_never_read(monkeypatch, capsys):
    raw = json.loads(HISTORY.read_text())
    for e in raw:
        e["config"]["webstack:app"] = {"secret": True}  # as the CLI prints it without --show-secrets
    s = FakeStack(monkeypatch, _app("ghcr.io/example/shop:1.4.2"), raw=raw)
    assert rollback.main(["--stack", "prod", "--yes"]) == 2
    assert "recorded webstack:app as a secret" in capsys.readouterr().err
    assert [c[0] for c in s.calls if c[0] in ("set", "up")] == []


def test_secret_keys_are_never_release_keys():
    assert not {"secretEnv", "registry", "generatedSecrets"} & set(rollback.RELEASE_KEYS)


def test_the_boundary_reads_history_without_secrets_through_the_automation_api(tmp_path, monkeypatch):
    """stackapi.history with the real Automation API against a fake CLI printing the recording."""
    log = tmp_path / "calls"
    fake = tmp_path / "pulumi"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        '[ "$1" = version ] && { echo v3.272.0; exit 0; }\n'
        'case "$*" in *"stack history"*) exec cat ' + str(HISTORY) + " ;; esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    found = stackapi.history("prod")
    assert [s.version for s in found] == [44, 43, 42, 41, 40, 39]
    assert found[2].config["webstack:app"].value.startswith('{"image":"ghcr.io/example/shop:1.4.2"')
    assert found[0].config["webstack:secretEnv"].value == "[secret]"
    calls = log.read_text()
    assert "stack history --json" in calls and "--show-secrets" not in calls
    assert [r.version for r in rollback.releases(found, "prod")] == [42, 41, 40, 39]


def test_the_boundary_sets_release_config_as_plain_path_leaves_through_the_automation_api(tmp_path, monkeypatch):
    """stackapi.release_config / set_release_config with the real Automation API against a fake
    CLI: each key is read with `config get --path`, removed, then set leaf by leaf as plaintext."""
    log = tmp_path / "calls"
    fake = tmp_path / "pulumi"
    fake.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$*\" >> {log}\n"
        '[ "$1" = version ] && { echo v3.272.0; exit 0; }\n'
        'case "$*" in\n'
        '  *"get --path webstack:app.image"*) echo \'{"value": "ghcr.io/example/shop:1.5.0", "secret": false}\' ;;\n'
        '  *"get --path webstack:app.releaseCommand"*) echo \'{"value": "[\\"migrate\\"]", "secret": false}\' ;;\n'
        '  *"config get"*) echo "error: configuration key not found" >&2; exit 255 ;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    found = stackapi.release_config("prod", ["webstack:app.image", "webstack:app.releaseCommand", "webstack:app.jobs"])
    assert found == {
        "webstack:app.image": "ghcr.io/example/shop:1.5.0",
        "webstack:app.releaseCommand": ["migrate"],
        "webstack:app.jobs": None,
    }
    log.write_text("")
    stackapi.set_release_config(
        "prod",
        {
            "webstack:app.image": "ghcr.io/example/shop:1.4.2",
            "webstack:app.releaseCommand": ["python", "migrate.py"],
            "webstack:app.env": {"WEB_CONCURRENCY": "4", "DEBUG": "false", "LOG_LEVEL": "warning"},
        },
    )
    calls = [line for line in log.read_text().splitlines() if "config" in line]
    set_all = "--non-interactive config set-all --stack prod --path"
    as_string = "--path --plaintext --type string --stack prod"
    assert calls == [
        "--non-interactive config rm webstack:app.image --stack prod --path",
        f"{set_all} --plaintext webstack:app.image=ghcr.io/example/shop:1.4.2",
        "--non-interactive config rm webstack:app.releaseCommand --stack prod --path",
        f"{set_all} --plaintext webstack:app.releaseCommand[0]=python"
        " --plaintext webstack:app.releaseCommand[1]=migrate.py",
        "--non-interactive config rm webstack:app.env --stack prod --path",
        f"{set_all} --plaintext webstack:app.env.LOG_LEVEL=warning",
        # Strings the CLI would store as a number or a boolean under --path keep their type.
        f"--non-interactive config set webstack:app.env.WEB_CONCURRENCY {as_string} -- 4",
        f"--non-interactive config set webstack:app.env.DEBUG {as_string} -- false",
    ]
    assert "--secret" not in log.read_text()
