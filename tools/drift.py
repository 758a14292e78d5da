"""Drift: what `pulumi refresh --preview-only` would record for a stack, changing nothing.

    python -m tools.drift --stack prod [--summary FILE]

Through Pulumi's Automation API (`Stack.preview_refresh`, tools/stackapi.py). The exit code is
0 without drift, 1 with drift (each changed kind of operation counted), 2 when the refresh
could not run. `--summary FILE` appends a Markdown report (the scheduled workflow hands it
$GITHUB_STEP_SUMMARY).

The docker and pulumi-command resources are excluded: they live on the droplets and reading
them takes SSH as `deploy` (docker's socket), a credential that can change anything there.
The drift workflow (.github/workflows/drift.yml) holds only read-only cloud credentials, so it
reports drift of the DigitalOcean and Cloudflare resources, which is where hand edits in a
dashboard happen.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tools import stackapi

# Types whose state lives on the droplets (URN globs: `pulumi refresh --exclude`, * and **),
# and the Kubernetes engine's objects: a refresh talks to the cluster with the kubeconfig the
# state holds, whose DigitalOcean token expires (the program reads a fresh one on each `up`,
# components/kubernetes/cluster.py), so a nightly refresh would fail on it, not report drift.
ON_DROPLETS = ("docker:index/", "command:remote:", "kubernetes:")


def excluded(stack: str) -> list[str]:
    return [f"urn:pulumi:{stack}::{stackapi.PROJECT}::**{prefix}**" for prefix in ON_DROPLETS]


def drifted(changes: dict[str, int]) -> dict[str, int]:
    """The operations other than `same` a refresh would record, with their counts."""
    return {op: n for op, n in sorted(changes.items()) if op != "same" and n}


def report(stack: str, changes: dict[str, int]) -> str:
    found = drifted(changes)
    same = changes.get("same", 0)
    if not found:
        return f"### {stack}: no drift\n\n{same} resources as recorded (docker and command resources not checked).\n"
    rows = "\n".join(f"| {op} | {n} |" for op, n in found.items())
    return (
        f"### {stack}: drift\n\nA refresh would record these changes ({same} resources unchanged; "
        f"docker and command resources not checked):\n\n| operation | resources |\n|---|---|\n{rows}\n\n"
        f"Look at them with `pulumi refresh --preview-only --diff --stack {stack}`; adopt them with "
        f"`pulumi refresh --stack {stack}`, or undo them with `pulumi up --stack {stack}`.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.drift", description=__doc__.splitlines()[0])
    p.add_argument("--stack", required=True)
    p.add_argument("--summary", help="append a Markdown report to this file")
    args = p.parse_args(argv)
    try:
        changes = stackapi.preview_refresh(
            args.stack, on_output=lambda line: print(line.rstrip("\n"), flush=True), exclude=excluded(args.stack)
        )
    except stackapi.StackApiError as exc:
        print(f"webstack drift: {exc}", file=sys.stderr)
        return 2
    text = report(args.stack, changes)
    print(text)
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as f:
            f.write(text)
    return 1 if drifted(changes) else 0


if __name__ == "__main__":
    sys.exit(main())
