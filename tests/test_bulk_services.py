"""The set-based services behind the bulk sync write exactly what the per-item services
write: history and audit rows, references, versions, change numbers, voided reminders,
and nothing at all for a refused item."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from commitments import services
from commitments.exceptions import VersionConflict
from commitments.models import AuditEvent, Channel, Commitment, Reminder, Status, StatusChange
from commitments.services import CommitmentChange, NewCommitment
from commitments.services.reminders import reminders_sweep

from .factories import CommitmentFactory, OrganisationFactory, VisitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit():
    return VisitFactory(code="KZ-AF-9")


@pytest.fixture
def org():
    return OrganisationFactory()


def _data(visit, org, n: int, **extra) -> dict:
    return {
        "external_id": f"ext-{n}",
        "title": f"Pledge {n}",
        "visit": visit,
        "sector": "trade",
        "nature": "agreement",
        "pledged_by": org,
        **extra,
    }


def _row_shape(change: StatusChange) -> tuple:
    return (
        change.from_status,
        change.to_status,
        change.actor_id,
        change.channel,
        change.version,
        change.note,
    )


def test_create_many_writes_what_commitment_create_writes(manager, visit, org):
    one = services.commitment_create(actor=manager, channel=Channel.API, data=_data(visit, org, 0))
    many = services.commitments_create_many(
        actor=manager,
        channel=Channel.API,
        items=[NewCommitment(data=_data(visit, org, n)) for n in (1, 2)]
        + [NewCommitment(data=_data(visit, org, 3), status=Status.AGREED)],
    )
    assert all(isinstance(c, Commitment) and c.pk for c in many)
    assert [c.reference for c in many] == ["KZ-AF-9-002", "KZ-AF-9-003", "KZ-AF-9-004"]
    for c in many:
        c.refresh_from_db()
        assert c.version == one.version == 1
        assert c.next_follow_up_at is not None
        assert _row_shape(c.status_changes.get())[2:] == _row_shape(one.status_changes.get())[2:]
        audit = AuditEvent.objects.get(commitment=c)
        assert (audit.action, audit.actor_id, audit.channel, audit.changes) == (
            "create",
            manager.pk,
            Channel.API,
            {},
        )
    assert many[2].status == Status.AGREED
    assert many[2].status_changes.get().to_status == Status.AGREED
    seqs = [one.change_seq, *(c.change_seq for c in many)]
    assert seqs == sorted(set(seqs))  # unique and increasing, after the earlier write


def test_create_many_writes_nothing_for_a_refused_item(manager, visit, org):
    before = (Commitment.objects.count(), StatusChange.objects.count(), AuditEvent.objects.count())
    results = services.commitments_create_many(
        actor=manager,
        channel=Channel.API,
        items=[
            NewCommitment(data=_data(visit, org, 1)),
            NewCommitment(data=_data(visit, org, 2, amount=Decimal(5))),  # no currency
            NewCommitment(data=_data(visit, org, 3, colour="red")),
            NewCommitment(data=_data(visit, org, 4), status="maybe"),
            NewCommitment(data=_data(visit, org, 5)),
        ],
    )
    assert isinstance(results[0], Commitment) and isinstance(results[4], Commitment)
    assert results[1].message_dict == {
        "currency": [
            "A currency is needed with an amount (a unit, for a figure that is not money)."
        ]
    }
    assert set(results[2].message_dict) == {"colour"}
    assert set(results[3].message_dict) == {"status"}
    after = (Commitment.objects.count(), StatusChange.objects.count(), AuditEvent.objects.count())
    assert after == tuple(n + 2 for n in before)
    assert not Commitment.objects.filter(external_id__in=["ext-2", "ext-3", "ext-4"]).exists()
    # The refused items take no reference number.
    assert [results[0].reference, results[4].reference] == ["KZ-AF-9-001", "KZ-AF-9-002"]


def test_create_many_refuses_a_taken_external_id_and_a_repeat_in_the_batch(manager, visit, org):
    CommitmentFactory(external_id="ext-1")
    results = services.commitments_create_many(
        actor=manager,
        channel=Channel.API,
        items=[NewCommitment(data=_data(visit, org, n)) for n in (1, 2, 2)],
    )
    assert results[0].message_dict == {"external_id": ["Another commitment has this external id."]}
    assert isinstance(results[1], Commitment)
    assert isinstance(results[2], ValidationError)
    assert Commitment.objects.filter(external_id="ext-2").count() == 1


def test_create_many_refuses_every_item_for_a_viewer(viewer, visit, org):
    results = services.commitments_create_many(
        actor=viewer, channel=Channel.API, items=[NewCommitment(data=_data(visit, org, 1))]
    )
    assert isinstance(results[0], PermissionDenied)
    assert not Commitment.objects.filter(external_id="ext-1").exists()


def test_update_many_writes_what_commitment_update_writes(manager):
    a, b, same = CommitmentFactory.create_batch(3)
    b_title = b.title
    single, changed = services.commitment_update(
        commitment_id=a.pk, actor=manager, channel=Channel.API, data={"title": "New a"}
    )
    assert changed
    results = services.commitments_update_many(
        actor=manager,
        channel=Channel.API,
        items=[
            CommitmentChange(commitment_id=b.pk, data={"title": "New b", "progress": 40}),
            CommitmentChange(commitment_id=same.pk, data={"title": same.title}),
        ],
    )
    (_b_row, b_changed), (same_row, same_changed) = results
    assert (b_changed, same_changed) == (True, False)
    b.refresh_from_db()
    same.refresh_from_db()
    assert (b.title, b.progress, b.version) == ("New b", 40, single.version)
    assert b.change_seq > single.change_seq
    assert b.updated_at > b.created_at
    assert AuditEvent.objects.get(commitment=b).changes == {
        "title": [b_title, "New b"],
        "progress": [0, 40],
    }
    assert AuditEvent.objects.get(commitment=a).changes == {"title": [a.title, "New a"]}
    # Unchanged: no version bump, no change number, no audit row.
    assert (same.version, same.change_seq) == (same_row.version, same_row.change_seq)
    assert same.version == 1
    assert not AuditEvent.objects.filter(commitment=same).exists()


def test_update_many_voids_reminders_for_a_changed_due_date_only(officer):
    moved = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    kept = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    reminders_sweep(now=dt.datetime(2025, 6, 9, 9, tzinfo=zoneinfo.ZoneInfo("UTC")))
    old = set(Reminder.objects.filter(commitment=moved).values_list("pk", flat=True))
    untouched = set(Reminder.objects.filter(commitment=kept).values_list("pk", flat=True))
    assert old and untouched
    services.commitments_update_many(
        actor=officer,
        channel=Channel.WEB,
        items=[
            CommitmentChange(commitment_id=moved.pk, data={"due_date": dt.date(2025, 7, 10)}),
            CommitmentChange(commitment_id=kept.pk, data={"title": "Renamed"}),
        ],
    )
    voided = Reminder.objects.filter(state=Reminder.State.VOID).values_list("pk", flat=True)
    assert set(voided) == old
    assert Reminder.objects.filter(pk__in=untouched, state=Reminder.State.PENDING).count() == len(
        untouched
    )


def test_update_many_refuses_only_the_items_a_desk_officer_may_not_change(officer, other_officer):
    own = CommitmentFactory(owner=officer)
    watched = CommitmentFactory(owner=other_officer)
    watched.watchers.add(officer)
    foreign = CommitmentFactory(owner=other_officer, title="Theirs")
    results = services.commitments_update_many(
        actor=officer,
        channel=Channel.API,
        items=[
            CommitmentChange(commitment_id=pk, data={"title": "Mine now"})
            for pk in (own.pk, foreign.pk, watched.pk)
        ],
    )
    assert results[0][1] is True and results[2][1] is True
    assert isinstance(results[1], PermissionDenied)
    foreign.refresh_from_db()
    assert (foreign.title, foreign.version) == ("Theirs", 1)
    assert not AuditEvent.objects.filter(commitment=foreign).exists()


def test_update_many_refusals_per_item(officer, manager, other_officer):
    own, other = CommitmentFactory.create_batch(2, owner=officer)
    results = services.commitments_update_many(
        actor=officer,
        channel=Channel.API,
        items=[
            CommitmentChange(commitment_id=own.pk, data={"owner": other_officer}),
            CommitmentChange(commitment_id=other.pk, data={"title": "x"}, expected_version=7),
            CommitmentChange(commitment_id=999_999, data={"title": "x"}),
        ],
    )
    assert isinstance(results[0], PermissionDenied)
    assert isinstance(results[1], VersionConflict)
    assert results[2].message_dict == {"commitment": ["No such commitment."]}
    assert Commitment.objects.filter(version__gt=1).count() == 0
    assert not AuditEvent.objects.exists()
    # A manager may reassign through the same path.
    ((_row, changed),) = services.commitments_update_many(
        actor=manager,
        channel=Channel.API,
        items=[CommitmentChange(commitment_id=own.pk, data={"owner": other_officer})],
    )
    assert changed and Commitment.objects.get(pk=own.pk).owner == other_officer
