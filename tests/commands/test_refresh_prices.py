"""`make refresh-prices` (tools/refresh_prices.py) against recorded API answers: two pages of
GET /v2/sizes and GET /v2/databases/options (data/, shaped as the API answers them,
https://docs.digitalocean.com/reference/api/digitalocean/; one price differs from the table,
one table size is missing, one API size is new), so every droplet row ends verified or says why not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tools import plan, refresh_prices

DATA = Path(__file__).parent / "data"
ANSWERS = {
    "https://api.digitalocean.com/v2/sizes?per_page=200": "do-sizes-page1.json",
    "https://api.digitalocean.com/v2/sizes?page=2&per_page=200": "do-sizes-page2.json",
    "https://api.digitalocean.com/v2/databases/options": "do-database-options.json",
}


def fake_get(url):
    return json.loads((DATA / ANSWERS[url]).read_text())


@pytest.fixture
def prices_file(tmp_path, monkeypatch):
    copy = tmp_path / "prices.yaml"
    copy.write_text(refresh_prices.PRICES.read_text())
    monkeypatch.setattr(refresh_prices, "PRICES", copy)
    return copy


def test_every_droplet_row_is_verified_or_says_why_not(prices_file, capsys):
    before = prices_file.read_text()
    assert refresh_prices.main([], get=fake_get, today="2026-12-07") == 0
    after = yaml.safe_load(prices_file.read_text())
    out = capsys.readouterr().out
    assert after["read_on"] == "2026-12-07"
    rows = after["droplet"]
    assert rows["s-4vcpu-8gb-240gb-intel"]["monthly"] == 63.00
    assert "droplet s-4vcpu-8gb-240gb-intel: 64.00 -> 63.00" in out
    assert rows["s-4vcpu-8gb"]["source"] == "DigitalOcean API /v2/sizes, read 2026-12-07"
    assert rows["s-1vcpu-1gb-35gb-intel"]["source"] == "unverified: not listed by /v2/sizes on 2026-12-07"
    assert [s for s, r in rows.items() if "unverified" in r["source"]] == ["s-1vcpu-1gb-35gb-intel"]
    assert "the table lacks: c-2" in out
    # Same rows, same order, comments kept: only the rows' values and the date changed.
    old_lines, new_lines = before.splitlines(), prices_file.read_text().splitlines()
    assert len(old_lines) == len(new_lines)
    assert [a for a, b in zip(old_lines, new_lines, strict=True) if a.lstrip().startswith("#")] == [
        b for b in new_lines if b.lstrip().startswith("#")
    ]
    assert list(rows) == list(yaml.safe_load(before)["droplet"])


def test_database_sizes_are_checked_and_their_prices_kept(prices_file, capsys):
    before = yaml.safe_load(prices_file.read_text())
    assert refresh_prices.main([], get=fake_get, today="2026-12-07") == 0
    after = yaml.safe_load(prices_file.read_text())
    assert after["postgres"] == before["postgres"]  # every size offered: untouched
    assert (
        after["valkey"]["db-s-16vcpu-64gb"]["source"]
        == "unverified: not offered by /v2/databases/options on 2026-12-07"
    )
    assert after["valkey"]["db-s-16vcpu-64gb"]["primary"] == before["valkey"]["db-s-16vcpu-64gb"]["primary"]
    assert "valkey db-s-16vcpu-64gb: not offered" in capsys.readouterr().out


def test_the_plan_reads_the_refreshed_table(prices_file, monkeypatch):
    refresh_prices.main([], get=fake_get, today="2026-12-07")
    monkeypatch.setattr(plan, "PRICES", yaml.safe_load(prices_file.read_text()))
    assert plan.PRICES["droplet"]["s-4vcpu-8gb-240gb-intel"]["monthly"] == 63.0


def test_dry_run_writes_nothing_and_no_token_is_a_clear_error(prices_file, capsys, monkeypatch):
    before = prices_file.read_text()
    assert refresh_prices.main(["--dry-run"], get=fake_get, today="2026-12-07") == 0
    assert prices_file.read_text() == before
    monkeypatch.delenv("DIGITALOCEAN_TOKEN", raising=False)
    assert refresh_prices.main([]) == 2
    assert "set DIGITALOCEAN_TOKEN" in capsys.readouterr().err


def test_an_api_error_changes_nothing(prices_file, capsys):
    def failing(url):
        raise refresh_prices.RefreshError(f"GET {url} answered 401: check DIGITALOCEAN_TOKEN (make doctor)")

    before = prices_file.read_text()
    assert refresh_prices.main([], get=failing) == 2
    assert prices_file.read_text() == before
    assert "answered 401" in capsys.readouterr().err
