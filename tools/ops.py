"""Operations commands on a deployed stack: a one-off command, a process's logs, a shell.

    python -m tools.ops exec --stack prod --command "python manage.py createsuperuser"
    python -m tools.ops exec --stack prod -- python manage.py createsuperuser
    python -m tools.ops logs --stack prod --process web [--tail 100] [--no-follow]
    python -m tools.ops ssh  --stack prod [--droplet 0]

(`make exec/logs/ssh`, docs/operations.md.) Every command adds `--dry-run`: print the ssh
command lines instead of running them.

What they know about the stack comes from its outputs, read through Pulumi's Automation
API (tools/stackapi.py; never with `--show-secrets`): droplet_ips, droplet_ids, processes,
release_command, all plain. They
reach a droplet as `deploy` over ssh with the docker provider's own options (per-droplet
known_hosts file, StrictHostKeyChecking=accept-new), so a host key is trusted per droplet
exactly as `pulumi up` trusts it.

No secret passes through this process: `exec` sends a short script to the first droplet
that copies the env of a container already there (`migrate`, which holds the release env,
or the current `web-*`) into a mode-0600 file, `docker run --env-file`s it and deletes it;
a value of several lines (a PEM key), which an env file cannot hold, goes to `docker run`
through its own environment (`-e NAME`, no value on the command line).
The script itself holds container names, the droplet id and the command, nothing else.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from components.droplets.dockerhost import DEPLOY_USER, DROPLET_LABEL, NETWORK_PREFIX, ssh_opts
from tools import stackapi

SSH = "ssh"
# What `pulumi stack output --json` prints for a secret output without --show-secrets.
SECRET_PLACEHOLDER = stackapi.SECRET_PLACEHOLDER
# The stack's own containers on every droplet (components/droplets/containers.py): web is named per
# release (`web-<RandomId hex>`), proxy and probe have fixed names.
WEB_PATTERN = "web-[0-9a-f]+"
EVERY_DROPLET = ("web", "proxy", "probe")
RELEASE = "migrate"
# The admin step of a managed database (components/cloud/database.py): a one-shot on the first droplet.
ADMIN = "pg-grant"
WAIT_SECONDS = 1800  # logs --wait: how long to wait for a one-shot's container to appear
PROCESS_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
DEFAULT_TAIL = 100
NO_PROCESS = "name the process: make logs STACK=<stack> PROCESS=web (or proxy, probe, migrate, a background process)"
# Outputs each command reads (exports at the end of __main__.py).
NEEDS = {
    "exec": ("droplet_ips", "droplet_ids", "release_command"),
    "logs": ("droplet_ips", "droplet_ids", "processes", "release_command"),
    "ssh": ("droplet_ips", "droplet_ids"),
}


class OpsError(Exception):
    """A problem the operator can fix; printed as one message, never as a traceback."""


# --------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class Droplet:
    index: int
    id: str
    ip: str

    @property
    def label(self) -> str:
        return f"droplet-{self.index} {self.ip}"

    @property
    def network(self) -> str:
        return f"{NETWORK_PREFIX}{self.id}"


@dataclass(frozen=True)
class Stack:
    name: str
    droplets: tuple[Droplet, ...]
    processes: dict[str, tuple[int, bool]]
    """Background processes: name -> (containers per droplet, singleton)."""
    release_command: bool


def stack_outputs(stack: str) -> dict:
    """The stack's outputs through the Automation API (tools/stackapi.py): secret ones as "[secret]"."""
    try:
        return stackapi.outputs(stack)
    except stackapi.StackApiError as exc:
        raise OpsError(str(exc)) from None


def _need(outputs: dict, stack: str, key: str, what: str):
    if key not in outputs or outputs[key] is None:
        raise OpsError(
            f"stack {stack} has no output `{key}` ({what}); the operations commands need it. "
            f"It is exported by this program: run `pulumi up --stack {stack}` once to publish it."
        )
    value = outputs[key]
    if value == SECRET_PLACEHOLDER:
        raise OpsError(f"stack {stack}'s output `{key}` is a secret; the operations commands read plain outputs only")
    return value


def parse_outputs(stack: str, outputs: dict, needs: Sequence[str]) -> Stack:
    """The stack's layout from its outputs, each checked (they end up in shell scripts)."""
    ips = ids = None
    processes: dict[str, tuple[int, bool]] = {}
    release = False
    if "droplet_ips" in needs:
        ips = _need(outputs, stack, "droplet_ips", "one public IPv4 address per app droplet")
        ids = _need(outputs, stack, "droplet_ids", "one DigitalOcean id per app droplet")
        if not isinstance(ips, list) or not isinstance(ids, list) or len(ips) != len(ids) or not ips:
            raise OpsError(f"stack {stack}: droplet_ips and droplet_ids are not two lists of one length: {ips} {ids}")
        for ip in ips:
            try:
                ipaddress.ip_address(str(ip))
            except ValueError:
                raise OpsError(f"stack {stack}: droplet_ips holds {ip!r}, not an IP address") from None
        if not all(re.fullmatch(r"[0-9]+", str(i)) for i in ids):
            raise OpsError(f"stack {stack}: droplet_ids holds something other than numeric ids: {ids}")
    if "processes" in needs:
        raw = _need(outputs, stack, "processes", "the background processes: count and singleton per name")
        if not isinstance(raw, dict):
            raise OpsError(f"stack {stack}: processes is not a map of name to {{count, singleton}}: {raw!r}")
        for name, spec in raw.items():
            count = spec.get("count") if isinstance(spec, dict) else None
            if not PROCESS_NAME.match(name) or not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise OpsError(f"stack {stack}: processes has an unreadable entry {name!r}: {spec!r}")
            processes[name] = (count, bool(spec.get("singleton")))
    if "release_command" in needs:
        release = _need(outputs, stack, "release_command", "whether a release command (`migrate`) runs")
        if not isinstance(release, bool):
            raise OpsError(f"stack {stack}: release_command is not true or false: {release!r}")
    droplets = tuple(Droplet(i, str(d), str(ip)) for i, (d, ip) in enumerate(zip(ids or [], ips or [], strict=True)))
    return Stack(stack, droplets, processes, release)


def load_stack(stack: str, command: str, outputs: dict | None = None) -> Stack:
    return parse_outputs(stack, stack_outputs(stack) if outputs is None else outputs, NEEDS[command])


# --------------------------------------------------------------------------- the Kubernetes engine

KUBE_NAMESPACE = "webstack"  # components/render/kubernetes.py NAMESPACE
KUBE_PART = "app.kubernetes.io/component"


def kube_argv(args: argparse.Namespace, outputs: dict, command: Sequence[str] = ()) -> list[str]:
    """`kubectl` for a stack on the Kubernetes engine (its `cluster_name` output), against the
    context `doctl kubernetes cluster kubeconfig save <cluster_name>` writes. exec runs in a
    running web pod (its env is the app's, read by the cluster, never by this process); logs
    follow every pod of a process (web, proxy, release, pg-grant, job-<name> or a background
    process); there is no ssh."""
    name = outputs["cluster_name"]
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
        raise OpsError(f"stack {args.stack}: cluster_name holds {name!r}, not a cluster name")
    base = ["kubectl", "--namespace", KUBE_NAMESPACE]
    if args.op == "exec":
        if not command:
            raise OpsError('no command to run: make exec STACK=<stack> CMD="python manage.py createsuperuser"')
        return [*base, "exec", "-i", *(["-t"] if terminal_attached() else []), "deploy/web", "--", *command]
    if args.op == "logs":
        process = args.process.strip()
        if not PROCESS_NAME.match(process):
            raise OpsError(NO_PROCESS)
        follow = [] if args.no_follow else ["--follow"]
        return [*base, "logs", "--selector", f"{KUBE_PART}={process}", "--prefix", "--all-containers",
                "--max-log-requests", "20", f"--tail={args.tail}", *follow]  # fmt: skip
    raise OpsError(
        f"stack {args.stack} runs on Kubernetes (cluster {name}): no droplet to ssh to; "
        f"`doctl kubernetes cluster kubeconfig save {name}` then kubectl"
    )


# --------------------------------------------------------------------------- command lines


@dataclass(frozen=True)
class Command:
    """One ssh command line, the droplet it reaches and the script it runs there (if any)."""

    droplet: Droplet
    argv: list[str]
    script: str | None = None


def ssh_argv(droplet: Droplet, remote: str | None = None, *, tty: bool | None = None) -> list[str]:
    """ssh to `droplet` as deploy with the docker provider's options; `remote` runs there.

    tty: True forces a terminal (-t), False refuses one (-T), None leaves it to ssh."""
    argv = [SSH, *ssh_opts(droplet.id)]
    if tty is not None:
        argv.append("-t" if tty else "-T")
    argv.append(f"{DEPLOY_USER}@{droplet.ip}")
    if remote is not None:
        argv.append(remote)
    return argv


def remote(script: str) -> str:
    """The remote command line: run `script` with sh whatever the login shell is."""
    return f"sh -c {shlex.quote(script)}"


def _names(droplet: Droplet, *, running: bool = False) -> str:
    """Shell: the names of the stack's containers on this droplet, newest first (all of them,
    or the running ones). The droplet label keeps one-off `exec` containers out."""
    which = "--filter status=running" if running else "-a"
    return f"docker ps {which} --filter {shlex.quote(f'label={DROPLET_LABEL}={droplet.id}')} --format '{{{{.Names}}}}'"


# Run on the droplet between `docker inspect` and `docker run` (python3 is there: cloud-init
# installs python3-systemd, components/render/cloudinit.py): rewrite the JSON env list at
# argv[1] as an env file of its one-line entries, and start `docker run` (argv[2:]) with each
# entry of several lines in its own environment and a bare `-e NAME` after `--env-file FILE`,
# which docker reads from there (docs.docker.com/reference/cli/docker/container/run/#env).
ENV_SPLIT = """import json, os, sys
path, argv = sys.argv[1], sys.argv[2:]
with open(path) as f:
    entries = json.load(f) or []
multi = {}
with open(path, "w") as f:
    for entry in entries:
        name, _, value = entry.partition("=")
        if "\\n" in value or "\\r" in value:
            multi[name] = value
        else:
            f.write(entry + "\\n")
at = argv.index("--env-file") + 2
argv[at:at] = [word for name in multi for word in ("-e", name)]
os.execvpe(argv[0], argv, {**os.environ, **multi})
"""


def exec_script(droplet: Droplet, command: Sequence[str], *, tty: bool, release_command: bool) -> str:
    """Shell run on the first droplet: the one-off `command` from the app image with the env of
    `migrate` (the release env: direct DATABASE_URL) or, without a release command, of the
    running web container. The env goes from `docker inspect` into a mode-0600 file and from
    there to `docker run --env-file`, a value of several lines through the environment of
    `docker run` (ENV_SPLIT); it never reaches an argument, the terminal or this process, and
    the file is removed when the script ends (normally or on a signal). The command also gets
    that container's mounts (`--volumes-from`): the volume, where it has it."""
    if release_command:  # exited after the release: inspect reads it all the same
        source, pattern, ps, where = RELEASE, RELEASE, _names(droplet), "the release command"
    else:  # during a release two may run: the newest, the new release
        source, pattern, ps, where = "web", WEB_PATTERN, _names(droplet, running=True), "a running web container"
    missing = (
        f"webstack exec: no {source} container ({where}) on droplet-{droplet.index} (id {droplet.id}); "
        "has `pulumi up` finished on this stack?"
    )
    return "\n".join(
        [
            "set -eu",
            f"src=$({ps} | awk '/^{pattern}$/ {{ print; exit }}')",
            f'if [ -z "$src" ]; then echo {shlex.quote(missing)} >&2; exit 1; fi',
            "image=$(docker inspect --format '{{.Image}}' \"$src\")",
            "envfile=",
            'trap \'if [ -n "$envfile" ]; then rm -f "$envfile"; fi\' EXIT',
            "trap 'exit 129' HUP",
            "trap 'exit 130' INT",
            "trap 'exit 143' TERM",
            "envfile=$(umask 077 && mktemp)",
            'chmod 600 "$envfile"',
            'docker inspect --format \'{{json .Config.Env}}\' "$src" > "$envfile"',
            f'echo "webstack exec: droplet-{droplet.index}, image and env of $src" >&2',
            f"envsplit={shlex.quote(ENV_SPLIT)}",
            'python3 -c "$envsplit" "$envfile" \\',
            shlex.join(["docker", "run", "--rm", "-it" if tty else "-i", "--network", droplet.network, "--env-file"])
            + ' "$envfile" --volumes-from "$src" "$image" '
            + shlex.join(command),
        ]
    )


def logs_script(droplet: Droplet, process: str, pattern: str, *, tail: int, follow: bool, wait: bool = False) -> str:
    """Shell run on one droplet: the logs of every container of `process` (names matching
    `pattern`), each line prefixed with its container. Following, it ends when every
    container's log has ended or when the operator's ssh goes away (its stdin closes).
    `wait`: no such container yet (a one-shot `pulumi up` has not created) is waited for,
    checking every 2 s, instead of an error: started beside a deploy, it shows the one-shot
    while it runs."""
    missing = f"webstack logs: no {process} container on droplet-{droplet.index} (id {droplet.id})"
    logs = shlex.join(["docker", "logs", *(["--follow"] if follow else []), "--tail", str(tail)])
    find = f"names=$({_names(droplet)} | awk '/^({pattern})$/' | sort)"
    waiting_for = shlex.quote(f"webstack logs: waiting for {process} on droplet-{droplet.index}")
    waiting = [
        f"waited=0; {find}",
        f'while [ -z "$names" ] && [ "$waited" -lt {WAIT_SECONDS} ]; do',
        f"  [ $waited -eq 0 ] && echo {waiting_for} >&2",
        f"  sleep 2; waited=$((waited + 2)); {find}",
        "done",
    ]
    lines = [
        "set -u",
        *(waiting if wait else [find]),
        f'if [ -z "$names" ]; then echo {shlex.quote(missing)} >&2; exit 1; fi',
        "pids=",
        "for c in $names; do",
        # GNU sed -u (Ubuntu's): line by line; mawk would hold lines back until its buffer fills.
        f'  {logs} "$c" 2>&1 | sed -u "s/^/$c | /" &',
        '  pids="$pids $!"',
        "done",
    ]
    if follow:
        # A background list reads /dev/null unless told otherwise: keep ssh's stdin on fd 3
        # for the watcher, which stops everything of this session once that stdin closes.
        # The watcher holds no output (a `cat` that outlived a `kill 0` racing its start must
        # not keep the session's output open) and takes TERM plainly, not as `exit 0`.
        lines[1:1] = ["exec 3<&0", "trap 'exit 0' TERM"]
        lines += [
            "(trap - TERM; cat <&3 >/dev/null; kill 0) >/dev/null 2>&1 &",
            "wait $pids",
            "kill 0",
        ]
    else:
        lines += ["wait $pids"]
    return "\n".join(lines)


def process_pattern(stack: Stack, process: str) -> tuple[str, bool]:
    """(container names of `process` as an extended regex, first droplet only?)."""
    if process == "web":
        return WEB_PATTERN, False
    if process in EVERY_DROPLET:
        return process, False
    if process == RELEASE and stack.release_command:
        return RELEASE, True
    if process == ADMIN:
        return ADMIN, True
    if process in stack.processes:
        count, singleton = stack.processes[process]
        names = [process] if count == 1 else [f"{process}-{k}" for k in range(1, count + 1)]
        return "|".join(names), singleton
    known = [*EVERY_DROPLET, *([RELEASE] if stack.release_command else []), ADMIN, *sorted(stack.processes)]
    raise OpsError(f"stack {stack.name} has no process {process!r}; its processes: {', '.join(known)}")


def plan_exec(stack: Stack, command: Sequence[str], *, tty: bool) -> list[Command]:
    """One command on the first droplet (where the release command runs)."""
    if not command:
        raise OpsError(
            'no command to run: make exec STACK=<stack> CMD="python manage.py createsuperuser" '
            "(or: python -m tools.ops exec --stack <stack> -- <command...>)"
        )
    first = stack.droplets[0]
    script = exec_script(first, command, tty=tty, release_command=stack.release_command)
    return [Command(first, ssh_argv(first, remote(script), tty=tty), script)]


def plan_logs(
    stack: Stack, process: str, *, tail: int = DEFAULT_TAIL, follow: bool = True, wait: bool = False
) -> list[Command]:
    """One command per droplet that runs `process`: every droplet, or the first for a
    singleton and for the release command."""
    if not process:
        raise OpsError(NO_PROCESS)
    pattern, first_only = process_pattern(stack, process)
    droplets = stack.droplets[:1] if first_only else stack.droplets
    scripts = [(d, logs_script(d, process, pattern, tail=tail, follow=follow, wait=wait)) for d in droplets]
    return [Command(d, ssh_argv(d, remote(script), tty=False), script) for d, script in scripts]


def plan_ssh(stack: Stack, droplet: int) -> list[Command]:
    if not 0 <= droplet < len(stack.droplets):
        raise OpsError(
            f"stack {stack.name} has {len(stack.droplets)} droplet(s): DROPLET is 0"
            + (f" to {len(stack.droplets) - 1}" if len(stack.droplets) > 1 else "")
            + f", not {droplet}"
        )
    chosen = stack.droplets[droplet]
    return [Command(chosen, ssh_argv(chosen))]


# --------------------------------------------------------------------------- running


def terminal_attached() -> bool:
    """A person at a terminal: both stdin and stdout are one."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def run_one(command: Command) -> int:
    """Run one ssh command with this process's terminal (exec, ssh)."""
    try:
        return subprocess.run(command.argv, check=False).returncode
    except KeyboardInterrupt:
        return 130


def run_prefixed(commands: Sequence[Command]) -> int:
    """Run the commands side by side, every line they print prefixed with its droplet."""
    lock = threading.Lock()
    procs = [
        subprocess.Popen(
            c.argv,
            stdin=subprocess.PIPE,  # kept open: its end tells the droplet to stop following
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
        for c in commands
    ]

    def pump(command: Command, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with lock:
                sys.stdout.write(f"{command.droplet.label} | {line.rstrip(chr(10))}\n")
                sys.stdout.flush()

    threads = [threading.Thread(target=pump, args=pair, daemon=True) for pair in zip(commands, procs, strict=True)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
        codes = [p.wait() for p in procs]
        for p in procs:
            p.stdin.close()
    except KeyboardInterrupt:
        for p in procs:
            if p.stdin:
                p.stdin.close()
            p.terminate()
        for p in procs:
            p.wait()
        return 130
    return next((c for c in codes if c != 0), 0)


def _print_commands(commands: Sequence[Command]) -> None:
    """Each command line as it would run, after its droplet and, readable, the script it sends."""
    for c in commands:
        print(f"# {c.droplet.label} (id {c.droplet.id})")
        if c.script is not None:
            print("# runs there with sh:")
            print("\n".join(f"#   {line}" for line in c.script.splitlines()))
        print(shlex.join(c.argv))


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="the Pulumi stack (STACK=)")
    common.add_argument("--dry-run", action="store_true", help="print the ssh command lines, run nothing")
    parser = argparse.ArgumentParser(prog="python -m tools.ops", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="op", required=True)
    p = sub.add_parser("exec", parents=[common], help="a one-off command with the release env on the first droplet")
    p.add_argument("--command", dest="command_line", default="", help="the command as one string (CMD=)")
    p.add_argument("argv", nargs=argparse.REMAINDER, help="or the command's words after --")
    p = sub.add_parser("logs", parents=[common], help="follow one process's logs on every droplet that runs it")
    p.add_argument("--process", default="", help="web, proxy, probe, migrate or a background process (PROCESS=)")
    p.add_argument("--tail", type=int, default=DEFAULT_TAIL, help=f"lines of history first (default {DEFAULT_TAIL})")
    p.add_argument("--no-follow", action="store_true", help="print the logs so far and stop")
    p.add_argument("--wait", action="store_true", help="wait for a container not there yet (a one-shot of a deploy)")
    p = sub.add_parser("ssh", parents=[common], help="a shell on one droplet as deploy")
    p.add_argument("--droplet", type=int, default=0, help="droplet index, 0 first (DROPLET=)")
    return parser


def _exec_command(args: argparse.Namespace) -> list[str]:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if args.command_line and argv:
        raise OpsError("give the command either as --command (CMD=) or after --, not both")
    if args.command_line:
        try:
            return shlex.split(args.command_line)
        except ValueError as exc:
            raise OpsError(f"cannot split the command {args.command_line!r}: {exc}") from None
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        outputs = stack_outputs(args.stack)
        if outputs.get("cluster_name"):
            kube = kube_argv(args, outputs, _exec_command(args) if args.op == "exec" else ())
            if args.dry_run:
                print(shlex.join(kube))
                return 0
            return subprocess.run(kube, check=False).returncode
    except OpsError as exc:
        print(f"webstack {args.op}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.op == "exec":
            command = _exec_command(args)
            tty = terminal_attached()
            commands = plan_exec(load_stack(args.stack, "exec", outputs), command, tty=tty)
        elif args.op == "logs":
            if args.tail < 0:
                raise OpsError("--tail is a number of lines, 0 or more")
            process = args.process.strip()
            if not process:
                raise OpsError(NO_PROCESS)
            stack = load_stack(args.stack, "logs", outputs)
            commands = plan_logs(stack, process, tail=args.tail, follow=not args.no_follow, wait=args.wait)
        else:
            commands = plan_ssh(load_stack(args.stack, "ssh", outputs), args.droplet)
    except OpsError as exc:
        print(f"webstack {args.op}: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        _print_commands(commands)
        return 0
    if args.op == "logs":
        return run_prefixed(commands)
    return run_one(commands[0])


if __name__ == "__main__":
    sys.exit(main())
