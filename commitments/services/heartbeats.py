"""Heartbeats: periodic jobs record when they last finished, for /readyz (commitments.health).

The reminder sweep records `SWEEP_HEARTBEAT` inside its own transaction, so the row only
moves when the sweep's work committed.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ..models import Heartbeat

# The beat schedule's key for the sweep (settings.CELERY_BEAT_SCHEDULE) names the row too.
SWEEP_HEARTBEAT = "reminders-sweep"


def heartbeat_record(*, name: str, at: dt.datetime | None = None) -> None:
    """Upsert in one statement: two sweeps finishing at once must not collide on insert."""
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, beat_at=at or timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["beat_at"],
    )
