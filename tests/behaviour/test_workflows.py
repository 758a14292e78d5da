"""The GitHub Actions pipeline (.github/workflows): what a pull request's code can reach.

Every workflow is parsed with PyYAML and held to the rules README's "CI/CD for users" states:
a job a pull request can start sees no secret, has no environment and runs on a
GitHub-hosted VM; only deploy jobs hold credentials, all of them environment secrets, each
job's stack matching its environment; prod deploys only by hand from main; every action is
pinned to a commit; every token is read-only; the hosted test job installs what .ci/run
installs. Each rule is a function returning the problems it finds, and
test_each_rule_notices_a_broken_workflow breaks the real files one edit at a time to show
each rule failing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import realprog

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"

# The environment secrets of `staging` and of `production` (the same names in each; the
# repository and organization hold none).
SECRETS = frozenset(
    {
        "PULUMI_BACKEND_URL",
        "PULUMI_CONFIG_PASSPHRASE",
        "DIGITALOCEAN_TOKEN",
        "CLOUDFLARE_API_TOKEN",
        "SPACES_ACCESS_KEY_ID",
        "SPACES_SECRET_ACCESS_KEY",
        "DEPLOY_SSH_KEY",
    }
)
# Variables that carry a credential into a deploy step, and the secret each must come from
# (the s3:// state backend reads the AWS SDK's names; on Spaces they take the Spaces key).
CREDENTIAL_ENV = {name: name for name in SECRETS - {"PULUMI_BACKEND_URL"}} | {
    "AWS_ACCESS_KEY_ID": "SPACES_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY": "SPACES_SECRET_ACCESS_KEY",
}
ENVIRONMENT_OF_STACK = {"staging": "staging", "prod": "production"}
# The drift report's environments: read-only values under the same secret names, no deploy key.
DRIFT_ENVIRONMENTS = {"staging-drift": "staging", "production-drift": "prod"}
DRIFT_EVENTS = frozenset({"schedule", "workflow_dispatch"})
DRIFT_RUN = re.compile(r"venv/bin/python -m tools\.drift --stack (?P<stack>[a-z]+)\b")
STACK_CHANGE = re.compile(r"\bpulumi\s+(up|destroy|import|refresh|state|stack\s+(rm|import)|cancel)\b")
# Events a pull request (its author, a comment on it, the merge queue testing it) starts,
# whose runs may execute its code; pull_request_target and workflow_run run with the base
# repository's secrets and are refused outright.
PR_EVENTS = frozenset(
    {
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "issue_comment",
        "merge_group",
        "pull_request_target",
        "workflow_run",
    }
)
FORBIDDEN_EVENTS = frozenset({"pull_request_target", "workflow_run"})
HOSTED_LABEL = re.compile(r"(ubuntu|windows|macos)-[0-9a-z.-]+")
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
TAG_COMMENT = re.compile(r"\s+#\s*v\d+(\.\d+)*")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
SECRET_USE = re.compile(r"\bsecrets\b(?:\s*\.\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*))?")
CLEAN_WORKSPACE = 'find "$GITHUB_WORKSPACE" -mindepth 1 -delete'

Texts = dict[str, str]  # workflow file name -> its text
Rule = Callable[[Texts], list[str]]


def _texts() -> Texts:
    return {p.name: p.read_text() for p in sorted(WORKFLOWS.iterdir()) if p.suffix in (".yml", ".yaml")}


def _parse(texts: Texts) -> dict[str, dict[str, Any]]:
    return {name: yaml.load(text, Loader=yaml.CSafeLoader) for name, text in texts.items()}


def _on(workflow: dict[str, Any]) -> dict[str, Any]:
    """The triggers as a mapping (PyYAML reads the bare key `on` as the boolean True)."""
    raw = workflow.get("on", workflow.get(True))
    if isinstance(raw, str):
        return {raw: None}
    if isinstance(raw, list):
        return dict.fromkeys(raw)
    return {k: v or {} for k, v in (raw or {}).items()}


def _jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return workflow.get("jobs") or {}


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps") or []


def _strings(node: Any, key: Any = None) -> Iterator[tuple[Any, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)
    elif isinstance(node, str):
        yield key, node


def _secret_uses(node: Any) -> set[str]:
    """Names of the secrets `node` reads; "*" for the whole `secrets` object (toJSON(secrets),
    secrets[...]). `if:` values are expressions without ${{ }}."""
    found = set()
    for key, text in _strings(node):
        for expression in [text] if key == "if" else EXPRESSION.findall(text):
            found |= {m["name"] or "*" for m in SECRET_USE.finditer(expression)}
    return found


def _local_workflow(uses: str) -> str | None:
    prefix = "./.github/workflows/"
    return uses[len(prefix) :] if uses.startswith(prefix) else None


def _pr_reachable(workflows: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow, job id, job) of every job a pull request can start: all jobs of a workflow
    a pull-request event triggers (whatever their `if:` and `needs:`: a condition is one
    edit away from true, so it is no boundary), and of the local reusable workflows those
    jobs call, transitively."""
    todo = [name for name, wf in workflows.items() if PR_EVENTS & set(_on(wf))]
    seen: set[str] = set()
    found = []
    while todo:
        name = todo.pop()
        if name in seen or name not in workflows:
            continue
        seen.add(name)
        for job_id, job in _jobs(workflows[name]).items():
            found.append((name, job_id, job))
            called = _local_workflow(job.get("uses", ""))
            if called:
                todo.append(called)
    return found


def _labels(runs_on: Any) -> list[Any]:
    if isinstance(runs_on, str):
        return [runs_on]
    if isinstance(runs_on, list):
        return runs_on
    return [runs_on]  # a {group, labels} mapping: a self-hosted runner group


def _hosted(runs_on: Any) -> bool:
    labels = _labels(runs_on)
    return bool(labels) and all(isinstance(x, str) and HOSTED_LABEL.fullmatch(x) for x in labels)


def _environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def _clauses(condition: Any) -> set[str] | None:
    """The `a && b && c` terms of an `if:`, or None when it has `||` or `!` (either can make it
    true without every term)."""
    if not isinstance(condition, str):
        return None
    text = condition.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if "||" in text or "!" in text:
        return None
    return {" ".join(term.split()) for term in text.split("&&")}


def _apt_installs(script: str) -> set[str]:
    """Package names of every `apt-get install` in a shell script (quotes ignored: `sh -c "..."`)."""
    found = set()
    for line in script.replace("\\\n", " ").replace('"', " ").replace("'", " ").splitlines():
        for command in re.split(r"&&|\|\||;|\|", line):
            words = command.split()
            for i, word in enumerate(words[:-1]):
                if word in ("apt-get", "apt") and words[i + 1] == "install":
                    for arg in words[i + 2 :]:
                        if arg.startswith((">", "<", "2>", "#")):
                            break
                        if not arg.startswith("-"):
                            found.add(arg)
    return found


def _ci_run_packages() -> set[str]:
    return _apt_installs((ROOT / ".ci" / "run").read_text())


def _pulumi_pin() -> str:
    (version,) = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    return version


def _deploy_jobs(workflows: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """Jobs that hold a credential or can touch a stack: they read a secret, run Pulumi or run
    on a self-hosted runner."""
    found = []
    for name, wf in workflows.items():
        for job_id, job in _jobs(wf).items():
            runs_pulumi = any(
                s.get("uses", "").startswith("pulumi/actions@") or re.search(r"\bpulumi\s", s.get("run", ""))
                for s in _steps(job)
            )
            self_hosted = "runs-on" in job and not _hosted(job["runs-on"])
            if _secret_uses(job) or runs_pulumi or self_hosted:
                found.append((name, job_id, job))
    return found


# ------------------------------------------------------------------------------ the rules


def pull_request_problems(texts: Texts) -> list[str]:
    """No job a pull request can start reads a secret, has an environment (its secrets come
    with it) or runs anywhere but a GitHub-hosted VM; nothing hands secrets to such a workflow."""
    workflows = _parse(texts)
    reachable = _pr_reachable(workflows)
    problems = []
    for wf, job_id, job in reachable:
        where = f"{wf} job {job_id} (reachable from pull_request)"
        if uses := _secret_uses(job):
            problems.append(f"{where} reads secrets {sorted(uses)}")
        if "secrets" in job:
            problems.append(f"{where} passes secrets to {job.get('uses')}")
        if "environment" in job:
            problems.append(f"{where} has environment {_environment(job)!r}")
        if "uses" in job:
            if not _local_workflow(job["uses"]):
                problems.append(f"{where} calls a workflow outside this repository: {job['uses']}")
        elif not _hosted(job.get("runs-on")):
            problems.append(f"{where} runs on {job.get('runs-on')!r}, not a GitHub-hosted runner")
    reachable_names = {wf for wf, _, _ in reachable}
    for name, wf in workflows.items():
        for job_id, job in _jobs(wf).items():
            if _local_workflow(job.get("uses", "")) in reachable_names and "secrets" in job:
                problems.append(f"{name} job {job_id} passes secrets to {job['uses']}, which pull requests run")
    return problems


def event_problems(texts: Texts) -> list[str]:
    """No pull_request_target or workflow_run trigger, and no workflow-level env with a secret
    (it would reach every job)."""
    problems = []
    for name, wf in _parse(texts).items():
        if bad := FORBIDDEN_EVENTS & set(_on(wf)):
            problems.append(f"{name} is triggered by {sorted(bad)}")
        if uses := _secret_uses(wf.get("env") or {}):
            problems.append(f"{name} has workflow-level env with secrets {sorted(uses)}")
    return problems


def pin_problems(texts: Texts) -> list[str]:
    """Every action or workflow from another repository is pinned to a 40-hex commit, with the
    tag it stands for as a trailing comment."""
    problems = []
    for name, wf in _parse(texts).items():
        for job_id, job in _jobs(wf).items():
            for uses in [job.get("uses")] + [s.get("uses") for s in _steps(job)]:
                if uses and not uses.startswith("./") and not PINNED.fullmatch(uses):
                    problems.append(f"{name} job {job_id}: {uses} is not pinned to a commit")
        for number, line in enumerate(texts[name].splitlines(), 1):
            m = USES_LINE.match(line)
            if m and not m["ref"].startswith("./") and not TAG_COMMENT.match(m["rest"]):
                problems.append(f"{name}:{number}: {m['ref']} has no `# vX.Y.Z` comment naming its tag")
    return problems


def permission_problems(texts: Texts) -> list[str]:
    """Tokens are read-only: `permissions: {}` for the workflow, explicit read-only scopes per
    job; checkout leaves no token in .git/config."""
    problems = []
    for name, wf in _parse(texts).items():
        if wf.get("permissions") != {}:
            problems.append(f"{name}: workflow-level permissions must be {{}}, not {wf.get('permissions')!r}")
        for job_id, job in _jobs(wf).items():
            perms = job.get("permissions")
            if not isinstance(perms, dict) or any(v not in ("read", "none") for v in perms.values()):
                problems.append(f"{name} job {job_id}: permissions {perms!r} (explicit, read-only)")
            for step in _steps(job):
                checkout = step.get("uses", "").startswith("actions/checkout@")
                if checkout and (step.get("with") or {}).get("persist-credentials") is not False:
                    problems.append(f"{name} job {job_id}: checkout without persist-credentials: false")
    return problems


def deploy_problems(texts: Texts) -> list[str]:
    """Deploy jobs: an environment matching their stack, only the documented secrets and each
    credential from its own secret, on a step rather than the whole job; an emptied
    workspace before checkout; the pinned Pulumi CLI; tests first; staging on a push to main,
    prod by manual dispatch from main with the confirmation typed."""
    workflows = _parse(texts)
    problems = []
    stacks: dict[str, list[str]] = {}
    checks = {name for name, wf in workflows.items() if "pull_request" in _on(wf)}
    for wf_name, job_id, job in _deploy_jobs(workflows):
        where = f"{wf_name} job {job_id}"
        wf = workflows[wf_name]
        environment = _environment(job)
        if environment in DRIFT_ENVIRONMENTS:
            continue  # drift_problems
        if environment not in ENVIRONMENT_OF_STACK.values():
            problems.append(f"{where}: environment {environment!r}, not one of {sorted(ENVIRONMENT_OF_STACK.values())}")
        if unknown := _secret_uses(job) - SECRETS:
            problems.append(f"{where} reads secrets outside the environments' set: {sorted(unknown)}")
        if _secret_uses(job.get("env") or {}):
            problems.append(f"{where} puts secrets in job-level env (every step would see them)")
        for step in _steps(job):
            for var, value in (step.get("env") or {}).items():
                if var in CREDENTIAL_ENV and value != f"${{{{ secrets.{CREDENTIAL_ENV[var]} }}}}":
                    problems.append(f"{where}: {var} is {value!r}, not the secret {CREDENTIAL_ENV[var]}")
        steps = _steps(job)
        cleaned = [i for i, s in enumerate(steps) if s.get("run", "").strip() == CLEAN_WORKSPACE]
        checkouts = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/checkout@")]
        if not cleaned or not checkouts or cleaned[0] > checkouts[0]:
            problems.append(f"{where}: no `{CLEAN_WORKSPACE}` before the checkout")
        needs = job.get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        if not any(_local_workflow(_jobs(wf).get(n, {}).get("uses", "")) in checks for n in needs):
            problems.append(f"{where} does not wait for the checks (needs a job calling {sorted(checks)})")
        for step in steps:
            if not step.get("uses", "").startswith("pulumi/actions@"):
                continue
            args = step.get("with") or {}
            stack = args.get("stack-name")
            stacks.setdefault(stack, []).append(where)
            if ENVIRONMENT_OF_STACK.get(stack) != environment:
                problems.append(f"{where}: stack {stack!r} deployed through environment {environment!r}")
            if args.get("command") != "up":
                problems.append(f"{where}: command {args.get('command')!r}")
            if args.get("cloud-url") != "${{ secrets.PULUMI_BACKEND_URL }}":
                problems.append(f"{where}: cloud-url {args.get('cloud-url')!r}")
            if str(args.get("pulumi-version")) != _pulumi_pin():
                problems.append(f"{where}: pulumi-version {args.get('pulumi-version')!r}, not {_pulumi_pin()}")
            clauses = _clauses(job.get("if"))
            on = _on(wf)
            if stack == "staging":
                wanted = {"github.event_name == 'push'", "github.ref == 'refs/heads/main'"}
                if clauses is None or not wanted <= clauses:
                    problems.append(f"{where}: if {job.get('if')!r} must require {sorted(wanted)}")
                if (on.get("push") or {}).get("branches") != ["main"]:
                    problems.append(f"{wf_name}: push must be limited to branches [main]")
            if stack == "prod":
                wanted = {
                    "github.event_name == 'workflow_dispatch'",
                    "github.ref == 'refs/heads/main'",
                    "inputs.confirm == 'prod'",
                }
                if clauses is None or not wanted <= clauses:
                    problems.append(f"{where}: if {job.get('if')!r} must require {sorted(wanted)}")
                confirm = ((on.get("workflow_dispatch") or {}).get("inputs") or {}).get("confirm") or {}
                if confirm.get("required") is not True:
                    problems.append(f"{wf_name}: workflow_dispatch needs a required `confirm` input")
    if sorted(map(str, stacks)) != sorted(ENVIRONMENT_OF_STACK) or any(len(v) != 1 for v in stacks.values()):
        problems.append(f"one deploy job per stack of {sorted(ENVIRONMENT_OF_STACK)} expected: {stacks}")
    return problems


def drift_problems(texts: Texts) -> list[str]:
    """Jobs in a drift environment only report: started by the schedule or by hand, on a
    GitHub-hosted VM, no deploy key and no other secret outside the set (credentials on the
    step, each from its own secret), the Pulumi action only installing the CLI, no command
    that changes a stack, and `python -m tools.drift` of the environment's own stack; one
    such job per stack."""
    problems = []
    stacks: dict[str, list[str]] = {}
    for name, wf in _parse(texts).items():
        for job_id, job in _jobs(wf).items():
            environment = _environment(job)
            if environment not in DRIFT_ENVIRONMENTS:
                continue
            where = f"{name} job {job_id}"
            if extra := set(_on(wf)) - DRIFT_EVENTS:
                problems.append(f"{where}: drift runs on {sorted(DRIFT_EVENTS)} only, not {sorted(extra)}")
            if not _hosted(job.get("runs-on")):
                problems.append(f"{where} runs on {job.get('runs-on')!r}, not a GitHub-hosted runner")
            if unknown := _secret_uses(job) - (SECRETS - {"DEPLOY_SSH_KEY"}):
                problems.append(f"{where} reads {sorted(unknown)}: drift holds no deploy key")
            if _secret_uses(job.get("env") or {}):
                problems.append(f"{where} puts secrets in job-level env")
            runs = []
            for step in _steps(job):
                for var, value in (step.get("env") or {}).items():
                    if var in CREDENTIAL_ENV and value != f"${{{{ secrets.{CREDENTIAL_ENV[var]} }}}}":
                        problems.append(f"{where}: {var} is {value!r}, not the secret {CREDENTIAL_ENV[var]}")
                if step.get("uses", "").startswith("pulumi/actions@") and "command" in (step.get("with") or {}):
                    problems.append(f"{where}: the Pulumi action runs {step['with']['command']!r} (install only)")
                run = step.get("run", "")
                if STACK_CHANGE.search(run):
                    problems.append(f"{where} runs a command that changes a stack: {run.strip()!r}")
                runs += [m["stack"] for m in DRIFT_RUN.finditer(run)]
            if runs != [DRIFT_ENVIRONMENTS[environment]]:
                problems.append(f"{where}: runs tools.drift for {runs}, not once for {DRIFT_ENVIRONMENTS[environment]}")
            stacks.setdefault(DRIFT_ENVIRONMENTS[environment], []).append(where)
    if sorted(stacks) != sorted(set(DRIFT_ENVIRONMENTS.values())) or any(len(v) != 1 for v in stacks.values()):
        problems.append(f"one drift job per stack expected: {stacks}")
    return problems


def cost_problems(texts: Texts) -> list[str]:
    """The pull-request plan job puts the cost difference in the job summary: it plans the base
    commit (checked out without credentials) and runs tools.costdiff."""
    test = _parse(texts).get("test.yml") or {}
    steps = _steps(_jobs(test).get("plan") or {})
    base = [s for s in steps if (s.get("with") or {}).get("ref") == "${{ github.event.pull_request.base.sha }}"]
    runs = "\n".join(s.get("run", "") for s in steps)
    problems = []
    if len(base) != 1 or (base[0].get("with") or {}).get("path") != "base":
        problems.append("test.yml job plan: no checkout of the base commit into base/")
    if (
        "make -s -C base plan" not in runs
        or "python -m tools.costdiff" not in runs
        or "GITHUB_STEP_SUMMARY" not in runs
    ):
        problems.append("test.yml job plan: no cost difference (plan of base and head, tools.costdiff) in the summary")
    return problems


def install_problems(texts: Texts) -> list[str]:
    """The hosted job that runs the suite installs every package .ci/run installs, as root,
    and keeps CI=true (a missing program then fails its test instead of skipping it)."""
    packages = _ci_run_packages()
    problems = [] if {"postgresql", "nginx"} <= packages else [f".ci/run installs only {sorted(packages)}"]
    suite_jobs = 0
    for wf, job_id, job in _pr_reachable(_parse(texts)):
        scripts = [s.get("run", "") for s in _steps(job)]
        suite = [line for script in scripts for line in script.splitlines() if re.search(r"\.ci/run|make test", line)]
        if not suite:
            continue
        suite_jobs += 1
        installed = set().union(*map(_apt_installs, scripts))
        for line in suite:
            if ".ci/run" in line:
                installed |= packages
                if not re.match(r"\s*sudo\s", line):
                    problems.append(f"{wf} job {job_id}: `{line.strip()}` must run as root (apt-get, nginx -t)")
            if "sudo" in line and "CI=true" not in line:
                problems.append(f"{wf} job {job_id}: `{line.strip()}` drops CI=true (sudo resets the environment)")
        if missing := packages - installed:
            problems.append(f"{wf} job {job_id} runs the suite without {sorted(missing)} (installed by .ci/run)")
    if not suite_jobs:
        problems.append("no job a pull request starts runs the test suite")
    return problems


RULES: dict[str, Rule] = {
    "pull_request": pull_request_problems,
    "events": event_problems,
    "pins": pin_problems,
    "permissions": permission_problems,
    "deploy": deploy_problems,
    "install": install_problems,
    "drift": drift_problems,
    "cost": cost_problems,
}


@pytest.mark.parametrize("rule", RULES)
def test_the_workflows_keep_the_rule(rule):
    assert RULES[rule](_texts()) == []


# (rule, file, text to replace, replacement): each one breaks one promise. The text must
# still be in the file, so a change to the workflows that leaves a break stale fails here.
APPEND = ""
BREAKS = {
    "a secret in the test job": (
        "pull_request",
        "test.yml",
        '        run: sudo env "PATH=$PATH" CI=true .ci/run',
        "        env:\n          TOKEN: ${{ secrets.DIGITALOCEAN_TOKEN }}\n"
        '        run: sudo env "PATH=$PATH" CI=true .ci/run',
    ),
    "a secret in a job that needs the test job": (
        "pull_request",
        "test.yml",
        APPEND,
        "\n  report:\n    needs: test\n    if: github.event_name == 'push'\n    runs-on: ubuntu-24.04\n"
        "    permissions: {}\n    steps:\n      - run: echo ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}\n",
    ),
    "the whole secrets object": (
        "pull_request",
        "test.yml",
        '            } >> "$GITHUB_STEP_SUMMARY"\n          done\n',
        '            } >> "$GITHUB_STEP_SUMMARY"\n          done\n'
        "        env:\n          ALL: ${{ toJSON(secrets) }}\n",
    ),
    "the self-hosted runner for the plan": (
        "pull_request",
        "test.yml",
        "    runs-on: ubuntu-24.04\n    timeout-minutes: 15",
        "    runs-on: [self-hosted, deploy]\n    timeout-minutes: 15",
    ),
    "a runner group": (
        "pull_request",
        "test.yml",
        "    runs-on: ubuntu-24.04\n    timeout-minutes: 30",
        "    runs-on: {group: deployers}\n    timeout-minutes: 30",
    ),
    "an environment on a pull request job": (
        "pull_request",
        "test.yml",
        "    timeout-minutes: 30\n",
        "    timeout-minutes: 30\n    environment: staging\n",
    ),
    "deploys triggered by pull requests": (
        "pull_request",
        "deploy.yml",
        "on:\n  push:",
        "on:\n  pull_request:\n  push:",
    ),
    "secrets handed to the checks": (
        "pull_request",
        "deploy.yml",
        "    uses: ./.github/workflows/test.yml\n",
        "    uses: ./.github/workflows/test.yml\n    secrets: inherit\n",
    ),
    "pull_request_target": ("events", "test.yml", "on:\n  pull_request:", "on:\n  pull_request_target:"),
    "a deploy started by a comment": ("pull_request", "deploy.yml", "on:\n  push:", "on:\n  issue_comment:\n  push:"),
    "workflow_run": (
        "events",
        "deploy.yml",
        "  workflow_dispatch:\n",
        "  workflow_run:\n    workflows: [test]\n    types: [completed]\n  workflow_dispatch:\n",
    ),
    "workflow-level env with a secret": (
        "events",
        "deploy.yml",
        "permissions: {}\n",
        "permissions: {}\n\nenv:\n  DIGITALOCEAN_TOKEN: ${{ secrets.DIGITALOCEAN_TOKEN }}\n",
    ),
    "an action by tag": (
        "pins",
        "test.yml",
        "actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0",
        "actions/checkout@v4 # v4.4.0",
    ),
    "an action by short commit": (
        "pins",
        "deploy.yml",
        "pulumi/actions@8582a9e8cc630786854029b4e09281acd6794b58",
        "pulumi/actions@8582a9e",
    ),
    "a pin without its tag": (
        "pins",
        "deploy.yml",
        "pulumi/actions@8582a9e8cc630786854029b4e09281acd6794b58 # v6.6.1",
        "pulumi/actions@8582a9e8cc630786854029b4e09281acd6794b58",
    ),
    "a write token for the workflow": (
        "permissions",
        "test.yml",
        "permissions: {}\n",
        "permissions:\n  contents: write\n",
    ),
    "a write token for a deploy job": (
        "permissions",
        "deploy.yml",
        "      contents: read\n    steps:",
        "      contents: write\n    steps:",
    ),
    "default permissions for a job": ("permissions", "test.yml", "    permissions:\n      contents: read\n", ""),
    "a token left in .git/config": (
        "permissions",
        "deploy.yml",
        "persist-credentials: false",
        "persist-credentials: true",
    ),
    "no environment": ("deploy", "deploy.yml", "    environment: staging\n", ""),
    "prod through the staging environment": (
        "deploy",
        "deploy.yml",
        "environment: production",
        "environment: staging",
    ),
    "a secret outside the set": ("deploy", "deploy.yml", "secrets.DIGITALOCEAN_TOKEN", "secrets.DO_ADMIN_TOKEN"),
    "a credential written into the file": (
        "deploy",
        "deploy.yml",
        "CLOUDFLARE_API_TOKEN: ${{ secrets.CLOUDFLARE_API_TOKEN }}",
        "CLOUDFLARE_API_TOKEN: cf-token-in-the-file",
    ),
    "a credential from another secret": (
        "deploy",
        "deploy.yml",
        "AWS_SECRET_ACCESS_KEY: ${{ secrets.SPACES_SECRET_ACCESS_KEY }}",
        "AWS_SECRET_ACCESS_KEY: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
    ),
    "credentials for every step": (
        "deploy",
        "deploy.yml",
        "    environment: staging\n",
        "    environment: staging\n    env:\n      DIGITALOCEAN_TOKEN: ${{ secrets.DIGITALOCEAN_TOKEN }}\n",
    ),
    "a workspace left as it was": (
        "deploy",
        "deploy.yml",
        '      - name: Empty the workspace\n        run: find "$GITHUB_WORKSPACE" -mindepth 1 -delete\n',
        "",
    ),
    "another Pulumi CLI": ("deploy", "deploy.yml", "pulumi-version: 3.272.0", "pulumi-version: ^3"),
    "a deploy before the tests": ("deploy", "deploy.yml", "    needs: test\n", ""),
    "staging from any event": (
        "deploy",
        "deploy.yml",
        "if: github.event_name == 'push' && github.ref == 'refs/heads/main'",
        "if: github.ref == 'refs/heads/main'",
    ),
    "staging from every branch": ("deploy", "deploy.yml", "    branches: [main]\n", "    branches: ['**']\n"),
    "prod from any branch": (
        "deploy",
        "deploy.yml",
        "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main' && ",
        "github.event_name == 'workflow_dispatch' && ",
    ),
    "prod without the confirmation": (
        "deploy",
        "deploy.yml",
        "&& inputs.confirm == 'prod'",
        "|| inputs.confirm == 'prod'",
    ),
    "an optional confirmation": ("deploy", "deploy.yml", "        required: true\n", "        required: false\n"),
    "prod on every push": (
        "deploy",
        "deploy.yml",
        "          stack-name: staging\n",
        "          stack-name: prod\n",
    ),
    "the old package list": (
        "install",
        "test.yml",
        'run: sudo env "PATH=$PATH" CI=true .ci/run',
        'run: sudo env "PATH=$PATH" CI=true sh -c "apt-get install -y cloud-init nginx graphviz && make test"',
    ),
    "CI dropped by sudo": (
        "install",
        "test.yml",
        'sudo env "PATH=$PATH" CI=true .ci/run',
        'sudo env "PATH=$PATH" .ci/run',
    ),
    ".ci/run as the runner user": ("install", "test.yml", 'sudo env "PATH=$PATH" CI=true .ci/run', "CI=true .ci/run"),
    "the deploy key for drift": (
        "drift",
        "drift.yml",
        "          PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}\n",
        "          PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}\n"
        "          DEPLOY_SSH_KEY: ${{ secrets.DEPLOY_SSH_KEY }}\n",
    ),
    "an update instead of a drift report": (
        "drift",
        "drift.yml",
        "run: venv/bin/python -m tools.drift --stack prod",
        "run: pulumi up --yes --stack prod && venv/bin/python -m tools.drift --stack prod",
    ),
    "the Pulumi action refreshing": (
        "drift",
        "drift.yml",
        "          pulumi-version: 3.272.0\n",
        "          pulumi-version: 3.272.0\n          command: refresh\n",
    ),
    "drift on every push": ("drift", "drift.yml", "on:\n  schedule:", "on:\n  push:\n  schedule:"),
    "drift of the other stack": ("drift", "drift.yml", "tools.drift --stack staging", "tools.drift --stack prod"),
    "drift on the self-hosted runner": (
        "drift",
        "drift.yml",
        "    runs-on: ubuntu-24.04\n    environment: staging-drift",
        "    runs-on: [self-hosted, deploy]\n    environment: staging-drift",
    ),
    "drift with the deploy environment": (
        "deploy",
        "drift.yml",
        "environment: production-drift",
        "environment: production",
    ),
    "drift started by a pull request": (
        "pull_request",
        "drift.yml",
        "on:\n  schedule:",
        "on:\n  pull_request:\n  schedule:",
    ),
    "no cost difference": ("cost", "test.yml", "venv/bin/python -m tools.costdiff", "echo"),
    "no base plan": ("cost", "test.yml", "          path: base\n", ""),
}


@pytest.mark.parametrize("name", BREAKS)
def test_each_rule_notices_a_broken_workflow(name):
    rule, file, old, new = BREAKS[name]
    texts = _texts()
    if old == APPEND:
        texts[file] += new
    else:
        assert old in texts[file], f"stale break {name!r}: {old!r} is no longer in {file}"
        texts[file] = texts[file].replace(old, new, 1)
    assert RULES[rule](texts), f"rule {rule!r} did not notice {name!r}"


def test_apt_installs_reads_a_continued_line_and_stops_at_redirects():
    script = "apt-get update -qq\napt-get install -y -qq make \\\n    nginx >/dev/null\n"
    script += "sudo apt install -y jq && make x\n"
    assert _apt_installs(script) == {"make", "nginx", "jq"}


def test_readme_names_every_secret_the_workflows_read():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## CI/CD for users\n", 1)[1].split("\n## ", 1)[0]
    used = set().union(*(_secret_uses(wf) for wf in _parse(_texts()).values()))
    assert used == SECRETS
    assert [name for name in sorted(SECRETS) if f"`{name}`" not in section] == []
    for name in ("test.yml", "deploy.yml", "--ephemeral", "staging", "production"):
        assert name in section


# ------------------------------------------------------------------------------ actionlint


def _actionlint() -> str:
    path = shutil.which("actionlint") or str(ROOT / "venv" / "bin" / "actionlint")
    if not os.path.exists(path):
        if os.environ.get("CI"):
            pytest.fail("actionlint missing: it is pinned in requirements.txt")
        pytest.skip("actionlint not installed")
    return path


def test_workflows_pass_actionlint():
    files = [str(WORKFLOWS / name) for name in _texts()]
    assert len(files) >= 2
    config = str(ROOT / ".github" / "actionlint.yaml")
    done = subprocess.run([_actionlint(), "-config-file", config, *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    done = subprocess.run([_actionlint(), str(bad)], capture_output=True, text=True)
    assert done.returncode != 0


# ------------------------------------------------------------------------------ the deploy key


def _run_step(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A `run:` step as GitHub runs it on Linux: bash --noprofile --norc -eo pipefail."""
    return realprog.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env)


def _deploy_key_steps() -> tuple[str, str]:
    """The scripts of the step that loads the key and of the job's last step, which must stop
    the agent whatever happened (`if: always()`); every deploy job runs the same two."""
    pairs = set()
    for _, _, job in _deploy_jobs(_parse(_texts())):
        if _environment(job) in DRIFT_ENVIRONMENTS:
            continue  # drift holds no deploy key
        steps = _steps(job)
        (load,) = [s["run"] for s in steps if "ssh-add" in s.get("run", "")]
        assert steps[-1].get("if") == "always()", steps[-1]
        pairs.add((load, steps[-1].get("run", "")))
    assert len(pairs) == 1, pairs
    return pairs.pop()


def test_the_deploy_key_reaches_an_agent_for_the_job_and_nothing_else():
    """The key steps with a throwaway key, as the runner runs them: the key is loaded into an
    agent on a socket under RUNNER_TEMP, only the agent's address and pid go to GITHUB_ENV,
    no output shows the key, and the last step ends the agent."""
    keygen = realprog.require("ssh-keygen", "openssh-client")
    realprog.require("ssh-agent", "openssh-client")
    ssh_add = realprog.require("ssh-add", "openssh-client")
    load, stop = _deploy_key_steps()
    # A short directory: a Unix socket path has a 108-byte limit that tmp_path can exceed.
    temp = Path(tempfile.mkdtemp(prefix="ws-agent-", dir="/tmp"))
    github_env = temp / "github_env"
    try:
        key = temp / "key"
        made = realprog.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "deploy@test", "-f", str(key)])
        assert made.returncode == 0, made.stderr
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(temp),
            "RUNNER_TEMP": str(temp),
            "GITHUB_ENV": str(github_env),
            "DEPLOY_SSH_KEY": key.read_text().rstrip("\n"),  # as a secret arrives: maybe no final newline
        }
        loaded = _run_step(load, env)
        assert loaded.returncode == 0, loaded.stderr
        body = "".join(key.read_text().splitlines()[1:-1])
        assert body[:40] not in loaded.stdout + loaded.stderr + github_env.read_text()
        exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
        assert set(exported) == {"SSH_AUTH_SOCK", "SSH_AGENT_PID"}
        assert exported["SSH_AUTH_SOCK"] == str(temp / "ssh-agent.sock")
        listed = realprog.run([ssh_add, "-L"], env={"SSH_AUTH_SOCK": exported["SSH_AUTH_SOCK"]})
        assert listed.stdout.split()[:2] == (temp / "key.pub").read_text().split()[:2]

        assert _run_step(stop, {**env, **exported}).returncode == 0
        pid = int(exported["SSH_AGENT_PID"])
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(pid), "the last step left the agent running"
        # A job whose key step never ran ends cleanly too.
        assert _run_step(stop, env).returncode == 0
    finally:
        started = re.search(r"^SSH_AGENT_PID=(\d+)$", github_env.read_text(), re.M) if github_env.exists() else None
        if started and _alive(int(started[1])):
            os.kill(int(started[1]), signal.SIGTERM)
        shutil.rmtree(temp, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether `pid` runs; an exited agent waiting for init to reap it (state Z) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
