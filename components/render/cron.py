"""The job runner's files: a crontab and the script each crontab line calls. Pure functions,
no resources (components/droplets/jobs.py deploys them).

The runner is busybox crond in the docker CLI image, on the first droplet. It holds no docker
socket and no secret: each job is a container the program created beforehand from the app
image (`job-<name>`, not started, with the app's env and the job's command), and the script
starts it and waits for it through a socket proxy that admits nothing else (components/
dockerapi.py). A job still running when its next run is due is not started twice: that run
is skipped and counts as a failure. A failure posts to the alert webhook through a container of
its own (`jobs-alert`, which holds the URL), the message handed over in a shared volume.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

SCRIPT = "/usr/local/bin/webstack-job"
CRONTAB = "/etc/crontabs/root"
# The job containers' names; `jobs-` never collides with one of them.
JOB_PREFIX = "job-"
ALERT_CONTAINER = "jobs-alert"
# Where the runner writes a failure's message and the alert container reads it.
ALERT_DIR = "/alert"
ALERT_MESSAGE = f"{ALERT_DIR}/message.json"
# The alert container's command: the URL comes from its env, never a command line.
ALERT_COMMAND = (
    f'curl -fsS -m 10 -o /dev/null -H "Content-Type: application/json" --data-binary @{ALERT_MESSAGE} "$WEBHOOK"'
)
# The alert's JSON: stack (escaped by render_job_script), job and exit code (job names are
# [a-z0-9-], nothing to escape).
ALERT_FORMAT = '{"text": "webstack job %s/%s failed with exit %s"}'
# busybox crond runs a job with `sh -c` and, without MAILTO, lets it inherit crond's stdout;
# PID 1 (docker's init, which runs crond) holds the container's stdout and stderr, so the
# redirect puts a job's output in `docker logs` whatever crond does with its own.
CONTAINER_LOG = ">/proc/1/fd/1 2>/proc/1/fd/2"
# The exit status of a run skipped because the previous one still runs (docker's own for "the
# container could not be run").
SKIPPED = 125


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    name: str
    """Lower-case job name ([a-z][a-z0-9-]*); no default."""
    schedule: str
    """Five-field cron schedule (UTC), already validated; no default."""
    command: tuple[str, ...]
    """Command run from the app image; no default."""
    memory_mb: int
    """Memory limit of the job's container; no default."""

    @property
    def container(self) -> str:
        """The job's container."""
        return f"{JOB_PREFIX}{self.name}"


def render_crontab(jobs: tuple[JobSpec, ...]) -> str:
    """One line per job, sorted by name: the schedule, then the script with the job's name."""
    lines = ["# Rendered by webstack (components/render/cron.py); times are UTC."]
    lines += [f"{job.schedule} {SCRIPT} {job.name} {CONTAINER_LOG}" for job in sorted(jobs, key=lambda j: j.name)]
    return "\n".join(lines) + "\n"


def render_job_script(jobs: tuple[JobSpec, ...], *, stack: str, alert: bool) -> str:
    """The script `webstack-job NAME`: run the job's container (its output goes to this log),
    log its exit code and duration, and on a failure, when `alert`, post a message naming the
    stack, the job and the exit code through the alert container (one at a time).

    The stack name reaches the alert as a printf argument, escaped for JSON and quoted for sh:
    whatever it holds (Pulumi's stack names hold no quote or `$`, but this function does not
    rely on that) stays text in the alert."""
    # json.dumps escapes quotes, backslashes and control characters (and writes non-ASCII as
    # \uXXXX); shlex.quote keeps the result one word for sh, `%` included (it is not the format).
    alert_stack = shlex.quote(json.dumps(stack)[1:-1])
    names = "|".join(job.name for job in sorted(jobs, key=lambda j: j.name))
    lines = [
        "#!/bin/sh",
        "# Rendered by webstack (components/render/cron.py): webstack-job NAME runs one scheduled job.",
        'name="${1:-}"',
        'case "$name" in',
        f"  {names}) ;;",
        "  *) echo \"webstack job: unknown job '$name'\" >&2; exit 2 ;;",
        "esac",
        f'container="{JOB_PREFIX}$name"',
        "start=$(date +%s)",
        'echo "webstack job $name: start"',
        'if [ "$(docker container inspect -f \'{{.State.Running}}\' "$container")" = true ]; then',
        '  echo "webstack job $name: its previous run is still running; this run is skipped" >&2',
        f"  rc={SKIPPED}",
        "else",
        '  docker start --attach "$container"',
        "  rc=$?",
        "fi",
        'echo "webstack job $name: exit $rc after $(( $(date +%s) - start )) s"',
    ]
    if alert:
        lines += [
            'if [ "$rc" -ne 0 ]; then',
            "  (",
            "    flock 9 || :",
            f'    printf {shlex.quote(ALERT_FORMAT)} {alert_stack} "$name" "$rc" > {ALERT_MESSAGE}',
            f"    docker start --attach {ALERT_CONTAINER}",
            f"  ) 9>{ALERT_DIR}/.lock \\",
            '    || echo "webstack job $name: the failure alert could not be sent" >&2',
            "fi",
        ]
    return "\n".join([*lines, 'exit "$rc"', ""])
