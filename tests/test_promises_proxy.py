"""nginx promises (issue 11): the rate limits are the config's, not the renderer's defaults."""

from __future__ import annotations

from tests.conftest import recorded_with

LIMITS = {"proxy.apiRatePerSecond": 12, "proxy.apiBurst": 30, "proxy.authRatePerSecond": 3, "proxy.authBurst": 7}


def _conf_lines(run) -> list[str]:
    confs = {
        u["content"]
        for c in run.of_type("docker:index/container:Container")
        if c.inputs["name"] == "proxy"
        for u in c.inputs["uploads"]
        if u["file"] == "/etc/nginx/nginx.conf"
    }
    assert len(confs) == 1, "one nginx.conf, the same on every droplet"
    return [line.strip() for line in confs.pop().splitlines()]


def test_api_and_auth_rates_and_bursts_come_from_config():
    run = recorded_with("staging", LIMITS)
    lines = _conf_lines(run)
    assert "limit_req_zone $binary_remote_addr zone=api:10m rate=12r/s;" in lines
    assert "limit_req_zone $binary_remote_addr zone=auth:10m rate=3r/s;" in lines
    limits = [line for line in lines if line.startswith("limit_req zone=")]
    auth = len(run.cfg.app.auth_paths)
    assert limits == ["limit_req zone=auth burst=7 nodelay;"] * auth + ["limit_req zone=api burst=30 nodelay;"]
