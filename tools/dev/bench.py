"""Benchmark of the offline plan, median of 5 runs each, as whole processes.

    python -m tools.dev.bench [--runs 5]

Measures: the bare import of the provider SDKs (the floor every Pulumi Python program
pays), and of them with the Kubernetes SDK (the Kubernetes engine's floor); `plan` of every
stack; prod with app.replicas = 1, 10 and 50 (database sized so the pool check passes); one
row per engine for the same stack (staging, on droplets and on Kubernetes). Prints a
Markdown table to paste into the README with date and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from testing import harness

PROVIDERS = (
    "import pulumi, pulumi_digitalocean, pulumi_cloudflare, pulumi_docker, pulumi_random, pulumi_tls, pulumi_command"
)


# The same stack on each engine (Kubernetes: no droplet size, the pool and nodes sized for it).
ENGINES = {
    "droplets": [],
    "kubernetes": [
        "engine=kubernetes",
        "app.dropletSize=null",
        "cluster.maxNodes=5",
        "database.size=db-s-1vcpu-2gb",
        "database.poolSize=30",
    ],
}


def _time(cmd: list[str], runs: int) -> tuple[float, str]:
    samples, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=harness.ROOT, check=True)
        samples.append(time.perf_counter() - start)
        out = done.stdout
    return statistics.median(samples), out


def _plan(stack: str, overrides: list[str], runs: int) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "tools.plan", stack, "--json"]
    for o in overrides:
        cmd += ["--set", o]
    seconds, out = _time(cmd, runs)
    return seconds, json.loads(out)["total_resources"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    base, _ = _time([sys.executable, "-c", PROVIDERS], args.runs)
    rows = [("bare import of the provider SDKs", "-", base)]
    k8s_base, _ = _time([sys.executable, "-c", f"{PROVIDERS}, pulumi_kubernetes"], args.runs)
    rows.append(("bare import of the provider SDKs + pulumi_kubernetes", "-", k8s_base))
    for stack in harness.stack_files():
        seconds, count = _plan(stack, [], args.runs)
        rows.append((f"plan {stack}", str(count), seconds))
    from components.config import AppConfig, connections_needed

    prod = harness.stack_config("prod")["app"]
    for replicas in (1, 10, 50):
        pool = connections_needed(AppConfig.model_validate({**prod, "replicas": replicas}))
        seconds, count = _plan(
            "prod",
            [f"app.replicas={replicas}", "database.size=db-s-16vcpu-64gb", f"database.poolSize={pool}"],
            args.runs,
        )
        rows.append((f"plan prod, replicas={replicas}", str(count), seconds))
    for engine, overrides in ENGINES.items():
        seconds, count = _plan("staging", overrides, args.runs)
        rows.append((f"plan staging, engine {engine}", str(count), seconds))
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"median of {args.runs} runs per row\n")
    print("| what | resources | seconds | x bare import |")
    print("|---|---:|---:|---:|")
    for what, count, seconds in rows:
        print(f"| {what} | {count} | {seconds:.2f} | {seconds / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
