"""The one place the operations commands meet a deployed stack: Pulumi's Automation API.

    from tools import stackapi
    stackapi.outputs("prod")        # {name: value}, secret outputs as "[secret]"
    stackapi.history("prod")        # [auto.UpdateSummary], newest first, secrets as "[secret]"
    stackapi.release_config("prod", keys)  /  stackapi.set_release_config("prod", values)
    stackapi.up("prod", message=..., on_output=print)
    stackapi.preview_refresh("prod", on_output=print)

Every function selects the stack with `pulumi.automation.select_stack(name, work_dir=<repo
root>)`: the local program of this repository, its Pulumi.yaml and Pulumi.<stack>.yaml. The
tests replace this module's functions (nothing else reaches the Automation API), so
tools/ops.py, tools/rollback.py and tools/doctor.py run offline against recorded outputs and a
recorded update history.

Secrets: `Stack.outputs()` and `Stack.export_stack()` both run the CLI with --show-secrets
(pulumi/automation/_local_workspace.py stack_outputs, export_stack), which would bring every
secret output into this process in plain text. `outputs()` therefore runs `stack output --json`
(no --show-secrets) through the selected workspace's own CLI runner (`PulumiCommand.run`, the
Automation API's public command runner). `history()` passes show_secrets=False.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "webstack"
SECRET_PLACEHOLDER = "[secret]"
INSTALL = "install the Pulumi CLI and log in to the stack's backend (README, Running it for real)"


class StackApiError(Exception):
    """The Automation API could not do it; the message says why and what to run."""


def _auto():
    from pulumi import automation as auto

    return auto


def _select(stack: str):
    auto = _auto()
    try:
        return auto.select_stack(stack, work_dir=str(ROOT))
    except FileNotFoundError:
        raise StackApiError(f"the `pulumi` CLI is not on PATH (the Automation API runs it): {INSTALL}") from None
    except auto.StackNotFoundError:
        raise StackApiError(f"no stack named {stack!r} in this backend: `pulumi stack ls` lists them") from None
    except auto.CommandError as exc:
        raise StackApiError(f"selecting stack {stack!r} failed: {_said(exc)}") from None


def _said(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", "") or ""
    return stderr.strip().splitlines()[-1] if stderr.strip() else str(exc).strip()


def outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs as `pulumi stack output --json` prints them: secret ones as "[secret]"."""
    auto = _auto()
    selected = _select(stack)
    workspace = selected.workspace
    try:
        done = workspace.pulumi_command.run(
            ["stack", "output", "--json", "--stack", stack], str(ROOT), dict(workspace.env_vars or {})
        )
    except auto.CommandError as exc:
        raise StackApiError(f"reading the outputs of stack {stack!r} failed: {_said(exc)}") from None
    try:
        found = json.loads(done.stdout or "null")
    except json.JSONDecodeError as exc:
        raise StackApiError(f"the outputs of stack {stack!r} are not JSON ({exc})") from None
    if not isinstance(found, dict):
        raise StackApiError(f"stack {stack!r} has no outputs: has it been deployed (`pulumi up --stack {stack}`)?")
    return found


def history(stack: str):
    """Every update of the stack (`auto.UpdateSummary`: kind, result, version, start_time, config,
    message), newest first; secret config values read "[secret]"."""
    auto = _auto()
    try:
        return list(_select(stack).history(show_secrets=False))
    except auto.CommandError as exc:
        raise StackApiError(f"reading the history of stack {stack!r} failed: {_said(exc)}") from None


def config_map(stack: str) -> dict[str, Any]:
    """The stack's current config, secrets decrypted (doctor checks the registry credential with
    it and prints none of it): {key: (value, secret)}, object values parsed from JSON."""
    auto = _auto()
    try:
        found = _select(stack).get_all_config()
    except auto.CommandError as exc:
        raise StackApiError(f"reading the config of stack {stack!r} failed: {_said(exc)}") from None
    return {key: (_parsed(v.value), v.secret) for key, v in found.items()}


def _parsed(value: str) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def release_config(stack: str, paths: list[str]) -> dict[str, Any]:
    """The current plain value of each config path (`webstack:app.image`); None where unset."""
    auto = _auto()
    selected = _select(stack)
    found: dict[str, Any] = {}
    for path in paths:
        try:
            value = selected.get_config(path, path=True)
        except auto.CommandError:
            found[path] = None
            continue
        if value.secret:
            raise StackApiError(f"{path} of stack {stack!r} is a secret; a rollback sets plain release settings only")
        found[path] = _parsed(value.value)
    return found


def _leaves(path: str, value: Any) -> list[tuple[str, Any]]:
    """`pulumi config set --path` sets one scalar at a time: a list or map becomes its leaves."""
    if isinstance(value, Mapping):
        return [leaf for k, v in value.items() for leaf in _leaves(f"{path}.{k}", v)]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(f"{path}[{i}]", v)]
    return [(path, value)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# With --path the CLI stores "true"/"false" as booleans and integers as numbers (pulumi config
# set --help); a string leaf that reads so is set on its own with `--type string`.
_MISREAD = re.compile(r"true|false|[+-]?[0-9]+")


def set_release_config(stack: str, values: dict[str, Any]) -> None:
    """Set each config path (`webstack:app.image`) to a plain value, replacing what was there:
    the path is removed first (a shorter list leaves no old element behind), then its leaves
    are set with --path --plaintext (a string the CLI would read as a number or a boolean with
    `config set --type string`); None removes it. Secrets are never set here."""
    auto = _auto()
    selected = _select(stack)
    workspace = selected.workspace
    try:
        for path, value in values.items():
            with contextlib.suppress(auto.CommandError):  # not set before
                selected.remove_config(path, path=True)
            if value is None:
                continue
            leaves = _leaves(path, value)
            typed = [(p, v) for p, v in leaves if isinstance(v, str) and _MISREAD.fullmatch(v)]
            plain = {p: auto.ConfigValue(value=_text(v), secret=False) for p, v in leaves if (p, v) not in typed}
            if plain:
                selected.set_all_config(plain, path=True)
            for leaf, text_ in typed:
                args = [
                    "config",
                    "set",
                    leaf,
                    "--path",
                    "--plaintext",
                    "--type",
                    "string",
                    "--stack",
                    stack,
                    "--",
                    text_,
                ]
                workspace.pulumi_command.run(args, str(ROOT), dict(workspace.env_vars or {}))
    except auto.CommandError as exc:
        raise StackApiError(f"setting the config of stack {stack!r} failed: {_said(exc)}") from None


def up(stack: str, *, message: str, on_output: Callable[[str], None]) -> str:
    """`pulumi up` of the stack (its config as it is now), printing as it goes; the result.

    The Automation API's `up` reads the outputs afterwards with --show-secrets (UpResult.outputs,
    pulumi/automation/_stack.py Stack.up): they stay in that object, which is dropped here."""
    auto = _auto()
    try:
        done = _select(stack).up(message=message, on_output=on_output, show_secrets=False)
    except auto.CommandError as exc:
        raise StackApiError(f"`pulumi up` of stack {stack!r} failed: {_said(exc)}") from None
    return done.summary.result


def preview_refresh(
    stack: str, *, on_output: Callable[[str], None], exclude: list[str] | None = None
) -> dict[str, int]:
    """`pulumi refresh --preview-only` (nothing changes): the changes a refresh would record.
    `exclude`: URN globs not refreshed (`--exclude`, wildcards * and **)."""
    auto = _auto()
    try:
        done = _select(stack).preview_refresh(on_output=on_output, show_secrets=False, exclude=exclude)
    except auto.CommandError as exc:
        raise StackApiError(f"`pulumi refresh --preview-only` of stack {stack!r} failed: {_said(exc)}") from None
    return dict(done.change_summary)


def secret_config(stack: str, path: str) -> str | None:
    """One config value, decrypted (`pulumi config get --path`); None where unset. For a check
    that must use it (doctor's registry pull); the caller prints none of it."""
    auto = _auto()
    selected = _select(stack)
    try:
        return selected.get_config(path, path=True).value
    except auto.CommandError:
        return None
