"""Offline plan: what a stack builds, what it costs a month, how long `pulumi up` takes.

    python -m tools.plan STACK [--json] [--diff OTHER] [--preview] [--set app.replicas=3 ...]

STACK is a stack of the project root (Pulumi.<STACK>.yaml) or a directory such as
examples/pdf-smaller (its Pulumi.pdf-smaller.yaml, planned as stack pdf-smaller).

It runs the program under the same recording mocks the tests use (testing/harness.py),
pointed at the stack's real config. It prints types, names and non-secret key properties
only; a secret value never reaches its output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from components.config import ConfigError
from testing import harness
from testing.harness import Resource, Run, direct_dependencies

DATA = Path(__file__).resolve().parent / "data"
PRICES = yaml.safe_load((DATA / "prices.yaml").read_text())
DURATIONS = yaml.safe_load((DATA / "durations.yaml").read_text())

# Properties worth comparing between stacks (never secret ones; checked against secret paths).
KEY_PROPERTIES = (
    "size",
    "sizeUnit",
    "nodeCount",
    "engine",
    "version",
    "region",
    "ipRange",
    "valkeyMaxmemoryPolicy",
    "mode",
    "backups",
    "environment",
    "image",
    "name",
    "settingId",
    "value",
    "phase",
    "proxied",
    "forceDestroy",
)


class PlanError(Exception):
    """A resource type the price or duration table does not know."""


# --------------------------------------------------------------------------- cost


def _row(r: Resource, kind: str, slug: str, qty: float, unit: float, source: str) -> dict[str, Any]:
    return {
        "resource": r.name,
        "kind": kind,
        "slug": slug,
        "quantity": qty,
        "unit_price": round(unit, 2),
        "monthly": round(qty * unit, 2),
        "source": source,
    }


def cost_rows(run: Run) -> list[dict[str, Any]]:
    """One row per billable item, priced from tools/data/prices.yaml."""
    rows: list[dict[str, Any]] = []
    spaces_counted = False
    for r in sorted(run.resources, key=lambda r: r.urn):
        if not r.custom:
            continue
        rule = PRICES["billing"].get(r.type)
        if rule is None:
            raise PlanError(f"no price row for {r.type} (add it to tools/data/prices.yaml billing)")
        i = r.inputs
        if rule == "droplet":
            entry = PRICES["droplet"][i["size"]]
            rows.append(_row(r, "droplet", i["size"], 1, entry["monthly"], entry["source"]))
            if i.get("backups"):
                plan = (i.get("backupPolicy") or {}).get("plan", "weekly")
                fraction = PRICES["droplet_backups"][f"{plan}_fraction"]
                rows.append(
                    _row(r, f"droplet backups ({plan})", i["size"], 1, entry["monthly"] * fraction,
                         PRICES["droplet_backups"]["source"])
                )  # fmt: skip
        elif rule == "load_balancer":
            lb = PRICES["load_balancer"]
            rows.append(_row(r, "load balancer", "lb-small", i.get("sizeUnit", 1), lb["regional_1_node"], lb["source"]))
        elif rule == "reserved_ip":
            ip = PRICES["reserved_ip"]
            rows.append(_row(r, "reserved IP (assigned)", "ipv4", 1, ip["assigned"], ip["source"]))
        elif rule == "database_cluster":
            engine = "postgres" if i["engine"] == "pg" else "valkey"
            entry = PRICES[engine][i["size"]]
            rows.append(_row(r, f"{engine} primary", i["size"], 1, entry["primary"], entry["source"]))
            standbys = int(i.get("nodeCount", 1)) - 1
            if standbys:
                rows.append(_row(r, f"{engine} standby", i["size"], standbys, entry["standby"], entry["source"]))
        elif rule == "spaces" and not spaces_counted:
            spaces_counted = True  # one subscription covers every bucket of the account
            sp = PRICES["spaces"]
            rows.append(_row(r, "spaces subscription", "250 GiB", 1, sp["subscription"], sp["source"]))
        elif rule == "volume":
            vol = PRICES["volume_per_gib"]
            rows.append(_row(r, "volume", f"{i['size']} GiB", i["size"], vol["monthly"], vol["source"]))
        elif rule == "kubernetes_cluster":
            k = PRICES["kubernetes"]
            if i.get("ha"):
                rows.append(_row(r, "kubernetes HA control plane", "ha", 1, k["ha_control_plane"], k["source"]))
            pool = i.get("nodePool") or {}
            entry = PRICES["droplet"][pool["size"]]
            rows.append(_row(r, "kubernetes system nodes", pool["size"], pool.get("nodeCount", 1), entry["monthly"],
                             k["source"]))  # fmt: skip
        elif rule == "kubernetes_pool":
            entry = PRICES["droplet"][i["size"]]
            row = _row(r, "kubernetes app nodes", i["size"], i["minNodes"], entry["monthly"], entry["source"])
            # The autoscaler adds nodes up to maxNodes: the month costs between the two.
            row["quantity_max"] = i["maxNodes"]
            row["monthly_max"] = round(i["maxNodes"] * entry["monthly"], 2)
            rows.append(row)
        elif rule == "kubernetes_service" and (i.get("spec") or {}).get("type") == "LoadBalancer":
            lb = PRICES["load_balancer"]
            rows.append(_row(r, "load balancer (cluster)", "lb-small", 1, lb["regional_1_node"], lb["source"]))
        elif rule == "volume_claim":
            vol = PRICES["volume_per_gib"]
            size = int(str(i["spec"]["resources"]["requests"]["storage"]).removesuffix("Gi"))
            rows.append(_row(r, "volume (cluster)", f"{size} GiB", size, vol["monthly"], vol["source"]))
        elif rule == "uptime_check":
            mon = PRICES["monitoring"]
            rows.append(_row(r, "uptime check", "check", 1, mon["uptime_check"], mon["source"]))
    return rows


# --------------------------------------------------------------------------- deploy


def simulate_deploy(run: Run) -> dict[str, Any]:
    """Earliest finish of every resource when everything independent runs in parallel.

    finish(r) = duration(r) + max(finish(d) for d in what r waits on). The critical chain is
    followed back from the last resource to finish; its length is at most the serial sum.
    """
    seconds = DURATIONS["seconds"]
    by_name = DURATIONS.get("by_name") or {}
    index = {r.urn: r for r in run.resources}
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}

    def duration(r: Resource) -> float:
        if not r.custom:
            return 0.0
        for suffix, typical in by_name.items():
            if r.name.endswith(suffix):
                return float(typical)
        if r.type not in seconds:
            raise PlanError(f"no duration row for {r.type} (add it to tools/data/durations.yaml)")
        return float(seconds[r.type])

    def visit(urn: str) -> float:
        if urn in finish:
            return finish[urn]
        r = index[urn]
        deps = [d for d in direct_dependencies(r) if d in index]
        start, before = 0.0, None
        for d in deps:
            t = visit(d)
            if t > start:
                start, before = t, d
        finish[urn] = start + duration(r)
        via[urn] = before
        return finish[urn]

    for urn in index:
        visit(urn)
    serial = sum(duration(r) for r in run.resources)
    last = max(finish, key=lambda u: finish[u]) if finish else None
    chain: list[dict[str, Any]] = []
    while last is not None:
        r = index[last]
        if r.custom:
            chain.append({"urn": r.urn, "type": r.type, "name": r.name, "seconds": duration(r), "finish": finish[last]})
        last = via[last]
    chain.reverse()
    return {
        "critical_path": chain,
        "critical_seconds": max(finish.values(), default=0.0),
        "serial_seconds": serial,
    }


# --------------------------------------------------------------------------- plan


def _key_properties(r: Resource) -> dict[str, Any]:
    """Scalar, non-secret inputs worth showing and comparing."""
    return {
        k: r.inputs[k]
        for k in KEY_PROPERTIES
        if k in r.inputs and k not in r.secret_paths and not isinstance(r.inputs[k], (dict, list))
    }


def build(run: Run) -> dict[str, Any]:
    """The whole plan as one JSON-able document."""
    rows = cost_rows(run)
    counts = Counter(r.type for r in run.resources if r.custom)
    return {
        "stack": run.stack,
        "preview": run.preview,
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent,
                "custom": r.custom,
                "protected": r.protect,
                "secret_inputs": r.has_secret_input(),
                "properties": _key_properties(r),
            }
            for r in run.resources
        ],
        "counts": dict(sorted(counts.items())),
        "total_resources": sum(counts.values()),
        "cost": {
            "currency": "USD",
            "prices_read_on": PRICES["read_on"],
            "rows": rows,
            "monthly_total": round(sum(row["monthly"] for row in rows), 2),
            # With an autoscaling node pool the month costs up to this (every pool at maxNodes).
            "monthly_max": round(sum(row.get("monthly_max", row["monthly"]) for row in rows), 2),
        },
        "deploy": simulate_deploy(run),
        "exports": {k: ("[secret]" if e.secret else e.value) for k, e in run.exports.items()},
    }


def _tree_lines(plan: dict[str, Any]) -> list[str]:
    children: dict[str, list[dict[str, Any]]] = {}
    for r in plan["resources"]:
        children.setdefault(r["parent"], []).append(r)
    roots = [p for p in children if p not in {r["urn"] for r in plan["resources"]}]
    lines: list[str] = [f"+ pulumi:pulumi:Stack webstack-{plan['stack']}"]

    def walk(parent: str, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (r["custom"], r["type"], r["name"])):
            marks = (" [protected]" if r["protected"] else "") + (" [secret inputs]" if r["secret_inputs"] else "")
            lines.append(f"{'    ' * depth}+ {r['type']} {r['name']}{marks}")
            walk(r["urn"], depth + 1)

    for root in roots:
        walk(root, 1)
    return lines


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def render(plan: dict[str, Any]) -> str:
    out = [f"Plan for stack {plan['stack']}{' (preview: outputs unknown)' if plan['preview'] else ''}", ""]
    out += _tree_lines(plan)
    out += ["", "Resources by type:"]
    width = max((len(t) for t in plan["counts"]), default=10)
    out += [f"  {t:<{width}}  {n:>3}" for t, n in plan["counts"].items()]
    out += [f"  {'total':<{width}}  {plan['total_resources']:>3}", ""]
    cost = plan["cost"]
    out.append(f"Estimated monthly cost (USD, prices read {cost['prices_read_on']}, tools/data/prices.yaml):")
    out.append(f"  {'kind':<26} {'slug':<18} {'qty':>4} {'unit':>9} {'monthly':>9}  resource")
    for row in cost["rows"]:
        out.append(
            f"  {row['kind']:<26} {row['slug']:<18} {row['quantity']:>4} {row['unit_price']:>9.2f} "
            f"{row['monthly']:>9.2f}  {row['resource']}"
        )
    out += [f"  {'total':<26} {'':<18} {'':>4} {'':>9} {cost['monthly_total']:>9.2f}"]
    if cost.get("monthly_max", cost["monthly_total"]) != cost["monthly_total"]:
        out.append(
            f"  {'total, pools at maxNodes':<26} {'':<18} {'':>4} {'':>9} {cost['monthly_max']:>9.2f}  "
            f"(band {cost['monthly_total']:.2f}..{cost['monthly_max']:.2f})"
        )
    out.append("")
    deploy = plan["deploy"]
    out.append(
        f"Simulated `pulumi up` from scratch: {_minutes(deploy['critical_seconds'])} on the critical chain "
        f"(serial sum {_minutes(deploy['serial_seconds'])}; typical times from tools/data/durations.yaml).\n"
        "What it waits on, in order (the critical chain as a checklist):"
    )
    out += checklist(plan)
    out += ["", "Outputs:"]
    out += [f"  {k}: {v}" for k, v in plan["exports"].items()]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- live progress

# One-shot containers by the container name they run under, and what shows their output while
# `pulumi up` waits on them. The docker provider reports a one-shot (attach, must_run=false)
# only when it has exited, with its logs at the end (containerLogs); `make logs` follows the
# container on the droplet meanwhile. pulumi-command's remote.Command sends every line its
# command prints to the engine as a status message while it runs (pulumi/pulumi-command
# provider/pkg/provider/util/util.go LogOutput, logging defaults to stdout and stderr): the
# `pulumi up` display shows it beside the resource, and it is not kept after the step ends.
ONE_SHOTS = {"migrate": "the release command", "pg-grant": "the admin step", "probe": "the health probe"}


def _live_hint(plan: dict[str, Any], step: dict[str, Any]) -> str:
    if step["type"] == "command:remote:Command":
        return "its output shows as status in `pulumi up` while it runs"
    if step["type"] == "docker:index/container:Container":
        container = next((r["properties"].get("name") for r in plan["resources"] if r["urn"] == step["urn"]), None)
        if container in ONE_SHOTS:
            return f"{ONE_SHOTS[container]}; follow it: make logs STACK={plan['stack']} PROCESS={container} ARGS=--wait"
    return ""


def checklist(plan: dict[str, Any]) -> list[str]:
    """The critical chain as a checklist: what a long `pulumi up` is waiting on, in order, with
    the time it is typically done by and, for the one-shots, how to watch them live."""
    lines = []
    for step in plan["deploy"]["critical_path"]:
        hint = _live_hint(plan, step)
        lines.append(
            f"  [ ] by {_minutes(step['finish']):>7}  +{step['seconds']:>4.0f}s  {step['type']} {step['name']}"
            + (f"\n  {'':<27}({hint})" if hint else "")
        )
    return lines


# --------------------------------------------------------------------------- diff


def _role(name: str, stack: str) -> str:
    return name.replace(f"webstack-{stack}", "webstack-*")


def diff(this: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """What `this` stack has that `other` lacks, the reverse, and key properties that differ."""
    mine = {(r["type"], _role(r["name"], this["stack"])): r for r in this["resources"] if r["custom"]}
    theirs = {(r["type"], _role(r["name"], other["stack"])): r for r in other["resources"] if r["custom"]}
    changed = []
    for key in sorted(mine.keys() & theirs.keys()):
        a, b = mine[key]["properties"], theirs[key]["properties"]
        delta = {
            p: {"this": a.get(p), "other": b.get(p)}
            for p in sorted(a.keys() | b.keys())
            if a.get(p) != b.get(p) and p != "name"
        }
        if delta:
            changed.append({"type": key[0], "name": key[1], "properties": delta})
    return {
        "this": this["stack"],
        "other": other["stack"],
        "only_in_this": [{"type": t, "name": n} for t, n in sorted(mine.keys() - theirs.keys())],
        "only_in_other": [{"type": t, "name": n} for t, n in sorted(theirs.keys() - mine.keys())],
        "changed": changed,
        "monthly_cost": {"this": this["cost"]["monthly_total"], "other": other["cost"]["monthly_total"]},
    }


def render_diff(d: dict[str, Any]) -> str:
    out = [f"{d['this']} compared with {d['other']}:", "", f"Only in {d['this']}:"]
    out += [f"  + {x['type']} {x['name']}" for x in d["only_in_this"]] or ["  (nothing)"]
    out += ["", f"Only in {d['other']}:"]
    out += [f"  - {x['type']} {x['name']}" for x in d["only_in_other"]] or ["  (nothing)"]
    out += ["", "Key properties that differ:"]
    for c in d["changed"]:
        for prop, v in c["properties"].items():
            out.append(f"  ~ {c['type']} {c['name']}: {prop} {v['other']!r} -> {v['this']!r}")
    cost = d["monthly_cost"]
    out += ["", f"Monthly cost: {d['other']} {cost['other']:.2f} -> {d['this']} {cost['this']:.2f} USD"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- cli


def _overrides(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make plan STACK=<name> ARGS=...", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help=f"one of {', '.join(harness.stack_files())}, or a directory like examples/<app>")
    parser.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    parser.add_argument("--diff", metavar="OTHER", help="compare with another stack")
    parser.add_argument("--preview", action="store_true", help="leave computed outputs unknown, like pulumi preview")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (path)")
    args = parser.parse_args(argv)
    path = harness.stack_path(args.stack)
    if not path.is_file():
        shown = path.relative_to(harness.ROOT) if path.is_relative_to(harness.ROOT) else path
        parser.error(
            f"no {shown}; stacks: {', '.join(harness.stack_files())}, "
            "or a directory <dir>/<name> holding Pulumi.<name>.yaml"
        )
    try:
        plan = build(harness.run(args.stack, _overrides(args.set), preview=args.preview))
        if args.diff:
            result = diff(plan, build(harness.run(args.diff, preview=args.preview)))
            print(json.dumps(result, indent=2) if args.json else render_diff(result), end="")
        else:
            print(json.dumps(plan, indent=2) if args.json else render(plan), end="")
    except (harness.StackConfigError, ConfigError, PlanError) as exc:
        # What the CLI would refuse, or the program's own bad-config RunError: no traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
