"""The hosted test job installs every Debian package the suite's real programs come from.

`tests/realprog.py` `require(program, package)` skips a test whose program is missing, and
fails it under CI (`CI=true`, which the test job sets); so a package the suite requires that
`.ci/run` does not install would fail the hosted job. Each required package must be installed
by `.ci/run`'s apt-get line, or come with one it installs (a Debian dependency), or be part of
every Debian system (Essential or Priority: required)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tests.behaviour.test_workflows import _ci_run_packages

ROOT = Path(__file__).resolve().parents[2]
# Debian 12's control data (apt-cache depends / show), for packages the line does not name.
COMES_WITH = {
    "postgresql-client": "postgresql",  # postgresql -> postgresql-15 -> postgresql-client-15
    "redis-tools": "redis-server",  # redis-server Depends: redis-tools
}
IN_EVERY_SYSTEM = {"dash", "apt"}  # dash: Essential: yes; apt: Priority: required


@functools.cache
def required_packages(root: Path = ROOT) -> dict[str, set[str]]:
    """Package -> the programs the tests `require` from it (every call with literal arguments)."""
    found: dict[str, set[str]] = {}
    for path in sorted((root / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and len(node.args) == 2):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            program, package = node.args
            if name == "require" and isinstance(package, ast.Constant) and isinstance(package.value, str):
                label = program.value if isinstance(program, ast.Constant) else ast.unparse(program)
                found.setdefault(package.value, set()).add(str(label))
    return found


def not_installed(required: dict[str, set[str]], installed: set[str]) -> dict[str, set[str]]:
    return {
        package: programs
        for package, programs in required.items()
        if package not in installed and COMES_WITH.get(package) not in installed and package not in IN_EVERY_SYSTEM
    }


def test_every_package_the_suite_requires_is_installed_by_the_ci_script():
    required = required_packages()
    # The servers and validators the promises rest on are among them.
    assert {"nginx", "postgresql", "openssh-server", "cloud-init", "redis-server", "busybox"} <= set(required)
    assert not_installed(required, _ci_run_packages()) == {}


def test_a_package_the_ci_script_lacks_is_named_with_its_programs():
    required = required_packages()
    assert not_installed(required, _ci_run_packages() - {"openssh-server"}) == {"openssh-server": {"sshd"}}
    assert not_installed(required, _ci_run_packages() - {"postgresql"}) == {
        "postgresql": {"initdb", "postgres"},
        "postgresql-client": {"pg_dump", "pg_isready", "psql"},
    }
