"""Regenerate contracts/schemas/<provider>.json and verify the cited upstream lines.

The check (testing/contracts.py) reads a trimmed copy of each provider's published Pulumi
schema: only the resource types the program registers (the keys of replacement.yaml) and
the object types they reference, transitively, with descriptions dropped. Usage:

  # from a fetched provider repo (bare git dir) at a tag
  python -m contracts.regen schema digitalocean <mirror>/pulumi+pulumi-digitalocean/repo v4.76.0
  # from a schema.json on disk (say, dumped by `pulumi package get-schema`)
  python -m contracts.regen schema digitalocean schema.json --repo pulumi/pulumi-digitalocean --tag v4.84.1 --commit SHA
  # from the installed, pinned Python SDK, which pulumi generates from that same schema
  python -m contracts.regen sdk cloudflare
  # every source line cited by rules.yaml / replacement.yaml still says what we quote
  python -m contracts.regen verify <mirror>

`sdk_schema()` is also what the test suite compares every vendored schema with, so a
vendored file taken at another tag than the pinned SDK is caught if it differs from it on
the properties of our types.
"""

from __future__ import annotations

import argparse
import collections.abc
import importlib
import json
import subprocess
import sys
import typing
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
# Keys of a property spec that describe its shape; the rest (descriptions, language hints) goes.
SHAPE_KEYS = ("type", "items", "additionalProperties", "$ref", "oneOf", "enum", "willReplaceOnChanges")
ANY = {"$ref": "pulumi.json#/Any"}


def used_tokens(provider: str) -> list[str]:
    """Resource type tokens of `provider` the program registers: the keys of replacement.yaml."""
    types = yaml.load((HERE / "replacement.yaml").read_text(), Loader=yaml.CSafeLoader)["types"]
    return sorted(t for t in types if t.split(":")[0] == provider or t == f"pulumi:providers:{provider}")


def schema_path(provider: str) -> str:
    return f"provider/cmd/pulumi-resource-{provider}/schema.json"


# --------------------------------------------------------------------------- trimming


def _shape(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in SHAPE_KEYS:
        if key not in spec:
            continue
        value = spec[key]
        if key in ("items", "additionalProperties") and isinstance(value, dict):
            value = _shape(value)
        elif key == "oneOf":
            value = [_shape(v) for v in value]
        elif key == "enum":
            value = [e["value"] if isinstance(e, dict) else e for e in value]
        out[key] = value
    return out


def _refs(spec: Any) -> set[str]:
    """Type tokens a shape refers to (`#/types/<token>`)."""
    if isinstance(spec, dict):
        found = set()
        ref = spec.get("$ref", "")
        if ref.startswith("#/types/"):
            found.add(ref[len("#/types/") :])
        for value in spec.values():
            found |= _refs(value)
        return found
    if isinstance(spec, list):
        return set().union(*map(_refs, spec)) if spec else set()
    return set()


def trim(full: dict[str, Any], tokens: list[str], upstream: dict[str, Any]) -> dict[str, Any]:
    """The part of a full schema.json the check needs for `tokens`."""
    out: dict[str, Any] = {"upstream": upstream, "resources": {}, "types": {}}
    pending: set[str] = set()
    for token in tokens:
        if token.startswith("pulumi:providers:"):
            entry = full["provider"]
            key = None
        else:
            entry = full["resources"][token]
            key = token
        inputs = {k: _shape(v) for k, v in sorted(entry.get("inputProperties", {}).items())}
        trimmed = {"inputProperties": inputs, "requiredInputs": sorted(entry.get("requiredInputs", []))}
        if key is None:
            out["provider"] = trimmed
        else:
            out["resources"][key] = trimmed
        pending |= _refs(inputs)
    while pending:
        token = pending.pop()
        if token in out["types"]:
            continue
        spec = full["types"][token]
        shaped = _shape(spec)
        if "properties" in spec:
            shaped["properties"] = {k: _shape(v) for k, v in sorted(spec["properties"].items())}
            shaped["required"] = sorted(spec.get("required", []))
        out["types"][token] = shaped
        pending |= _refs(shaped) - set(out["types"])
    out["types"] = dict(sorted(out["types"].items()))
    return out


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True, text=True).stdout


def from_git(provider: str, git_dir: str, tag: str, repo: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    path = schema_path(provider)
    commit = _git(git_dir, "rev-parse", f"{tag}^{{commit}}").strip()
    full = json.loads(_git(git_dir, "show", f"{tag}:{path}"))
    return full, {
        "from": "schema.json",
        "repo": repo or f"pulumi/pulumi-{provider}",
        "tag": tag,
        "commit": commit,
        "path": path,
    }


# --------------------------------------------------------------------------- from the Python SDK


def _sdk_module(provider: str):
    return importlib.import_module(f"pulumi_{provider}")


def _is_wrapper(tp: Any) -> bool:
    """The Awaitable/Output/None members an SDK annotation adds around the real type."""
    origin = typing.get_origin(tp) or tp
    return tp is type(None) or origin is collections.abc.Awaitable or getattr(origin, "__name__", "") == "Output"


def _py_type_to_shape(tp: Any, provider: str, types: dict[str, Any], pending: list[type]) -> dict[str, Any]:
    """A Pulumi schema shape for a Python SDK annotation (Input/Output wrappers already removed)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        # Input[T] is Union[T, Awaitable[T], Output[T]]; keep T.
        members = [a for a in typing.get_args(tp) if not _is_wrapper(a)]
        return _py_type_to_shape(members[0], provider, types, pending) if members else dict(ANY)
    if origin in (collections.abc.Sequence, list):
        return {"type": "array", "items": _py_type_to_shape(typing.get_args(tp)[0], provider, types, pending)}
    if origin in (collections.abc.Mapping, dict):
        return {
            "type": "object",
            "additionalProperties": _py_type_to_shape(typing.get_args(tp)[1], provider, types, pending),
        }
    if tp is typing.Any:
        return dict(ANY)
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if tp in simple:
        return {"type": simple[tp]}
    if isinstance(tp, type) and getattr(tp, "_pulumi_input_type", False):
        name = tp.__name__.removesuffix("Args")
        token = f"{provider}:{_sdk_module_name(tp)}/{name}:{name}"
        if token not in types:
            types[token] = {}
            pending.append(tp)
        return {"$ref": f"#/types/{token}"}
    return dict(ANY)


def _sdk_module_name(cls: type) -> str:
    """`index` for top-level SDK modules, else the submodule (`remote` for pulumi_command.remote)."""
    parts = cls.__module__.split(".")[1:]
    parts = [p for p in parts if not p.startswith("_")]
    return parts[0] if parts else "index"


def _args_class(provider: str, token: str) -> type:
    sdk = _sdk_module(provider)
    if token.startswith("pulumi:providers:"):
        return sdk.ProviderArgs
    module, name = token.split(":")[1].split("/")[0], token.split(":")[2]
    holder = sdk if module == "index" else importlib.import_module(f"pulumi_{provider}.{module}")
    return getattr(holder, f"{name}Args")


def _object_shape(cls: type, provider: str, types: dict[str, Any], pending: list[type]) -> tuple[dict, list]:
    from pulumi import _types

    hints = _types.input_type_types(cls)
    props = {name: _py_type_to_shape(tp, provider, types, pending) for name, tp in sorted(hints.items())}
    return props, sorted(_types._required_property_names(cls))


def sdk_schema(provider: str, tokens: list[str]) -> dict[str, Any]:
    """The trimmed schema of `tokens` as the installed Python SDK of `provider` sees it."""
    out: dict[str, Any] = {"resources": {}, "types": {}}
    pending: list[type] = []
    for token in tokens:
        props, required = _object_shape(_args_class(provider, token), provider, out["types"], pending)
        entry = {"inputProperties": props, "requiredInputs": required}
        if token.startswith("pulumi:providers:"):
            out["provider"] = entry
        else:
            out["resources"][token] = entry
    while pending:
        cls = pending.pop()
        name = cls.__name__.removesuffix("Args")
        props, required = _object_shape(cls, provider, out["types"], pending)
        out["types"][f"{provider}:{_sdk_module_name(cls)}/{name}:{name}"] = {
            "type": "object",
            "properties": props,
            "required": required,
        }
    out["types"] = dict(sorted(out["types"].items()))
    return out


def sdk_version(provider: str) -> str:
    return metadata.version(f"pulumi_{provider}")


def _kind(spec: dict[str, Any], types: dict[str, Any]) -> tuple[str, Any]:
    """A shape reduced to what both sources can say: primitive, array of, map of, or object type."""
    if "oneOf" in spec:
        spec = spec["oneOf"][0]  # the plain alternative comes first (string | enum ref)
    ref = spec.get("$ref", "")
    if ref == ANY["$ref"]:
        return ("any", None)
    if ref.startswith("#/types/"):
        target = types[ref[len("#/types/") :]]
        if "properties" in target:
            return ("object", target)
        spec = target
    if spec.get("type") == "array":
        return ("array", spec.get("items", {}))
    if spec.get("type") == "object":
        return ("map", spec.get("additionalProperties", {}))
    return (spec.get("type", "any"), None)


def differences(vendored: dict[str, Any], sdk: dict[str, Any]) -> list[str]:
    """Where a vendored schema and the pinned SDK disagree on names, required-ness or types."""
    found: list[str] = []

    def objects(path: str, a_props: dict, a_req: list, b_props: dict, b_req: list) -> None:
        for name in sorted(set(a_props) ^ set(b_props)):
            side = "schema only" if name in a_props else "SDK only"
            found.append(f"{path}.{name}: {side}")
        if sorted(a_req) != sorted(b_req):
            found.append(f"{path}: required {sorted(a_req)} (schema) vs {sorted(b_req)} (SDK)")
        for name in sorted(set(a_props) & set(b_props)):
            shapes(f"{path}.{name}", a_props[name], b_props[name])

    def shapes(path: str, a: dict, b: dict) -> None:
        (ka, sa), (kb, sb) = _kind(a, vendored["types"]), _kind(b, sdk["types"])
        if "any" in (ka, kb):
            return
        if ka != kb:
            found.append(f"{path}: {ka} (schema) vs {kb} (SDK)")
        elif ka in ("array", "map"):
            shapes(f"{path}[]", sa, sb)
        elif ka == "object":
            objects(path, sa["properties"], sa.get("required", []), sb["properties"], sb.get("required", []))

    pairs = [(t, vendored["resources"][t], sdk["resources"].get(t)) for t in vendored["resources"]]
    if "provider" in vendored:
        pairs.append(("provider", vendored["provider"], sdk.get("provider")))
    for token, a, b in pairs:
        if b is None:
            found.append(f"{token}: not in the SDK")
            continue
        objects(token, a["inputProperties"], a["requiredInputs"], b["inputProperties"], b["requiredInputs"])
    return found


# --------------------------------------------------------------------------- verification of cited lines


def verify(mirror: Path) -> list[str]:
    """Problems with the cited sources: a file:line that does not contain the quoted text."""
    sys.path.insert(0, str(HERE.parent))
    from testing import contracts

    problems = []
    checked = 0
    cache: dict[tuple[str, str, str], list[str]] = {}
    for where, source in contracts.all_sources():
        text = source.get("text")
        if not text or "url" in source:
            continue
        git_dir = mirror / source["repo"].replace("/", "+") / "repo"
        if not git_dir.exists():
            print(f"not fetched, unverified: {where}: {source['repo']} {source['file']}:{source['line']}")
            continue
        checked += 1
        key = (str(git_dir), source["commit"], source["file"])
        if key not in cache:
            try:
                cache[key] = _git(str(git_dir), "show", f"{source['commit']}:{source['file']}").splitlines()
            except (subprocess.CalledProcessError, FileNotFoundError) as exc:
                problems.append(f"{where}: cannot read {source['repo']}@{source['commit']}:{source['file']}: {exc}")
                cache[key] = []
                continue
        lines = cache[key]
        line = source["line"]
        if not lines:
            continue
        if line > len(lines) or text not in lines[line - 1]:
            got = lines[line - 1].strip() if line <= len(lines) else "<past end>"
            problems.append(f"{where}: {source['file']}:{line} does not contain {text!r} (it says {got!r})")
    print(f"{checked} cited lines checked")
    return problems


# --------------------------------------------------------------------------- CLI


def _write(provider: str, trimmed: dict[str, Any]) -> Path:
    SCHEMAS.mkdir(exist_ok=True)
    path = SCHEMAS / f"{provider}.json"
    path.write_text(json.dumps(trimmed, indent=1, sort_keys=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.regen", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_schema = sub.add_parser("schema", help="trim a published schema.json")
    p_schema.add_argument("provider")
    p_schema.add_argument("source", help="a bare git dir of the provider repo, or a schema.json file")
    p_schema.add_argument("tag", nargs="?", help="tag to read from the git dir")
    p_schema.add_argument("--repo")
    p_schema.add_argument("--tag", dest="tag_opt")
    p_schema.add_argument("--commit")
    p_schema.add_argument("--note", default="")
    p_sdk = sub.add_parser("sdk", help="derive the trimmed schema from the installed Python SDK")
    p_sdk.add_argument("provider")
    p_sdk.add_argument("--note", default="")
    p_verify = sub.add_parser("verify", help="check every cited file:line against fetched git dirs")
    p_verify.add_argument("mirror", type=Path, help="directory of <owner>+<name>/repo git dirs")
    args = parser.parse_args(argv)

    if args.cmd == "verify":
        problems = verify(args.mirror)
        print("\n".join(problems) or "every cited line says what rules.yaml and replacement.yaml quote")
        return 1 if problems else 0

    tokens = used_tokens(args.provider)
    if args.cmd == "schema":
        if Path(args.source, "HEAD").exists():
            full, upstream = from_git(args.provider, args.source, args.tag, args.repo)
        else:
            full = json.loads(Path(args.source).read_text())
            upstream = {
                "from": "schema.json",
                "repo": args.repo or f"pulumi/pulumi-{args.provider}",
                "tag": args.tag_opt or args.tag,
                "commit": args.commit,
                "path": schema_path(args.provider),
            }
        upstream["pinned_sdk"] = f"pulumi_{args.provider}=={sdk_version(args.provider)}"
        if args.note:
            upstream["note"] = args.note
        trimmed = trim(full, tokens, upstream)
        # What the pinned SDK (generated from the pinned tag's schema) says otherwise; the
        # check accepts a property only the pinned SDK has, and the tests keep this list true.
        upstream["pinned_sdk_drift"] = differences(trimmed, sdk_schema(args.provider, tokens))
        path = _write(args.provider, trimmed)
    else:
        trimmed = sdk_schema(args.provider, tokens)
        version = sdk_version(args.provider)
        upstream = {
            "from": "sdk",
            "repo": f"pulumi/pulumi-{args.provider}",
            "tag": f"v{version}",
            "commit": None,
            "path": f"pulumi_{args.provider} {version} Python SDK (PyPI), generated from {schema_path(args.provider)}",
            "pinned_sdk": f"pulumi_{args.provider}=={version}",
        }
        if args.note:
            upstream["note"] = args.note
        upstream["pinned_sdk_drift"] = []  # it is the pinned SDK
        path = _write(args.provider, {"upstream": upstream, **trimmed})
    print(f"wrote {path.relative_to(HERE.parent)} ({len(tokens)} types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
