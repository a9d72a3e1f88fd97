"""PostgreSQL plumbing: timestamps read by psycopg's C loader, and statistics after bulk
writes (`analyze`). Elsewhere (SQLite) both do nothing.

**Timestamps.** psycopg's C loader instead of Django's Python one.

Django registers its own `timestamptz` loader on each psycopg connection: a Python
subclass of psycopg's pure-Python loader that parses the text with a regular expression
and then replaces the tzinfo with the connection's zone. That costs about 3 µs a value,
against 0.2 µs for the loader psycopg's C extension brings: an API page of 100
commitments reads 400 timestamps (over a millisecond of a 7 ms request) and the whole
overdue CSV at a million commitments several hundred thousand (issue 13).

With USE_TZ the session's TimeZone is UTC and the C loader already answers datetimes
whose tzinfo is `datetime.timezone.utc`, exactly what Django's loader makes (test:
tests/test_postgres_timestamps.py). So, on such a connection, every cursor Django opens
has the C loader registered for `timestamptz` before it runs a query. On another zone
(DATABASES TIME_ZONE), or without the C extension, nothing changes.

The loader is set on each cursor (an execute wrapper), not on the connection: Django
reads a `timezone` attribute off the connection's loader when it opens a cursor, which
the C loader does not have.
"""

from __future__ import annotations

import psycopg
from django.db import connection as default_connection
from django.db.backends.signals import connection_created
from psycopg.pq import Format


def _c_timestamptz_loader():
    if psycopg.pq.__impl__ == "python":  # psycopg without its C extension
        return None
    oid = psycopg.adapters.types["timestamptz"].oid
    return oid, psycopg.adapters.get_loader(oid, Format.TEXT)


_LOADER = _c_timestamptz_loader()


def c_timestamps(execute, sql, params, many, context):
    """Execute wrapper: the C timestamptz loader on this cursor, then the query."""
    oid, loader = _LOADER
    context["cursor"].cursor.adapters.register_loader(oid, loader)
    return execute(sql, params, many, context)


def use_c_timestamps(sender, connection, **kwargs) -> None:
    """On each new PostgreSQL connection in UTC (connection_created)."""
    if connection.vendor != "postgresql" or _LOADER is None:
        return
    if connection.timezone_name != "UTC":
        return
    if c_timestamps not in connection.execute_wrappers:
        connection.execute_wrappers.append(c_timestamps)


connection_created.connect(use_c_timestamps, dispatch_uid="tracker-c-timestamps")


def analyze(*models) -> None:
    """ANALYZE these models' tables (PostgreSQL; nothing elsewhere). For code that has just
    written many rows: until statistics exist the planner guesses from the table as it
    was, and autovacuum may come round minutes later, or never where it is off. Inside a
    transaction it counts the rows the transaction wrote. A database user who does not
    own a table gets a warning from PostgreSQL, not an error."""
    if default_connection.vendor != "postgresql" or not models:
        return
    quote = default_connection.ops.quote_name
    tables = ", ".join(quote(model._meta.db_table) for model in models)
    with default_connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
