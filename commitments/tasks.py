"""Celery tasks: thin, take ids, call services. Beat triggers only `sweep_reminders`
(settings.CELERY_BEAT_SCHEDULE); the sweep queues `send_reminders` with batches of due
reminder ids (by name: commitments.services.reminders.delivery.SEND_BATCH_TASK), and a
retry comes back as one `send_reminder` (SEND_TASK)."""

from __future__ import annotations

from celery import shared_task

from .services import reminders, webhooks


@shared_task(name="commitments.tasks.sweep_reminders", ignore_result=True)
def sweep_reminders(incremental: bool = False) -> dict:
    # Beat asks for the incremental sweep (settings.CELERY_BEAT_SCHEDULE); a worker's
    # start and a manual call plan everything.
    result = reminders.reminders_sweep(incremental=incremental)
    return {"created": result.created, "queued": len(result.queued)}


@shared_task(name="commitments.tasks.send_reminder", ignore_result=True)
def send_reminder(reminder_id: int) -> str:
    return reminders.reminder_deliver(reminder_id=reminder_id).status


@shared_task(name="commitments.tasks.send_reminders", ignore_result=True)
def send_reminders(reminder_ids: list[int]) -> list[str]:
    outcomes = reminders.reminders_deliver_batch(reminder_ids=list(reminder_ids))
    return [outcome.status for outcome in outcomes]


@shared_task(name="commitments.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    return webhooks.webhook_deliver(delivery_id=delivery_id).status


@shared_task(name="commitments.tasks.dispatch_webhooks", ignore_result=True)
def dispatch_webhooks() -> int:
    from django.db import transaction

    with transaction.atomic():
        return len(webhooks.webhooks_dispatch())
