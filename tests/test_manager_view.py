"""The manager's dashboard (issue 14): overdue by owner and by counterpart, longest
overdue first, and the weekly overdue count drawn from the history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commitments import selectors, services
from commitments.models import Channel, Commitment, Status

from .factories import CommitmentFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


def test_overdue_by_owner_and_counterpart_longest_first(officer, other_officer):
    today = timezone.localdate()
    a, b = OrganisationFactory(name="A org"), OrganisationFactory(name="B org")
    officer.first_name, officer.last_name = "Farida", "Azizi"
    officer.save()
    CommitmentFactory(owner=officer, pledged_by=a, due_date=today - dt.timedelta(days=3))
    CommitmentFactory(owner=other_officer, pledged_by=b, due_date=today - dt.timedelta(days=30))
    CommitmentFactory(owner=officer, pledged_by=b, due_date=today - dt.timedelta(days=10))
    # Not overdue: closed, or due later.
    CommitmentFactory(
        owner=officer, pledged_by=a, due_date=today - dt.timedelta(days=90), status=Status.CANCELLED
    )
    CommitmentFactory(owner=officer, pledged_by=a, due_date=today + dt.timedelta(days=3))
    view = selectors.manager_view(today)
    assert [(g.name, g.count, g.longest_days) for g in view.by_owner] == [
        ("officer-b", 1, 30),
        ("Farida Azizi", 2, 10),
    ]
    assert [(g.name, g.count, g.longest_days) for g in view.by_counterpart] == [
        ("B org", 2, 30),
        ("A org", 1, 3),
    ]


def test_trend_counts_overdue_each_week_from_the_history(officer):
    today = timezone.localdate()
    c = CommitmentFactory(
        owner=officer, status=Status.AGREED, due_date=today - dt.timedelta(days=20)
    )
    Commitment.objects.filter(pk=c.pk).update(created_at=timezone.now() - dt.timedelta(days=200))
    trend = selectors.manager_view(today).trend
    assert len(trend) == 26 and trend[-1] == (today, 1)
    # Overdue from its due date on, not before.
    assert trend[-2][1] == 1 and trend[-4][1] == 0
    # Fulfilled today: no longer overdue today, still overdue last week.
    services.evidence_add(
        commitment_id=c.pk,
        actor=officer,
        channel=Channel.WEB,
        item=services.EvidenceInput(url="https://example.org/x", title="x"),
    )
    services.commitment_transition(
        commitment_id=c.pk, to_status=Status.FULFILLED, actor=officer, channel=Channel.WEB
    )
    trend = selectors.manager_view(today).trend
    assert trend[-1][1] == 0 and trend[-2][1] == 1


def test_dashboard_shows_the_managers_view(client, manager, officer):
    CommitmentFactory(owner=officer, due_date=timezone.localdate() - dt.timedelta(days=5))
    client.force_login(manager)
    html = client.get("/").content.decode()
    assert "Overdue by owner" in html and "Overdue by counterpart" in html
    assert "Overdue over time" in html
