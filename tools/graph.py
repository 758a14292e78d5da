"""The stack graph as a picture: Graphviz DOT (+ SVG via the real `dot`) and Mermaid.

    python -m tools.graph STACK [--out docs]

Components are clusters; an edge A -> B means B waits on A (a dependency or B's explicit
provider, e.g. container -> docker provider -> readiness -> droplet).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from testing import harness
from testing.harness import Run, direct_dependencies


def _short(type_: str) -> str:
    """`digitalocean:index/droplet:Droplet` -> `digitalocean Droplet`."""
    if type_.startswith("pulumi:providers:"):
        return f"provider {type_.rsplit(':', 1)[-1]}"
    package, _, rest = type_.partition(":")
    return f"{package} {rest.rsplit(':', 1)[-1]}"


def _ids(run: Run) -> dict[str, str]:
    """Node ids by sorted URN, so an unchanged stack draws the same file."""
    return {urn: f"n{i}" for i, urn in enumerate(sorted(r.urn for r in run.resources))}


def _edges(run: Run) -> list[tuple[str, str]]:
    known = {r.urn for r in run.resources if r.custom}
    edges = set()
    for r in run.resources:
        if r.custom:
            edges.update((d, r.urn) for d in direct_dependencies(r) if d in known)
    return sorted(edges)


def _children(run: Run) -> dict[str, list]:
    kids: dict[str, list] = {}
    for r in sorted(run.resources, key=lambda r: r.urn):
        kids.setdefault(r.parent, []).append(r)
    return kids


def _roots(run: Run) -> list[str]:
    urns = {r.urn for r in run.resources}
    return sorted({r.parent for r in run.resources if r.parent not in urns})


def _nested(run: Run, node, cluster_open: str, cluster_close: str) -> list[str]:
    """Resources nested by parent: components as clusters, custom resources as nodes.

    `node(r, id)` renders one resource; `cluster_open` is formatted with id, kind and name.
    """
    ids, kids = _ids(run), _children(run)
    lines: list[str] = []

    def emit(parent: str, depth: int) -> None:
        pad = "  " * depth
        for r in kids.get(parent, []):
            if r.custom:
                lines.append(pad + node(r, ids[r.urn]))
            else:
                kind = r.type.rsplit(":", 1)[-1]
                lines.extend(
                    pad + line for line in cluster_open.format(id=ids[r.urn], kind=kind, name=r.name).split("\n")
                )
                emit(r.urn, depth + 1)
                lines.append(pad + cluster_close)

    for root in _roots(run):
        emit(root, 1)
    return lines


def to_dot(run: Run) -> str:
    ids = _ids(run)
    lines = [
        f'digraph "webstack-{run.stack}" {{',
        "  rankdir=LR;",
        '  graph [fontname="Helvetica", fontsize=11];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];',
        '  edge [color="#7a869a"];',
    ]

    def node(r, nid: str) -> str:
        fill = ', fillcolor="#fde8e8"' if r.protect else ""
        return f'{nid} [label="{_short(r.type)}\\n{r.name}"{fill}];'

    lines += _nested(
        run,
        node,
        'subgraph cluster_{id} {{\n  label="{kind} {name}"; style="rounded"; color="#9aa5b1";',
        "}",
    )
    lines += [f"  {ids[a]} -> {ids[b]};" for a, b in _edges(run)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(run: Run) -> str:
    ids = _ids(run)
    lines = ["flowchart LR"]
    lines += _nested(
        run, lambda r, nid: f'{nid}["{_short(r.type)}<br/>{r.name}"]', 'subgraph {id}["{kind} {name}"]', "end"
    )
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in _edges(run)]
    return "\n".join(lines) + "\n"


def write(run: Run, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    dot_path = out / f"graph-{run.stack}.dot"
    mmd_path = out / f"graph-{run.stack}.mmd"
    dot_path.write_text(to_dot(run))
    mmd_path.write_text(to_mermaid(run))
    written = [dot_path, mmd_path]
    dot = shutil.which("dot")
    if dot:
        svg_path = out / f"graph-{run.stack}.svg"
        subprocess.run([dot, "-Tsvg", str(dot_path), "-o", str(svg_path)], check=True)
        written.append(svg_path)
    else:
        print("note: Graphviz `dot` not found (apt-get install graphviz); SVG not written", file=sys.stderr)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make graph STACK=<name>", description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--out", default=str(harness.ROOT / "docs"), help="directory to write into (default docs/)")
    args = parser.parse_args(argv)
    for path in write(harness.run(args.stack), Path(args.out)):
        print(path.relative_to(harness.ROOT) if path.is_relative_to(harness.ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
