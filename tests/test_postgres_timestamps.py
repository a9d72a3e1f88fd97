"""Timestamps read by psycopg's C loader (tracker/postgres.py) are the very values
Django's own loader gives: aware, in datetime.timezone.utc, to the microsecond."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from psycopg.pq import Format

from commitments.models import Commitment
from tracker import postgres

from .conftest import on_postgres
from .factories import CommitmentFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's loaders"),
]

TIMES = [
    dt.datetime(2025, 4, 21, 9, 30, tzinfo=dt.UTC),  # no fraction
    dt.datetime(2025, 4, 22, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(1999, 12, 31, 20, 0, 0, 120000, tzinfo=dt.timezone(dt.timedelta(hours=4.5))),
    dt.datetime(9999, 12, 31, 23, 59, 59, 1, tzinfo=dt.UTC),
]


def _read(ids):
    rows = Commitment.objects.plain().filter(pk__in=ids).order_by("pk")
    return list(rows.values_list("status_changed_at", flat=True))


def test_every_cursor_reads_timestamps_with_the_c_loader_and_the_values_are_djangos():
    ids = [CommitmentFactory(status_changed_at=at).pk for at in TIMES]
    fast = _read(ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        oid, loader = postgres._LOADER
        assert cursor.cursor.adapters.get_loader(oid, Format.TEXT) is loader
    assert fast == TIMES
    assert all(value.tzinfo is dt.UTC for value in fast)

    # The same rows through Django's own loader: identical, tzinfo included.
    connection.execute_wrappers.remove(postgres.c_timestamps)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT now()")
            assert cursor.cursor.adapters.get_loader(oid, Format.TEXT) is not loader
        django_own = _read(ids)
    finally:
        connection.execute_wrappers.append(postgres.c_timestamps)
    assert django_own == fast
    assert [v.tzinfo for v in django_own] == [v.tzinfo for v in fast]
    assert [v.isoformat() for v in django_own] == [v.isoformat() for v in fast]


def test_a_connection_in_another_zone_keeps_djangos_loader():
    class Other:
        vendor = "postgresql"
        timezone_name = "Asia/Kabul"
        execute_wrappers: list = []

    postgres.use_c_timestamps(sender=None, connection=Other)
    assert Other.execute_wrappers == []
