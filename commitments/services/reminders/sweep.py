"""The sweep: find what is due, write it into the outbox, queue what may go now.

`reminders_sweep` runs from beat every few minutes. It finds what is due through indexed
columns (`due_date`, `next_follow_up_at`) in a constant number of queries, and writes
`Reminder` rows in bulk. Each row has a unique key (commitment, recipient, kind, slot), so
a second sweep, or two at once, writes nothing new. It then queues a send task for every
pending row whose time has come and that was not queued in the last few minutes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from tracker import postgres

from ...models import (
    ChangeCounter,
    Commitment,
    Profile,
    Reminder,
    Role,
    SweepMark,
    WebhookEvent,
    held_by_snooze_q,
    lease_expired_q,
    pending_due_q,
    snoozed_q,
    today_local,
)
from ..heartbeats import SWEEP_HEARTBEAT, heartbeat_record
from ..webhooks import webhook_events_record_by_id
from .delivery import send_tasks_queue
from .policy import (
    DUE_KINDS,
    OVERDUE_HORIZON_DAYS,
    Schedule,
    send_time,
    slot_window,
    zone_of,
)

logger = logging.getLogger(__name__)
User = get_user_model()
UTC = dt.UTC
Kind = Reminder.Kind
State = Reminder.State


@dataclass
class SweepResult:
    """`created`: rows actually written (the unique key drops the rest); `by_kind`: what
    the plan found, per kind; `queued`: ids of the reminders queued for sending."""

    created: int = 0
    queued: list[int] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)


# A follow-up time this far ahead is planned already (its owner's morning may come first
# in a zone east of the tracker's).
FOLLOW_UP_REACH = dt.timedelta(days=1)


@dataclass(frozen=True)
class Shape:
    """What a planned row shares with many others: everything but its commitment and
    recipient. The 170,000 rows of a first sweep at a million commitments have a few
    thousand shapes (one per recipient, kind and due date), so the plan keeps each shape
    once and each row as three integers, and the INSERT receives three long arrays and
    a short table of shapes instead of nine long arrays (binary arrays of 170,000 values
    cost psycopg ~0.1 s each)."""

    kind: str
    slot: dt.date
    send_after: dt.datetime
    about: dt.date | None = None
    step: int = 0
    in_digest: bool = False
    # Written queued (its time has come and it is not held for a digest): see _insert.
    queued_at: dt.datetime | None = None


@dataclass
class _Planned:
    """The planned outbox rows, column by column: row i is (commitment_ids[i],
    recipient_ids[i], shapes[shape_ids[i]])."""

    now: dt.datetime
    commitment_ids: list[int | None] = field(default_factory=list)
    recipient_ids: list[int] = field(default_factory=list)
    shape_ids: list[int] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    _shape_ids: dict[Shape, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.shape_ids)

    def shape(self, kind: str, slot: dt.date, send_after: dt.datetime, **values) -> int:
        """The number of this shape (kept once)."""
        in_digest = values.get("in_digest", False)
        queued_at = self.now if not in_digest and send_after <= self.now else None
        shape = Shape(kind, slot, send_after, queued_at=queued_at, **values)
        number = self._shape_ids.get(shape)
        if number is None:
            number = self._shape_ids[shape] = len(self.shapes)
            self.shapes.append(shape)
        return number

    def append(self, commitment_id: int | None, recipient_id: int, shape: int) -> None:
        self.commitment_ids.append(commitment_id)
        self.recipient_ids.append(recipient_id)
        self.shape_ids.append(shape)

    def add(
        self,
        commitment_id: int | None,
        recipient_id: int,
        kind: str,
        slot: dt.date,
        send_after: dt.datetime,
        **values,
    ) -> None:
        self.append(commitment_id, recipient_id, self.shape(kind, slot, send_after, **values))

    def rows(self):
        """(commitment id, recipient id, shape) for each row."""
        shapes = self.shapes
        for pk, recipient_id, number in zip(
            self.commitment_ids, self.recipient_ids, self.shape_ids, strict=True
        ):
            yield pk, recipient_id, shapes[number]

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for number, n in Counter(self.shape_ids).items():
            kind = self.shapes[number].kind
            counts[kind] = counts.get(kind, 0) + n
        return counts


def _due_candidates(
    *,
    kind: str,
    pairs: list[tuple[dt.date, dt.date, int]],
    window: list[dt.date],
    base,
    to_owner: bool = True,
) -> _Candidates:
    """Commitments with a due date in `pairs` and no reminder of `kind` for it yet.

    `pairs` lists (due date, slot, step). The window is shorter than the spacing of the
    policy's steps, so a due date has one slot in it: "a reminder of this kind about this
    due date with a slot in the window" is the unique key, without computing the slot in
    SQL.
    """
    by_due = {due: (slot, step) for due, slot, step in pairs}
    if not pairs:
        return _Candidates(by_due, [])
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
    return _Candidates(by_due, list(found))


@dataclass(frozen=True)
class _Candidates:
    """(commitment, owner, due date) rows, and each due date's (slot, step)."""

    by_due: dict[dt.date, tuple[dt.date, int]]
    rows: list[tuple[int, int, dt.date]]


@dataclass(frozen=True)
class _Since:
    """What an incremental plan may skip: commitments unchanged since `change_seq`, and
    follow-up times up to `follow_up_to` (the last plan's reach)."""

    change_seq: int
    follow_up_to: dt.datetime


def _plan(*, now: dt.datetime, since: _Since | None = None) -> tuple[_Planned, _Planned]:
    """The reminders that are due and not yet in the outbox (a constant number of queries).

    With `since`, only what can have become due since the last plan of the same day:
    commitments written after it, and follow-up times that came within reach.

    Returns the commitments' reminders and, apart, the managers' weekly digests (planned
    every time: the unique key keeps one per manager and week).
    """
    today = today_local(now)
    window = slot_window(today)
    # No ORDER BY: the plan reads sets (the default ordering would sort every candidate).
    base = Commitment.objects.plain().open().filter(owner__isnull=False).order_by()
    # The due kinds look only at what changed since the mark; follow-ups also at times
    # that came within reach (in_window below).
    changed = base if since is None else base.filter(change_seq__gt=since.change_seq)

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
        for days in range(every, OVERDUE_HORIZON_DAYS, every)
    ]
    escalations = [
        (w - dt.timedelta(days=days), w, days)
        for w in window
        for days in settings.TRACKER_ESCALATION_DAYS
    ]
    found = {
        Kind.BEFORE_DUE: _due_candidates(
            kind=Kind.BEFORE_DUE, pairs=before, window=window, base=changed
        ),
        Kind.DUE: _due_candidates(kind=Kind.DUE, pairs=on_due, window=window, base=changed),
        Kind.OVERDUE: _due_candidates(
            kind=Kind.OVERDUE, pairs=overdue, window=window, base=changed
        ),
        Kind.ESCALATION: _due_candidates(
            kind=Kind.ESCALATION, pairs=escalations, window=window, base=changed, to_owner=False
        ),
    }

    # Follow-up requests: the follow-up time has passed (or passes by tomorrow, for zones
    # ahead), within the catch-up window, or a snooze just ended over a passed one.
    back = now - dt.timedelta(days=window[-1].toordinal() - window[0].toordinal())
    follow_slot = TruncDate("next_follow_up_at", tzinfo=UTC)
    in_window = Q(next_follow_up_at__gte=back, next_follow_up_at__lte=now + FOLLOW_UP_REACH) | (
        # Snoozed up to the window's first day: a snooze that ended within it.
        snoozed_q(window[0] - dt.timedelta(days=1)) & Q(next_follow_up_at__lte=now)
    )
    if since is not None:
        # Changed since the mark and in the window, or come within reach since the mark
        # (the snooze branch lies behind the last plan's reach on the same day). Two
        # alternatives, each served by an index (change_seq, next_follow_up_at).
        in_window = (Q(change_seq__gt=since.change_seq) & in_window) | Q(
            next_follow_up_at__gt=max(since.follow_up_to, back),
            next_follow_up_at__lte=now + FOLLOW_UP_REACH,
        )
    follow = list(
        base.filter(in_window)
        # Held while snoozed; a snooze that ended within the window (the branch above)
        # releases a follow-up time that passed during it.
        .exclude(snoozed_q(today))
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
    owner_ids = {row[1] for found_ in found.values() for row in found_.rows} | {
        r[1] for r in follow
    }
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

    # Row by row, only the commitment and the recipient differ; what else a row holds
    # depends on its recipient and due date, so it is worked out once per pair.
    planned = _Planned(now=now)
    for kind in DUE_KINDS:
        earlier = kind == Kind.BEFORE_DUE
        by_due = found[kind].by_due
        shape_of: dict[tuple[int, dt.date], int | None] = {}
        for pk, owner_id, due in found[kind].rows:
            key = (owner_id, due)
            if key not in shape_of:
                slot, step = by_due[due]
                shape_of[key] = (
                    planned.shape(
                        kind,
                        slot,
                        when(owner_id, slot, earlier=earlier),
                        about=due,
                        step=step,
                        in_digest=schedule(owner_id).daily_digest,
                    )
                    if owner_id in users
                    else None
                )
            if (shape := shape_of[key]) is not None:
                planned.append(pk, owner_id, shape)
    by_due = found[Kind.ESCALATION].by_due
    sent_to: dict[tuple[int, dt.date], list[tuple[int, int]]] = {}
    for pk, owner_id, due in found[Kind.ESCALATION].rows:
        key = (owner_id, due)
        if key not in sent_to:
            slot, step = by_due[due]
            line_manager = schedule(owner_id).line_manager_id
            sent_to[key] = [
                (
                    manager_id,
                    planned.shape(
                        Kind.ESCALATION, slot, when(manager_id, slot), about=due, step=step
                    ),
                )
                for manager_id in ([line_manager] if line_manager in users else managers)
            ]
        for manager_id, shape in sent_to[key]:
            planned.append(pk, manager_id, shape)
    # Most follow-up times have passed (`later` is then `now`): one morning per owner
    # and day serves them all.
    mornings: dict[tuple, dt.datetime] = {}
    for pk, owner_id, follow_up_at, slot in follow:
        if owner_id not in users:
            continue
        sched = schedule(owner_id)
        # Asked once the follow-up time has passed, in the owner's working hours.
        local_day = follow_up_at.astimezone(zone_of(sched)).date()
        later = max(now, follow_up_at)
        key = (owner_id, local_day, later)
        if key not in mornings:
            mornings[key] = send_time(slot=local_day, schedule=sched, now=later)
        planned.add(
            pk,
            owner_id,
            Kind.FOLLOW_UP,
            slot,
            max(follow_up_at, mornings[key]),
            about=slot,
            in_digest=sched.daily_digest,
        )
    digests = _Planned(now=now)
    _plan_weekly_digests(digests, managers=managers, schedule=schedule)
    return planned, digests


def _plan_weekly_digests(planned: _Planned, *, managers: list[int], schedule) -> None:
    """One weekly digest per manager, slot = the Monday of their current week."""
    for manager_id in managers:
        sched = schedule(manager_id)
        local_today = planned.now.astimezone(zone_of(sched)).date()
        monday = local_today - dt.timedelta(days=local_today.isoweekday() - 1)
        _add_digest(planned, Kind.WEEKLY_DIGEST, manager_id, monday, sched)


def _plan_daily_digests(planned: _Planned) -> _Planned:
    """A daily digest for each officer who has held reminders whose time has come,
    added to `planned`."""
    now = planned.now
    held = (
        Reminder.objects.filter(state=State.PENDING, in_digest=True, send_after__lte=now)
        # No digest for snoozed follow-ups alone (the digest would leave them out).
        .without_snoozed_follow_ups(today_local(now))
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    for profile in Profile.objects.filter(user_id__in=held):
        sched = Schedule.of(profile)
        day = now.astimezone(zone_of(sched)).date()
        _add_digest(planned, Kind.DAILY_DIGEST, profile.user_id, day, sched)
    return planned


def _add_digest(planned: _Planned, kind: str, recipient_id: int, slot: dt.date, sched) -> None:
    send_after = send_time(slot=slot, schedule=sched, now=planned.now)
    planned.add(None, recipient_id, kind, slot, send_after)


def _dispatch(*, now: dt.datetime) -> list[int]:
    """Mark due reminders queued and return their ids, atomically.

    Due: claimable now (`claimable_q`), not held by a snooze (`held_by_snooze_q`), and
    either never queued or queued more than TRACKER_REMINDER_REQUEUE_SECONDS ago (the
    broker lost it or was down). One UPDATE ... RETURNING whose WHERE is compiled from
    those definitions: the conditions are on the UPDATE itself, so two sweeps at once
    queue disjoint sets (a SELECT then an UPDATE would let both take the same rows).

    "Claimable and (never queued or stale)" is written out as three alternatives, each
    of which an index serves (reminder_unqueued, reminder_queued, and the few rows being
    sent): as one AND of two ORs, PostgreSQL walked every due row already queued (0.2 s
    with nothing to do at 1M commitments, against 0.3 ms).
    """
    stale = now - dt.timedelta(seconds=settings.TRACKER_REMINDER_REQUEUE_SECONDS)
    never, long_ago = Q(queued_at__isnull=True), Q(queued_at__lt=stale)
    waiting = pending_due_q(now)
    due = (
        Reminder.objects.filter(in_digest=False)
        .filter(
            (waiting & never) | (waiting & long_ago) | (lease_expired_q(now) & (never | long_ago))
        )
        .exclude(held_by_snooze_q(today_local(now)))
    )
    compiler = due.query.get_compiler(connection=connection)
    where, params = compiler.compile(due.query.where)
    table = connection.ops.quote_name(Reminder._meta.db_table)
    sql = f"UPDATE {table} SET queued_at = %s WHERE {where} RETURNING id"  # noqa: S608 (compiled by the ORM, values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *params])
        return sorted(row[0] for row in cursor.fetchall())


def _enqueue(ids: list[int]) -> None:
    """Queue send tasks; never raise. The broker being down must not fail a request or a
    sweep: the rows stay pending and the next sweep queues them again."""
    if not ids:
        return
    try:
        send_tasks_queue(ids)
    except Exception:
        logger.warning(
            "could not queue %d reminder(s); the sweep will queue them again",
            len(ids),
            exc_info=True,
        )
        # Forget the mark so the next sweep does not wait out the re-queue delay.
        Reminder.objects.filter(pk__in=ids, state=State.PENDING).update(queued_at=None)


# The shapes' columns, in Shape's order, with their types.
_SHAPE_COLUMNS = (
    ("kind", "varchar"),
    ("slot", "date"),
    ("send_after", "timestamptz"),
    ("about", "date"),
    ("step", "smallint"),
    ("in_digest", "boolean"),
    ("queued_at", "timestamptz"),
)
assert [name for name, _ in _SHAPE_COLUMNS] == [f.name for f in fields(Shape)]


@dataclass
class _Inserted:
    created: int = 0
    # Rows written already marked queued (PostgreSQL): their send tasks go out with the
    # dispatch's.
    queued: list[int] = field(default_factory=list)


def _insert(planned: _Planned, *, conflicts_expected: bool = False) -> _Inserted:
    """Insert the planned outbox rows, skipping any whose unique key exists.

    On PostgreSQL one INSERT ... SELECT: a single statement whatever the number of rows,
    and far less Python than bulk_create. The rows arrive as three arrays (commitment,
    recipient, shape number) joined to the short table of shapes; they are written
    without ON CONFLICT first (see below). A row whose time has come is written queued
    (`queued_at` = the sweep's time) and its id returned, so the dispatch does not
    rewrite it a moment later: at a million commitments the first sweep of a day writes
    some 170,000 rows, and an UPDATE of each doubled the writing. A new row is never
    held by a snooze (the plan leaves snoozed follow-ups out), so "due" here is the
    dispatch's rule: pending, its time come, not in a digest. A row the unique key skips
    was written by another sweep, which queues it.

    `conflicts_expected`: digests, planned on every sweep and kept once by the unique
    key, are written with ON CONFLICT DO NOTHING at once (a handful of rows).
    """
    if not planned:
        return _Inserted()
    if connection.vendor != "postgresql":
        # SQLite: no RETURNING for the rows a conflict skipped; the rows are written
        # unqueued and the dispatch queues them.
        before = Reminder.objects.count()
        Reminder.objects.bulk_create(
            [
                Reminder(
                    commitment_id=pk,
                    recipient_id=recipient_id,
                    **(asdict(shape) | {"queued_at": None}),
                    created_at=planned.now,
                )
                for pk, recipient_id, shape in planned.rows()
            ],
            ignore_conflicts=True,
        )
        return _Inserted(created=Reminder.objects.count() - before)
    names = ", ".join(name for name, _ in _SHAPE_COLUMNS)
    # %b: sent beside the statement, in binary (see _binary_cursor); the three long
    # arrays go as text ('{1,2,...}'), which psycopg builds and PostgreSQL parses in a
    # fraction of the time of binary arrays made value by value.
    shape_arrays = ", ".join(f"%b::{kind}[]" for _, kind in _SHAPE_COLUMNS)
    sql = (
        f"INSERT INTO {Reminder._meta.db_table} "  # noqa: S608 (names from code)
        f"(commitment_id, recipient_id, {names}, state, attempts, message_id, last_error, "
        "created_at) "
        f"SELECT item.commitment_id, item.recipient_id, {names}, %b, 0, '', '', %b "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::integer[]) "
        "AS item (commitment_id, recipient_id, shape) "
        f"JOIN unnest({shape_arrays}) WITH ORDINALITY AS shape ({names}, number) "
        "ON shape.number = item.shape + 1 "
        # In the unique key's order: the foreign-key checks at commit then visit the
        # commitments' pages in order, and two sweeps at once take the keys in the same
        # order (one waits for the other rather than each for the other).
        "ORDER BY item.commitment_id, item.recipient_id, shape.kind, shape.slot"
    )
    returning = "RETURNING id, queued_at IS NOT NULL"
    params = [
        str(State.PENDING),
        planned.now,
        _text_array(planned.commitment_ids),  # None for a digest
        _text_array(planned.recipient_ids),
        _text_array(planned.shape_ids),
        *([getattr(shape, name) for shape in planned.shapes] for name, _ in _SHAPE_COLUMNS),
    ]
    # The plan leaves out what the outbox holds already, so the rows are first written
    # plainly: ON CONFLICT DO NOTHING makes PostgreSQL insert each row speculatively and
    # confirm it (0.7-1.0 s more for 170,000 rows). If a row does meet the unique key (a
    # sweep running at the same moment, a row that the plan's question does not see),
    # the savepoint is rolled back and the rows written again, skipping those.
    skipping = f"{sql} ON CONFLICT DO NOTHING {returning}"
    if conflicts_expected:
        written = _execute_fetchall(skipping, params)
    else:
        try:
            with transaction.atomic():
                written = _execute_fetchall(f"{sql} {returning}", params)
        except IntegrityError as error:
            if not isinstance(error.__cause__, psycopg.errors.UniqueViolation):
                raise
            written = _execute_fetchall(skipping, params)
    return _Inserted(created=len(written), queued=[pk for pk, queued in written if queued])


def _execute_fetchall(sql: str, params: list) -> list[tuple]:
    with _binary_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _text_array(values: list[int | None]) -> str:
    """PostgreSQL's text form of an array of integers: '{1,NULL,3}' (str(None) is
    "None", which no integer's text contains)."""
    return "{" + ",".join(map(str, values)).replace("None", "NULL") + "}"


def _binary_cursor():
    """A cursor on Django's PostgreSQL connection (same transaction, wrapped and logged
    as Django's own) whose parameters are bound by the server, in binary.

    Django's cursors bind on the client: the sweep's arrays were written into the SQL
    as text, 23 MB for the 170,000 rows of a first sweep at a million commitments, which
    took 2.8 s to build and as long again for the server to parse. Sent in binary, the
    whole INSERT takes 3.5 s instead of 5.5."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


SWEEP_MARK = "reminders-sweep"

# A sweep that writes this many rows refreshes the outbox's statistics itself.
ANALYZE_AFTER_ROWS = 10_000


def _analyze_outbox() -> None:
    """ANALYZE the outbox, in the sweep's transaction (it counts the rows just written).
    The next whole plan asks the outbox, for each candidate, whether its reminder exists;
    planned from statistics taken before a first sweep wrote 170,000 rows, that took
    11.7 s at a million commitments instead of 0.5 s. Autovacuum would catch up in a
    minute or so, but it may be off, and the sweep knows best when it has just changed
    the table's size. ~0.1 s."""
    postgres.analyze(Reminder)


def _since(*, now: dt.datetime, today: dt.date) -> _Since | None:
    """Where an incremental plan may start, or None for a whole plan: no mark, a mark of
    another day, one from the future (a caller's `now`), or an old whole plan."""
    mark = SweepMark.objects.filter(name=SWEEP_MARK).first()
    if mark is None or mark.day != today or mark.planned_at > now:
        return None
    if now - mark.full_at > dt.timedelta(seconds=settings.TRACKER_REMINDER_FULL_SWEEP_SECONDS):
        return None
    return _Since(change_seq=mark.change_seq, follow_up_to=mark.planned_at + FOLLOW_UP_REACH)


def _mark(*, now: dt.datetime, today: dt.date, change_seq: int, whole: bool) -> None:
    """Upsert in one statement; an incremental plan leaves `full_at` as it was."""
    fields = ["day", "change_seq", "planned_at", *(["full_at"] if whole else [])]
    SweepMark.objects.bulk_create(
        [SweepMark(name=SWEEP_MARK, day=today, change_seq=change_seq, planned_at=now, full_at=now)],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=fields,
    )


def reminders_sweep(
    *, now: dt.datetime | None = None, dry_run: bool = False, incremental: bool = False
) -> SweepResult:
    """Write every reminder that is due into the outbox and queue the due ones.

    One transaction; the send tasks are queued after it commits. With `dry_run` the same
    work is done and rolled back, so the result says what would be queued.

    `incremental` (beat's periodic sweep) plans only what can have become due since the
    last sweep of the same day (see SweepMark): commitments written since through the
    services, and follow-up times that came within reach. The dispatch of due rows is
    the same either way. A started worker, `manage.py send_reminders`, the first sweep
    of a day and one every TRACKER_REMINDER_FULL_SWEEP_SECONDS plan everything, which
    also picks up what the mark cannot see (a user who gained an email address, a row
    written outside the services).
    """
    now = now or timezone.now()
    today = today_local(now)
    result = SweepResult()
    with transaction.atomic():
        # Read before planning: whatever commits after this read has a larger number.
        change_seq = ChangeCounter.committed()
        since = _since(now=now, today=today) if incremental else None
        plan, digests = _plan(now=now, since=since)
        planned = _insert(plan)
        held = _insert(_plan_daily_digests(digests), conflicts_expected=True)
        result.created = planned.created + held.created
        result.by_kind = dict(Counter(plan.by_kind()) + Counter(digests.by_kind()))
        result.queued = sorted([*planned.queued, *held.queued, *_dispatch(now=now)])
        if result.created >= ANALYZE_AFTER_ROWS:
            _analyze_outbox()
        _record_webhook_events(plan)
        if dry_run:
            transaction.set_rollback(True)
        else:
            # Wall-clock time, not `now` (which a caller may set): /readyz asks whether a
            # sweep really ran lately.
            heartbeat_record(name=SWEEP_HEARTBEAT)
            _mark(now=now, today=today, change_seq=change_seq, whole=since is None)
            ids = result.queued
            transaction.on_commit(lambda: _enqueue(ids))
    return result


def _record_webhook_events(planned: _Planned) -> None:
    """Overdue and escalation reminders planned by this sweep are webhook events too
    (once per commitment and step, whatever the number of recipients). A constant
    number of queries; with no endpoint, one, and the rows are not even looked at."""
    if planned:
        webhook_events_record_by_id(items=_webhook_items(planned))


def _webhook_items(planned: _Planned):
    events = {Kind.OVERDUE: WebhookEvent.OVERDUE, Kind.ESCALATION: WebhookEvent.ESCALATED}
    wanted = {
        (shape.kind, pk, shape.step) for pk, _, shape in planned.rows() if shape.kind in events
    }
    for kind, pk, step in sorted(wanted, key=lambda w: (w[1], w[0], w[2] or 0)):
        yield events[kind], pk, {"days_overdue": step}
