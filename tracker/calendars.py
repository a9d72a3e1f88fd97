"""Dates in the reader's calendar (issue 15): Gregorian or Solar Hijri, Western or Eastern
Arabic digits.

Dates are stored and exchanged (API, CSV, feeds) as ISO Gregorian dates; only what a person
reads goes through here. The reader's choice lives in a context variable, set per request by
accounts.middleware.ProfileLanguageMiddleware and per email by ``override``, the way Django
keeps the active language and time zone.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import jdatetime
from django.utils.translation import get_language, pgettext

GREGORIAN = "gregorian"
SOLAR_HIJRI = "solar_hijri"


@dataclass(frozen=True)
class DateStyle:
    calendar: str = GREGORIAN
    eastern_digits: bool = False


_DEFAULT = DateStyle()
_style: contextvars.ContextVar[DateStyle | None] = contextvars.ContextVar(
    "tracker_date_style", default=None
)


def activate(style: DateStyle) -> None:
    _style.set(style)


def deactivate() -> None:
    _style.set(None)


def current() -> DateStyle:
    return _style.get() or _DEFAULT


@contextlib.contextmanager
def override(style: DateStyle) -> Iterator[None]:
    token = _style.set(style)
    try:
        yield
    finally:
        _style.reset(token)


def _month_names(calendar: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The full and the short month names of `calendar` in the active language. The
    Solar Hijri months have no usual abbreviations: their short names are the full ones.

    Looked up once per calendar and language in a process (the catalogues do not change
    while it runs): 24 translation look-ups per date were a tenth of a list page's time."""
    return _month_names_in(calendar, get_language())


@functools.lru_cache(maxsize=64)
def _month_names_in(calendar: str, language: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # `language` is the active one (the cache's key): pgettext below reads it.
    if calendar == SOLAR_HIJRI:
        # The Afghan names of the months (the zodiac names), not the Iranian ones.
        names = [
            pgettext("solar hijri month", "Hamal"),
            pgettext("solar hijri month", "Sawr"),
            pgettext("solar hijri month", "Jawza"),
            pgettext("solar hijri month", "Saratan"),
            pgettext("solar hijri month", "Asad"),
            pgettext("solar hijri month", "Sunbula"),
            pgettext("solar hijri month", "Mizan"),
            pgettext("solar hijri month", "Aqrab"),
            pgettext("solar hijri month", "Qaws"),
            pgettext("solar hijri month", "Jadi"),
            pgettext("solar hijri month", "Dalw"),
            pgettext("solar hijri month", "Hut"),
        ]
        return tuple(names), tuple(names)
    pairs = [
        (pgettext("gregorian month", "January"), pgettext("abbreviated gregorian month", "Jan")),
        (pgettext("gregorian month", "February"), pgettext("abbreviated gregorian month", "Feb")),
        (pgettext("gregorian month", "March"), pgettext("abbreviated gregorian month", "Mar")),
        (pgettext("gregorian month", "April"), pgettext("abbreviated gregorian month", "Apr")),
        (pgettext("gregorian month", "May"), pgettext("abbreviated gregorian month", "May")),
        (pgettext("gregorian month", "June"), pgettext("abbreviated gregorian month", "Jun")),
        (pgettext("gregorian month", "July"), pgettext("abbreviated gregorian month", "Jul")),
        (pgettext("gregorian month", "August"), pgettext("abbreviated gregorian month", "Aug")),
        (pgettext("gregorian month", "September"), pgettext("abbreviated gregorian month", "Sep")),
        (pgettext("gregorian month", "October"), pgettext("abbreviated gregorian month", "Oct")),
        (pgettext("gregorian month", "November"), pgettext("abbreviated gregorian month", "Nov")),
        (pgettext("gregorian month", "December"), pgettext("abbreviated gregorian month", "Dec")),
    ]
    return tuple(full for full, _short in pairs), tuple(short for _full, short in pairs)


_EASTERN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def to_solar_hijri(value: dt.date) -> tuple[int, int, int]:
    """(year, month, day) in the Solar Hijri calendar of a Gregorian date."""
    j = jdatetime.date.fromgregorian(date=value)
    return j.year, j.month, j.day


def format_date(value: dt.date | dt.datetime | None, fmt: str = "j F Y", style=None) -> str:
    """Format like Django's ``date`` filter for the letters j d n m F M Y y H i s; other
    characters are kept. M is the short Gregorian month name; the Solar Hijri months
    have no usual abbreviations, so M writes them in full."""
    if value is None or value == "":
        return ""
    style = style or current()
    day_value = value.date() if isinstance(value, dt.datetime) else value
    if style.calendar == SOLAR_HIJRI:
        year, month, day = to_solar_hijri(day_value)
    else:
        year, month, day = day_value.year, day_value.month, day_value.day
    months, short_months = _month_names(style.calendar)
    parts = []
    for ch in fmt:
        if ch == "j":
            parts.append(str(day))
        elif ch == "d":
            parts.append(f"{day:02d}")
        elif ch == "n":
            parts.append(str(month))
        elif ch == "m":
            parts.append(f"{month:02d}")
        elif ch == "F":
            parts.append(months[month - 1])
        elif ch == "M":
            parts.append(short_months[month - 1])
        elif ch == "Y":
            parts.append(str(year))
        elif ch == "y":
            parts.append(f"{year % 100:02d}")
        elif ch in "His" and isinstance(value, dt.datetime):
            parts.append(f"{getattr(value, {'H': 'hour', 'i': 'minute', 's': 'second'}[ch]):02d}")
        else:
            parts.append(ch)
    text = "".join(parts)
    return text.translate(_EASTERN) if style.eastern_digits else text


# --- Dates typed by people (issue 15) --------------------------------------------------

_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_PARTS = re.compile(r"(\d{1,4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{1,4})", re.ASCII)
# No Solar Hijri year in use comes near 1700 (that is 2321 in the Gregorian calendar), and
# no due date is before 1700: a larger year is a Gregorian date pasted from elsewhere (ISO).
SOLAR_HIJRI_YEARS_BELOW = 1700


class BadDate(ValueError):
    """`kind` is "format" (not day/month/year) or "day" (no such day in the calendar)."""

    def __init__(self, kind: str, calendar: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.calendar = calendar


def parse_date(text: str, style: DateStyle | None = None) -> dt.date:
    """A date as a person types it, to the Gregorian date that is stored: day/month/year
    (or year first, as ISO writes it), with / . or - between, Latin or Eastern Arabic
    digits. A Solar Hijri reader's dates are Solar Hijri, unless the year is one of the
    Gregorian calendar's (SOLAR_HIJRI_YEARS_BELOW). Raises BadDate."""
    style = style or current()
    match = _PARTS.fullmatch(text.strip().translate(_LATIN))
    if match is None:
        raise BadDate("format", style.calendar)
    first, month, last = match.groups()
    if len(first) == 4:
        year, day = first, last
    elif len(last) == 4:
        year, day = last, first
    else:
        raise BadDate("format", style.calendar)
    year, month, day = int(year), int(month), int(day)
    solar = style.calendar == SOLAR_HIJRI and year < SOLAR_HIJRI_YEARS_BELOW
    try:
        if solar:
            return jdatetime.date(year, month, day).togregorian()
        return dt.date(year, month, day)
    except ValueError:
        raise BadDate("day", SOLAR_HIJRI if solar else GREGORIAN) from None
