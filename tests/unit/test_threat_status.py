"""docs/threat-status.md names, for each threat and fault, the tests that hold it: each named
test must exist (a renamed or deleted test would leave a row held by nothing), and every row
must have a status and at least one test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "threat-status.md"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
ROWS = [f"T{i}" for i in range(1, 19)] + [f"F{i}" for i in range(1, 13)]
STATUSES = ("**fixed", "**mitigated", "**open")


def _tests_in(path: Path) -> set[str]:
    """Names of the test functions of a file, at module level or in a class."""
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def missing_tests(text: str, root: Path = ROOT) -> list[str]:
    missing, files = [], {}
    for path, name in NAMED.findall(text):
        if path not in files:
            files[path] = _tests_in(root / path) if (root / path).is_file() else set()
        if name not in files[path]:
            missing.append(f"{path}::{name}")
    return missing


def rows(text: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| (T\d+|F\d+) \|.*$", text, re.MULTILINE)}


def test_every_test_the_page_names_exists():
    text = PAGE.read_text()
    assert len(NAMED.findall(text)) > 60
    assert missing_tests(text) == []


def test_the_check_notices_a_missing_test_and_a_missing_file():
    text = "`tests/unit/test_threat_status.py::test_no_such_test` `tests/unit/nothing.py::test_x`"
    assert missing_tests(text) == [
        "tests/unit/test_threat_status.py::test_no_such_test",
        "tests/unit/nothing.py::test_x",
    ]
    assert missing_tests("`tests/unit/test_threat_status.py::test_every_test_the_page_names_exists`") == []


@pytest.mark.parametrize("row", ROWS)
def test_every_row_has_a_status_and_a_test(row):
    line = rows(PAGE.read_text()).get(row)
    assert line, f"{row} is missing from {PAGE.name}"
    _, status, held_by, _ = line.rsplit("|", 3)
    assert any(s in status for s in STATUSES), f"{row}: no status"
    assert NAMED.search(held_by), f"{row}: no test holds it"


def test_no_row_is_listed_twice_or_unknown():
    found = re.findall(r"^\| (T\d+|F\d+) \|", PAGE.read_text(), re.MULTILINE)
    assert sorted(found, key=lambda r: (r[0], int(r[1:]))) == sorted(ROWS, key=lambda r: (r[0], int(r[1:])))
