"""Reading `pulumi.Config` into a StackConfig, and every problem into one ConfigError."""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError

from components.config.base import NAMESPACE, Allowed, ProblemsError, problem
from components.config.stack import StackConfig

SECRET_KEYS = ("slackWebhookUrl",)


class ConfigError(pulumi.RunError):
    """Raised once with every problem; RunError prints without a traceback."""


@functools.cache
def _known_keys() -> frozenset[str]:
    return frozenset(f.alias or n for n, f in StackConfig.model_fields.items())


@functools.cache
def _string_keys() -> frozenset[str]:
    """Top-level keys the CLI hands over as plain text; every other value arrives as JSON."""
    props = StackConfig.model_json_schema(by_alias=True)["properties"]
    return frozenset(k for k, v in props.items() if v.get("type") == "string")


def plaintext_secret_leaves(config: Mapping[str, Any]) -> frozenset[str]:
    """Secret leaves written in plaintext in a stack file's `config:` map (keys without the
    namespace). The CLI reports secrecy per top-level key only, so one `{secure: ...}` value
    makes all of `webstack:app` secret; the file shows which leaves are not."""

    def plain(value: Any) -> bool:
        return not (isinstance(value, dict) and set(value) == {"secure"})

    app = config.get("app") if isinstance(config.get("app"), dict) else {}
    leaves = {f"app.secretEnv.{k}" for k, v in (app.get("secretEnv") or {}).items() if plain(v)}
    registry = app.get("registry") if isinstance(app.get("registry"), dict) else {}
    if "password" in registry and plain(registry["password"]):
        leaves.add("app.registry.password")
    top = config.get("secretEnv") if isinstance(config.get("secretEnv"), dict) else {}
    leaves |= {f"secretEnv.{k}" for k, v in top.items() if plain(v)}
    return frozenset(leaves)


def _stack_file_config(stack: str) -> dict[str, Any]:
    """The `webstack:` keys of ./Pulumi.<stack>.yaml (the CLI runs the program in the project
    directory), or nothing when there is no such file."""
    path = Path(f"Pulumi.{stack}.yaml")
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text()) or {}
    config = doc.get("config") or {}
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{NAMESPACE}:")}


def parse(
    raw: Mapping[str, str | None],
    stack: str,
    slack_webhook_url: pulumi.Output[str] | None = None,
    secret_keys: frozenset[str] = frozenset(),
    plaintext_leaves: frozenset[str] = frozenset(),
) -> StackConfig:
    """Validate raw config strings (as `pulumi.Config.get` returns them) for `stack`.

    `secret_keys` are the keys the CLI holds encrypted (a `--secret` value anywhere inside);
    user secrets must come from one of them, and none of `plaintext_leaves` (secret leaves
    the stack file holds in plaintext) may be one.
    """
    problems: list[str] = []
    doc: dict[str, Any] = {}
    unreadable: set[str] = set()
    for key, text in raw.items():
        if text is None:
            continue
        if key in _string_keys():
            doc[key] = text
            continue
        try:
            doc[key] = json.loads(text)
        except ValueError:
            if key in _known_keys():
                problems.append(problem(key, text, "valid JSON/YAML structure"))
                unreadable.add(key)
            else:
                doc[key] = text  # refused below as an unknown key

    context = {
        "stack": stack,
        "has_slack": slack_webhook_url is not None,
        "secret_keys": secret_keys,
        "plaintext_leaves": plaintext_leaves,
    }
    try:
        cfg = StackConfig.model_validate_json(json.dumps(doc), strict=True, context=context)
    except ValidationError as err:
        problems += _lines(err, unreadable)
        cfg = None
    if problems or cfg is None:
        raise ConfigError(
            f"invalid configuration for stack {stack!r} ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}):\n  - " + "\n  - ".join(problems)
        )
    cfg._stack = stack
    cfg._slack_webhook_url = slack_webhook_url
    return cfg


def load() -> StackConfig:
    """Read this stack's config; raise ConfigError (no traceback) on any bad value."""
    cfg = pulumi.Config(NAMESPACE)
    from pulumi.runtime import config as runtime_config

    keys = sorted(_namespace_keys() - set(SECRET_KEYS))
    secret = frozenset(k for k in keys if runtime_config.is_config_secret(f"{NAMESPACE}:{k}"))
    return parse(
        {key: cfg.get(key) for key in keys},
        pulumi.get_stack(),
        slack_webhook_url=cfg.get_secret("slackWebhookUrl"),
        secret_keys=secret,
        plaintext_leaves=plaintext_secret_leaves(_stack_file_config(pulumi.get_stack())),
    )


def _namespace_keys() -> set[str]:
    """Every `webstack:` key the stack sets, from the engine's config (env var or runtime)."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.get_config_env()) | set(runtime_config.CONFIG.get())
    return {k.split(":", 1)[1] for k in keys if k.startswith(f"{NAMESPACE}:")}


# --------------------------------------------------------------------------- messages


def _lines(err: ValidationError, unreadable: set[str]) -> list[str]:
    """One line per problem, named by the key as the user wrote it; duplicates (a value that
    fails every member of a union) folded, and no line for a missing `unreadable` key (one that
    was not valid JSON/YAML, named already)."""
    lines: list[str] = []
    errors = err.errors(include_url=False)
    inner = {e["loc"][:n] for e in errors for n in range(len(e["loc"]))}  # locations holding an error
    for e in errors:
        if e["type"] == "too_short" and e["loc"] in inner:
            continue  # pydantic counts only the valid items: the bad item is the problem, named already
        if e["type"] == "missing" and len(e["loc"]) == 1 and e["loc"][0] in unreadable:
            continue
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, ProblemsError):
            lines += cause.lines
            continue
        loc = [p for p in e["loc"] if p != "[key]"]
        key, info, allowed, _ = _walk(loc)
        dotted = ".".join(key)
        if e["type"] == "extra_forbidden":
            line = f"{NAMESPACE}:{dotted} = {e['input']!r}: unknown key; allowed: {', '.join(_allowed_keys(loc))}"
        elif e["type"] == "missing":
            line = problem(dotted, None, "set (it has no default)")
        elif isinstance(cause, ValueError):
            line = problem(dotted, e["input"], str(cause))
        else:
            line = problem(dotted, e["input"], allowed or _by_type(e, info))
        if line not in lines:
            lines.append(line)
    return lines


def _unwrap(annotation: Any, allowed: str | None) -> tuple[Any, str | None]:
    """Strip Annotated and Optional, keeping the innermost Allowed text."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            base, *extras = typing.get_args(annotation)
            allowed = next((m.text for m in extras if isinstance(m, Allowed)), allowed)
            annotation = base
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation, allowed


def _walk(loc: list[Any]) -> tuple[list[str], Any, str | None, Any]:
    """The key path of an error location, the field it ends in, that field's Allowed text, and
    the type the path leads to."""
    key: list[str] = []
    node: Any = StackConfig
    info = None
    allowed: str | None = None
    for i, part in enumerate(loc):
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for n, f in node.model_fields.items() if part in (n, f.alias)), None)
            key.append(str(part))
            if field is None:
                break
            info = field
            allowed = next((m.text for m in field.metadata if isinstance(m, Allowed)), None)
            node, allowed = _unwrap(field.annotation, allowed)
        elif typing.get_origin(node) is dict:
            key.append(str(part))
            node, allowed = _unwrap(typing.get_args(node)[1], allowed)
        elif typing.get_origin(node) in (tuple, list) and isinstance(part, int):
            if i < len(loc) - 1:  # a key inside a list item: edge.records[0].name
                key[-1] += f"[{part}]"
            node, allowed = _unwrap(typing.get_args(node)[0], allowed)
        else:
            break  # a union member's tag: the key is complete
    return key, info, allowed, node


def _allowed_keys(loc: list[Any]) -> list[str]:
    """The keys of the section an unknown key at `loc` sits in (through lists and maps of
    sections, e.g. app.processes.<name>)."""
    node = _walk(loc[:-1])[3]
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return []
    return sorted(f.alias or n for n, f in node.model_fields.items())


def _by_type(e: Any, info: Any) -> str:
    """What a field takes, worded from its type, for errors of a field without an Allowed text
    (every such error sits at a field, so `info` is that field)."""
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == "literal_error":
        values = typing.get_args(_unwrap(info.annotation, None)[0])
        if values and all(isinstance(v, str | int) for v in values):
            return f"one of {', '.join(map(str, values))}"
        return f"one of {ctx['expected']}".replace("'", "")
    if kind.startswith(("int_", "greater_than", "less_than")):
        lo = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
        hi = next((m.le for m in info.metadata if isinstance(m, Le)), None)
        if lo is not None and hi is not None:
            return f"an integer {lo}-{hi}"
        return f"an integer >= {lo}" if lo is not None else "an integer"
    if kind == "bool_type":
        return "true or false"
    if kind in ("model_type", "dict_type"):
        return "an object"
    if kind == "tuple_type":  # every list in the schema is a tuple
        return "a list"
    if kind == "too_long":
        return f"a list of at most {ctx['max_length']} items"
    if kind.startswith("string"):
        return "a non-empty string"
    return e["msg"]
