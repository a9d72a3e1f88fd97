"""/readyz against a real redis-server of its own: ready while Redis answers, 503 naming
Redis when it is paused or gone, ready again when it is back."""

from __future__ import annotations

import time

import pytest

from commitments.services import SWEEP_HEARTBEAT, heartbeat_record

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _readyz(client) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get("/readyz")
    return response.status_code, response.json(), time.monotonic() - started


def test_readyz_follows_redis_down_and_back(client, settings, tcp_redis):
    settings.REDIS_URL = tcp_redis.url
    heartbeat_record(name=SWEEP_HEARTBEAT)

    status, body, _ = _readyz(client)
    assert (status, body) == (
        200,
        {"status": "ok", "checks": {"database": "ok", "redis": "ok", "beat": "ok"}},
    )

    # Paused: connections are accepted, nothing answers. The probe must still be quick.
    tcp_redis.pause()
    try:
        status, body, took = _readyz(client)
    finally:
        tcp_redis.resume()
    assert status == 503
    assert body["status"] == "fail"
    assert body["checks"] == {"database": "ok", "redis": "timeout", "beat": "ok"}
    assert took < 1.5

    tcp_redis.stop()
    status, body, took = _readyz(client)
    assert status == 503
    assert body["checks"]["redis"] == "unreachable"
    assert body["checks"]["database"] == "ok"
    assert took < 1.5

    tcp_redis.start()  # same port
    status, body, _ = _readyz(client)
    assert status == 200
    assert body["checks"]["redis"] == "ok"
