"""Every write with a business rule. Import from here: `from commitments import services`.

Modules: `commitments` (the commitment life cycle), `reminders` (a package: policy,
sweep, voiding, delivery), `tokens` (API tokens), `sync` (bulk upsert), `idempotency`
(Idempotency-Key), `heartbeats`, `importer`, `demo`. Each exports its public functions
here; docs/architecture.md says where a new rule goes.
"""

from .commitments import (
    EDITABLE_FIELDS,
    CommitmentChange,
    EvidenceInput,
    NewCommitment,
    check_can_set_watchers,
    commitment_create,
    commitment_reassign,
    commitment_snooze,
    commitment_transition,
    commitment_undo_last_move,
    commitment_update,
    commitment_watchers_set,
    commitments_create_many,
    commitments_update_many,
    evidence_add,
    next_change_seq,
    next_reference,
    note_add,
    note_retract,
    owner_for_new,
)
from .heartbeats import SWEEP_HEARTBEAT, heartbeat_record
from .idempotency import (
    IdempotencyKeyBusy,
    IdempotencyKeyReused,
    IdempotentAnswer,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    idempotent_run,
)
from .preferences import profile_preferences_set
from .profiles import profile_set_time_zone
from .reminders import (
    reminder_claim,
    reminder_send,
    reminders_sweep,
    reminders_void_stale,
    reminders_void_stale_many,
)

# --- REST API: tokens and bulk sync ---
from .sync import (
    SYNC_MAX_ITEMS,
    SyncItem,
    SyncOutcome,
    SyncResult,
    commitments_sync,
)
from .tokens import (
    api_token_authenticate,
    api_token_issue,
    api_token_issue_for_username,
    api_token_revoke,
)

__all__ = [
    "EDITABLE_FIELDS",
    "SWEEP_HEARTBEAT",
    "EvidenceInput",
    "commitment_create",
    "commitment_reassign",
    "commitment_snooze",
    "commitment_transition",
    "commitment_undo_last_move",
    "commitment_update",
    "commitment_watchers_set",
    "evidence_add",
    "heartbeat_record",
    "next_change_seq",
    "next_reference",
    "note_add",
    "note_retract",
    "profile_preferences_set",
    "profile_set_time_zone",
    "reminder_claim",
    "reminder_send",
    "reminders_sweep",
    "reminders_void_stale",
]

# REST API
__all__ += [
    "SYNC_MAX_ITEMS",
    "IdempotencyKeyBusy",
    "IdempotencyKeyReused",
    "IdempotentAnswer",
    "SyncItem",
    "SyncOutcome",
    "SyncResult",
    "api_token_authenticate",
    "api_token_issue",
    "api_token_issue_for_username",
    "api_token_revoke",
    "commitments_sync",
    "idempotency_claim",
    "idempotency_complete",
    "idempotency_release",
    "idempotent_run",
]

# Set-based writes behind the bulk sync
__all__ += [
    "CommitmentChange",
    "NewCommitment",
    "commitments_create_many",
    "commitments_update_many",
    "reminders_void_stale_many",
]

# One owner rule on every path
__all__ += ["check_can_set_watchers", "owner_for_new"]
# Integrations (issue 16): outgoing webhooks, calendar feeds, spreadsheets
from .calendars import (  # noqa: E402
    calendar_feed_create,
    calendar_feed_for_token,
    calendar_feed_ics,
    calendar_feed_personal,
    calendar_feed_revoke,
    calendar_feed_url,
)
from .webhooks import (  # noqa: E402
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_events_record,
    webhook_events_record_many,
    webhook_redeliver,
    webhook_send,
    webhook_test_send,
    webhooks_dispatch,
)

__all__ += [
    "calendar_feed_create",
    "calendar_feed_for_token",
    "calendar_feed_ics",
    "calendar_feed_personal",
    "calendar_feed_revoke",
    "calendar_feed_url",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_update",
    "webhook_events_record",
    "webhook_events_record_many",
    "webhook_redeliver",
    "webhook_send",
    "webhook_test_send",
    "webhooks_dispatch",
]
