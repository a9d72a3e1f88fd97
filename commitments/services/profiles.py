"""Writes to a user's own settings (the Profile)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import Profile, validate_time_zone


def profile_set_time_zone(*, user, time_zone: str) -> Profile:
    """Set the zone every time is shown in (and reminders are timed by) for this user."""
    time_zone = (time_zone or "").strip()
    if not time_zone:
        raise ValidationError({"time_zone": _("Choose a time zone.")})
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from exc
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        profile.time_zone = time_zone
        profile.save(update_fields=["time_zone"])
    return profile
