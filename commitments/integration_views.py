"""Browser pages for integrations (issue 16): the profile page with calendar feeds, the
public feed itself, webhooks for managers, and the spreadsheet import. Every write goes
through commitments.services; these views only read forms and show results."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import TimeZoneForm
from accounts.middleware import remember_reader_preferences

from . import services
from .forms import PreferencesForm, add_service_errors
from .models import (
    CalendarFeed,
    Profile,
    Sector,
    SpreadsheetImport,
    Visit,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from .permissions import is_manager
from .services import spreadsheets

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(queryset, name: str) -> HttpResponse:
    """The `?format=xlsx` answer of a list page: its current filter, as a workbook."""
    response = HttpResponse(spreadsheets.spreadsheet_export(queryset), content_type=XLSX)
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.xlsx"'
    return response


def _managers_only(request: HttpRequest) -> None:
    if not is_manager(request.user):
        raise PermissionDenied(_("Only managers and admins may do this."))


# --- Profile and calendar feeds -------------------------------------------------------------


class CalendarFeedForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Feed of"),
        choices=[
            (CalendarFeed.Kind.VISIT, CalendarFeed.Kind.VISIT.label),
            (CalendarFeed.Kind.FILTER, CalendarFeed.Kind.FILTER.label),
        ],
    )
    # "—" for no choice, as the webhook form's sector ("---------" is Django's, not ours).
    visit = forms.ModelChoiceField(
        label=gettext_lazy("Visit"),
        queryset=Visit.objects.order_by("-start_date"),
        required=False,
        empty_label="—",
    )
    query = forms.CharField(
        label=gettext_lazy("Filter (the commitment list's address or query)"),
        max_length=1000,
        required=False,
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)


def _feed_rows(user):
    feeds = CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).select_related("visit")
    return [(feed, services.calendar_feed_url(feed)) for feed in feeds]


def _preferences_form(profile: Profile | None) -> PreferencesForm:
    if profile is None:
        return PreferencesForm()
    return PreferencesForm(
        initial={
            "language": profile.language,
            "calendar": profile.calendar,
            "eastern_digits": profile.eastern_digits,
        }
    )


def _time_zone_form(profile: Profile | None) -> TimeZoneForm:
    """The time zone form filled with the user's zone (saved by accounts.views.profile)."""
    return TimeZoneForm(
        initial={"time_zone": (profile and profile.time_zone) or settings.TIME_ZONE}
    )


@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    """The user's own page: who they are, language and calendar, calendar feeds."""
    return profile_page(request)


def profile_page(
    request: HttpRequest,
    *,
    status: int = 200,
    feed_form=None,
    preferences_form=None,
    time_zone_form=None,
) -> HttpResponse:
    """/profile/ with its three forms; a form given here is the one that failed and keeps
    its errors, the others are shown as stored."""
    personal = services.calendar_feed_personal(user=request.user)
    stored = Profile.objects.filter(user=request.user).first()
    return render(
        request,
        "commitments/profile.html",
        {
            "personal_url": services.calendar_feed_url(personal),
            "personal": personal,
            "feeds": [row for row in _feed_rows(request.user) if row[0].pk != personal.pk],
            "feed_form": feed_form or CalendarFeedForm(),
            "preferences_form": preferences_form or _preferences_form(stored),
            "time_zone_form": time_zone_form or _time_zone_form(stored),
        },
        status=status,
    )


@require_POST
def profile_preferences(request: HttpRequest) -> HttpResponse:
    """Save language, calendar and digits (issue 15); the language cookie follows."""
    form = PreferencesForm(request.POST)
    if form.is_valid():
        try:
            profile = services.profile_preferences_set(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            remember_reader_preferences(request, profile)
            language = form.cleaned_data["language"] or translation.get_language()
            with translation.override(language):
                messages.success(request, _("Preferences saved."))
            response = redirect("commitments:profile")
            if form.cleaned_data["language"]:
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME,
                    form.cleaned_data["language"],
                    max_age=settings.LANGUAGE_COOKIE_AGE,
                    samesite="Lax",
                )
            return response
    return profile_page(request, status=400, preferences_form=form)


@require_POST
def calendar_feed_add(request: HttpRequest) -> HttpResponse:
    form = CalendarFeedForm(request.POST)
    if form.is_valid():
        try:
            services.calendar_feed_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Calendar feed created."))
            return redirect("commitments:profile")
    return profile_page(request, status=400, feed_form=form)


@require_POST
def calendar_feed_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    feed = get_object_or_404(CalendarFeed, pk=pk, user=request.user)
    services.calendar_feed_revoke(feed_id=feed.pk, user=request.user)
    messages.success(request, _("The old address no longer works; use the new one."))
    return redirect("commitments:profile")


@login_not_required
@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The feed: the token is the only credential (calendar apps send no cookie)."""
    feed = services.calendar_feed_for_token(token)
    if feed is None:
        raise Http404
    response = HttpResponse(
        services.calendar_feed_ics(feed), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- Webhooks -----------------------------------------------------------------------------


class WebhookForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("URL"), max_length=1000)
    secret = forms.CharField(label=gettext_lazy("Secret"), min_length=16, max_length=200)
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    visit = forms.ModelChoiceField(
        label=gettext_lazy("Only this visit"),
        queryset=Visit.objects.all(),
        required=False,
        empty_label="—",
    )
    sector = forms.ChoiceField(
        label=gettext_lazy("Only this sector"),
        choices=[("", "—"), *Sector.choices],
        required=False,
    )


@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    _managers_only(request)
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(actor=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Webhook added."))
            return redirect("commitments:webhook-detail", pk=endpoint.pk)
    return render(
        request,
        "commitments/webhook_list.html",
        {"endpoints": WebhookEndpoint.objects.select_related("owner"), "form": form},
        status=400 if form.errors else 200,
    )


@require_GET
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _managers_only(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")[:100]
    return render(
        request,
        "commitments/webhook_detail.html",
        {"endpoint": endpoint, "deliveries": deliveries},
    )


@require_POST
def webhook_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """test, pause, resume, delete, and redeliver (with `delivery` in the form)."""
    _managers_only(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if action == "test":
        services.webhook_test_send(actor=request.user, endpoint_id=endpoint.pk)
        messages.success(request, _("Test event queued."))
    elif action in ("pause", "resume"):
        state = WebhookEndpoint.State.PAUSED if action == "pause" else WebhookEndpoint.State.ACTIVE
        services.webhook_endpoint_update(
            actor=request.user, endpoint_id=endpoint.pk, data={"state": state}
        )
        messages.success(
            request, _("Webhook paused.") if action == "pause" else _("Webhook resumed.")
        )
    elif action == "redeliver":
        delivery = get_object_or_404(
            WebhookDelivery, pk=request.POST.get("delivery") or 0, endpoint=endpoint
        )
        services.webhook_redeliver(actor=request.user, delivery_id=delivery.pk)
        messages.success(request, _("Delivery queued again."))
    elif action == "delete":
        services.webhook_endpoint_delete(actor=request.user, endpoint_id=endpoint.pk)
        messages.success(request, _("Webhook deleted."))
        return redirect("commitments:webhook-list")
    else:
        raise Http404
    return redirect("commitments:webhook-detail", pk=endpoint.pk)


# --- Spreadsheet import ---------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Spreadsheet (.xlsx or .csv)"))


@require_http_methods(["GET", "POST"])
def commitment_import(request: HttpRequest) -> HttpResponse:
    """Upload → preview (nothing written) → confirm."""
    _managers_only(request)
    if request.method == "POST" and "confirm" in request.POST:
        upload = get_object_or_404(SpreadsheetImport, pk=request.POST["confirm"], user=request.user)
        try:
            results = spreadsheets.spreadsheet_import_apply(user=request.user, import_id=upload.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("commitments:commitment-import")
        counts = spreadsheets.summarize(results)
        messages.success(
            request,
            _("Imported: %(c)s created, %(u)s updated, %(n)s unchanged, %(e)s skipped with errors.")
            % {
                "c": counts["create"],
                "u": counts["update"],
                "n": counts["unchanged"],
                "e": counts["error"],
            },
        )
        return redirect("commitments:commitment-list")
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"form": form, "columns": spreadsheets.COLUMNS}
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        if upload_file.size > settings.IMPORT_MAX_BYTES:
            form.add_error("file", _("The file is too large."))
        else:
            try:
                upload, results = spreadsheets.spreadsheet_preview(
                    user=request.user, filename=upload_file.name, content=upload_file.read()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                labels = {c.key: str(c.label) for c in spreadsheets.COLUMNS}
                labels["row"] = _("Row")
                context.update(
                    upload=upload,
                    counts=spreadsheets.summarize(results),
                    # Each row's errors next to the column (cell) they concern.
                    results=[
                        (r, [(labels.get(k, k), m) for k, m in r.errors.items()]) for r in results
                    ],
                )
    return render(request, "commitments/import.html", context, status=400 if form.errors else 200)
