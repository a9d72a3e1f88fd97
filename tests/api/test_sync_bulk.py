"""The bulk sync is set-based: its query count does not grow with the batch, and a
concurrent writer taking an external id mid-batch still gets a correct answer per item."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from commitments.models import AuditEvent, Commitment, StatusChange
from tests.factories import CommitmentFactory, OrganisationFactory, VisitFactory

from .conftest import bearer_client
from .test_pg_concurrency import hold_change_counter, in_thread

SYNC = "/api/v1/sync/commitments/"
# SQLite allows 999 parameters per statement, so Django splits bulk writes of many rows
# into several statements there (999 // 43 columns = 23 commitments, since the translation
# columns of issue 15); on PostgreSQL one statement takes the whole batch.
SIZES = (10, 200) if connection.vendor == "postgresql" else (10, 20)


def _items(refs, prefix: str, n: int, **extra) -> list[dict]:
    return [
        {
            "external_id": f"{prefix}-{i}",
            "title": f"Pledge {i}",
            "sector": "trade",
            "nature": "agreement",
            **refs,
            **extra,
        }
        for i in range(n)
    ]


def _sync_queries(client, items) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(SYNC, {"commitments": items}, format="json")
    assert response.status_code == 200, response.json()
    return len(queries), response.json()


@pytest.mark.django_db
def test_sync_query_count_does_not_grow_with_the_number_of_items(manager):
    client = bearer_client(manager)
    refs = {"visit": VisitFactory().pk, "pledged_by": OrganisationFactory().pk}
    # A first write creates the change counter row and marks the token used: warm up.
    _sync_queries(client, _items(refs, "warm", 1))
    counts = {}
    for size in SIZES:
        new = _items(refs, f"n{size}", size, owner="manager-a")
        # A different organisation per item: referenced rows are looked up in one query
        # per model, not one per distinct id.
        for item, org in zip(new, OrganisationFactory.create_batch(size), strict=True):
            item["beneficiary"] = org.pk
        counts["new", size], body = _sync_queries(client, new)
        assert body["created"] == size
        changed = [{**item, "title": item["title"] + " v2"} for item in new]
        counts["changed", size], body = _sync_queries(client, changed)
        assert body["updated"] == size
        counts["unchanged", size], body = _sync_queries(client, changed)
        assert body["unchanged"] == size
    small, large = SIZES
    for case in ("new", "changed", "unchanged"):
        assert counts[case, small] == counts[case, large], counts


@pytest.mark.django_db
def test_sync_writes_one_history_and_audit_row_per_created_item(manager):
    client = bearer_client(manager)
    refs = {"visit": VisitFactory().pk, "pledged_by": OrganisationFactory().pk}
    items = _items(refs, "h", 5)
    items[2]["amount"] = "5.00"  # no currency: refused, and nothing written for it
    body = client.post(SYNC, {"commitments": items}, format="json").json()
    assert [r["result"] for r in body["results"]] == ["created"] * 2 + ["error"] + ["created"] * 2
    made = Commitment.objects.filter(external_id__startswith="h-")
    assert made.count() == 4 and not made.filter(external_id="h-2").exists()
    assert StatusChange.objects.filter(commitment__in=made, from_status="").count() == 4
    assert AuditEvent.objects.filter(commitment__in=made, action="create").count() == 4
    seqs = list(made.order_by("pk").values_list("change_seq", flat=True))
    assert seqs == sorted(set(seqs))


@pytest.mark.django_db
def test_desk_officer_syncing_an_item_they_do_not_own_gets_an_error_for_it_only(
    officer, other_officer
):
    refs = {"visit": VisitFactory().pk, "pledged_by": OrganisationFactory().pk}
    mine = CommitmentFactory(owner=officer, external_id="mine", visit_id=refs["visit"])
    theirs = CommitmentFactory(owner=other_officer, external_id="theirs", title="Kept")
    items = [
        {
            **_items(refs, "x", 1)[0],
            "external_id": "mine",
            "title": "Changed",
            "owner": "officer-a",
        },
        {**_items(refs, "x", 1)[0], "external_id": "theirs", "title": "Changed"},
        {**_items(refs, "x", 1)[0], "owner": "officer-a"},
    ]
    body = bearer_client(officer).post(SYNC, {"commitments": items}, format="json").json()
    assert [r["result"] for r in body["results"]] == ["updated", "error", "created"]
    assert body["results"][1]["errors"] == {"detail": ["You may not change this commitment."]}
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert (theirs.title, theirs.version) == ("Kept", 1)
    assert (mine.title, mine.version) == ("Changed", 2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: DATABASE_URL=postgres://..."
)
def test_external_id_taken_by_a_concurrent_writer_falls_back_to_per_item_answers(manager):
    refs = {"visit": VisitFactory().pk, "pledged_by": OrganisationFactory().pk}
    client = bearer_client(manager)
    items = _items(refs, "race", 3)
    # The sync checks the external ids, then waits for the change counter; meanwhile
    # another writer commits "race-1".
    holder, release = hold_change_counter()
    results = [None]
    worker = in_thread(lambda: client.post(SYNC, {"commitments": items}, format="json"), results, 0)
    threading.Event().wait(1.0)
    CommitmentFactory(external_id="race-1", title="Theirs")
    release.set()
    holder.join(30)
    worker.join(30)
    connections.close_all()
    body = results[0].json()
    assert [r["result"] for r in body["results"]] == ["created", "error", "created"]
    assert body["results"][1]["errors"] == {
        "external_id": ["Another commitment has this external id."]
    }
    assert Commitment.objects.get(external_id="race-1").title == "Theirs"
    assert Commitment.objects.filter(external_id__in=["race-0", "race-2"]).count() == 2


@pytest.mark.django_db
def test_ids_and_names_unfit_for_a_batch_lookup_are_refused_per_item(manager):
    refs = {"visit": VisitFactory().pk, "pledged_by": OrganisationFactory().pk}
    items = _items(refs, "odd", 3)
    items[0]["visit"] = 10**30
    items[1]["owner"] = "bad\x00name"
    body = bearer_client(manager).post(SYNC, {"commitments": items}, format="json").json()
    assert [r["result"] for r in body["results"]] == ["error", "error", "created"]
    assert set(body["results"][0]["errors"]) == {"visit"}
    assert set(body["results"][1]["errors"]) == {"owner"}
    assert not Commitment.objects.filter(external_id__in=["odd-0", "odd-1"]).exists()
