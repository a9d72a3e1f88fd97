"""Idempotency-Key: the first answer to a request is kept per token and replayed.

`idempotent_run` is what a view calls: it claims the key, runs the work, stores the
answer (or releases the claim when the work fails, so the client may retry), and on a
repeat returns the stored answer instead of running the work again. A repeat with another
body, or one arriving while the first still runs, is refused with an exception the API
maps to 422 and 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import ApiToken, IdempotencyKey
from ..validators import storable

# An Idempotency-Key still "in progress" after this long belongs to a dead process.
IDEMPOTENCY_ABANDONED_AFTER = dt.timedelta(minutes=10)
IDEMPOTENCY_KEY_MAX_LENGTH = 200


class IdempotencyKeyReused(Exception):
    """The key was used before with a different body."""


class IdempotencyKeyBusy(Exception):
    """A request with this key is still running."""


@dataclass(frozen=True)
class IdempotentAnswer:
    status: int
    body: Any
    replayed: bool = False


def request_fingerprint(body) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_run(*, token, key: str, body, work: Callable[[], Any]) -> IdempotentAnswer:
    """Run `work` once per (token, key); its result is the 200 answer stored and replayed."""
    if not isinstance(token, ApiToken):
        raise ValidationError(
            {"Idempotency-Key": ["Idempotency keys are kept per token: use a bearer token."]}
        )
    if not (key.strip() and key.isascii() and key.isprintable()) or (
        len(key) > IDEMPOTENCY_KEY_MAX_LENGTH
    ):
        raise ValidationError({"Idempotency-Key": ["Send 1 to 200 printable ASCII characters."]})
    fingerprint = request_fingerprint(body)
    existing = idempotency_claim(token=token, key=key, fingerprint=fingerprint)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different body.")
        if existing.in_progress:
            raise IdempotencyKeyBusy("A request with this Idempotency-Key is still running.")
        return IdempotentAnswer(existing.response_status, existing.response_body, replayed=True)
    try:
        answer = work()
        idempotency_complete(token=token, key=key, status=200, body=answer)
    except BaseException:
        # Whatever failed, the key must not stay "still running": a retry may run.
        idempotency_release(token=token, key=key)
        raise
    return IdempotentAnswer(200, answer)


def idempotency_claim(*, token, key: str, fingerprint: str):
    """Claim `key` for this token before doing the work. Returns None when claimed, else
    the existing row (in progress, or finished with its stored answer).

    The claim is a unique INSERT committed at once, so of two concurrent duplicates
    exactly one wins and the other sees the row in progress.
    """
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


def idempotency_complete(*, token, key: str, status: int, body) -> None:
    """Keep the answer for replays. The caller sends storable(body) too, so a replay is
    the same bytes as the first answer (an error may echo a NUL or a lone surrogate from
    the client's input, which jsonb cannot hold)."""
    IdempotencyKey.objects.filter(token=token, key=key, response_status__isnull=True).update(
        response_status=status, response_body=storable(body)
    )


def idempotency_release(*, token, key: str) -> None:
    """Forget an unfinished claim (the work failed), so the client may retry."""
    IdempotencyKey.objects.filter(token=token, key=key, response_status__isnull=True).delete()
