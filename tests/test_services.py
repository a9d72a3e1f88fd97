"""The commitment life cycle: the move table, its rules, history, versions, permissions."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from commitments import services
from commitments.exceptions import TransitionNotAllowed, VersionConflict
from commitments.models import (
    NOTE_REQUIRED,
    TERMINAL_STATUSES,
    TRANSITIONS,
    AuditEvent,
    Channel,
    Commitment,
    Evidence,
    Note,
    Status,
    StatusChange,
)

from .factories import CommitmentFactory, OrganisationFactory, UserFactory, VisitFactory

EVIDENCE = services.EvidenceInput(url="https://example.org/signed.pdf", title="Signed text")


def _counts(commitment):
    return (
        StatusChange.objects.filter(commitment=commitment).count(),
        Evidence.objects.filter(commitment=commitment).count(),
        AuditEvent.objects.filter(commitment=commitment).count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_status", "to_status"), list(itertools.product(Status.values, Status.values))
)
def test_every_pair_of_statuses_follows_the_move_table(manager, from_status, to_status):
    # A due date too: reopening asks for one (issue 11).
    due = timezone.localdate() + dt.timedelta(days=30)
    commitment = CommitmentFactory(status=from_status, owner=manager, due_date=due)
    before = _counts(commitment)
    kwargs = {
        "commitment_id": commitment.pk,
        "to_status": to_status,
        "actor": manager,
        "channel": Channel.WEB,
        # Give every move what the rules ask for, so only the table decides.
        "note": "Reason given",
        "evidence": [EVIDENCE],
    }
    if to_status in TRANSITIONS[from_status]:
        change = services.commitment_transition(**kwargs)
        commitment.refresh_from_db()
        assert commitment.status == to_status
        assert commitment.version == 2
        assert (change.from_status, change.to_status, change.version) == (
            from_status,
            to_status,
            2,
        )
        assert _counts(commitment) == (before[0] + 1, before[1] + 1, before[2] + 1)
    else:
        with pytest.raises(TransitionNotAllowed) as info:
            services.commitment_transition(**kwargs)
        assert info.value.allowed == sorted(TRANSITIONS[from_status])
        commitment.refresh_from_db()
        assert (commitment.status, commitment.version) == (from_status, 1)
        assert _counts(commitment) == before


def test_terminal_statuses_only_lead_back_to_open_ones():
    for status in TERMINAL_STATUSES:
        assert TRANSITIONS[status].isdisjoint(TERMINAL_STATUSES)
    assert set(TRANSITIONS) == set(Status.values)


@pytest.mark.django_db
def test_a_move_writes_history_bumps_version_and_change_seq(commitment, officer):
    seq_before = commitment.change_seq
    services.commitment_transition(
        commitment_id=commitment.pk, to_status=Status.AGREED, actor=officer, channel=Channel.WEB
    )
    services.commitment_transition(
        commitment_id=commitment.pk,
        to_status=Status.IN_PROGRESS,
        actor=officer,
        channel=Channel.API,
        note="Works started",
    )
    commitment.refresh_from_db()
    assert commitment.version == 3
    assert commitment.change_seq > seq_before
    history = list(
        commitment.status_changes.order_by("version").values_list(
            "from_status", "to_status", "version", "channel", "actor"
        )
    )
    assert history[1:] == [
        (Status.PROPOSED, Status.AGREED, 2, "web", officer.pk),
        (Status.AGREED, Status.IN_PROGRESS, 3, "api", officer.pk),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("to_status", sorted(NOTE_REQUIRED))
def test_blocked_and_cancelled_need_a_note_and_write_nothing_without(
    commitment, officer, to_status
):
    services.commitment_transition(
        commitment_id=commitment.pk, to_status=Status.AGREED, actor=officer, channel=Channel.WEB
    )
    before = _counts(commitment)
    with pytest.raises(ValidationError) as info:
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=to_status,
            actor=officer,
            channel=Channel.WEB,
            note="   ",
        )
    assert "note" in info.value.message_dict
    commitment.refresh_from_db()
    assert commitment.status == Status.AGREED and commitment.version == 2
    assert _counts(commitment) == before


@pytest.mark.django_db
def test_fulfilled_needs_evidence(commitment, officer):
    services.commitment_transition(
        commitment_id=commitment.pk, to_status=Status.AGREED, actor=officer, channel=Channel.WEB
    )
    with pytest.raises(ValidationError) as info:
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.FULFILLED,
            actor=officer,
            channel=Channel.WEB,
        )
    assert "evidence" in info.value.message_dict
    commitment.refresh_from_db()
    assert commitment.status == Status.AGREED
    services.commitment_transition(
        commitment_id=commitment.pk,
        to_status=Status.FULFILLED,
        actor=officer,
        channel=Channel.WEB,
        evidence=[EVIDENCE],
    )
    commitment.refresh_from_db()
    assert commitment.status == Status.FULFILLED
    assert commitment.progress == 100
    assert commitment.next_follow_up_at is None


@pytest.mark.django_db
def test_bad_evidence_url_refuses_the_whole_move(commitment, officer):
    services.commitment_transition(
        commitment_id=commitment.pk, to_status=Status.AGREED, actor=officer, channel=Channel.WEB
    )
    before = _counts(commitment)
    with pytest.raises(ValidationError):
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.FULFILLED,
            actor=officer,
            channel=Channel.WEB,
            evidence=[EVIDENCE, services.EvidenceInput(url="javascript:alert(1)", title="x")],
        )
    commitment.refresh_from_db()
    assert commitment.status == Status.AGREED
    assert _counts(commitment) == before


@pytest.mark.django_db
def test_only_a_manager_reopens_and_only_with_a_note(officer, manager):
    due = timezone.localdate() + dt.timedelta(days=30)
    commitment = CommitmentFactory(status=Status.CANCELLED, owner=officer, due_date=due)
    with pytest.raises(TransitionNotAllowed):
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.AGREED,
            actor=officer,
            channel=Channel.WEB,
            note="Back on",
        )
    with pytest.raises(ValidationError):
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.AGREED,
            actor=manager,
            channel=Channel.WEB,
        )
    commitment.refresh_from_db()
    assert commitment.status == Status.CANCELLED and commitment.version == 1
    services.commitment_transition(
        commitment_id=commitment.pk,
        to_status=Status.AGREED,
        actor=manager,
        channel=Channel.WEB,
        note="Talks resumed",
    )
    commitment.refresh_from_db()
    assert commitment.status == Status.AGREED
    assert commitment.next_follow_up_at is not None


@pytest.mark.django_db
def test_unknown_status_is_a_validation_error(commitment, officer):
    with pytest.raises(ValidationError):
        services.commitment_transition(
            commitment_id=commitment.pk, to_status="done", actor=officer, channel=Channel.WEB
        )
    assert commitment.status_changes.count() == 1


@pytest.mark.django_db
def test_officer_cannot_move_what_they_do_not_own(commitment, other_officer, viewer):
    for actor in (other_officer, viewer):
        with pytest.raises(PermissionDenied):
            services.commitment_transition(
                commitment_id=commitment.pk,
                to_status=Status.AGREED,
                actor=actor,
                channel=Channel.WEB,
            )
    commitment.refresh_from_db()
    assert commitment.status == Status.PROPOSED and commitment.version == 1


@pytest.mark.django_db
def test_a_watcher_may_move_it(commitment, other_officer):
    commitment.watchers.add(other_officer)
    services.commitment_transition(
        commitment_id=commitment.pk,
        to_status=Status.AGREED,
        actor=other_officer,
        channel=Channel.WEB,
    )
    commitment.refresh_from_db()
    assert commitment.status == Status.AGREED


@pytest.mark.django_db
def test_stale_version_is_refused_and_writes_nothing(commitment, officer):
    with pytest.raises(VersionConflict) as info:
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.AGREED,
            actor=officer,
            channel=Channel.WEB,
            expected_version=7,
        )
    assert info.value.current == 1
    commitment.refresh_from_db()
    assert commitment.status == Status.PROPOSED
    assert commitment.status_changes.count() == 1


@pytest.mark.django_db
def test_owner_note_moves_follow_up_forward_and_others_do_not(commitment, officer, manager):
    services.note_add(commitment_id=commitment.pk, actor=manager, channel=Channel.WEB, text="Hi")
    commitment.refresh_from_db()
    assert commitment.next_follow_up_at is None and commitment.version == 1
    services.note_add(
        commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="Called them"
    )
    commitment.refresh_from_db()
    assert commitment.next_follow_up_at is not None
    assert commitment.version == 2
    assert Note.objects.filter(commitment=commitment).count() == 2


@pytest.mark.django_db
def test_empty_note_is_refused(commitment, officer):
    with pytest.raises(ValidationError):
        services.note_add(commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text=" ")
    assert not Note.objects.exists()


@pytest.mark.django_db
def test_snooze_records_a_note_and_needs_reason_and_future_date(commitment, officer):
    with pytest.raises(ValidationError) as info:
        services.commitment_snooze(
            commitment_id=commitment.pk,
            actor=officer,
            channel=Channel.WEB,
            until=dt.date(2000, 1, 1),
            reason="",
        )
    assert set(info.value.message_dict) == {"until", "reason"}
    until = dt.date.today() + dt.timedelta(days=10)
    services.commitment_snooze(
        commitment_id=commitment.pk,
        actor=officer,
        channel=Channel.WEB,
        until=until,
        reason="Minister travelling",
    )
    commitment.refresh_from_db()
    assert commitment.snoozed_until == until
    assert commitment.notes.get().kind == Note.Kind.SNOOZE


@pytest.mark.django_db
def test_only_managers_reassign(commitment, officer, other_officer, manager):
    with pytest.raises(PermissionDenied):
        services.commitment_reassign(
            commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, owner=other_officer
        )
    with pytest.raises(PermissionDenied):
        services.commitment_update(
            commitment_id=commitment.pk,
            actor=officer,
            channel=Channel.WEB,
            data={"owner": other_officer},
        )
    commitment.refresh_from_db()
    assert commitment.owner == officer
    services.commitment_reassign(
        commitment_id=commitment.pk, actor=manager, channel=Channel.WEB, owner=other_officer
    )
    commitment.refresh_from_db()
    assert commitment.owner == other_officer
    assert commitment.notes.get().kind == Note.Kind.REASSIGN


@pytest.mark.django_db
def test_update_with_same_values_changes_nothing(commitment, officer):
    _, changed = services.commitment_update(
        commitment_id=commitment.pk,
        actor=officer,
        channel=Channel.WEB,
        data={"title": commitment.title},
    )
    assert changed is False
    commitment.refresh_from_db()
    assert commitment.version == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_create_assigns_next_reference_and_first_history_row(officer):
    visit = VisitFactory(code="KZ-AF-2031")
    data = {
        "title": "Grain corridor",
        "visit": visit,
        "sector": "trade",
        "pledged_by": OrganisationFactory(),
        "nature": "intention",
        "owner": officer,
    }
    first = services.commitment_create(actor=officer, channel=Channel.WEB, data=data)
    second = services.commitment_create(actor=officer, channel=Channel.WEB, data=data)
    assert (first.reference, second.reference) == ("KZ-AF-2031-001", "KZ-AF-2031-002")
    assert first.status_changes.get().to_status == Status.PROPOSED
    assert first.next_follow_up_at is not None


@pytest.mark.django_db
def test_viewer_cannot_create(viewer):
    with pytest.raises(PermissionDenied):
        services.commitment_create(actor=viewer, channel=Channel.WEB, data={"title": "x"})
    assert not Commitment.objects.exists()


@pytest.mark.django_db
def test_status_history_is_append_only(commitment):
    change = commitment.status_changes.get()
    change.note = "rewritten"
    with pytest.raises(TypeError):
        change.save()
    with pytest.raises(TypeError):
        change.delete()
    with pytest.raises(TypeError):
        commitment.status_changes.update(note="rewritten")
    with pytest.raises(TypeError):
        commitment.status_changes.all().delete()
    assert commitment.status_changes.get().note == ""


@pytest.mark.django_db
def test_amount_keeps_decimal_precision(commitment, officer):
    services.commitment_update(
        commitment_id=commitment.pk,
        actor=officer,
        channel=Channel.WEB,
        data={"amount": Decimal("500000000.10"), "currency": "USD"},
    )
    commitment.refresh_from_db()
    assert commitment.amount == Decimal("500000000.10")


@pytest.mark.django_db
def test_references_keep_counting_past_999(officer):
    visit = VisitFactory(code="BIG-2025")
    for number in (998, 999):
        CommitmentFactory(visit=visit, reference=f"BIG-2025-{number:03d}")
    # A reference that does not follow the pattern must not derail the numbering.
    CommitmentFactory(visit=visit, reference="BIG-2025-ZZZ")
    data = {
        "title": "Next",
        "visit": visit,
        "sector": "trade",
        "pledged_by": OrganisationFactory(),
        "nature": "intention",
        "owner": officer,
    }
    first = services.commitment_create(actor=officer, channel=Channel.WEB, data=data)
    second = services.commitment_create(actor=officer, channel=Channel.WEB, data=data)
    assert (first.reference, second.reference) == ("BIG-2025-1000", "BIG-2025-1001")


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.BLOCKED, Status.FULFILLED, Status.CANCELLED])
def test_a_new_commitment_cannot_skip_the_rules_of_a_move(officer, status):
    data = {
        "title": "Shortcut",
        "visit": VisitFactory(),
        "sector": "trade",
        "pledged_by": OrganisationFactory(),
        "nature": "intention",
        "owner": officer,
    }
    with pytest.raises(ValidationError) as info:
        services.commitment_create(actor=officer, channel=Channel.API, data=data, status=status)
    assert "status" in info.value.message_dict
    (result,) = services.commitments_create_many(
        actor=officer,
        channel=Channel.API,
        items=[services.NewCommitment(data={**data, "external_id": "X-1"}, status=status)],
    )
    assert isinstance(result, ValidationError)
    assert not Commitment.objects.exists()


@pytest.mark.django_db
def test_changing_the_owner_by_update_is_a_logged_reassignment_to_an_active_user(
    commitment, manager, other_officer
):
    retired = UserFactory(username="retired", is_active=False)
    with pytest.raises(ValidationError) as info:
        services.commitment_update(
            commitment_id=commitment.pk,
            actor=manager,
            channel=Channel.API,
            data={"owner": retired},
        )
    assert "owner" in info.value.message_dict
    (refused,) = services.commitments_update_many(
        actor=manager,
        channel=Channel.API,
        items=[services.CommitmentChange(commitment_id=commitment.pk, data={"owner": retired})],
    )
    assert isinstance(refused, ValidationError)
    commitment.refresh_from_db()
    assert commitment.owner != retired and not commitment.notes.exists()

    services.commitment_update(
        commitment_id=commitment.pk,
        actor=manager,
        channel=Channel.API,
        data={"owner": other_officer},
    )
    services.commitments_update_many(
        actor=manager,
        channel=Channel.API,
        items=[services.CommitmentChange(commitment_id=commitment.pk, data={"owner": manager})],
    )
    texts = list(commitment.notes.order_by("id").values_list("kind", "text"))
    assert texts == [
        (Note.Kind.REASSIGN, f"Reassigned to {other_officer.username}."),
        (Note.Kind.REASSIGN, f"Reassigned to {manager.username}."),
    ]
