"""Scheduled jobs (issue 14): one runner on the first droplet, jobs from the app image with the
app's env as a secret, exit codes logged, failures alerted; the script runs under a real shell."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from components import cron
from components.config.process import cron_problem
from tests.conftest import recorded, recorded_with
from tests.test_secrets import plain_leaks
from tools import harness

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


def _upload(container, path):
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_one_runner_on_the_first_droplet_after_the_release(stack):
    run = _run(stack)
    runner = _runner(run)
    host0 = run.named(f"webstack-{stack}-host-0-docker")
    assert runner.provider_urn == host0.urn
    migrate = run.named(f"webstack-{stack}-app-0-migrate")
    assert migrate.urn in run.upstream(runner.urn), "jobs run against the migrated schema"
    assert runner.inputs["restart"] == "unless-stopped" and runner.delete_before_replace
    assert runner.inputs["init"] is True, "crond as PID 1 ignores SIGTERM"


def test_jobs_run_from_the_app_image_on_the_droplet_network_with_the_app_env():
    run = _run("prod")
    runner = _runner(run)
    script = _upload(runner, cron.SCRIPT)
    assert script["executable"] is True
    app_image = run.named("webstack-prod-app-0-image")
    network = run.named("webstack-prod-host-0-net")
    assert f" {app_image.outputs['imageId']} " in script["content"]
    assert f"--network {network.inputs['name']}" in script["content"]
    assert "python manage.py cleanup --older-than=7d" in script["content"]
    assert shlex.quote("it's due") in script["content"]
    crontab = _upload(runner, cron.CRONTAB)["content"]
    assert "30 3 * * * /usr/local/bin/webstack-job cleanup" in crontab
    assert "*/15 8-18 * * 1-5 /usr/local/bin/webstack-job reminders" in crontab
    # The env file is the app's env (the web container's), as a secret.
    (web,) = [c for c in run.of_type(CONTAINER) if c.name == "webstack-prod-app-0-web"]
    assert _upload(runner, cron.ENV_FILE)["content"] == "\n".join(web.inputs["envs"]) + "\n"


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_the_env_file_and_alert_url_are_secret(preview):
    run = _run("prod", preview)
    runner = _runner(run)
    index = {u["file"]: i for i, u in enumerate(runner.inputs["uploads"])}
    for path in (cron.ENV_FILE, cron.ALERT_URL_FILE):
        assert f"uploads[{index[path]}].content" in runner.secret_paths or "uploads" in runner.secret_paths, path
    assert plain_leaks(run) == []


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
    from tests.test_config import _reject

    message = str(_reject("staging", {"app.jobs": {"cleanup": {"schedule": "@daily", "command": ["x"]}}}))
    assert "webstack:app.jobs.cleanup.schedule" in message and "five fields" in message


def test_the_largest_job_counts_in_the_first_droplets_memory():
    from tests.test_config import _reject

    message = str(
        _reject("staging", {"app.jobs": {"big": {"schedule": "0 * * * *", "command": ["x"], "memoryMb": 900}}})
    )
    assert "jobs runner 64 + largest job 900" in message


# --------------------------------------------------------------------------- the script, run


@pytest.fixture
def script_env(tmp_path: Path):
    """The rendered script with its files under tmp_path, and a fake `docker` on PATH that logs
    its arguments and fails a job named `broken` with exit 3."""
    shell = shutil.which("busybox") or shutil.which("sh")
    jobs = tuple(
        cron.JobSpec(name=n, schedule="0 * * * *", command=c, memory_mb=64)
        for n, c in (("cleanup", ("python", "manage.py", "cleanup", "it's")), ("broken", ("false",)))
    )
    text = cron.render_job_script(
        jobs, image="sha256:" + "a" * 64, network="webstack-123", stack="prod", alert_image="curlimages/curl:8.11.1"
    )
    env_file, alert = tmp_path / "app.env", tmp_path / "alert-url"
    env_file.write_text("SECRET_KEY=s3cret\n")
    text = text.replace(cron.ENV_FILE, str(env_file)).replace(cron.ALERT_URL_FILE, str(alert))
    (tmp_path / "job").write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a"; done >> {log}\n'
        f'echo "--- WEBHOOK=${{WEBHOOK:-}}" >> {log}\n'
        'case " $* " in *" --name job-broken "*) exit 3 ;; esac\n'
        "exit 0\n"
    )
    (bin_dir / "docker").chmod(0o755)

    def run_job(name: str, with_alert: bool = True) -> tuple[subprocess.CompletedProcess[str], str]:
        if with_alert:
            alert.write_text("https://hooks.slack.com/services/T000/B000/XXXX")
        elif alert.exists():
            alert.unlink()
        log.write_text("")
        argv = (
            [shell, "sh", str(tmp_path / "job"), name]
            if shell.endswith("busybox")
            else [shell, str(tmp_path / "job"), name]
        )
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, env=env)
        return done, log.read_text()

    return run_job


def test_a_job_runs_once_with_its_arguments_intact_and_logs_exit_0(script_env):
    done, calls = script_env("cleanup")
    assert done.returncode == 0, done.stderr
    assert "webstack job cleanup: exit 0 after" in done.stdout
    args = calls.split("--- WEBHOOK=")[0].splitlines()
    assert args[:5] == ["run", "--rm", "--init", "--name", "job-cleanup"]
    assert args[-5:] == ["sha256:" + "a" * 64, "python", "manage.py", "cleanup", "it's"]
    assert calls.count("--- WEBHOOK=") == 1, "no alert after a success"


def test_a_failed_job_keeps_its_exit_code_and_alerts_without_the_url_on_a_command_line(script_env):
    done, calls = script_env("broken")
    assert done.returncode == 3
    assert "webstack job broken: exit 3 after" in done.stdout
    runs = calls.split("--- WEBHOOK=")
    assert len(runs) == 3, "the job, then one alert"
    alert_args, alert_env = runs[1].splitlines(), runs[2].splitlines()[0]
    assert "curlimages/curl:8.11.1" in alert_args and "WEBHOOK" in alert_args
    assert any("curl -fsS" in a for a in alert_args), "an HTTP error from the webhook is a failure"
    assert not any("hooks.slack.com" in a for a in alert_args), "the URL travels in the env only"
    assert alert_env == "https://hooks.slack.com/services/T000/B000/XXXX"


def test_without_an_alert_url_a_failure_is_logged_only(script_env):
    done, calls = script_env("broken", with_alert=False)
    assert done.returncode == 3 and calls.count("--- WEBHOOK=") == 1


def test_an_unknown_job_is_refused(script_env):
    done, calls = script_env("nope")
    assert done.returncode == 2 and "unknown job 'nope'" in done.stderr and calls == ""


def test_env_values_must_be_single_lines_for_the_env_file():
    from tests.test_config import _reject

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
