"""Bulk upsert of commitments keyed by `external_id`, for integrations.

Each item is created, updated, left unchanged or refused on its own (a savepoint per
item), so one bad item never blocks the others. The whole batch is one transaction:
one commit instead of a thousand, and a reader never sees half a batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import TransitionNotAllowed, VersionConflict
from ..models import Commitment
from .commitments import commitment_create, commitment_transition, commitment_update

SYNC_MAX_ITEMS = 1000
# An Idempotency-Key still "in progress" after this long belongs to a dead process.
IDEMPOTENCY_ABANDONED_AFTER = dt.timedelta(minutes=10)


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


def error_dict(exc: Exception) -> dict[str, list[str]]:
    """A service error as {field: [messages]}; errors with no field go under "detail"."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return {
                name: [str(m) for m in ValidationError(msgs).messages]
                for name, msgs in exc.error_dict.items()
            }
        return {"detail": [str(m) for m in exc.messages]}
    if isinstance(exc, TransitionNotAllowed):
        allowed = ", ".join(exc.allowed) or _("none")
        return {"status": [f"{exc.reason} " + _("Allowed moves: %(a)s.") % {"a": allowed}]}
    return {"detail": [str(exc) or exc.__class__.__name__]}


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


def commitments_sync(*, actor, channel: str, items: Sequence[SyncItem]) -> list[SyncResult]:
    """Create or update each item by external_id; one result per item, in order."""
    if len(items) > SYNC_MAX_ITEMS:
        raise ValidationError(
            {"commitments": _("At most %(n)d items per request.") % {"n": SYNC_MAX_ITEMS}}
        )
    wanted = [item.external_id for item in items]
    results: list[SyncResult] = []
    seen: set[str] = set()
    with transaction.atomic():
        existing = dict(
            Commitment.objects.filter(external_id__in=wanted).values_list("external_id", "id")
        )
        for item in items:
            if item.external_id in seen:
                results.append(
                    SyncResult(
                        item.external_id,
                        SyncOutcome.ERROR,
                        errors={"external_id": [_("Appears twice in this batch.")]},
                    )
                )
                continue
            seen.add(item.external_id)
            existing_id = existing.get(item.external_id)
            # Each service call is a savepoint of its own, so a refused item leaves
            # nothing behind. Only an update followed by a status move needs one more
            # savepoint around both (saving two round trips on every other item).
            both = existing_id is not None and bool(item.status)
            try:
                with transaction.atomic() if both else nullcontext():
                    result = _apply(item, existing_id, actor=actor, channel=channel)
            except (
                ValidationError,
                PermissionDenied,
                TransitionNotAllowed,
                VersionConflict,
                IntegrityError,
            ) as exc:
                result = SyncResult(item.external_id, SyncOutcome.ERROR, errors=error_dict(exc))
            results.append(result)
    return results


# --- Idempotency-Key: the first answer is kept and replayed --------------------------------


def idempotency_claim(*, token, key: str, fingerprint: str):
    """Claim `key` for this token before doing the work. Returns None when claimed, else
    the existing row (in progress, or finished with its stored answer).

    The claim is a unique INSERT committed at once, so of two concurrent duplicates
    exactly one wins and the other sees the row in progress.
    """
    from ..models import IdempotencyKey

    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(token=token, key=key, fingerprint=fingerprint)
        return None
    except IntegrityError:
        row = IdempotencyKey.objects.filter(token=token, key=key).first()
        if row is None:  # released between our INSERT and this read: still busy
            return IdempotencyKey(token=token, key=key, fingerprint=fingerprint)
        stale = timezone.now() - IDEMPOTENCY_ABANDONED_AFTER
        if row.in_progress and row.created_at < stale:
            # Its process died mid-request (a failure releases the claim). Take it over
            # with a conditional update, so of two retries only one wins.
            taken = IdempotencyKey.objects.filter(
                pk=row.pk, response_status__isnull=True, created_at__lt=stale
            ).update(fingerprint=fingerprint, created_at=timezone.now())
            if taken:
                return None
        return row


def _storable(value):
    """The answer as PostgreSQL's jsonb can hold it: it refuses NUL characters, which an
    error message may echo back from the client's input (an unknown field name)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def idempotency_complete(*, token, key: str, status: int, body) -> None:
    from ..models import IdempotencyKey

    IdempotencyKey.objects.filter(token=token, key=key, response_status__isnull=True).update(
        response_status=status, response_body=_storable(body)
    )


def idempotency_release(*, token, key: str) -> None:
    """Forget an unfinished claim (the work failed), so the client may retry."""
    from ..models import IdempotencyKey

    IdempotencyKey.objects.filter(token=token, key=key, response_status__isnull=True).delete()
