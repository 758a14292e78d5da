"""The config models, published: a JSON Schema of a stack file for editors, and the README's
config reference tables. Both are generated from components/config; tests fail when the
committed copies are stale. `make schema` (python -m tools.dev.config_schema --write) renews them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from components.config import NAMESPACE, SECRET_KEYS, StackConfig
from components.config.base import SECURE_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schema" / "stack.schema.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- config-reference:begin (make schema) -->", "<!-- config-reference:end -->"
MODELINE = "# yaml-language-server: $schema=./schema/stack.schema.json"
# A value set with `pulumi config set --secret` is stored as {secure: <ciphertext>}.
SECURE = SECURE_SCHEMA
SECRET_DESCRIPTIONS = {
    "slackWebhookUrl": "Slack incoming-webhook URL for alerts; set with `pulumi config set --secret`.",
}


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _key_names(node: Any) -> Any:
    """A map whose keys have a pattern (env names) as pydantic writes it, `patternProperties`
    alone, lets an editor pass any other key; as `propertyNames` plus `additionalProperties` it
    flags a key the program refuses."""
    if isinstance(node, list):
        return [_key_names(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _key_names(v) for k, v in node.items()}
    patterns = node.get("patternProperties")
    if node.get("type") == "object" and isinstance(patterns, dict) and len(patterns) == 1 and "properties" not in node:
        ((pattern, value),) = patterns.items()
        del node["patternProperties"]
        node["propertyNames"] = {"pattern": pattern}
        node["additionalProperties"] = value
    return node


def stack_schema() -> dict[str, Any]:
    """JSON Schema of Pulumi.<stack>.yaml: the `config:` map with the `webstack:` keys."""
    model = _key_names(_strip_titles(StackConfig.model_json_schema(by_alias=True)))
    keys = {f"{NAMESPACE}:{k}": v for k, v in model["properties"].items()}
    for key in SECRET_KEYS:
        keys[f"{NAMESPACE}:{key}"] = {"description": SECRET_DESCRIPTIONS[key], "oneOf": [{"type": "string"}, SECURE]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "webstack stack file (Pulumi.<stack>.yaml)",
        "description": "Generated from components/config by `make schema`; do not edit.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": keys,
                "required": [f"{NAMESPACE}:{k}" for k in model["required"]],
                # Other namespaces (providers, pulumi:tags) are the CLI's business.
                "patternProperties": {rf"^(?!{NAMESPACE}:)[A-Za-z0-9_.-]+:": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {"type": ["array", "object", "string"]},
        },
        "additionalProperties": False,
        "$defs": model["$defs"],
    }


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, tuple):
        value = list(value)
    if value is None:
        return "unset"
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _allowed(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        values = schema["enum"]
        return ", ".join(map(str, values)) if len(values) <= 8 else f"{values[0]} ... {values[-1]} ({len(values)})"
    parts = [f">= {schema['minimum']}"] if "minimum" in schema else []
    parts += [f"<= {schema['maximum']}"] if "maximum" in schema else []
    parts += [f"`{readable(schema['pattern'])}`"] if "pattern" in schema else []
    kind = schema.get("type")
    return ", ".join(parts) or (kind if isinstance(kind, str) else "")


def readable(pattern: str) -> str:
    """A whole-string pattern (base.whole: `^(?:...)$(?!\\n)`) as the README shows it, `^...$`:
    every pattern matches the whole value, which the text above the tables says once."""
    m = re.fullmatch(r"\^\(\?:(.*)\)\$\(\?!\\n\)", pattern)
    if not m:
        return pattern
    depth, escaped, in_class = 0, False, False
    for c in m[1]:  # an alternation at the top needs its group: ^(?:a|b)$
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif in_class or c == "[":
            in_class = c != "]"
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0:
            return f"^(?:{m[1]})$"
    return f"^{m[1]}$"


def _table(model: type[BaseModel], prefix: str) -> list[str]:
    props = _strip_titles(model.model_json_schema(by_alias=True))["properties"]
    rows = ["| key | default | allowed | what it does |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        key = field.alias or name
        schema = props[key]
        schema = next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)
        description = (field.description or "").replace("\n", " ").replace("|", "\\|")
        allowed = _allowed(schema).replace("|", "\\|")
        rows.append(f"| `{prefix}{key}` | {_default(field)} | {allowed} | {description} |")
    return rows


def reference_markdown() -> str:
    """The README's config reference tables, one per key of the stack file."""
    out = [BEGIN, "", "#### Scalar keys", ""]
    scalars = [n for n, f in StackConfig.model_fields.items() if not _is_section(f.annotation)]
    rows = _table(StackConfig, "")
    out += rows[:2] + [r for r in rows[2:] if any(f"| `{StackConfig.model_fields[n].alias}`" in r for n in scalars)]
    for key in SECRET_KEYS:
        out.append(f"| `{key}` | unset | secret | {SECRET_DESCRIPTIONS[key]} |")
    for field in StackConfig.model_fields.values():
        if _is_section(field.annotation):
            out += ["", f"#### `{field.alias}`: {field.description}", "", *_table(field.annotation, "")]
            for sub_name, sub in field.annotation.model_fields.items():
                if _is_section(sub.annotation):
                    alias = sub.alias or sub_name
                    out += ["", f"`{field.alias}.{alias}`:", "", *_table(sub.annotation, f"{alias}.")]
    out += ["", END]
    return "\n".join(out)


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def readme_with_reference(text: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    return pattern.sub(lambda _: reference_markdown(), text)


def schema_text() -> str:
    return json.dumps(stack_schema(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update schema/stack.schema.json and README.md")
    args = parser.parse_args(argv)
    if not args.write:
        sys.stdout.write(schema_text())
        return 0
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(schema_text())
    README.write_text(readme_with_reference(README.read_text()))
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)} and the config reference in README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
