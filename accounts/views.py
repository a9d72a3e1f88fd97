"""Second-factor pages: set-up (QR code made on the server), recovery codes, turning it
off, and the verification step after the password. Writes go through accounts.services."""

from __future__ import annotations

import base64
import io

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from commitments.forms import add_service_errors

from . import services
from .forms import CodeForm, TimeZoneForm
from .middleware import SECOND_FACTOR_DUE, TIME_ZONE_KEY, remember_reader_preferences


def _qr_data_uri(text: str) -> str:
    """An SVG QR code as a data: URI (an <img>, so no inline style for the CSP to refuse)."""
    out = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    if not services.may_use_two_factor(request.user):
        raise PermissionDenied(_("A second factor is for managers and administrators."))
    enabled = services.two_factor_enabled(request.user)
    form = CodeForm(request.POST or None)
    codes: list[str] = []
    action = request.POST.get("action")
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        try:
            if action == "confirm" and not enabled:
                device, codes = services.totp_confirm(user=request.user, token=token)
                django_otp.login(request, device)
                request.session[SECOND_FACTOR_DUE] = True
                enabled = True
                messages.success(request, _("Two-factor sign-in is on."))
            elif action == "codes" and enabled:
                if services.two_factor_verify(user=request.user, token=token) is None:
                    raise ValidationError({"token": _("That code is not right.")})
                codes = services.recovery_codes_issue(user=request.user)
                messages.success(request, _("New recovery codes; the old ones no longer work."))
            elif action == "disable" and enabled:
                services.two_factor_disable(user=request.user, token=token)
                request.session[SECOND_FACTOR_DUE] = False
                messages.success(request, _("Two-factor sign-in is off."))
                return redirect("two-factor")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            form = CodeForm()
    context = {"enabled": enabled, "form": form, "codes": codes}
    if not enabled:
        device = services.totp_start(user=request.user)
        context |= {"qr": _qr_data_uri(device.config_url), "config_url": device.config_url}
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "accounts/two_factor.html", context, status=status)


@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.user.is_verified() or not request.session.get(SECOND_FACTOR_DUE):
        return redirect(next_url or resolve_url("commitments:dashboard"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.two_factor_verify(user=request.user, token=form.cleaned_data["token"])
        if device is not None:
            django_otp.login(request, device)
            return redirect(next_url or resolve_url("commitments:dashboard"))
        form.add_error("token", _("That code is not right."))
    status = 400 if form.errors else 200
    return render(request, "accounts/verify.html", {"form": form, "next": next_url}, status=status)


@login_not_required
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie, redirect to ``next``), and for a signed-in user the
    choice saved on the profile too, so emails and other devices follow it (issue 15)."""
    from django.utils.translation import check_for_language
    from django.views.i18n import set_language as django_set_language

    from commitments import services as commitment_services

    response = django_set_language(request)
    code = request.POST.get("language", "") if request.method == "POST" else ""
    if (
        request.user.is_authenticated
        and code in dict(settings.LANGUAGES)
        and check_for_language(code)
    ):
        profile = commitment_services.profile_preferences_set(user=request.user, language=code)
        remember_reader_preferences(request, profile)
    return response


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """Save the user's time zone (the form sits on /profile/); every time is shown in it."""
    from commitments import services as commitment_services

    if request.method != "POST":
        return redirect("commitments:profile")
    form = TimeZoneForm(request.POST)
    if form.is_valid():
        try:
            commitment_services.profile_set_time_zone(
                user=request.user, time_zone=form.cleaned_data["time_zone"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            request.session[TIME_ZONE_KEY] = form.cleaned_data["time_zone"]
            messages.success(request, _("Time zone saved."))
            return redirect("commitments:profile")
    from commitments.integration_views import profile_page

    return profile_page(request, status=422, time_zone_form=form)
