"""Release promises: a one-shot that fails stops what depends on it, and data kept
in containers (container mode) is as undeletable in prod as a managed cluster.

The harness answers every container with exit code 0; here one is made to fail, as a failed
`manage.py migrate` does, and the program must stop the release instead of starting the new
web on an unmigrated schema."""

from __future__ import annotations

import shlex
import time
from urllib.parse import urlsplit

import pulumi
import pytest

from components.cloud import database
from components.droplets.containers import stop_script
from components.droplets.dockerhost import redact
from testing import harness
from tests.conftest import recorded, recorded_with

CONTAINER = "docker:index/container:Container"
COMMAND = "command:remote:Command"


def _started_when_failing(monkeypatch, stack: str, name: str, code: int, message: str, output=None):
    """Run `stack` with the container called `name` exiting `code` after printing `output` (by
    default `_output`): the run must fail with `message`; returns the containers that were
    started before it stopped, the error, and the failed container."""
    answer = harness._FAKES[CONTAINER]

    def fake(self, key, inputs):
        rid, outputs = answer(self, key, inputs)
        if inputs.get("name") != name:
            return rid, outputs
        # The provider keeps the output only with `attach` and `logs` (kreuzwerker's create).
        kept = inputs.get("attach") and inputs.get("logs")
        plain = harness._unwrap(inputs, "", [])
        printed = _output(plain) if output is None else output
        return rid, {**outputs, "exitCode": code, **({"containerLogs": printed} if kept else {})}

    monkeypatch.setitem(harness._FAKES, CONTAINER, fake)
    with pytest.raises(pulumi.RunError) as info:
        harness.run(stack)
    error = str(info.value)
    assert error.startswith(f"{message} exited with code {code}; nothing that depends on it was started")
    containers = [r for r in info.value.recorded if r.type == CONTAINER]
    failed = next(r for r in containers if r.inputs.get("name") == name)
    return {r.name.removeprefix(f"webstack-{stack}-") for r in containers}, error, failed


def _env_values(inputs: dict) -> list[str]:
    """Its env values, and the password of the admin step's credentials file (an upload)."""
    values = [item.partition("=")[2] for item in inputs.get("envs") or []]
    for upload in inputs.get("uploads") or []:
        if upload["file"] == database.ADMIN_FILE:
            (line,) = [line for line in upload["content"].splitlines() if line.startswith("PGPASSWORD=")]
            values += shlex.split(line.partition("=")[2])
    return values


def _output(inputs: dict) -> str:
    """What a failing one-shot prints: more lines than the error shows, the last ones naming
    each of its env values, and the password alone of each URL among them."""
    values = _env_values(inputs)
    passwords = [urlsplit(v).password for v in values if "://" in v]
    leaks = [f"using {v}" for v in values] + [f"password {p}" for p in passwords if p]
    return "\n".join([f"step {i}" for i in range(30)] + leaks + ["FAILED"]) + "\n"


@pytest.mark.parametrize(
    ("stack", "name", "code", "what"),
    [
        ("staging", "migrate", 3, "the release command"),
        ("prod", "probe", 1, "the web health probe"),
        ("staging", "pg-grant", 2, "the database admin step (extensions, schema grant)"),
    ],
)
def test_a_failed_one_shot_shows_its_last_lines_with_its_secrets_blanked(monkeypatch, stack, name, code, what):
    """`pulumi up` says why a release stopped: the one-shot's last 20 lines of output, with its
    env values (8 characters or more: passwords, keys, URLs) and the passwords in its URLs
    blanked, and where to read the rest. Its full output stays in the state, as a secret."""
    urns = {r.name: r.urn for r in recorded(stack).resources}  # before the one-shot is made to fail
    _, error, failed = _started_when_failing(monkeypatch, stack, name, code, what)
    assert "containerLogs" in failed.additional_secret_outputs
    printed = _output(failed.inputs).splitlines()[-20:]
    head, *shown, tail = error.splitlines()
    assert head.endswith("started. Its last 20 lines of output (env values redacted):")
    assert len(shown) == 20 and all(line.startswith("    ") for line in shown)
    for line, original in zip(shown, printed, strict=True):
        assert line[4:] == original or "[secret]" in line, (line, original)
    assert shown[-1] == "    FAILED" and "step 9\n" not in error
    values = _env_values(failed.inputs)
    secrets = [v for v in values if len(v) >= 8] + [urlsplit(v).password for v in values if "://" in v]
    assert [s for s in secrets if s and s in error] == []
    assert ("[secret]" in error) == bool(secrets)
    assert secrets or name == "probe", "a one-shot with secrets, or this proves nothing"
    # The probe runs again only with a new web (the failed one is stopped): a new release id.
    if name == "probe":
        rerun = f"--replace '{urns[failed.name.replace('-probe', '-web-release')]}'"
    else:
        rerun = f"--target-replace '{failed.urn}'"
    assert tail == f"Read all of it with `docker logs {name}` on its droplet, fix, then `pulumi up {rerun}`."


def test_a_failed_migration_starts_no_process_of_the_release(monkeypatch):
    started, *_ = _started_when_failing(monkeypatch, "staging", "migrate", 3, "the release command")
    assert "app-0-migrate" in started
    assert not {"app-0-web", "app-0-worker", "app-0-beat", "app-0-proxy"} & started


def test_a_web_failing_its_health_probe_stops_the_rollout_to_the_next_droplet(monkeypatch):
    started, *_ = _started_when_failing(monkeypatch, "prod", "probe", 1, "the web health probe")
    assert {"app-0-web", "app-0-probe"} <= started
    assert not {"app-1-web", "app-1-proxy"} & started


@pytest.mark.parametrize("overrides", [{}, {"app.processes": {}}], ids=["processes", "web-only"])
def test_a_web_failing_its_probe_is_stopped_and_its_release_goes_no_further(monkeypatch, overrides):
    """The new web never joined the alias nginx proxies to; the promotion stops it, so the
    previous web serves alone, and only then does the update fail, on the probe's message.
    A step on a droplet takes seconds, here half of one: a program that read the probe's
    failure before the promotion was done would end before the stop is sent (without the
    delay the mocks answer fast enough to hide that). Without background processes, nothing but
    the probe's verdict holds the rest back."""
    container, remote = harness._FAKES[CONTAINER], harness._FAKES[COMMAND]

    def probe_fails(self, key, inputs):
        rid, outputs = container(self, key, inputs)
        return rid, ({**outputs, "exitCode": 1} if inputs.get("name") == "probe" else outputs)

    def takes_time(self, key, inputs):
        if key[-1].endswith("-web-promote"):
            time.sleep(0.5)
        return remote(self, key, inputs)

    monkeypatch.setitem(harness._FAKES, CONTAINER, probe_fails)
    monkeypatch.setitem(harness._FAKES, COMMAND, takes_time)
    with pytest.raises(pulumi.RunError) as info:
        harness.run("prod", overrides)
    assert str(info.value).startswith("the web health probe exited with code 1; nothing that depends on it was started")
    done = {r.name.removeprefix("webstack-prod-"): r for r in info.value.recorded}
    web, promote, live = done["app-0-web"], done["app-0-web-promote"], done["app-0-live"]
    stop = stop_script(web=web.inputs["name"], network=live.inputs["name"], grace=web.inputs["stopTimeout"])
    assert promote.inputs["create"] == f"sh -c {shlex.quote(stop)}"
    assert web.inputs["name"] not in promote.inputs["create"].split("connect")[-1], "it never joins the alias"
    later = {"app-0-worker", "app-0-beat", "app-0-image-prune", "jobs-runner", "app-1-web"}
    assert not later & set(done)


def test_a_failed_admin_step_starts_nothing_that_uses_the_database(monkeypatch):
    started, *_ = _started_when_failing(
        monkeypatch, "staging", "pg-grant", 2, "the database admin step (extensions, schema grant)"
    )
    # The new nginx conf's check uses no database: it may run meanwhile.
    assert started - {"app-0-proxy-check"} == {"db-grant"}


def test_container_mode_data_volumes_are_protected_and_retained_in_prod():
    data = {"app.replicas": 1, "database.mode": "container", "valkey.mode": "container", "logs.enabled": False}
    prod = recorded_with("prod", {**data, "app.dropletSize": "s-4vcpu-8gb"})
    volumes = {v.name: v for v in prod.of_type("docker:index/volume:Volume")}
    assert set(volumes) == {"webstack-prod-db-data", "webstack-prod-valkey-data"}
    assert all(v.protect and v.retain_on_delete for v in volumes.values())
    # ... and each is the one its data service mounts.
    mounts = {m.get("volumeName") for c in prod.of_type(CONTAINER) for m in c.inputs.get("volumes") or []}
    assert set(volumes) <= mounts
    dev = recorded_with("dev", {})
    assert [(v.protect, v.retain_on_delete) for v in dev.of_type("docker:index/volume:Volume")] == [(False, False)] * 2


def test_redaction_blanks_each_long_env_value_and_the_password_of_each_url_in_both_spellings():
    env = ["DATABASE_URL=postgresql://app:s%40cret-pass@db:5432/app", "DEBUG=0", "MODE=production", "ODD=http://[x"]
    printed = "postgresql://app:s%40cret-pass@db:5432/app s@cret-pass s%40cret-pass DEBUG=0 production http://[x"
    assert redact(printed, env) == "[secret] [secret] [secret] DEBUG=0 [secret] [secret]"
    # 8 characters or more: shorter values are ordinary words too often.
    assert redact("1234567 12345678", ["A=1234567", "B=12345678"]) == "1234567 [secret]"


def test_the_tail_is_redacted_before_it_is_cut_and_read_as_text():
    """A multi-line secret (a PEM key) that starts above the last 20 lines shows none of its
    lines; Docker's stream headers (kept raw by older providers) and control characters go;
    a very long line is cut."""
    from components.droplets.dockerhost import output_tail

    pem = "-----BEGIN KEY-----\n" + "\n".join(f"c2VjcmV0{i:02d}bGluZQ" for i in range(25)) + "\n-----END KEY-----"
    env = [f"SIGNING_KEY={pem}"]
    assert output_tail("boot\n" + pem + "\nFAILED\n", env) == ["boot", "[secret]", "FAILED"]
    part = "\n".join(pem.splitlines()[5:])  # the app printed only the end of it
    assert output_tail(part + "\nFAILED\n", env) == ["[secret]"] * 19 + ["FAILED"]
    framed = "\x01\x00\x00\x00\x00\x00\x00\x05step\n\x02\x00\x00\x00\x00\x00\x00\x07\x1b[31mFAILED\n"
    assert output_tail(framed, []) == ["step", "[31mFAILED"]
    assert output_tail("x" * 2000 + "\n", []) == ["x" * 500]
    assert output_tail("", []) == []


def test_a_one_shot_that_printed_nothing_says_where_to_look(monkeypatch):
    _, error, failed = _started_when_failing(monkeypatch, "staging", "migrate", 3, "the release command", "")
    assert "Its last" not in error
    assert error.endswith(f"`pulumi up --target-replace '{failed.urn}'`.")


def test_waiting_on_a_one_shot_does_not_make_what_waits_secret():
    """The gate's value is always empty text; it must not turn the release label of every web
    (and the web's release id) into a secret that hides it from `pulumi preview`."""
    run = recorded("prod")
    web = next(c for c in run.of_type(CONTAINER) if c.name.endswith("-app-0-web"))
    labels = {label["label"]: (i, label["value"]) for i, label in enumerate(web.inputs["labels"])}
    index, release = labels["webstack.release"]
    assert release and f"labels[{index}].value" not in web.secret_paths
