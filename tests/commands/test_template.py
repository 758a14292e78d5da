"""`pulumi new <this repository's URL>` gives a team a working project (see testing/template.py
for what the CLI does with the repository, transcribed from its source): the template's
prompts name webstack keys, the project file stays valid once renamed, and a project made
with sample answers plans, under a new stack name or over one of the repository's own stack
files, with nothing of our example stacks left in it."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from components.config import NAMESPACE, ConfigError, StackConfig
from testing import harness, template
from tools import plan

# Pulumi's own schema of Pulumi.yaml, from github.com/pulumi/pulumi at 1b5949891b3c,
# sdk/go/common/workspace/project.json.
PROJECT_SCHEMA = json.loads((harness.ROOT / "contracts" / "pulumi-project.schema.json").read_text())
KEYS = {field.alias or name for name, field in StackConfig.model_fields.items()}
ANSWERS = {
    "webstack:domain": "acme-shop.com",
    "webstack:region": "fra1",
    "webstack:sshTrustedCidrs": '["198.51.100.23/32"]',
    "webstack:sshPublicKeys": (
        '["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILVlmDiWjvbCr45kh9nHFrs06R0HkCjFI1v7Vw8JCUTY ana@acme-shop.com"]'
    ),
    "webstack:app": '{"image": "ghcr.io/acme/shop:2.3.1", "hostnames": ["acme-shop.com", "www.acme-shop.com"]}',
    "webstack:alertEmails": '["ops@acme-shop.com"]',
}


def _ours(stack: str) -> list[str]:
    """Values of our own stack file that are ours, not a team's: its domain, keys, image, mails."""
    doc = yaml.safe_load(harness.stack_path(stack).read_text())["config"]
    values = [doc.get(f"{NAMESPACE}:domain"), doc.get(f"{NAMESPACE}:app", {}).get("image")]
    for key in ("sshPublicKeys", "sshKeyFingerprints", "alertEmails"):
        values += doc.get(f"{NAMESPACE}:{key}") or []
    return [v.split()[1] if v.startswith("ssh-") else v for v in values if v]


def test_the_project_file_is_valid_for_pulumi_before_and_after_the_rename():
    project = yaml.safe_load((harness.ROOT / "Pulumi.yaml").read_text())
    jsonschema.validate(project, PROJECT_SCHEMA)
    # A declared key belongs to the project's namespace, which `pulumi new` renames: a required
    # `domain` would become `shop:domain` and no stack would set it. webstack declares none.
    assert "config" not in project
    renamed = {**project, "name": "acme-shop"}
    del renamed["template"]
    jsonschema.validate(renamed, PROJECT_SCHEMA)


def test_every_prompt_names_a_webstack_key_and_says_what_to_type():
    prompts = template.prompts()
    assert {"webstack:domain", "webstack:region", "webstack:sshTrustedCidrs", "webstack:sshPublicKeys"} <= set(prompts)
    assert {"webstack:app", "webstack:alertEmails"} <= set(prompts)
    for key, spec in prompts.items():
        namespace, _, name = key.partition(":")
        assert namespace == NAMESPACE and name in KEYS, key
        assert spec.get("description"), key
        assert not spec.get("secret"), key  # a secret prompt would hide what the user types back
        if "default" in spec:  # a default is the text a user would type: it must read as the key's value
            assert isinstance(spec["default"], str), key


def test_no_file_carries_a_placeholder_pulumi_new_would_rewrite():
    """Only Pulumi.yaml and the stack file differ from the repository in a new project."""
    pattern = re.compile(r"\$\{(PROJECT|DESCRIPTION)\}")
    for rel in template.repository_files():
        data = (harness.ROOT / rel).read_bytes()
        assert not pattern.search(rel), rel
        if b"\0" not in data[:8000]:
            assert not pattern.search(data.decode(errors="replace")), rel


@pytest.mark.parametrize("stack", ["live", "prod", "dev"])
def test_a_project_made_from_the_template_plans_with_nothing_of_ours_left(tmp_path, stack):
    """`live` is a stack of the team's own name (the prompts make its whole file); `prod`
    and `dev` are the repository's own stack files, whose example values the answers replace."""
    dest = tmp_path / stack  # harness.stack_path(<dir>) reads <dir>/Pulumi.<last part>.yaml
    stack_file = template.new_project(dest, "acme-shop", "Acme's shop", stack, ANSWERS)
    text = stack_file.read_text()
    for value in _ours("prod") + _ours("dev"):
        assert value not in text, (value, stack)
    run = harness.run(str(dest))
    records = {r.inputs["name"] for r in run.of_type("cloudflare:index/dnsRecord:DnsRecord")}
    assert {"acme-shop.com", "www.acme-shop.com"} <= records, records
    droplets = run.of_type("digitalocean:index/droplet:Droplet")
    assert droplets and {d.inputs["region"] for d in droplets} == {"fra1"}
    assert "monthly" in plan.render(plan.build(run)).lower()  # what `make plan STACK=<dir>` prints


def test_a_new_prod_stack_must_protect_its_data_before_anything_exists(tmp_path):
    """A fresh stack named prod* takes no example's `protect: true`: the program stops it with
    the key named, before any resource exists."""
    dest = tmp_path / "production"
    template.new_project(dest, "acme-shop", "Acme's shop", "production", ANSWERS)
    with pytest.raises(ConfigError, match=r"webstack:protect = False: must be true in a production stack") as err:
        harness.run(str(dest))
    assert err.value.recorded == []


def test_the_version_is_the_changelogs_newest_release():
    """pyproject's version names the newest CHANGELOG entry, and every entry says what it does
    to a running stack."""
    import tomllib

    version = tomllib.loads((harness.ROOT / "pyproject.toml").read_text())["project"]["version"]
    changelog = (harness.ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\d+\.\d+\.\d+) \(\d{4}-\d{2}-\d{2}\)$", changelog, flags=re.M)
    assert releases and releases[0] == version, (version, releases)
    assert releases == sorted(releases, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    assert "replace" in changelog.split(f"## {releases[0]}")[1].split("\n## ")[0]
