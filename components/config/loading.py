"""Reading `pulumi.Config` into a StackConfig, and every problem into one ConfigError."""

from __future__ import annotations

import functools
import json
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError

from components.config.base import NAMESPACE, Allowed, ProblemsError, Secret, problem, shown, whole
from components.config.rules import problems as rule_problems
from components.config.stack import StackConfig

SECRET_KEYS = ("slackWebhookUrl",)
# The deepest value a stack holds is four levels (app.processes.<name>.command[0]); the CLI
# passes up to 10,000 (gopkg.in/yaml.v3's limit, scannerc.go max_flow_level), deeper than
# Python's JSON reader and pydantic's go without an exception.
MAX_DEPTH = 16


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
    makes all of `webstack:app` secret; the file shows which leaves are not. A value of the
    wrong shape holds no leaf here (the models name it)."""

    def plain(value: Any) -> bool:
        return not (isinstance(value, dict) and set(value) == {"secure"})

    app = _mapping(config.get("app"))
    leaves = {f"app.secretEnv.{k}" for k, v in _mapping(app.get("secretEnv")).items() if plain(v)}
    registry = _mapping(app.get("registry"))
    if "password" in registry and plain(registry["password"]):
        leaves.add("app.registry.password")
    leaves |= {f"secretEnv.{k}" for k, v in _mapping(config.get("secretEnv")).items() if plain(v)}
    return frozenset(leaves)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


class _StackFileLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML reading a stack file the CLI has read already (gopkg.in/yaml.v3), without failing
    where yaml.v3 does not: a tag it does not know (`!!python/object`, `!Ref`) keeps the plain
    value, as yaml.v3's resolve() returns the text of an unresolvable tag; libyaml's parser
    (CSafeLoader) reads nesting as deep as yaml.v3's 10,000 levels. Aliases are not expanded
    here: an alias is the anchored object itself, so an anchor bomb costs its size in the file."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_StackFileLoader.add_constructor(None, _untagged)


def _stack_file_config(stack: str) -> dict[str, Any]:
    """The `webstack:` keys of ./Pulumi.<stack>.yaml (the CLI runs the program in the project
    directory), or nothing when there is no such file."""
    path = Path(f"Pulumi.{stack}.yaml")
    if not path.is_file():
        return {}
    try:
        doc = yaml.load(path.read_text(), Loader=_StackFileLoader)
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as err:
        raise _config_error(stack, [f"{path} = {shown(str(err))}: must be YAML the program can read"]) from None
    config = _mapping(_mapping(doc).get("config"))
    return {k.split(":", 1)[1]: v for k, v in config.items() if isinstance(k, str) and k.startswith(f"{NAMESPACE}:")}


def _depth_problem(key: str, value: Any, secret: bool) -> str | None:
    """A problem line when `value` nests deeper than MAX_DEPTH, naming the keys down to there."""
    todo = [(value, [key], 1)]
    while todo:
        node, path, depth = todo.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_DEPTH:
            return problem(".".join(path), "[secret]" if secret else node, f"nested at most {MAX_DEPTH} levels deep")
        items = node.items() if isinstance(node, dict) else ((None, v) for v in node)
        todo += [(v, [*path, _key_part(k)] if k is not None else path, depth + 1) for k, v in items]
    return None


def _config_error(stack: str, problems: list[str]) -> ConfigError:
    return ConfigError(
        f"invalid configuration for stack {stack!r} ({len(problems)} problem"
        f"{'s' if len(problems) > 1 else ''}):\n  - " + "\n  - ".join(problems)
    )


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
        except (ValueError, RecursionError) as err:
            shown_text = "[secret]" if key in secret_keys else text
            if isinstance(err, RecursionError):
                problems.append(problem(key, shown_text, f"nested at most {MAX_DEPTH} levels deep"))
                unreadable.add(key)
            elif key in _known_keys():
                problems.append(problem(key, shown_text, "valid JSON/YAML structure"))
                unreadable.add(key)
            else:
                doc[key] = text  # refused below as an unknown key
            continue
        too_deep = _depth_problem(key, doc[key], key in secret_keys)
        if too_deep:
            problems.append(too_deep)
            unreadable.add(key)
            del doc[key]

    context = {
        "stack": stack,
        "has_slack": slack_webhook_url is not None,
        "secret_keys": secret_keys,
        "plaintext_leaves": plaintext_leaves,
    }
    try:
        cfg = StackConfig.model_validate_json(json.dumps(doc), strict=True, context=context)
    except ValidationError as err:
        problems += _lines(err, unreadable, secret_keys)
        cfg = None
    if cfg is not None:
        # The rules across keys, once every key is valid on its own.
        problems += rule_problems(cfg, context)
    if problems or cfg is None:
        raise _config_error(stack, problems)
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


def _lines(err: ValidationError, unreadable: set[str], secret_keys: frozenset[str] = frozenset()) -> list[str]:
    """One line per problem, named by the key as the user wrote it; duplicates (a value that
    fails every member of a union) folded, and no line for a missing `unreadable` key (one that
    was not valid JSON/YAML, named already). A secret's value is never shown, nor the value of
    an unknown key inside a key the CLI holds secret."""
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
        key, info, allowed, _, secret = _walk(loc, name_error="[key]" in e["loc"])
        dotted = ".".join(key)
        value = "[secret]" if secret else e["input"]
        if e["type"] == "extra_forbidden":
            value = "[secret]" if loc and loc[0] in secret_keys else value
            line = f"{NAMESPACE}:{dotted} = {shown(value)}: unknown key; allowed: {', '.join(_allowed_keys(loc))}"
        elif e["type"] == "missing":
            line = problem(dotted, None, "set (it has no default)")
        elif isinstance(cause, ValueError):
            line = problem(dotted, value, str(cause))
        else:
            line = problem(dotted, value, allowed or _by_type(e, info))
        if line not in lines:
            lines.append(line)
    return lines


def _unwrap(annotation: Any, allowed: str | None) -> tuple[Any, str | None, bool]:
    """Strip Annotated and Optional, keeping the innermost Allowed text and whether a Secret
    marker was on the way."""
    secret = False
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            base, *extras = typing.get_args(annotation)
            allowed = next((m.text for m in extras if isinstance(m, Allowed)), allowed)
            secret = secret or any(isinstance(m, Secret) for m in extras)
            annotation = base
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation, allowed, secret


# A key part shown as it is; any other (a line break, a quote, a huge name) is shown quoted.
_PLAIN_KEY = re.compile(whole(r"[A-Za-z0-9_.@:/-]{1,100}"))


def _key_part(part: Any) -> str:
    text = str(part)
    return text if _PLAIN_KEY.match(text) else shown(text)


def _walk(loc: list[Any], name_error: bool = False) -> tuple[list[str], Any, str | None, Any, bool]:
    """The key path of an error location, the field it ends in, that field's Allowed text, the
    type the path leads to, and whether it is a secret; with `name_error` the last part is a
    map's key that failed, and the Allowed text is the key type's."""
    key: list[str] = []
    node: Any = StackConfig
    info = None
    allowed: str | None = None
    secret = False
    for i, part in enumerate(loc):
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for n, f in node.model_fields.items() if part in (n, f.alias)), None)
            key.append(_key_part(part))
            if field is None:
                break
            info = field
            allowed = next((m.text for m in field.metadata if isinstance(m, Allowed)), None)
            node, allowed, secret = _unwrap(field.annotation, allowed)
            secret = secret or any(isinstance(m, Secret) for m in field.metadata)
        elif typing.get_origin(node) is dict:
            key.append(_key_part(part))
            at_name = name_error and i == len(loc) - 1
            node, allowed, secret = _unwrap(typing.get_args(node)[0 if at_name else 1], None if at_name else allowed)
        elif typing.get_origin(node) in (tuple, list) and isinstance(part, int):
            if i < len(loc) - 1:  # a key inside a list item: edge.records[0].name
                key[-1] += f"[{part}]"
            node, allowed, secret = _unwrap(typing.get_args(node)[0], allowed)
        else:
            break  # a union member's tag: the key is complete
    return key, info, allowed, node, secret


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
