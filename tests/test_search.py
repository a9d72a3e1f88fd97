"""Free-text search (issue 13): one queryset method, every searched column, and on
PostgreSQL a plan served by the trigram indexes rather than a scan of every row."""

from __future__ import annotations

import pytest
from django.db import connection

from commitments.models import Commitment

from .factories import CommitmentFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows():
    rail = OrganisationFactory(name="Kazakhstan Temir Zholy")
    bank = OrganisationFactory(name="Development Bank")
    partner = OrganisationFactory(name="Afghan Railway Authority")
    a = CommitmentFactory(reference="RX-001", title="Grain corridor", pledged_by=rail)
    b = CommitmentFactory(title="Cotton", description="A SOLAR plant near Herat", beneficiary=bank)
    c = CommitmentFactory(title="Wheat", external_id="REG-17")
    c.co_pledgers.add(partner)
    d = CommitmentFactory(title="Unrelated", pledged_by=bank)
    return a, b, c, d


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("rx-00", [0]),  # reference, any case
        ("grain", [0]),  # title
        ("solar", [1]),  # description, any case
        ("REG-17", [2]),  # external id, exact
        ("REG-1", []),  # external id is not a substring match
        ("temir", [0]),  # the pledging organisation
        ("development", [1, 3]),  # beneficiary of one, pledger of another
        ("railway auth", [2]),  # a co-pledger
        ("nothing like this", []),
    ],
)
def test_search_matches_every_searched_column_once(rows, term, expected):
    found = list(Commitment.objects.search(term).order_by("pk"))
    assert found == [rows[i] for i in expected]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes: PostgreSQL")
def test_a_search_with_no_match_is_served_by_the_trigram_indexes(rows):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE %s ORDER BY 1", ["%_trgm"]
        )
        assert [r[0] for r in cursor.fetchall()] == [
            "commitment_description_trgm",
            "commitment_reference_trgm",
            "commitment_title_trgm",
            "organisation_name_trgm",
        ]
        # A tiny test table is cheaper to scan, so forbid scans to see what can serve it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        query = Commitment.objects.search("zzqx no such words").order_by().query
        sql, params = query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "commitment_title_trgm" in plan
    assert "commitment_description_trgm" in plan
    assert "Seq Scan on commitments_commitment" not in plan
