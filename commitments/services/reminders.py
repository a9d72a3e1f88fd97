"""Reminders and escalations: the policy, the sweep that fills the outbox, and the send.

How it fits together (docs/reminders.md has the long version):

- `reminders_sweep` runs from beat every few minutes. It finds what is due through indexed
  columns (`due_date`, `next_follow_up_at`) in a constant number of queries, and writes
  `Reminder` rows in bulk. Each row has a unique key (commitment, recipient, kind, slot),
  so a second sweep, or two at once, writes nothing new. It then queues a send task for
  every pending row whose time has come and that was not queued in the last few minutes.
- `reminder_send` (called by the task with an id) claims the row with a conditional
  UPDATE (pending -> sending, with a lease), sends, and marks it sent with the Message-ID.
  A claim whose lease ran out can be taken again; SMTP errors retry with backoff and end
  as `failed` after TRACKER_REMINDER_MAX_ATTEMPTS.
- `reminders_void_stale` is called by the commitment services inside their transaction:
  a moved due date or follow-up date, a new owner or a close voids pending reminders.

All times are UTC; a reminder's `slot` is a calendar date and its `send_after` is the
recipient's working morning for that date, computed with zoneinfo, so a daylight-saving
change moves the hour but can never add or remove a day.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..models import (
    TERMINAL_STATUSES,
    Commitment,
    Profile,
    Reminder,
    Role,
    WebhookEvent,
    today_local,
)
from .heartbeats import SWEEP_HEARTBEAT, heartbeat_record

logger = logging.getLogger(__name__)
User = get_user_model()
UTC = dt.UTC
Kind = Reminder.Kind
State = Reminder.State

# Kinds that go to the owner and are planned from the due date.
DUE_KINDS = (Kind.BEFORE_DUE, Kind.DUE, Kind.OVERDUE)
# Overdue reminders stop after a year; older items are for the managers' digest.
_OVERDUE_HORIZON_DAYS = 366


# --- Policy: when a reminder goes out ---------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """The parts of a recipient's profile the policy needs (defaults for no profile)."""

    zone: str = "UTC"
    working_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    morning_hour: int = 8
    daily_digest: bool = False
    line_manager_id: int | None = None

    @classmethod
    def of(cls, profile: Profile | None) -> Schedule:
        if profile is None:
            return cls()
        return cls(
            zone=profile.time_zone,
            working_days=frozenset(profile.working_days or [1, 2, 3, 4, 5]),
            morning_hour=profile.morning_hour,
            daily_digest=profile.daily_digest,
            line_manager_id=profile.line_manager_id,
        )


def _zone(schedule: Schedule):
    import zoneinfo

    return zoneinfo.ZoneInfo(schedule.zone)


def morning_of(*, day: dt.date, schedule: Schedule) -> dt.datetime:
    """The recipient's reminder hour on `day`, in UTC.

    zoneinfo resolves a wall time that does not exist (spring forward) or exists twice
    (fall back) to one instant (fold=0), so each calendar day has exactly one morning.
    """
    local = dt.datetime.combine(day, dt.time(schedule.morning_hour), tzinfo=_zone(schedule))
    return local.astimezone(UTC)


def send_time(
    *, slot: dt.date, schedule: Schedule, now: dt.datetime, earlier: bool = False
) -> dt.datetime:
    """When a reminder for calendar day `slot` goes out to a recipient.

    On the slot's working morning in their zone; a slot on a day off moves to the working
    day before it (`earlier`, for warnings before a due date) or after it. If that morning
    is more than TRACKER_REMINDER_WINDOW_HOURS gone, it waits for the next working morning
    after `now` rather than arrive at night.
    """
    if settings.TRACKER_REMINDER_ANY_HOUR:
        # The demo's and a trial's setting: no working mornings or days off, a reminder
        # goes out as soon as its day has begun in the recipient's zone.
        return dt.datetime.combine(slot, dt.time(0), tzinfo=_zone(schedule)).astimezone(UTC)
    step = dt.timedelta(days=-1 if earlier else 1)
    day = slot
    for _ in range(7):
        if day.isoweekday() in schedule.working_days:
            break
        day += step
    at = morning_of(day=day, schedule=schedule)
    window = dt.timedelta(hours=settings.TRACKER_REMINDER_WINDOW_HOURS)
    if at + window >= now:
        return at
    day = now.astimezone(_zone(schedule)).date()
    for _ in range(8):
        if day.isoweekday() in schedule.working_days:
            at = morning_of(day=day, schedule=schedule)
            if at + window >= now:
                return at
        day += dt.timedelta(days=1)
    return at


def _window(today: dt.date) -> list[dt.date]:
    """The slot dates one sweep considers: a few days back (catch-up) and tomorrow.

    Tomorrow, because a recipient east of the tracker's zone has their morning while the
    tracker's date is still today. The window stays shorter than a week so that one
    commitment has at most one overdue slot in it.
    """
    back = max(0, min(settings.TRACKER_REMINDER_CATCH_UP_DAYS, 4))
    return [today + dt.timedelta(days=d) for d in range(-back, 2)]


# --- The sweep --------------------------------------------------------------------------


@dataclass
class SweepResult:
    """`created`: rows actually written (the unique key drops the rest); `by_kind`: what
    the plan found, per kind; `queued`: ids of the reminders queued for sending."""

    created: int = 0
    queued: list[int] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)


# A planned outbox row: the Reminder fields the sweep sets, as a plain dict (tens of
# thousands of model instances would cost the sweep more than the database does).
Row = dict


@dataclass
class _Planned:
    rows: list[Row] = field(default_factory=list)

    def add(self, **values) -> None:
        self.rows.append(values)


def _due_candidates(
    *,
    kind: str,
    pairs: list[tuple[dt.date, dt.date, int]],
    window: list[dt.date],
    base,
    to_owner: bool = True,
) -> list[tuple[int, int, dt.date, dt.date, int]]:
    """Commitments with a due date in `pairs` and no reminder of `kind` for it yet.

    `pairs` lists (due date, slot, step). The window is shorter than the spacing of the
    policy's steps, so a due date has one slot in it: "a reminder of this kind about this
    due date with a slot in the window" is the unique key, without computing the slot in
    SQL. Returns (commitment, owner, due date, slot, step) rows.
    """
    if not pairs:
        return []
    by_due = {due: (slot, step) for due, slot, step in pairs}
    # A voided reminder does not count: it was voided because the commitment changed, so
    # if the change is undone (a due date set back) the reminder is due again.
    existing = Reminder.objects.filter(
        commitment=OuterRef("pk"), kind=kind, about=OuterRef("due_date"), slot__in=window
    ).exclude(state=State.VOID)
    if to_owner:
        existing = existing.filter(recipient=OuterRef("owner_id"))
    found = (
        base.filter(due_date__in=list(by_due))
        .filter(~Exists(existing))
        .values_list("pk", "owner_id", "due_date")
    )
    return [(pk, owner, due, *by_due[due]) for pk, owner, due in found]


def _plan(*, now: dt.datetime, commitment_ids: Iterable[int] | None = None) -> list[Row]:
    """The reminders that are due and not yet in the outbox (a constant number of queries)."""
    today = today_local(now)
    window = _window(today)
    base = Commitment.objects.open().filter(owner__isnull=False)
    if commitment_ids is not None:
        base = base.filter(pk__in=list(commitment_ids))

    before = [
        (w + dt.timedelta(days=days), w, -days)
        for w in window
        for days in settings.TRACKER_REMINDER_BEFORE_DUE_DAYS
        # A warning caught up on the due date or later is no warning: the due and
        # overdue reminders take over.
        if w + dt.timedelta(days=days) > today
    ]
    on_due = [(w, w, 0) for w in window]
    every = settings.TRACKER_REMINDER_OVERDUE_EVERY_DAYS
    overdue = [
        (w - dt.timedelta(days=days), w, days)
        for w in window
        for days in range(every, _OVERDUE_HORIZON_DAYS, every)
    ]
    escalations = [
        (w - dt.timedelta(days=days), w, days)
        for w in window
        for days in settings.TRACKER_ESCALATION_DAYS
    ]
    found = {
        Kind.BEFORE_DUE: _due_candidates(
            kind=Kind.BEFORE_DUE, pairs=before, window=window, base=base
        ),
        Kind.DUE: _due_candidates(kind=Kind.DUE, pairs=on_due, window=window, base=base),
        Kind.OVERDUE: _due_candidates(kind=Kind.OVERDUE, pairs=overdue, window=window, base=base),
        Kind.ESCALATION: _due_candidates(
            kind=Kind.ESCALATION, pairs=escalations, window=window, base=base, to_owner=False
        ),
    }

    # Follow-up requests: the follow-up time has passed (or passes by tomorrow, for zones
    # ahead), within the catch-up window, or a snooze just ended over a passed one.
    back = now - dt.timedelta(days=window[-1].toordinal() - window[0].toordinal())
    follow_slot = TruncDate("next_follow_up_at", tzinfo=UTC)
    follow = list(
        base.filter(
            Q(next_follow_up_at__gte=back, next_follow_up_at__lte=now + dt.timedelta(days=1))
            | Q(snoozed_until__gte=window[0], snoozed_until__lte=today, next_follow_up_at__lte=now)
        )
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=today))
        .annotate(r_slot=follow_slot)
        .filter(
            ~Exists(
                Reminder.objects.filter(
                    commitment=OuterRef("pk"),
                    recipient=OuterRef("owner_id"),
                    kind=Kind.FOLLOW_UP,
                    slot=OuterRef("r_slot"),
                ).exclude(state=State.VOID)
            )
        )
        .values_list("pk", "owner_id", "next_follow_up_at", "r_slot")
    )

    # Who gets what, and when: profiles of everyone involved, and the managers.
    owner_ids = {row[1] for rows in found.values() for row in rows} | {r[1] for r in follow}
    managers = list(
        User.objects.filter(groups__name=Role.MANAGER, is_active=True)
        .exclude(email="")
        .values_list("pk", flat=True)
    )
    # Owners, managers, and the owners' line managers (who need not be in "Managers").
    users = dict(
        User.objects.filter(
            Q(pk__in=owner_ids | set(managers)) | Q(reports__user_id__in=owner_ids),
            is_active=True,
        )
        .exclude(email="")
        .values_list("pk", "email")
        .distinct()
    )
    schedules = {p.user_id: Schedule.of(p) for p in Profile.objects.filter(user_id__in=list(users))}

    def schedule(user_id: int) -> Schedule:
        return schedules.get(user_id) or Schedule()

    # Thousands of rows share a handful of (recipient, slot) pairs: compute each time once.
    times: dict[tuple, dt.datetime] = {}

    def when(user_id: int, slot: dt.date, earlier: bool = False) -> dt.datetime:
        key = (user_id, slot, earlier)
        if key not in times:
            times[key] = send_time(slot=slot, schedule=schedule(user_id), now=now, earlier=earlier)
        return times[key]

    planned = _Planned()
    for kind in DUE_KINDS:
        for pk, owner_id, due, slot, step in found[kind]:
            if owner_id not in users:
                continue
            sched = schedule(owner_id)
            planned.add(
                commitment_id=pk,
                recipient_id=owner_id,
                kind=kind,
                slot=slot,
                about=due,
                step=step,
                in_digest=sched.daily_digest,
                send_after=when(owner_id, slot, earlier=kind == Kind.BEFORE_DUE),
                created_at=now,
            )
    for pk, owner_id, due, slot, step in found[Kind.ESCALATION]:
        line_manager = schedule(owner_id).line_manager_id
        to = [line_manager] if line_manager in users else managers
        for manager_id in to:
            planned.add(
                commitment_id=pk,
                recipient_id=manager_id,
                kind=Kind.ESCALATION,
                slot=slot,
                about=due,
                step=step,
                send_after=when(manager_id, slot),
                created_at=now,
            )
    for pk, owner_id, follow_up_at, slot in follow:
        if owner_id not in users:
            continue
        sched = schedule(owner_id)
        # Asked once the follow-up time has passed, in the owner's working hours.
        local_day = follow_up_at.astimezone(_zone(sched)).date()
        later = max(now, follow_up_at)
        planned.add(
            commitment_id=pk,
            recipient_id=owner_id,
            kind=Kind.FOLLOW_UP,
            slot=slot,
            about=slot,
            in_digest=sched.daily_digest,
            send_after=max(follow_up_at, send_time(slot=local_day, schedule=sched, now=later)),
            created_at=now,
        )
    if commitment_ids is None:
        planned.rows.extend(_plan_weekly_digests(now=now, managers=managers, schedule=schedule))
    return planned.rows


def _plan_weekly_digests(*, now: dt.datetime, managers: list[int], schedule) -> list[Row]:
    """One weekly digest per manager, slot = the Monday of their current week."""
    rows = []
    for manager_id in managers:
        sched = schedule(manager_id)
        local_today = now.astimezone(_zone(sched)).date()
        monday = local_today - dt.timedelta(days=local_today.isoweekday() - 1)
        rows.append(
            Row(
                recipient_id=manager_id,
                kind=Kind.WEEKLY_DIGEST,
                slot=monday,
                send_after=send_time(slot=monday, schedule=sched, now=now),
                created_at=now,
            )
        )
    return rows


def _plan_daily_digests(*, now: dt.datetime) -> list[Row]:
    """A daily digest for each officer who has held reminders whose time has come."""
    held = (
        Reminder.objects.filter(state=State.PENDING, in_digest=True, send_after__lte=now)
        # No digest for snoozed follow-ups alone (the digest would leave them out).
        .without_snoozed_follow_ups(today_local(now))
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    rows = []
    for profile in Profile.objects.filter(user_id__in=held):
        sched = Schedule.of(profile)
        day = now.astimezone(_zone(sched)).date()
        rows.append(
            Row(
                recipient_id=profile.user_id,
                kind=Kind.DAILY_DIGEST,
                slot=day,
                send_after=send_time(slot=day, schedule=sched, now=now),
                created_at=now,
            )
        )
    return rows


def _dispatch(*, now: dt.datetime) -> list[int]:
    """Mark due reminders queued and return their ids, atomically.

    Due: pending and its time has come, and either never queued or queued more than
    TRACKER_REMINDER_REQUEUE_SECONDS ago (the broker lost it or was down); or claimed by
    a worker whose lease ran out. The conditions are on the UPDATE itself, so two sweeps
    at once queue disjoint sets. Follow-up requests of a snoozed commitment are held.
    """
    stale = now - dt.timedelta(seconds=settings.TRACKER_REMINDER_REQUEUE_SECONDS)
    table = Reminder._meta.db_table
    commitments = Commitment._meta.db_table
    sql = f"""
        UPDATE {table} SET queued_at = %s
        WHERE in_digest = %s
          AND (queued_at IS NULL OR queued_at < %s)
          AND (
            (state = %s AND send_after <= %s)
            OR (state = %s AND lease_until < %s)
          )
          AND NOT (
            kind = %s AND commitment_id IN (
              SELECT id FROM {commitments} WHERE snoozed_until > %s
            )
          )
        RETURNING id
    """  # noqa: S608 (table names come from the models, values are parameters)
    params = [
        now,
        False,
        stale,
        State.PENDING,
        now,
        State.SENDING,
        now,
        Kind.FOLLOW_UP,
        today_local(now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def _enqueue(ids: list[int]) -> None:
    """Queue send tasks; never raise. The broker being down must not fail a request or a
    sweep: the rows stay pending and the next sweep queues them again."""
    if not ids:
        return
    from ..tasks import send_reminder

    try:
        for reminder_id in ids:
            send_reminder.apply_async(args=[reminder_id], retry=False)
    except Exception:
        logger.warning(
            "could not queue %d reminder(s); the sweep will queue them again",
            len(ids),
            exc_info=True,
        )
        # Forget the mark so the next sweep does not wait out the re-queue delay.
        Reminder.objects.filter(pk__in=ids, state=State.PENDING).update(queued_at=None)


def _enqueue_later(reminder_id: int, *, countdown: int) -> None:
    from ..tasks import send_reminder

    try:
        send_reminder.apply_async(args=[reminder_id], countdown=countdown, retry=False)
    except Exception:
        logger.warning("could not queue a retry of reminder %s; the sweep will", reminder_id)


_INSERT_COLUMNS = (
    ("commitment_id", "bigint"),
    ("recipient_id", "bigint"),
    ("kind", "varchar"),
    ("slot", "date"),
    ("about", "date"),
    ("step", "smallint"),
    ("in_digest", "boolean"),
    ("state", "varchar"),
    ("send_after", "timestamptz"),
    ("attempts", "smallint"),
    ("message_id", "varchar"),
    ("last_error", "text"),
    ("created_at", "timestamptz"),
)


def _insert(rows: list[Row]) -> int:
    """Insert outbox rows, skipping any whose unique key exists; return how many were new.

    On PostgreSQL one INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING: a
    single statement whatever the number of rows, and far less Python than bulk_create.
    """
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        before = Reminder.objects.count()
        Reminder.objects.bulk_create([Reminder(**row) for row in rows], ignore_conflicts=True)
        return Reminder.objects.count() - before
    names = ", ".join(name for name, _ in _INSERT_COLUMNS)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _INSERT_COLUMNS)
    sql = (
        f"INSERT INTO {Reminder._meta.db_table} ({names}) "  # noqa: S608 (names from code)
        f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
    )
    defaults = {
        "commitment_id": None,
        "about": None,
        "step": 0,
        "in_digest": False,
        "state": State.PENDING,
        "attempts": 0,
        "message_id": "",
        "last_error": "",
    }
    params = [[row.get(name, defaults.get(name)) for row in rows] for name, _ in _INSERT_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def reminders_sweep(*, now: dt.datetime | None = None, dry_run: bool = False) -> SweepResult:
    """Write every reminder that is due into the outbox and queue the due ones.

    One transaction; the send tasks are queued after it commits. With `dry_run` the same
    work is done and rolled back, so the result says what would be queued.
    """
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        rows = _plan(now=now)
        result.created = _insert(rows)
        digests = _plan_daily_digests(now=now)
        result.created += _insert(digests)
        for row in rows + digests:
            result.by_kind[row["kind"]] = result.by_kind.get(row["kind"], 0) + 1
        result.queued = _dispatch(now=now)
        _record_webhook_events(rows)
        if dry_run:
            transaction.set_rollback(True)
        else:
            # Wall-clock time, not `now` (which a caller may set): /readyz asks whether a
            # sweep really ran lately.
            heartbeat_record(name=SWEEP_HEARTBEAT)
            ids = result.queued
            transaction.on_commit(lambda: _enqueue(ids))
    return result


def _record_webhook_events(rows: list[Row]) -> None:
    """Overdue and escalation reminders planned by this sweep are webhook events too
    (once per commitment and step, whatever the number of recipients). A constant
    number of queries."""
    from .webhooks import webhook_events_record_many

    events = {Kind.OVERDUE: WebhookEvent.OVERDUE, Kind.ESCALATION: WebhookEvent.ESCALATED}
    wanted = {(r["kind"], r["commitment_id"], r.get("step")) for r in rows if r["kind"] in events}
    if not wanted:
        return
    by_id = Commitment.objects.in_bulk({pk for _kind, pk, _step in wanted})
    webhook_events_record_many(
        items=[
            (events[kind], by_id[pk], {"days_overdue": step})
            for kind, pk, step in sorted(wanted, key=lambda w: (w[1], w[0], w[2] or 0))
        ]
    )


# --- Voiding ------------------------------------------------------------------------------


def _stale_q(commitment: Commitment) -> Q:
    """Pending reminders of `commitment` that no longer match it."""
    if commitment.status in TERMINAL_STATUSES:
        return Q()
    stale = Q(kind__in=(*DUE_KINDS, Kind.ESCALATION)) & (
        Q(about__isnull=True) | ~Q(about=commitment.due_date) if commitment.due_date else Q()
    )
    follow = commitment.next_follow_up_at
    stale |= Q(kind=Kind.FOLLOW_UP) & (~Q(slot=follow.astimezone(UTC).date()) if follow else Q())
    owner_kinds = Q(kind__in=(*DUE_KINDS, Kind.FOLLOW_UP))
    stale |= owner_kinds & ~Q(recipient_id=commitment.owner_id or 0)
    return stale


def reminders_void_stale(*, commitment: Commitment) -> int:
    """Void pending reminders for dates the commitment no longer has, for an owner it
    no longer has, or all of them once it is closed. Call inside the writer's transaction.

    Reminders already claimed by a worker are left alone; the send re-checks before it
    sends (see `reminder_send`).
    """
    return (
        Reminder.objects.filter(commitment_id=commitment.pk, state=State.PENDING)
        .filter(_stale_q(commitment))
        .update(state=State.VOID, lease_until=None)
    )


def reminders_void_stale_many(*, commitments: Iterable[Commitment]) -> int:
    """reminders_void_stale for many commitments with the same rule (_stale_q): one query
    to find which have pending reminders, then one UPDATE voiding the stale ones."""
    by_id = {c.pk: c for c in commitments}
    if not by_id:
        return 0
    pending = set(
        Reminder.objects.filter(commitment_id__in=by_id, state=State.PENDING)
        .values_list("commitment_id", flat=True)
        .distinct()
    )
    ids = sorted(pending)
    # One statement on PostgreSQL; on SQLite, chunks keep the parameters (about 8 per
    # commitment) under its limit of 999.
    size = len(ids) if connection.features.max_query_params is None else 100
    voided = 0
    for start in range(0, len(ids), size or 1):
        stale = reduce(
            operator.or_,
            (Q(commitment_id=pk) & _stale_q(by_id[pk]) for pk in ids[start : start + size]),
        )
        voided += (
            Reminder.objects.filter(state=State.PENDING)
            .filter(stale)
            .update(state=State.VOID, lease_until=None)
        )
    return voided


def _is_stale(reminder: Reminder) -> bool:
    if reminder.commitment_id is None:
        return False
    return Reminder.objects.filter(pk=reminder.pk).filter(_stale_q(reminder.commitment)).exists()


# --- Claim and send -----------------------------------------------------------------------


def reminder_claim(*, reminder_id: int, now: dt.datetime | None = None) -> dt.datetime | None:
    """Take a reminder for sending: pending (and due) -> sending, or a sending one whose
    lease ran out. Returns the lease (the claim's token) or None when someone else has it,
    it was sent, voided, or is not due yet. A conditional UPDATE, so two workers can never
    both hold it."""
    now = now or timezone.now()
    lease = now + dt.timedelta(seconds=settings.TRACKER_REMINDER_LEASE_SECONDS)
    from django.db.models import F

    claimed = (
        Reminder.objects.filter(pk=reminder_id, in_digest=False)
        .filter(
            Q(state=State.PENDING, send_after__lte=now)
            | Q(state=State.SENDING, lease_until__lt=now)
        )
        .update(state=State.SENDING, lease_until=lease, attempts=F("attempts") + 1)
    )
    return lease if claimed else None


def message_id_for(reminder: Reminder) -> str:
    """The same Message-ID every time this reminder is sent, so a mail system that sees
    it twice (the one window where that can happen) can tell it is the same message."""
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<reminder-{reminder.pk}.{reminder.kind}.{reminder.slot:%Y%m%d}@{domain}>"


def _finish(reminder_id: int, lease: dt.datetime, **values) -> bool:
    return bool(
        Reminder.objects.filter(pk=reminder_id, state=State.SENDING, lease_until=lease).update(
            **values
        )
    )


@dataclass
class SendOutcome:
    status: str  # sent, skipped, void, held, retry, failed
    retry_in: int = 0


def reminder_send(*, reminder_id: int, now: dt.datetime | None = None) -> SendOutcome:
    """Claim, render, send and record one reminder. Safe to call twice for the same id."""
    from ..emails import build_message

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
    if commitment is not None and _is_stale(reminder):
        _finish(reminder_id, lease, state=State.VOID, lease_until=None)
        return SendOutcome("void")
    if (
        reminder.kind == Kind.FOLLOW_UP
        and commitment.snoozed_until
        and commitment.snoozed_until > today_local(now)
    ):
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
        _finish(
            reminder_id,
            lease,
            state=State.PENDING,
            lease_until=None,
            send_after=now + dt.timedelta(seconds=delay),
            queued_at=now,
            last_error=error,
        )
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


# --- Reads ------------------------------------------------------------------------------


def reminders_for_timeline(*, commitment: Commitment):
    """The commitment's reminders for its timeline: sent, pending and failed (not void)."""
    return Reminder.objects.for_timeline(commitment)
