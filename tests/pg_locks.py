"""Waiting for a PostgreSQL backend to block on a lock, instead of sleeping and hoping.

A concurrency test that needs "B is now queued behind A's lock" asks the server whether
B's backend waits on a lock (pg_stat_activity.wait_event_type = 'Lock'), so the test
neither races a slow machine nor waits longer than it must.
"""

from __future__ import annotations

import threading
import time

from django.db import connection


def backend_pid() -> int:
    """This thread's database connection's server process id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def wait_until_blocked(pid: int, timeout: float = 20.0) -> None:
    """Return once backend `pid` waits on a lock; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Statistics are read once per transaction; a caller inside one needs a fresh look.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
            threading.Event().wait(0.01)
    raise AssertionError(f"backend {pid} did not block on a lock within {timeout}s")
