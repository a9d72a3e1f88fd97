"""Issue 15 end to end: a reminder to a Dari-speaking officer in Kabul goes through the
real worker and SMTP sink and arrives in Dari, with the Solar Hijri date, sent in their
morning (08:00 Asia/Kabul)."""

from __future__ import annotations

import datetime as dt
import email.header
import zoneinfo

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from commitments.models import Profile, Reminder, Role
from commitments.services.reminders import reminders_sweep

from ..calendar_names import DARI_MONTHS
from ..factories import CommitmentFactory, UserFactory
from .conftest import use_broker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
KABUL = zoneinfo.ZoneInfo("Asia/Kabul")


def _decoded(header: str) -> str:
    return str(email.header.make_header(email.header.decode_header(header)))


def test_a_reminder_reaches_a_dari_officer_in_kabul_in_dari_and_solar_hijri(
    smtp_sink, redis_url, start_worker
):
    import jdatetime

    sink, port = smtp_sink
    user = UserFactory(username="kabul-officer")
    Profile.objects.filter(user=user).update(
        time_zone="Asia/Kabul", working_days=[1, 2, 3, 4, 5, 6, 7], morning_hour=8, language="fa"
    )
    user.groups.add(Group.objects.get_or_create(name=Role.DESK_OFFICER)[0])
    # The latest Kabul morning already past: the sweep runs then, the worker sends now.
    local_now = timezone.now().astimezone(KABUL)
    morning = local_now.replace(hour=8, minute=0, second=0, microsecond=0)
    if morning > local_now:
        morning -= dt.timedelta(days=1)
    due = morning.date() + dt.timedelta(days=1)  # the reminder one day before
    CommitmentFactory(owner=user, reference="KZ-AF-2025-099", due_date=due)
    with use_broker(redis_url):
        queued = reminders_sweep(now=morning.astimezone(dt.UTC)).queued
        assert len(queued) == 1
        start_worker(redis=redis_url, smtp_port=port)
        sink.wait_for(1)
        assert wait_until(
            lambda: Reminder.objects.filter(state=Reminder.State.SENT, recipient=user).exists()
        )
    (message,) = sink.messages
    solar = jdatetime.date.fromgregorian(date=due)
    solar_text = f"{solar.day} {DARI_MONTHS[solar.month - 1]} {solar.year}"
    assert _decoded(message["Subject"]) == f"میعاد {solar_text}: KZ-AF-2025-099"
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode(text.get_content_charset())
    assert f"میعاد KZ-AF-2025-099 در {solar_text} است." in body
    assert "Hello" not in body and "is due" not in body
    sent = Reminder.objects.get(recipient=user, state=Reminder.State.SENT)
    assert sent.send_after.astimezone(KABUL).hour == 8
