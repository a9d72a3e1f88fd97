"""Celery tasks: thin, take ids, call services. Beat triggers only `sweep_reminders`
(settings.CELERY_BEAT_SCHEDULE); the sweep queues one `send_reminder` per due reminder
(by name: commitments.services.reminders.delivery.SEND_TASK)."""

from __future__ import annotations

from celery import shared_task

from .services import reminders


@shared_task(name="commitments.tasks.sweep_reminders", ignore_result=True)
def sweep_reminders() -> dict:
    result = reminders.reminders_sweep()
    return {"created": result.created, "queued": len(result.queued)}


@shared_task(name="commitments.tasks.send_reminder", ignore_result=True)
def send_reminder(reminder_id: int) -> str:
    return reminders.reminder_deliver(reminder_id=reminder_id).status
