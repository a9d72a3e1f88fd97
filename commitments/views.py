"""Browser pages. Reads go through selectors and querysets; every write goes through
commitments.services, whose errors become form errors (400), a refusal with the current
state (409, version conflict) or a 403.

Forms post to their own URLs and work without JavaScript (post, then redirect back to
the commitment). With htmx the same forms post in place: the response is the whole
detail page and htmx swaps in its `#commitment-panel` (hx-select).

Form errors answer 422, not 400: django-htmx's debug script (loaded when DEBUG is on)
replaces the whole document on a 400, which unbinds htmx, so the next submit was a
full-page POST that left the address bar on the write URL. A GET of a write URL (a
reload, a bookmark, Back) redirects to the commitment instead of a bare 405.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .brief_pdf import pdf_available, render_brief_pdf
from .exceptions import TransitionNotAllowed, VersionConflict
from .filters import CommitmentFilterSet
from .formats import person_name
from .forms import (
    EvidenceForm,
    NoteForm,
    ReassignForm,
    RetractForm,
    SnoozeForm,
    TransitionForm,
    add_service_errors,
)
from .integration_views import xlsx_response
from .models import (
    OPEN_STATUSES,
    Channel,
    Commitment,
    FigureKind,
    Note,
    Sector,
    Status,
    Visit,
    today_local,
)
from .permissions import can_edit, can_reassign, can_retract_note
from .search import search_condition

PAGE_SIZES = (25, 50, 100)
# Overdue list grouping: the parameter value and the columns it orders by first.
GROUPS = {
    "owner": ("owner__username",),
    "organisation": ("pledged_by__name",),
}


def _page(
    request: HttpRequest,
    queryset: QuerySet[Commitment],
    default: int = PAGE_SIZES[0],
    group: str = "",
):
    """One page of table rows: ids first, then the rows of that page (see
    selectors.rows_for_page). Grouped by owner, the ids come from
    selectors.OwnerGroupedIds."""
    try:
        size = int(request.GET.get("per_page", default))
    except ValueError:
        size = default
    if size not in PAGE_SIZES:
        size = default
    # Pages cut by OFFSET need a total order: sorted by a column with ties (due date,
    # status), a row could show on two pages and another on none. Reference is unique;
    # it runs the way the first column does, so one index serves both directions
    # (commitment_due_reference).
    given = list(queryset.query.order_by)
    order = [f.lstrip("-") for f in given if isinstance(f, str)]
    if given and not {"pk", "id", "reference"} & set(order):
        first = given[0]
        descending = isinstance(first, str) and first.startswith("-")
        queryset = queryset.order_by(*given, "-reference" if descending else "reference")
    if group == "owner":
        # The order after the group's own columns (which OwnerGroupedIds puts first).
        within = queryset.query.order_by[len(GROUPS["owner"]) :]
        ids = selectors.OwnerGroupedIds(queryset, within=within)
    else:
        ids = queryset.values_list("pk", flat=True)
    paginator = Paginator(ids, size)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = selectors.rows_for_page(list(page.object_list))
    return page, size


# Filters the pages leave out: updated_since and changed_after serve API sync; headers do
# the ordering.
_NOT_SHOWN = {"updated_since", "changed_after", "ordering"}


def _filter_fields(filterset: CommitmentFilterSet, *skip: str) -> list:
    return [f for f in filterset.form if f.name not in _NOT_SHOWN and f.name not in skip]


def _querystring(request: HttpRequest, *drop: str) -> str:
    params = request.GET.copy()
    for name in drop:
        params.pop(name, None)
    return params.urlencode()


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    summary = selectors.dashboard_summary()
    return render(
        request,
        "commitments/dashboard.html",
        {"figures": summary.figures, "summary": summary, "manager": summary.manager},
    )


@require_GET
def commitment_list(request: HttpRequest) -> HttpResponse:
    filterset = CommitmentFilterSet(
        request.GET or None, queryset=Commitment.objects.all(), request=request
    )
    valid = filterset.is_valid() if filterset.is_bound else True
    queryset = filterset.qs if valid else Commitment.objects.none()
    if request.GET.get("format") == "xlsx" and valid:
        return xlsx_response(queryset, "commitments")
    page, size = _page(request, queryset)
    return render(
        request,
        "commitments/commitment_list.html",
        {
            "filterset": filterset,
            "filter_fields": _filter_fields(filterset),
            "page_obj": page,
            "per_page": size,
            "page_sizes": PAGE_SIZES,
            "querystring": _querystring(request, "page"),
            "mine": request.GET.get("owner") == request.user.get_username(),
            "export_querystring": _querystring(request, "page", "per_page", "format"),
        },
        status=200 if valid else 400,
    )


def _overdue_queryset(request: HttpRequest) -> tuple[CommitmentFilterSet, QuerySet, bool, str]:
    filterset = CommitmentFilterSet(
        request.GET or None, queryset=selectors.overdue_commitments(), request=request
    )
    valid = filterset.is_valid() if filterset.is_bound else True
    queryset = filterset.qs if valid else Commitment.objects.none()
    group = request.GET.get("group", "")
    if group in GROUPS:
        # Grouping orders by the group first and keeps the chosen order within a group.
        within = list(queryset.query.order_by) or ["due_date", "reference"]
        queryset = queryset.order_by(*GROUPS[group], *within)
    else:
        group = ""
    return filterset, queryset, valid, group


@require_GET
def overdue_list(request: HttpRequest) -> HttpResponse:
    filterset, queryset, valid, group = _overdue_queryset(request)
    if request.GET.get("format") == "csv":
        if not valid:
            return HttpResponse(
                "\n".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return _overdue_csv(queryset)
    # Only open commitments are ever overdue: offer only their statuses.
    filterset.form.fields["status"].choices = [
        (s.value, s.label) for s in Status if s in OPEN_STATUSES
    ]
    if request.GET.get("format") == "xlsx" and valid:
        return xlsx_response(queryset, "overdue")
    page, size = _page(request, queryset, group=group)
    return render(
        request,
        "commitments/overdue_list.html",
        {
            "filterset": filterset,
            "filter_fields": _filter_fields(filterset, "overdue"),
            "page_obj": page,
            "per_page": size,
            "page_sizes": PAGE_SIZES,
            "group": group,
            "querystring": _querystring(request, "page"),
            "csv_querystring": _querystring(request, "page", "per_page", "format"),
        },
        status=200 if valid else 400,
    )


# The overdue CSV: the page's columns first, in the page's order and with its labels,
# then the figures. Labels, not codes; ISO dates; a spreadsheet reads it as UTF-8 thanks
# to the byte-order mark.
class _CsvLabels:
    """What every row of one CSV needs, looked up once per file, not per row (issue 13:
    two translation look-ups and a time zone look-up per row were a fifth of its time):
    the choice labels in the reader's language and the viewer's zone."""

    def __init__(self):
        self.status = {value: str(label) for value, label in Status.choices}
        self.sector = {value: str(label) for value, label in Sector.choices}
        self.kind = {value: str(label) for value, label in FigureKind.choices}
        self.zone = timezone.get_current_timezone()

    def day(self, value) -> str:
        """ISO date (no time, no microseconds); a time is taken as a date in the
        viewer's zone."""
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.astimezone(self.zone).date()
        return value.isoformat()


CSV_COLUMNS: tuple[tuple[str, Callable[[selectors.ExportRow, _CsvLabels], Any]], ...] = (
    (_lazy("Days overdue"), lambda c, x: "" if c.days_overdue is None else c.days_overdue),
    (_lazy("Reference"), lambda c, x: c.reference),
    (_lazy("Title"), lambda c, x: c.title),
    (_lazy("Status"), lambda c, x: x.status[c.status]),
    (_lazy("Owner"), lambda c, x: c.owner),
    (_lazy("Pledged by"), lambda c, x: c.pledged_by),
    (_lazy("Also pledged by"), lambda c, x: "; ".join(c.co_pledgers)),
    (_lazy("Beneficiary"), lambda c, x: c.beneficiary),
    (_lazy("Last status change"), lambda c, x: x.day(c.last_change_at)),
    (_lazy("Last status change note"), lambda c, x: c.last_change_note),
    (_lazy("Next follow-up"), lambda c, x: x.day(c.next_follow_up_at)),
    (_lazy("Due date"), lambda c, x: x.day(c.due_date)),
    (_lazy("Sector"), lambda c, x: x.sector[c.sector]),
    (_lazy("Kind of figure"), lambda c, x: x.kind[c.figure_kind] if c.figure_kind else ""),
    (_lazy("Amount"), lambda c, x: "" if c.amount is None else f"{c.amount:.2f}"),
    (_lazy("Currency or unit"), lambda c, x: c.currency_or_unit),
    (_lazy("Figure year"), lambda c, x: c.figure_year or ""),
)
# Rows per piece of the streamed body: one write per piece, not per row.
CSV_ROWS_PER_CHUNK = 256


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell that starts like a formula; user text must not.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_TRAILER = "# rows: {count}"


def _overdue_csv(queryset: QuerySet[Commitment]) -> StreamingHttpResponse:
    """Every row the filters select (all pages), in the page's order, streamed.

    The last line, "# rows: N", is written only once every row is out: a file cut short
    (a worker killed at its timeout, a dropped connection) lacks it, so a reader can tell.
    Streamed without a length, the body goes out chunked, and an HTTP client also sees a
    cut as an error (the closing chunk never comes), never as a complete 200."""

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield "\ufeff" + writer.writerow([str(label) for label, _value in CSV_COLUMNS])
        labels = _CsvLabels()
        count, piece = 0, []
        for c in selectors.export_rows(queryset):
            count += 1
            piece.append(
                writer.writerow([_csv_cell(value(c, labels)) for _label, value in CSV_COLUMNS])
            )
            if len(piece) == CSV_ROWS_PER_CHUNK:
                yield "".join(piece)
                piece = []
        yield "".join(piece) + CSV_TRAILER.format(count=count) + "\r\n"

    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="overdue-{stamp}.csv"'
    return response


# --- Commitment detail and its forms --------------------------------------------------


def _commitment(pk: int) -> Commitment:
    return get_object_or_404(
        Commitment.objects.select_related(
            "visit", "pledged_by", "beneficiary", "owner", "source", "parent"
        ).with_overdue_days(),
        pk=pk,
    )


# The Update panel's actions, and the form each one shows.
_ACTION_FORMS = {
    "move": "transition_form",
    "note": "note_form",
    "evidence": "evidence_form",
    "snooze": "snooze_form",
    "reassign": "reassign_form",
}


def _actions(commitment: Commitment, may_reassign: bool) -> list[tuple[str, str]]:
    actions = [
        ("move", _("Change status")),
        ("note", _("Add a note")),
        ("evidence", _("Add evidence")),
    ]
    if commitment.is_open:
        actions.append(("snooze", _("Snooze follow-up")))
    if may_reassign:
        actions.append(("reassign", _("Reassign")))
    return actions


def _render_detail(
    request: HttpRequest, commitment: Commitment, *, status: int = 200, **forms
) -> HttpResponse:
    editable = can_edit(request.user, commitment)
    show_retracted = request.GET.get("history") == "all"
    timeline = selectors.commitment_timeline(commitment, show_retracted=show_retracted)
    context = {
        "commitment": commitment,
        "children": commitment.children.select_related("owner").order_by("reference"),
        "watchers": commitment.watchers.order_by("username"),
        "timeline": timeline,
        "show_retracted": show_retracted,
        # Notes this user may retract (their own comments; any comment for a manager).
        "retractable": {
            e.item.pk
            for e in timeline
            if e.kind == "note"
            and not e.item.is_retracted
            and can_retract_note(request.user, e.item)
        },
        "can_edit": editable,
        "can_reassign": can_reassign(request.user),
        "status_values": Status,
        "evidence": commitment.evidence.order_by("-published_on", "-added_at"),
    }
    if editable:
        actions = _actions(commitment, context["can_reassign"])
        chosen = next((key for key, name in _ACTION_FORMS.items() if name in forms), None)
        wanted = request.GET.get("action") or request.POST.get("action")
        context["actions"] = actions
        # Without a choice the panel opens on the status move (nothing preselected in it).
        context["action"] = chosen or (wanted if wanted in dict(actions) else "move")
        context["undo_available"] = selectors.undo_available(commitment, request.user)
        context["undo_minutes"] = settings.TRACKER_UNDO_MINUTES
        context |= {
            "transition_form": forms.get("transition_form")
            or TransitionForm(commitment=commitment, user=request.user),
            "evidence_form": forms.get("evidence_form") or EvidenceForm(),
            "note_form": forms.get("note_form") or NoteForm(),
            "snooze_form": forms.get("snooze_form") or SnoozeForm(commitment=commitment),
        }
        if context["can_reassign"]:
            context["reassign_form"] = forms.get("reassign_form") or ReassignForm(
                commitment=commitment
            )
    return render(request, "commitments/commitment_detail.html", context, status=status)


@require_GET
def commitment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _commitment(pk))


def _done(request: HttpRequest, commitment: Commitment, message: str) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:
        # In place: a fresh page whose panel htmx swaps in (new version, new timeline).
        return _render_detail(request, _commitment(commitment.pk))
    return redirect(commitment.get_absolute_url(), permanent=False)


# The page's forms by class: the name the template knows each by, and what a refused
# stale write gives back of what the user typed.
_PANEL_FORMS = {
    TransitionForm: (
        "transition_form",
        ("note", "evidence_url", "evidence_title", "evidence_kind"),
    ),
    EvidenceForm: ("evidence_form", ()),
    NoteForm: ("note_form", ()),
    SnoozeForm: ("snooze_form", ("until", "reason")),
    ReassignForm: ("reassign_form", ("owner", "note")),
}


def _conflict(request: HttpRequest, pk: int, form_class: type) -> HttpResponse:
    """Refuse a stale write: show the current state, keep what the user typed."""
    current = _commitment(pk)
    messages.error(
        request,
        _(
            "Someone else changed this commitment after you opened it. Nothing was saved. "
            "Its current state is shown below: check it and submit again."
        ),
    )
    form_name, keep = _PANEL_FORMS[form_class]
    typed = {name: request.POST.get(name, "") for name in keep}
    extra = {"user": request.user} if form_class is TransitionForm else {}
    form = form_class(initial=typed, commitment=current, **extra)
    return _render_detail(request, current, status=409, **{form_name: form})


def _editable(request: HttpRequest, pk: int) -> Commitment:
    commitment = _commitment(pk)
    # Checked before the form so that a refused user learns nothing from validation;
    # the service checks again inside its transaction.
    if not can_edit(request.user, commitment):
        raise PermissionDenied(_("You may not change this commitment."))
    return commitment


# Form errors: the panel again, with the errors, swapped in place (see the docstring).
INVALID = 422


def write_endpoint(view):
    """POST does the write; GET (a reload or bookmark of the address) goes to the
    commitment; any other method is refused."""
    from functools import wraps

    posted = require_POST(view)

    @wraps(view)
    def wrapper(request: HttpRequest, pk: int, *args, **kwargs) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            return redirect("commitments:commitment-detail", pk=pk)
        return posted(request, pk, *args, **kwargs)

    return wrapper


@write_endpoint
def commitment_undo(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    try:
        change = services.commitment_undo_last_move(
            commitment_id=commitment.pk, actor=request.user, channel=Channel.WEB
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _render_detail(request, _commitment(pk), status=INVALID)
    labels = dict(Status.choices)
    return _done(
        request, commitment, _("Move undone: back to %(s)s.") % {"s": labels[change.to_status]}
    )


def _panel_write(
    request: HttpRequest, commitment: Commitment, form, service, done, *, fields=None
) -> HttpResponse:
    """What every form on the commitment's page does with a POST: a valid form calls
    `service` with the form's `service_args()`, by this user through the web; a stale
    version refuses it and keeps what was typed (409); a refused move or the service's
    ValidationError comes back on the form (422, `fields` maps the service's field names
    to the form's); success returns to the commitment with the message `done` (or
    `done(cleaned_data)`)."""
    if form.is_valid():
        try:
            service(
                commitment_id=commitment.pk,
                actor=request.user,
                channel=Channel.WEB,
                **form.service_args(),
            )
        except VersionConflict:
            return _conflict(request, commitment.pk, type(form))
        except TransitionNotAllowed as exc:
            form.add_error("to_status", exc.reason)
        except ValidationError as exc:
            add_service_errors(form, exc, fields)
        else:
            message = done(form.cleaned_data) if callable(done) else done
            return _done(request, commitment, message)
    form_name, _keep = _PANEL_FORMS[type(form)]
    return _render_detail(request, commitment, status=INVALID, **{form_name: form})


@write_endpoint
def commitment_transition(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = TransitionForm(request.POST, commitment=commitment, user=request.user)
    labels = dict(Status.choices)

    def done(data: dict) -> str:
        return _("Status changed to %(s)s.") % {"s": labels[data["to_status"]]}

    return _panel_write(request, commitment, form, services.commitment_transition, done)


@write_endpoint
def evidence_add(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = EvidenceForm(request.POST)
    done, fields = _("Evidence added."), {"evidence[0]": "url"}
    return _panel_write(request, commitment, form, services.evidence_add, done, fields=fields)


@write_endpoint
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = NoteForm(request.POST)
    return _panel_write(request, commitment, form, services.note_add, _("Note added."))


@write_endpoint
def note_retract(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    commitment = _commitment(pk)
    note = get_object_or_404(Note, pk=note_pk, commitment=commitment)
    if not can_retract_note(request.user, note):
        raise PermissionDenied(_("Only the note's author or a manager may retract it."))
    form = RetractForm(request.POST)
    if form.is_valid():
        try:
            services.note_retract(
                note_id=note.pk,
                actor=request.user,
                channel=Channel.WEB,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return _done(request, commitment, _("Note retracted."))
    else:
        messages.error(request, _("Say why the note is retracted."))
    return _render_detail(request, _commitment(pk), status=INVALID)


@write_endpoint
def commitment_snooze(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = SnoozeForm(request.POST, commitment=commitment)
    done = _("Follow-up snoozed.")
    return _panel_write(request, commitment, form, services.commitment_snooze, done)


@write_endpoint
def commitment_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _commitment(pk)
    if not can_reassign(request.user):
        raise PermissionDenied(_("Only a manager may reassign a commitment."))
    form = ReassignForm(request.POST, commitment=commitment)

    def done(data: dict) -> str:
        return _("Reassigned to %(u)s.") % {"u": person_name(data["owner"])}

    return _panel_write(request, commitment, form, services.commitment_reassign, done)


# --- Search ---------------------------------------------------------------------------


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """The header search: the list's `q` filter (commitments/search.py), best match first."""
    query = request.GET.get("q", "").strip()
    page, size = None, None
    if query:
        found = search_condition(query)
        ranked = (
            Commitment.objects.filter(found[0])
            .annotate(rank=found[1])
            .order_by("-rank", "reference")
        )
        page, size = _page(request, ranked)
    return render(
        request,
        "commitments/search.html",
        {
            "query": query,
            "page_obj": page,
            # The pagination's "Rows per page:" offers these (it showed none).
            "per_page": size,
            "page_sizes": PAGE_SIZES,
            "querystring": _querystring(request, "page"),
        },
    )


# --- Visit ------------------------------------------------------------------------------


@require_GET
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visit = get_object_or_404(Visit.objects.select_related("delegation_lead"), pk=pk)
    page, size = _page(request, visit.commitments.order_by("reference"), default=PAGE_SIZES[-1])
    return render(
        request,
        "commitments/visit_detail.html",
        {
            "visit": visit,
            "sources": visit.sources.order_by("published_on", "title"),
            "meetings": visit.meetings.order_by("held_on", "title"),
            "context_facts": visit.context_facts.select_related("source"),
            "page_obj": page,
            "per_page": size,
            "page_sizes": PAGE_SIZES,
            "querystring": _querystring(request, "page"),
        },
    )


@require_GET
def visit_brief(request: HttpRequest, pk: int) -> HttpResponse:
    """One printable A4 page to take into the next meeting."""
    visit = get_object_or_404(Visit, pk=pk)
    available, how = pdf_available()
    return render(
        request,
        "commitments/visit_brief.html",
        {
            "brief": selectors.visit_brief(visit),
            "pdf_available": available,
            "pdf_how": how,
            "today": today_local(),
        },
    )


@require_GET
def visit_brief_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    visit = get_object_or_404(Visit, pk=pk)
    available, how = pdf_available()
    if not available:
        return HttpResponse(how, status=503, content_type="text/plain; charset=utf-8")
    data = render_brief_pdf(selectors.visit_brief(visit))
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="brief-{visit.code}.pdf"'
    return response
