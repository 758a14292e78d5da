"""`make rollback STACK=prod [ARGS="--to N"]`: put back an earlier release from the stack's history.

    python -m tools.rollback --stack prod             # the release before the current one
    python -m tools.rollback --stack prod --to 41     # the release of update 41
    python -m tools.rollback --stack prod --list      # the releases in the history
    ... --yes                                         # no question (CI); --dry-run: show only

A release is the image and the release settings of `webstack:app` (RELEASE_KEYS): what a
deploy of a new version changes. Without --to the target is the newest successful update whose
release differs from the config now: after a failed deploy, the release that last deployed;
after a good one, the release before it. Everything else (droplets, database, secrets, hostnames)
stays as the stack has it now. The history comes from Pulumi's Automation API
(`Stack.history(show_secrets=False)`, tools/stackapi.py): each successful `update` records
the config it ran with. The command shows each key that changes (current config -> the
chosen update's), asks for the stack's name to be typed, sets the keys as plain config
(`pulumi config set --path`, so Pulumi.<stack>.yaml changes: commit it) and runs `pulumi up`
through the Automation API, printing its progress.

No secret is read or written: history is read without secrets, a release key that is secret
in the history or the current config is refused, and the secret keys (`app.secretEnv`,
`app.registry.password`, generated secrets) are not release keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tools import stackapi

APP_KEY = "webstack:app"
# What a release changes: the image and how it is started and migrated.
RELEASE_KEYS = ("image", "releaseCommand", "webCommand", "env", "processes", "jobs")


class RollbackError(Exception):
    """A problem the operator can fix; printed as one message."""


@dataclass(frozen=True)
class Release:
    version: int
    when: str
    message: str
    settings: dict[str, Any]
    """RELEASE_KEYS present in that update's `webstack:app` (absent: unset then)."""


def _app_of(summary, stack: str) -> dict[str, Any] | None:
    value = (summary.config or {}).get(APP_KEY)
    if value is None:
        return None
    if value.secret or value.value == stackapi.SECRET_PLACEHOLDER:
        raise RollbackError(
            f"update {summary.version} of stack {stack} recorded {APP_KEY} as a secret (one secret leaf "
            "inside it, app.secretEnv or app.registry.password, hides the whole key from a history read "
            "without secrets): roll back by hand with `pulumi config set --path "
            f"{APP_KEY}.image <previous image>` and `pulumi up`; keeping your own secrets in the top-level "
            "webstack:secretEnv keeps rollback working for stacks without a registry password"
        )
    app = json.loads(value.value) if isinstance(value.value, str) else value.value
    return app if isinstance(app, dict) else None


def releases(history: Sequence[Any], stack: str) -> list[Release]:
    """The successful updates that ran with a `webstack:app`, newest first."""
    found = []
    for s in history:
        if s.kind != "update" or s.result != "succeeded" or s.version is None:
            continue
        app = _app_of(s, stack)
        if app is None:
            continue
        settings = {k: app[k] for k in RELEASE_KEYS if k in app}
        when = s.start_time.strftime("%Y-%m-%d %H:%M UTC") if s.start_time else "?"
        found.append(Release(s.version, when, s.message or "", settings))
    return sorted(found, key=lambda r: r.version, reverse=True)


def choose(found: Sequence[Release], stack: str, to: int | None, current: dict[str, Any]) -> Release:
    """`--to N`, or the newest successful release that differs from the config now: after a
    failed update that is the last release that deployed; after a good one, the one before."""
    if not found:
        raise RollbackError(f"stack {stack} has no successful update in its history: nothing to roll back to")
    if to is not None:
        for r in found:
            if r.version == to:
                return r
        raise RollbackError(
            f"update {to} of stack {stack} is not a successful update with an app; "
            f"choose one of: {', '.join(str(r.version) for r in found)} (`--list` shows them)"
        )
    for r in found:
        if _release(r.settings) != _release(current):
            return r
    raise RollbackError(
        f"every successful update of stack {stack} ran the release its config holds now: "
        "there is no earlier release in the history"
    )


def _release(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: settings.get(k) for k in RELEASE_KEYS}


def changes(current: dict[str, Any], target: Release) -> list[tuple[str, Any, Any]]:
    """(key, now, after) for each release key whose value changes."""
    return [
        (k, current.get(k), target.settings.get(k)) for k in RELEASE_KEYS if current.get(k) != target.settings.get(k)
    ]


def _show(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value, sort_keys=True)


def render(stack: str, target: Release, diff: Sequence[tuple[str, Any, Any]]) -> str:
    head = f"Roll stack {stack} back to the release of update {target.version} ({target.when}"
    head += f": {target.message})" if target.message else ")"
    lines = [head]
    for key, now, after in diff:
        lines.append(f"  app.{key}: {_show(now)}")
        lines.append(f"  {' ' * len(key)}   -> {_show(after)}")
    return "\n".join(lines)


def render_list(stack: str, found: Sequence[Release]) -> str:
    lines = [f"Releases of stack {stack} (successful updates, newest first):"]
    for r in found:
        image = r.settings.get("image", "(no image)")
        lines.append(f"  {r.version:>5}  {r.when}  {image}" + (f"  {r.message}" if r.message else ""))
    return "\n".join(lines)


def _confirmed(stack: str, ask: Callable[[str], str]) -> bool:
    try:
        return ask(f"Type the stack name ({stack}) to set this config and run `pulumi up`: ").strip() == stack
    except EOFError:
        return False


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.rollback", description=__doc__.splitlines()[0])
    p.add_argument("--stack", required=True)
    p.add_argument("--to", type=int, help="the update (version number in `pulumi stack history`) to go back to")
    p.add_argument("--list", action="store_true", help="list the releases in the history and stop")
    p.add_argument("--yes", action="store_true", help="do not ask (for CI)")
    p.add_argument("--dry-run", action="store_true", help="show what would change and stop")
    return p


def main(argv: Sequence[str] | None = None, ask: Callable[[str], str] = input) -> int:
    args = _parser().parse_args(argv)
    stack = args.stack
    try:
        found = releases(stackapi.history(stack), stack)
        if args.list:
            print(render_list(stack, found))
            return 0
        paths = [f"{APP_KEY}.{k}" for k in RELEASE_KEYS]
        now = stackapi.release_config(stack, paths)
        current = {k: now[f"{APP_KEY}.{k}"] for k in RELEASE_KEYS}
        target = choose(found, stack, args.to, current)
        diff = changes(current, target)
        if not diff:
            print(f"stack {stack}'s config already holds the release of update {target.version}: nothing to change")
            return 0
        print(render(stack, target, diff))
        if args.dry_run:
            return 0
        if not args.yes and not _confirmed(stack, ask):
            print("not confirmed: nothing changed", file=sys.stderr)
            return 1
        stackapi.set_release_config(stack, {f"{APP_KEY}.{k}": after for k, _, after in diff})
        print(f"config set (Pulumi.{stack}.yaml changed: commit it); running `pulumi up --stack {stack}`")
        result = stackapi.up(
            stack, message=f"rollback to the release of update {target.version}", on_output=_print_line
        )
    except (RollbackError, stackapi.StackApiError) as exc:
        print(f"webstack rollback: {exc}", file=sys.stderr)
        return 2
    print(f"pulumi up: {result}")
    return 0 if result == "succeeded" else 1


def _print_line(line: str) -> None:
    print(line.rstrip("\n"), flush=True)


if __name__ == "__main__":
    sys.exit(main())
