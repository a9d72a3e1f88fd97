"""On PostgreSQL the search (commitments/search.py) is served by the trigram indexes of
migrations 0015 and 0017 (every language's title and description, issue 15): a search
with no match reads indexes, not every row (issue 13)."""

from __future__ import annotations

import pytest
from django.db import connection

from commitments.models import Commitment
from commitments.search import search_condition
from commitments.translated import COMMITMENT_TEXTS, columns

from .factories import CommitmentFactory

# The originals (migration 0015) and every language's translation (0017).
COLUMNS = (
    "reference",
    "title",
    "description",
    "source_quote",
    *columns(COMMITMENT_TEXTS),
)

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes: PostgreSQL")
def test_a_search_with_no_match_is_served_by_the_trigram_indexes():
    CommitmentFactory.create_batch(3)
    with connection.cursor() as cursor:
        # Statistics of these rows, not whatever an earlier test's ANALYZE left in
        # pg_class (ANALYZE writes the row count in place: a rollback keeps it).
        cursor.execute("ANALYZE commitments_commitment")
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE %s ORDER BY 1", ["%_trgm"]
        )
        assert [r[0] for r in cursor.fetchall()] == sorted(f"commitment_{c}_trgm" for c in COLUMNS)
        # A tiny test table is cheaper to read whole (a seq scan, or a full scan of any
        # index), so forbid both to see what can serve the search's condition itself.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        # Nor through the join with the visit (a nested loop on the visit_id index, which
        # three rows make the cheapest way): the rows must come from the condition itself.
        cursor.execute("SET LOCAL enable_nestloop = off")
        # Arabic script: two spellings (space or zero-width non-joiner), each a LIKE.
        condition, _rank = search_condition("zzqx no such words راه آهن")
        query = Commitment.objects.filter(condition).order_by().query
        sql, params = query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    for column in COLUMNS:
        assert f"commitment_{column}_trgm" in plan, plan
    assert "Seq Scan on commitments_commitment" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partial index proof: PostgreSQL")
def test_a_lookup_of_a_thousand_external_ids_is_served_by_the_unique_index():
    # The sync, the bulk create/update and the spreadsheet import look up to 1,000
    # external ids at once. The unique index only holds rows whose external_id is set,
    # and PostgreSQL cannot prove that from an IN list longer than 100 values: without
    # the explicit clause the lookup read the whole table (65 ms at 1M rows).
    for i in range(3):
        CommitmentFactory(external_id=f"ext-{i}")
    wanted = [f"ext-{i}" for i in range(1000)]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        query = Commitment.objects.with_external_ids(wanted).order_by().query
        sql, params = query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "commitment_external_id_unique" in plan, plan


def test_with_external_ids_never_matches_an_empty_id():
    with_id = CommitmentFactory(external_id="REG-1")
    CommitmentFactory(external_id="")
    assert list(Commitment.objects.with_external_ids(["REG-1", ""])) == [with_id]


def _plan_of(queryset=None, *, sql=None, params=()) -> str:
    if queryset is not None:
        sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # A tiny test table is cheaper to read whole: forbid that, and sorting, to see
        # whether an index can serve the query by itself.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(r[0] for r in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index proof: PostgreSQL")
@pytest.mark.parametrize("ordering", [("due_date", "reference"), ("-due_date", "-reference")])
def test_the_list_sorted_by_due_date_reads_its_page_from_an_index(ordering):
    # At a million rows the page sorted every row (210 ms); views._page sorts ties on
    # reference in the same direction, so one index serves both.
    CommitmentFactory.create_batch(3)
    page = Commitment.objects.order_by(*ordering).values_list("pk", flat=True)[:25]
    plan = _plan_of(page)
    assert "commitment_due_reference" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index proof: PostgreSQL")
def test_the_overdue_count_of_one_sector_is_read_from_an_index():
    import datetime as dt

    from django.test.utils import CaptureQueriesContext

    CommitmentFactory.create_batch(3)
    overdue = Commitment.objects.overdue(on=dt.date(2026, 1, 1)).filter(sector="trade")
    with CaptureQueriesContext(connection) as ctx:
        overdue.count()  # what the overdue page's paginator asks
    # Which index a table of three rows prefers is a coin toss; without the (sector,
    # status) one (dropped in this test's transaction, which rolls back), and without a
    # sequential scan, the count is served by the partial index: its condition (open)
    # follows from the overdue filter.
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX commitment_sector_status")
    plan = _plan_of(sql=ctx.captured_queries[-1]["sql"])
    assert "commitment_open_sector_due" in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN indexes: PostgreSQL")
def test_the_trigram_indexes_keep_a_small_pending_list():
    # Every search reads each GIN index's pending list in full; at the default 4 MB,
    # a few thousand status moves at 1M made searches 2.4 times slower.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_class c WHERE c.relname LIKE %s",
            ["%_trgm"],
        )
        found = dict(cursor.fetchall())
    assert sorted(found) == sorted(f"commitment_{c}_trgm" for c in COLUMNS)
    assert set(map(tuple, found.values())) == {("gin_pending_list_limit=256",)}
