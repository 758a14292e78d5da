"""The CI reports: drift (tools/drift.py, the Automation API faked at tools/stackapi.py) and the
monthly cost difference of a pull request (tools/costdiff.py on two sets of real plans)."""

from __future__ import annotations

import json

from testing import harness
from tests.conftest import recorded
from tools import costdiff, drift, plan, stackapi


class FakeRefresh:
    def __init__(self, monkeypatch, changes=None, error=None):
        self.calls = []
        self.changes = changes if changes is not None else {"same": 81}
        self.error = error
        monkeypatch.setattr(stackapi, "preview_refresh", self.preview_refresh)

    def preview_refresh(self, stack, *, on_output, exclude=None):
        self.calls.append((stack, exclude))
        if self.error:
            raise stackapi.StackApiError(self.error)
        on_output("Refreshing (prod):\n")
        return self.changes


def test_no_drift_passes_and_leaves_the_droplet_resources_out(monkeypatch, capsys, tmp_path):
    r = FakeRefresh(monkeypatch)
    summary = tmp_path / "summary.md"
    assert drift.main(["--stack", "prod", "--summary", str(summary)]) == 0
    ((stack, exclude),) = r.calls
    assert stack == "prod"
    assert exclude == [
        "urn:pulumi:prod::webstack::**docker:index/**",
        "urn:pulumi:prod::webstack::**command:remote:**",
        "urn:pulumi:prod::webstack::**kubernetes:**",
    ]
    assert "### prod: no drift" in summary.read_text()
    assert "Refreshing (prod):" in capsys.readouterr().out


def test_drift_fails_the_job_and_says_what_and_how_to_act(monkeypatch, capsys, tmp_path):
    FakeRefresh(monkeypatch, {"same": 78, "update": 2, "delete": 1})
    summary = tmp_path / "summary.md"
    summary.write_text("earlier\n")
    assert drift.main(["--stack", "staging", "--summary", str(summary)]) == 1
    text = summary.read_text()
    assert text.startswith("earlier\n### staging: drift")
    assert "| delete | 1 |" in text and "| update | 2 |" in text and "| same |" not in text
    assert "pulumi refresh --preview-only --diff --stack staging" in text


def test_a_refresh_that_cannot_run_is_exit_2(monkeypatch, capsys):
    FakeRefresh(monkeypatch, error="the `pulumi` CLI is not on PATH")
    assert drift.main(["--stack", "prod"]) == 2
    assert "webstack drift: the `pulumi` CLI is not on PATH" in capsys.readouterr().err


def _write(directory, plans):
    directory.mkdir()
    for stack, p in plans.items():
        (directory / f"{stack}.json").write_text(json.dumps(p) if p is not None else "")


def test_the_cost_difference_of_a_bigger_droplet_per_stack(tmp_path, capsys):
    base = {"prod": plan.build(recorded("prod")), "dev": plan.build(recorded("dev"))}
    bigger = plan.build(harness.run("prod", overrides={"app.dropletSize": "s-4vcpu-8gb"}))
    _write(tmp_path / "base", base)
    _write(tmp_path / "head", {"prod": bigger, "dev": base["dev"], "staging": None})  # staging failed on head
    assert costdiff.main([str(tmp_path / "base"), str(tmp_path / "head")]) == 0
    out = capsys.readouterr().out
    delta = bigger["cost"]["monthly_total"] - base["prod"]["cost"]["monthly_total"]
    per_droplet = plan.PRICES["droplet"]["s-4vcpu-8gb"]["monthly"] - plan.PRICES["droplet"]["s-2vcpu-4gb"]["monthly"]
    assert delta >= per_droplet * 2  # prod's two app droplets (and what is priced per droplet)
    before, after = base["prod"]["cost"]["monthly_total"], bigger["cost"]["monthly_total"]
    assert f"| prod | {before:,.2f} | {after:,.2f} | +{delta:,.2f} |" in out
    assert "| dev |" in out and "| dev | " in out and out.split("| dev |")[1].split("\n")[0].endswith("| 0.00 |")
    assert "s-2vcpu-4gb → s-4vcpu-8gb" in out
    assert "**dev**" not in out  # nothing changed there


def test_a_stack_only_on_one_side_counts_as_zero_there():
    head = {"prod": plan.build(recorded("prod"))}
    (row,) = costdiff.compare({}, head)
    assert row["missing_base"] and row["base"] == 0.0 and row["head"] == head["prod"]["cost"]["monthly_total"]
    assert "| prod | (none) |" in costdiff.render([row])
