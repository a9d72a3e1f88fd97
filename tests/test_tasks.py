"""The Celery tasks: thin, ids in, a service call, and the send task's retry queued by name."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem

from commitments.emails import build_message
from commitments.models import Reminder
from commitments.services.reminders.delivery import SEND_BATCH, SEND_BATCH_TASK, SEND_TASK
from commitments.tasks import send_reminder, send_reminders, sweep_reminders
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
    assert published == [(SEND_BATCH_TASK, [[reminder.pk]], None)]
    assert send_reminders.name == SEND_BATCH_TASK  # the name the services queue is the task's
    assert send_reminder.name == SEND_TASK  # and the one a retry is queued under


def test_sweep_queues_due_reminders_in_batches_of_ids(officer, published, settings):
    CommitmentFactory.create_batch(SEND_BATCH + 3, owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        assert sweep_reminders()["queued"] == SEND_BATCH + 3
    ids = sorted(Reminder.objects.values_list("pk", flat=True))
    assert [name for name, _args, _countdown in published] == [SEND_BATCH_TASK] * 2
    batches = [args[0] for _name, args, _countdown in published]
    assert [len(b) for b in batches] == [SEND_BATCH, 3]
    assert sorted(batches[0] + batches[1]) == ids  # each id once


class CountingBackend(locmem.EmailBackend):
    """locmem, counting connections opened; the messages named in `fail_for` (by
    subject) raise as a relay dropping the connection would."""

    opened = 0
    fail_for: set[str] = set()

    def open(self):
        type(self).opened += 1
        return True

    def send_messages(self, messages):
        for message in messages:
            if message.subject in self.fail_for:
                self.fail_for.discard(message.subject)
                raise smtplib.SMTPServerDisconnected("connection dropped")
        return super().send_messages(messages)


@pytest.fixture
def counting_backend(settings):
    settings.EMAIL_BACKEND = "tests.test_tasks.CountingBackend"
    CountingBackend.opened = 0
    CountingBackend.fail_for = set()
    return CountingBackend


def test_a_batch_sends_through_one_connection_and_each_reminder_once(
    officer, published, counting_backend
):
    CommitmentFactory.create_batch(5, owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        sweep_reminders()
        (batch,) = [args[0] for _name, args, _countdown in published]
        assert send_reminders(batch) == ["sent"] * 5
        assert send_reminders(batch) == ["skipped"] * 5  # redelivered: nothing twice
    assert counting_backend.opened == 2  # one per batch, not one per email
    assert len(mail.outbox) == 5
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 5
    assert set(Reminder.objects.values_list("state", flat=True)) == {Reminder.State.SENT}


@pytest.mark.parametrize("owners", [2, 6])
def test_a_batch_reads_no_profile_per_email_and_writes_each_in_its_readers_language(
    published, counting_backend, owners
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from .factories import UserFactory

    languages = ["ru", "en"] * (owners // 2)
    for i, language in enumerate(languages):
        user = UserFactory(username=f"reader{i}")
        user.profile.language = language
        user.profile.save()
        CommitmentFactory(owner=user, due_date=NOW.date(), reference=f"R-{i}")
    with time_machine.travel(NOW, tick=False):
        sweep_reminders()
        (batch,) = [args[0] for _name, args, _countdown in published]
        with CaptureQueriesContext(connection) as ctx:
            assert send_reminders(batch) == ["sent"] * owners
    # Each recipient's profile comes with the batch's one read of the rows.
    assert not [q for q in ctx.captured_queries if 'FROM "commitments_profile"' in q["sql"]]
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    for i, language in enumerate(languages):
        subject = subjects[f"reader{i}@example.org"]
        assert ("Срок" in subject) == (language == "ru"), subject


def test_a_dropped_connection_fails_one_email_reconnects_for_the_rest_and_retries_it(
    officer, published, counting_backend, settings
):
    CommitmentFactory.create_batch(4, owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        sweep_reminders()
        (batch,) = [args[0] for _name, args, _countdown in published]
        # Fail exactly the second reminder's email: learn its subject by a dry render.
        second = Reminder.objects.select_related("commitment", "recipient").get(pk=batch[1])
        message, _bundled = build_message(reminder=second, now=NOW)
        counting_backend.fail_for = {message.subject}
        outcomes = send_reminders(batch)
    assert outcomes == ["sent", "retry", "sent", "sent"]
    assert counting_backend.opened == 2  # the first, and the reconnection after the drop
    assert len(mail.outbox) == 3
    retried = Reminder.objects.get(pk=batch[1])
    assert retried.state == Reminder.State.PENDING and retried.sent_at is None
    assert published[-1] == (SEND_TASK, [batch[1]], settings.TRACKER_REMINDER_RETRY_SECONDS)
    # The retry, when it runs, sends it once; the others are not sent again.
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        assert send_reminder(batch[1]) == "sent"
        assert send_reminders(batch) == ["skipped"] * 4
    assert len(mail.outbox) == 4
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 4


def test_send_task_sends_once_and_a_second_delivery_sends_nothing(officer, published):
    CommitmentFactory(owner=officer, due_date=NOW.date())
    with time_machine.travel(NOW, tick=False):
        sweep_reminders()
        (reminder_id,) = published[0][1][0]  # the batch of one
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
        (reminder_id,) = published[0][1][0]  # the batch of one
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
