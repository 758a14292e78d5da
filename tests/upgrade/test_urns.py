"""An upgrade of this program replaces nothing by accident.

A resource's URN is its identity in the stack's state: its name, its type and the types of
the components above it. A change to any of them makes `pulumi up` delete the old resource and
create a new one: a new droplet (downtime), a new database cluster (its data gone, or `protect`
refusing the update in prod), a new certificate. So every URN a stack had keeps existing:
tests/upgrade/urns/<stack>.txt lists them, and a resource may be added but none renamed, moved to
another component or retyped without an alias (then rewrite the list, in the same commit, by
running this file: `venv/bin/python -m tests.upgrade.test_urns`).

Keeping the URN is not enough: a resource whose force-new inputs (contracts/replacement.yaml)
change is replaced too. tests/upgrade/urns/<stack>.json holds, for every resource that carries data,
an address or a service (everything but the containers, images, networks and readiness steps
that each release replaces by design), the values of those inputs as the last release sent
them, and of those the program replaces it on (`replace_on_changes`); an input the resource
ignores changes of (`ignore_changes`) cannot replace it and is left out. Same rewrite.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import STACKS, recorded

HERE = Path(__file__).parent / "urns"
FORCE_NEW = {
    kind: sorted({path.split("[")[0].split(".")[0] for path in spec.get("force_new") or {}})
    for kind, spec in yaml.safe_load((HERE.parents[2] / "contracts" / "replacement.yaml").read_text())["types"].items()
}
# Replaced by design on a release (a new image, env or config): their identity is not pinned.
REPLACEABLE = ("docker:index/container:", "docker:index/network:", "docker:index/remoteImage:", "command:")


def _urns(stack: str) -> set[str]:
    return {r.urn for r in recorded(stack).resources}


@pytest.mark.parametrize("stack", STACKS)
def test_every_urn_of_the_last_release_is_still_there(stack):
    known = set((HERE / f"{stack}.txt").read_text().split())
    assert known, "the list is not empty"
    gone = sorted(known - _urns(stack))
    assert gone == [], f"{len(gone)} resources would be replaced (renamed, re-parented or retyped)"


def _identities(stack: str) -> dict[str, dict]:
    """URN -> the force-new inputs it was sent (a secret one as "[secret]")."""
    out = {}
    for r in recorded(stack).resources:
        if not r.custom or r.type.startswith(REPLACEABLE):
            continue
        # What the program replaces the resource on (replace_on_changes) is force-new too.
        forcing = sorted({*FORCE_NEW.get(r.type, []), *r.replace_on_changes})
        keys = [k for k in forcing if k in r.inputs and k not in r.ignore_changes]
        secret = {p.split("[")[0].split(".")[0] for p in r.secret_paths}
        out[r.urn] = {k: "[secret]" if k in secret else r.inputs[k] for k in keys}
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_of_the_last_release_is_replaced_by_a_changed_force_new_input(stack):
    known = json.loads((HERE / f"{stack}.json").read_text())
    now = _identities(stack)
    assert len(known) > 10 and any(known.values()), "the pins are not empty"
    changed = {
        urn: {k: (v, now[urn].get(k)) for k, v in inputs.items() if now[urn].get(k) != v}
        for urn, inputs in known.items()
        if urn in now and now[urn] != inputs
    }
    assert changed == {}, f"{len(changed)} resources would be replaced: {json.dumps(changed, indent=1)[:2000]}"


if __name__ == "__main__":
    for stack in STACKS:
        (HERE / f"{stack}.txt").write_text("".join(f"{urn}\n" for urn in sorted(_urns(stack))))
        (HERE / f"{stack}.json").write_text(json.dumps(_identities(stack), indent=1, sort_keys=True) + "\n")
