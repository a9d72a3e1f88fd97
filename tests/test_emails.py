"""The reminder emails (commitments/emails.py): who they go to, what they say, and when
there is nothing to send."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group

from commitments.emails import build_message
from commitments.formats import format_day
from commitments.models import Profile, Reminder, Role

from .factories import CommitmentFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 6, 10, 9, tzinfo=dt.UTC)
TODAY = NOW.date()


def _reminder(recipient, kind, commitment=None, **fields) -> Reminder:
    return Reminder.objects.create(
        commitment=commitment,
        recipient=recipient,
        kind=kind,
        slot=fields.pop("slot", TODAY),
        send_after=NOW - dt.timedelta(hours=1),
        **fields,
    )


def test_an_overdue_reminder_names_the_item_its_due_date_and_links_to_it(officer, settings):
    settings.SITE_URL = "https://tracker.example"
    c = CommitmentFactory(owner=officer, reference="KZ-1", due_date=TODAY - dt.timedelta(7))
    message, bundled = build_message(reminder=_reminder(officer, Reminder.Kind.OVERDUE, c), now=NOW)
    assert message.to == [officer.email]
    # Issue 15: the date as the reader reads it (the one display format, their calendar).
    assert message.subject == f"Overdue since {format_day(c.due_date)}: KZ-1"
    assert f"https://tracker.example{c.get_absolute_url()}" in message.body
    assert "7" in message.body  # days overdue
    assert message.alternatives[0][1] == "text/html"
    assert bundled == []


def test_a_daily_digest_carries_the_held_reminders_but_not_snoozed_follow_ups(officer):
    a = CommitmentFactory(owner=officer, reference="A-1")
    snoozed = CommitmentFactory(
        owner=officer, reference="S-1", snoozed_until=TODAY + dt.timedelta(3)
    )
    held = _reminder(officer, Reminder.Kind.DUE, a, in_digest=True)
    _reminder(officer, Reminder.Kind.FOLLOW_UP, snoozed, in_digest=True)
    later = _reminder(
        officer, Reminder.Kind.OVERDUE, a, in_digest=True, slot=TODAY + dt.timedelta(1)
    )
    Reminder.objects.filter(pk=later.pk).update(send_after=NOW + dt.timedelta(days=1))
    digest = _reminder(officer, Reminder.Kind.DAILY_DIGEST)
    message, bundled = build_message(reminder=digest, now=NOW)
    assert bundled == [held.pk]
    assert "A-1" in message.body and "S-1" not in message.body
    assert message.subject.startswith("1 reminder for ")


def test_an_empty_digest_is_not_sent(officer):
    assert build_message(reminder=_reminder(officer, Reminder.Kind.DAILY_DIGEST), now=NOW) == (
        None,
        [],
    )


def test_the_weekly_digest_lists_the_managers_team_overdue_items_only():
    boss = UserFactory(username="boss")
    boss.groups.add(Group.objects.get_or_create(name=Role.MANAGER)[0])
    mine, theirs = UserFactory(username="mine"), UserFactory(username="theirs")
    other_boss = UserFactory(username="other-boss")
    Profile.objects.filter(user=mine).update(line_manager=boss)
    Profile.objects.filter(user=theirs).update(line_manager=other_boss)
    CommitmentFactory(owner=mine, reference="MINE-LATE", due_date=TODAY - dt.timedelta(2))
    CommitmentFactory(owner=mine, reference="MINE-SOON", due_date=TODAY + dt.timedelta(2))
    CommitmentFactory(owner=theirs, reference="THEIRS-LATE", due_date=TODAY - dt.timedelta(2))
    message, _ = build_message(reminder=_reminder(boss, Reminder.Kind.WEEKLY_DIGEST), now=NOW)
    assert "MINE-LATE" in message.body
    assert "MINE-SOON" not in message.body and "THEIRS-LATE" not in message.body
    assert message.subject == "Weekly digest: 1 overdue commitment"
