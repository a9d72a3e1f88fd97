"""Reads for pages and the API (commitments/selectors.py): what each returns, in what
order, and what it leaves out."""

from __future__ import annotations

import datetime as dt

import pytest

from commitments import selectors, services
from commitments.models import Channel, Reminder, Status

from .factories import CommitmentFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 6, 10)


def test_overdue_commitments_are_open_past_due_most_overdue_first():
    CommitmentFactory(reference="B", due_date=TODAY - dt.timedelta(days=3))
    CommitmentFactory(reference="A", due_date=TODAY - dt.timedelta(days=3))
    CommitmentFactory(reference="C", due_date=TODAY - dt.timedelta(days=9))
    CommitmentFactory(reference="D", due_date=TODAY - dt.timedelta(days=9))
    CommitmentFactory(reference="due-today", due_date=TODAY)
    closed = CommitmentFactory(reference="done", due_date=TODAY - dt.timedelta(days=30))
    type(closed).objects.filter(pk=closed.pk).update(status=Status.FULFILLED)
    refs = list(selectors.overdue_commitments(on=TODAY).values_list("reference", flat=True))
    assert refs == ["C", "D", "A", "B"]


def test_commitment_rows_annotate_days_overdue_and_the_last_status_change(officer):
    late = CommitmentFactory(owner=officer, due_date=dt.date(2000, 1, 1))
    services.commitment_transition(
        commitment_id=late.pk, to_status=Status.AGREED, actor=officer, channel=Channel.WEB
    )
    on_time = CommitmentFactory(owner=officer, due_date=dt.date(2999, 1, 1))
    rows = {c.pk: c for c in selectors.commitment_rows()}
    assert rows[late.pk].days_overdue.days > 0
    assert rows[late.pk].last_change_to == Status.AGREED
    assert rows[on_time.pk].days_overdue is None


def test_rows_for_page_keep_the_order_of_the_ids_and_skip_missing_ones():
    a, b, c = CommitmentFactory(), CommitmentFactory(), CommitmentFactory()
    assert [r.pk for r in selectors.rows_for_page([c.pk, a.pk, 999_999, b.pk])] == [
        c.pk,
        a.pk,
        b.pk,
    ]


def test_dashboard_counts_overdue_and_due_soon_but_never_closed_items():
    CommitmentFactory(due_date=TODAY - dt.timedelta(days=1))
    CommitmentFactory(due_date=TODAY)
    CommitmentFactory(due_date=TODAY + dt.timedelta(days=1))
    gone = CommitmentFactory(due_date=TODAY - dt.timedelta(days=1))
    type(gone).objects.filter(pk=gone.pk).update(status=Status.CANCELLED)
    figures = selectors.dashboard_figures(on=TODAY)
    assert figures.overdue_count == 1
    assert figures.due_soon_count == 2
    assert figures.open_total == 3


def test_timeline_shows_sent_and_failed_reminders_but_not_pending_or_void(officer):
    c = CommitmentFactory(owner=officer)
    at = dt.datetime(2025, 6, 10, 8, tzinfo=dt.UTC)
    made = {
        state: Reminder.objects.create(
            commitment=c,
            recipient=officer,
            kind=Reminder.Kind.FOLLOW_UP,
            slot=TODAY + dt.timedelta(days=n),
            send_after=at,
            state=state,
        )
        for n, state in enumerate(Reminder.State)
    }
    listed = set(selectors.reminders_for_timeline(commitment=c))
    assert listed == {r for s, r in made.items() if s != Reminder.State.VOID}
    shown = {e.item for e in selectors.commitment_timeline(c) if e.kind == "reminder"}
    assert shown == {made[Reminder.State.SENT], made[Reminder.State.FAILED]}
