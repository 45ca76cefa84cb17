"""The assembled app over loopback: health, headers, zero-config start."""

from __future__ import annotations

import httpx


def test_healthz_ok(app_server) -> None:
    r = httpx.get(app_server.url + "/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}
