"""`make exec/logs/ssh` (tools/ops.py) against a stack built from a real recording.

Fakes on PATH stand in for the outside world, each faithful where it matters:
- `pulumi`, the CLI that Pulumi's Automation API runs (tools/stackapi.py selects the stack
  through `pulumi.automation.select_stack`): `version`, `stack select`, and `stack output
  --json` printing the recording's exports, secret ones as "[secret]" (and, like the real CLI,
  in plain text with --show-secrets: using it would show here);
- `ssh` logs its arguments and either stops there (record) or, like sshd, runs the remote
  command with bash in a session of its own on "the droplet" (run);
- `docker` answers `ps`, `inspect`, `run` and `logs` from the containers the recording put
  on that droplet (names, droplet labels, image ids, env lists with the fake secrets).
Every test that runs a command then searches its arguments and output for the secrets.
"""

from __future__ import annotations

import functools
import io
import json
import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components.droplets import dockerhost
from testing import harness
from tests.conftest import STACKS, recorded
from tools import ops

CONTAINER = "docker:index/container:Container"
COMMAND = ["python", "manage.py", "createsuperuser"]
TERMINAL_ATTACHED = ops.terminal_attached


@functools.cache
def _without_release() -> harness.Run:
    """Staging on two droplets without a release command, two workers per droplet."""
    return harness.run(
        "staging",
        overrides={"app.releaseCommand": None, "app.processes.worker.count": 2, "app.replicas": 2,
                   "app.dropletSize": "s-2vcpu-4gb"},
    )  # fmt: skip


# The fakes are sh (a Python start costs more than everything they do). Each appends its
# name, the droplet it runs on (docker) and its arguments to calls.log: fields end with \037, calls with \036.
# One write per call (an O_APPEND write this small is atomic): the followers of `make logs` run
# at once, and two writes per call let their records interleave.
LOG_CALL = """here=$(dirname "$0")
record=$(printf '%s\\037' "$(basename "$0")" "${FAKE_DROPLET:-}" "$@")
printf '%s\\036' "$record" >> "$here/calls.log"
"""

FAKE_PULUMI = r"""
[ "$1" = --non-interactive ] && shift
[ "$1" = version ] && { echo v3.272.0; exit 0; }
if [ -n "${FAKE_PULUMI_FAIL:-}" ]; then echo "error: no stack named 'nope' found" >&2; exit 255; fi
[ "$1 $2" = "stack select" ] && exit 0
for a in "$@"; do [ "$a" = --show-secrets ] && exec cat "$here/outputs-plain.json"; done
exec cat "$here/outputs.json"
"""

FAKE_SSH = r"""
while [ $# -gt 0 ]; do case "$1" in -o) shift 2 ;; -*) shift ;; *) break ;; esac; done
host=$1; shift
if [ "${FAKE_SSH:-record}" != run ] || [ $# -eq 0 ]; then exit 0; fi
# sshd: the login shell (bash) runs the command in a session of its own.
FAKE_DROPLET=${host#*@} exec setsid -w bash -c "$*"
"""

# Answers from droplets/<ip>/: id, ps-all and ps-running (names, newest first), and per
# container image/<name> and env/<name>, written from the recording.
FAKE_DOCKER = r"""
d="$here/droplets/$FAKE_DROPLET"
op=$1; shift
eval "last=\${$#}"
case "$op" in
ps)
    list=ps-running
    for a in "$@"; do
        case "$a" in
        -a) list=ps-all ;;
        label=*) [ "$a" = "label=webstack.droplet=$(cat "$d/id")" ] || exit 0 ;;
        esac
    done
    cat "$d/$list" ;;
inspect)
    [ -f "$d/image/$last" ] || { echo "Error: No such object: $last" >&2; exit 1; }
    case "$2" in
    '{{.Image}}') cat "$d/image/$last" ;;
    '{{json .Config.Env}}') cat "$d/env/$last" ;;
    *) echo "fake docker: unknown format $2" >&2; exit 3 ;;
    esac ;;
run)
    prev=; for a in "$@"; do
        [ "$prev" = --env-file ] && f=$a
        # A bare -e NAME: docker takes the value from its own environment.
        [ "$prev" = -e ] && printenv "$a" > "$here/env-from-environment-$a"
        prev=$a
    done
    printf '%s\n' "$f" > "$here/env-file-path"
    stat -c '%a %u' "$f" > "$here/env-file-mode"
    cp "$f" "$here/env-file-content"
    echo "fake container ran: $*"
    exit "${FAKE_RUN_EXIT:-0}" ;;
logs)
    if [ -n "${FAKE_LOGS_HANG:-}" ]; then
        echo $$ >> "$here/followers"; echo "$last started"; exec sleep 60
    fi
    echo "$last says hello"; echo "$last complains" >&2 ;;
*) echo "fake docker: unexpected $op" >&2; exit 3 ;;
esac
"""


def _masked(run: harness.Run) -> dict:
    """What `pulumi stack output --json` prints: secret outputs as "[secret]"."""
    return {k: ("[secret]" if e.secret else e.value) for k, e in run.exports.items()}


def _droplet_of(c: harness.Resource) -> str:
    return next(label["value"] for label in c.inputs.get("labels", []) if label["label"] == dockerhost.DROPLET_LABEL)


def _droplets(run: harness.Run, extra: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """Per droplet IP, the containers the recording put there, in creation order."""
    ids = run.exports["droplet_ids"].value
    ips = run.exports["droplet_ips"].value
    state: dict[str, list[dict]] = {ip: list((extra or {}).get(ip, [])) for ip in ips}
    for c in run.of_type(CONTAINER):
        ip = ips[ids.index(_droplet_of(c))]
        state[ip].append(
            {
                "name": c.inputs["name"],
                "labels": {label["label"]: label["value"] for label in c.inputs.get("labels", [])},
                "image": c.inputs["image"],
                "env": c.inputs.get("envs") or [],
                "running": c.inputs.get("restart") != "no",
            }
        )
    return state


def _secrets(run: harness.Run) -> set[str]:
    """The marker, every secret export and every secret value of any container's env."""
    found = {harness.SECRET_MARK}
    for e in run.exports.values():
        if e.secret and isinstance(e.value, str) and e.value:
            found.add(e.value)
    for c in run.of_type(CONTAINER):
        for line in c.inputs.get("envs") or []:
            _, _, value = line.partition("=")
            if harness.SECRET_MARK in value:
                found.add(value)
    return found


class World:
    """The fakes of one test, the recording they answer from, and what they saw."""

    def __init__(self, root: Path, run: harness.Run, monkeypatch, extra=None):
        self.root, self.run = root, run
        self.ids = run.exports["droplet_ids"].value
        self.ips = run.exports["droplet_ips"].value
        for name, body in (("pulumi", FAKE_PULUMI), ("ssh", FAKE_SSH), ("docker", FAKE_DOCKER)):
            path = root / name
            path.write_text(f"#!/bin/sh\n{LOG_CALL}{body}")
            path.chmod(0o755)
        (root / "outputs.json").write_text(json.dumps(_masked(run)))
        (root / "outputs-plain.json").write_text(json.dumps({k: e.value for k, e in run.exports.items()}))
        self.set_droplets(_droplets(run, extra))
        self.env = {**os.environ, "PATH": f"{root}{os.pathsep}{os.environ['PATH']}"}
        monkeypatch.setenv("PATH", self.env["PATH"])
        self.secrets = _secrets(run)

    def set_droplets(self, state: dict[str, list[dict]]) -> None:
        """What each droplet's docker knows (see FAKE_DOCKER)."""
        for ip, containers in state.items():
            d = self.root / "droplets" / ip
            for sub in ("image", "env"):
                (d / sub).mkdir(parents=True, exist_ok=True)
            (d / "id").write_text(self.ids[self.ips.index(ip)])
            newest_first = list(reversed(containers))
            (d / "ps-all").write_text("".join(f"{c['name']}\n" for c in newest_first))
            (d / "ps-running").write_text("".join(f"{c['name']}\n" for c in newest_first if c["running"]))
            for c in containers:
                (d / "image" / c["name"]).write_text(c["image"] + "\n")
                (d / "env" / c["name"]).write_text(json.dumps(c["env"]))

    def set_outputs(self, outputs: dict) -> None:
        (self.root / "outputs.json").write_text(json.dumps(outputs))

    def calls(self, prog: str | None = None) -> list[dict]:
        path = self.root / "calls.log"
        records = path.read_text().split("\036")[:-1] if path.exists() else []
        fields = [r.split("\037")[:-1] for r in records]
        calls = [{"prog": f[0], "droplet": f[1], "argv": f[2:]} for f in fields]
        return [c for c in calls if prog in (None, c["prog"])]

    def forget_calls(self) -> None:
        (self.root / "calls.log").unlink(missing_ok=True)

    def env_file_seen(self) -> dict:
        mode, owner = (self.root / "env-file-mode").read_text().split()
        return {
            "path": (self.root / "env-file-path").read_text().strip(),
            "mode": int(mode, 8),
            "owner": int(owner),
            "env": (self.root / "env-file-content").read_text().splitlines(),
        }

    def assert_no_secret(self, *texts: str) -> None:
        """No secret in any argument any fake received, nor in the given output."""
        everything = [json.dumps(c["argv"]) for c in self.calls()] + list(texts)
        for text in everything:
            leaked = [s for s in self.secrets if s in text]
            assert not leaked, f"secret in {text[:300]!r}"


@pytest.fixture
def world(tmp_path, monkeypatch):
    def make(stack="prod", run=None, extra=None, tty=False) -> World:
        monkeypatch.setattr(ops, "terminal_attached", lambda: tty)
        return World(tmp_path, run or recorded(stack), monkeypatch, extra)

    return make


def _host(call: dict) -> str:
    return next(a for a in call["argv"] if a.startswith(f"{dockerhost.DEPLOY_USER}@"))


def _opts_of(call: dict) -> list[str]:
    argv = call["argv"]
    return argv[: argv.index(_host(call))]


def _recorded_ssh_opts(run: harness.Run, index: int) -> list[str]:
    provider = next(r for r in run.resources if r.name == f"webstack-{run.stack}-host-{index}-docker")
    opts = provider.inputs["sshOpts"]
    return json.loads(opts) if isinstance(opts, str) else opts


# --------------------------------------------------------------------------- exec


@pytest.mark.parametrize("stack", STACKS)
def test_exec_runs_once_on_the_first_droplet_with_rm_as_deploy(world, stack, capfd):
    w = world(stack)
    assert ops.main(["exec", "--stack", stack, "--", *COMMAND]) == 0
    (call,) = w.calls("ssh")
    assert _host(call) == f"deploy@{w.ips[0]}"
    # The docker provider's own ssh options for droplet 0: its known_hosts file, accept-new.
    assert _opts_of(call)[:-1] == _recorded_ssh_opts(w.run, 0) == dockerhost.ssh_opts(w.ids[0])
    assert f"UserKnownHostsFile={dockerhost.known_hosts_file(w.ids[0])}" in call["argv"]
    assert "StrictHostKeyChecking=accept-new" in call["argv"]
    script = call["argv"][-1]
    assert "docker run --rm -i --network " + f"webstack-{w.ids[0]}" in script
    assert script.rstrip("'").endswith(" ".join(COMMAND))
    # Through the Automation API: its version check, `stack select`, then the outputs without
    # --show-secrets.
    assert [c["argv"] for c in w.calls("pulumi")] == [
        ["version"],
        ["--non-interactive", "stack", "select", "--stack", stack],
        ["--non-interactive", "stack", "output", "--json", "--stack", stack],
    ]
    w.assert_no_secret(*capfd.readouterr())


@pytest.mark.parametrize("tty", [True, False])
def test_exec_is_interactive_only_with_a_terminal(world, tty):
    w = world("prod", tty=tty)
    assert ops.main(["exec", "--stack", "prod", "--command", "python manage.py createsuperuser"]) == 0
    (call,) = w.calls("ssh")
    assert _opts_of(call)[-1] == ("-t" if tty else "-T")
    assert (" -it " in call["argv"][-1]) == tty
    assert " -i " in call["argv"][-1] or tty


def test_terminal_detection_with_a_real_terminal_and_with_pipes(world, monkeypatch, capsys):
    w = world("prod")
    monkeypatch.setattr(ops, "terminal_attached", TERMINAL_ATTACHED)
    cli = [sys.executable, "-m", "tools.ops", "exec", "--stack", "prod", "--dry-run", "--", *COMMAND]
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(cli, stdin=slave, stdout=slave, stderr=slave, env=w.env, cwd=harness.ROOT)
        os.close(slave)
        out = b""
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            try:
                chunk = os.read(master, 65536) if ready else b""
            except OSError:  # the terminal's other end closed
                chunk = b""
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=30) == 0, out
    finally:
        os.close(master)
    with_tty = out.decode()
    assert "docker run --rm -it " in with_tty and " -t deploy@" in with_tty
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # piped in: no terminal, even with one for stdout
    assert ops.main(cli[3:]) == 0
    piped = capsys.readouterr()
    assert "docker run --rm -i --network" in piped.out and " -T deploy@" in piped.out
    assert "-it" not in piped.out
    w.assert_no_secret(with_tty, piped.out, piped.err)


def test_exec_hands_the_release_env_to_the_container_through_a_private_file(world, capfd, monkeypatch):
    w = world("prod")
    monkeypatch.setenv("FAKE_SSH", "run")
    assert ops.main(["exec", "--stack", "prod", "--", *COMMAND]) == 0
    out, err = capfd.readouterr()
    migrate = w.run.named("webstack-prod-app-0-migrate")
    (run_call,) = [c for c in w.calls("docker") if c["argv"][0] == "run"]
    assert run_call["droplet"] == w.ips[0]
    seen = w.env_file_seen()
    # The release env: migrate's own, with the direct (unpooled) DATABASE_URL.
    assert seen["env"] == migrate.inputs["envs"]
    assert f"DATABASE_URL={w.run.exports['database_direct_url'].value}" in seen["env"]
    assert any(harness.SECRET_MARK in line for line in seen["env"])  # the search below is not vacuous
    assert seen["mode"] == 0o600 and seen["owner"] == os.getuid()
    assert not os.path.exists(seen["path"])  # removed once the container ended
    assert run_call["argv"] == [
        "run", "--rm", "-i", "--network", f"webstack-{w.ids[0]}", "--env-file", seen["path"],
        "--volumes-from", "migrate", migrate.inputs["image"], *COMMAND,
    ]  # fmt: skip
    assert out.startswith("fake container ran: ") and out.rstrip().endswith(" ".join(COMMAND))
    assert "image and env of migrate" in err
    w.assert_no_secret(out, err)


def test_exec_carries_a_multi_line_secret_intact_without_it_reaching_an_argument(world, capfd, monkeypatch):
    # A PEM key (SAML, JWT signing) as an app gets it in its env: an env file cannot hold it,
    # so it reaches `docker run` through its environment, byte for byte.
    w = world("prod")
    body = harness.fake_secret("pem", length=64)
    pem = f"-----BEGIN PRIVATE KEY-----\n{body}\n{body[::-1]}\n-----END PRIVATE KEY-----\n"
    state = _droplets(w.run)
    for containers in state.values():
        for c in containers:
            if c["name"] == "migrate":
                c["env"] = [*c["env"], f"SAML_PRIVATE_KEY={pem}", "ONE_LINE=a=b c"]
    w.set_droplets(state)
    w.secrets |= {body, body[::-1]}
    monkeypatch.setenv("FAKE_SSH", "run")
    assert ops.main(["exec", "--stack", "prod", "--", *COMMAND]) == 0
    out, err = capfd.readouterr()
    # printenv adds one line break of its own.
    assert (w.root / "env-from-environment-SAML_PRIVATE_KEY").read_text() == pem + "\n"
    seen = w.env_file_seen()
    assert "ONE_LINE=a=b c" in seen["env"] and not any("PRIVATE KEY" in line for line in seen["env"])
    (run_call,) = [c for c in w.calls("docker") if c["argv"][0] == "run"]
    at = run_call["argv"].index("--env-file")
    assert run_call["argv"][at + 2 : at + 4] == ["-e", "SAML_PRIVATE_KEY"]
    assert not os.path.exists(seen["path"])
    w.assert_no_secret(out, err)


def test_exec_passes_the_exit_code_back_and_still_removes_the_env_file(world, capfd, monkeypatch):
    w = world("prod")
    monkeypatch.setenv("FAKE_SSH", "run")
    monkeypatch.setenv("FAKE_RUN_EXIT", "3")
    assert ops.main(["exec", "--stack", "prod", "--", "false"]) == 3
    assert not os.path.exists(w.env_file_seen()["path"])
    w.assert_no_secret(*capfd.readouterr())


def test_exec_without_a_release_command_uses_the_newest_running_web(world, capfd, monkeypatch):
    run = _without_release()
    assert run.exports["release_command"].value is False
    ids, ips = run.exports["droplet_ids"].value, run.exports["droplet_ips"].value
    older = {"name": "web-00000000", "labels": {dockerhost.DROPLET_LABEL: ids[0]}, "image": "sha256:old",
             "env": ["OLD=1"], "running": True}  # fmt: skip
    w = world(run=run, extra={ips[0]: [older]})
    monkeypatch.setenv("FAKE_SSH", "run")
    assert ops.main(["exec", "--stack", "staging", "--", *COMMAND]) == 0
    web = w.run.named("webstack-staging-app-0-web")
    seen = w.env_file_seen()
    assert seen["env"] == web.inputs["envs"]
    assert f"DATABASE_URL={w.run.exports['database_url'].value}" in seen["env"]  # web's: pooled
    (run_call,) = [c for c in w.calls("docker") if c["argv"][0] == "run"]
    assert run_call["argv"][-len(COMMAND) - 1] == web.inputs["image"]
    w.assert_no_secret(*capfd.readouterr())


def test_exec_says_so_when_the_container_to_copy_is_missing(world, capfd, monkeypatch):
    w = world("prod")
    state = _droplets(w.run)
    w.set_droplets({**state, w.ips[0]: [c for c in state[w.ips[0]] if c["name"] != "migrate"]})
    monkeypatch.setenv("FAKE_SSH", "run")
    assert ops.main(["exec", "--stack", "prod", "--", *COMMAND]) == 1
    err = capfd.readouterr().err
    assert "no migrate container" in err
    assert not [c for c in w.calls("docker") if c["argv"][0] in ("run",)]


def test_exec_needs_a_command(world, capsys):
    world("prod")
    assert ops.main(["exec", "--stack", "prod"]) == 2
    assert 'CMD="python manage.py createsuperuser"' in capsys.readouterr().err


# --------------------------------------------------------------------------- logs


def _runs_process(name: str, process: str) -> bool:
    """Independently of tools/ops.py: is container `name` one of `process`'s?"""
    if process == "web":
        return name.startswith("web-")
    return name == process or (name.startswith(f"{process}-") and name[len(process) + 1 :].isdigit())


def _expected(run: harness.Run, process: str) -> dict[int, set[str]]:
    """Per droplet index, the recorded containers of `process`."""
    ids = run.exports["droplet_ids"].value
    found: dict[int, set[str]] = {}
    for c in run.of_type(CONTAINER):
        if _runs_process(c.inputs["name"], process):
            found.setdefault(ids.index(_droplet_of(c)), set()).add(c.inputs["name"])
    return found


def _processes(run: harness.Run) -> list[str]:
    return ["web", "proxy", "probe", *(["migrate"] if run.cfg.app.release_command else []), *run.cfg.app.processes]


def _check_logs(w: World, process: str, out: str) -> None:
    expected = _expected(w.run, process)
    assert expected, process
    # One ssh per droplet that runs the process, none to the others.
    assert sorted(_host(c) for c in w.calls("ssh")) == sorted(f"deploy@{w.ips[i]}" for i in expected)
    for call in w.calls("ssh"):
        i = w.ips.index(_host(call).split("@")[1])
        assert _opts_of(call) == [*dockerhost.ssh_opts(w.ids[i]), "-T"]
    # Every container of it, each line prefixed with its droplet and its container.
    shown: dict[int, set[str]] = {}
    for line in out.splitlines():
        droplet, name, text = line.split(" | ", 2)
        i = int(droplet.split()[0].removeprefix("droplet-"))
        assert droplet == f"droplet-{i} {w.ips[i]}"
        assert text in (f"{name} says hello", f"{name} complains")
        shown.setdefault(i, set()).add(name)
    assert shown == expected, process


@pytest.mark.parametrize("stack", STACKS)
def test_logs_follow_each_process_on_every_droplet_that_runs_it(world, stack, capfd, monkeypatch):
    w = world(stack)
    monkeypatch.setenv("FAKE_SSH", "run")
    for process in _processes(w.run):
        w.forget_calls()
        assert ops.main(["logs", "--stack", stack, "--process", process]) == 0, process
        out, err = capfd.readouterr()
        _check_logs(w, process, out)
        assert err == ""
        w.assert_no_secret(out, err)


def test_logs_of_singletons_and_migrate_reach_the_first_droplet_only(world, capfd):
    w = world("prod")
    assert len(w.ips) == 2
    for process, targets in (("web", w.ips), ("worker", w.ips), ("beat", w.ips[:1]), ("migrate", w.ips[:1])):
        w.forget_calls()
        assert ops.main(["logs", "--stack", "prod", "--process", process, "--dry-run"]) == 0
        assert [_host(c) for c in w.calls("ssh")] == []  # a dry run runs nothing...
        printed = [line for line in capfd.readouterr().out.splitlines() if line.startswith("ssh ")]
        assert [line.split(" -T ")[1].split()[0] for line in printed] == [f"deploy@{ip}" for ip in targets]


def test_logs_of_a_process_with_several_containers_per_droplet(world, capfd, monkeypatch):
    run = _without_release()
    w = world(run=run)
    monkeypatch.setenv("FAKE_SSH", "run")
    assert ops.main(["logs", "--stack", "staging", "--process", "worker", "--no-follow", "--tail", "5"]) == 0
    out, _ = capfd.readouterr()
    _check_logs(w, "worker", out)
    assert _expected(run, "worker") == {0: {"worker-1", "worker-2"}, 1: {"worker-1", "worker-2"}}
    assert all("--tail 5" in c["argv"][-1] and "--follow" not in c["argv"][-1] for c in w.calls("ssh"))
    assert ops.main(["logs", "--stack", "staging", "--process", "migrate"]) == 2  # no release command here
    assert "its processes: web, proxy, probe, pg-grant, beat, worker" in capfd.readouterr().err


def test_following_stops_on_the_droplet_when_the_operator_goes_away(world, monkeypatch):
    w = world("prod")
    stack = ops.parse_outputs("prod", _masked(w.run), ops.NEEDS["logs"])
    (command,) = ops.plan_logs(stack, "migrate")
    env = {**w.env, "FAKE_DROPLET": w.ips[0], "FAKE_LOGS_HANG": "1"}
    remote = command.argv[-1]
    proc = subprocess.Popen(
        ["bash", "-c", remote], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True
    )
    try:
        assert proc.stdout.readline() == b"migrate | migrate started\n"  # following a quiet container
        followers = [int(p) for p in (w.root / "followers").read_text().split()]
        proc.stdin.close()  # ssh went away
        assert proc.wait(timeout=10) == 0
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in followers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in followers)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead; its parent (the fake session) may not have reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_logs_refuse_an_unknown_process_naming_the_known_ones(world, capsys):
    world("prod")
    assert ops.main(["logs", "--stack", "prod", "--process", "celery"]) == 2
    known = "web, proxy, probe, migrate, pg-grant, beat, jobs, worker"
    assert f"no process 'celery'; its processes: {known}" in capsys.readouterr().err
    assert ops.main(["logs", "--stack", "prod", "--process", ""]) == 2
    assert "PROCESS=web" in capsys.readouterr().err


# --------------------------------------------------------------------------- ssh


def test_ssh_picks_the_droplet(world, capsys):
    w = world("prod")
    for index in (0, 1):
        w.forget_calls()
        assert ops.main(["ssh", "--stack", "prod", "--droplet", str(index)]) == 0
        (call,) = w.calls("ssh")
        assert call["argv"] == [*_recorded_ssh_opts(w.run, index), f"deploy@{w.ips[index]}"]
    assert ops.main(["ssh", "--stack", "prod", "--droplet", "2"]) == 2
    assert "2 droplet(s): DROPLET is 0 to 1, not 2" in capsys.readouterr().err


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize(
    ("op", "key"),
    [(op, key) for op, keys in ops.NEEDS.items() for key in keys],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_missing_output_is_named_with_the_fix(world, capsys, op, key):
    w = world("prod")
    w.set_outputs({k: v for k, v in _masked(w.run).items() if k != key})
    extra = {"exec": ["--", "true"], "logs": ["--process", "web"], "ssh": []}[op]
    assert ops.main([op, "--stack", "prod", *extra]) == 2
    err = capsys.readouterr().err
    assert f"no output `{key}`" in err and "pulumi up --stack prod" in err
    assert w.calls("ssh") == []


def test_the_cli_reports_a_missing_output_without_a_traceback(world):
    w = world("prod")
    w.set_outputs({k: v for k, v in _masked(w.run).items() if k != "droplet_ids"})
    done = subprocess.run(
        [sys.executable, "-m", "tools.ops", "logs", "--stack", "prod", "--process", "web"],
        capture_output=True, text=True, env=w.env, cwd=harness.ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("webstack logs: stack prod has no output `droplet_ids`")
    assert "Traceback" not in done.stderr + done.stdout


def test_pulumi_failing_or_absent_is_a_clear_error(world, capsys, monkeypatch):
    w = world("prod")
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "1")
    assert ops.main(["ssh", "--stack", "nope"]) == 2
    assert "no stack named 'nope' in this backend: `pulumi stack ls` lists them" in capsys.readouterr().err
    monkeypatch.setenv("PATH", "/nonexistent")
    assert ops.main(["ssh", "--stack", "prod"]) == 2
    assert "the `pulumi` CLI is not on PATH" in capsys.readouterr().err
    monkeypatch.setenv("PATH", w.env["PATH"])
    w.set_outputs({**_masked(w.run), "droplet_ids": "[secret]"})
    monkeypatch.delenv("FAKE_PULUMI_FAIL")
    assert ops.main(["ssh", "--stack", "prod"]) == 2
    assert "`droplet_ids` is a secret" in capsys.readouterr().err


def test_outputs_that_would_reach_a_shell_are_checked(world, capsys):
    w = world("prod")
    for key, bad in (("droplet_ids", ["1; rm -rf ~", "2"]), ("droplet_ips", ["$(id)", "192.0.2.1"]),
                     ("processes", {"x;y": {"count": 1, "singleton": False}})):  # fmt: skip
        w.set_outputs({**_masked(w.run), key: bad})
        assert ops.main(["logs", "--stack", "prod", "--process", "web"]) == 2, key
        assert "stack prod:" in capsys.readouterr().err
    assert w.calls("ssh") == []


# --------------------------------------------------------------------------- scripts, make


def test_the_remote_scripts_are_valid_shell(world):
    w = world("prod")
    stack = ops.parse_outputs("prod", _masked(w.run), ops.NEEDS["logs"])
    commands = [
        *ops.plan_exec(stack, ["sh", "-c", "echo 'it''s' \"$HOME\""], tty=True),
        *ops.plan_exec(stack, COMMAND, tty=False),
        *ops.plan_exec(ops.Stack("prod", stack.droplets, {}, False), COMMAND, tty=False),
        *ops.plan_logs(stack, "web"),
        *ops.plan_logs(stack, "beat", follow=False),
    ]
    for command in commands:
        for shell, text in (("sh", command.script), ("bash", command.argv[-1])):  # the script; the login shell's line
            check = subprocess.run([shell, "-n", "-c", text], capture_output=True, text=True)
            assert check.returncode == 0, (shell, check.stderr, text)
        assert command.argv[-1] == ops.remote(command.script)


def test_make_targets_pass_the_command_intact_and_refuse_words_after_dashes(world):
    w = world("prod")
    make = ["make", "--no-print-directory", "-o", "venv/bin/.installed"]
    cmd = """python manage.py shell -c "print('it''s', $HOME)" --flag=x"""
    done = subprocess.run(
        [*make, "exec", "STACK=prod", "ARGS=--dry-run", f"CMD={cmd}"],
        capture_output=True, text=True, env=w.env, cwd=harness.ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (run_line,) = [line for line in done.stdout.splitlines() if line.startswith("#   docker run ")]
    assert shlex.split(run_line.split(' "$image" ', 1)[1]) == shlex.split(cmd)  # quotes and $ as typed
    w.assert_no_secret(done.stdout, done.stderr)
    refused = subprocess.run(
        [*make, "exec", "STACK=prod", "--", "python", "manage.py", "test"],
        capture_output=True, text=True, env=w.env, cwd=harness.ROOT, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0
    assert 'write: make exec STACK=prod CMD="python manage.py test"' in refused.stderr
    assert w.calls() == [c for c in w.calls() if c["prog"] == "pulumi"]  # nothing ran, test target included
    recipes = subprocess.run(
        [*make, "-n", "logs", "ssh", "STACK=prod", "PROCESS=beat", "DROPLET=1", "ARGS=--tail 5"],
        capture_output=True, text=True, cwd=harness.ROOT, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    assert [shlex.split(line)[1:] for line in recipes] == [
        ["-m", "tools.ops", "logs", "--stack", "prod", "--process", "beat", "--tail", "5"],
        ["-m", "tools.ops", "ssh", "--stack", "prod", "--droplet", "1", "--tail", "5"],
    ]


def test_logs_wait_for_a_one_shot_that_a_deploy_has_not_created_yet(world, capfd, monkeypatch):
    """`make logs PROCESS=migrate ARGS=--wait` started beside `pulumi up`: the release command's
    container appears a moment later and its output is shown (make plan's checklist names it)."""
    import threading

    w = world("prod")
    full = _droplets(w.run)
    w.set_droplets({ip: [c for c in cs if c["name"] != "migrate"] for ip, cs in full.items()})
    monkeypatch.setenv("FAKE_SSH", "run")
    assert ops.main(["logs", "--stack", "prod", "--process", "migrate", "--no-follow"]) == 1
    assert "no migrate container on droplet-0" in capfd.readouterr().out
    threading.Timer(1.0, w.set_droplets, [full]).start()
    assert ops.main(["logs", "--stack", "prod", "--process", "migrate", "--no-follow", "--wait"]) == 0
    out, _ = capfd.readouterr()
    assert "waiting for migrate on droplet-0" in out
    assert "migrate | migrate says hello" in out
    # Both runs reach the first droplet only: the release command's place.
    assert {_host(c) for c in w.calls("ssh")} == {f"deploy@{w.ips[0]}"}


def test_the_admin_step_is_followed_on_the_first_droplet(world, capfd, monkeypatch):
    w = world("prod")
    assert ops.main(["logs", "--stack", "prod", "--process", "pg-grant", "--dry-run"]) == 0
    out = capfd.readouterr().out
    assert out.count("# droplet-") == 1 and f"# droplet-0 {w.ips[0]}" in out


def test_the_commands_read_the_stack_only_through_the_automation_api_boundary(monkeypatch, capsys):
    """tools/stackapi.py faked in process: ops asks it for the outputs (no CLI, no ssh run)."""
    from tools import stackapi

    run = recorded("prod")
    asked = []
    monkeypatch.setattr(stackapi, "outputs", lambda stack: asked.append(stack) or _masked(run))
    monkeypatch.setenv("PATH", "/nonexistent")  # no pulumi, no ssh: only the boundary answers
    assert ops.main(["ssh", "--stack", "prod", "--droplet", "1", "--dry-run"]) == 0
    assert asked == ["prod"]
    assert f"deploy@{run.exports['droplet_ips'].value[1]}" in capsys.readouterr().out

    def refused(stack):
        raise stackapi.StackApiError(f"no stack named {stack!r} in this backend: `pulumi stack ls` lists them")

    monkeypatch.setattr(stackapi, "outputs", refused)
    assert ops.main(["exec", "--stack", "qa", "--", "true"]) == 2
    assert (
        capsys.readouterr().err == "webstack exec: no stack named 'qa' in this backend: `pulumi stack ls` lists them\n"
    )
