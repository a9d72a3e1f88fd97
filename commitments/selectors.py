"""Read helpers for the browser pages: list querysets, dashboard figures, the timeline.

Every page here must run a fixed number of queries whatever its size, so per-row facts
(the last status change and its note, days overdue) are computed by the database as
annotations instead of being fetched row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from . import translated
from .models import (
    MONEY_PLEDGED_KINDS,
    OPEN_STATUSES,
    TARGET_KINDS,
    TERMINAL_STATUSES,
    ChangeCounter,
    Commitment,
    Evidence,
    FigureKind,
    FigureUnit,
    Note,
    Organisation,
    Reminder,
    Sector,
    Status,
    StatusChange,
    Visit,
    is_overdue_on,
    overdue_q,
    today_local,
)
from .translated import COMMITMENT_TEXTS, columns

# Days ahead that the dashboard's "falls due soon" panel looks.
DUE_SOON_DAYS = 14
DUE_SOON_SHOWN = 10


def _last_change(field: str) -> Subquery:
    # The newest move of the outer commitment; the unique (commitment, version) index
    # makes this one index probe per row shown. The row that recorded the commitment
    # (no from_status) is not a change: an imported commitment that never moved shows
    # none, rather than its load date.
    return Subquery(
        StatusChange.objects.filter(commitment=OuterRef("pk"))
        .exclude(from_status="")
        .order_by("-version")
        .values(field)[:1]
    )


def commitment_rows(queryset: QuerySet[Commitment] | None = None) -> QuerySet[Commitment]:
    """Commitments ready for a table: related names joined, days overdue and the last
    status change (when, to what, its note) annotated."""
    queryset = Commitment.objects.all() if queryset is None else queryset
    return (
        queryset.select_related("owner", "pledged_by", "beneficiary", "visit")
        .with_overdue_days()
        .annotate(
            last_change_at=_last_change("at"),
            last_change_to=_last_change("to_status"),
            last_change_note=_last_change("note"),
        )
    )


# What the API shows of a commitment, as plain values: a list page reads these with
# .values() (no model instances: they were half of a list request's time, issue 13) and
# a single commitment reads the same names off its instance (api/serializers.py).
API_ROW_FIELDS = (
    "id",
    "reference",
    "external_id",
    "title",
    "description",
    "visit_id",
    "parent_id",
    "sector",
    "nature",
    "status",
    "due_date",
    "next_follow_up_at",
    "follow_up_every_days",
    "snoozed_until",
    "status_changed_at",
    "owner_id",
    "pledged_by_id",
    "beneficiary_id",
    "amount",
    "currency",
    "figure_kind",
    "unit",
    "figure_year",
    "progress",
    "source_id",
    "source_quote",
    "version",
    "change_seq",
    "created_at",
    "updated_at",
    # The translations shown beside the originals (commitments/translated.py).
    *columns(COMMITMENT_TEXTS),
)


def commitment_api_rows(queryset: QuerySet[Commitment] | None = None) -> QuerySet[dict]:
    """Commitments (default: all; filters may be applied before or after) as dicts of
    API_ROW_FIELDS plus owner_username and, on PostgreSQL, co_pledger_ids (an array
    subquery: the page in one query; elsewhere co_pledger_ids() reads them in a second).

    The unfiltered one is built once per process and cloned: resolving thirty-odd
    columns and the subquery cost a millisecond a request (issue 13)."""
    if queryset is not None:
        return queryset.plain().values(*API_ROW_FIELDS, **_api_row_extras())
    # Per language too: a translated column may be chosen by the active language.
    key = (connection.vendor, get_language())
    base = _API_ROWS.get(key)
    if base is None:
        base = _API_ROWS[key] = Commitment.objects.plain().values(
            *API_ROW_FIELDS, **_api_row_extras()
        )
    return base.all()


_API_ROWS: dict[tuple, QuerySet[dict]] = {}


def _api_row_extras() -> dict:
    extra = {"owner_username": F("owner__username")}
    if connection.vendor == "postgresql":
        extra["co_pledger_ids"] = ArraySubquery(
            Commitment.co_pledgers.through.objects.filter(commitment_id=OuterRef("pk"))
            .order_by("organisation_id")
            .values("organisation_id")
        )
    return extra


def co_pledger_ids(commitment_ids: Iterable[int]) -> dict[int, list[int]]:
    """The other pledging parties of each commitment, ids ascending: one query for a page."""
    through = Commitment.co_pledgers.through.objects
    found: dict[int, list[int]] = {}
    rows = (
        through.filter(commitment_id__in=list(commitment_ids))
        .order_by("commitment_id", "organisation_id")
        .values_list("commitment_id", "organisation_id")
    )
    for commitment_id, organisation_id in rows:
        found.setdefault(commitment_id, []).append(organisation_id)
    return found


@dataclass(frozen=True)
class ExportRow:
    """One commitment as an export writes it: plain values, no model instance."""

    reference: str
    title: str
    status: str
    days_overdue: int | None
    due_date: dt.date | None
    owner: str
    pledged_by: str
    co_pledgers: tuple[str, ...]
    beneficiary: str
    sector: str
    figure_kind: str
    amount: Decimal | None
    currency_or_unit: str
    figure_year: int | None
    last_change_at: dt.datetime | None
    last_change_note: str
    next_follow_up_at: dt.datetime | None


_EXPORT_COLUMNS = (
    "pk",
    "reference",
    "title",
    "status",
    "due_date",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
    "pledged_by__name",
    "beneficiary__name",
    "sector",
    "figure_kind",
    "amount",
    "currency",
    "unit",
    "figure_year",
    "next_follow_up_at",
)


def _one_of(field: str, ids: list[int]) -> Q:
    """`field` is one of `ids`: on PostgreSQL an array in one parameter (a chunk's 2,000
    placeholders cost more to prepare than the query took to run); elsewhere IN."""
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": ids})
    return Q(**{f"{field}__in": RawSQL("SELECT unnest(%s::bigint[])", [ids])})


def export_rows(queryset: QuerySet[Commitment], *, chunk_size: int = 2000) -> Iterable[ExportRow]:
    """Every commitment of `queryset`, in its order, for a streamed export.

    The work per row is flat: one cursor over plain values (the joins in the same query),
    then per chunk one query for the chunk's history and one for its co-pledgers, instead
    of three correlated subqueries per row and a model instance each (issue 13: the
    overdue CSV at 1M rows ran past gunicorn's timeout)."""
    today = today_local()
    rows = queryset.plain().values_list(*_EXPORT_COLUMNS).iterator(chunk_size=chunk_size)
    while True:
        chunk = [row for _, row in zip(range(chunk_size), rows, strict=False)]
        if not chunk:
            return
        pks = [row[0] for row in chunk]
        last: dict[int, tuple[int, dt.datetime, str]] = {}
        # As _last_change: the row that recorded the commitment is not a change.
        history = StatusChange.objects.filter(_one_of("commitment_id", pks)).exclude(from_status="")
        history = history.order_by()
        for commitment_id, version, at, note in history.values_list(
            "commitment_id", "version", "at", "note"
        ):
            if commitment_id not in last or version > last[commitment_id][0]:
                last[commitment_id] = (version, at, note)
        co: dict[int, list[str]] = {}
        through = Commitment.co_pledgers.through.objects.filter(_one_of("commitment_id", pks))
        for commitment_id, name in through.order_by("organisation__name").values_list(
            "commitment_id", "organisation__name"
        ):
            co.setdefault(commitment_id, []).append(name)
        for pk, ref, title, status, due, username, first, last_name, pledger, *rest in chunk:
            beneficiary, *rest = rest
            sector, kind, amount, currency, unit, year, follow_up = rest
            overdue = is_overdue_on(status=status, due_date=due, on=today)
            _, at, note = last.get(pk, (0, None, ""))
            yield ExportRow(
                reference=ref,
                title=title,
                status=status,
                days_overdue=(today - due).days if overdue else None,
                due_date=due,
                # The owner as the pages name them: full name, else username.
                owner=f"{first} {last_name}".strip() or username or "",
                pledged_by=pledger,
                co_pledgers=tuple(co.get(pk, ())),
                beneficiary=beneficiary or "",
                sector=sector,
                figure_kind=kind,
                amount=amount,
                currency_or_unit=currency or unit,
                figure_year=year,
                last_change_at=at,
                last_change_note=note or "",
                next_follow_up_at=follow_up,
            )


def overdue_commitments(on: dt.date | None = None) -> QuerySet[Commitment]:
    """Open commitments past their due date, most overdue first."""
    return Commitment.objects.overdue(on=on).order_by("due_date", "reference")


class OwnerGroupedIds:
    """The ids of an ordered `queryset`, grouped by owner: the owned commitments by the
    owner's username and then the queryset's own order, then those nobody owns, in the
    queryset's order. For a Paginator: count() and slices, each one or two queries.

    One query ordered by the owner's username LEFT JOINs the users, and PostgreSQL then
    sorts every matching row: 159 ms for a page of the 232,000 overdue at a million
    commitments. Split in two, each side has an index path: the owned rows join the users
    inside (the planner walks the owners by username and reads each one's rows from
    commitment_open_owner_due: 2-3 ms), the unowned rows are the queryset's order alone."""

    def __init__(self, queryset: QuerySet[Commitment], within: Iterable[str]):
        within = tuple(within)  # used twice below: a generator would leave the second empty
        ids = queryset.values_list("pk", flat=True)
        self._queryset = queryset
        self._owned = ids.filter(owner__isnull=False).order_by("owner__username", *within)
        self._unowned = ids.filter(owner__isnull=True).order_by(*within)
        self._owned_count: int | None = None

    def count(self) -> int:
        # Two counts, each from an index; one COUNT(*) FILTER (owner IS NULL) reads the
        # owner of every row (44 ms at a million against 18 + 0.1).
        total = self._queryset.count()
        self._owned_count = total - self._unowned.count()
        return total

    def __getitem__(self, part: slice) -> list[int]:
        if not isinstance(part, slice) or part.step is not None:
            raise TypeError("OwnerGroupedIds takes slices without a step.")
        start, stop = part.start or 0, part.stop
        if self._owned_count is None:
            self.count()
        owned = self._owned_count
        ids = list(self._owned[start:stop]) if start < owned else []
        if stop is None or stop > owned:
            rest = None if stop is None else stop - owned
            ids += list(self._unowned[max(start - owned, 0) : rest])
        return ids


def rows_for_page(ids: list[int]) -> list[Commitment]:
    """The table rows for one page of ids, in the ids' order.

    Pages are cut in two steps: the filtered, ordered query selects only ids (a narrow
    sort the database does fast even over 100,000 rows), then this fetches the page's
    rows with their joins and annotations by primary key."""
    rows = {
        c.pk: c
        for c in commitment_rows(Commitment.objects.filter(pk__in=ids)).prefetch_related(
            "co_pledgers"
        )
    }
    return [rows[pk] for pk in ids if pk in rows]


@dataclass(frozen=True)
class SectorRow:
    sector: str
    label: str
    counts: dict[str, int]  # open status -> count
    total: int

    @property
    def cells(self) -> list[int]:
        """The counts in the order of OPEN_STATUSES as Status lists them, for tables."""
        return list(self.counts.values())


@dataclass(frozen=True)
class Dashboard:
    by_status: list[tuple[str, str, int]]  # (status, label, count), every status
    open_total: int
    by_sector: list[SectorRow]  # open commitments, sectors that have any
    overdue_count: int
    due_soon: list[Commitment]
    due_soon_count: int
    due_soon_from: dt.date
    due_soon_until: dt.date
    # Money pledged (investment, grant, credit) only: status, label, currency, total, count.
    pledged: list[dict[str, Any]]
    # The other kinds of figure, never added to the above: each row has kind, label,
    # measure (a currency or a unit), total, count.
    agreements: list[dict[str, Any]]  # value of agreements signed
    targets: list[dict[str, Any]]  # trade turnover, volume
    unstated: list[dict[str, Any]]  # an amount whose kind nobody recorded
    open_statuses: list[tuple[str, str]]


# How old the dashboard's figures may be while commitments keep changing (issue 13).
DASHBOARD_MAX_AGE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class DashboardSummary:
    figures: Dashboard
    manager: ManagerView  # overdue by owner and counterpart, the weekly trend
    as_of: dt.datetime  # when the figures were computed, shown on the page
    fresh: bool  # no commitment has changed since


def dashboard_summary(on: dt.date | None = None) -> DashboardSummary:
    """The dashboard's figures, computed at most once per change or per DASHBOARD_MAX_AGE.

    dashboard_figures reads every row (0.1 s at 100k, 0.4-0.6 s at 1M). The change
    counter, one row every commitment write moves, says whether anything changed since
    the last computation: unchanged, the figures are served as they are, exact, at the
    cost of one primary-key read whatever the table size; changed, they are recomputed,
    unless they are younger than DASHBOARD_MAX_AGE (a busy minute recomputes once, and
    the page shows the figures' age)."""
    on = on or today_local()
    seq = ChangeCounter.committed()
    key = f"dashboard-summary:{on.isoformat()}"
    now = timezone.now()
    cached = cache.get(key)
    if cached is not None:
        cached_seq, figures, manager, as_of = cached
        if cached_seq == seq or now - as_of < DASHBOARD_MAX_AGE:
            return DashboardSummary(
                figures=figures, manager=manager, as_of=as_of, fresh=cached_seq == seq
            )
    figures, manager = dashboard_figures(on), manager_view(on)
    cache.set(key, (seq, figures, manager, now), timeout=24 * 3600)
    return DashboardSummary(figures=figures, manager=manager, as_of=now, fresh=True)


def dashboard_figures(on: dt.date | None = None) -> Dashboard:
    """Everything the dashboard shows, in three queries whatever the data size."""
    on = on or today_local()
    open_statuses = [(s.value, s.label) for s in Status if s in OPEN_STATUSES]
    open_values = {value for value, _ in open_statuses}

    # One scan gives the totals by status, the open sector x status grid and the sums of
    # figures by kind (money pledged also by status) and currency or unit.
    grid: dict[str, dict[str, int]] = {}
    status_counts: dict[str, int] = {}
    money: dict[tuple[str, str], list] = {}
    other: dict[tuple[str, str], list] = {}
    for sector, status, currency, kind, unit, n, total, with_amount in (
        Commitment.objects.order_by()
        .values_list("sector", "status", "currency", "figure_kind", "unit")
        .annotate(
            n=Count("pk"),
            total=Sum("amount"),
            with_amount=Count("pk", filter=Q(amount__isnull=False)),
        )
    ):
        status_counts[status] = status_counts.get(status, 0) + n
        if status in open_values:
            cell = grid.setdefault(sector, {})
            cell[status] = cell.get(status, 0) + n
        if not with_amount:
            continue
        if kind in MONEY_PLEDGED_KINDS:
            pair = money.setdefault((status, currency), [Decimal(0), 0])
        else:
            pair = other.setdefault((kind, currency or unit), [Decimal(0), 0])
        pair[0] += total
        pair[1] += with_amount
    by_status = [(s.value, s.label, status_counts.get(s.value, 0)) for s in Status]
    by_sector = [
        SectorRow(
            sector=s.value,
            label=s.label,
            counts={value: grid[s.value].get(value, 0) for value, _ in open_statuses},
            total=sum(grid[s.value].values()),
        )
        for s in Sector
        if s.value in grid
    ]

    # Overdue and due-soon counts in one pass over the open-by-due-date index.
    until = on + dt.timedelta(days=DUE_SOON_DAYS)
    counts = (
        Commitment.objects.open()
        .filter(due_date__lte=until)
        .aggregate(
            overdue=Count("pk", filter=overdue_q(on)),
            due_soon=Count("pk", filter=Q(due_date__gte=on)),
        )
    )
    due_soon = list(
        Commitment.objects.due_between(on, until)
        .select_related("owner")
        .order_by("due_date", "reference")[:DUE_SOON_SHOWN]
    )

    labels = dict(Status.choices)
    pledged = [
        {
            "status": status,
            "label": labels.get(status, status),
            "currency": currency,
            "total": total,
            "count": n,
        }
        for (status, currency), (total, n) in money.items()
    ]
    pledged.sort(key=lambda row: (Status.values.index(row["status"]), row["currency"]))
    kinds = dict(FigureKind.choices)
    units = dict(FigureUnit.choices)
    figures = sorted(
        (
            {
                "kind": kind,
                "label": kinds.get(kind, "Kind not stated"),
                "measure": units.get(measure, measure),
                "total": total,
                "count": n,
            }
            for (kind, measure), (total, n) in other.items()
        ),
        key=lambda row: (row["kind"], row["measure"]),
    )

    return Dashboard(
        by_status=by_status,
        open_total=sum(n for value, _, n in by_status if value in OPEN_STATUSES),
        by_sector=by_sector,
        overdue_count=counts["overdue"],
        due_soon=due_soon,
        due_soon_count=counts["due_soon"],
        due_soon_from=on,
        due_soon_until=until,
        pledged=pledged,
        agreements=[r for r in figures if r["kind"] == FigureKind.AGREEMENT_VALUE],
        targets=[r for r in figures if r["kind"] in TARGET_KINDS],
        unstated=[r for r in figures if not r["kind"]],
        open_statuses=open_statuses,
    )


# --- Timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a commitment's history. `kind` names the template that draws it:
    templates/commitments/timeline/<kind>.html."""

    at: dt.datetime
    kind: str
    actor: Any  # a user or None (the system, an import)
    item: Any  # the row behind the entry
    # Breaks ties between entries written in one transaction (a move and its evidence
    # share a timestamp): the higher rank is shown first.
    rank: int = 0


def _status_entries(commitment: Commitment) -> Iterable[TimelineEntry]:
    for change in StatusChange.objects.filter(commitment=commitment).select_related("actor"):
        yield TimelineEntry(at=change.at, kind="status", actor=change.actor, item=change, rank=2)


def _note_entries(commitment: Commitment) -> Iterable[TimelineEntry]:
    notes = Note.objects.filter(commitment=commitment).select_related(
        "author", "retracted_by", "retracts__author"
    )
    for note in notes:
        yield TimelineEntry(at=note.created_at, kind="note", actor=note.author, item=note, rank=1)


def _evidence_entries(commitment: Commitment) -> Iterable[TimelineEntry]:
    for row in Evidence.objects.filter(commitment=commitment).select_related("added_by", "source"):
        yield TimelineEntry(at=row.added_at, kind="evidence", actor=row.added_by, item=row)


def reminders_for_timeline(*, commitment: Commitment) -> QuerySet[Reminder]:
    """The commitment's reminders for its timeline: sent, pending and failed (not void)."""
    return Reminder.objects.for_timeline(commitment)


def _reminder_entries(commitment: Commitment) -> Iterable[TimelineEntry]:
    # Reminders that went out, and those that finally failed (so the owner's silence is
    # not mistaken for a reminder that was never sent). Pending ones are not history yet.
    rows = reminders_for_timeline(commitment=commitment).filter(
        state__in=[Reminder.State.SENT, Reminder.State.FAILED]
    )
    for row in rows:
        yield TimelineEntry(at=row.sent_at or row.send_after, kind="reminder", actor=None, item=row)


# Where timeline entries come from. Another kind of history (reminders sent, say) joins
# the timeline by appending a function here and adding timeline/<kind>.html.
TIMELINE_SOURCES: list[Callable[[Commitment], Iterable[TimelineEntry]]] = [
    _status_entries,
    _note_entries,
    _evidence_entries,
    _reminder_entries,
]


def commitment_timeline(
    commitment: Commitment, *, show_retracted: bool = False
) -> list[TimelineEntry]:
    """Status changes, notes, evidence and reminders of one commitment, newest first.

    Retracted notes are left out unless `show_retracted` (their retraction entries stay,
    so the default view still says a note was withdrawn, by whom and why)."""
    entries = [entry for source in TIMELINE_SOURCES for entry in source(commitment)]
    if not show_retracted:
        entries = [e for e in entries if not (e.kind == "note" and e.item.is_retracted)]
    entries.sort(key=lambda e: (e.at, e.rank, getattr(e.item, "pk", 0) or 0), reverse=True)
    return entries


def undoable_move(
    commitment: Commitment, user, now: dt.datetime | None = None
) -> StatusChange | None:
    """The move this user may undo now, if any: the commitment's last status change,
    made by this user, within settings.TRACKER_UNDO_MINUTES, with nothing changed since
    (same version), and not the row that recorded the commitment. The one home of the
    undo rule: services.commitment_undo_last_move enforces it, pages offer it."""
    if not getattr(user, "pk", None):
        return None
    now = now or timezone.now()
    last = commitment.status_changes.order_by("-version").first()
    window = dt.timedelta(minutes=settings.TRACKER_UNDO_MINUTES)
    if (
        last is None
        or not last.from_status
        or last.actor_id != user.pk
        or last.version != commitment.version
        or last.at < now - window
    ):
        return None
    return last


def undo_available(commitment: Commitment, user) -> bool:
    return undoable_move(commitment, user) is not None


@dataclass(frozen=True)
class BriefGroup:
    counterpart: Organisation  # shown in the reader's language ({% tr %}, translated.shown)
    rows: list[Commitment]


@dataclass(frozen=True)
class VisitBrief:
    """What the one-page visit brief shows: every commitment of the visit, by the party
    that pledged it, with status, owner, due date, last change and evidence; and the
    visit's context figures."""

    visit: Visit
    groups: list[BriefGroup]
    context_facts: list
    count: int


def visit_brief(visit: Visit) -> VisitBrief:
    rows = list(
        commitment_rows(visit.commitments.all())
        .annotate(evidence_count=Count("evidence", distinct=True))
        .order_by("pledged_by__name", "reference")
    )
    groups: dict[int, list[Commitment]] = {}
    for c in rows:
        groups.setdefault(c.pledged_by_id, []).append(c)
    return VisitBrief(
        visit=visit,
        groups=[BriefGroup(counterpart=v[0].pledged_by, rows=v) for v in groups.values()],
        context_facts=list(visit.context_facts.order_by("position", "pk")),
        count=len(rows),
    )


# --- The manager's view: who owes what, and the trend ----------------------------------

TREND_WEEKS = 26


@dataclass(frozen=True)
class OverdueGroup:
    key: int | None
    name: str
    count: int
    oldest_due: dt.date
    longest_days: int
    # The name's translations by language (organisations: issue 15), for {% tr %}.
    translations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ManagerView:
    by_owner: list[OverdueGroup]
    by_counterpart: list[OverdueGroup]
    # (week ending, overdue commitments that day), oldest first
    trend: list[tuple[dt.date, int]]


def _overdue_groups(on: dt.date, *fields: str) -> list[tuple]:
    return list(
        Commitment.objects.overdue(on)
        .order_by()
        .values_list(*fields)
        .annotate(n=Count("pk"), oldest=Min("due_date"))
        .order_by("oldest", fields[0])
    )


def manager_view(on: dt.date | None = None) -> ManagerView:
    """Overdue by owner and by counterpart (longest overdue first) and the weekly count
    of overdue commitments over the last six months: three aggregate queries."""
    on = on or today_local()
    by_owner = [
        OverdueGroup(
            key=pk,
            name=(f"{first} {last}".strip() or username) if pk else _("Nobody"),
            count=n,
            oldest_due=oldest,
            longest_days=(on - oldest).days,
        )
        for pk, first, last, username, n, oldest in _overdue_groups(
            on, "owner_id", "owner__first_name", "owner__last_name", "owner__username"
        )
    ]
    # Cached for every reader (dashboard_figures): all the languages' names go along.
    names = [f"pledged_by__{c}" for c in translated.columns(translated.NAME_TEXTS)]
    by_counterpart = [
        OverdueGroup(
            key=pk,
            name=name,
            count=n,
            oldest_due=oldest,
            longest_days=(on - oldest).days,
            translations={
                lang: value
                for lang, value in zip(translated.languages(), others, strict=True)
                if value
            },
        )
        for pk, name, *others, n, oldest in _overdue_groups(
            on, "pledged_by_id", "pledged_by__name", *names
        )
    ]
    return ManagerView(by_owner=by_owner, by_counterpart=by_counterpart, trend=_trend(on))


def _trend(on: dt.date) -> list[tuple[dt.date, int]]:
    """Overdue on each of the last TREND_WEEKS week-ends, from the history, in one query.

    A commitment counts as overdue on day D when it was recorded by D, was due before D,
    and was not closed on D. "Closed on D" uses the time of its last move into a closed
    status, for commitments closed now: one later reopened and closed again counts as
    open between the two (a rare case, and the error is on the side of showing more)."""
    weeks = [on - dt.timedelta(weeks=TREND_WEEKS - 1 - i) for i in range(TREND_WEEKS)]
    closed = sorted(TERMINAL_STATUSES)
    closed_at = Subquery(
        StatusChange.objects.filter(commitment=OuterRef("pk"), to_status__in=closed)
        .order_by("-version")
        .values("at")[:1]
    )
    zone = timezone.get_default_timezone()

    def open_on(day: dt.date) -> Q:
        """Open at the end of `day`: recorded by then and not closed by then."""
        end = _end_of(day, zone)
        return Q(created_at__lt=end) & (Q(closed_at__isnull=True) | Q(closed_at__gte=end))

    counts = (
        Commitment.objects.order_by()
        # Only what was due before the last day can be overdue on any of the days.
        .filter(overdue_q(on, open_q=Q()))
        .annotate(closed_at=Case(When(status__in=closed, then=closed_at), default=None))
        .aggregate(
            **{
                f"w{i}": Count("pk", filter=overdue_q(day, open_q=open_on(day)))
                for i, day in enumerate(weeks)
            }
        )
    )
    return [(day, counts[f"w{i}"]) for i, day in enumerate(weeks)]


def _end_of(day: dt.date, zone) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
