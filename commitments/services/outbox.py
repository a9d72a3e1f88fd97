"""The lease protocol the two outboxes share (reminders, webhook deliveries).

A worker claims a row by a conditional UPDATE that sets a lease (each outbox has its own
claim: what makes a row claimable differs). It then records the attempt's outcome only
while it still holds that lease, and a failed attempt that will be tried again goes back
to pending, due after a delay.
"""

from __future__ import annotations

import datetime as dt

from django.db import models


def outbox_finish(model: type[models.Model], pk: int, lease: dt.datetime, **values) -> bool:
    """Write `values` on row `pk` if this worker still holds it (sending, under `lease`).
    False: the lease ran out and another worker took the row; nothing was written."""
    held = model.objects.filter(pk=pk, state=model.State.SENDING, lease_until=lease)
    return bool(held.update(**values))


def outbox_retry(*, model: type[models.Model], now: dt.datetime, delay: int, due_field: str):
    """The values that put a failed attempt back in the outbox: pending, unclaimed, due
    `delay` seconds after `now` (in `due_field`), queued now (the caller queues the retry)."""
    return {
        "state": model.State.PENDING,
        "lease_until": None,
        due_field: now + dt.timedelta(seconds=delay),
        "queued_at": now,
    }
