"""Browser pages. Reads go through selectors and querysets; every write goes through
commitments.services, whose errors become form errors (400), a refusal with the current
state (409, version conflict) or a 403.

Forms post to their own URLs and work without JavaScript (post, then redirect back to
the commitment). With htmx the same forms post in place: the response is the whole
detail page and htmx swaps in its `#commitment-panel` (hx-select).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .exceptions import TransitionNotAllowed, VersionConflict
from .filters import CommitmentFilterSet
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
from .models import Channel, Commitment, Note, Status, Visit
from .permissions import can_edit, can_reassign, can_retract_note

PAGE_SIZES = (25, 50, 100)
# Overdue list grouping: the parameter value and the columns it orders by first.
GROUPS = {
    "owner": ("owner__username",),
    "organisation": ("pledged_by__name",),
}


def _page(request: HttpRequest, queryset: QuerySet[Commitment], default: int = PAGE_SIZES[0]):
    """One page of table rows: ids first, then the rows of that page (see
    selectors.rows_for_page)."""
    try:
        size = int(request.GET.get("per_page", default))
    except ValueError:
        size = default
    if size not in PAGE_SIZES:
        size = default
    paginator = Paginator(queryset.values_list("pk", flat=True), size)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = selectors.rows_for_page(list(page.object_list))
    return page, size


# Filters the pages leave out: updated_since serves API sync; headers do the ordering.
_NOT_SHOWN = {"updated_since", "ordering"}


def _filter_fields(filterset: CommitmentFilterSet, *skip: str) -> list:
    return [f for f in filterset.form if f.name not in _NOT_SHOWN and f.name not in skip]


def _querystring(request: HttpRequest, *drop: str) -> str:
    params = request.GET.copy()
    for name in drop:
        params.pop(name, None)
    return params.urlencode()


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "commitments/dashboard.html", {"figures": selectors.dashboard_figures()})


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
        return _overdue_csv(selectors.commitment_rows(queryset).prefetch_related("co_pledgers"))
    if request.GET.get("format") == "xlsx" and valid:
        return xlsx_response(queryset, "overdue")
    page, size = _page(request, queryset)
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


CSV_HEADER = (
    "reference",
    "title",
    "status",
    "days_overdue",
    "due_date",
    "owner",
    "pledged_by",
    "also_pledged_by",
    "beneficiary",
    "sector",
    # What the amount is: money pledged, agreements' value or a target, so a sum over
    # the column is only ever taken within one kind.
    "figure_kind",
    "amount",
    "currency_or_unit",
    "figure_year",
    "last_status_change_at",
    "last_status_change_note",
    "next_follow_up_at",
)


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell that starts like a formula; user text must not.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _overdue_csv(queryset: QuerySet[Commitment]) -> StreamingHttpResponse:
    """Every row the filters select (all pages), in the page's order, streamed."""

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(CSV_HEADER)
        for c in queryset.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    _csv_cell(c.reference),
                    _csv_cell(c.title),
                    c.status,
                    c.days_overdue.days if c.days_overdue is not None else "",
                    c.due_date.isoformat() if c.due_date else "",
                    _csv_cell(c.owner.get_username() if c.owner else ""),
                    _csv_cell(c.pledged_by.name),
                    _csv_cell("; ".join(o.name for o in c.co_pledgers.all())),
                    _csv_cell(c.beneficiary.name if c.beneficiary else ""),
                    c.sector,
                    c.figure_kind,
                    "" if c.amount is None else f"{c.amount:.2f}",
                    c.currency or c.unit,
                    c.figure_year or "",
                    c.last_change_at.isoformat() if c.last_change_at else "",
                    _csv_cell(c.last_change_note or ""),
                    c.next_follow_up_at.isoformat() if c.next_follow_up_at else "",
                ]
            )

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
    }
    if editable:
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


def _conflict(request: HttpRequest, pk: int, form_name: str, keep: tuple[str, ...]):
    """Refuse a stale write: show the current state, keep what the user typed."""
    current = _commitment(pk)
    messages.error(
        request,
        _(
            "Someone else changed this commitment after you opened it. Nothing was saved. "
            "Its current state is shown below: check it and submit again."
        ),
    )
    typed = {name: request.POST.get(name, "") for name in keep}
    form_class = {
        "transition_form": TransitionForm,
        "snooze_form": SnoozeForm,
        "reassign_form": ReassignForm,
    }[form_name]
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


@require_POST
def commitment_transition(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = TransitionForm(request.POST, commitment=commitment, user=request.user)
    if form.is_valid():
        try:
            services.commitment_transition(
                commitment_id=commitment.pk,
                to_status=form.cleaned_data["to_status"],
                actor=request.user,
                channel=Channel.WEB,
                note=form.cleaned_data["note"],
                evidence=form.evidence(),
                expected_version=form.cleaned_data["version"],
                due_date=form.cleaned_data.get("due_date"),
            )
        except VersionConflict:
            return _conflict(
                request,
                pk,
                "transition_form",
                ("note", "evidence_url", "evidence_title", "evidence_kind"),
            )
        except TransitionNotAllowed as exc:
            form.add_error("to_status", exc.reason)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            labels = dict(Status.choices)
            return _done(
                request,
                commitment,
                _("Status changed to %(s)s.") % {"s": labels[form.cleaned_data["to_status"]]},
            )
    return _render_detail(request, commitment, status=400, transition_form=form)


@require_POST
def evidence_add(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = EvidenceForm(request.POST)
    if form.is_valid():
        try:
            services.evidence_add(
                commitment_id=commitment.pk,
                actor=request.user,
                channel=Channel.WEB,
                item=form.item(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"evidence[0]": "url"})
        else:
            return _done(request, commitment, _("Evidence added."))
    return _render_detail(request, commitment, status=400, evidence_form=form)


@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(
                commitment_id=commitment.pk,
                actor=request.user,
                channel=Channel.WEB,
                text=form.cleaned_data["text"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _done(request, commitment, _("Note added."))
    return _render_detail(request, commitment, status=400, note_form=form)


@require_POST
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
    return _render_detail(request, _commitment(pk), status=400)


@require_POST
def commitment_snooze(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _editable(request, pk)
    form = SnoozeForm(request.POST, commitment=commitment)
    if form.is_valid():
        try:
            services.commitment_snooze(
                commitment_id=commitment.pk,
                actor=request.user,
                channel=Channel.WEB,
                until=form.cleaned_data["until"],
                reason=form.cleaned_data["reason"],
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict:
            return _conflict(request, pk, "snooze_form", ("until", "reason"))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _done(request, commitment, _("Follow-up snoozed."))
    return _render_detail(request, commitment, status=400, snooze_form=form)


@require_POST
def commitment_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _commitment(pk)
    if not can_reassign(request.user):
        raise PermissionDenied(_("Only a manager may reassign a commitment."))
    form = ReassignForm(request.POST, commitment=commitment)
    if form.is_valid():
        try:
            services.commitment_reassign(
                commitment_id=commitment.pk,
                actor=request.user,
                channel=Channel.WEB,
                owner=form.cleaned_data["owner"],
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict:
            return _conflict(request, pk, "reassign_form", ("owner", "note"))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _done(
                request,
                commitment,
                _("Reassigned to %(u)s.") % {"u": form.cleaned_data["owner"].get_username()},
            )
    return _render_detail(request, commitment, status=400, reassign_form=form)


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
