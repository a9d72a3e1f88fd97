"""A throttle cache that fails lets requests through, says so in one line without a
traceback, and is left alone for a while so later requests do not pay its timeout."""

from __future__ import annotations

import logging
import time

import pytest

from commitments import redis_clients as throttles

from ..integration.conftest import free_port
from .conftest import bearer_client

LIST = "/api/v1/commitments/"


@pytest.fixture
def broken_api_cache(settings):
    throttles.CacheCircuit.reset()
    settings.CACHES = {
        **settings.CACHES,
        "api": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    settings.API_THROTTLE_RATES = {"token": "1/minute", "user": "1/minute"}
    yield
    throttles.CacheCircuit.reset()


def test_a_failing_cache_fails_open_with_one_line_and_is_skipped_after(
    officer, broken_api_cache, caplog
):
    client = bearer_client(officer, "read")
    with caplog.at_level(logging.WARNING, logger="commitments.redis_clients"):
        statuses = [client.get(LIST).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # over "1/minute", but the counter is unreachable
    records = [r for r in caplog.records if r.name == "commitments.redis_clients"]
    assert len(records) == 1  # the second throttle and later requests skip the cache
    assert "API cache unavailable (ConnectionError" in records[0].getMessage()
    assert records[0].exc_info is None

    # Once the window has passed, the cache is tried again (and fails again, once).
    assert throttles.CacheCircuit.is_open()
    throttles.CacheCircuit.down_until = time.monotonic() - 1
    with caplog.at_level(logging.WARNING, logger="commitments.redis_clients"):
        assert client.get(LIST).status_code == 200
    assert len([r for r in caplog.records if r.name == "commitments.redis_clients"]) == 2
