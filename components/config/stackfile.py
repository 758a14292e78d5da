"""A stack's config read from its files, for tools that do not run the program (the policy
pack's `--config`): Pulumi.yaml's declared defaults under the stack file's `webstack:` keys,
validated like the program validates them. A `{secure: ...}` leaf cannot be decrypted here, so
it reads as a stand-in naming its key path: nothing read this way may need a secret's value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from components.config.base import NAMESPACE
from components.config.loading import parse
from components.config.stack import StackConfig


def _secret_stand_ins(node: Any, path: str, secret: set[str]) -> Any:
    if isinstance(node, dict) and set(node) == {"secure"}:
        secret.add(path.split(".", 1)[0])
        return f"secret-{path}"
    if isinstance(node, dict):
        return {k: _secret_stand_ins(v, f"{path}.{k}", secret) for k, v in node.items()}
    if isinstance(node, list):
        return [_secret_stand_ins(v, f"{path}[{i}]", secret) for i, v in enumerate(node)]
    return node


def read_values(stack_file: Path, project_file: Path) -> tuple[dict[str, str], frozenset[str]]:
    """The `webstack:` values of `stack_file` over `project_file`'s declared defaults, each as
    the text the CLI hands the program, and the keys holding a secret."""
    declared = (yaml.safe_load(project_file.read_text()) or {}).get("config") or {}
    doc = yaml.safe_load(stack_file.read_text()) or {}
    values = {k.split(":", 1)[1]: v for k, v in (doc.get("config") or {}).items() if k.startswith(f"{NAMESPACE}:")}
    for key, spec in declared.items():
        if isinstance(spec, dict) and "default" in spec:
            values.setdefault(key, spec["default"])
    secret: set[str] = set()
    plain = {key: _secret_stand_ins(value, key, secret) for key, value in values.items()}
    text = {key: value if isinstance(value, str) else json.dumps(value) for key, value in plain.items()}
    return text, frozenset(secret)


def read_stack(stack_file: Path, project_file: Path) -> StackConfig:
    """The validated config of the stack in `stack_file` (Pulumi.<stack>.yaml); raises
    ConfigError like the program."""
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    values, secret_keys = read_values(stack_file, project_file)
    return parse(values, stack, secret_keys=secret_keys)
