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


READER_PREFERENCES = "tracker_reader"


def remember_reader_preferences(request: HttpRequest, profile) -> None:
    """Keep the reader's language, calendar and digits in the session, so pages need no
    query for them; called when they change and on the first page after sign-in."""
    if hasattr(request, "session"):
        request.session[READER_PREFERENCES] = [
            profile.language if profile else "",
            profile.calendar if profile else "",
            bool(profile.eastern_digits) if profile else False,
        ]


def reader_preferences_at_sign_in(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: read the profile's language and calendar once, at sign-in
    (the session is written then anyway), so no page pays a query for them."""
    from commitments.models import Profile

    if request is not None:
        profile = (
            Profile.objects.filter(user=user).only("language", "calendar", "eastern_digits").first()
        )
        remember_reader_preferences(request, profile)


class ProfileLanguageMiddleware:
    """A signed-in user's saved language, calendar and digits (issue 15).

    LocaleMiddleware has already chosen from the cookie and Accept-Language; a language
    saved on the profile wins over both. The choice is read from the profile at sign-in
    and kept in the session (remember_reader_preferences), so a page costs no query. The
    date style is set for every request and reset after it, so a page never shows
    another user's calendar.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.utils import translation

        from tracker import calendars

        language, calendar, digits = "", "", False
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            saved = request.session.get(READER_PREFERENCES)
            if saved is None:
                from commitments.models import Profile

                profile = (
                    Profile.objects.filter(user=user)
                    .only("language", "calendar", "eastern_digits")
                    .first()
                )
                remember_reader_preferences(request, profile)
                saved = request.session[READER_PREFERENCES]
            language, calendar, digits = saved
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        if not calendar:
            calendar = (
                calendars.SOLAR_HIJRI
                if translation.get_language() in settings.SOLAR_HIJRI_LANGUAGES
                else calendars.GREGORIAN
            )
        calendars.activate(calendars.DateStyle(calendar=calendar, eastern_digits=digits))
        try:
            return self.get_response(request)
        finally:
            calendars.deactivate()


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
