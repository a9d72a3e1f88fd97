"""Bulk upsert of commitments keyed by `external_id`, for integrations.

Each item is created, updated, left unchanged or refused on its own, so one bad item
never blocks the others: the set-based services validate every item before writing and
write only the good ones. The whole batch is one transaction: one commit instead of a
thousand, and a reader never sees half a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ..exceptions import TransitionNotAllowed, VersionConflict, error_dict
from ..models import Commitment, Status
from .commitments import (
    CommitmentChange,
    NewCommitment,
    commitment_create,
    commitment_transition,
    commitment_update,
    commitments_create_many,
    commitments_update_many,
)

SYNC_MAX_ITEMS = 1000


class SyncOutcome:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass(frozen=True)
class SyncItem:
    """One validated item: its fields (as commitment_create takes them), and optionally
    the status it should be in and the version the client last read."""

    external_id: str
    data: Mapping[str, Any]
    status: str | None = None
    expected_version: int | None = None


@dataclass
class SyncResult:
    external_id: str
    outcome: str
    commitment: Commitment | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def _apply(item: SyncItem, existing_id: int | None, *, actor, channel: str) -> SyncResult:
    if existing_id is None:
        extra = {"status": item.status} if item.status else {}
        created = commitment_create(actor=actor, channel=channel, data=item.data, **extra)
        return SyncResult(item.external_id, SyncOutcome.CREATED, created)
    commitment, changed = commitment_update(
        commitment_id=existing_id,
        actor=actor,
        channel=channel,
        data=item.data,
        expected_version=item.expected_version,
    )
    if item.status and item.status != commitment.status:
        commitment_transition(
            commitment_id=existing_id, to_status=item.status, actor=actor, channel=channel
        )
        commitment.refresh_from_db()
        changed = True
    outcome = SyncOutcome.UPDATED if changed else SyncOutcome.UNCHANGED
    return SyncResult(item.external_id, outcome, commitment)


def _apply_one(item: SyncItem, existing_id: int | None, *, actor, channel: str) -> SyncResult:
    """The per-item path: its own savepoint, so a refused item leaves nothing behind."""
    try:
        with transaction.atomic():
            return _apply(item, existing_id, actor=actor, channel=channel)
    except (
        ValidationError,
        PermissionDenied,
        TransitionNotAllowed,
        VersionConflict,
        IntegrityError,
    ) as exc:
        return SyncResult(item.external_id, SyncOutcome.ERROR, errors=error_dict(exc))


def _refused(item: SyncItem, exc: Exception) -> SyncResult:
    return SyncResult(item.external_id, SyncOutcome.ERROR, errors=error_dict(exc))


def commitments_sync(*, actor, channel: str, items: Sequence[SyncItem]) -> list[SyncResult]:
    """Create or update each item by external_id; one result per item, in order.

    New items go through commitments_create_many and changed fields through
    commitments_update_many (set-based: the query count does not grow with the batch).
    An item that also asks for a status move on an existing commitment goes through the
    per-item services (update, then transition, in one savepoint); such items are rare.
    """
    if len(items) > SYNC_MAX_ITEMS:
        raise ValidationError(
            {"commitments": _("At most %(n)d items per request.") % {"n": SYNC_MAX_ITEMS}}
        )
    wanted = [item.external_id for item in items]
    results: list[SyncResult | None] = [None] * len(items)
    with transaction.atomic():
        # Lock the existing rows now (in id order, as every writer does), so the status
        # read here is still true when the item is applied.
        existing = {
            external_id: (pk, status)
            for external_id, pk, status in Commitment.objects.select_for_update(no_key=True)
            .with_external_ids(wanted)
            .order_by("pk")
            .values_list("external_id", "id", "status")
        }
        creates, updates, moves = [], [], []
        seen: set[str] = set()
        for position, item in enumerate(items):
            if item.external_id in seen:
                results[position] = SyncResult(
                    item.external_id,
                    SyncOutcome.ERROR,
                    errors={"external_id": [_("Appears twice in this batch.")]},
                )
                continue
            seen.add(item.external_id)
            if item.external_id not in existing:
                creates.append(position)
            elif item.status and item.status != existing[item.external_id][1]:
                moves.append(position)
            else:
                updates.append(position)

        # Creates first: they lock visits and then the change counter, in the order
        # commitment_create does, so a concurrent single create cannot deadlock with us.
        new_items = [
            NewCommitment(data=items[p].data, status=items[p].status or Status.PROPOSED)
            for p in creates
        ]
        try:
            made = commitments_create_many(actor=actor, channel=channel, items=new_items)
        except IntegrityError:
            # A concurrent writer took one of the external ids after our check: the
            # batch INSERT was rolled back; item by item, each gets its own answer.
            made = None
        for index, position in enumerate(creates):
            item = items[position]
            if made is None:
                results[position] = _apply_one(item, None, actor=actor, channel=channel)
            elif isinstance(made[index], Exception):
                results[position] = _refused(item, made[index])
            else:
                results[position] = SyncResult(item.external_id, SyncOutcome.CREATED, made[index])

        changed = commitments_update_many(
            actor=actor,
            channel=channel,
            items=[
                CommitmentChange(
                    commitment_id=existing[items[p].external_id][0],
                    data=items[p].data,
                    expected_version=items[p].expected_version,
                )
                for p in updates
            ],
        )
        for position, outcome in zip(updates, changed, strict=True):
            item = items[position]
            if isinstance(outcome, Exception):
                results[position] = _refused(item, outcome)
                continue
            commitment, was_changed = outcome
            kind = SyncOutcome.UPDATED if was_changed else SyncOutcome.UNCHANGED
            results[position] = SyncResult(item.external_id, kind, commitment)

        for position in moves:
            item = items[position]
            results[position] = _apply_one(
                item, existing[item.external_id][0], actor=actor, channel=channel
            )
    return results
