"""The Celery tasks: thin, ids in, a service call, and the send task's retry queued by name."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import time_machine
from django.core import mail

from commitments.models import Reminder
from commitments.services.reminders.delivery import SEND_TASK
from commitments.tasks import send_reminder, sweep_reminders
from tracker.celery import app

from .factories import CommitmentFactory

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2025, 6, 10, 9, tzinfo=dt.UTC)


@pytest.fixture
def published(monkeypatch):
    """What the services hand the broker: (task name, args, countdown) per message."""
    sent: list[tuple[str, list, int | None]] = []

    def send_task(name, args=None, countdown=None, **options):
        sent.append((name, args, countdown))

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connecting to it is refused


def test_sweep_task_writes_the_outbox_and_queues_each_due_reminder_by_id(officer, published):
    CommitmentFactory(owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        counts = sweep_reminders()
    (reminder,) = Reminder.objects.all()
    assert counts == {"created": 1, "queued": 1}
    assert published == [(SEND_TASK, [reminder.pk], None)]
    assert send_reminder.name == SEND_TASK  # the name the services queue is the task's


def test_send_task_sends_once_and_a_second_delivery_sends_nothing(officer, published):
    CommitmentFactory(owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        sweep_reminders()
        reminder_id = published[0][1][0]
        assert send_reminder(reminder_id) == "sent"
        assert send_reminder(reminder_id) == "skipped"
    assert len(mail.outbox) == 1
    assert Reminder.objects.get().state == Reminder.State.SENT
    assert len(published) == 1  # no retry queued for a sent reminder


def test_send_task_queues_its_retry_no_later_than_the_broker_would_redeliver(
    officer, published, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()
    settings.TRACKER_REMINDER_RETRY_SECONDS = 10 * 3600  # longer than the visibility timeout
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CommitmentFactory(owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        sweep_reminders()
        reminder_id = published[0][1][0]
        assert send_reminder(reminder_id) == "retry"
    assert published[1:] == [(SEND_TASK, [reminder_id], 3600 - 60)]
    row = Reminder.objects.get()
    assert row.state == Reminder.State.PENDING and row.sent_at is None
    assert mail.outbox == []


def test_send_task_survives_a_broker_that_refuses_the_retry(officer, monkeypatch, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", broker_down)
    CommitmentFactory(owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        assert sweep_reminders() == {"created": 1, "queued": 1}
        row = Reminder.objects.get()
        assert row.queued_at is None  # the next sweep queues it again at once
        assert send_reminder(row.pk) == "retry"  # the row holds the retry; nothing raised
    assert Reminder.objects.get().state == Reminder.State.PENDING
