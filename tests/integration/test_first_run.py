"""What a newcomer sees in the first minute: a worker that starts sweeps at once, so a
reminder due now arrives without waiting for beat's first interval, at any hour when
TRACKER_REMINDER_ANY_HOUR is on (as `make run` sets it)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from commitments.models import Profile, Reminder

from .test_reminders_delivery import seed_due_today

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_starting_worker_sends_what_is_due_without_a_sweep_call(
    smtp_sink, redis_url, start_worker
):
    seed_due_today(3, owners=1)
    # The owner's morning is still hours away: only the any-hour setting lets it go now.
    later = (timezone.now().hour + 6) % 24
    Profile.objects.update(morning_hour=later, working_days=[1, 2, 3, 4, 5, 6, 7])
    sink, port = smtp_sink

    start_worker(
        redis=redis_url,
        smtp_port=port,
        TRACKER_SWEEP_ON_WORKER_START="1",
        TRACKER_REMINDER_ANY_HOUR="1",
    )

    ids = sink.wait_for(3, timeout=60)
    assert len(ids) == 3 and set(ids.values()) == {1}
    assert Reminder.objects.filter(state=Reminder.State.SENT).count() == 3


def test_without_the_start_sweep_nothing_is_sent(smtp_sink, redis_url, start_worker):
    seed_due_today(2, owners=1)
    sink, port = smtp_sink

    start_worker(redis=redis_url, smtp_port=port, TRACKER_REMINDER_ANY_HOUR="1")

    assert sink.wait_for(1, timeout=8) == {}
    assert not Reminder.objects.exists()
