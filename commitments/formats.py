"""The one way dates and times are written for people: pages, CSV exports and emails.

Dates read "16 Oct 2026" (settings.TRACKER_DATE_FORMAT); times add the hour in the
viewer's zone and the zone's name. Machine-facing output (API, CSV date columns, the
datetime attribute of <time>) stays ISO 8601.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext

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


# --- Dates people type, in their own calendar (issue 15) ---------------------------------


def date_input_help() -> str:
    """What a date input accepts, in the reader's calendar."""
    if calendars.current().calendar == calendars.SOLAR_HIJRI:
        return gettext("Day/month/year in the Solar Hijri calendar, e.g. 25/07/1405.")
    return gettext("Day/month/year, e.g. 16/10/2026.")


date_input_help_lazy = lazy(date_input_help, str)


class CalendarDateInput(forms.DateInput):
    """Shows a stored (Gregorian) date as day/month/year in the reader's calendar."""

    def __init__(self, attrs=None):
        base = {"placeholder": DATE_INPUT_HINT, "inputmode": "numeric", "autocomplete": "off"}
        super().__init__({**base, **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, dt.date):
            return calendars.format_date(value, "d/m/Y")
        return super().format_value(value)


class CalendarDateField(forms.DateField):
    """A date typed in the reader's calendar (Gregorian or Solar Hijri, Latin or Eastern
    digits; tracker.calendars.parse_date), cleaned to the Gregorian date that is stored.
    A bad date is a form error that says which calendar and form were expected."""

    widget = CalendarDateInput

    def __init__(self, **kwargs):
        kwargs.pop("input_formats", None)
        kwargs.setdefault("help_text", date_input_help_lazy())
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return calendars.parse_date(str(value))
        except calendars.BadDate as exc:
            if exc.kind == "day" and exc.calendar == calendars.SOLAR_HIJRI:
                message = gettext("There is no such day in the Solar Hijri calendar.")
            elif exc.kind == "day":
                message = gettext("There is no such day in the calendar.")
            else:
                message = gettext("Enter the date as day/month/year.") + " " + date_input_help()
            raise ValidationError(message, code="invalid") from None


def person_name(user) -> str:
    """A user as people know them: the full name, the username only when no name is set
    ("" for nobody)."""
    if not user:
        return ""
    return user.get_full_name() or user.get_username()


class PersonChoiceField(forms.ModelChoiceField):
    """A choice of user shown as people know them (full name, the username only when no
    name is set), ordered by that name; the submitted value stays what the field keys on
    (the username for the list's `owner` filter, the id elsewhere)."""

    def label_from_instance(self, obj) -> str:
        return person_name(obj)
