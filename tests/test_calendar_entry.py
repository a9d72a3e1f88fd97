# ruff: noqa: RUF001 - Arabic script on purpose
"""Issue 15, item 3: dates are *entered* in the reader's calendar. A Solar Hijri reader
types due dates, snoozes and date filters in Solar Hijri (Latin or Eastern digits); they
are stored as ISO Gregorian dates; the form says which form it takes; a bad date is a
clear form error and writes nothing. The API stays ISO whatever the reader's calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from commitments.models import Profile
from tracker import calendars
from tracker.calendars import BadDate, DateStyle, parse_date

from .factories import CommitmentFactory

SOLAR = DateStyle(calendars.SOLAR_HIJRI)
GREGORIAN = DateStyle(calendars.GREGORIAN)


@pytest.mark.parametrize(
    ("typed", "gregorian"),
    [
        ("1/1/1404", dt.date(2025, 3, 21)),  # Nowruz on 21 March
        ("01/01/1403", dt.date(2024, 3, 20)),  # and on 20 March
        ("30/12/1403", dt.date(2025, 3, 20)),  # Hut 30: 1403 is a leap year
        ("29/12/1404", dt.date(2026, 3, 20)),  # last day of a common year
        ("1/1/1405", dt.date(2026, 3, 21)),  # the next day, a new year
        ("30/12/1399", dt.date(2021, 3, 20)),  # leap years: 1399, 1403, 1408 (33-year cycle)
        ("30/12/1408", dt.date(2030, 3, 20)),
        ("31/6/1404", dt.date(2025, 9, 22)),  # Sunbula has 31 days,
        ("1/7/1404", dt.date(2025, 9, 23)),  # Mizan starts the 30-day months
        ("30/11/1404", dt.date(2026, 2, 19)),  # Dalw 30
        ("۲۵/۰۷/۱۴۰۵", dt.date(2026, 10, 17)),  # Eastern Arabic digits
        ("1405/07/25", dt.date(2026, 10, 17)),  # year first
        ("25.07.1405", dt.date(2026, 10, 17)),
        ("2026-10-17", dt.date(2026, 10, 17)),  # a Gregorian ISO date pasted in
    ],
)
def test_a_solar_hijri_date_typed_is_stored_as_its_gregorian_day(typed, gregorian):
    assert parse_date(typed, SOLAR) == gregorian
    if "/" in typed and len(typed) <= 10 and typed.isascii():
        # The round trip: shown back in the same calendar.
        y, m, d = calendars.to_solar_hijri(gregorian)
        assert parse_date(f"{d}/{m}/{y}", SOLAR) == gregorian


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("30/12/1404", "day"),  # Hut has 29 days in a common year
        ("30/12/1407", "day"),
        ("31/7/1404", "day"),  # Mizan has 30
        ("1/13/1404", "day"),
        ("0/1/1404", "day"),
        ("1/1/04", "format"),
        ("tomorrow", "format"),
        ("", "format"),
    ],
)
def test_a_day_the_solar_hijri_calendar_lacks_is_refused(typed, kind):
    with pytest.raises(BadDate) as caught:
        parse_date(typed, SOLAR)
    assert caught.value.kind == kind


def test_a_gregorian_reader_types_gregorian_dates():
    assert parse_date("16/10/2026", GREGORIAN) == dt.date(2026, 10, 16)
    assert parse_date("۱۶/۱۰/۲۰۲۶", GREGORIAN) == dt.date(2026, 10, 16)
    # A Solar Hijri year is not read as one for a Gregorian reader.
    assert parse_date("1/1/1405", GREGORIAN) == dt.date(1405, 1, 1)
    with pytest.raises(BadDate):
        parse_date("29/2/2025", GREGORIAN)


@pytest.fixture
def dari_officer(officer):
    Profile.objects.filter(user=officer).update(language="fa")
    return officer


@pytest.mark.django_db
def test_a_dari_officer_snoozes_with_a_solar_hijri_date(client, dari_officer):
    commitment = CommitmentFactory(owner=dari_officer, due_date=dt.date(2030, 1, 1))
    client.force_login(dari_officer)
    html = client.get(commitment.get_absolute_url(), {"action": "snooze"}).content.decode()
    # The form says which calendar and form it takes (in Dari).
    assert "هجری شمسی" in html and "25/07/1405" in html
    url = reverse("commitments:commitment-snooze", args=[commitment.pk])
    bad = client.post(url, {"version": 1, "until": "30/12/1404", "reason": "سفر"})
    assert bad.status_code == 422
    assert "در تقویم هجری شمسی چنین روزی وجود ندارد" in bad.content.decode()
    commitment.refresh_from_db()
    assert commitment.snoozed_until is None and commitment.version == 1
    until = dt.date.today() + dt.timedelta(days=30)
    y, m, d = calendars.to_solar_hijri(until)
    typed = f"{d}/{m}/{y}".translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    good = client.post(url, {"version": 1, "until": typed, "reason": "سفر"})
    assert good.status_code == 302
    commitment.refresh_from_db()
    assert commitment.snoozed_until == until


@pytest.mark.django_db
def test_a_dari_reader_filters_the_list_by_solar_hijri_dates(client, dari_officer):
    before = CommitmentFactory(title="Before Nowruz", due_date=dt.date(2026, 3, 20))
    after = CommitmentFactory(title="On Nowruz", due_date=dt.date(2026, 3, 21))
    client.force_login(dari_officer)
    response = client.get("/commitments/", {"due_after": "1/1/1405"})
    assert response.status_code == 200
    html = response.content.decode()
    assert after.reference in html and before.reference not in html
    # The box shows the date back in the reader's calendar.
    assert 'value="1/1/1405"' in html
    bad = client.get("/commitments/", {"due_after": "31/12/1404"}).content.decode()
    assert "در تقویم هجری شمسی چنین روزی وجود ندارد" in bad


@pytest.mark.django_db
def test_the_api_date_filters_stay_iso_for_a_solar_hijri_reader(client, dari_officer):
    from commitments import services

    CommitmentFactory(owner=dari_officer, due_date=dt.date(2026, 3, 21))
    token = services.api_token_issue(name="t", user=dari_officer, scope="read")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT_LANGUAGE": "fa"}
    found = client.get("/api/v1/commitments/", {"due_after": "2026-03-21"}, **auth).json()
    assert len(found["results"]) == 1
    # "1/1/1405" is not Nowruz 1405 here: day-first Gregorian, 1 January 1405.
    old = client.get("/api/v1/commitments/", {"due_before": "1/1/1405"}, **auth).json()
    assert old["results"] == []
