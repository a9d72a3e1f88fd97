"""The overdue CSV is whole or visibly cut (issue 13): its last line counts the rows, the
count equals the database's, and it costs a fixed number of queries per chunk of rows."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commitments.models import Commitment, Status
from commitments.selectors import export_rows, overdue_commitments

from .factories import CommitmentFactory, bulk_commitments, move

pytestmark = pytest.mark.django_db


def overdue_rows(count: int, owner) -> None:
    """`count` overdue commitments, 1 to 50 days late."""
    today = dt.date.today()
    bulk_commitments(
        count,
        prefix="EXP",
        owner=owner,
        status=Status.IN_PROGRESS,
        each=lambda n: {
            "due_date": today - dt.timedelta(days=1 + n % 50),
            "change_seq": 1_000_000 + n,
        },
    )


def _csv(client) -> tuple[list[dict], str]:
    response = client.get("/commitments/overdue/", {"format": "csv"})
    assert response.status_code == 200
    *lines, trailer = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    return list(csv.DictReader(io.StringIO("\n".join(lines)))), trailer


def test_csv_row_count_equals_the_database_and_ends_with_the_count(client, manager):
    overdue_rows(4_500, manager)  # more than two chunks of 2,000
    CommitmentFactory(due_date=dt.date.today() + dt.timedelta(days=3))  # not overdue
    client.force_login(manager)
    rows, trailer = _csv(client)
    expected = Commitment.objects.overdue().count()
    assert expected == 4_500
    assert len(rows) == expected
    assert trailer == f"# rows: {expected}"
    assert len({r["Reference"] for r in rows}) == expected
    # The page's order: most overdue first.
    days = [int(r["Days overdue"]) for r in rows]
    assert days == sorted(days, reverse=True)


def test_csv_carries_the_last_status_change_of_each_row(client, manager):
    c = CommitmentFactory(due_date=dt.date(2021, 5, 1), owner=manager, status=Status.IN_PROGRESS)
    move(c, Status.BLOCKED, actor=manager, note="Waiting for the ministry")
    client.force_login(manager)
    (row,), trailer = _csv(client)
    assert (row["Status"], row["Last status change note"]) == (
        Status.BLOCKED.label,
        "Waiting for the ministry",
    )
    assert row["Last status change"] == timezone.localdate().isoformat()
    assert trailer == "# rows: 1"


def test_export_queries_grow_per_chunk_not_per_row(manager):
    overdue_rows(30, manager)

    def queries(chunk_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            rows = list(export_rows(overdue_commitments(), chunk_size=chunk_size))
        assert len(rows) == 30
        return len(ctx.captured_queries)

    one_chunk = queries(100)
    three_chunks = queries(10)
    # One cursor, then per chunk one history query and one co-pledger query.
    assert three_chunks - one_chunk == 4
    assert one_chunk <= 5
