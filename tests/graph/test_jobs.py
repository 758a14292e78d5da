"""Scheduled jobs: one runner on the first droplet, each job a container of the app image with the
app's env as a secret, started through a socket proxy; exit codes logged, failures alerted; the
script runs under a real shell."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.config.process import cron_problem
from components.render import cron
from testing import harness
from tests.conftest import recorded, recorded_with
from tests.graph.test_secrets import plain_leaks

CONTAINER = "docker:index/container:Container"
JOBS = {
    "cleanup": {
        "schedule": "30 3 * * *",
        "command": ["python", "manage.py", "cleanup", "--older-than=7d"],
        "memoryMb": 64,
    },
    "reminders": {"schedule": "*/15 8-18 * * 1-5", "command": ["node", "jobs/remind.js", "it's due"], "memoryMb": 48},
}


def _run(stack: str, preview: bool = False) -> harness.Run:
    overrides = {"app.jobs": JOBS}
    if stack != "prod":
        overrides["app.dropletSize"] = "s-2vcpu-4gb"
    return recorded_with(stack, overrides, preview, secrets={"slackWebhookUrl": harness.fake_secret("slack")})


def _runner(run):
    found = [c for c in run.of_type(CONTAINER) if c.inputs["name"] == "jobs"]
    assert len(found) == 1, "exactly one job runner"
    return found[0]


def _container(run, name):
    (found,) = [c for c in run.of_type(CONTAINER) if c.inputs["name"] == name]
    return found


def _upload(container, path):
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_one_runner_on_the_first_droplet_its_jobs_after_the_release(stack):
    run = _run(stack)
    runner = _runner(run)
    host0 = run.named(f"webstack-{stack}-host-0-docker")
    assert runner.provider_urn == host0.urn
    migrate = run.named(f"webstack-{stack}-app-0-migrate")
    for job in JOBS:
        container = _container(run, f"job-{job}")
        assert container.provider_urn == host0.urn
        assert migrate.urn in run.upstream(container.urn), "jobs run against the migrated schema"
    assert runner.inputs["restart"] == "unless-stopped" and runner.delete_before_replace
    assert runner.inputs["init"] is True, "crond as PID 1 ignores SIGTERM"


def test_each_job_is_a_container_of_the_app_image_created_but_never_started_by_the_program():
    run = _run("prod")
    app_image = run.named("webstack-prod-app-0-image")
    network = run.named("webstack-prod-host-0-net")
    (web,) = [c for c in run.of_type(CONTAINER) if c.name == "webstack-prod-app-0-web"]
    cleanup, reminders = _container(run, "job-cleanup"), _container(run, "job-reminders")
    for job, spec in (("cleanup", cleanup), ("reminders", reminders)):
        inputs = spec.inputs
        assert inputs["image"] == app_image.outputs["imageId"]
        assert inputs["command"] == JOBS[job]["command"], "arguments travel as a list, intact"
        assert inputs["memory"] == JOBS[job]["memoryMb"]
        assert inputs["start"] is False and inputs["mustRun"] is False and inputs["restart"] == "no"
        assert inputs["networksAdvanced"] == [{"name": network.inputs["name"]}]
        assert inputs["envs"] == web.inputs["envs"], "the app's env"
        assert "envs" in spec.secret_paths
        assert inputs["init"] is True
        assert inputs["capabilities"] == web.inputs["capabilities"], "hardened like the app's containers"
    crontab = _upload(_runner(run), cron.CRONTAB)["content"]
    assert "30 3 * * * /usr/local/bin/webstack-job cleanup" in crontab
    assert "*/15 8-18 * * 1-5 /usr/local/bin/webstack-job reminders" in crontab


def test_the_runner_holds_no_socket_no_secret_and_reaches_only_its_proxy():
    run = _run("prod")
    runner, proxy = _runner(run), _container(run, "jobs-docker")
    assert not runner.has_secret_input()
    assert "DOCKER_HOST=tcp://jobs-docker:2375" in runner.inputs["envs"]
    assert not [v for v in runner.inputs.get("volumes") or [] if "hostPath" in v], "no host path, no socket"
    (net,) = runner.inputs["networksAdvanced"]
    assert proxy.inputs["networksAdvanced"] == [net]
    network = next(n for n in run.of_type("docker:index/network:Network") if n.inputs["name"] == net["name"])
    assert network.inputs["internal"] is True, "a network that leads nowhere else"
    assert [u["file"] for u in runner.inputs["uploads"]] == [cron.CRONTAB, cron.SCRIPT]
    assert "-allowfrom=jobs" in proxy.inputs["command"]
    assert proxy.inputs["volumes"] == [
        {"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock", "readOnly": True}
    ]
    allowed = " ".join(a for a in proxy.inputs["command"] if a.startswith("-allowGET"))
    assert "(job-cleanup|job-reminders|jobs-alert)" in allowed, "only its own containers, by name"


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_the_alert_url_lives_only_in_the_alert_containers_secret_env(preview):
    run = _run("prod", preview)
    alert = _container(run, cron.ALERT_CONTAINER)
    assert "envs" in alert.secret_paths
    assert alert.inputs["start"] is False and alert.inputs["readOnly"] is True and alert.inputs["user"] == "curl_user"
    assert alert.inputs["command"] == [cron.ALERT_COMMAND] and "$WEBHOOK" in cron.ALERT_COMMAND
    (messages,) = alert.inputs["volumes"]
    assert messages["containerPath"] == cron.ALERT_DIR and messages["readOnly"] is True
    runner = _runner(run)
    assert [v["volumeName"] for v in runner.inputs["volumes"]] == [messages["volumeName"]]
    if not preview:
        assert alert.inputs["envs"] == [f"WEBHOOK={harness.fake_secret('slack')}"]
    assert plain_leaks(run) == []


def test_without_an_alert_url_no_alert_container():
    run = recorded("prod")  # its stack file has a job and, in these recordings, no webhook
    assert run.cfg.app.jobs and run.cfg.slack_webhook_url is None
    assert not [c for c in run.of_type(CONTAINER) if c.inputs["name"] == cron.ALERT_CONTAINER]
    assert "jobs-alert" not in " ".join(_container(run, "jobs-docker").inputs["command"])


def test_no_jobs_no_runner():
    run = recorded("staging")
    assert not [c for c in run.of_type(CONTAINER) if c.inputs["name"] == "jobs"]


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ("30 3 * * *", True),
        ("*/15 8-18 * * 1-5", True),
        ("0 0 1,15 * 0", True),
        ("0 0 * * 7", True),
        ("@daily", False),
        ("61 * * * *", False),
        ("* * * *", False),
        ("0 0 * * mon", False),
        ("0 0 L * *", False),
        ("*/0 * * * *", False),
        ("0 5-2 * * *", False),
        ("0 5-5 * * *", True),
        ("0 0 0 * *", False),
    ],
)
def test_only_schedules_busybox_crond_runs_are_accepted(schedule, ok):
    assert (cron_problem(schedule) is None) is ok


def test_a_bad_job_names_its_key():
    from tests.unit.test_config import _reject

    message = str(_reject("staging", {"app.jobs": {"cleanup": {"schedule": "@daily", "command": ["x"]}}}))
    assert "webstack:app.jobs.cleanup.schedule" in message and "five fields" in message


def test_the_largest_job_counts_in_the_first_droplets_memory():
    from tests.unit.test_config import _reject

    message = str(
        _reject("staging", {"app.jobs": {"big": {"schedule": "0 * * * *", "command": ["x"], "memoryMb": 900}}})
    )
    assert "jobs runner 48 + jobs API proxy 16 + largest job 900" in message


# --------------------------------------------------------------------------- the script, run


@pytest.fixture
def script_env(tmp_path: Path):
    """The rendered script with its alert directory under tmp_path, and a fake `docker` on PATH
    that logs its arguments, says a job named `busy` still runs, and fails `broken` with exit 3
    and the alert with exit 6 when ALERT_FAILS is set."""
    shell = shutil.which("busybox") or shutil.which("sh")
    jobs = tuple(
        cron.JobSpec(name=n, schedule="0 * * * *", command=("x",), memory_mb=64) for n in ("cleanup", "broken", "busy")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$*" in\n'
        '  "container inspect"*job-busy) echo true ;;\n'
        '  "container inspect"*) echo false ;;\n'
        '  "start --attach job-broken") echo "it broke"; exit 3 ;;\n'
        f'  "start --attach jobs-alert") cat {tmp_path}/alert/message.json >> {log}; echo >> {log};'
        ' [ -n "$ALERT_FAILS" ] && exit 6 ;;\n'
        "esac\n"
        "exit 0\n"
    )
    (bin_dir / "docker").chmod(0o755)
    (tmp_path / "alert").mkdir()

    def run_job(name: str, alert: bool = True, alert_fails: bool = False):
        text = cron.render_job_script(jobs, stack="prod", alert=alert).replace(cron.ALERT_DIR, str(tmp_path / "alert"))
        (tmp_path / "job").write_text(text)
        log.write_text("")
        argv = (
            [shell, "sh", str(tmp_path / "job"), name]
            if shell.endswith("busybox")
            else [shell, str(tmp_path / "job"), name]
        )
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "ALERT_FAILS": "1" if alert_fails else ""}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, env=env)
        return done, log.read_text().splitlines()

    return run_job


def test_the_script_passes_a_posix_shell_syntax_check(tmp_path):
    jobs = (cron.JobSpec(name="a-b", schedule="0 * * * *", command=("x",), memory_mb=64),)
    for alert in (True, False):
        path = tmp_path / f"job-{alert}"
        path.write_text(cron.render_job_script(jobs, stack="prod", alert=alert))
        for shell in filter(None, (shutil.which("sh"), shutil.which("dash"))):
            assert subprocess.run([shell, "-n", str(path)], capture_output=True).returncode == 0


def test_a_job_starts_its_container_and_logs_exit_0(script_env):
    done, calls = script_env("cleanup")
    assert done.returncode == 0, done.stderr
    assert "webstack job cleanup: exit 0 after" in done.stdout
    assert calls == ["container inspect -f {{.State.Running}} job-cleanup", "start --attach job-cleanup"]


def test_a_failed_job_keeps_its_exit_code_and_alerts_with_stack_job_and_code(script_env):
    done, calls = script_env("broken")
    assert done.returncode == 3
    assert "it broke" in done.stdout and "webstack job broken: exit 3 after" in done.stdout
    assert calls[1:] == [
        "start --attach job-broken",
        "start --attach jobs-alert",
        '{"text": "webstack job prod/broken failed with exit 3"}',
    ]


def test_a_run_due_while_the_previous_one_runs_is_skipped_and_alerts(script_env):
    done, calls = script_env("busy")
    assert done.returncode == cron.SKIPPED
    assert "still running; this run is skipped" in done.stderr
    assert "start --attach job-busy" not in calls, "never attached to the running one"
    assert '{"text": "webstack job prod/busy failed with exit 125"}' in calls


def test_an_alert_that_cannot_be_sent_is_logged_and_the_job_code_kept(script_env):
    done, _ = script_env("broken", alert_fails=True)
    assert done.returncode == 3 and "the failure alert could not be sent" in done.stderr


def test_without_an_alert_url_a_failure_is_logged_only(script_env):
    done, calls = script_env("broken", alert=False)
    assert done.returncode == 3 and calls[-1] == "start --attach job-broken"


def test_an_unknown_job_is_refused(script_env):
    done, calls = script_env("nope")
    assert done.returncode == 2 and "unknown job 'nope'" in done.stderr and calls == []


def test_env_values_must_be_single_lines_for_the_env_file():
    from tests.unit.test_config import _reject

    jobs = {"app.jobs": {"nightly": {"schedule": "0 3 * * *", "command": ["x"], "memoryMb": 64}}}
    message = str(_reject("staging", {**jobs, "app.env": {"GREETING": "hello\nworld"}}))
    assert "webstack:app.env.GREETING" in message and "single line" in message
    message = str(_reject("staging", {**jobs, "app.env": {"MOTD": "a\rb"}}))  # a carriage return alone too
    assert "webstack:app.env.MOTD = 'a\\rb': must be a single line" in message
    # A decrypted multi-line secret is refused without being printed.
    from components.config import ConfigError, parse

    values = harness.stack_config("staging", {**jobs, "app.secretEnv": {"PEM": "-----BEGIN-----\nabc\n-----END-----"}})
    raw, _ = harness.cli_values(values)
    with pytest.raises(ConfigError) as info:
        parse(raw, "staging", secret_keys=frozenset({"app"}))
    assert "webstack:app.secretEnv.PEM = '[secret]'" in str(info.value) and "abc" not in str(info.value)


def test_make_logs_finds_the_runner_on_the_first_droplet():
    from tools import ops

    run = _run("prod")
    outputs = {k: e.value for k, e in run.exports.items()}
    stack = ops.parse_outputs("prod", outputs, ("droplet_ips", "processes", "release_command"))
    assert len(stack.droplets) == 2
    (command,) = ops.plan_logs(stack, "jobs")
    assert command.droplet == stack.droplets[0] and "jobs" in command.script
