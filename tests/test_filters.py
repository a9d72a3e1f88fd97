"""The shared commitment FilterSet."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commitments.filters import CommitmentFilterSet
from commitments.models import Commitment, Status

from .factories import CommitmentFactory


def _refs(params):
    fs = CommitmentFilterSet(params, queryset=Commitment.objects.all())
    assert fs.is_valid(), fs.errors
    return sorted(fs.qs.values_list("reference", flat=True))


@pytest.mark.django_db
def test_filters_by_several_statuses_overdue_and_dates(officer):
    today = timezone.localdate()
    late = CommitmentFactory(reference="A", status=Status.AGREED, due_date=today - dt.timedelta(1))
    CommitmentFactory(reference="B", status=Status.FULFILLED, due_date=today - dt.timedelta(1))
    CommitmentFactory(reference="C", status=Status.BLOCKED, due_date=today + dt.timedelta(5))
    CommitmentFactory(reference="D", status=Status.PROPOSED, owner=officer)
    assert _refs({"status": ["agreed", "blocked"]}) == ["A", "C"]
    assert _refs({"overdue": "true"}) == ["A"]
    assert _refs({"overdue": "false"}) == ["B", "C", "D"]
    assert _refs({"due_after": str(today)}) == ["C"]
    assert _refs({"owner": officer.username}) == ["D"]
    assert _refs({"q": late.title}) == ["A"]
    assert _refs({"ordering": "-reference"}) == ["A", "B", "C", "D"]


@pytest.mark.django_db
def test_bad_filter_values_are_form_errors_not_crashes():
    fs = CommitmentFilterSet(
        {"status": ["nope"], "due_before": "31-31-2025", "updated_since": "yesterday"},
        queryset=Commitment.objects.all(),
    )
    assert not fs.is_valid()
    assert set(fs.errors) == {"status", "due_before", "updated_since"}


@pytest.mark.django_db
def test_several_statuses_sectors_or_kinds_filter_without_select_distinct():
    """The commitment's own columns cannot repeat a row: no SELECT DISTINCT, whose count
    cost ten times the plain one at 1M rows (issue 13)."""
    CommitmentFactory(reference="A", status=Status.AGREED)
    CommitmentFactory(reference="B", status=Status.BLOCKED)
    params = {
        "status": ["agreed", "blocked"],
        "sector": ["trade", "mining"],
        "figure_kind": ["investment", "grant"],
    }
    fs = CommitmentFilterSet(params, queryset=Commitment.objects.all())
    assert fs.is_valid(), fs.errors
    assert fs.qs.query.distinct is False
    assert "DISTINCT" not in str(fs.qs.query)


@pytest.mark.django_db
def test_the_owner_filter_offers_people_who_can_own_or_still_own(officer, manager, viewer):
    from django.contrib.auth import get_user_model

    former = get_user_model().objects.create_user("former", first_name="Former")
    CommitmentFactory(owner=former)  # left the desk, still owns one
    get_user_model().objects.create_superuser("root", password="x" * 20)  # owns nothing
    choices = set(
        CommitmentFilterSet().filters["owner"].queryset.values_list("username", flat=True)
    )
    assert {officer.username, manager.username, "former"} <= choices
    assert viewer.username not in choices and "root" not in choices
