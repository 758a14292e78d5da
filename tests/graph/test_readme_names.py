"""Every name the README's runbooks and security section tell an operator to type is one the
program makes: resource names (`webstack-<stack>-...`, for `--replace`, `--target-replace`,
`state delete`), Spaces key names, stack outputs and make targets. A renamed resource or output
would leave a runbook step that finds nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import recorded, recorded_with
from tests.graph.test_secrets import DOCR_REGISTRY, USER_SECRETS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# Variants that build what the stack files leave out (public media, a DOCR registry), the
# same recordings other test files make.
VARIANTS = (
    ("prod", {"media": {"enabled": True, "publicHostname": "media.example.com"}}),
    ("prod", {**USER_SECRETS, **DOCR_REGISTRY}),
)


def readme_resource_names(text: str) -> set[str]:
    return set(re.findall(r"webstack-<stack>-[a-z0-9<>-]*[a-z0-9]", text))


def _pattern(name: str) -> re.Pattern:
    body = re.escape(name).replace(re.escape("<stack>"), "(?P<stack>[a-z]+)").replace(re.escape("<i>"), "[0-9]+")
    return re.compile(body)


def _names(run) -> set[str]:
    names = {r.name for r in run.resources}
    names |= {k.inputs["name"] for k in run.of_type("digitalocean:index/spacesKey:SpacesKey")}
    return names


def _all_names() -> set[str]:
    names = set()
    for stack in ("dev", "staging", "prod"):
        names |= _names(recorded(stack))
    for stack, overrides in VARIANTS:
        names |= _names(recorded_with(stack, overrides))
    return names


def missing(text: str, names: set[str]) -> list[str]:
    return sorted(n for n in readme_resource_names(text) if not any(_pattern(n).fullmatch(x) for x in names))


def test_every_resource_name_the_readme_gives_is_one_the_program_makes():
    found = readme_resource_names(README)
    assert {"webstack-<stack>-node-<i>-keys", "webstack-<stack>-backups-offsite-key"} <= found
    assert missing(README, _all_names()) == []


def test_a_name_the_program_does_not_make_is_reported():
    names = _all_names()
    assert missing("`webstack-<stack>-backups-offsite-key`", names) == []
    assert missing("`webstack-<stack>-backup-offsite-key`", names) == ["webstack-<stack>-backup-offsite-key"]


def test_every_output_the_readme_reads_is_exported():
    exports = set(recorded("prod").exports) | set(recorded("staging").exports)
    used = set(re.findall(r"pulumi stack output (?:--[\w-]+ (?:<\w+> )?)*(\w+)", README))
    used |= set(re.findall(r"<([a-z]+_[a-z_]+)(?:\[\d\])?>", README))
    assert {"database_restore_service", "backup_offsite_bucket", "droplet_ids"} <= used
    assert used - exports == set()


@pytest.mark.parametrize("target", sorted(set(re.findall(r"(?:`|^\s*)make ([a-z][\w-]*)", README, re.MULTILINE))))
def test_every_make_target_the_readme_runs_exists(target):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target


def test_the_readme_says_what_every_spaces_key_the_program_mints_can_do():
    """Each key the stacks (and the media variant) mint has a row in the README's credential
    table, under its name in the DigitalOcean account."""
    runs = [recorded(s) for s in ("dev", "staging", "prod")] + [recorded_with(*VARIANTS[0])]
    keys = {
        key.inputs["name"].replace(f"webstack-{run.stack}-", "webstack-<stack>-", 1)
        for run in runs
        for key in run.of_type("digitalocean:index/spacesKey:SpacesKey")
    }
    assert len(keys) == 4
    for key in sorted(keys):
        assert re.search(rf"^\| [^|]*`{re.escape(key)}`\) \| [^|]+ \| [^|]*only", README, re.MULTILINE), key
