"""The reader's language, calendar and digits (issue 15), kept on their Profile."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import CalendarSystem, Profile

_UNSET = object()


@transaction.atomic
def profile_preferences_set(
    *,
    user,
    language: str | object | None = _UNSET,
    calendar: str | object | None = _UNSET,
    eastern_digits: bool | object = _UNSET,
) -> Profile:
    """Save what is given; leave the rest. An unknown language or calendar is refused and
    nothing is written."""
    changes: dict = {}
    if language is not _UNSET:
        language = language or ""
        if language and language not in dict(settings.LANGUAGES):
            raise ValidationError({"language": _("Choose one of the offered languages.")})
        changes["language"] = language
    if calendar is not _UNSET:
        calendar = calendar or ""
        if calendar and calendar not in CalendarSystem.values:
            raise ValidationError({"calendar": _("Choose Gregorian or Solar Hijri.")})
        changes["calendar"] = calendar
    if eastern_digits is not _UNSET:
        changes["eastern_digits"] = bool(eastern_digits)
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    if changes:
        for field, value in changes.items():
            setattr(profile, field, value)
        profile.save(update_fields=list(changes))
    return profile
