"""Delivery: claim one reminder, render it, send it, record the outcome.

`reminder_send` claims the row with a conditional UPDATE (pending -> sending, with a
lease), sends, and marks it sent with the Message-ID. A claim whose lease ran out can be
taken again; SMTP errors retry with backoff and end as `failed` after
TRACKER_REMINDER_MAX_ATTEMPTS.

The sweep queues the due reminders in batches of SEND_BATCH ids per task
(`send_tasks_queue`); a batch (`reminders_deliver_batch`) sends through one SMTP
connection, opened once and reopened after a failure, instead of one connection per
email (issue 13). Each reminder is still claimed, sent and recorded on its own, so a
batch that dies half-way leaves the rest to their leases and the next sweep.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from ...emails import build_message, recipient_profile
from ...models import Reminder, claimable_q, today_local
from ..outbox import outbox_finish, outbox_retry
from ..queueing import retry_countdown, task_queue
from .voiding import reminders_stale_ids

logger = logging.getLogger(__name__)
State = Reminder.State

# The tasks are queued by name: the tasks module imports the services, never the reverse.
SEND_TASK = "commitments.tasks.send_reminder"
SEND_BATCH_TASK = "commitments.tasks.send_reminders"
# Ids per batch task: enough to spread a connection's cost, few enough that a batch ends
# well inside one reminder's lease even on a slow relay, and that two workers share a
# sweep's work.
SEND_BATCH = 50


def send_task_queue(reminder_id: int, *, countdown: int | None = None) -> None:
    """Queue one send task (ids only). Raises when the broker is down; callers decide."""
    task_queue(SEND_TASK, reminder_id, countdown=countdown)


def send_tasks_queue(reminder_ids: list[int]) -> None:
    """Queue batch send tasks for these ids, SEND_BATCH per task. Raises when the broker
    is down; callers decide."""
    for start in range(0, len(reminder_ids), SEND_BATCH):
        task_queue(SEND_BATCH_TASK, reminder_ids[start : start + SEND_BATCH])


def reminder_claim(*, reminder_id: int, now: dt.datetime | None = None) -> dt.datetime | None:
    """Take a reminder for sending: pending (and due) -> sending, or a sending one whose
    lease ran out. Returns the lease (the claim's token) or None when someone else has it,
    it was sent, voided, or is not due yet. A conditional UPDATE, so two workers can never
    both hold it."""
    return reminders_claim_many(reminder_ids=[reminder_id], now=now).get(reminder_id)


def reminders_claim_many(
    *, reminder_ids: list[int], now: dt.datetime | None = None
) -> dict[int, dt.datetime]:
    """`reminder_claim` for a batch: one conditional UPDATE ... RETURNING, so it says
    exactly which rows this call took (no other worker can hold any of them). Returns
    {id: lease} for those."""
    if not reminder_ids:
        return {}
    now = now or timezone.now()
    lease = now + dt.timedelta(seconds=settings.TRACKER_REMINDER_LEASE_SECONDS)
    claimable = Reminder.objects.filter(pk__in=reminder_ids, in_digest=False).filter(
        claimable_q(now)
    )
    compiler = claimable.query.get_compiler(connection=db_connection)
    where, params = compiler.compile(claimable.query.where)
    table = db_connection.ops.quote_name(Reminder._meta.db_table)
    sql = (
        f"UPDATE {table} SET state = %s, lease_until = %s, attempts = attempts + 1 "  # noqa: S608 (compiled by the ORM, values are parameters)
        f"WHERE {where} RETURNING id"
    )
    with db_connection.cursor() as cursor:
        # The lease as the ORM writes it: _finish matches it by equality.
        stored = Reminder._meta.get_field("lease_until").get_db_prep_value(
            lease, connection=db_connection
        )
        cursor.execute(sql, [State.SENDING, stored, *params])
        return {row[0]: lease for row in cursor.fetchall()}


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


def reminder_send(
    *, reminder_id: int, now: dt.datetime | None = None, connection=None
) -> SendOutcome:
    """Claim, render, send and record one reminder. Safe to call twice for the same id.
    Sends through `connection` (an open email backend) when given, else a new one."""
    return reminders_send_many(reminder_ids=[reminder_id], now=now, connection=connection)[0]


def reminders_send_many(
    *, reminder_ids: list[int], now: dt.datetime | None = None, connection=None
) -> list[SendOutcome]:
    """`reminder_send` for a batch, in order: one claim, one read and one check of each
    kind for all of them, then each is rendered, sent and recorded on its own (a
    worker that dies mid-batch leaves the rest to their leases). Outcomes in the order
    of `reminder_ids`; a batch that failed to send asks its caller to reconnect."""
    now = now or timezone.now()
    leases = reminders_claim_many(reminder_ids=reminder_ids, now=now)
    rows = Reminder.objects.select_related("commitment", "recipient__profile").in_bulk(list(leases))
    stale = reminders_stale_ids(rows.values())
    held = set(
        Reminder.objects.filter(pk__in=list(rows))
        .held_by_snooze(today_local(now))
        .values_list("pk", flat=True)
    )
    outcomes = []
    for reminder_id in reminder_ids:
        if reminder_id not in leases:
            outcomes.append(SendOutcome("skipped"))
            continue
        outcome = _send_claimed(
            rows[reminder_id],
            leases[reminder_id],
            now=now,
            stale=reminder_id in stale,
            held=reminder_id in held,
            connection=connection,
        )
        outcomes.append(outcome)
        if connection is not None and outcome.status in ("retry", "failed"):
            # The relay may have dropped us: a new connection for the rest.
            _close(connection)
            _open(connection)
    return outcomes


def _send_claimed(
    reminder: Reminder, lease: dt.datetime, *, now, stale: bool, held: bool, connection
) -> SendOutcome:
    reminder_id = reminder.pk
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
    if reminder.commitment is not None and stale:
        _finish(reminder_id, lease, state=State.VOID, lease_until=None)
        return SendOutcome("void")
    if held:
        # Snoozed: hold it, unclaimed, until the snooze ends (the sweep queues it then).
        _finish(reminder_id, lease, state=State.PENDING, lease_until=None, attempts=0)
        return SendOutcome("held")
    bundled: list[int] = []
    try:
        message, bundled = build_message(
            reminder=reminder, now=now, profile=recipient_profile(reminder)
        )
        if message is None:
            _finish(reminder_id, lease, state=State.VOID, lease_until=None)
            return SendOutcome("void")
        message.extra_headers["Message-ID"] = message_id_for(reminder)
        if connection is not None:
            connection.send_messages([message])
        else:
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
    """What the single send task does (retries, redeliveries): a batch of one."""
    return reminders_deliver_batch(reminder_ids=[reminder_id])[0]


def reminders_deliver_batch(*, reminder_ids: list[int]) -> list[SendOutcome]:
    """What the send tasks do: `reminder_send` for each id through one SMTP connection,
    then queue the retries they ask for. After a failed send the connection is closed
    and opened again for the rest (a relay that dropped it fails one email, not all).

    A retry's row is already back to pending with its new time, so the queued retry is
    only a shortcut that spares waiting for the next sweep; losing it loses nothing.
    Never longer than the broker's visibility timeout (Redis would redeliver the
    countdown message early).
    """
    connection = get_connection()
    _open(connection)
    try:
        outcomes = reminders_send_many(reminder_ids=reminder_ids, connection=connection)
    finally:
        _close(connection)
    for reminder_id, outcome in zip(reminder_ids, outcomes, strict=True):
        if outcome.status == "retry":
            try:
                send_task_queue(reminder_id, countdown=retry_countdown(outcome.retry_in))
            except Exception:
                logger.warning(
                    "could not queue a retry of reminder %s; the sweep will", reminder_id
                )
    return outcomes


def _open(connection) -> None:
    # A relay that refuses now fails each send below, which then retries as usual.
    try:
        connection.open()
    except Exception as exc:
        logger.warning("could not open the mail connection: %s: %s", type(exc).__name__, exc)


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # a broken connection is closed anyway; nothing to keep
        logger.debug("closing a broken mail connection", exc_info=True)
