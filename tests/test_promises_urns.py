"""An upgrade of this program replaces nothing by accident (issue 11).

A resource's URN is its identity in the stack's state: its name, its type and the types of
the components above it. A change to any of them makes `pulumi up` delete the old resource and
create a new one: a new droplet (downtime), a new database cluster (its data gone, or `protect`
refusing the update in prod), a new certificate. So every URN a stack had keeps existing:
tests/urns/<stack>.txt lists them, and a resource may be added but none renamed, moved to
another component or retyped without an alias (then rewrite the list, in the same commit, by
running this file: `venv/bin/python -m tests.test_promises_urns`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import STACKS, recorded

HERE = Path(__file__).parent / "urns"


def _urns(stack: str) -> set[str]:
    return {r.urn for r in recorded(stack).resources}


@pytest.mark.parametrize("stack", STACKS)
def test_every_urn_of_the_last_release_is_still_there(stack):
    known = set((HERE / f"{stack}.txt").read_text().split())
    assert known, "the list is not empty"
    gone = sorted(known - _urns(stack))
    assert gone == [], f"{len(gone)} resources would be replaced (renamed, re-parented or retyped)"


if __name__ == "__main__":
    for stack in STACKS:
        (HERE / f"{stack}.txt").write_text("".join(f"{urn}\n" for urn in sorted(_urns(stack))))
