"""Reminders end to end: a real Celery worker process, a real Redis, a real SMTP sink.

What is counted is what the mail server received (by Message-ID), not what the code
says it did. Time-of-day rules (zones, DST, quiet hours) are proved with the clock held
still in tests/test_reminders.py; here the recipients' morning is the current hour.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from functools import partial

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from commitments import services
from commitments.models import Channel, Commitment, Profile, Reminder, Role
from commitments.services.reminders import message_id_for, reminders_sweep
from tracker.calendars import format_date

from ..factories import UserFactory, bulk_commitments
from .conftest import (
    BASE_DIR,
    assert_twice_only_in_window,
    database_url,
    kill_mid_batch,
    use_broker,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
State = Reminder.State


def _owners(n: int, prefix: str = "officer"):
    officers = Group.objects.get_or_create(name=Role.DESK_OFFICER)[0]
    users = [UserFactory(username=f"{prefix}-{i}") for i in range(n)]
    # Their morning is now, every day a working day: reminders due today go out at once.
    Profile.objects.filter(user__in=users).update(
        morning_hour=timezone.now().hour, working_days=[1, 2, 3, 4, 5, 6, 7], time_zone="UTC"
    )
    for user in users:
        user.groups.add(officers)
    return users


def seed_due_today(n: int, *, owners: int = 5, due: dt.date | None = None) -> list[int]:
    """n open commitments due today (or on `due`), spread over a few owners."""
    users = _owners(owners)
    due = due or timezone.localdate()
    return bulk_commitments(
        n, prefix="INT", due_date=due, each=lambda i: {"owner": users[i % owners]}
    )


def expected_message_ids() -> set[str]:
    return {message_id_for(r) for r in Reminder.objects.exclude(state=State.VOID)}


def test_500_due_reminders_each_arrive_exactly_once(smtp_sink, redis_url, start_worker):
    sink, port = smtp_sink
    seed_due_today(500)
    with use_broker(redis_url):
        result = reminders_sweep()
        assert len(result.queued) == 500
        start_worker(redis=redis_url, smtp_port=port)
        received = sink.wait_for(500)
        assert wait_until(lambda: Reminder.objects.filter(state=State.SENT).count() == 500)
        time.sleep(1)  # room for a late duplicate to show up
    received = sink.message_ids()
    assert set(received) == expected_message_ids()
    assert len(received) == 500
    assert max(received.values()) == 1, "a reminder arrived twice"
    assert not Reminder.objects.exclude(state=State.SENT).exists()


def test_worker_killed_mid_batch_every_reminder_still_arrives_none_twice(
    smtp_sink, redis_url, start_worker, settings
):
    sink, port = smtp_sink
    # A dead worker's claims run out after 5 s; the sweep re-queues what waited 2 s.
    settings.TRACKER_REMINDER_LEASE_SECONDS = 5
    settings.TRACKER_REMINDER_REQUEUE_SECONDS = 2
    seed_due_today(500)
    with use_broker(redis_url):
        assert len(reminders_sweep().queued) == 500
        # The one window where a duplicate cannot be avoided: the mail server accepted the
        # message and the worker died before it marked the row sent. Those rows (and only
        # those) may go out a second time, with the same Message-ID.
        sent = Reminder.objects.filter(state=State.SENT).values_list("message_id", flat=True)
        start = partial(start_worker, redis=redis_url, smtp_port=port)
        window = kill_mid_batch(start, sink.message_ids, sent.all, action=reminders_sweep)
    received = sink.message_ids()
    assert set(received) == expected_message_ids()
    assert_twice_only_in_window(received, window)


def _send_reminders_process(redis: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis}
    return subprocess.Popen(
        [sys.executable, "manage.py", "send_reminders"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_sweeps_at_the_same_moment_create_and_send_nothing_twice(
    smtp_sink, redis_url, start_worker
):
    sink, port = smtp_sink
    seed_due_today(200)
    with use_broker(redis_url):
        start_worker(redis=redis_url, smtp_port=port)
        first, second = _send_reminders_process(redis_url), _send_reminders_process(redis_url)
        outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
        assert [p.returncode for p in (first, second)] == [0, 0], outputs
        queued = [int(o.split(" reminder(s)")[0].rsplit(" ", 1)[1]) for o in outputs]
        assert sum(queued) == 200, outputs  # each row queued by one sweep only
        assert Reminder.objects.count() == 200
        sink.wait_for(200)
        assert wait_until(lambda: Reminder.objects.filter(state=State.SENT).count() == 200)
        time.sleep(1)
    received = sink.message_ids()
    assert len(received) == 200 and max(received.values()) == 1


def test_redis_down_while_officers_edit_then_up_no_edit_lost_reminders_delivered(
    smtp_sink, private_redis, start_worker, settings, caplog
):
    sink, port = smtp_sink
    settings.TRACKER_REMINDER_REQUEUE_SECONDS = 2
    ids = seed_due_today(20, owners=2, due=timezone.localdate() + dt.timedelta(days=30))
    with use_broker(private_redis.url):
        start_worker(redis=private_redis.url, smtp_port=port)
        private_redis.stop()
        owners = {c.pk: c.owner for c in Commitment.objects.filter(pk__in=ids)}
        for pk in ids:
            # The officer moves the due date to today while the broker is down: it succeeds.
            services.commitment_update(
                commitment_id=pk,
                actor=owners[pk],
                channel=Channel.WEB,
                data={"due_date": timezone.localdate()},
            )
        # A sweep in the outage (cron's `send_reminders`, or one beat queued just before)
        # writes the outbox and cannot queue: logged, not raised, nothing lost.
        result = reminders_sweep()
        assert len(result.queued) == 20
        assert "could not queue" in caplog.text
        assert Reminder.objects.filter(state=State.PENDING, queued_at__isnull=True).count() == 20
        assert sink.message_ids() == {}

        private_redis.start()
        assert wait_until(
            lambda: Reminder.objects.filter(state=State.SENT).count() == 20,
            timeout=120,
            every=1,
            action=reminders_sweep,
        )
        time.sleep(1)
    assert (
        Commitment.objects.filter(pk__in=ids, due_date=timezone.localdate(), version=2).count()
        == 20
    )
    received = sink.message_ids()
    assert len(received) == 20 and max(received.values()) == 1


def test_voided_snoozed_and_escalated_reminders_through_a_real_worker(
    smtp_sink, redis_url, start_worker
):
    sink, port = smtp_sink
    today = timezone.localdate()
    moved, snoozed, late = Commitment.objects.filter(pk__in=seed_due_today(3, owners=1)).order_by(
        "pk"
    )
    boss = _owners(1, prefix="manager")[0]
    boss.groups.add(Group.objects.get_or_create(name=Role.MANAGER)[0])
    Commitment.objects.filter(pk=snoozed.pk).update(
        due_date=today + dt.timedelta(days=60),
        next_follow_up_at=timezone.now() - dt.timedelta(hours=1),
    )
    Commitment.objects.filter(pk=late.pk).update(due_date=today - dt.timedelta(days=14))
    services.commitment_snooze(
        commitment_id=snoozed.pk,
        actor=snoozed.owner,
        channel=Channel.WEB,
        until=today + dt.timedelta(days=5),
        reason="Waiting for the ministry's answer",
    )
    with use_broker(redis_url):
        queued = reminders_sweep().queued  # queued while no worker runs yet
        services.commitment_update(
            commitment_id=moved.pk,
            actor=moved.owner,
            channel=Channel.WEB,
            data={"due_date": today + dt.timedelta(days=30)},
        )
        start_worker(redis=redis_url, smtp_port=port)
        sink.wait_for(3, timeout=60)
        reminders_sweep()
        time.sleep(3)
    subjects = sorted(m["Subject"] for m in sink.messages)
    assert subjects == [
        f"Escalation, 14 days overdue: {late.reference}",
        # Issue 15: the date as the reader reads it (English, Gregorian), the count in words.
        f"Overdue since {format_date(today - dt.timedelta(days=14), 'j M Y')}: {late.reference}",
        "Weekly digest: 1 overdue commitment",
    ]
    # moved's "due today" was queued too, then voided by the edit before a worker ran.
    assert len(queued) == 4
    assert Reminder.objects.get(commitment=moved, kind=Reminder.Kind.DUE).state == State.VOID
    assert not Reminder.objects.filter(commitment=snoozed).exists()
    (escalation,) = [m for m in sink.messages if m["Subject"].startswith("Escalation")]
    assert escalation["To"] == boss.email
