"""Overdue is decided by the database, in the tracker's time zone."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments.models import Commitment, Status

from .factories import CommitmentFactory


@pytest.mark.django_db
def test_overdue_means_open_and_due_before_today():
    today = dt.date(2025, 6, 10)
    CommitmentFactory(reference="late", status=Status.IN_PROGRESS, due_date=dt.date(2025, 6, 9))
    CommitmentFactory(reference="today", status=Status.AGREED, due_date=today)
    CommitmentFactory(reference="done", status=Status.FULFILLED, due_date=dt.date(2025, 1, 1))
    CommitmentFactory(reference="gone", status=Status.CANCELLED, due_date=dt.date(2025, 1, 1))
    CommitmentFactory(reference="undated", status=Status.BLOCKED, due_date=None)
    refs = set(Commitment.objects.overdue(on=today).values_list("reference", flat=True))
    assert refs == {"late"}


@pytest.mark.django_db
def test_today_is_the_trackers_local_date(settings):
    settings.TIME_ZONE = "Asia/Kabul"  # UTC+4:30
    CommitmentFactory(reference="due-10th", status=Status.AGREED, due_date=dt.date(2025, 6, 10))
    # 19:29 UTC on the 10th is 23:59 in Kabul: still the 10th there, not overdue.
    with time_machine.travel(dt.datetime(2025, 6, 10, 19, 29, tzinfo=dt.UTC), tick=False):
        assert not Commitment.objects.overdue().exists()
    # 19:31 UTC is 00:01 on the 11th in Kabul, while UTC is still on the 10th.
    with time_machine.travel(dt.datetime(2025, 6, 10, 19, 31, tzinfo=dt.UTC), tick=False):
        assert list(Commitment.objects.overdue().values_list("reference", flat=True)) == [
            "due-10th"
        ]


@pytest.mark.django_db
def test_days_overdue_is_computed_by_the_database():
    CommitmentFactory(reference="a", status=Status.AGREED, due_date=dt.date(2025, 6, 1))
    CommitmentFactory(reference="b", status=Status.FULFILLED, due_date=dt.date(2025, 6, 1))
    rows = dict(
        Commitment.objects.with_overdue_days(on=dt.date(2025, 6, 10)).values_list(
            "reference", "days_overdue"
        )
    )
    assert rows == {"a": dt.timedelta(days=9), "b": None}


def test_overdue_is_one_sql_filter_on_the_due_date():
    sql = str(Commitment.objects.overdue(on=dt.date(2025, 6, 10)).query)
    assert "due_date" in sql and "2025-06-10" in sql


@pytest.mark.django_db
def test_every_spelling_of_overdue_agrees_with_the_one_definition():
    """The queryset, the annotation, the FilterSet, the dashboard and the in-memory
    property all come from models.overdue_q; over every status and due date they agree."""
    from commitments import selectors
    from commitments.filters import CommitmentFilterSet

    today = dt.date(2025, 6, 10)
    dues = [None, today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)]
    for status in Status:
        for n, due in enumerate(dues):
            CommitmentFactory(reference=f"{status}-{n}", status=status, due_date=due)
    expected = {
        c.reference for c in Commitment.objects.all() if c.is_overdue(on=today)
    }  # the property
    assert expected == {f"{s}-1" for s in Status if s not in (Status.FULFILLED, Status.CANCELLED)}
    assert set(Commitment.objects.overdue(on=today).values_list("reference", flat=True)) == (
        expected
    )
    annotated = Commitment.objects.with_overdue_days(on=today).filter(days_overdue__isnull=False)
    assert set(annotated.values_list("reference", flat=True)) == expected
    with time_machine.travel(dt.datetime(2025, 6, 10, 12, tzinfo=dt.UTC), tick=False):
        for value, want in (("true", expected), ("false", None)):
            fs = CommitmentFilterSet({"overdue": value}, queryset=Commitment.objects.all())
            got = set(fs.qs.values_list("reference", flat=True))
            everyone = set(Commitment.objects.values_list("reference", flat=True))
            assert got == (want if want is not None else everyone - expected)
    assert selectors.dashboard_figures(on=today).overdue_count == len(expected)


@pytest.mark.django_db
def test_a_snooze_holds_follow_ups_until_the_end_of_its_day_and_nothing_else():
    """models.snoozed_q / held_by_snooze_q: the one definition the sweep, the dispatch,
    the send and the digest use."""
    from commitments.models import Reminder

    from .factories import UserFactory

    today = dt.date(2025, 6, 10)
    user = UserFactory()
    rows = {}
    for name, until in (("none", None), ("ended", today), ("running", today + dt.timedelta(1))):
        c = CommitmentFactory(reference=name, snoozed_until=until)
        for kind in (Reminder.Kind.FOLLOW_UP, Reminder.Kind.OVERDUE):
            rows[name, kind] = Reminder.objects.create(
                commitment=c,
                recipient=user,
                kind=kind,
                slot=today,
                send_after=dt.datetime(2025, 6, 10, 8, tzinfo=dt.UTC),
            )
    assert list(Commitment.objects.snoozed(today).values_list("reference", flat=True)) == [
        "running"
    ]
    assert list(Reminder.objects.held_by_snooze(today)) == [
        rows["running", Reminder.Kind.FOLLOW_UP]
    ]
    assert set(Reminder.objects.without_snoozed_follow_ups(today)) == set(rows.values()) - {
        rows["running", Reminder.Kind.FOLLOW_UP]
    }


@pytest.mark.django_db
def test_the_dashboard_trend_and_the_csv_count_today_as_the_overdue_list_does():
    """The trend rebuilds past days with the same overdue_q (given what "open" meant on
    each day, from the history) and the CSV with is_overdue_on; on today both must
    match the overdue list, over every status and on both sides of the due date."""
    from commitments import selectors
    from commitments.models import today_local

    today = today_local()
    dues = [None, today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)]
    for status in Status:
        for n, due in enumerate(dues):
            CommitmentFactory(reference=f"{status}-{n}", status=status, due_date=due)
    overdue = set(Commitment.objects.overdue(on=today).values_list("reference", flat=True))
    assert overdue == {f"{s}-1" for s in Status if s not in (Status.FULFILLED, Status.CANCELLED)}
    assert selectors.manager_view(today).trend[-1] == (today, len(overdue))
    exported = selectors.export_rows(Commitment.objects.order_by("reference"))
    assert {row.reference for row in exported if row.days_overdue is not None} == overdue
