"""Delivery: claim one reminder, render it, send it, record the outcome.

`reminder_send` (called by the task with an id) claims the row with a conditional UPDATE
(pending -> sending, with a lease), sends, and marks it sent with the Message-ID. A claim
whose lease ran out can be taken again; SMTP errors retry with backoff and end as `failed`
after TRACKER_REMINDER_MAX_ATTEMPTS.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ...emails import build_message
from ...models import Reminder, claimable_q, today_local
from ..outbox import outbox_finish, outbox_retry
from ..queueing import retry_countdown, task_queue
from .voiding import reminder_is_stale

logger = logging.getLogger(__name__)
State = Reminder.State

# The task is queued by name: the tasks module imports the services, never the reverse.
SEND_TASK = "commitments.tasks.send_reminder"


def send_task_queue(reminder_id: int, *, countdown: int | None = None) -> None:
    """Queue one send task (ids only). Raises when the broker is down; callers decide."""
    task_queue(SEND_TASK, reminder_id, countdown=countdown)


def reminder_claim(*, reminder_id: int, now: dt.datetime | None = None) -> dt.datetime | None:
    """Take a reminder for sending: pending (and due) -> sending, or a sending one whose
    lease ran out. Returns the lease (the claim's token) or None when someone else has it,
    it was sent, voided, or is not due yet. A conditional UPDATE, so two workers can never
    both hold it."""
    now = now or timezone.now()
    lease = now + dt.timedelta(seconds=settings.TRACKER_REMINDER_LEASE_SECONDS)
    claimed = (
        Reminder.objects.filter(pk=reminder_id, in_digest=False)
        .filter(claimable_q(now))
        .update(state=State.SENDING, lease_until=lease, attempts=F("attempts") + 1)
    )
    return lease if claimed else None


def message_id_for(reminder: Reminder) -> str:
    """The same Message-ID every time this reminder is sent, so a mail system that sees
    it twice (the one window where that can happen) can tell it is the same message."""
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<reminder-{reminder.pk}.{reminder.kind}.{reminder.slot:%Y%m%d}@{domain}>"


def _finish(reminder_id: int, lease: dt.datetime, **values) -> bool:
    return outbox_finish(Reminder, reminder_id, lease, **values)


@dataclass
class SendOutcome:
    status: str  # sent, skipped, void, held, retry, failed
    retry_in: int = 0


def reminder_send(*, reminder_id: int, now: dt.datetime | None = None) -> SendOutcome:
    """Claim, render, send and record one reminder. Safe to call twice for the same id."""
    now = now or timezone.now()
    lease = reminder_claim(reminder_id=reminder_id, now=now)
    if lease is None:
        return SendOutcome("skipped")
    reminder = Reminder.objects.select_related("commitment", "recipient").get(pk=reminder_id)
    if reminder.attempts > settings.TRACKER_REMINDER_MAX_ATTEMPTS:
        # Its workers died holding it this many times: stop trying, show it in the admin.
        _finish(
            reminder_id,
            lease,
            state=State.FAILED,
            lease_until=None,
            last_error=reminder.last_error or "worker lost too many times",
        )
        return SendOutcome("failed")
    commitment = reminder.commitment
    if commitment is not None and reminder_is_stale(reminder):
        _finish(reminder_id, lease, state=State.VOID, lease_until=None)
        return SendOutcome("void")
    if Reminder.objects.filter(pk=reminder_id).held_by_snooze(today_local(now)).exists():
        # Snoozed: hold it, unclaimed, until the snooze ends (the sweep queues it then).
        _finish(reminder_id, lease, state=State.PENDING, lease_until=None, attempts=0)
        return SendOutcome("held")
    bundled: list[int] = []
    try:
        message, bundled = build_message(reminder=reminder, now=now)
        if message is None:
            _finish(reminder_id, lease, state=State.VOID, lease_until=None)
            return SendOutcome("void")
        message.extra_headers["Message-ID"] = message_id_for(reminder)
        with get_connection() as conn:
            conn.send_messages([message])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        logger.warning(
            "reminder %s: send failed (attempt %s): %s", reminder_id, reminder.attempts, error
        )
        if reminder.attempts >= settings.TRACKER_REMINDER_MAX_ATTEMPTS:
            _finish(reminder_id, lease, state=State.FAILED, lease_until=None, last_error=error)
            return SendOutcome("failed")
        delay = settings.TRACKER_REMINDER_RETRY_SECONDS * 2 ** (reminder.attempts - 1)
        again = outbox_retry(model=Reminder, now=now, delay=delay, due_field="send_after")
        _finish(reminder_id, lease, **again, last_error=error)
        return SendOutcome("retry", retry_in=delay)
    # The one window where a duplicate is possible: the mail server has accepted the
    # message and this process dies before the UPDATE below. The lease then runs out and
    # the reminder is sent again, with the same Message-ID.
    sent_at = timezone.now()
    with transaction.atomic():
        if not _finish(
            reminder_id,
            lease,
            state=State.SENT,
            sent_at=sent_at,
            lease_until=None,
            message_id=message_id_for(reminder),
            last_error="",
        ):
            logger.error("reminder %s: lease lost while sending; it may go out twice", reminder_id)
        if bundled:
            Reminder.objects.filter(pk__in=bundled, state=State.PENDING).update(
                state=State.SENT, sent_at=sent_at, message_id=message_id_for(reminder)
            )
    return SendOutcome("sent")


def reminder_deliver(*, reminder_id: int) -> SendOutcome:
    """What the send task does: `reminder_send`, then queue the retry it asks for.

    The row is already back to pending with its new time, so the queued retry is only a
    shortcut that spares waiting for the next sweep; losing it loses nothing. Never longer
    than the broker's visibility timeout (Redis would redeliver the countdown message early).
    """
    outcome = reminder_send(reminder_id=reminder_id)
    if outcome.status == "retry":
        try:
            send_task_queue(reminder_id, countdown=retry_countdown(outcome.retry_in))
        except Exception:
            logger.warning("could not queue a retry of reminder %s; the sweep will", reminder_id)
    return outcome
