"""The config models are the one source of the stack-file schema editors use and of the
README's config reference."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest
import yaml

from components.config import NAMESPACE, StackConfig
from testing import harness
from tools.dev import config_schema

SCHEMA = json.loads(config_schema.SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _stack_doc(stack: str) -> dict:
    return yaml.safe_load((harness.ROOT / f"Pulumi.{stack}.yaml").read_text())


def test_the_committed_schema_is_the_generated_one():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert config_schema.SCHEMA_PATH.read_text() == config_schema.schema_text(), "run `make schema`"


@pytest.mark.parametrize("stack", harness.stack_files())
def test_each_stack_file_validates_and_points_editors_at_the_schema(stack):
    text = (harness.ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert text.splitlines()[0] == config_schema.MODELINE
    assert list(VALIDATOR.iter_errors(_stack_doc(stack))) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda c: c["webstack:app"].update(replica=2), "'replica' was unexpected"),
        (lambda c: c.update({"webstack:vpcCIDR": "10.0.0.0/16"}), "'webstack:vpcCIDR' does not match"),
        (lambda c: c["webstack:app"].update(port="8000"), "is not of type 'integer'"),
        (lambda c: c["webstack:database"].update(mode="sqlite"), "is not one of"),
        (lambda c: c["webstack:valkey"].update(splitCache="yes"), "is not of type 'boolean'"),
        (lambda c: c["webstack:edge"].update(hstsMaxAge=60), "less than the minimum"),
        (lambda c: c.pop("webstack:domain"), "'webstack:domain' is a required property"),
    ],
    ids=["typo-in-object", "typo-top-level", "wrong-type", "bad-choice", "bool", "range", "required"],
)
def test_a_typo_or_a_wrong_type_fails_against_the_schema(change, complaint):
    doc = copy.deepcopy(_stack_doc("prod"))
    change(doc["config"])
    messages = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert any(complaint in m for m in messages), messages


def test_secrets_may_be_secure_values_and_other_namespaces_are_left_to_the_cli():
    doc = copy.deepcopy(_stack_doc("prod"))
    doc["config"]["webstack:slackWebhookUrl"] = {"secure": "v1:abc"}
    doc["config"]["digitalocean:token"] = {"secure": "v1:def"}
    doc["encryptionsalt"] = "v1:xyz"
    assert list(VALIDATOR.iter_errors(doc)) == []
    doc["config"]["webstack:slackWebhookUrl"] = {"secure": 1}
    assert list(VALIDATOR.iter_errors(doc))


def test_the_readme_config_reference_is_generated_from_the_models():
    readme = config_schema.README.read_text()
    assert config_schema.readme_with_reference(readme) == readme, "run `make schema`"
    for name, field in StackConfig.model_fields.items():
        assert f"`{field.alias or name}`" in config_schema.reference_markdown()


def test_the_schema_names_keys_in_the_webstack_namespace_only():
    assert all(k.startswith(f"{NAMESPACE}:") for k in SCHEMA["properties"]["config"]["properties"])


def _patterns(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for v in node.values() for p in _patterns(v)]
    return [p for v in node for p in _patterns(v)] if isinstance(node, list) else []


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in [k, *_strings(v)]]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_every_pattern_matches_whole_values_for_editors_as_for_the_program():
    """A Python `$` (and jsonschema's re.search) matches before a final newline; ECMA-262, what
    editors run, has no \\Z: every pattern ends in `$(?!\\n)` (base.whole), so both refuse
    "10m\\n" as the program does."""
    from tests.unit.test_config_hostile import LEAVES, _valid

    samples = {s for stack in harness.stack_files() for s in _strings(_stack_doc(stack))}
    samples |= {_valid(leaf) for leaf in LEAVES}
    patterns = set(_patterns(SCHEMA["$defs"])) | set(_patterns(SCHEMA["properties"]["config"]["properties"]))
    assert len(patterns) > 15, "every pattern of the models (19 distinct when written)"
    for pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$(?!\\n)"), pattern
        matching = [s for s in samples if re.search(pattern, s)]
        assert matching, f"no sample value matches {pattern}"
        assert not any(re.search(pattern, s + "\n") for s in matching), pattern


@pytest.mark.parametrize("stack", harness.stack_files())
def test_the_schema_never_flags_a_value_the_program_takes(stack):
    """Each text value of the stack file with a line break added: the editor's verdict (the
    schema) is never stricter than the program's."""
    from components.config import ConfigError, parse

    doc = _stack_doc(stack)
    values = harness.stack_config(stack)
    for key, value in doc["config"].items():
        for i, text in enumerate(_strings(value) if not isinstance(value, str) else [value]):
            changed = copy.deepcopy(doc)
            bad = _with_newline(changed["config"][key], i) if not isinstance(value, str) else value + "\n"
            changed["config"][key] = bad
            raw, secret = harness.cli_values({**values, key.split(":", 1)[1]: bad})
            try:
                parse(raw, stack, secret_keys=secret)
            except ConfigError:
                continue  # refused by the program: the schema may flag it or not
            assert not list(VALIDATOR.iter_errors(changed)), (key, text)


def _with_newline(node, index: int):
    """`node` with "\\n" after its index-th string (keys and values, in _strings order)."""
    count = [0]

    def walk(n):
        if isinstance(n, dict):
            out = {}
            for k, v in n.items():
                new_k = walk(k)
                out[new_k] = walk(v)
            return out
        if isinstance(n, list):
            return [walk(v) for v in n]
        if isinstance(n, str):
            count[0] += 1
            return n + "\n" if count[0] - 1 == index else n
        return n

    return walk(node)
