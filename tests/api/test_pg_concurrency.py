"""Concurrency through the API on PostgreSQL (real row locks, real parallel commits):
same-ETag PATCH races, concurrent duplicate syncs, and incremental sync reading while
transactions commit out of order."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from commitments import services
from commitments.models import ChangeCounter, Channel, Commitment, IdempotencyKey
from tests.factories import CommitmentFactory
from tests.pg_locks import backend_pid, wait_until_blocked

from .conftest import bearer_client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: DATABASE_URL=postgres://..."
    ),
]
SYNC = "/api/v1/sync/commitments/"


def in_thread(target, results, index, barrier=None):
    def run():
        try:
            if barrier:
                barrier.wait()
            results[index] = target()
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("round_", range(4))
def test_two_patches_with_the_same_etag_one_wins_one_gets_412(officer, round_):
    commitment = CommitmentFactory(owner=officer)
    clients = [bearer_client(officer), bearer_client(officer)]
    etag = clients[0].get(f"/api/v1/commitments/{commitment.pk}/")["ETag"]
    barrier = threading.Barrier(2)
    results = [None, None]
    threads = [
        in_thread(
            lambda c=client, p=progress: c.patch(
                f"/api/v1/commitments/{commitment.pk}/",
                {"progress": p},
                format="json",
                HTTP_IF_MATCH=etag,
            ),
            results,
            i,
            barrier,
        )
        for i, (client, progress) in enumerate(zip(clients, (30, 70), strict=True))
    ]
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in results) == [200, 412]
    winner = next(r for r in results if r.status_code == 200)
    commitment.refresh_from_db()
    assert commitment.version == 2
    assert commitment.progress == winner.json()["progress"]
    assert commitment.audit_events.filter(action="update").count() == 1


def hold_change_counter():
    """Lock the change counter from another connection, as a slow writer would."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                ChangeCounter.objects.get_or_create(name="commitment")
                ChangeCounter.objects.select_for_update().get(name="commitment")
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    return thread, release


def test_concurrent_duplicate_sync_gets_409_and_applies_once(manager, commitment):
    client = bearer_client(manager)
    payload = {
        "commitments": [
            {
                "external_id": "dup-1",
                "title": "Pledge",
                "visit": commitment.visit_id,
                "sector": "trade",
                "nature": "agreement",
                "pledged_by": commitment.pledged_by_id,
            }
        ]
    }
    holder, release = hold_change_counter()
    results = [None]
    first = in_thread(
        lambda: client.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1"), results, 0
    )
    # The first request has claimed the key and now waits inside the sync.
    for _ in range(100):
        if IdempotencyKey.objects.filter(key="k-1").exists():
            break
        threading.Event().wait(0.05)
    duplicate = client.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "conflict"
    release.set()
    holder.join(30)
    first.join(30)
    assert results[0].status_code == 200
    assert results[0].json()["created"] == 1

    replay = client.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == results[0].json()
    assert Commitment.objects.filter(external_id="dup-1").count() == 1


def test_two_concurrent_syncs_of_the_same_new_item_create_it_once(manager, commitment):
    item = {
        "external_id": "race-1",
        "title": "Pledge",
        "visit": commitment.visit_id,
        "sector": "trade",
        "nature": "agreement",
        "pledged_by": commitment.pledged_by_id,
    }
    clients = [bearer_client(manager), bearer_client(manager)]
    barrier = threading.Barrier(2)
    results = [None, None]
    threads = [
        in_thread(
            lambda c=c: c.post(SYNC, {"commitments": [item]}, format="json"), results, i, barrier
        )
        for i, c in enumerate(clients)
    ]
    for t in threads:
        t.join(30)
    outcomes = sorted(r.json()["results"][0]["result"] for r in results)
    assert outcomes in (["created", "error"], ["created", "unchanged"])
    assert Commitment.objects.filter(external_id="race-1").count() == 1


def test_incremental_sync_sees_every_change_exactly_once_when_commits_interleave(officer, manager):
    a = CommitmentFactory(owner=officer)
    b = CommitmentFactory(owner=officer)
    reader = bearer_client(manager, "read")

    def changes_after(seq: int) -> list[tuple[int, int]]:
        page = reader.get(f"/api/v1/commitments/?changed_after={seq}&page_size=500").json()
        return [(row["id"], row["change_seq"]) for row in page["results"]]

    cursor = max([0, *(seq for _id, seq in changes_after(-1))])
    seen: list[int] = []

    def poll() -> None:
        nonlocal cursor
        rows = changes_after(cursor)
        seen.extend(pk for pk, _seq in rows)
        if rows:
            cursor = max(seq for _pk, seq in rows)

    pids: dict[int, int] = {}
    pid_known = threading.Event()

    def slow_update(pk: int, took: threading.Event, release: threading.Event):
        def run():
            pids[pk] = backend_pid()
            if pk == b.pk:
                pid_known.set()
            with transaction.atomic():
                services.commitment_update(
                    commitment_id=pk, actor=officer, channel=Channel.API, data={"progress": 50}
                )
                took.set()  # has its change number, not yet committed
                release.wait(30)

        return run

    took_a, release_a = threading.Event(), threading.Event()
    took_b, release_b = threading.Event(), threading.Event()
    results = [None, None]
    t_a = in_thread(slow_update(a.pk, took_a, release_a), results, 0)
    assert took_a.wait(10)
    # B starts later and would commit first if it could; it must wait for A's number.
    t_b = in_thread(slow_update(b.pk, took_b, release_b), results, 1)
    assert pid_known.wait(10)
    wait_until_blocked(pids[b.pk])  # B is queued behind A's change number...
    assert not took_b.is_set(), "B got a change number while A was uncommitted"

    poll()
    assert seen == []  # nothing committed yet

    release_a.set()  # A commits; only now does B get its (larger) number
    t_a.join(30)
    assert took_b.wait(10)
    poll()
    assert seen == [a.pk]  # B is not committed: not visible, and the cursor is A's

    release_b.set()
    t_b.join(30)
    poll()
    poll()  # nothing more, nothing twice
    assert seen == [a.pk, b.pk]
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.change_seq < b.change_seq
    assert results == [None, None]
