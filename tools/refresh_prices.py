"""`make refresh-prices`: the droplet price table from DigitalOcean's API, and the database
sizes checked against it (the plan itself stays offline and reads tools/data/prices.yaml).

    DIGITALOCEAN_TOKEN=... python -m tools.refresh_prices [--dry-run]

- GET /v2/sizes (every page): each droplet row of prices.yaml gets the API's `price_monthly`
  and the source "DigitalOcean API /v2/sizes" with the date; a row the API no longer lists is
  marked unverified, saying so; sizes the API lists that the table lacks are printed (add them
  to the config catalog first: components/config/catalog.py holds what a stack may choose).
- GET /v2/databases/options: the postgres (pg) and valkey rows are checked against the sizes
  the API offers for the engine. That endpoint lists sizes only, no prices, and no other
  endpoint of the API publishes database prices
  (https://docs.digitalocean.com/reference/api/digitalocean/#tag/Databases), so database
  prices keep their cited sources; a size the API does not offer is marked unverified.

Rows are rewritten in place (one line per row), so the comments and order of the file stay.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent / "data" / "prices.yaml"
API = "https://api.digitalocean.com"
SIZES_SOURCE = "DigitalOcean API /v2/sizes"
ROW = re.compile(r"^(?P<indent>  )(?P<slug>[a-z0-9-]+):(?P<pad>\s*)\{(?P<body>.*)\}(?P<rest>\s*(#.*)?)$")
SECTION = re.compile(r"^(?P<name>[a-z_]+):")
ENGINES = {"postgres": "pg", "valkey": "valkey"}

Get = Callable[[str], Any]


class RefreshError(Exception):
    pass


def http_get(token: str) -> Get:
    def get(url: str) -> Any:
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RefreshError(f"GET {url} answered {e.code}: check DIGITALOCEAN_TOKEN (make doctor)") from None
        except (urllib.error.URLError, OSError) as e:
            raise RefreshError(f"GET {url} failed: {e}") from None

    return get


def droplet_prices(get: Get) -> dict[str, float]:
    """slug -> price_monthly over every page of /v2/sizes."""
    found: dict[str, float] = {}
    url: str | None = f"{API}/v2/sizes?per_page=200"
    while url:
        page = get(url)
        for size in page.get("sizes") or []:
            found[size["slug"]] = float(size["price_monthly"])
        url = ((page.get("links") or {}).get("pages") or {}).get("next")
    if not found:
        raise RefreshError("/v2/sizes listed no sizes")
    return found


def database_sizes(get: Get) -> dict[str, set[str]]:
    """engine (pg, valkey) -> every size of any layout in /v2/databases/options."""
    options = get(f"{API}/v2/databases/options").get("options") or {}
    return {
        engine: {s for layout in (spec.get("layouts") or []) for s in layout.get("sizes") or []}
        for engine, spec in options.items()
    }


def _money(x: float) -> str:
    return f"{x:.2f}"


def rewrite(text: str, prices: dict[str, float], db_sizes: dict[str, set[str]], today: str) -> tuple[str, list[str]]:
    """The new prices.yaml text and what changed, line by line."""
    out, notes, section = [], [], None
    seen: set[str] = set()
    for line in text.splitlines(keepends=True):
        head = SECTION.match(line)
        if head:
            section = head["name"]
        m = ROW.match(line.rstrip("\n"))
        if not m or section not in ("droplet", *ENGINES):
            if line.startswith("read_on:"):
                line = re.sub(r'"[0-9-]+"', f'"{today}"', line, count=1)
            out.append(line)
            continue
        slug, body = m["slug"], m["body"]
        if section == "droplet":
            seen.add(slug)
            old = re.search(r"monthly:\s*([0-9.]+)", body)
            if slug in prices:
                new = _money(prices[slug])
                if old and float(old[1]) != prices[slug]:
                    notes.append(f"droplet {slug}: {old[1]} -> {new}")
                body = re.sub(r"monthly:\s*[0-9.]+", f"monthly: {new}", body)
                body = re.sub(r'source: "[^"]*"', f'source: "{SIZES_SOURCE}, read {today}"', body)
            else:
                notes.append(f"droplet {slug}: not listed by /v2/sizes")
                body = re.sub(r'source: "[^"]*"', f'source: "unverified: not listed by /v2/sizes on {today}"', body)
        else:
            offered = db_sizes.get(ENGINES[section])
            if offered is not None and slug not in offered:
                notes.append(f"{section} {slug}: not offered by /v2/databases/options")
                body = re.sub(
                    r'source: "[^"]*"', f'source: "unverified: not offered by /v2/databases/options on {today}"', body
                )
        out.append(f"{m['indent']}{slug}:{m['pad']}{{{body}}}{m['rest']}\n")
    missing = sorted(set(prices) - seen)
    if missing:
        notes.append(f"sizes /v2/sizes lists that the table lacks: {', '.join(missing)}")
    return "".join(out), notes


def main(argv: Sequence[str] | None = None, get: Get | None = None, today: str | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.refresh_prices", description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    args = p.parse_args(argv)
    if get is None:
        token = os.environ.get("DIGITALOCEAN_TOKEN")
        if not token:
            print("webstack refresh-prices: set DIGITALOCEAN_TOKEN (a read-only token is enough)", file=sys.stderr)
            return 2
        get = http_get(token)
    today = today or dt.date.today().isoformat()
    try:
        text, notes = rewrite(PRICES.read_text(), droplet_prices(get), database_sizes(get), today)
    except RefreshError as exc:
        print(f"webstack refresh-prices: {exc}", file=sys.stderr)
        return 2
    print("\n".join(notes) if notes else "no price changed")
    if not args.dry_run:
        PRICES.write_text(text)
        print(f"wrote {PRICES.relative_to(PRICES.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
