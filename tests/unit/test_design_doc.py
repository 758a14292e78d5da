"""docs/design.md names only what exists: every repository path it cites is a file or folder,
and every `file::test` names a test function defined in that file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "design.md"
# A backticked path of the repository, optionally ::a_test_name.
CITED = re.compile(r"`((?:components|tests|tools|testing|policy|contracts|docs|examples)/[\w./-]*|__main__\.py"
                   r"|Pulumi\.[\w.]+\.yaml)(?:::(\w+))?`")  # fmt: skip


def cited(text: str) -> list[tuple[str, str | None]]:
    return [(path, test) for path, test in CITED.findall(text)]


def missing(text: str, root: Path) -> list[str]:
    bad = []
    for path, test in cited(text):
        target = root / path
        if not target.exists():
            bad.append(path)
        elif test:
            tree = ast.parse(target.read_text())
            names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            if test not in names:
                bad.append(f"{path}::{test}")
    return bad


def test_every_path_and_test_in_the_design_doc_exists():
    text = DOC.read_text()
    assert len(cited(text)) >= 30, "the doc cites its tests"
    assert missing(text, ROOT) == []


def test_every_principle_names_a_test():
    section = DOC.read_text().split("## Principles", 1)[1]
    principles = re.findall(r"^\d+\. \*\*.*?(?=^\d+\. \*\*|\Z)", section, flags=re.M | re.S)
    assert len(principles) == 15
    for p in principles:
        assert any(path.startswith("tests/") for path, _ in cited(p)), p.splitlines()[0]


def test_the_check_fails_on_a_missing_file_or_test():
    text = "`tests/unit/test_design_doc.py::no_such_test` `components/no_such.py` `tests/unit/test_design_doc.py`"
    assert missing(text, ROOT) == ["tests/unit/test_design_doc.py::no_such_test", "components/no_such.py"]
