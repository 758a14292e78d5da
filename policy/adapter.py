"""Run the pack's policies on recorded resources, offline, the way CrossGuard would.

The tests record a stack with `testing.harness` (mocked `pulumi up` or preview) and hand its
`Run` to `evaluate_run`; synthetic cases hand `Res` objects to `evaluate`. Either way each
resource becomes a `ResourceValidationArgs` and the whole list one `StackValidationArgs`,
built with pulumi-policy's own constructors, as its test suite does, with props wrapped
in its unknown-checking proxy. What the analyzer would report becomes a `Violation`:

- props are the recorded inputs (plain, secrets unwrapped): what the engine sends to
  `Analyze`. For stack rules the engine sends state outputs; the recording has no ids, so
  rules match resources through property dependencies (`rules.common.refers_to`);
- a rule that reads a value unknown in preview yields an advisory "can't run" violation,
  as the analyzer's diagnostic; `not_applicable` yields nothing.

`python -m policy.adapter <stack>` prints a stack's violations; `--config` prints the
stack's `--policy-pack-config` file instead.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from components.config.stackfile import read_stack
from policy.rules import ALL_POLICIES, pack_config

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Violation:
    policy: str
    level: EnforcementLevel
    urn: str
    message: str

    def __str__(self) -> str:
        return f"[{self.level.value}] {self.policy}: {self.urn.rsplit('::', 1)[-1]}: {self.message}"


@dataclass
class Res:
    """The fields of a recorded `testing.harness.Resource` the adapter reads, for synthetic cases."""

    type: str
    name: str
    inputs: dict[str, Any]
    protect: bool = False
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    parent: str = ""
    provider: str = ""
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    urn: str = ""

    def __post_init__(self) -> None:
        self.urn = self.urn or f"urn:pulumi:test::webstack::{self.type}::{self.name}"


def _options(r) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=r.protect,
        ignore_changes=list(r.ignore_changes),
        delete_before_replace=r.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(r.additional_secret_outputs),
        parent=r.parent or None,
    )


def _provider(r, by_urn: dict[str, Any]) -> PolicyProviderResource | None:
    """The explicit provider of `r`; default providers are not registered under mocks."""
    p = by_urn.get(r.provider.rsplit("::", 1)[0]) if r.provider else None
    return PolicyProviderResource(p.type, unknown_checking_proxy(p.inputs), p.urn, p.name) if p else None


def _stack_resources(resources: Sequence) -> list[PolicyResource]:
    by_urn = {r.urn: r for r in resources}
    out = {
        r.urn: PolicyResource(
            r.type, unknown_checking_proxy(r.inputs), r.urn, r.name, _options(r), _provider(r, by_urn), None, [], {}
        )
        for r in resources
    }
    for r in resources:
        pr = out[r.urn]
        pr.parent = out.get(r.parent)
        pr.dependencies = [out[d] for d in r.dependencies if d in out]
        pr.property_dependencies = {k: [out[d] for d in v if d in out] for k, v in r.property_dependencies.items()}
    return list(out.values())


def _level(policy: Policy) -> EnforcementLevel:
    return policy.enforcement_level or EnforcementLevel.MANDATORY


def _run(policy: Policy, args, default_urn: str, found: list[Violation]) -> None:
    def report(message: str, urn: str | None = None) -> None:
        found.append(Violation(policy.name, _level(policy), urn or default_urn, message))

    try:
        result = policy.validate(args, report)
        if inspect.isawaitable(result):
            asyncio.run(result)
    except UnknownValueError as exc:
        found.append(Violation(policy.name, EnforcementLevel.ADVISORY, default_urn, f"can't run: {exc.message}"))
    except _NotApplicableError:
        pass


def evaluate(
    resources: Sequence, config: dict[str, dict[str, Any]], policies: Iterable[Policy] = ALL_POLICIES
) -> list[Violation]:
    """Violations of `policies` on `resources` (recorded `Resource`s or `Res`), each policy given its own config."""
    by_urn = {r.urn: r for r in resources}
    stack = _stack_resources(resources)
    found: list[Violation] = []
    for policy in policies:
        cfg = config.get(policy.name)
        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(
                    r.type, unknown_checking_proxy(r.inputs), r.urn, r.name, _options(r), _provider(r, by_urn), cfg
                )
                _run(policy, args, r.urn, found)
        elif isinstance(policy, StackValidationPolicy):
            _run(policy, StackValidationArgs(stack, cfg), "", found)
    return found


def config_of(cfg) -> dict[str, dict[str, Any]]:
    """The stack's policy config from its validated config (components.config.StackConfig).
    Nothing a rule that bounds exposure reads comes from the stack: `firewall-sources-bounded`
    takes only allowedWorldPorts, left at its default (none)."""
    return pack_config(admin_cidrs=list(cfg.ssh_trusted_cidrs), protect_data=cfg.protect, app_images=[cfg.app.image])


def run_config(run) -> dict[str, dict[str, Any]]:
    """The stack's policy config, from the config its program validated (a recorded `Run`)."""
    return config_of(run.cfg)


def stack_file_config(stack: str) -> dict[str, dict[str, Any]]:
    """The stack's policy config read from Pulumi.<stack>.yaml (or <dir>/Pulumi.<name>.yaml for
    a directory), without running the program."""
    name = stack.rstrip("/").rsplit("/", 1)[-1]
    stack_file = ROOT / (f"{stack.rstrip('/')}/Pulumi.{name}.yaml" if "/" in stack else f"Pulumi.{stack}.yaml")
    return config_of(read_stack(stack_file, ROOT / "Pulumi.yaml"))


def evaluate_run(run, resources: Sequence | None = None, policies: Iterable[Policy] = ALL_POLICIES) -> list[Violation]:
    """Violations on a harness `Run` (or on `resources`, e.g. a mutated copy of its resources)."""
    return evaluate(run.resources if resources is None else resources, run_config(run), policies)


def main(argv: list[str]) -> int:
    stack = argv[0] if argv else "prod"
    if "--config" in argv:
        print(json.dumps(stack_file_config(stack), indent=2))
        return 0
    from testing import harness  # records the program's resources under mocks; not part of the pack

    run = harness.run(stack)
    violations = evaluate_run(run)
    for v in violations:
        print(v)
    mandatory = sum(v.level == EnforcementLevel.MANDATORY for v in violations)
    print(f"{stack}: {mandatory} mandatory, {len(violations) - mandatory} advisory")
    return 1 if mandatory else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
