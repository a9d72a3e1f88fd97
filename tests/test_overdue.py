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
