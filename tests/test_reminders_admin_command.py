"""`send_reminders [--dry-run]` and the admin's view of the outbox."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from commitments.models import Reminder

from .factories import CommitmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_dry_run_says_what_it_would_queue_and_writes_nothing(officer):
    CommitmentFactory(owner=officer, due_date=timezone.localdate())
    out = io.StringIO()
    call_command("send_reminders", "--dry-run", stdout=out)
    assert "new reminders: due 1" in out.getvalue()
    assert "would queue" in out.getvalue()
    assert not Reminder.objects.exists()


def test_send_reminders_runs_one_sweep_and_lists_what_it_queued(officer, settings):
    settings.TRACKER_REMINDER_WINDOW_HOURS = 24  # whatever the hour the suite runs at
    officer.profile.working_days = [1, 2, 3, 4, 5, 6, 7]
    officer.profile.morning_hour = 0
    officer.profile.save()
    c = CommitmentFactory(owner=officer, due_date=timezone.localdate())
    out = io.StringIO()
    call_command("send_reminders", stdout=out)
    (row,) = Reminder.objects.filter(commitment=c)
    assert "queued 1 reminder(s)" in out.getvalue()
    assert f"#{row.pk} due {c.reference} to {officer.email}" in out.getvalue()
    assert row.queued_at is not None


def test_admin_lists_failed_reminders(client, officer):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    failed = Reminder.objects.create(
        commitment=c,
        recipient=officer,
        kind=Reminder.Kind.DUE,
        slot=c.due_date,
        about=c.due_date,
        send_after=timezone.now(),
        state=Reminder.State.FAILED,
        attempts=5,
        last_error="SMTPServerDisconnected: gone",
    )
    client.force_login(admin)
    response = client.get("/admin/commitments/reminder/?state__exact=failed")
    assert response.status_code == 200
    assert "SMTPServerDisconnected: gone" in response.content.decode()
    assert client.get(f"/admin/commitments/reminder/{failed.pk}/change/").status_code == 200
