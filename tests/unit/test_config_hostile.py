"""Hostile and broken configs (principles 8 and 14): every text field of the models refuses what
its consumers cannot take, each refusal is a ConfigError naming the key (never a traceback) in
a short message, and what is accepted is harmless to the real consumer.

The text fields are not listed by hand: they are walked from the models, so a field added later
is covered the day it is added (and this file fails until it has a valid sample). A Python `$`
also matches before a final newline, which once let a job named "clear\\n" split the crontab
line and silence every job; now each field must refuse "valid\\n" (or be free text, listed
below with the reason its consumers are safe with line breaks).
"""

from __future__ import annotations

import ast
import copy
import json
import re
import time
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, EmailStr

from components.config import ConfigError, StackConfig, loading, parse
from components.config.base import FREE_TEXT_MAX_BYTES, FreeText, Secret, shown
from testing import harness
from tests import realprog

KEY, ITEM, VALUE = "{}", "[]", "*"  # a map's key, a list's item, a map's value, in a leaf's path


@dataclass(frozen=True)
class Leaf:
    """One place of the config holding a scalar, e.g. app.processes.{} (a process's name)."""

    path: tuple[str, ...]
    free: FreeText | None
    secret: bool
    text: bool
    """A string (free or one line, or one of a choice of strings); else a number or a boolean."""

    @property
    def name(self) -> str:
        return ".".join(self.path).replace(f".{ITEM}", ITEM)


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata = [*metadata, *extra]
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation, metadata


def _leaves(annotation: Any, metadata: list[Any], path: tuple[str, ...]):
    annotation, metadata = _unwrap(annotation, metadata)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            yield from _leaves(field.annotation, list(field.metadata), (*path, field.alias or name))
    elif origin is dict:
        key, value = typing.get_args(annotation)
        yield from _leaves(key, [], (*path, KEY))
        yield from _leaves(value, [], (*path, VALUE))
    elif origin is tuple:
        yield from _leaves(typing.get_args(annotation)[0], metadata, (*path, ITEM))
    elif origin in (typing.Union, UnionType):  # each form a key takes (generatedSecrets: 1 or {...})
        for member in typing.get_args(annotation):
            yield from _leaves(member, metadata, path)
    else:
        if annotation is EmailStr:  # pydantic's e-mail type: a str checked by email-validator
            annotation = str
        assert annotation in (str, int, bool) or origin is typing.Literal, f"{'.'.join(path)}: a type this walk misses"
        choices = typing.get_args(annotation) if origin is typing.Literal else ()
        text = annotation is str or (bool(choices) and all(isinstance(c, str) for c in choices))
        free = next((m for m in metadata if isinstance(m, FreeText)), None)
        yield Leaf(path, free, any(isinstance(m, Secret) for m in metadata), text)


ALL_LEAVES = tuple(_leaves(StackConfig, [], ()))
LEAVES = tuple(leaf for leaf in ALL_LEAVES if leaf.text)

# The free-text fields, with why a line break is safe there; every other text field is one line.
FREE_TEXT = {
    "app.webCommand[]": "argv of the web container (Docker exec, no shell)",
    "app.releaseCommand[]": "argv of the migrate container (Docker exec, no shell)",
    "app.processes.*.command[]": "argv of the process's containers (Docker exec, no shell)",
    "app.jobs.*.command[]": "argv in the job script, each quoted by shlex.quote (sh -n and busybox below)",
    "app.env.*": "one env entry through the Docker API; with jobs, the env file refuses a line break",
    "app.secretEnv.*": "as app.env, as a Pulumi secret",
    "secretEnv.*": "as app.env, as a Pulumi secret",
    "app.registry.password": "the registry token, sent to the Docker API in JSON by the docker provider",
}


def test_the_free_text_fields_are_the_listed_ones_each_with_its_reason():
    assert {leaf.name for leaf in LEAVES if leaf.free} == set(FREE_TEXT)
    assert all(len(leaf.free.why) > 20 for leaf in LEAVES if leaf.free)
    assert len(LEAVES) > 70, "the walk finds every text field (74 when written)"


# --------------------------------------------------------------------------- placing a value

V = object()  # where the value under test goes in a sample
SECRET_KEYS = frozenset(StackConfig.model_json_schema(by_alias=True)["properties"])  # all held secret
JOB = {"schedule": "0 3 * * *", "command": ["manage.py", "clearsessions"], "memoryMb": 32}
TOKEN = {"kind": "token", "server": "ghcr.io", "username": "bot", "password": "t0ken"}
ZONE = "0123456789abcdef0123456789abcdef"
RECORD = {"name": "staging.example.com", "type": "TXT", "content": "hello"}
MX = {**RECORD, "type": "MX", "content": "mx.example.net"}
SITE = {"hostname": "web-staging.example.com"}
ACCOUNT = {"edge.accountId": ZONE}
DOCR = {"app.image": "registry.digitalocean.com/shop/app:1"}
# Staging on the Kubernetes engine (no droplet size there), with room for every pod at its most.
KUBE = {"engine": "kubernetes", "app.dropletSize": None, "cluster.maxNodes": 5, "database.poolSize": 20}
SCALE = {"min": 1, "max": 3, "cpuPercent": 70, "memoryPercent": 80}

# A valid config holding each field that staging's stack file and the defaults leave unset:
# (overrides with V where the value goes, a valid value).
PLACES: dict[str, tuple[dict[str, Any], str]] = {
    "app.registry.kind": ({"app.registry": {**TOKEN, "kind": V}}, "token"),
    "app.registry.name": ({**DOCR, "app.registry": {"kind": "docr", "name": V}}, "shop"),
    "app.registry.server": ({"app.registry": {**TOKEN, "server": V}}, "ghcr.io"),
    "app.registry.username": ({"app.registry": {**TOKEN, "username": V}}, "bot"),
    "app.registry.password": ({"app.registry": {**TOKEN, "password": V}}, "t0ken"),
    "app.jobs.{}": ({"app.jobs": {V: JOB}}, "nightly"),
    "app.jobs.*.schedule": ({"app.jobs": {"nightly": {**JOB, "schedule": V}}}, "0 3 * * *"),
    "app.jobs.*.command[]": ({"app.jobs": {"nightly": {**JOB, "command": [V]}}}, "clearsessions"),
    "app.jobs.*.memoryMb": ({"app.jobs": {"nightly": {**JOB, "memoryMb": V}}}, 32),
    "app.secretEnv.{}": ({"app.secretEnv": {V: "sk_test_1"}}, "STRIPE_KEY"),
    "app.secretEnv.*": ({"app.secretEnv": {"STRIPE_KEY": V}}, "sk_test_1"),
    "secretEnv.{}": ({"secretEnv": {V: "hunter2"}}, "SMTP_PASSWORD"),
    "secretEnv.*": ({"secretEnv": {"SMTP_PASSWORD": V}}, "hunter2"),
    "app.envAliases.{}": ({"app.envAliases": {V: "databaseUrl"}}, "DB_URL"),
    "app.envAliases.*": ({"app.envAliases": {"DB_URL": V}}, "databaseUrl"),
    "app.generatedSecrets.*.length": ({"app.generatedSecrets": {"APP_KEY": {"length": V}}}, 32),
    "app.generatedSecrets.*.alphabet": ({"app.generatedSecrets": {"APP_KEY": {"alphabet": V}}}, "hex"),
    "app.generatedSecrets.*.rotation": ({"app.generatedSecrets": {"APP_KEY": {"rotation": V}}}, 2),
    "valkey.cacheSize": ({"valkey.splitCache": True, "valkey.cacheSize": V}, "db-s-1vcpu-1gb"),
    "edge.zoneId": ({"edge.zoneId": V}, ZONE),
    "edge.import.rateLimit": ({"edge.import": {"rateLimit": V}, "edge.zoneId": ZONE}, ZONE),
    "edge.import.records.{}": ({"edge.import": {"records": {V: ZONE}}, "edge.zoneId": ZONE}, "staging.example.com"),
    "edge.import.records.*": ({"edge.import": {"records": {"staging.example.com": V}}, "edge.zoneId": ZONE}, ZONE),
    "edge.accountId": ({"edge.accountId": V}, ZONE),
    "edge.records[].name": ({"edge.records": [{**RECORD, "name": V}]}, "staging.example.com"),
    "edge.records[].type": ({"edge.records": [{**RECORD, "type": V}]}, "TXT"),
    "edge.records[].content": ({"edge.records": [{**RECORD, "content": V}]}, "hello"),
    "edge.records[].import": ({"edge.records": [{**RECORD, "import": V}], "edge.zoneId": ZONE}, ZONE),
    "edge.records[].priority": ({"edge.records": [{**MX, "priority": V}]}, 10),
    "edge.records[].ttl": ({"edge.records": [{**RECORD, "ttl": V}]}, 300),
    "edge.records[].proxied": ({"edge.records": [{**RECORD, "proxied": V}]}, False),
    "frontend.hostname": ({"frontend.hostname": V, **ACCOUNT}, "web-staging.example.com"),
    "frontend.projectName": ({"frontend": {**SITE, "projectName": V}, **ACCOUNT}, "shop-web"),
    "frontend.productionBranch": ({"frontend": {**SITE, "productionBranch": V}, **ACCOUNT}, "main"),
    "proxy.websocketPaths[]": ({"proxy.websocketPaths": [V]}, "/ws"),
    "proxy.staticPath": ({"proxy.staticPath": V}, "/static/"),
    "media.publicHostname": ({"media.enabled": True, "media.publicHostname": V}, "media.example.com"),
    "media.corsOrigins[]": ({"media.enabled": True, "media.corsOrigins": [V]}, "https://example.com"),
    "volume.processes[]": ({"volume.enabled": True, "volume.processes": [V]}, "web"),
    "volume.owner": ({"volume.enabled": True, "volume.owner": V}, "1000:1000"),
    "backups.offsiteRegion": ({"backups.offsiteRegion": V}, "ams3"),
    "app.capabilities[]": ({"app.capabilities": [V]}, "CHOWN"),
    **{
        f"app.autoscale.{k}": ({**KUBE, "app.replicas": None, "app.autoscale": {**SCALE, k: V}}, v)
        for k, v in SCALE.items()
    },
    **{
        f"app.processes.*.autoscale.{k}": ({**KUBE, "app.processes.worker.autoscale": {**SCALE, k: V}}, v)
        for k, v in SCALE.items()
    },
    **{
        f"cluster.{k}": ({**KUBE, f"cluster.{k}": V}, v)
        for k, v in {
            "version": "1.36", "ha": True, "nodeSize": "s-4vcpu-8gb", "minNodes": 2, "maxNodes": 5,
            "systemNodeSize": "s-2vcpu-4gb", "systemNodes": 2, "autoUpgrade": False, "surgeUpgrade": False,
        }.items()
    },
    "cluster.maintenance.day": ({**KUBE, "cluster.maintenance": {"day": V}}, "any"),
    "cluster.maintenance.hour": ({**KUBE, "cluster.maintenance": {"hour": V}}, 5),
}  # fmt: skip
STACK_OF = {"edge.import.rateLimit": "prod"}  # owns the zone-wide rate limit


@cache
def _base(stack: str) -> dict[str, Any]:
    return harness.stack_config(stack)


def _place(leaf: Leaf) -> tuple[str, dict[str, Any], Any]:
    """(stack, overrides with V, a valid value) for `leaf`: from PLACES, or where the stack file
    or a default already has a value."""
    if leaf.name in PLACES:
        return STACK_OF.get(leaf.name, "staging"), *PLACES[leaf.name]
    node: Any = _base("staging")
    model: Any = StackConfig
    dotted: list[str] = []
    for part in leaf.path:
        if part == ITEM:
            assert isinstance(node, list | tuple) and node, f"{leaf.name}: add a sample to PLACES"
            return "staging", {".".join(dotted): [V]}, node[0]
        if part == KEY:
            assert isinstance(node, dict) and node, f"{leaf.name}: add a sample to PLACES"
            key = sorted(node)[0]
            return "staging", {".".join(dotted): {V: node[key]}}, key
        if part == VALUE:
            part = sorted(node)[0]
        elif isinstance(model, type) and issubclass(model, BaseModel):
            field = next(f for n, f in model.model_fields.items() if part in (n, f.alias))
            default = field.get_default(call_default_factory=True)
            model = _unwrap(field.annotation, [])[0]
            if not (isinstance(node, dict) and part in node) and default is not None:
                dump = default.model_dump(by_alias=True) if isinstance(default, BaseModel) else default
                node = {**(node if isinstance(node, dict) else {}), part: dump}
        dotted.append(part)
        assert isinstance(node, dict) and part in node, f"{leaf.name}: add a sample to PLACES"
        node = node[part]
        model = _unwrap(typing.get_args(model)[1], [])[0] if typing.get_origin(model) is dict else model
    assert isinstance(node, str | int | bool), f"{leaf.name}: add a sample to PLACES"
    return "staging", {".".join(dotted): V}, node


def _put(tree: Any, value: Any) -> Any:
    """`tree` with V (as a value or a map key) replaced by `value`."""
    if tree is V:
        return value
    if isinstance(tree, dict):
        return {(value if k is V else k): _put(v, value) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_put(v, value) for v in tree]
    return tree


def config_with(leaf: Leaf, value: Any) -> tuple[str, dict[str, Any]]:
    """(stack, structured config) of the leaf's sample with `value` in the leaf's place (the
    stack file read once: harness.stack_config with these overrides, without reading it again)."""
    stack, overrides, _ = _place(leaf)
    config = copy.deepcopy(_base(stack))
    for dotted, v in _put(overrides, value).items():
        harness._set_path(config, dotted, v)
    return stack, config


def problems(stack: str, config: dict[str, Any]) -> list[str]:
    """The problem lines the program reports for `config` ([] when accepted), every top-level
    key held secret (so a plaintext sample secret is no problem here)."""
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    try:
        parse(raw, stack, secret_keys=SECRET_KEYS)
    except ConfigError as err:
        return [line.removeprefix("  - ") for line in str(err).splitlines()[1:]]
    return []


def _where(tree: Any, path: tuple = ()) -> tuple | None:
    """The path to V in `tree`: dict keys, list indices, and KEY when V is a map's key."""
    if tree is V:
        return path
    items = enumerate(tree) if isinstance(tree, list) else tree.items() if isinstance(tree, dict) else ()
    for k, v in items:
        if k is V:
            return (*path, KEY)
        found = _where(v, (*path, *(k.split(".") if not path and isinstance(k, str) else [k])))
        if found:
            return found
    return None


def key_named(leaf: Leaf, value: str) -> str:
    """The key a problem with `value` in the leaf's place names, as the message writes it: a
    list item by its list (or, inside the item, as records[0].name), a map's key quoted."""
    path = _where(_place(leaf)[1])
    parts: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            if i < len(path) - 1:
                parts[-1] += f"[{part}]"
        else:
            parts.append(repr(value) if part == KEY else part)
    return ".".join(parts)


def _valid(leaf: Leaf) -> Any:
    return _place(leaf)[2]


@pytest.mark.parametrize("leaf", ALL_LEAVES, ids=[leaf.name for leaf in ALL_LEAVES])
def test_each_field_has_a_valid_sample_the_program_accepts(leaf):
    stack, config = config_with(leaf, _valid(leaf))
    assert problems(stack, config) == []


ONE_LINE_LEAVES = [leaf for leaf in LEAVES if not leaf.free]
# What must never reach a one-line field: a line break ("\n" split the crontab), and what a line-based
# consumer may also split on (CR, NEL, U+2028) or cannot hold (NUL), or shows as one (TAB).
BREAKS = ["\n", "\r", "\r\n", "\x00", "\t", "\x85", "\u2028", "\u2029", "\x1b[2J"]


@pytest.mark.parametrize("leaf", ONE_LINE_LEAVES, ids=[leaf.name for leaf in ONE_LINE_LEAVES])
def test_a_line_break_or_control_character_is_refused_naming_the_key(leaf):
    valid = _valid(leaf)
    for brk in BREAKS:
        for bad in (valid + brk, valid[:1] + brk + valid[1:]):
            lines = problems(*config_with(leaf, bad))
            named = [line for line in lines if line.startswith(f"webstack:{key_named(leaf, bad)} = ")]
            assert named, (bad, lines)


FREE = [leaf for leaf in LEAVES if leaf.free]


@pytest.mark.parametrize("leaf", FREE, ids=[leaf.name for leaf in FREE])
def test_free_text_takes_line_breaks_but_no_nul_and_no_more_than_exec_takes(leaf):
    valid = _valid(leaf)
    assert problems(*config_with(leaf, f"{valid}\n{valid}\u2028\t\r\n")) == []
    for bad in (valid + "\x00", "x" * (FREE_TEXT_MAX_BYTES + 1), "é" * (FREE_TEXT_MAX_BYTES // 2 + 1)):
        (line,) = problems(*config_with(leaf, bad))
        assert line.startswith(f"webstack:{key_named(leaf, bad)} = "), line
        assert ("NUL" if "\x00" in bad else f"at most {FREE_TEXT_MAX_BYTES} bytes") in line
        assert len(line) < 300 and (not leaf.secret or "'[secret]'" in line), line
    assert problems(*config_with(leaf, "x" * FREE_TEXT_MAX_BYTES)) == []


# --------------------------------------------------------------------------- hostile values

# Shell, nginx and printf syntax, quotes, and text a terminal or a parser may misread; appended
# to a valid value of each text field. `$(touch ...)` makes a file if anything runs it.
PWNED = "webstack-pwned"
HOSTILE = [f"$(touch {PWNED})", f"`touch {PWNED}`", ";", "{", "}", "'", '"', "\\", "%s%n", " ", "#", "&", "|", "<",
           "*", "\u00e9", "\U0001f600", "\u202e", "\ufeff"]  # fmt: skip
# Wrong types and sizes for any field (a map's key is always text: JSON has no other).
WRONG = [None, 0, -1, 1.5, True, 2**70, "1", "", [], {}, [[[]]], {"a": {}}, "x" * 100_000]


@cache
def accepted(leaf: Leaf) -> tuple[str, ...]:
    """The HOSTILE suffixes the program accepts on a valid value of the leaf."""
    valid = _valid(leaf)
    return tuple(h for h in HOSTILE if not problems(*config_with(leaf, valid + h)))


@pytest.mark.parametrize("leaf", ALL_LEAVES, ids=[leaf.name for leaf in ALL_LEAVES])
def test_a_hostile_or_wrongly_typed_value_is_a_config_error_or_accepted_never_a_traceback(leaf):
    """problems() lets any exception but ConfigError through: this fails on a traceback."""
    if leaf.text:
        accepted(leaf)
    for value in WRONG:
        if KEY in leaf.path and not isinstance(value, str):
            continue
        lines = problems(*config_with(leaf, value))
        assert all(len(line) < 600 for line in lines), lines
        # Nothing is taken for what it is not (None unsets a key: its default holds).
        assert lines or value is None or type(value) is type(_valid(leaf)), (value, "accepted")


def _combined(leaf: Leaf, lines: bool) -> str:
    """A valid value of the leaf with every hostile suffix it accepts, and, in free text,
    line breaks (when `lines`)."""
    extra = "\n\u2028\tnext line\r\n" if leaf.free and lines else ""
    return _valid(leaf) + "".join(accepted(leaf)) + extra


def _set(tree: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        tree = tree[part]
    tree[path[-1]] = value


def _hostile_config(with_jobs: bool) -> tuple[dict[str, Any], dict[tuple, str]]:
    """Staging with every text field that accepts hostile text holding it all at once (and the
    free text line breaks too: in the commands with jobs, in env values without, since the job
    env file refuses them); the values by path."""
    leaves = [leaf for leaf in LEAVES if accepted(leaf) and ("jobs" in leaf.path) <= with_jobs]
    config = copy.deepcopy(_base("staging"))
    for leaf in leaves:  # every leaf's context, with valid values
        for dotted, v in _put(_place(leaf)[1], _valid(leaf)).items():
            harness._set_path(config, dotted, v)
    values = {}
    for leaf in leaves:
        env = leaf.free and leaf.path[-1] != ITEM  # env values, secrets
        path = _where(_place(leaf)[1])
        values[path] = _combined(leaf, lines=env != with_jobs)
        _set(config, path, values[path])
    assert problems("staging", config) == []
    return config, values


def _run(config: dict[str, Any]) -> harness.Run:
    secret = [k for k in ("app", "secretEnv") if k in config]
    return harness.run(
        "staging",
        {k: v for k, v in config.items() if k not in secret},
        secrets={k: json.dumps(config[k]) for k in secret},
    )


def _containers(run: harness.Run) -> dict[str, dict[str, Any]]:
    return {c.inputs["name"].split("-")[0]: c.inputs for c in run.of_type("docker:index/container:Container")}


def test_what_the_config_accepts_runs_through_the_whole_program_and_reaches_its_consumers_intact(tmp_path):
    config, values = _hostile_config(with_jobs=True)
    run = _run(config)
    containers = _containers(run)
    for name, *path in (("web", "webCommand"), ("migrate", "releaseCommand"), ("beat", "processes", "beat", "command")):
        assert values[("app", *path, 0)] in containers[name]["command"], name  # one argv item, as written
    assert f"DJANGO_SETTINGS_MODULE={values[('app', 'env', 'DJANGO_SETTINGS_MODULE')]}" in containers["web"]["envs"]
    # nginx takes the accepted CSP and WebSocket paths (nginx -t).
    from tests.unit.test_renderers import nginx_t_with_throwaway_cert

    conf = next(u["content"] for u in containers["proxy"]["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    checked = nginx_t_with_throwaway_cert(tmp_path, conf)
    assert checked.returncode == 0, checked.stderr
    # The job is a container of the app image with its command as one argv item, as written;
    # the runner's script only names it, parses, and runs under busybox sh with nothing run.
    from components.render import cron

    assert containers["job"]["command"][-1] == values[("app", "jobs", "nightly", "command", 0)]
    script = next(u["content"] for u in containers["jobs"]["uploads"] if u["file"] == cron.SCRIPT)
    calls = run_job_script(tmp_path, script, "nightly")
    assert [args for args, _ in calls] == [
        ["container", "inspect", "-f", "{{.State.Running}}", "job-nightly"],
        ["start", "--attach", "job-nightly"],
    ]


def test_the_largest_numbers_the_config_takes_run_through_the_whole_program():
    """Numbers without an upper bound (rates, counters) go to renderers and providers as given."""
    huge = 2**70
    takers = [leaf for leaf in ALL_LEAVES if not leaf.text and not problems(*config_with(leaf, huge))]
    config = copy.deepcopy(_base("staging"))
    for leaf in takers:
        for dotted, v in _put(_place(leaf)[1], huge).items():
            harness._set_path(config, dotted, v)
    assert takers and problems("staging", config) == []
    assert _run(config).resources


def test_free_text_line_breaks_reach_the_containers_intact():
    config, values = _hostile_config(with_jobs=False)
    containers = _containers(_run(config))
    env = values[("app", "env", "DJANGO_SETTINGS_MODULE")]
    assert "\n" in env and f"DJANGO_SETTINGS_MODULE={env}" in containers["web"]["envs"]
    assert values[("app", "webCommand", 0)] in containers["web"]["command"]


# --------------------------------------------------------------------------- the job script


def run_job_script(tmp: Path, script: str, job: str, fail: bool = False) -> list[tuple[list[str], str | None]]:
    """Check the job script with `sh -n` (dash and busybox), then run job `job` under busybox sh
    in `tmp` with a stub `docker` (the job's container exits 3 when `fail`; none is running):
    each docker call's arguments, byte for byte, and the alert message the alert container
    would post when it is started. Nothing the script should not run may run: a `touch`
    hidden in a value would leave tmp/webstack-pwned."""
    from components.render import cron

    busybox = realprog.require("busybox", "busybox")
    alert_dir = tmp / "alert"
    alert_dir.mkdir(exist_ok=True)
    (tmp / "job").write_text(script.replace(cron.ALERT_DIR, str(alert_dir)))
    for check in ([realprog.require("dash", "dash"), "-n"], [busybox, "sh", "-n"]):
        done = realprog.run([*check, str(tmp / "job")])
        assert done.returncode == 0, done.stderr
    bin_dir, calls = tmp / "bin", tmp / "calls"
    bin_dir.mkdir(exist_ok=True)
    calls.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        f'd={calls}/$(ls {calls} | wc -l); mkdir "$d"; i=0\n'
        'for a in "$@"; do i=$((i + 1)); printf %s "$a" > "$d/$i"; done\n'
        'case "$*" in\n'
        '  "container inspect"*) echo false ;;\n'
        f'  "start --attach {cron.ALERT_CONTAINER}") cp {alert_dir / "message.json"} "$d/BODY" ;;\n'
        f'  "start --attach {cron.JOB_PREFIX}"*) exit {3 if fail else 0} ;;\n'
        "esac\n"
    )
    (bin_dir / "docker").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    done = realprog.run([busybox, "sh", str(tmp / "job"), job], cwd=tmp, env=env)
    assert done.returncode == (3 if fail else 0), done.stderr
    assert not (tmp / PWNED).exists(), "a value ran as a command"
    out = []
    for d in sorted(calls.iterdir(), key=lambda d: int(d.name)):
        args = [(d / str(i)).read_bytes().decode() for i in range(1, len(list(d.glob("[0-9]*"))) + 1)]
        out.append((args, (d / "BODY").read_bytes().decode() if (d / "BODY").exists() else None))
    return out


@pytest.mark.parametrize(
    "stack",
    ["prod", "it's", 'say "hi"', "back\\slash", f"$(touch {PWNED})", f"`touch {PWNED}`", "100%s%d", "a;b|c&d",
     "line\nbreak", "tab\there", "caf\u00e9"],
)  # fmt: skip
def test_the_alert_names_any_stack_as_text_in_valid_json(tmp_path, stack):
    """Pulumi's stack names hold no quote or `$`, but the renderer does not rely on it."""
    from components.render import cron

    job = cron.JobSpec(name="nightly", schedule="0 3 * * *", command=("manage.py", "it's"), memory_mb=64)
    script = cron.render_job_script((job,), stack=stack, alert=True)
    _, (run_job, _), (alert, body) = run_job_script(tmp_path, script, "nightly", fail=True)
    assert run_job == ["start", "--attach", "job-nightly"] and alert == ["start", "--attach", cron.ALERT_CONTAINER]
    assert json.loads(body) == {"text": f"webstack job {stack}/nightly failed with exit 3"}


def test_a_value_nested_deeper_than_repr_goes_is_not_printed():
    """The JSON reader takes nesting a little deeper than repr() then prints from a validator."""
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert shown(deep) == "[nested too deep to show]"
    assert shown([[1]]) == "[[1]]" and shown("x" * 101) == "'" + "x" * 96 + "... (101 characters)"


# --------------------------------------------------------------------------- the corpus

CORPUS = yaml.safe_load(Path(__file__).with_name("hostile_configs.yaml").read_text())


def _build(value: Any) -> Any:
    """A corpus value with its built strings ({$repeat: [text, n]}, {$join: [...]}) made."""
    if isinstance(value, dict) and set(value) == {"$repeat"}:
        text, times = value["$repeat"]
        return text * times
    if isinstance(value, dict) and set(value) == {"$join"}:
        return "".join(_build(v) for v in value["$join"])
    if isinstance(value, dict):
        return {k: _build(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_build(v) for v in value]
    return value


def _merged(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **{k: _merged(base.get(k), v) for k, v in extra.items()}}
    return extra


def _message(read: Any) -> str | None:
    try:
        read()
    except ConfigError as err:
        return str(err)
    return None


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_the_hostile_corpus(case, tmp_path, monkeypatch):
    """Each hostile config is refused naming its key in a short message, refused by the CLI
    before the program runs (and harmless to the program's own read), or accepted and taken
    by its consumer."""
    case = _build(case)
    if "stack_file" in case:
        monkeypatch.chdir(tmp_path)  # the program reads ./Pulumi.<stack>.yaml
        (tmp_path / "Pulumi.staging.yaml").write_text(case["stack_file"])
        start = time.monotonic()
        read: dict[str, Any] = {}
        message = _message(lambda: read.update(loading._stack_file_config("staging")))
        loading.plaintext_secret_leaves(read)
        assert time.monotonic() - start < 2, "reading the stack file is bounded"
        if "cli_refuses" in case:  # the CLI stops there; the program's own read took it
            assert message is None and "refused" not in case, message
        elif not message:
            values = _merged(_base("staging"), read)  # what the CLI hands: text, or JSON text
            raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
            message = _message(lambda: parse(raw, "staging"))
    elif "cli" in case:
        raw, secret = harness.cli_values(_base("staging"))
        secret = secret | frozenset(case.get("secret", ()))
        message = _message(lambda: parse({**raw, **case["cli"]}, "staging", secret_keys=secret))
    else:
        message = _message(lambda: harness.parsed_config("staging", case["overrides"]))
    if "refused" in case:
        key, says = case["refused"]["key"], case["refused"]["says"]
        assert message, "refused"
        lines = [line.removeprefix("  - ") for line in message.splitlines()[1:]]
        named = [line for line in lines if line.startswith((f"webstack:{key} = ", f"{key} = "))]
        assert named and says in named[0], lines
        assert len(message) < 1000, "a short message"
        return
    assert message is None or "cli_refuses" in case, message
    _CONSUMERS[case.get("consumer", "none")](case, tmp_path)


def _nginx(case: dict, tmp_path: Path) -> None:
    from components.config import nginx_spec
    from components.render.nginx import render_nginx_conf
    from tests.unit.test_renderers import nginx_t_with_throwaway_cert

    cfg = harness.parsed_config("staging", case["overrides"])
    checked = nginx_t_with_throwaway_cert(tmp_path, render_nginx_conf(nginx_spec(cfg)))
    assert checked.returncode == 0, checked.stderr


def _job(case: dict, tmp_path: Path) -> None:
    from components.render import cron

    cfg = harness.parsed_config("staging", case["overrides"])
    jobs = tuple(
        cron.JobSpec(name=n, schedule=j.schedule, command=j.command, memory_mb=j.memory_mb)
        for n, j in cfg.app.jobs.items()
    )
    # A job's command is its container's argv (docker runs no shell); the script names the job only.
    assert [j.command for j in jobs] == [tuple(j.command) for j in cfg.app.jobs.values()]
    script = cron.render_job_script(jobs, stack="staging", alert=True)
    for name in cfg.app.jobs:
        calls = run_job_script(tmp_path, script, name)
        assert calls[-1][0] == ["start", "--attach", f"{cron.JOB_PREFIX}{name}"]


def _cloud_init(case: dict, tmp_path: Path) -> None:
    from components.render.cloudinit import render_cloud_init

    cfg = harness.parsed_config("staging", case["overrides"])
    text = render_cloud_init(ssh_public_keys=cfg.ssh_public_keys, memory_mb=2048)
    (tmp_path / "user-data.yaml").write_text(text)
    checked = realprog.run(
        [realprog.require("cloud-init", "cloud-init"), "schema", "--config-file", str(tmp_path / "user-data.yaml")]
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (user,) = [u for u in yaml.safe_load(text)["users"] if isinstance(u, dict)]
    assert user["ssh_authorized_keys"] == list(cfg.ssh_public_keys), "each key one authorized_keys line, as written"


def _env(case: dict, tmp_path: Path) -> None:
    from tests.conftest import recorded_with

    (web,) = [
        c
        for c in recorded_with("staging", case["overrides"]).of_type("docker:index/container:Container")
        if c.inputs["name"].startswith("web-")
    ]
    for name, value in case["overrides"]["app.env"].items():
        assert f"{name}={value}" in web.inputs["envs"]


_CONSUMERS = {"nginx": _nginx, "job": _job, "cloud-init": _cloud_init, "env": _env, "none": lambda case, tmp_path: None}


# --------------------------------------------------------------------------- the regexes


def test_no_regex_of_the_program_ends_a_match_with_a_bare_dollar():
    """A Python `$` also matches before a final newline: a pattern given to re.compile/match/
    search or to a field's `pattern` goes through base.whole (or ends in \\Z), in every module
    of components/ (a renderer's own checks use fullmatch)."""
    found = []
    for path in sorted(Path(harness.ROOT, "components").rglob("*.py")):
        tree = ast.parse(path.read_text())
        constants = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            args = list(node.args[:1]) if ast.unparse(node.func) in ("re.compile", "re.match", "re.search") else []
            args += [k.value for k in node.keywords if k.arg == "pattern"]
            for arg in args:
                text = arg.value if isinstance(arg, ast.Constant) else constants.get(getattr(arg, "id", None))
                if isinstance(text, str) and re.search(r"(?<!\\)\$", text):
                    found.append(f"{path.relative_to(harness.ROOT)}:{node.lineno}: {text}")
    assert found == []
