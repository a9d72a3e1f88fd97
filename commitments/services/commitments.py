"""Writes to commitments: create, update, status moves, evidence, notes, snooze, reassign.

Each function is one transaction. Views, API serializers, the admin, tasks and commands
call these; none of them re-implements a rule written here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxLengthValidator
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import CommitmentNotFound, TransitionNotAllowed, VersionConflict
from ..formats import person_name
from ..models import (
    NOTE_REQUIRED,
    SHORT_NOTE_MAX_LENGTH,
    TERMINAL_STATUSES,
    TRANSITIONS,
    AuditEvent,
    ChangeCounter,
    Channel,
    Commitment,
    Evidence,
    Note,
    Status,
    StatusChange,
    Visit,
    WebhookEvent,
)
from ..permissions import can_reassign, can_reopen, can_retract_note, editable_ids
from ..selectors import undoable_move
from ..translated import COMMITMENT_TEXTS, columns
from ..validators import validate_storable_text
from .reminders import reminder_terms, reminders_void_stale, reminders_void_stale_many
from .webhooks import webhook_events_record, webhook_events_record_many

User = get_user_model()

TRANSLATION_FIELDS = tuple(columns(COMMITMENT_TEXTS))
# Fields a caller may set through create/update; status moves only via transitions.
EDITABLE_FIELDS = (
    "title",
    "description",
    "visit",
    "parent",
    "sector",
    "pledged_by",
    "beneficiary",
    "nature",
    "owner",
    "due_date",
    "next_follow_up_at",
    "follow_up_every_days",
    "amount",
    "currency",
    "figure_kind",
    "unit",
    "figure_year",
    "progress",
    "source",
    "source_quote",
    "external_id",
    "co_pledgers",
    # The tracker's translations of title and description, one per language (issue 15).
    *TRANSLATION_FIELDS,
)
# Many-to-many fields among them: set after the row is saved, by the single-item
# services only (the set-based ones refuse them rather than drop them).
M2M_FIELDS = ("co_pledgers",)
# Channels through which the system itself writes, with no user to check.
_TRUSTED_CHANNELS = (Channel.SYSTEM, Channel.IMPORT, Channel.DEMO)


@dataclass(frozen=True)
class EvidenceInput:
    url: str
    title: str
    kind: str = Evidence.Kind.NEWS_REPORT
    published_on: dt.date | None = None
    source_id: int | None = None


def next_change_seq(count: int = 1) -> int:
    """Take the next `count` positions in the global change order, under a row lock;
    returns the last of them (the first is the result minus count plus one).

    The lock is held until the caller's transaction commits, so a later writer gets a
    larger number only after the earlier one is visible: numbers follow commit order.
    Must be called inside transaction.atomic().
    """
    # One statement: the UPDATE takes the row lock and returns the new value.
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET value = value + %s WHERE name = %s RETURNING value",  # noqa: S608 (our table's name)
            [count, "commitment"],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    # The very first change: make the row (get_or_create settles a race), then count.
    counter, _created = ChangeCounter.objects.select_for_update().get_or_create(name="commitment")
    counter.value += count
    counter.save(update_fields=["value"])
    return counter.value


def _editable_ids(*, actor, commitments: Iterable[Commitment], channel: str) -> set[int]:
    """Which of `commitments` the actor may change (one query at most, for any number)."""
    commitments = list(commitments)
    if channel in _TRUSTED_CHANNELS and actor is None:
        return {c.pk for c in commitments}
    if actor is None:
        return set()
    return editable_ids(actor, commitments)


def _check_can_edit(*, actor, commitment: Commitment, channel: str) -> None:
    if commitment.pk not in _editable_ids(actor=actor, commitments=[commitment], channel=channel):
        raise PermissionDenied(_("You may not change this commitment."))


def _check_can_create(*, actor, channel: str) -> None:
    from ..permissions import is_desk_officer, is_manager

    if channel not in _TRUSTED_CHANNELS and not (is_manager(actor) or is_desk_officer(actor)):
        raise PermissionDenied(_("You may not create commitments."))


def _check_can_reassign(*, actor, channel: str, changes: Mapping[str, Any]) -> None:
    if "owner" in changes and channel not in _TRUSTED_CHANNELS and not can_reassign(actor):
        raise PermissionDenied(_("Only a manager may reassign a commitment."))


def _check_owner_active(owner) -> None:
    if owner is None or not owner.is_active:
        raise ValidationError({"owner": _("Choose an active user as the new owner.")})


def _user_id(user) -> int | None:
    return getattr(user, "pk", user)


def owner_for_new(*, actor, channel: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The one owner rule for a new commitment, on every path (browser, API, sync, admin).

    A desk officer who creates a commitment owns it: they may leave the owner out or name
    themselves, never someone else (that is a reassignment, which only managers make).
    A manager may name any active user, or nobody. The system channels (import, system)
    keep what they are given. Returns `data` with the owner decided.
    """
    data = dict(data)
    if channel in _TRUSTED_CHANNELS:
        return data
    owner = data.get("owner")
    if can_reassign(actor):
        if owner is not None and hasattr(owner, "is_active"):
            _check_owner_active(owner)
        return data
    if owner is not None and _user_id(owner) != actor.pk:
        raise PermissionDenied(_("Only a manager may make someone else the owner."))
    data["owner"] = actor
    return data


def check_can_set_watchers(*, actor, channel: str, watchers: Iterable, current=()) -> None:
    """Watchers follow the owner rule: a manager may set anyone; anyone else may only add
    or remove themselves (compared with `current`, the watchers before the change)."""
    if channel in _TRUSTED_CHANNELS or can_reassign(actor):
        return
    before = {_user_id(u) for u in current}
    after = {_user_id(u) for u in watchers}
    if (before ^ after) - {getattr(actor, "pk", None)}:
        raise PermissionDenied(_("Only a manager may choose who else watches a commitment."))


def _reassign_note(*, commitment: Commitment, actor, channel: str, note: str = "") -> Note:
    """The timeline entry of a change of owner, whichever service made it."""
    text = _("Reassigned to %(u)s.") % {"u": person_name(commitment.owner)}
    if note.strip():
        text = f"{text} {note.strip()}"
    return Note(
        commitment=commitment,
        author=actor if getattr(actor, "pk", None) else None,
        kind=Note.Kind.REASSIGN,
        channel=channel,
        text=text,
    )


def _check_text(value: str, *, name: str, validators) -> None:
    """Run a text's limits (the validators of the field it is stored in), as a field
    error under `name`: the same message on every path."""
    errors = []
    for validator in validators:
        try:
            validator(value)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({name: errors})


# A snooze holds follow-ups for at most this long; past it, the follow-up cadence is wrong.
SNOOZE_MAX_DAYS = 365
# Reopening a fulfilled commitment: its work is not done, so progress drops to this cap.
REOPENED_PROGRESS_CAP = 90


def _check_due_date(due_date: dt.date | None, *, today: dt.date | None = None) -> None:
    """A due date within TRACKER_DUE_DATE_WINDOW_YEARS of today, either side."""
    if due_date is None:
        return
    today = today or timezone.localdate()
    years = settings.TRACKER_DUE_DATE_WINDOW_YEARS
    span = dt.timedelta(days=round(365.25 * years))
    if not (today - span <= due_date <= today + span):
        raise ValidationError(
            {
                "due_date": _("Give a due date within %(n)d years of today (%(a)s to %(b)s).")
                % {"n": years, "a": (today - span).isoformat(), "b": (today + span).isoformat()}
            }
        )


# A snooze reason and a reassignment note end up inside a timeline note: a short limit.
SHORT_NOTE_VALIDATORS = (MaxLengthValidator(SHORT_NOTE_MAX_LENGTH), validate_storable_text)


def _check_known_fields(data: Mapping[str, Any]) -> None:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})


def _split_m2m(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, set[int]]]:
    """The row's own fields, and the many-to-many ones as sets of ids."""
    own = {k: v for k, v in data.items() if k not in M2M_FIELDS}
    m2m = {
        name: {getattr(item, "pk", item) for item in (data[name] or ())}
        for name in M2M_FIELDS
        if name in data
    }
    return own, m2m


def _refuse_m2m(data: Mapping[str, Any]) -> None:
    given = [name for name in M2M_FIELDS if name in data]
    if given:
        raise ValidationError(
            {name: _("Set this through a single create or update.") for name in given}
        )


def _external_id_taken() -> ValidationError:
    return ValidationError({"external_id": _("Another commitment has this external id.")})


def _lock(commitment_id: int) -> Commitment:
    # FOR NO KEY UPDATE, not FOR UPDATE: PostgreSQL checks a foreign key at commit with a
    # KEY SHARE lock on the referenced row, which FOR UPDATE blocks. A writer holding the
    # change counter while it inserts a child of this row would then wait for us while we
    # wait for the counter: a deadlock. We never change primary keys, so no-key is enough.
    try:
        return Commitment.objects.select_for_update(no_key=True).get(pk=commitment_id)
    except Commitment.DoesNotExist:
        raise CommitmentNotFound from None


def _check_version(commitment: Commitment, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != commitment.version:
        raise VersionConflict(expected=expected_version, current=commitment.version)


def _audit_row(*, action: str, actor, channel: str, commitment=None, changes=None) -> AuditEvent:
    return AuditEvent(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        channel=channel,
        commitment=commitment,
        changes=changes or {},
    )


def _audit(action: str, actor, channel: str, commitment=None, changes=None) -> None:
    """Save one audit row: `actor`, through `channel`, did `action` to `commitment`."""
    _audit_row(
        action=action, actor=actor, channel=channel, commitment=commitment, changes=changes
    ).save()


def _created_row(*, commitment: Commitment, actor, channel: str, now: dt.datetime) -> StatusChange:
    """The first history row of a new commitment ("" -> its status)."""
    return StatusChange(
        commitment=commitment,
        from_status="",
        to_status=commitment.status,
        actor=actor,
        at=now,
        channel=channel,
        version=commitment.version,
        note=_("Created"),
    )


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


def _validate_evidence(items: Iterable[EvidenceInput], commitment: Commitment) -> list[Evidence]:
    rows = []
    for index, item in enumerate(items):
        row = Evidence(
            commitment=commitment,
            url=item.url,
            title=item.title,
            kind=item.kind,
            published_on=item.published_on,
            source_id=item.source_id,
        )
        try:
            row.full_clean(exclude=["commitment", "added_by"])
        except ValidationError as exc:
            raise ValidationError({f"evidence[{index}]": exc.messages}) from None
        rows.append(row)
    return rows


def _full_clean(
    commitment: Commitment, data: Mapping[str, Any], *, uniqueness_checked: bool = False
) -> None:
    """full_clean, minus database round trips that prove nothing new (a
    1,000-item API sync calls this 1,000 times).

    - Relations given as loaded instances exist: no "SELECT 1" per foreign key.
    - Every CHECK constraint is also a field validator or a rule in Commitment.clean(),
      so validate_constraints would only repeat them as one query each; the database
      constraints still guard every write.
    - `uniqueness_checked`: the set-based services have checked external ids for the
      whole batch in one query and allocate references under the visit lock, so the
      per-row uniqueness queries (reference, external_id) are skipped.
    """
    loaded = [
        name
        for name, value in data.items()
        if isinstance(value, models.Model) and Commitment._meta.get_field(name).is_relation
    ]
    if not uniqueness_checked:
        commitment.full_clean(exclude=loaded, validate_constraints=False)
        return
    errors: dict = {}
    for check in (lambda: commitment.clean_fields(exclude=loaded), commitment.clean_values):
        try:
            check()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _bump(commitment: Commitment) -> None:
    commitment.version += 1
    commitment.change_seq = next_change_seq()


def _follow_up_after(commitment: Commitment, now: dt.datetime) -> dt.datetime | None:
    if commitment.status in TERMINAL_STATUSES:
        return None
    return now + commitment.follow_up_cadence


def reference_number(visit: Visit, reference: str) -> int | None:
    """The number N of a reference <visit code>-N, or None for a reference of another form."""
    prefix = f"{visit.code}-"
    suffix = reference.removeprefix(prefix)
    if suffix == reference or not suffix.isascii() or not suffix.isdigit():
        return None
    return int(suffix)


def _reference(visit: Visit, number: int) -> str:
    return f"{visit.code}-{number:03d}"


def _take_reference_numbers(visit: Visit, *, count: int, at_least: int = 0) -> int:
    """Reserve `count` numbers after max(the visit's counter, at_least); return the first.
    Caller holds the visit lock (FOR NO KEY UPDATE), so this read-then-write cannot race.

    One UPDATE of one row, whatever the number of commitments: the counter replaces a scan
    of the visit's references (1.3 s per create at 1M rows, and wrong once seeded six-digit
    references met created three-digit ones).
    """
    first = max(visit.last_reference_number, at_least) + 1
    visit.last_reference_number = first + count - 1
    Visit.objects.filter(pk=visit.pk).update(last_reference_number=visit.last_reference_number)
    return first


def next_reference(visit: Visit) -> str:
    """Take the next free reference of a visit: <visit code>-NNN. Caller holds the visit
    lock (the counter is advanced: call it only for a commitment about to be saved)."""
    return _reference(visit, _take_reference_numbers(visit, count=1))


# A new commitment may start in these; the others need what only a move carries (a note
# for blocked and cancelled, evidence for fulfilled), so they are reached by a transition.
INITIAL_STATUSES = frozenset({Status.PROPOSED, Status.AGREED, Status.IN_PROGRESS})


def _check_new(data: Mapping[str, Any], status: str, channel: str) -> None:
    _check_known_fields(data)
    if status not in Status.values:
        raise ValidationError({"status": _("Unknown status %(s)s.") % {"s": status}})
    if status not in INITIAL_STATUSES and channel not in _TRUSTED_CHANNELS:
        raise ValidationError(
            {
                "status": _(
                    "A new commitment starts as proposed, agreed or in progress; move it to "
                    "%(s)s afterwards, with the note or evidence that move needs."
                )
                % {"s": status}
            }
        )


def _build_new(
    *,
    data: Mapping[str, Any],
    status: str,
    now: dt.datetime,
    reference: str = "",
    uniqueness_checked: bool = False,
) -> Commitment:
    """An unsaved, validated commitment: the rules of a create short of writing it.
    The caller has run _check_new."""
    _refuse_m2m(data)
    commitment = Commitment(status=status, status_changed_at=now, **data)
    if "due_date" in data:
        _check_due_date(Commitment._meta.get_field("due_date").to_python(data["due_date"]))
    commitment.reference = reference or "pending"
    if commitment.next_follow_up_at is None and status not in TERMINAL_STATUSES:
        commitment.next_follow_up_at = now + commitment.follow_up_cadence
    _full_clean(commitment, data, uniqueness_checked=uniqueness_checked)
    return commitment


def _apply_changes(commitment: Commitment, data: Mapping[str, Any]) -> dict[str, list]:
    """Set `data` on the (locked) commitment; return {field: [old, new]} for what differs.

    A value of the wrong type is a field error (raised together), not a crash.
    """
    _check_known_fields(data)
    _refuse_m2m(data)
    changes = {}
    errors = {}
    for name, value in data.items():
        field = Commitment._meta.get_field(name)
        old = getattr(commitment, field.attname)
        if field.is_relation:
            new = value.pk if hasattr(value, "pk") else value
        else:
            # Compare like with like ("5" and Decimal("5.00") are the same amount).
            try:
                new = field.to_python(value)
            except ValidationError as exc:
                errors[name] = exc.messages
                continue
        if name in TRANSLATION_FIELDS:  # "" and null both mean "no translation"
            old, new = old or None, new or None
        if old != new:
            changes[name] = [_as_text(old), _as_text(new)]
            setattr(commitment, field.attname if field.is_relation else name, new)
    if errors:
        raise ValidationError(errors)
    return changes


def commitment_create(
    *,
    actor,
    channel: str,
    data: Mapping[str, Any],
    reference: str = "",
    status: str = Status.PROPOSED,
    watchers: Iterable = (),
) -> Commitment:
    """Create a commitment; write its first history row ("" → status).

    The creator owns it unless a manager names another owner (owner_for_new). The
    set-based create with a list of one: one code path holds the rules; a refusal is
    raised here."""
    data, m2m = _split_m2m(data)
    if watchers:
        m2m["watchers"] = {getattr(w, "pk", w) for w in watchers}
    item = NewCommitment(data, status, reference=reference, m2m=m2m)
    (result,) = commitments_create_many(actor=actor, channel=channel, items=[item])
    if isinstance(result, Exception):
        raise result
    return result


def commitment_update(
    *,
    commitment_id: int,
    actor,
    channel: str,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> tuple[Commitment, bool]:
    """Change a commitment's fields (not its status). Returns (commitment, changed).

    Nothing is written, and the version stays, when every value is already as asked.
    Changing the owner is a reassignment and needs a manager. The set-based update with
    a list of one: one code path holds the rules; a refusal is raised here.
    """
    _check_known_fields(data)
    data, m2m = _split_m2m(data)
    change = CommitmentChange(commitment_id, data, expected_version, m2m=m2m)
    (result,) = commitments_update_many(actor=actor, channel=channel, items=[change])
    if isinstance(result, Exception):
        raise result
    return result


# --- Set-based create and update (the bulk sync) ------------------------------------------
# The same rules as commitment_create / commitment_update (the shared pieces above), with
# the per-row round trips done once per batch: one uniqueness query, one lock query, one
# reference MAX per visit, one block of change numbers, bulk INSERT / UPDATE. The number
# of queries does not grow with the number of items.


@dataclass(frozen=True)
class NewCommitment:
    data: Mapping[str, Any]
    status: str = Status.PROPOSED
    # From commitment_create only: a reference the caller chose (an import), and
    # many-to-many values as sets of ids (co-pledgers, watchers).
    reference: str = ""
    m2m: Mapping[str, set[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitmentChange:
    commitment_id: int
    data: Mapping[str, Any]
    expected_version: int | None = None
    # Many-to-many values as sets of ids, from commitment_update (`data` refuses them, so
    # a sync item naming co-pledgers is refused rather than silently dropped).
    m2m: Mapping[str, set[int]] = field(default_factory=dict)


def commitments_create_many(
    *, actor, channel: str, items: Sequence[NewCommitment]
) -> list[Commitment | Exception]:
    """Create many commitments in one transaction. Returns, per item in order, the new
    commitment or the error that refused it (nothing is written for a refused item).

    A concurrent writer taking an external id between our check and the INSERT makes the
    INSERT fail with IntegrityError, which is raised (the caller retries item by item).
    """
    try:
        _check_can_create(actor=actor, channel=channel)
    except PermissionDenied as exc:
        return [exc] * len(items)
    now = timezone.now()
    results: list[Commitment | Exception | None] = [None] * len(items)
    with transaction.atomic():
        built: dict[int, Commitment] = {}
        for index, item in enumerate(items):
            try:
                _check_new(item.data, item.status, channel)
                data = owner_for_new(actor=actor, channel=channel, data=item.data)
                if "watchers" in item.m2m:
                    watchers = item.m2m["watchers"]
                    check_can_set_watchers(actor=actor, channel=channel, watchers=watchers)
                built[index] = _build_new(
                    data=data,
                    status=item.status,
                    now=now,
                    reference=item.reference,
                    uniqueness_checked=True,
                )
            except (ValidationError, PermissionDenied) as exc:
                results[index] = exc
        wanted = {c.external_id for c in built.values() if c.external_id}
        taken = set(
            Commitment.objects.with_external_ids(wanted)
            .order_by()
            .values_list("external_id", flat=True)
        )
        for index, commitment in list(built.items()):
            if commitment.external_id and commitment.external_id in taken:
                results[index] = _external_id_taken()
                del built[index]
            elif commitment.external_id:
                taken.add(commitment.external_id)  # a second one in this batch is refused
        chosen = {items[index].reference: index for index in built if items[index].reference}
        for ref in Commitment.objects.filter(reference__in=chosen).values_list(
            "reference", flat=True
        ):
            index = chosen[ref]
            results[index] = built.pop(index).unique_error_message(Commitment, ("reference",))
        if built:
            _allocate_references(
                [c for i, c in built.items() if not items[i].reference],
                given=[c for i, c in built.items() if items[i].reference],
            )
            last = next_change_seq(count=len(built))
            for number, commitment in zip(
                range(last - len(built) + 1, last + 1), built.values(), strict=True
            ):
                commitment.change_seq = number
            Commitment.objects.bulk_create(built.values())
            StatusChange.objects.bulk_create(
                _created_row(commitment=c, actor=actor, channel=channel, now=now)
                for c in built.values()
            )
            for index, commitment in built.items():
                for name, ids in items[index].m2m.items():
                    if ids:
                        getattr(commitment, name).set(ids)
            AuditEvent.objects.bulk_create(
                _audit_row(action="create", actor=actor, channel=channel, commitment=c)
                for c in built.values()
            )
            webhook_events_record(event=WebhookEvent.CREATED, commitments=built.values())
        for index, commitment in built.items():
            results[index] = commitment
    return results


def _allocate_references(
    commitments: Iterable[Commitment], *, given: Iterable[Commitment] = ()
) -> None:
    """Number new commitments per visit, as next_reference would one at a time: each
    visit is locked once (in id order, so two batches cannot deadlock) and its counter
    advanced once by the batch's size. `given`: commitments whose reference the caller
    chose (an import); one in the numbered form moves its visit's counter past it."""
    per_visit: dict[int, list[Commitment]] = {}
    chosen: dict[int, list[str]] = {}
    for commitment in commitments:
        if commitment.visit_id:  # no visit: keeps "pending", as commitment_create does
            per_visit.setdefault(commitment.visit_id, []).append(commitment)
    for commitment in given:
        if commitment.visit_id:
            chosen.setdefault(commitment.visit_id, []).append(commitment.reference)
    if not per_visit and not chosen:
        return
    visits = (
        Visit.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted({*per_visit, *chosen}))
        .order_by("pk")
    )
    for visit in visits:
        numbers = [reference_number(visit, ref) for ref in chosen.get(visit.pk, ())]
        highest = max((n for n in numbers if n is not None), default=0)
        batch = per_visit.get(visit.pk, [])
        if not batch and highest <= visit.last_reference_number:
            continue
        first = _take_reference_numbers(visit, count=len(batch), at_least=highest)
        for number, commitment in enumerate(batch, start=first):
            commitment.reference = _reference(visit, number)


def commitments_update_many(
    *, actor, channel: str, items: Sequence[CommitmentChange]
) -> list[tuple[Commitment, bool] | Exception]:
    """Update many commitments in one transaction. Returns, per item in order,
    (commitment, changed) or the error that refused it (nothing written for that item).

    An id must appear once per call (each item is applied to the row as locked).
    """
    now = timezone.now()
    results: list[tuple[Commitment, bool] | Exception | None] = [None] * len(items)
    with transaction.atomic():
        ids = sorted({item.commitment_id for item in items})
        # One lock query, in id order (as any two batches take them: no deadlock).
        locked = {
            c.pk: c
            for c in Commitment.objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
        }
        editable = _editable_ids(actor=actor, commitments=locked.values(), channel=channel)
        pending: dict[int, tuple[Commitment, dict]] = {}
        for index, item in enumerate(items):
            commitment = locked.get(item.commitment_id)
            try:
                if commitment is None:
                    raise CommitmentNotFound
                _check_version(commitment, item.expected_version)
                if commitment.pk not in editable:
                    raise PermissionDenied(_("You may not change this commitment."))
                changes = _apply_changes(commitment, item.data)
                for name, ids in item.m2m.items():
                    old = set(getattr(commitment, name).values_list("pk", flat=True))
                    if old != ids:
                        changes[name] = [sorted(old), sorted(ids)]
                if not changes:
                    results[index] = (commitment, False)
                    continue
                _check_can_reassign(actor=actor, channel=channel, changes=changes)
                if "due_date" in changes:
                    _check_due_date(commitment.due_date)
                _full_clean(commitment, item.data, uniqueness_checked=True)
            except (ValidationError, PermissionDenied, VersionConflict) as exc:
                # The instance may hold values set before the refusal; it is not saved
                # and not returned.
                results[index] = exc
                continue
            pending[index] = (commitment, changes)
        # New owners must be active users: one query for all the reassigned rows.
        owner_ids = {c.owner_id for c, ch in pending.values() if "owner" in ch and c.owner_id}
        owners = User.objects.in_bulk(owner_ids) if owner_ids else {}
        for index, (c, changes) in list(pending.items()):
            if "owner" in changes and c.owner_id is not None:
                try:
                    _check_owner_active(owners.get(c.owner_id))
                except ValidationError as exc:
                    results[index] = exc
                    pending.pop(index)
                    continue
                c.owner = owners[c.owner_id]
        renamed = {
            c.external_id: index
            for index, (c, changes) in pending.items()
            if "external_id" in changes and c.external_id
        }
        if renamed:
            clash = Commitment.objects.with_external_ids(renamed).exclude(
                pk__in=[c.pk for c, _changes in pending.values()]
            )
            for external_id in clash.values_list("external_id", flat=True):
                results[renamed[external_id]] = _external_id_taken()
                pending.pop(renamed[external_id])
        if pending:
            rows = [c for c, _changes in pending.values()]
            last = next_change_seq(count=len(rows))
            for number, commitment in zip(range(last - len(rows) + 1, last + 1), rows, strict=True):
                commitment.version += 1
                commitment.change_seq = number
                commitment.updated_at = now  # bulk_update does not apply auto_now
            fields = {
                name
                for _c, changes in pending.values()
                for name in changes
                if name not in M2M_FIELDS
            }
            attnames = sorted(Commitment._meta.get_field(name).attname for name in fields)
            Commitment.objects.bulk_update(rows, [*attnames, "version", "change_seq", "updated_at"])
            for index, (c, changes) in pending.items():
                for name, ids in items[index].m2m.items():
                    if name in changes:
                        getattr(c, name).set(ids)
            reminders_void_stale_many(commitments=rows)
            Note.objects.bulk_create(
                _reassign_note(commitment=c, actor=actor, channel=channel)
                for c, changes in pending.values()
                if "owner" in changes and c.owner_id is not None
            )
            AuditEvent.objects.bulk_create(
                _audit_row(
                    action="update", actor=actor, channel=channel, commitment=c, changes=changes
                )
                for c, changes in pending.values()
            )
            webhook_events_record_many(
                items=[
                    (WebhookEvent.DUE_DATE_CHANGED, c, {"due_date": changes["due_date"]})
                    for c, changes in pending.values()
                    if "due_date" in changes
                ]
            )
        for index, (commitment, _changes) in pending.items():
            results[index] = (commitment, True)
    return results


# What a status move may change on the row (commitment_transition sets no other field):
# the UPDATE writes these alone, not all fifty columns.
_MOVED_FIELDS = (
    "status",
    "status_changed_at",
    "progress",
    "due_date",
    "next_follow_up_at",
    "snoozed_until",
    "version",
    "change_seq",
    "updated_at",
)


def commitment_transition(
    *,
    commitment_id: int,
    to_status: str,
    actor,
    channel: str,
    note: str = "",
    evidence: Iterable[EvidenceInput] = (),
    expected_version: int | None = None,
    undo: bool = False,
    due_date: dt.date | None = None,
) -> StatusChange:
    """Move a commitment to another status: the one place a status changes.

    ``undo`` is for commitment_undo_last_move only: that service has already checked
    that the move goes back to where the actor's own last move came from, so the move
    table and the reopening right do not apply to it.

    Locks the row, checks the version the caller read (when given), the caller's right
    to edit, the move table and its rules (a note for blocked/cancelled and for any
    reopening, evidence for fulfilled, a manager to reopen), then writes the evidence,
    the history row and the new status and version, all in one transaction.

    Reopening (a closed item back to an open status) must leave something that can fall
    overdue: a due date, given here as `due_date` or already on the commitment; and a
    fulfilled item's progress drops to REOPENED_PROGRESS_CAP (its work is not done).
    """
    note = (note or "").strip()
    _check_text(note, name="note", validators=StatusChange._meta.get_field("note").validators)
    if to_status not in Status.values:
        raise ValidationError({"to": _("Unknown status “%(s)s”.") % {"s": to_status}})
    now = timezone.now()
    with transaction.atomic():
        commitment = _lock(commitment_id)
        _check_version(commitment, expected_version)
        _check_can_edit(actor=actor, commitment=commitment, channel=channel)
        from_status = commitment.status
        terms = reminder_terms(commitment)
        allowed = sorted(TRANSITIONS[from_status])
        if to_status not in TRANSITIONS[from_status] and not undo:
            raise TransitionNotAllowed(from_status, to_status, allowed)
        reopening = from_status in TERMINAL_STATUSES
        if reopening and not undo and channel not in _TRUSTED_CHANNELS and not can_reopen(actor):
            raise TransitionNotAllowed(
                from_status, to_status, [], reason=_("Only a manager may reopen a closed item.")
            )
        if (to_status in NOTE_REQUIRED or reopening) and not note:
            raise ValidationError({"note": _("Say why in a note.")})
        if due_date is not None:
            if not reopening:
                raise ValidationError(
                    {"due_date": _("Change the due date by editing, not with a status move.")}
                )
            _check_due_date(due_date)
            if due_date < timezone.localdate():
                raise ValidationError({"due_date": _("Give a due date from today on.")})
        if reopening and not undo and due_date is None and commitment.due_date is None:
            raise ValidationError(
                {"due_date": _("Give a due date when reopening, so it can fall overdue.")}
            )
        new_evidence = _validate_evidence(evidence, commitment)
        if to_status == Status.FULFILLED and not new_evidence and not commitment.evidence.exists():
            raise ValidationError(
                {"evidence": _("Attach at least one piece of evidence to mark it fulfilled.")}
            )
        for row in new_evidence:
            row.added_by = actor if getattr(actor, "pk", None) else None
            row.added_at = now
            row.save()
        commitment.status = to_status
        commitment.status_changed_at = now
        if to_status == Status.FULFILLED:
            commitment.progress = 100
        if reopening:
            commitment.progress = min(commitment.progress, REOPENED_PROGRESS_CAP)
            if due_date is not None:
                commitment.due_date = due_date
        if to_status in TERMINAL_STATUSES:
            commitment.next_follow_up_at = None
            commitment.snoozed_until = None
        elif reopening or (actor is not None and actor.pk == commitment.owner_id):
            # The owner just reported: the next follow-up request is a cadence away.
            commitment.next_follow_up_at = _follow_up_after(commitment, now)
        commitment.version += 1
        if reminder_terms(commitment) != terms:
            reminders_void_stale(commitment=commitment)
        change = StatusChange.objects.create(
            commitment=commitment,
            from_status=from_status,
            to_status=to_status,
            actor=actor if getattr(actor, "pk", None) else None,
            at=now,
            note=note,
            channel=channel,
            version=commitment.version,
        )
        _audit(
            action="transition",
            actor=actor,
            channel=channel,
            commitment=commitment,
            changes={
                "status": [from_status, to_status],
                "evidence": len(new_evidence),
                **({"due_date": due_date.isoformat()} if due_date else {}),
            },
        )
        # The change number last: its lock orders every writer until it commits, so it
        # is taken when only the row update, the outbox and the commit remain (writers
        # then overlap for the rest; issue 13). The row is locked since _lock anyway.
        commitment.change_seq = next_change_seq()
        commitment.save(update_fields=_MOVED_FIELDS)
        webhook_events_record(
            event=WebhookEvent.STATUS_CHANGED,
            commitments=[commitment],
            data={"from": from_status, "to": to_status, "note": note},
        )
    return change


def commitment_undo_last_move(
    *, commitment_id: int, actor, channel: str, now: dt.datetime | None = None
) -> StatusChange:
    """Take back the actor's own last move, within settings.TRACKER_UNDO_MINUTES and only
    while nothing else changed since: a new history row moving back, never an edit."""
    with transaction.atomic():
        commitment = _lock(commitment_id)
        last = undoable_move(commitment, actor, now)
        if last is None:
            raise ValidationError(
                {
                    "commitment": _(
                        "There is no move of yours to undo: only your own last move can be "
                        "undone, within %(m)s minutes and before anything else changes."
                    )
                    % {"m": settings.TRACKER_UNDO_MINUTES}
                }
            )
        labels = dict(Status.choices)
        return commitment_transition(
            commitment_id=commitment.pk,
            to_status=last.from_status,
            actor=actor,
            channel=channel,
            note=_("Undid the move to %(s)s.") % {"s": labels[last.to_status]},
            expected_version=commitment.version,
            undo=True,
        )


def evidence_add(
    *,
    commitment_id: int,
    actor,
    channel: str,
    item: EvidenceInput,
) -> Evidence:
    with transaction.atomic():
        commitment = _lock(commitment_id)
        _check_can_edit(actor=actor, commitment=commitment, channel=channel)
        (row,) = _validate_evidence([item], commitment)
        row.added_by = actor if getattr(actor, "pk", None) else None
        row.save()
        _audit("evidence_add", actor, channel, commitment, {"evidence": row.pk, "url": row.url})
        webhook_events_record(
            event=WebhookEvent.EVIDENCE_ADDED,
            commitments=[commitment],
            data={"evidence": {"id": row.pk, "url": row.url, "title": row.title}},
        )
    return row


def note_add(
    *,
    commitment_id: int,
    actor,
    channel: str,
    text: str,
    kind: str = Note.Kind.COMMENT,
) -> Note:
    """Log a follow-up note. A note by the owner counts as an update: the next
    follow-up request moves a cadence forward (which bumps the version)."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("A note cannot be empty.")})
    now = timezone.now()
    with transaction.atomic():
        commitment = _lock(commitment_id)
        _check_can_edit(actor=actor, commitment=commitment, channel=channel)
        note = Note(
            commitment=commitment,
            author=actor,
            kind=kind,
            text=text,
            channel=channel,
            created_at=now,
        )
        note.full_clean(exclude=["author"])
        note.save()
        if actor is not None and actor.pk == commitment.owner_id and commitment.is_open:
            commitment.next_follow_up_at = _follow_up_after(commitment, now)
            _bump(commitment)
            commitment.save(
                update_fields=["next_follow_up_at", "version", "change_seq", "updated_at"]
            )
            reminders_void_stale(commitment=commitment)
        _audit("note_add", actor, channel, commitment, {"note": note.pk})
        webhook_events_record(
            event=WebhookEvent.NOTE_ADDED,
            commitments=[commitment],
            data={"note": {"id": note.pk, "kind": note.kind, "text": note.text}},
        )
    return note


def commitment_snooze(
    *,
    commitment_id: int,
    actor,
    channel: str,
    until: dt.date,
    reason: str,
    expected_version: int | None = None,
) -> Commitment:
    """Hold follow-up reminders until `until`. It never hides the item from overdue lists."""
    reason = (reason or "").strip()
    _check_text(reason, name="reason", validators=SHORT_NOTE_VALIDATORS)
    errors = {}
    if not reason:
        errors["reason"] = _("Give a reason for the snooze.")
    today = timezone.localdate()
    if until is None or until <= today:
        errors["until"] = _("Snooze until a date after today.")
    elif until > today + dt.timedelta(days=SNOOZE_MAX_DAYS):
        errors["until"] = _("Snooze for at most %(n)d days.") % {"n": SNOOZE_MAX_DAYS}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        commitment = _lock(commitment_id)
        _check_version(commitment, expected_version)
        _check_can_edit(actor=actor, commitment=commitment, channel=channel)
        if not commitment.is_open:
            raise ValidationError({"until": _("A closed commitment has no follow-ups to snooze.")})
        # A snooze that ends before the next follow-up request holds nothing.
        follow_up = commitment.next_follow_up_at
        if follow_up is not None and until <= timezone.localdate(follow_up):
            raise ValidationError(
                {
                    "until": _("The next follow-up is on %(d)s: snooze until a later date.")
                    % {"d": timezone.localdate(follow_up).isoformat()}
                }
            )
        old = commitment.snoozed_until
        commitment.snoozed_until = until
        _bump(commitment)
        commitment.save(update_fields=["snoozed_until", "version", "change_seq", "updated_at"])
        Note.objects.create(
            commitment=commitment,
            author=actor,
            kind=Note.Kind.SNOOZE,
            channel=channel,
            text=_("Follow-up snoozed until %(d)s: %(r)s") % {"d": until.isoformat(), "r": reason},
        )
        changes = {"snoozed_until": [_as_text(old), until.isoformat()], "reason": reason}
        _audit("snooze", actor, channel, commitment, changes)
    return commitment


def commitment_reassign(
    *,
    commitment_id: int,
    actor,
    channel: str,
    owner,
    note: str = "",
    expected_version: int | None = None,
) -> Commitment:
    """Give a commitment a new owner (managers only), logged in the timeline."""
    if channel not in _TRUSTED_CHANNELS and not can_reassign(actor):
        raise PermissionDenied(_("Only a manager may reassign a commitment."))
    _check_text((note or "").strip(), name="note", validators=SHORT_NOTE_VALIDATORS)
    _check_owner_active(owner)
    with transaction.atomic():
        commitment = _lock(commitment_id)
        _check_version(commitment, expected_version)
        old_owner_id = commitment.owner_id
        if old_owner_id == owner.pk:
            return commitment
        commitment.owner = owner
        _bump(commitment)
        commitment.save(update_fields=["owner", "version", "change_seq", "updated_at"])
        reminders_void_stale(commitment=commitment)
        _reassign_note(commitment=commitment, actor=actor, channel=channel, note=note).save()
        _audit("reassign", actor, channel, commitment, {"owner": [old_owner_id, owner.pk]})
    return commitment


def note_retract(*, note_id: int, actor, channel: str, reason: str) -> Note:
    """Retract a mistaken note: a new timeline entry (kind `retraction`) that hides the
    original from the default timeline. The original row stays, unchanged, for audit:
    history is append-only, so a retraction is the only way a note goes away.

    Only a comment's author or a manager may retract it, once, with a reason.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the note is retracted.")})
    with transaction.atomic():
        try:
            original = Note.objects.select_related("commitment").get(pk=note_id)
        except Note.DoesNotExist:
            raise ValidationError({"note": _("No such note.")}) from None
        # The commitment's lock orders this against a second retraction of the same note.
        commitment = _lock(original.commitment_id)
        if channel not in _TRUSTED_CHANNELS and not can_retract_note(actor, original):
            raise PermissionDenied(_("Only the note's author or a manager may retract it."))
        if Note.objects.filter(retracts=original).exists():
            raise ValidationError({"note": _("This note is already retracted.")})
        retraction = Note(
            commitment=commitment,
            author=actor if getattr(actor, "pk", None) else None,
            kind=Note.Kind.RETRACTION,
            text=reason,
            channel=channel,
            retracts=original,
        )
        retraction.full_clean(exclude=["author", "commitment", "retracts"])
        retraction.save()
        changes = {"note": original.pk, "retraction": retraction.pk}
        _audit("note_retract", actor, channel, commitment, changes)
    return retraction


def commitment_watchers_set(
    *,
    commitment_id: int,
    actor,
    channel: str,
    watchers: Iterable,
    expected_version: int | None = None,
) -> tuple[Commitment, bool]:
    """Replace a commitment's watchers (managers only: a watcher may edit it, so adding
    one hands out that right, as a reassignment does). Returns (commitment, changed).

    A change bumps the version and the change order and leaves an audit row naming who
    was added and who removed; the same list again writes nothing.
    """
    if channel not in _TRUSTED_CHANNELS and not can_reassign(actor):
        raise PermissionDenied(_("Only a manager may change who watches a commitment."))
    wanted = {getattr(user, "pk", user) for user in watchers}
    with transaction.atomic():
        commitment = _lock(commitment_id)
        _check_version(commitment, expected_version)
        current = set(commitment.watchers.values_list("pk", flat=True))
        if wanted == current:
            return commitment, False
        found = set(User.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        if found != wanted:
            raise ValidationError({"watchers": _("Choose existing users as watchers.")})
        commitment.watchers.set(wanted)
        _bump(commitment)
        commitment.save(update_fields=["version", "change_seq", "updated_at"])
        changes = {"added": sorted(wanted - current), "removed": sorted(current - wanted)}
        _audit("watchers_set", actor, channel, commitment, changes)
    return commitment, True
