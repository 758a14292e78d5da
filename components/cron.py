"""The job runner's files: a crontab and the script each crontab line calls. Pure functions,
no resources (components/jobs.py deploys them).

The runner is busybox crond in the docker CLI image, on the first droplet. Each job is a
`docker run --rm` of the app image (by image id, already on the droplet) on the droplet's
docker network with the app's env file, so nothing is required inside the app image. A fixed
container name per job (`job-<name>`) keeps a job from overlapping itself: the next run is
refused while one still runs, and says so in the log.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

ENV_FILE = "/etc/webstack/app.env"
ALERT_URL_FILE = "/etc/webstack/alert-url"
SCRIPT = "/usr/local/bin/webstack-job"
CRONTAB = "/etc/crontabs/root"
# busybox crond runs a job with `sh -c` and, without MAILTO, lets it inherit crond's stdout;
# PID 1 (docker's init, which runs crond) holds the container's stdout and stderr, so the
# redirect puts a job's output in `docker logs` whatever crond does with its own.
CONTAINER_LOG = ">/proc/1/fd/1 2>/proc/1/fd/2"


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


def render_crontab(jobs: tuple[JobSpec, ...]) -> str:
    """One line per job, sorted by name: the schedule, then the script with the job's name."""
    lines = ["# Rendered by webstack (components/cron.py); times are UTC."]
    lines += [f"{job.schedule} {SCRIPT} {job.name} {CONTAINER_LOG}" for job in sorted(jobs, key=lambda j: j.name)]
    return "\n".join(lines) + "\n"


def render_job_script(
    jobs: tuple[JobSpec, ...], *, image: str, network: str, stack: str, alert_image: str, volume: str | None = None
) -> str:
    """The script `webstack-job NAME`: run the job, log its exit code and duration, and on a
    failure post to the alert webhook when one is configured (its URL is read from a file,
    never put on a command line). `volume` (`host:path`) is bound into every job.

    The stack name reaches the alert as a printf argument, escaped for JSON and quoted for sh:
    whatever it holds (Pulumi's stack names hold no quote or `$`, but this function does not
    rely on that) stays text in the alert."""
    # json.dumps escapes quotes, backslashes and control characters (and writes non-ASCII as
    # \uXXXX); shlex.quote keeps the result one word for sh, `%` included (it is not the format).
    alert_stack = shlex.quote(json.dumps(stack)[1:-1])
    cases = []
    for job in sorted(jobs, key=lambda j: j.name):
        argv = " ".join(shlex.quote(a) for a in job.command)
        cases.append(f"  {job.name}) memory={job.memory_mb}m; set -- {argv} ;;")
    return "\n".join(
        [
            "#!/bin/sh",
            "# Rendered by webstack (components/cron.py): webstack-job NAME runs one scheduled job.",
            'name="${1:-}"',
            'case "$name" in',
            *cases,
            "  *) echo \"webstack job: unknown job '$name'\" >&2; exit 2 ;;",
            "esac",
            "start=$(date +%s)",
            'echo "webstack job $name: start"',
            f'docker run --rm --init --name "job-$name" --network {shlex.quote(network)} --env-file {ENV_FILE} \\',
            *([f"  --volume {shlex.quote(volume)} \\"] if volume else []),
            '  --memory "$memory" --memory-swap "$memory" --label "webstack.job=$name" \\',
            f'  --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 {shlex.quote(image)} "$@"',
            "rc=$?",
            'echo "webstack job $name: exit $rc after $(( $(date +%s) - start )) s"',
            f'if [ "$rc" -ne 0 ] && [ -s {ALERT_URL_FILE} ]; then',
            f"  WEBHOOK=$(cat {ALERT_URL_FILE}); export WEBHOOK",
            f'  BODY=$(printf \'{{"text": "webstack job %s/%s failed with exit %s"}}\' {alert_stack} "$name" "$rc")',
            "  export BODY",
            f"  docker run --rm -e WEBHOOK -e BODY --entrypoint sh {shlex.quote(alert_image)} -c \\",
            '    \'curl -fsS -m 10 -o /dev/null -H "Content-Type: application/json" -d "$BODY" "$WEBHOOK"\' \\',
            '    || echo "webstack job $name: the failure alert could not be sent" >&2',
            "fi",
            'exit "$rc"',
            "",
        ]
    )
