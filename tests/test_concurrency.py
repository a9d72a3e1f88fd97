"""Two writers on one commitment at once: ordered history or a refusal, never a lost update.

Runs on PostgreSQL (row locks are real there); SQLite serialises all writers anyway.
"""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection, connections, transaction

from commitments import services
from commitments.exceptions import TransitionNotAllowed, VersionConflict
from commitments.models import Channel, Commitment, Status

from .factories import CommitmentFactory
from .pg_locks import backend_pid, wait_until_blocked

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: DATABASE_URL=postgres://..."
    ),
]


def _race(calls):
    """Run the callables at the same instant in threads; return their results/errors."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _move(pk, actor, to_status, **kw):
    return lambda: services.commitment_transition(
        commitment_id=pk, to_status=to_status, actor=actor, channel=Channel.API, **kw
    )


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_moves_give_two_ordered_history_rows(officer, round_):
    commitment = CommitmentFactory(owner=officer)
    results = _race(
        [
            _move(commitment.pk, officer, Status.AGREED),
            _move(commitment.pk, officer, Status.IN_PROGRESS),
        ]
    )
    commitment.refresh_from_db()
    history = list(commitment.status_changes.order_by("version"))
    succeeded = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    # The second mover sees the first one's status: either its move is still allowed
    # (two rows) or the table refuses it (one row). Never both from "proposed".
    assert all(isinstance(r, TransitionNotAllowed) for r in refused)
    assert len(history) == 1 + len(succeeded)
    for before, after in itertools.pairwise(history):
        assert after.from_status == before.to_status
        assert after.version == before.version + 1
    assert commitment.version == history[-1].version
    assert commitment.status == history[-1].to_status


@pytest.mark.parametrize("round_", range(5))
def test_two_moves_from_the_same_version_one_wins_one_is_refused(officer, round_):
    commitment = CommitmentFactory(owner=officer)
    results = _race(
        [
            _move(commitment.pk, officer, Status.AGREED, expected_version=1),
            _move(commitment.pk, officer, Status.CANCELLED, expected_version=1, note="No"),
        ]
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], VersionConflict)
    commitment = Commitment.objects.get(pk=commitment.pk)
    assert commitment.version == 2
    assert commitment.status_changes.count() == 2


def test_creating_a_child_while_its_parent_moves_does_not_deadlock(officer):
    # A holds the change counter and, at commit, checks its parent foreign key with a KEY
    # SHARE lock on P; B locks P and waits for the counter. With FOR UPDATE on P that is a
    # deadlock (PostgreSQL aborts one with an error); with FOR NO KEY UPDATE both finish.
    parent = CommitmentFactory(owner=officer)
    a_holds_counter, b_ready = threading.Event(), threading.Event()
    b_pid: list[int] = []
    errors: list[Exception] = []

    def create_child():
        try:
            with transaction.atomic():
                services.commitment_create(
                    actor=officer,
                    channel=Channel.API,
                    data={
                        "title": "Phase one",
                        "visit": parent.visit,
                        "parent": parent,
                        "sector": parent.sector,
                        "pledged_by": parent.pledged_by,
                        "nature": parent.nature,
                        "owner": officer,
                    },
                )
                a_holds_counter.set()
                # Commit only once B has taken P's row lock and queued for the counter.
                assert b_ready.wait(20)
                wait_until_blocked(b_pid[0])
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def move_parent():
        try:
            b_pid.append(backend_pid())
            b_ready.set()
            services.commitment_transition(
                commitment_id=parent.pk,
                to_status=Status.AGREED,
                actor=officer,
                channel=Channel.WEB,
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    a = threading.Thread(target=create_child)
    a.start()
    assert a_holds_counter.wait(20)  # A holds the counter before B starts
    b = threading.Thread(target=move_parent)
    b.start()
    a.join(30)
    b.join(30)
    assert errors == []
    parent.refresh_from_db()
    assert parent.status == Status.AGREED
    assert parent.children.count() == 1
