"""The seam between the shared resources and the app tier's engine (components/engine.py):
the droplet engine has every member of `Engine` and its data runner every method of
`DataRunner`, with the same parameters, so a second engine written against the protocols
fits __main__.py as it is; and __main__.py reaches the droplet engine only through its
`DropletEngine` (no droplet module is imported anywhere else in it)."""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from pathlib import Path

from components.cloud.runner import DataRunner
from components.droplets.data import DockerData
from components.droplets.engine import DropletEngine
from components.engine import Engine

ROOT = Path(__file__).resolve().parents[2]


def _members(protocol: type) -> dict[str, object]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") and name not in ("__annotations__",)
    } | {name: None for name in typing.get_type_hints(protocol, include_extras=False) if not name.startswith("_")}


def _gaps(protocol: type, cls: type, instance_attrs: set[str]) -> list[str]:
    gaps = []
    for name, value in _members(protocol).items():
        if callable(value) and not isinstance(value, property):
            impl = getattr(cls, name, None)
            if impl is None:
                gaps.append(f"{name}: missing")
                continue
            want = list(inspect.signature(value).parameters)
            have = list(inspect.signature(impl).parameters)
            if want != have:
                gaps.append(f"{name}: parameters {have} != {want}")
        elif not (hasattr(cls, name) or name in instance_attrs):
            gaps.append(f"{name}: missing attribute")
    return gaps


def _assigned_in_init(cls: type) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {
        t.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        for t in (t.elts if isinstance(t, ast.Tuple) else [t])
        if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
    }


def test_the_droplet_engine_fills_the_seam():
    assert _gaps(Engine, DropletEngine, _assigned_in_init(DropletEngine)) == []
    assert _gaps(DataRunner, DockerData, _assigned_in_init(DockerData)) == []


def test_the_seam_check_finds_a_missing_or_different_member():
    class Partial:
        def __init__(self):
            self.data = None

        def deploy(self, other):
            pass

    gaps = _gaps(Engine, Partial, _assigned_in_init(Partial))
    assert "deploy: parameters ['self', 'other'] != ['self', 'release']" in gaps
    assert "project_resources: missing" in gaps
    assert "front_door: missing attribute" in gaps
    assert not [g for g in gaps if g.startswith("data:")]


def test_main_reaches_the_droplets_only_through_the_engine():
    tree = ast.parse((ROOT / "__main__.py").read_text())
    droplet_imports = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("components.droplets")
    ]
    assert droplet_imports == ["components.droplets.engine"]
