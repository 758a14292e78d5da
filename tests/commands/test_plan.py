"""The offline plan: tree, counts, cost and simulated deploy agree with the recording."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess

import pytest

from testing import harness
from testing.harness import direct_dependencies
from tests.conftest import recorded
from tools import graph, plan


@pytest.fixture(params=harness.stack_files())
def built(request):
    run = recorded(request.param)
    return run, plan.build(run)


def test_tree_and_counts_match_the_recording(built):
    run, p = built
    text = plan.render(p)
    tree = [line for line in text.splitlines() if line.lstrip().startswith("+ ")]
    assert len(tree) == len(run.resources) + 1  # + the Stack root
    assert p["total_resources"] == sum(1 for r in run.resources if r.custom)
    assert sum(p["counts"].values()) == p["total_resources"]
    protected = [line for line in tree if "[protected]" in line]
    assert len(protected) == sum(1 for r in run.resources if r.protect)


def test_cost_total_is_the_sum_of_its_rows(built):
    _, p = built
    assert p["cost"]["monthly_total"] == pytest.approx(sum(r["monthly"] for r in p["cost"]["rows"]))
    assert all(r["source"] for r in p["cost"]["rows"])


def test_no_secret_value_in_text_or_json(built):
    run, p = built
    assert harness.SECRET_MARK in json.dumps(run.exports["database_url"].value)  # the secret exists...
    assert harness.SECRET_MARK not in plan.render(p)  # ...and the plan never prints it
    assert harness.SECRET_MARK not in json.dumps(p)


def test_every_registered_type_has_a_price_and_a_duration_row(built):
    run, _ = built
    for r in run.resources:
        if r.custom:
            assert r.type in plan.PRICES["billing"], f"no price row for {r.type}"
            assert r.type in plan.DURATIONS["seconds"], f"no duration row for {r.type}"


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [(plan.PRICES, "billing", "no price row"), (plan.DURATIONS, "seconds", "no duration row")],
    ids=["price", "duration"],
)
def test_a_type_missing_from_a_table_fails_the_plan(monkeypatch, table, key, message):
    rows = dict(table[key])
    del rows["digitalocean:index/vpc:Vpc"]
    monkeypatch.setitem(table, key, rows)
    with pytest.raises(plan.PlanError, match=message):
        plan.build(recorded("staging"))


def test_a_step_on_the_droplets_takes_its_own_time_not_the_readiness_steps():
    """Remote commands range from cloud-init (minutes) to a network connect: by name."""
    steps = {s["name"]: s["seconds"] for s in plan.simulate_deploy(recorded("prod"))["critical_path"]}
    promote = next(name for name in steps if name.endswith("-web-promote"))
    assert steps[promote] == plan.DURATIONS["by_name"]["-web-promote"]
    assert plan.DURATIONS["seconds"]["command:remote:Command"] > 60 * 3, "cloud-init stays the type's row"


def test_critical_path_is_a_real_chain_no_longer_than_the_serial_sum(built):
    run, p = built
    chain = p["deploy"]["critical_path"]
    assert chain
    for before, after in itertools.pairwise(chain):
        assert before["urn"] in direct_dependencies(run.by_urn(after["urn"]))
    assert chain[-1]["finish"] == p["deploy"]["critical_seconds"]
    assert p["deploy"]["critical_seconds"] <= p["deploy"]["serial_seconds"]
    assert sum(step["seconds"] for step in chain) == pytest.approx(p["deploy"]["critical_seconds"])


def test_diff_prod_against_staging_shows_what_prod_adds():
    d = plan.diff(plan.build(recorded("prod")), plan.build(recorded("staging")))
    added = {(x["type"], x["name"]) for x in d["only_in_this"]}
    assert ("digitalocean:index/databaseCluster:DatabaseCluster", "webstack-*-valkey-cache-cluster") in added
    pg = next(c for c in d["changed"] if c["name"] == "webstack-*-db-cluster")
    assert pg["properties"]["nodeCount"] == {"this": 2, "other": 1}, "the standby node"
    assert "+ digitalocean:index/databaseCluster:DatabaseCluster webstack-*-valkey-cache-cluster" in plan.render_diff(d)


def test_cli_json_is_one_document_and_bad_stack_is_refused(capsys):
    assert plan.main(["staging", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stack"] == "staging"
    with pytest.raises(SystemExit):
        plan.main(["nosuchstack"])


def test_cli_reports_bad_config_without_traceback(capsys):
    assert plan.main(["staging", "--set", "region=mars1"]) == 2
    err = capsys.readouterr().err
    assert "webstack:region" in err and "Traceback" not in err


def _dot():
    dot = shutil.which("dot")
    if dot is None and not os.environ.get("CI"):
        pytest.skip("Graphviz not installed (CI installs it)")
    return dot


def test_dot_output_parses_with_the_real_dot(tmp_path):
    run = recorded("prod")
    text = graph.to_dot(run)
    done = subprocess.run([_dot(), "-Tsvg"], input=text, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout
    assert text.count("subgraph cluster_") == sum(1 for r in run.resources if not r.custom)


def test_graph_edges_are_the_recorded_dependencies():
    run = recorded("prod")
    mermaid = graph.to_mermaid(run)
    expected = sum(1 for r in run.resources if r.custom for d in direct_dependencies(r) if run.by_urn(d).custom)
    assert mermaid.count(" --> ") == expected > 0


def test_cost_of_a_small_configuration_equals_the_hand_computed_sum():
    run = harness.run("staging", {"monitoring.enabled": False, "backups.enabled": False})
    # s-1vcpu-2gb droplet 12.00 + Postgres db-s-1vcpu-1gb 15.00 + Valkey db-s-1vcpu-1gb 15.00
    # + an assigned reserved IP 0.00, from tools/data/prices.yaml
    assert plan.build(run)["cost"]["monthly_total"] == pytest.approx(42.00)


def test_cost_of_prod_equals_the_hand_computed_sum():
    # 2 x s-2vcpu-4gb 24.00 + 2 x daily backups (30 %) 7.20 + load balancer 12.00
    # + Postgres db-s-2vcpu-4gb primary 60.00 + standby 60.00 + Valkey broker 15.00 + cache 30.00
    # + Spaces 5.00 (one subscription for every bucket) + 4 uptime checks x 1.00 (3 hostnames,
    # the backups' heartbeat)
    expected = 2 * 24 + 2 * 7.2 + 12 + 60 + 60 + 15 + 30 + 5 + 4
    assert plan.build(recorded("prod"))["cost"]["monthly_total"] == pytest.approx(expected)


def test_the_critical_chain_prints_as_a_checklist_naming_how_to_watch_each_one_shot():
    """`make plan`: what a long `pulumi up` waits on, one `[ ]` line per step of the critical
    chain in order, and for the one-shots the command that shows their output live."""
    p = plan.build(recorded("prod"))
    text = plan.render(p)
    steps = [line for line in text.splitlines() if line.startswith("  [ ] by ")]
    chain = p["deploy"]["critical_path"]
    assert [line.rsplit(" ", 1)[1] for line in steps] == [s["name"] for s in chain]
    assert "make logs STACK=prod PROCESS=migrate ARGS=--wait" in text
    assert "make logs STACK=prod PROCESS=pg-grant ARGS=--wait" in text
    assert "make logs STACK=prod PROCESS=probe ARGS=--wait" in text
    hints = plan.checklist(p)
    promote = next(i for i, line in enumerate(hints) if line.split("\n")[0].endswith("-web-promote"))
    assert "shows as status in `pulumi up`" in hints[promote]
    vpc = next(line for line in hints if line.endswith("webstack-prod-vpc"))
    assert "\n" not in vpc  # no hint for a plain resource
