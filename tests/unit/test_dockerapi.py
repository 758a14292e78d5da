"""The socket proxies' allow-lists, judged the way the proxy judges them, against what the real
docker CLI sends (components/render/dockerapi.py): the job runner can start and wait for its job
containers and nothing else; the log reader can only read."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from components.render import dockerapi
from tests import realprog
from tests.fakedocker import ProxiedDaemon, admitted

DOCKER = realprog.find("docker")
# The client only; .ci/run installs Debian's docker.io where no docker CLI is present (a
# runner that has Docker's own packages keeps them: the two conflict). Skips here, fails
# under CI (tests/realprog.py `require`).
needs_cli = pytest.mark.usefixtures("docker_cli")


@pytest.fixture
def docker_cli() -> str:
    return realprog.require("docker", "docker.io")


JOB = {"id": "a" * 64, "running": False, "exit": 0, "output": "job done\n", "env": ["SECRET_KEY=s3cret"]}
CONTAINERS = {
    "job-cleanup": JOB,
    "job-broken": {**JOB, "id": "b" * 64, "exit": 3},
    "web": {**JOB, "id": "c" * 64, "running": True},
}
RUNNER = dockerapi.job_runner_allowlist(["job-cleanup", "job-broken", "jobs-alert"])


def _docker(daemon: ProxiedDaemon, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "DOCKER_HOST": daemon.url,
        "DOCKER_CONFIG": "/nonexistent",
    }
    return subprocess.run([DOCKER, *argv], capture_output=True, text=True, timeout=20, env=env)


@needs_cli
def test_the_runner_starts_and_waits_for_a_job_container_through_the_proxy():
    with ProxiedDaemon(RUNNER, CONTAINERS) as daemon:
        running = _docker(daemon, "container", "inspect", "-f", "{{.State.Running}}", "job-cleanup")
        done = _docker(daemon, "start", "--attach", "job-cleanup")
        failed = _docker(daemon, "start", "--attach", "job-broken")
    assert running.returncode == 0 and running.stdout.strip() == "false", running.stderr
    assert done.returncode == 0 and done.stdout == "job done\n", done.stderr
    assert failed.returncode == 3, "the job's exit code comes back"
    assert daemon.refused() == [], [(r.method, r.path, r.status) for r in daemon.refused()]
    # Without the API version: the CLI speaks the lower of its own and the daemon's.
    calls = {(r.method, re.sub(r"^/v[0-9.]+|\?.*", "", r.path)) for r in daemon.requests}
    assert ("POST", f"/containers/{'a' * 64}/start") in calls, "started by the id inspect gave"


@needs_cli
@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("container", "inspect", "web"), id="read another container's env"),
        pytest.param(("start", "--attach", "web"), id="start another container"),
        pytest.param(("logs", "web"), id="read another container's logs"),
        pytest.param(("exec", "job-cleanup", "sh"), id="exec"),
        pytest.param(("run", "--rm", "--privileged", "-v", "/:/host", "alpine", "sh"), id="privileged create"),
        pytest.param(("create", "--name", "job-cleanup2", "alpine"), id="create"),
        pytest.param(("rm", "-f", "job-cleanup"), id="remove"),
        pytest.param(("pull", "alpine:3.21"), id="image pull"),
        pytest.param(("volume", "create", "x"), id="volume create"),
        pytest.param(("ps", "-a"), id="list containers"),
        pytest.param(("kill", "job-cleanup"), id="kill"),
    ],
)
def test_the_runner_can_do_nothing_else(argv):
    with ProxiedDaemon(RUNNER, CONTAINERS) as daemon:
        done = _docker(daemon, *argv)
    assert done.returncode != 0, done.stdout
    assert daemon.refused(), "the proxy refused it"
    forwarded = [(r.method, r.path) for r in daemon.requests if not r.status and "/_ping" not in r.path]
    assert not [f for f in forwarded if f[0] != "GET" or "job-" not in f[1]], forwarded


def test_the_runner_may_name_only_its_own_containers():
    get = "/v1.47/containers/{}/json"
    assert admitted(RUNNER, "GET", get.format("job-cleanup")) == 0
    assert admitted(RUNNER, "GET", "/containers/jobs-alert/json") == 0
    for other in ("web-1a2b", "job-cleanupx", "xjob-cleanup", "job-cleanup/../web", "pg-backup"):
        assert admitted(RUNNER, "GET", get.format(other)) == 403, other
    for action in ("exec", "kill", "update", "archive", "rename", "resize", "stop", "restart", "pause"):
        assert admitted(RUNNER, "POST", f"/v1.47/containers/{'a' * 64}/{action}") == 403, action
    assert admitted(RUNNER, "POST", "/v1.47/containers/create") == 403
    assert admitted(RUNNER, "DELETE", f"/v1.47/containers/{'a' * 64}") == 405
    assert admitted(RUNNER, "PUT", f"/v1.47/containers/{'a' * 64}/archive") == 405
    assert admitted(RUNNER, "POST", "/v1.47/containers/job-cleanup/start") == 403, "by name: only by id"
    assert admitted(RUNNER, "GET", "/_pingx") == 403


VECTOR_READS = [
    ("HEAD", "/_ping"),
    ("GET", "/v1.44/version"),
    ("GET", "/v1.44/events"),
    ("GET", "/v1.44/containers/json"),
    ("GET", f"/v1.44/containers/{'d' * 64}/json"),
    ("GET", f"/v1.44/containers/{'d' * 64}/logs"),
    ("GET", f"/containers/{'d' * 64}/logs"),
]


@pytest.mark.parametrize(("method", "path"), VECTOR_READS)
def test_the_log_reader_reads_what_vector_reads(method, path):
    assert admitted(dockerapi.log_reader_allowlist(), method, path) == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.44/containers/create"),
        ("POST", f"/v1.44/containers/{'d' * 64}/exec"),
        ("POST", f"/v1.44/containers/{'d' * 64}/start"),
        ("GET", f"/v1.44/containers/{'d' * 64}/archive"),
        ("GET", f"/v1.44/containers/{'d' * 64}/export"),
        ("GET", "/v1.44/containers/web/json"),
        ("GET", "/v1.44/images/json"),
        ("GET", "/v1.44/info"),
        ("DELETE", f"/v1.44/containers/{'d' * 64}"),
    ],
)
def test_the_log_reader_writes_nothing_and_reads_no_files(method, path):
    assert admitted(dockerapi.log_reader_allowlist(), method, path) != 0


@pytest.mark.parametrize("allow", [RUNNER, dockerapi.log_reader_allowlist()], ids=["runner", "log reader"])
def test_each_pattern_is_anchored_whole_and_means_the_same_to_go(allow):
    for patterns in allow.values():
        for pattern in patterns:
            # The proxy writes "^" + pattern + "$": a top-level | would leave one side unanchored.
            depth = 0
            for ch in pattern:
                depth += {"(": 1, ")": -1}.get(ch, 0)
                assert not (ch == "|" and depth == 0), pattern
            # Only what RE2 and Python read alike: no lookaround, backreference or named group.
            assert not re.search(r"\(\?|\\[1-9]|\\[AZbB]", pattern), pattern


def test_the_proxy_command_has_one_flag_per_pattern_and_its_one_client():
    command = dockerapi.proxy_command(RUNNER, "jobs")
    assert "-allowfrom=jobs" in command and "-listenip=0.0.0.0" in command
    assert f"-proxyport={dockerapi.PROXY_PORT}" in command and "-stoponwatchdog" in command
    allows = [a for a in command if a.startswith("-allow") and not a.startswith("-allowfrom")]
    assert sorted(allows) == sorted(f"-allow{m}={p}" for m, ps in RUNNER.items() for p in ps)
    assert not any(a.startswith("-allowbindmountfrom") or a.startswith("-allowhealthcheck") for a in command)


@needs_cli
def test_the_deployed_script_runs_jobs_and_the_alert_through_the_deployed_proxy_rules(tmp_path):
    """End to end on the recording: the runner's uploaded script, under a real shell with the real
    docker CLI, against the allow-list parsed back from the proxy container's own arguments."""
    from components.render import cron
    from tests.graph.test_jobs import _container, _run, _runner, _upload

    run = _run("prod")
    flags = [a for a in _container(run, "jobs-docker").inputs["command"] if a.startswith("-allow")]
    allow: dict[str, list[str]] = {}
    for flag in flags:
        key, _, pattern = flag.partition("=")
        if key != "-allowfrom":
            allow.setdefault(key.removeprefix("-allow"), []).append(pattern)
    script = _upload(_runner(run), cron.SCRIPT)["content"].replace(cron.ALERT_DIR, str(tmp_path))
    (tmp_path / "job").write_text(script)
    containers = {
        "job-cleanup": {"id": "1" * 64, "running": False, "exit": 0, "output": "cleaned\n"},
        "job-reminders": {"id": "2" * 64, "running": False, "exit": 4, "output": "failed\n"},
        cron.ALERT_CONTAINER: {"id": "3" * 64, "running": False, "exit": 0, "output": ""},
    }
    shell = shutil.which("busybox") or shutil.which("sh")
    with ProxiedDaemon(allow, containers) as daemon:
        env = {"PATH": os.environ["PATH"], "DOCKER_HOST": daemon.url, "DOCKER_CONFIG": str(tmp_path / "cfg")}
        results = {
            name: subprocess.run(
                [shell, *(["sh"] if shell.endswith("busybox") else []), str(tmp_path / "job"), name],
                capture_output=True, text=True, timeout=30, env=env,
            )
            for name in ("cleanup", "reminders")
        }  # fmt: skip
    assert results["cleanup"].returncode == 0 and "cleaned" in results["cleanup"].stdout
    assert results["reminders"].returncode == 4 and "failed" in results["reminders"].stdout
    assert daemon.refused() == [], [(r.method, r.path, r.status) for r in daemon.refused()]
    started = [r.path.split("/")[3] for r in daemon.requests if r.path.endswith("/start")]
    assert started == ["1" * 64, "2" * 64, "3" * 64], "each job, then the alert once"
    assert (tmp_path / "message.json").read_text() == '{"text": "webstack job prod/reminders failed with exit 4"}'
