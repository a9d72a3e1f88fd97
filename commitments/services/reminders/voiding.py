"""Voiding: pending reminders that no longer match their commitment become `void`.

The commitment services call `reminders_void_stale_many` inside their transaction: a moved
due date or follow-up date, a new owner or a close voids pending reminders. The send
checks the same rule again (`reminder_is_stale`) for a reminder claimed meanwhile.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable
from functools import reduce

from django.db import connection
from django.db.models import Q

from ...models import TERMINAL_STATUSES, Commitment, Reminder
from .policy import DUE_KINDS

UTC = dt.UTC
Kind = Reminder.Kind
State = Reminder.State


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


def reminder_terms(commitment: Commitment) -> tuple:
    """What `_stale_q` reads of a commitment. A write that leaves these as they were
    makes no pending reminder stale, so it has nothing to void (a status move between
    open statuses by someone other than the owner: issue 13, a transition's queries)."""
    return (
        commitment.status in TERMINAL_STATUSES,
        commitment.due_date,
        commitment.next_follow_up_at,
        commitment.owner_id,
    )


def reminders_void_stale(*, commitment: Commitment) -> int:
    """Void pending reminders for dates the commitment no longer has, for an owner it
    no longer has, or all of them once it is closed. Call inside the writer's transaction.

    Reminders already claimed by a worker are left alone; the send re-checks before it
    sends (see `reminder_send`). The bulk path with a list of one: one rule, one code path.
    """
    return reminders_void_stale_many(commitments=[commitment])


def reminders_void_stale_many(*, commitments: Iterable[Commitment]) -> int:
    """`reminders_void_stale` for many commitments (the rule is `_stale_q`): one query to
    find which have pending reminders, then one UPDATE voiding the stale ones (for one
    commitment, the UPDATE alone)."""
    by_id = {c.pk: c for c in commitments}
    if not by_id:
        return 0
    if len(by_id) == 1:
        # One commitment (every single-item write): the UPDATE alone, no look first.
        ids = list(by_id)
    else:
        ids = sorted(
            Reminder.objects.filter(commitment_id__in=by_id, state=State.PENDING)
            .values_list("commitment_id", flat=True)
            .distinct()
        )
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


def reminder_is_stale(reminder: Reminder) -> bool:
    return bool(reminders_stale_ids([reminder]))


def reminders_stale_ids(reminders: Iterable[Reminder]) -> set[int]:
    """Which of these reminders (with their commitments loaded) no longer match their
    commitment: one query for any number."""
    about = [r for r in reminders if r.commitment_id is not None]
    if not about:
        return set()
    stale = reduce(operator.or_, (Q(pk=r.pk) & _stale_q(r.commitment) for r in about))
    return set(Reminder.objects.filter(stale).values_list("pk", flat=True))
