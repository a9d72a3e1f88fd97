"""References come from a per-visit counter (issue 13): a create costs the same number of
queries at any table size, and seeded six-digit references coexist with created ones."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commitments import services
from commitments.models import Channel, Commitment, Visit
from commitments.services import NewCommitment

from .factories import CommitmentFactory, OrganisationFactory, VisitFactory, bulk_commitments

pytestmark = pytest.mark.django_db


def _data(visit, owner, n: int, org=None) -> dict:
    return {
        "external_id": f"new-{n}",
        "title": f"Pledge {n}",
        "visit": visit,
        "sector": "trade",
        "pledged_by": org or OrganisationFactory(),
        "nature": "intention",
        "owner": owner,
    }


def test_sync_into_a_seeded_visit_takes_new_references(manager):
    call_command("seed_demo", commitments=12, users=5)
    visit = Visit.objects.get(code="SEED-1")
    assert visit.last_reference_number == 12
    results = services.commitments_create_many(
        actor=manager,
        channel=Channel.API,
        items=[NewCommitment(data=_data(visit, manager, n)) for n in range(3)],
    )
    assert all(isinstance(r, Commitment) for r in results), results
    assert [r.reference for r in results] == ["SEED-1-013", "SEED-1-014", "SEED-1-015"]
    one = services.commitment_create(
        actor=manager, channel=Channel.API, data=_data(visit, manager, 9)
    )
    assert one.reference == "SEED-1-016"
    # The seeded ones are untouched and all 16 references are distinct.
    assert Commitment.objects.filter(visit=visit, reference__startswith="SEED-1-0000").count() == 12
    assert Commitment.objects.filter(visit=visit).values("reference").distinct().count() == 16


def _queries_for_one_create(visit, owner, n: int) -> list[str]:
    data = _data(visit, owner, n)
    with CaptureQueriesContext(connection) as ctx:
        services.commitment_create(actor=owner, channel=Channel.API, data=data)
    return [q["sql"] for q in ctx.captured_queries]


def _queries_for_a_sync(visit, owner, n: int) -> list[str]:
    org = OrganisationFactory()
    items = [NewCommitment(data=_data(visit, owner, n + i, org)) for i in range(5)]
    with CaptureQueriesContext(connection) as ctx:
        results = services.commitments_create_many(actor=owner, channel=Channel.API, items=items)
    assert all(isinstance(r, Commitment) for r in results), results
    return [q["sql"] for q in ctx.captured_queries]


def test_a_create_costs_the_same_queries_with_10_and_1000_commitments(manager):
    visit = VisitFactory(code="FLAT-1")
    CommitmentFactory.create_batch(9, visit=visit)
    _queries_for_one_create(visit, manager, 0)  # the 10th; caches the actor's roles
    small_one = _queries_for_one_create(visit, manager, 1)
    small_sync = _queries_for_a_sync(visit, manager, 100)
    bulk_commitments(
        range(1, 991),
        prefix="FLAT-1",
        visit=visit,
        owner=manager,
        status="proposed",
        each=lambda n: {"pledged_by": OrganisationFactory(), "change_seq": 10_000 + n},
    )
    large_one = _queries_for_one_create(visit, manager, 2)
    large_sync = _queries_for_a_sync(visit, manager, 200)
    assert len(large_one) == len(small_one)
    assert len(large_sync) == len(small_sync)
    # No query reads the visit's references to find the next number.
    for sql in large_one + large_sync:
        assert not (
            sql.startswith("SELECT")
            and 'FROM "commitments_commitment" WHERE' in sql
            and "visit_id" in sql
        ), sql


def test_counter_backfill_takes_the_highest_number_of_any_width():
    visit = VisitFactory(code="OLD-7")
    other = VisitFactory(code="OLD-70")
    for reference in ("OLD-7-001", "OLD-7-000042", "OLD-7-9", "OLD-7-ZZZ", "OLD-7-1x"):
        CommitmentFactory(visit=visit, reference=reference)
    CommitmentFactory(visit=other, reference="OLD-70-500")
    migration = importlib.import_module("commitments.migrations.0014_visit_reference_counter")
    migration.backfill(apps, None)
    visit.refresh_from_db()
    other.refresh_from_db()
    assert (visit.last_reference_number, other.last_reference_number) == (42, 500)


def test_saving_a_visit_loaded_earlier_keeps_the_counter(manager):
    visit = VisitFactory(code="KEEP-1")
    stale = Visit.objects.get(pk=visit.pk)
    first = services.commitment_create(
        actor=manager, channel=Channel.API, data=_data(visit, manager, 1)
    )
    stale.title = "Renamed in the admin"
    stale.save()
    second = services.commitment_create(
        actor=manager, channel=Channel.API, data=_data(visit, manager, 2)
    )
    assert (first.reference, second.reference) == ("KEEP-1-001", "KEEP-1-002")
    visit.refresh_from_db()
    assert (visit.title, visit.last_reference_number) == ("Renamed in the admin", 2)
