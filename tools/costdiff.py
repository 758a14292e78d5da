"""The monthly cost a change makes to each stack: two sets of `make plan --json` documents.

    python -m tools.costdiff BASE_DIR HEAD_DIR   # each holds <stack>.json from tools.plan --json

Prints Markdown (the pull-request job appends it to the job summary): one row per stack with
the base total, the head total and the difference, then per stack the cost rows that appear,
go or change price. A stack missing on one side (new, removed, or its plan failed there)
counts as 0 on that side and says so.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _load(directory: Path) -> dict[str, dict[str, Any]]:
    plans = {}
    for path in sorted(directory.glob("*.json")):
        try:
            plan = json.loads(path.read_text() or "null")
        except json.JSONDecodeError:
            plan = None
        if isinstance(plan, dict) and "cost" in plan:
            plans[path.stem] = plan
    return plans


def _rows(plan: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    if not plan:
        return {}
    return {(r["resource"], r["kind"]): r for r in plan["cost"]["rows"]}


def _total(plan: dict[str, Any] | None) -> float:
    return float(plan["cost"]["monthly_total"]) if plan else 0.0


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _signed(x: float) -> str:
    return "0.00" if abs(x) < 0.005 else f"{'+' if x > 0 else '-'}{abs(x):,.2f}"


def compare(base: dict[str, dict[str, Any]], head: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for stack in sorted(base.keys() | head.keys()):
        b, h = base.get(stack), head.get(stack)
        rows_b, rows_h = _rows(b), _rows(h)
        changes = []
        for key in sorted(rows_b.keys() | rows_h.keys()):
            before = rows_b[key]["monthly"] if key in rows_b else 0.0
            after = rows_h[key]["monthly"] if key in rows_h else 0.0
            slug_b = rows_b[key]["slug"] if key in rows_b else None
            slug_h = rows_h[key]["slug"] if key in rows_h else None
            if abs(after - before) >= 0.005 or slug_b != slug_h:
                changes.append({"resource": key[0], "kind": key[1], "from": slug_b, "to": slug_h,
                                "before": before, "after": after})  # fmt: skip
        out.append({"stack": stack, "base": _total(b), "head": _total(h), "missing_base": b is None,
                    "missing_head": h is None, "changes": changes})  # fmt: skip
    return out


def render(result: Sequence[dict[str, Any]]) -> str:
    lines = [
        "## Monthly cost of this change (USD, offline plan, tools/data/prices.yaml)",
        "",
        "| stack | base | head | change |",
        "|---|---:|---:|---:|",
    ]
    for s in result:
        base = "(none)" if s["missing_base"] else _money(s["base"])
        head = "(none)" if s["missing_head"] else _money(s["head"])
        lines.append(f"| {s['stack']} | {base} | {head} | {_signed(s['head'] - s['base'])} |")
    for s in result:
        if not s["changes"]:
            continue
        lines += ["", f"**{s['stack']}**", "", "| resource | kind | size | monthly |", "|---|---|---|---:|"]
        for c in s["changes"]:
            size = f"{c['from'] or '-'} → {c['to'] or '-'}" if c["from"] != c["to"] else (c["to"] or "")
            lines.append(f"| {c['resource']} | {c['kind']} | {size} | {_signed(c['after'] - c['before'])} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m tools.costdiff BASE_DIR HEAD_DIR", file=sys.stderr)
        return 2
    print(render(compare(_load(Path(args[0])), _load(Path(args[1])))), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
