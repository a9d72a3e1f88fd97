"""Reminders and escalations, along their seams (docs/reminders.md has the long version):

- `policy`: when a reminder goes out (working mornings, zones, windows); no database.
- `sweep`: beat's job; plans what is due, writes the outbox in bulk, queues what may go.
- `voiding`: pending reminders that no longer match their commitment become void.
- `delivery`: claim one reminder by conditional UPDATE, send it, record it, retry it.

Callers import from here (or from `commitments.services`); the modules are the layout.
"""

from .delivery import (
    SendOutcome,
    message_id_for,
    reminder_claim,
    reminder_deliver,
    reminder_send,
    reminders_deliver_batch,
)
from .policy import Schedule, morning_of, send_time
from .sweep import SweepResult, reminders_sweep
from .voiding import (
    reminder_is_stale,
    reminder_terms,
    reminders_void_stale,
    reminders_void_stale_many,
)

__all__ = [
    "Schedule",
    "SendOutcome",
    "SweepResult",
    "message_id_for",
    "morning_of",
    "reminder_claim",
    "reminder_deliver",
    "reminder_is_stale",
    "reminder_send",
    "reminder_terms",
    "reminders_deliver_batch",
    "reminders_sweep",
    "reminders_void_stale",
    "reminders_void_stale_many",
    "send_time",
]
