"""Check recorded resources against what the real providers enforce, offline.

A mocked run accepts any input; the providers do not. This module checks every custom
resource of a `testing.harness` run against these kinds of upstream truth, each kept as data
under contracts/ with the upstream file and line it was transcribed from:

1. schema: property names, types and required properties from the providers' published
   Pulumi schemas (contracts/schemas/<provider>.json, trimmed by contracts/regen.py),
   checked by jsonschema (Draft 2020-12) on those schemas turned into JSON Schema;
2. value rules: the validators of each property we set (allowed values, ranges, formats),
   transcribed into contracts/rules.yaml;
3. replacement: properties that force a replacement and the identity of each type
   (contracts/replacement.yaml). A resource whose identity is fixed (a literal name
   unique in its account, cluster, zone or host) and that sets any force-new input other
   than its identity must be deleted before it is replaced, or the create half of the
   replacement collides with the resource it replaces. So must a resource, while it holds
   anything only one resource can hold at a time (`holds`: a droplet's volumes);
4. read-back: where the provider reads back another form than we send (rules.yaml
   entries with `category: readback`), a perpetual diff or a needless replacement;
5. import ids: the form each provider's importer parses, and that the id names the same
   parent (zone) as the program's inputs (rules.yaml `imports`);
6. exclusive pairs: resources the API refuses side by side (rules.yaml `exclusive`), the one
   check that looks at two resources at once (a bucket policy and a key limited to that
   bucket). Its types need no schema or replacement entry: the program may register none of
   them, and the rule then guards against one being added;
7. silent updates: the inputs each provider's Update applies (replacement.yaml `update`); an
   input set that is neither force-new nor applied plans an update that does nothing, so the
   program must replace the resource on its change (replace_on_changes) or say why it is
   harmless.

Provider resources are checked on their decoded config: the engine sends non-string
settings (`registryAuth`) as JSON strings.

Unknown values (preview) are tolerated everywhere: a rule only judges what it can see.

`python -m testing.contracts [stack ...] [--preview]` prints the violations of each stack
and exits nonzero if there are any.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from testing import harness

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
UNKNOWN = harness.UNKNOWN
# Inputs the engine adds to provider resources, not part of the provider's own schema.
PROVIDER_META = {"version", "pluginDownloadURL"}


@dataclass(frozen=True)
class Violation:
    urn: str
    type: str
    name: str
    path: str
    value: Any
    rule: str
    source: str

    def __str__(self) -> str:
        shown = json.dumps(self.value, default=str)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{self.name} ({self.type}) {self.path} = {shown}: {self.rule} [{self.source}]"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Contracts:
    upstreams: dict[str, dict[str, Any]]
    schemas: dict[str, dict[str, Any]]  # provider name -> trimmed schema
    rules: tuple[dict[str, Any], ...]
    unvalidated: dict[str, tuple[str, ...]]
    replacement: dict[str, dict[str, Any]]
    imports: dict[str, dict[str, Any]]  # type -> {pattern, sources}
    exclusive: tuple[dict[str, Any], ...] = ()


def _expand(source: dict[str, Any], upstreams: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`{at: do, file, line}` -> the full source, with the upstream's repo, tag and commit."""
    if "at" not in source:
        return dict(source)
    return {**upstreams[source["at"]], **{k: v for k, v in source.items() if k != "at"}}


@functools.cache
def load() -> Contracts:
    """The contract data, read and expanded once per process."""
    upstreams = yaml.load((CONTRACTS / "upstreams.yaml").read_text(), Loader=yaml.CSafeLoader)["upstreams"]
    rules_doc = yaml.load((CONTRACTS / "rules.yaml").read_text(), Loader=yaml.CSafeLoader)
    rules = []
    for rule in rules_doc["rules"]:
        rule = dict(rule)
        rule["sources"] = [_expand(s, upstreams) for s in _as_list(rule.pop("source"))]
        rules.append(rule)
    replacement = {}
    types = yaml.load((CONTRACTS / "replacement.yaml").read_text(), Loader=yaml.CSafeLoader)["types"]
    for type_, spec in types.items():
        spec = dict(spec or {})
        base = {"at": spec.pop("at")} if "at" in spec else {}
        base_file = spec.pop("file", None)
        force_new = {}
        for prop, src in (spec.get("force_new") or {}).items():
            src = {**base, **({"file": base_file} if base_file else {}), **src}
            force_new[prop] = _expand(src, upstreams)
        spec["force_new"] = force_new
        identity = dict(spec.get("identity") or {"unique": False})
        if "source" in identity:
            identity["sources"] = [_expand(s, upstreams) for s in _as_list(identity.pop("source"))]
        spec["identity"] = identity
        holds = {}
        for prop, held in (spec.get("holds") or {}).items():
            held = dict(held)
            held["sources"] = [_expand(s, upstreams) for s in _as_list(held.pop("source"))]
            holds[prop] = held
        spec["holds"] = holds
        spec["update"] = _update_spec(spec.get("update") or {}, base, base_file, upstreams)
        replacement[type_] = spec
    schemas = {p.stem: json.loads(p.read_text()) for p in sorted((CONTRACTS / "schemas").glob("*.json"))}
    unvalidated = {t: tuple(paths or ()) for t, paths in (rules_doc.get("unvalidated") or {}).items()}
    imports = {
        entry["type"]: {
            "pattern": entry["pattern"],
            "sources": [_expand(s, upstreams) for s in _as_list(entry["source"])],
        }
        for entry in rules_doc.get("imports") or []
    }
    exclusive = []
    for entry in rules_doc.get("exclusive") or []:
        entry = dict(entry)
        entry["sources"] = [_expand(s, upstreams) for s in _as_list(entry.pop("source"))]
        exclusive.append(entry)
    return Contracts(upstreams, schemas, tuple(rules), unvalidated, replacement, imports, tuple(exclusive))


def _update_spec(raw: dict[str, Any], base: dict[str, Any], base_file: str | None, upstreams) -> dict[str, Any]:
    """A type's `update` entry with its sources expanded: `all` (Update sends every changed
    input), or `applies` (the inputs it sends) and `harmless` (the inputs it need not send, each
    with `why`); the type's `at` and `file` (or the entry's own) fill each source."""
    raw = dict(raw)
    file = raw.pop("file", None) or base_file
    default = {**({"at": raw.pop("at")} if "at" in raw else base), **({"file": file} if file else {})}

    def expand(src: dict[str, Any]) -> dict[str, Any]:
        return _expand({**default, **src}, upstreams)

    return {
        "all": bool(raw.get("all")),
        "source": expand(raw["source"]) if raw.get("source") else None,
        "applies": {prop: expand(src) for prop, src in (raw.get("applies") or {}).items()},
        "harmless": {prop: expand(src) for prop, src in (raw.get("harmless") or {}).items()},
        "note": raw.get("note", ""),
    }


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def all_sources() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every cited source, with where it is cited (for contracts.regen verify and the tests)."""
    data = load()
    for rule in data.rules:
        for source in rule["sources"]:
            yield f"rules.yaml {rule['type'].split(':')[-1]} {rule['path']} {rule['kind']}", source
    for type_, spec in data.replacement.items():
        for prop, source in spec["force_new"].items():
            yield f"replacement.yaml {type_.split(':')[-1]} force_new {prop}", source
        for source in spec["identity"].get("sources", []):
            yield f"replacement.yaml {type_.split(':')[-1]} identity", source
        for prop, held in spec["holds"].items():
            for source in held["sources"]:
                yield f"replacement.yaml {type_.split(':')[-1]} holds {prop}", source
        update = spec["update"]
        if update["source"]:
            yield f"replacement.yaml {type_.split(':')[-1]} update", update["source"]
        for kind in ("applies", "harmless"):
            for prop, source in update[kind].items():
                yield f"replacement.yaml {type_.split(':')[-1]} update {kind} {prop}", source
    for type_, spec in data.imports.items():
        for source in spec["sources"]:
            yield f"rules.yaml imports {type_.split(':')[-1]}", source
    for entry in data.exclusive:
        for source in entry["sources"]:
            yield f"rules.yaml exclusive {entry['type'].split(':')[-1]} {entry['path']}", source


def describe(source: dict[str, Any]) -> str:
    if "url" in source:
        return source["url"]
    return f"{source['repo']}@{source['tag']} {source['file']}:{source['line']}"


def provider_of(type_: str) -> str:
    return type_.split(":")[2] if type_.startswith("pulumi:providers:") else type_.split(":")[0]


def schema_entry(type_: str) -> dict[str, Any] | None:
    """The trimmed schema entry of a resource type, or None if the type is not vendored."""
    schema = load().schemas.get(provider_of(type_))
    if schema is None:
        return None
    if type_.startswith("pulumi:providers:"):
        return schema.get("provider")
    return schema["resources"].get(type_)


def schema_source(type_: str) -> str:
    up = load().schemas[provider_of(type_)]["upstream"]
    return f"{up['repo']}@{up['tag']} {up['path']}"


# --------------------------------------------------------------------------- 1. schema


def _unknown(value: Any) -> bool:
    return value == UNKNOWN


def _is_ref(value: Any) -> bool:
    """A resource reference as the harness records it: {"urn": ..., "id": ...}."""
    return isinstance(value, dict) and set(value) == {"urn", "id"}


# The schema check is jsonschema's (Draft 2020-12): each provider's vendored Pulumi schema is
# turned into JSON Schema once (`_json_schema`): `#/types/<token>` references become `$defs`,
# `oneOf` becomes `anyOf` (Pulumi's alternatives are not exclusive: an input fits if it fits
# one), an enum type its underlying primitive (the allowed values are rules.yaml's, with their
# upstream citations), `pulumi.json#/Any` and the other pulumi.json references anything, and
# objects refuse properties the schema does not name. What the engine hands over is prepared
# by `_instance`: a resource reference is its id; an unknown value (preview), or a reference
# to an unknown id, fits any type (`_ANY`); a property set to None counts as not set.


class _Any(dict):
    """A value not known yet: every type checks it and it holds nothing."""


_ANY = _Any()


def _typed(check):
    return lambda checker, instance: isinstance(instance, _Any) or check(instance)


_TYPES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


@functools.cache
def _validator_class():
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({name: _typed(check) for name, check in _TYPES.items()})
    required = base.VALIDATORS["required"]

    def known_required(validator, names, instance, schema):
        if not isinstance(instance, _Any):  # an unknown object's properties are unknown too
            yield from required(validator, names, instance, schema)

    return jsonschema.validators.extend(base, {"required": known_required}, type_checker=checker)


def _def_ref(token: str) -> str:
    return "#/$defs/" + token.replace("~", "~0").replace("/", "~1")


def _json_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """One Pulumi schema type spec as JSON Schema (see above)."""
    if "oneOf" in spec:
        return {
            "anyOf": [_json_schema(a) for a in spec["oneOf"]],
            "x-labels": [a.get("type") or a.get("$ref") for a in spec["oneOf"]],
        }
    ref = spec.get("$ref", "")
    if ref.startswith("#/types/"):
        return {"$ref": _def_ref(ref[len("#/types/") :])}
    if ref:
        return {}
    out: dict[str, Any] = {}
    kind = spec.get("type")
    if kind:
        out["type"] = kind
    if kind == "array":
        out["items"] = _json_schema(spec.get("items", {}))
    if kind == "object" and "additionalProperties" in spec:
        out["additionalProperties"] = _json_schema(spec["additionalProperties"])
    return out


def _object_schema(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: _json_schema(v) for k, v in props.items()},
        "required": list(required),
        "additionalProperties": False,
    }


@functools.cache
def _defs(provider: str) -> dict[str, Any]:
    types = load().schemas[provider]["types"]
    return {
        token: _object_schema(t["properties"], t.get("required", [])) if "properties" in t else _json_schema(t)
        for token, t in types.items()
    }


@functools.cache
def _validator(type_: str):
    entry = schema_entry(type_)
    schema = {**_object_schema(entry["inputProperties"], entry["requiredInputs"]), "$defs": _defs(provider_of(type_))}
    return _validator_class()(schema)


def _instance(value: Any) -> Any:
    if _unknown(value):
        return _ANY
    if _is_ref(value):
        return _ANY if value["id"] is None or _unknown(value["id"]) else _instance(value["id"])
    if isinstance(value, dict):
        return {k: _instance(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_ANY if v is None else _instance(v) for v in value]
    return value


def _path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _schema_errors(type_: str, inputs: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(path, value, message) for every way `inputs` do not fit the type's schema."""
    found: list[tuple[str, Any, str]] = []
    for error in _validator(type_).iter_errors(_instance(inputs)):
        path, value, kind = _path(error.absolute_path), error.instance, error.validator
        if kind == "additionalProperties" and error.validator_value is False:
            named = error.schema.get("properties", {})
            found += [(_join(path, k), v, "schema: no such property") for k, v in value.items() if k not in named]
        elif kind == "required":
            found += [(_join(path, k), None, "schema: required property missing") for k in error.validator_value
                      if k not in value]  # fmt: skip
        elif kind == "anyOf":
            found.append((path, value, f"fits none of {error.schema['x-labels']}"))
        elif kind == "type":
            found.append((path, value, f"schema type {error.validator_value}, got {type(value).__name__}"))
        else:
            found.append((path, value, f"schema: {error.message}"))
    return _ordered(found)


def _ordered(found: list[tuple[str, Any, str]]) -> list[tuple[str, Any, str]]:
    """One entry per (path, message), in path order (jsonschema reports in schema order)."""
    seen: dict[tuple[str, str], tuple[str, Any, str]] = {}
    for item in found:
        seen.setdefault((item[0], item[2]), item)
    return [seen[key] for key in sorted(seen)]


def inputs_of(r: harness.Resource) -> dict[str, Any]:
    """The inputs of `r` as the provider sees them: a provider's config decoded from its strings."""
    if not r.type.startswith("pulumi:providers:"):
        return r.inputs
    entry = schema_entry(r.type) or {"inputProperties": {}}
    inputs = {k: _decode_config(v, entry["inputProperties"].get(k)) for k, v in r.inputs.items()}
    for key in PROVIDER_META:
        inputs.pop(key, None)
    return inputs


def check_schema(r: harness.Resource) -> list[Violation]:
    entry = schema_entry(r.type)
    if entry is None:
        return [_violation(r, "", None, "schema: type not in the vendored schemas", "contracts/schemas")]
    found = _schema_errors(r.type, inputs_of(r))
    newer = pinned_only(r.type)
    return [
        _violation(r, path, value, message, schema_source(r.type))
        for path, value, message in found
        if not (message == "schema: no such property" and normalize(path) in newer)
    ]


@functools.cache
def pinned_only(type_: str) -> frozenset[str]:
    """Properties the pinned SDK has and the vendored (older) schema lacks: accepted, untyped."""
    owner = "provider" if type_.startswith("pulumi:providers:") else type_
    drift = load().schemas[provider_of(type_)]["upstream"].get("pinned_sdk_drift") or []
    return frozenset(
        entry[len(owner) + 1 : -len(": SDK only")]
        for entry in drift
        if entry.startswith(owner + ".") and entry.endswith(": SDK only")
    )


def _decode_config(value: Any, spec: dict[str, Any] | None) -> Any:
    """Provider config travels as strings; non-string settings are JSON inside them."""
    if isinstance(value, str) and not _unknown(value) and spec and spec.get("type") not in (None, "string"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --------------------------------------------------------------------------- 2 and 4. value and read-back rules

_STEP = re.compile(r"([^.\[\]]+)|\[(\d*)\]")


def _steps(path: str) -> list[tuple[str, Any]]:
    """`rules[].ratelimit.period` -> key rules, each, key ratelimit, key period; `tests[0]` -> index 0."""
    steps: list[tuple[str, Any]] = []
    for part in path.split(".") if path else []:
        for key, index in _STEP.findall(part):
            if key:
                steps.append(("key", key))
            elif index == "":
                steps.append(("each", None))
            else:
                steps.append(("index", int(index)))
    return steps


@dataclass
class Hit:
    path: str
    parent: Any
    present: bool
    value: Any


def resolve(node: Any, path: str) -> Iterator[Hit]:
    """Every value at `path` in `node`; a missing last property yields a Hit with present=False."""
    yield from _walk(node, _steps(path), "", None)


def _walk(node: Any, steps: list, path: str, parent: Any) -> Iterator[Hit]:
    if not steps:
        yield Hit(path, parent, True, node)
        return
    if _unknown(node):
        return  # what is inside an unknown value is unknown too
    kind, arg = steps[0]
    if kind == "key":
        if not isinstance(node, dict):
            return
        sub = f"{path}.{arg}" if path else arg
        if node.get(arg) is None:
            if len(steps) == 1:
                yield Hit(sub, node, False, None)
            return
        yield from _walk(node[arg], steps[1:], sub, node)
    elif isinstance(node, list):
        indexes = range(len(node)) if kind == "each" else [arg] if arg < len(node) else []
        for i in indexes:
            yield from _walk(node[i], steps[1:], f"{path}[{i}]", node)


def _matches(condition: Any, value: Any) -> bool | None:
    """Whether `value` satisfies a `when` condition; None when the value is unknown."""
    if _unknown(value):
        return None
    if isinstance(condition, dict):
        if "in" in condition:
            return value in condition["in"]
        if "not_in" in condition:
            return value not in condition["not_in"]
        if "present" in condition:
            return (value is not None) == condition["present"]
    return value == condition


def _applies(rule: dict[str, Any], root: dict[str, Any], parent: Any) -> bool:
    for scope, conditions in (("when", parent), ("when_root", root)):
        for key, condition in (rule.get(scope) or {}).items():
            value = scope_value(conditions, key)
            if not _matches(condition, value):
                return False
    return True


def scope_value(node: Any, key: str) -> Any:
    hits = list(resolve(node, key)) if isinstance(node, dict) else []
    return hits[0].value if hits else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


_DURATION = re.compile(r"0|([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+")


def _fails(rule: dict[str, Any], hit: Hit) -> str | None:
    """Why `hit` breaks `rule`, or None if it does not (or cannot be judged)."""
    kind, value = rule["kind"], hit.value
    if kind == "required":
        return None if hit.present else "required"
    if kind == "absent":
        return "must not be set" if hit.present else None
    if kind == "conflicts":
        other = scope_value(hit.parent, rule["other"]) if hit.present else None
        return f"conflicts with {rule['other']}" if other is not None and not _unknown(other) else None
    if kind == "requires":
        other = scope_value(hit.parent, rule["other"]) if hit.present else None
        if not hit.present or _unknown(other):
            return None
        if other is None:
            return f"needs {rule['other']} set alongside"
        if "equals" in rule and other != rule["equals"]:
            return f"needs {rule['other']} = {json.dumps(rule['equals'])} alongside (it is {json.dumps(other)})"
        return None
    if not hit.present or _unknown(value):
        return None
    if isinstance(value, list) and any(_unknown(v) for v in value) and kind in ("sorted", "contains"):
        return None
    if kind == "enum":
        allowed = rule["values"]
        if rule.get("ignore_case") and isinstance(value, str):
            ok = value.lower() in {str(v).lower() for v in allowed}
        else:
            ok = any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in allowed)
        return None if ok else f"not one of {allowed}"
    if kind == "range":
        number = _number(value)
        if number is None:
            return "not a number"
        if number in (rule.get("also") or []):
            return None
        low, high = rule.get("min"), rule.get("max")
        if (low is not None and number < low) or (high is not None and number > high):
            extra = f" or one of {rule['also']}" if rule.get("also") else ""
            return f"outside [{low if low is not None else ''}, {high if high is not None else ''}]{extra}"
        return None
    if kind == "length":
        size = len(value) if isinstance(value, str | list | dict) else None
        low, high = rule.get("min"), rule.get("max")
        if size is None or (low is not None and size < low) or (high is not None and size > high):
            return f"length {size} outside [{low if low is not None else ''}, {high if high is not None else ''}]"
        return None
    if kind == "regex":
        return (
            None
            if isinstance(value, str) and re.fullmatch(rule["pattern"], value)
            else f"does not match {rule['pattern']}"
        )
    if kind == "not_regex":
        return f"matches {rule['pattern']}" if isinstance(value, str) and re.search(rule["pattern"], value) else None
    if kind == "nonzero":
        return "must not be empty or zero" if value in ("", 0) and value is not False else None
    if kind in ("ipv4", "cidr", "ip_or_cidr"):
        return None if _is_address(value, kind) else f"not {'an IPv4 address' if kind == 'ipv4' else 'a ' + kind}"
    if kind == "duration":
        return None if isinstance(value, str) and _DURATION.fullmatch(value) else "not a Go duration >= 0"
    if kind == "contains":
        return None if isinstance(value, list) and rule["value"] in value else f"must contain {rule['value']!r}"
    if kind == "sorted":
        return None if isinstance(value, list) and value == sorted(value) else "must be sorted"
    if kind == "keys":
        extra = sorted(set(value) - set(rule["values"])) if isinstance(value, dict) else None
        return f"unexpected keys {extra}; allowed {rule['values']}" if extra else None
    if kind == "canonical_ip":
        try:
            canonical = str(ipaddress.ip_address(value))
        except ValueError:
            return None  # not an address at all: the address rules say so
        return None if value == canonical else f"not in canonical form ({canonical})"
    raise ValueError(f"unknown rule kind {kind!r}")


def _is_address(value: Any, kind: str) -> bool:
    if not isinstance(value, str):
        return False
    try:
        if kind == "ipv4":
            ipaddress.IPv4Address(value)
        elif kind == "cidr":
            return "/" in value and bool(ipaddress.ip_network(value, strict=False))
        else:
            ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


@functools.cache
def rules_for(type_: str) -> tuple[dict[str, Any], ...]:
    return tuple(rule for rule in load().rules if rule["type"] == type_)


def check_rules(r: harness.Resource) -> list[Violation]:
    out = []
    inputs = inputs_of(r)
    for rule in rules_for(r.type):
        for hit in resolve(inputs, rule["path"]):
            if not _applies(rule, inputs, hit.parent):
                continue
            why = _fails(rule, hit)
            if why:
                label = f"{rule.get('category', 'validation')} {rule['kind']}: {why}"
                if rule.get("enforced_by"):
                    label += f" (enforced by {rule['enforced_by']})"
                out.append(_violation(r, hit.path, hit.value, label, "; ".join(map(describe, rule["sources"]))))
    return out


# --------------------------------------------------------------------------- 3. replacement


def check_replacement(r: harness.Resource) -> list[Violation]:
    spec = load().replacement.get(r.type)
    if spec is None:
        return [_violation(r, "", None, "replacement: type not in replacement.yaml", "contracts/replacement.yaml")]
    if r.delete_before_replace or r.protect:
        return []
    return [*_identity_collision(r, spec), *_held_collision(r, spec)]


def _identity_collision(r: harness.Resource, spec: dict[str, Any]) -> list[Violation]:
    identity = spec["identity"]
    if not identity.get("unique"):
        return []
    key, scope = identity.get("key", []), identity.get("scope", [])
    if any(_unknown(r.inputs.get(k)) or r.property_dependencies.get(k) for k in key):
        return []  # the identity comes from another resource's output: a replacement can get a new one
    forcing = sorted(p for p in spec["force_new"] if r.inputs.get(p) is not None and p not in set(key) | set(scope))
    if not forcing:
        return []
    named = ", ".join(f"{k}={json.dumps(r.inputs.get(k))}" for k in key) or "the one per " + "/".join(scope)
    rule = (
        f"replacement: identity {named} is fixed and unique per {identity.get('per', '/'.join(scope))}, "
        f"and {', '.join(forcing)} force a replacement; create-before-delete would collide: "
        "set delete_before_replace (or derive the identity from what forces the replacement)"
    )
    sources = [*identity.get("sources", []), spec["force_new"][forcing[0]]]
    return [_violation(r, "delete_before_replace", False, rule, "; ".join(map(describe, sources)))]


def _held_collision(r: harness.Resource, spec: dict[str, Any]) -> list[Violation]:
    """What `r` holds (set, not empty) that its replacement would ask for while the old one holds it."""
    out = []
    for prop, held in spec["holds"].items():
        value = r.inputs.get(prop)
        if value in (None, "", [], {}) or _unknown(value):
            continue
        forcing = sorted(p for p in spec["force_new"] if p != prop and r.inputs.get(p) is not None)
        if not forcing:
            continue
        rule = (
            f"replacement: {prop} names what one {r.type.split(':')[-1]} can hold at a time, and "
            f"{', '.join(forcing)} force a replacement; create-before-delete would ask for it while the "
            "old one still holds it: set delete_before_replace"
        )
        sources = [*held["sources"], spec["force_new"][forcing[0]]]
        out.append(_violation(r, "delete_before_replace", False, rule, "; ".join(map(describe, sources))))
    return out


# --------------------------------------------------------------------------- 7. silent updates


def check_update(r: harness.Resource) -> list[Violation]:
    """Inputs `r` sets that neither force a replacement nor reach the provider's Update: a
    change to one plans an update that succeeds and changes nothing (the state then records
    what the real object does not have), unless the program replaces the resource on that
    change (replace_on_changes), ignores it (ignore_changes), or the input is documented as
    harmless (read at create or delete only, with the reason in replacement.yaml)."""
    spec = load().replacement.get(r.type)
    if spec is None:
        return []  # check_replacement reports the missing entry
    update = spec["update"]
    if update["all"]:
        return []
    exempt = {*spec["force_new"], *update["applies"], *update["harmless"], *r.replace_on_changes}
    exempt |= {re.split(r"[.\[]", path)[0] for path in r.ignore_changes}
    applied = ", ".join(sorted(update["applies"])) or "nothing"
    source = describe(update["source"]) if update["source"] else "contracts/replacement.yaml"
    return [
        _violation(
            r,
            key,
            value,
            f"update: {key} is neither force-new nor applied by the provider's Update (it applies {applied}): "
            f"a change plans an update that succeeds and changes nothing; set replace_on_changes=[{key!r}] "
            "(or ignore_changes, if a change must never matter)",
            source,
        )
        for key, value in sorted(inputs_of(r).items())
        if value is not None and key not in exempt
    ]


# --------------------------------------------------------------------------- 5. import ids

IMPORT_PATH = "import"  # the Violation path of an import id (a resource option, not an input)


def check_import(r: harness.Resource) -> list[Violation]:
    """An adopted resource's import id has the form its importer parses and names our parent."""
    if not r.import_id:
        return []
    spec = load().imports.get(r.type)
    if spec is None:
        rule = "import: no import id form in rules.yaml"
        return [_violation(r, IMPORT_PATH, r.import_id, rule, "contracts/rules.yaml")]
    source = "; ".join(map(describe, spec["sources"]))
    match = re.fullmatch(spec["pattern"], r.import_id)
    if not match:
        return [_violation(r, IMPORT_PATH, r.import_id, f"import: does not match {spec['pattern']}", source)]
    inputs = inputs_of(r)
    out = []
    for name, part in match.groupdict().items():
        if part is None or _unknown(inputs.get(name)):
            continue
        if inputs.get(name) != part:
            rule = f"import: the id names {name} {part!r}, the program sets {json.dumps(inputs.get(name))}"
            out.append(_violation(r, IMPORT_PATH, r.import_id, rule, source))
    return out


# --------------------------------------------------------------------------- 6. exclusive pairs


def check_exclusive(resources: list[harness.Resource]) -> list[Violation]:
    """Resources of `type` whose `path` value some resource of `other` names at `other_path`:
    the API refuses the pair, whichever of the two is created second."""
    out = []
    for entry in load().exclusive:
        named: dict[Any, list[harness.Resource]] = {}
        for other in resources:
            if other.custom and other.type == entry["other"]:
                for hit in resolve(inputs_of(other), entry["other_path"]):
                    if hit.present and not _unknown(hit.value) and _applies_to(entry.get("other_when"), hit.parent):
                        named.setdefault(hit.value, []).append(other)
        for r in resources:
            if not r.custom or r.type != entry["type"]:
                continue
            for hit in resolve(inputs_of(r), entry["path"]):
                if not hit.present or _unknown(hit.value) or hit.value not in named:
                    continue
                others = ", ".join(o.name for o in named[hit.value])
                pair = f"{entry['other'].split(':')[-1]} {others} ({entry['other_path']}) names it too"
                rule = f"exclusive: {pair}; {entry['rule']}"
                if entry.get("enforced_by"):
                    rule += f" (enforced by {entry['enforced_by']})"
                out.append(_violation(r, hit.path, hit.value, rule, "; ".join(map(describe, entry["sources"]))))
    return out


def _applies_to(conditions: dict[str, Any] | None, node: Any) -> bool:
    return all(_matches(c, scope_value(node, key)) for key, c in (conditions or {}).items())


# --------------------------------------------------------------------------- entry points


def _violation(r: harness.Resource, path: str, value: Any, rule: str, source: str) -> Violation:
    return Violation(r.urn, r.type, r.name, path, value, rule, source)


# Types this checker leaves to another: the Kubernetes API objects are validated whole against
# the cluster version's OpenAPI schema, strictly (kubernetes-validate, tests/graph/test_kubernetes.py);
# the Kubernetes provider's config (a kubeconfig) and the metrics-server chart release have no
# transcribed upstream rules yet (a gap, not a pass: listed so it stays visible).
DELEGATED = {
    "kubernetes:": "Kubernetes API objects: kubernetes-validate, strict (tests/graph/test_kubernetes.py)",
    "pulumi:providers:kubernetes": "not transcribed: the provider's kubeconfig and flags",
}


def delegated(type_: str) -> str | None:
    """Why `type_` is not checked here, or None."""
    return next((why for prefix, why in DELEGATED.items() if type_.startswith(prefix)), None)


def check_resource(r: harness.Resource) -> list[Violation]:
    if delegated(r.type):
        return []
    return [*check_schema(r), *check_rules(r), *check_replacement(r), *check_update(r), *check_import(r)]


def check(run: harness.Run) -> list[Violation]:
    """Every violation of every recorded custom resource of `run`, and of every pair of them."""
    return [*(v for r in run.resources if r.custom for v in check_resource(r)), *check_exclusive(run.resources)]


# --------------------------------------------------------------------------- coverage helpers (tests)


def set_paths(r: harness.Resource) -> set[str]:
    """Schema-level property paths `r` sets (`[]` for list items); maps and Any values are leaves."""
    if delegated(r.type):
        return set()
    entry = schema_entry(r.type)
    if entry is None:
        return set()
    types = load().schemas[provider_of(r.type)]["types"]
    found: set[str] = set()
    for key, value in inputs_of(r).items():
        if key in entry["inputProperties"]:
            _leaves(value, entry["inputProperties"][key], types, key, found)
    return found


def _leaves(value: Any, spec: dict[str, Any], types: dict, path: str, found: set[str]) -> None:
    if value is None:
        return
    ref = spec.get("$ref", "")
    target = types.get(ref[len("#/types/") :]) if ref.startswith("#/types/") else None
    if target and "properties" in target and isinstance(value, dict):
        for key, item in value.items():
            if key in target["properties"]:
                _leaves(item, target["properties"][key], types, f"{path}.{key}", found)
        return
    if spec.get("type") == "array" and isinstance(value, list):
        for item in value:
            _leaves(item, spec.get("items", {}), types, f"{path}[]", found)
        return
    found.add(path)


def schema_has_path(type_: str, path: str) -> bool:
    """Whether `path` (rule syntax) names a property of `type_` in its vendored schema."""
    entry = schema_entry(type_)
    if entry is None:
        return False
    types = load().schemas[provider_of(type_)]["types"]
    spec: dict[str, Any] = {"properties": entry["inputProperties"]}
    for kind, arg in _steps(path):
        ref = spec.get("$ref", "")
        if ref == "pulumi.json#/Any":
            return True
        if ref.startswith("#/types/"):
            spec = types[ref[len("#/types/") :]]
        if kind == "key":
            if "additionalProperties" in spec:
                spec = spec["additionalProperties"]
            elif arg in spec.get("properties", {}):
                spec = spec["properties"][arg]
            else:
                return False
        elif spec.get("type") == "array":
            spec = spec.get("items", {})
        else:
            return False
    return True


def normalize(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def covered(type_: str, leaf: str) -> bool:
    """Whether a set property path has a rule, or is listed as having no upstream validation."""
    paths = {normalize(rule["path"]) for rule in rules_for(type_)}
    for path in paths:
        if leaf == path or path.startswith((leaf + ".", leaf + "[")) or leaf == path + "[]":
            return True
    return any(leaf == p or leaf.startswith((p + ".", p + "[")) for p in load().unvalidated.get(type_, ()))


# --------------------------------------------------------------------------- CLI


def main(argv: list[str]) -> int:
    preview = "--preview" in argv
    stacks = [a for a in argv if not a.startswith("--")] or harness.stack_files()
    total = 0
    for stack in stacks:
        violations = check(harness.run(stack, preview=preview))
        total += len(violations)
        print(f"{stack}{' (preview)' if preview else ''}: {len(violations)} violation(s)")
        for v in violations:
            print(f"  {v}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
