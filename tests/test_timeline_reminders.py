"""Reminders that went out, or finally failed, appear on the commitment's timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commitments.models import Reminder

from .factories import CommitmentFactory

pytestmark = pytest.mark.django_db


def _reminder(commitment, recipient, state, kind=Reminder.Kind.DUE, **extra):
    return Reminder.objects.create(
        commitment=commitment,
        recipient=recipient,
        kind=kind,
        slot=commitment.due_date,
        about=commitment.due_date,
        send_after=timezone.now() - dt.timedelta(hours=1),
        state=state,
        **extra,
    )


def test_sent_and_failed_reminders_show_in_the_timeline_and_void_ones_do_not(client, officer):
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    _reminder(c, officer, Reminder.State.SENT, sent_at=timezone.now(), message_id="<a@x>")
    _reminder(
        c,
        officer,
        Reminder.State.FAILED,
        kind=Reminder.Kind.OVERDUE,
        attempts=5,
        last_error="SMTPServerDisconnected: gone",
    )
    _reminder(c, officer, Reminder.State.VOID, kind=Reminder.Kind.BEFORE_DUE)
    _reminder(c, officer, Reminder.State.PENDING, kind=Reminder.Kind.FOLLOW_UP)
    client.force_login(officer)
    response = client.get(f"/commitments/{c.pk}/")
    kinds = [entry.kind for entry in response.context["timeline"]]
    assert kinds.count("reminder") == 2
    states = sorted(e.item.state for e in response.context["timeline"] if e.kind == "reminder")
    assert states == ["failed", "sent"]
    page = response.content.decode()
    assert "Reminder sent" in page
    assert "Reminder failed" in page and "SMTPServerDisconnected: gone" in page
