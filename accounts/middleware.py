"""The verification step after the password, for users who have a second factor.

At sign-in the session records whether this user has a second factor (one query, then
none per request); until a code is accepted, every page but the verification page and
sign-out redirects there.
"""

from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

SECOND_FACTOR_DUE = "tracker_second_factor_due"


def remember_second_factor_due(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: does this session still owe a second factor?"""
    from .services import two_factor_enabled

    if request is not None and hasattr(request, "session"):
        request.session[SECOND_FACTOR_DUE] = two_factor_enabled(user)


class SecondFactorMiddleware:
    """After django_otp.middleware.OTPMiddleware (which tells whether the session's
    user is verified)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.session.get(SECOND_FACTOR_DUE)
            and request.user.is_authenticated
            and not request.user.is_verified()
            and not self._allowed(request.path)
        ):
            verify = reverse("two-factor-verify")
            return redirect(f"{verify}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _allowed(path: str) -> bool:
        open_paths = (reverse("two-factor-verify"), reverse("logout"), "/" + settings.STATIC_URL)
        return path.startswith(open_paths)


# The viewer's zone name, kept in the session so that pages cost no extra query; set at
# sign-in (remember_time_zone) and when the user saves /profile/.
TIME_ZONE_KEY = "tracker_time_zone"


def remember_time_zone(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: note the user's zone in the session."""
    if request is not None and hasattr(request, "session"):
        request.session[TIME_ZONE_KEY] = zone_of(user)


def zone_of(user) -> str:
    from commitments.models import Profile

    return (
        Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
        or settings.TIME_ZONE
    )


def user_time_zone_middleware(get_response):
    """Show every time in the signed-in user's own zone (Profile.time_zone), falling back
    to settings.TIME_ZONE. Dates that decide behaviour (overdue, due today) keep the
    tracker's zone: see commitments.models.today_local."""

    def middleware(request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            name = request.session.get(TIME_ZONE_KEY)
            if not name:  # a session from before this setting existed
                name = request.session[TIME_ZONE_KEY] = zone_of(user)
            try:
                timezone.activate(zoneinfo.ZoneInfo(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        try:
            return get_response(request)
        finally:
            timezone.deactivate()

    return middleware
