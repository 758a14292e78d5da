"""The layers of components/ import one way (read with the standard library's `ast` only).

    config -> render -> cloud -> engine (the seam) -> droplets | kubernetes -> __main__.py

A module may import its own layer or a lower one, never a higher one; the two engines never
import each other; config imports nothing of ours outside config; no module of components/
imports tools/ or testing/; the import graph has no cycle (imports under `if TYPE_CHECKING:`
count: a cycle hidden from the interpreter is still a cycle for the reader); and no private
name (`_name`) crosses a module boundary. Each check is also run on a small synthetic tree
that breaks it, so a check that stopped looking would fail here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Rank of each layer: a module may import modules of equal or lower rank only.
LAYERS = {
    "components.config": 0,
    "components.render": 1,
    "components.cloud": 2,
    "components.engine": 3,
    "components.droplets": 4,
    "components.kubernetes": 4,
}
ENGINES = ("components.droplets", "components.kubernetes")
FORBIDDEN_TOP = ("tools", "testing", "tests", "policy")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, top: str = "components") -> dict[str, Path]:
    found = {module_name(root, p): p for p in sorted((root / top).rglob("*.py"))}
    main = root / "__main__.py"
    if main.exists():
        found["__main__"] = main
    return found


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join(base + ([node.module] if node.module else []))


def imports(root: Path, name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, path.name == "__init__.py", node)
            out.append((target, [a.name for a in node.names], node.lineno))
    return out


def layer(name: str) -> str | None:
    return next((prefix for prefix in LAYERS if name == prefix or name.startswith(prefix + ".")), None)


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (`from pkg import mod` counts as pkg.mod)."""
    mods = modules(root)
    edges: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for target, names, _ in imports(root, name, path):
            subs = [f"{target}.{sub}" for sub in names if f"{target}.{sub}" in mods]
            edges[name].update(subs)
            if target in mods and target != name and (not names or len(subs) < len(names)):
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected set of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges.get(v, ()):
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def layer_violations(root: Path) -> list[str]:
    bad = []
    for name, targets in graph(root).items():
        mine = layer(name)
        for target in sorted(targets):
            theirs = layer(target)
            if mine is None or theirs is None:
                continue
            if LAYERS[theirs] > LAYERS[mine]:
                bad.append(f"{name} (layer {mine}) imports higher layer {target}")
            elif mine != theirs and mine in ENGINES and theirs in ENGINES:
                bad.append(f"engine {name} imports the other engine {target}")
    return bad


def outside_imports(root: Path) -> list[str]:
    """config importing anything of ours outside config; components importing tools/testing."""
    bad = []
    for name, path in modules(root).items():
        if name == "__main__":
            continue
        for target, _, line in imports(root, name, path):
            top = target.split(".")[0]
            if top in FORBIDDEN_TOP:
                bad.append(f"{name}:{line} imports {target}")
            if layer(name) == "components.config" and top == "components" and layer(target) != "components.config":
                bad.append(f"{name}:{line} (config) imports {target}")
    return bad


def private_crossings(root: Path) -> list[str]:
    """`from ours import _x`, or `ours_module._x` on a module imported from ours."""
    mods = modules(root)
    bad = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases: dict[str, str] = {}
        for target, names, line in imports(root, name, path):
            if not (target.split(".")[0] == "components" or target in mods):
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    bad.append(f"{name}:{line} imports private {target}.{n}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(name, path.name == "__init__.py", node)
                for a in node.names:
                    if f"{target}.{a.name}" in mods:
                        aliases[a.asname or a.name] = f"{target}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in mods and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                bad.append(f"{name}:{node.lineno} uses private {aliases[node.value.id]}.{node.attr}")
    return bad


# --------------------------------------------------------------------------- the real tree


def test_components_have_no_import_cycle():
    assert cycles(graph(ROOT)) == []


def test_config_imports_only_config_and_components_no_tools():
    assert outside_imports(ROOT) == []


def test_layers_import_downward_only():
    assert layer_violations(ROOT) == []


def test_no_private_name_crosses_a_module():
    assert private_crossings(ROOT) == []


def test_every_module_of_components_is_in_a_layer():
    stray = [n for n in modules(ROOT) if n not in ("__main__", "components") and layer(n) is None]
    assert stray == []


# --------------------------------------------------------------------------- the checks can fail


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"components/__init__.py": "", **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


@pytest.mark.parametrize("hidden", [False, True])
def test_a_cycle_is_found_even_behind_type_checking(tmp_path, hidden):
    back = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from components.config import a\n"
    root = _tree(
        tmp_path,
        {
            "components/config/__init__.py": "",
            "components/config/a.py": "from components.config.b import X\n",
            "components/config/b.py": back if hidden else "from components.config import a\n",
        },
    )
    assert cycles(graph(root)) == [["components.config.a", "components.config.b"]]


def test_config_importing_render_or_tools_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "components/config/__init__.py": "",
            "components/render/__init__.py": "",
            "components/render/nginx.py": "",
            "components/config/x.py": "from components.render import nginx\nimport tools.plan\n",
            "components/cloud/y.py": "from testing.harness import run\n",
        },
    )
    found = outside_imports(root)
    assert any("config.x:1 (config) imports components.render" in f for f in found), found
    assert any("config.x:2 imports tools.plan" in f for f in found), found
    assert any("cloud.y:1 imports testing.harness" in f for f in found), found


def test_a_lower_layer_importing_a_higher_one_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "components/cloud/__init__.py": "",
            "components/cloud/db.py": "from components.droplets.dockerhost import DockerHost\n",
            "components/droplets/__init__.py": "",
            "components/droplets/dockerhost.py": "from components.kubernetes import cluster\n",
            "components/kubernetes/__init__.py": "",
            "components/kubernetes/cluster.py": "",
        },
    )
    found = layer_violations(root)
    assert any(f.startswith("components.cloud.db (layer components.cloud) imports higher") for f in found), found
    assert any("imports the other engine components.kubernetes.cluster" in f for f in found), found


def test_private_names_crossing_modules_are_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "components/config/__init__.py": "",
            "components/config/dns.py": "_PAGES = 1\n",
            "components/config/edge.py": "from components.config.dns import _PAGES\n",
            "components/config/web.py": "from components.config import dns\nX = dns._PAGES\n",
        },
    )
    found = private_crossings(root)
    assert "components.config.edge:1 imports private components.config.dns._PAGES" in found
    assert "components.config.web:2 uses private components.config.dns._PAGES" in found
