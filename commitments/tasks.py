"""Celery tasks: thin, take ids, call services. Beat triggers only `sweep_reminders`
(settings.CELERY_BEAT_SCHEDULE); the sweep queues one `send_reminder` per due reminder."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from .services import reminders, webhooks


@shared_task(name="commitments.tasks.sweep_reminders", ignore_result=True)
def sweep_reminders() -> dict:
    result = reminders.reminders_sweep()
    return {"created": result.created, "queued": len(result.queued)}


@shared_task(name="commitments.tasks.send_reminder", bind=True, ignore_result=True)
def send_reminder(self, reminder_id: int) -> str:
    outcome = reminders.reminder_send(reminder_id=reminder_id)
    if outcome.status == "retry":
        # The row is already back to pending with its new time; this is a shortcut so the
        # retry does not wait for the next sweep. Never longer than the broker's
        # visibility timeout (Redis would redeliver the countdown message early).
        limit = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] - 60
        countdown = max(1, min(outcome.retry_in, limit))
        reminders._enqueue_later(reminder_id, countdown=countdown)
    return outcome.status


@shared_task(name="commitments.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    outcome = webhooks.webhook_send(delivery_id=delivery_id)
    if outcome.status == "retry":
        # The row already holds its next time; this only saves waiting for the dispatch.
        limit = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] - 60
        webhooks.enqueue_later(delivery_id, countdown=max(1, min(outcome.retry_in, limit)))
    return outcome.status


@shared_task(name="commitments.tasks.dispatch_webhooks", ignore_result=True)
def dispatch_webhooks() -> int:
    from django.db import transaction

    with transaction.atomic():
        return len(webhooks.webhooks_dispatch())
