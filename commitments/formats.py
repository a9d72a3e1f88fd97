"""The one way dates and times are written for people: pages, CSV exports and emails.

Dates read "16 Oct 2026" (settings.TRACKER_DATE_FORMAT); times add the hour in the
viewer's zone and the zone's name. Machine-facing output (API, CSV date columns, the
datetime attribute of <time>) stays ISO 8601.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from tracker import calendars


def format_day(value: dt.date | dt.datetime | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    # Issue 15: in the reader's calendar (Gregorian or Solar Hijri), language and digits.
    return calendars.format_date(value, settings.TRACKER_DATE_FORMAT)


def format_when(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return format_day(value)
    zone = zone or timezone.get_current_timezone()
    local = timezone.localtime(value, zone) if timezone.is_aware(value) else value
    day = calendars.format_date(local, settings.TRACKER_DATE_FORMAT)
    clock = calendars.format_date(local, "H:i")
    return f"{day}, {clock} {zone_name(zone)}"


def zone_name(zone: dt.tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


# What date inputs accept: the day-first form people type here and ISO 8601 (what
# machines and <input type=date> send). Their help text says so.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"]
DATE_INPUT_HINT = "dd/mm/yyyy"
