"""Issue 15: five interface languages, right-to-left, the Solar Hijri calendar, emails in
the reader's language. The catalogues are checked whole; the pages through the client."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import zoneinfo
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail

from commitments.models import Profile, Reminder, Role
from commitments.services.reminders import reminder_send, reminders_sweep
from tracker import calendars
from tracker.calendars import DateStyle, format_date, to_solar_hijri

from .factories import CommitmentFactory, UserFactory

ROOT = Path(settings.BASE_DIR)
TRANSLATED = ["ru", "kk", "fa", "ps"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def _catalogue(code: str) -> polib.POFile:
    return polib.pofile(str(ROOT / "locale" / code / "LC_MESSAGES" / "django.po"))


# --- the catalogues ---------------------------------------------------------------------


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_msgid_is_translated_in_every_language(code):
    po = _catalogue(code)
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert len(po) > 600
    assert untranslated == [] and fuzzy == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_every_placeholder(code):
    wrong = []
    for entry in _catalogue(code):
        want = sorted(PLACEHOLDER.findall(entry.msgid))
        forms = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for form in forms:
            got = sorted(PLACEHOLDER.findall(form))
            # A singular may spell the number out; it must not invent a placeholder.
            if got != want and not (entry.msgid_plural and set(got) <= set(want)):
                wrong.append(entry.msgid)
    assert wrong == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_begin_and_end_with_a_newline_where_the_english_does(code):
    # GNU msgfmt refuses a catalogue where they differ (`msgfmt -c`), and an email body
    # would lose its last line break.
    wrong = [
        e.msgid
        for e in _catalogue(code)
        for form in (list(e.msgstr_plural.values()) if e.msgid_plural else [e.msgstr])
        if (e.msgid.endswith("\n"), e.msgid.startswith("\n"))
        != (form.endswith("\n"), form.startswith("\n"))
    ]
    assert wrong == []


def test_the_catalogues_have_the_same_msgids():
    ids = {code: {(e.msgctxt, e.msgid) for e in _catalogue(code)} for code in TRANSLATED}
    assert ids["kk"] == ids["ru"] == ids["fa"] == ids["ps"]


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="makemessages needs GNU gettext")
def test_makemessages_finds_no_string_the_catalogues_lack(tmp_path):
    """makemessages on a copy of the sources: every msgid it extracts is already in the
    catalogue, so nothing marked for translation is left untranslated."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", "var", ".git", "node_modules", "test-artifacts", "*.mo", "__pycache__"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "ru",
            "--no-location",
            "--ignore=tests/*",
            "--ignore=var/*",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    extracted = polib.pofile(str(copy / "locale" / "ru" / "LC_MESSAGES" / "django.po"))
    known = {(e.msgctxt, e.msgid) for e in _catalogue("ru")}
    new = [e.msgid for e in extracted if not e.obsolete and (e.msgctxt, e.msgid) not in known]
    assert new == []
    assert [e.msgid for e in extracted.untranslated_entries()] == []


# --- the Solar Hijri calendar -----------------------------------------------------------


@pytest.mark.parametrize(
    ("gregorian", "solar_hijri"),
    [
        # Nowruz, 1 Hamal, falls on 20 or 21 March.
        (dt.date(2024, 3, 20), (1403, 1, 1)),
        (dt.date(2025, 3, 21), (1404, 1, 1)),
        (dt.date(2026, 3, 21), (1405, 1, 1)),
        # The eve of Nowruz: 1402 is a common year (Hut has 29 days), 1403 a leap year (30).
        (dt.date(2024, 3, 19), (1402, 12, 29)),
        (dt.date(2025, 3, 20), (1403, 12, 30)),
        # Month boundaries: the first six months have 31 days, the next five 30.
        (dt.date(2025, 4, 20), (1404, 1, 31)),
        (dt.date(2025, 4, 21), (1404, 2, 1)),
        (dt.date(2025, 9, 22), (1404, 6, 31)),
        (dt.date(2025, 9, 23), (1404, 7, 1)),
        (dt.date(2025, 10, 22), (1404, 7, 30)),
        (dt.date(2025, 10, 23), (1404, 8, 1)),
        # Gregorian year end falls in Jadi.
        (dt.date(2025, 12, 31), (1404, 10, 10)),
        (dt.date(2026, 1, 1), (1404, 10, 11)),
    ],
)
def test_solar_hijri_conversion_at_boundaries(gregorian, solar_hijri):
    assert to_solar_hijri(gregorian) == solar_hijri


def test_a_leap_day_of_the_gregorian_calendar_converts():
    assert to_solar_hijri(dt.date(2024, 2, 29)) == (1402, 12, 10)


def test_month_names_follow_the_language_as_it_changes_within_a_process():
    # The names are looked up once per calendar and language (calendars._month_names):
    # each language still gets its own, in any order, back and forth.
    from django.utils import translation

    nowruz = dt.date(2025, 3, 21)
    written = []
    for language in ("ru", "en", "ps", "ru", "en"):
        with translation.override(language):
            written.append(format_date(nowruz, "j F Y", DateStyle()))
            written.append(format_date(nowruz, "j F Y", DateStyle(calendars.SOLAR_HIJRI)))
    ru = ["21 марта 2025", "1 хамаля 1404"]
    en = ["21 March 2025", "1 Hamal 1404"]
    assert written == [*ru, *en, "21 مارچ 2025", "1 وری 1404", *ru, *en]


def test_dates_are_written_in_the_readers_calendar_language_and_digits():
    from django.utils import translation

    nowruz = dt.date(2025, 3, 21)
    with translation.override("fa"):
        assert format_date(nowruz, "j F Y", DateStyle(calendars.SOLAR_HIJRI)) == "1 حمل 1404"
        assert (
            format_date(nowruz, "j F Y", DateStyle(calendars.SOLAR_HIJRI, eastern_digits=True))
            == "۱ حمل ۱۴۰۴"
        )
        assert format_date(nowruz, "j F Y", DateStyle()) == "21 مارچ 2025"
    with translation.override("ps"):
        assert format_date(nowruz, "j F Y", DateStyle(calendars.SOLAR_HIJRI)) == "1 وری 1404"
    with translation.override("ru"):
        assert format_date(nowruz, "j F Y", DateStyle()) == "21 марта 2025"
    with translation.override("en"):
        assert format_date(nowruz, "j M Y", DateStyle()) == "21 Mar 2025"
        assert format_date(nowruz, "j F Y", DateStyle()) == "21 March 2025"
        assert format_date(None) == ""


# --- pages --------------------------------------------------------------------------------


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("accept", "lang", "direction", "text"),
    [
        ("ru", "ru", "ltr", "Войти"),
        ("kk", "kk", "ltr", "Кіру"),
        ("fa-AF,fa;q=0.9", "fa", "rtl", "ورود"),
        ("ps", "ps", "rtl", "ننوتل"),
        ("de", "en", "ltr", "Sign in"),
    ],
)
def test_anonymous_pages_follow_accept_language(client, accept, lang, direction, text):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f'<html lang="{lang}" dir="{direction}">' in html
    assert text in html


def test_the_switcher_sets_the_cookie_and_works_before_sign_in(client):
    response = client.post(
        "/i18n/setlang/", {"language": "ps", "next": "/accounts/login/"}, follow=False
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ps"
    html = client.get("/accounts/login/").content.decode()
    assert '<html lang="ps" dir="rtl">' in html


def test_the_switcher_saves_the_choice_on_the_profile(client, officer):
    client.force_login(officer)
    client.post("/i18n/setlang/", {"language": "fa", "next": "/"})
    assert Profile.objects.get(user=officer).language == "fa"
    # The profile wins over the browser's language on the next device.
    client.cookies.clear()
    client.force_login(officer)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="fa" dir="rtl">' in html and "داشبورد" in html


def test_an_unknown_language_changes_nothing(client, officer):
    client.force_login(officer)
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert Profile.objects.get(user=officer).language == ""


def test_the_profile_keeps_language_calendar_and_digits(client, officer):
    client.force_login(officer)
    response = client.post(
        "/profile/preferences/",
        {"language": "ru", "calendar": "solar_hijri", "eastern_digits": "on"},
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=officer)
    assert (profile.language, profile.calendar, profile.eastern_digits) == (
        "ru",
        "solar_hijri",
        True,
    )
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    html = client.get("/profile/").content.decode()
    assert 'name="calendar"' in html and 'value="solar_hijri" selected' in html


def test_a_bad_calendar_is_refused_and_nothing_is_written(client, officer):
    client.force_login(officer)
    response = client.post("/profile/preferences/", {"language": "fa", "calendar": "julian"})
    assert response.status_code == 400
    profile = Profile.objects.get(user=officer)
    assert (profile.language, profile.calendar) == ("", "")


def test_a_dari_reader_sees_dates_in_solar_hijri_by_default(client, officer):
    Profile.objects.filter(user=officer).update(language="fa")
    commitment = CommitmentFactory(owner=officer, due_date=dt.date(2026, 3, 21))
    client.force_login(officer)
    html = client.get(commitment.get_absolute_url()).content.decode()
    assert "1 حمل 1405" in html
    # The machine-readable copy stays ISO.
    assert 'datetime="2026-03-21"' in html


def test_a_dari_reader_may_choose_the_gregorian_calendar(client, officer):
    Profile.objects.filter(user=officer).update(language="fa", calendar="gregorian")
    commitment = CommitmentFactory(owner=officer, due_date=dt.date(2026, 3, 21))
    client.force_login(officer)
    html = client.get(commitment.get_absolute_url()).content.decode()
    assert "21 مارچ 2026" in html and "حمل" not in html


def test_the_api_stays_iso_whatever_the_language(client, officer):
    from commitments import services

    Profile.objects.filter(user=officer).update(language="fa")
    CommitmentFactory(owner=officer, due_date=dt.date(2026, 3, 21))
    token = services.api_token_issue(name="t", user=officer, scope="read")[1]
    response = client.get(
        "/api/v1/commitments/", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT_LANGUAGE="fa"
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["due_date"] == "2026-03-21"


# --- emails -------------------------------------------------------------------------------


def test_a_reminder_reaches_a_dari_officer_in_dari_with_the_solar_hijri_date():
    user = UserFactory(username="dari-officer")
    Profile.objects.filter(user=user).update(
        time_zone="Asia/Kabul", working_days=[6, 7, 1, 2, 3, 4], language="fa"
    )
    user.groups.add(Group.objects.get_or_create(name=Role.DESK_OFFICER)[0])
    CommitmentFactory(owner=user, reference="KZ-AF-2025-007", due_date=dt.date(2025, 3, 23))
    kabul = zoneinfo.ZoneInfo("Asia/Kabul")
    now = dt.datetime(2025, 3, 23, 8, 0, tzinfo=kabul).astimezone(dt.UTC)
    for reminder_id in reminders_sweep(now=now).queued:
        reminder_send(reminder_id=reminder_id, now=now)
    (message,) = [m for m in mail.outbox if "KZ-AF-2025-007" in m.subject]
    assert message.subject == "میعاد امروز: KZ-AF-2025-007"
    assert "سلام" in message.body and "میعاد KZ-AF-2025-007 امروز است." in message.body
    html = message.alternatives[0][0]
    assert '<html lang="fa" dir="rtl">' in html
    sent = Reminder.objects.get(kind=Reminder.Kind.DUE, recipient=user)
    assert sent.send_after.astimezone(kabul).hour == 8


@pytest.mark.parametrize(
    ("language", "subject", "not_in_body"),
    [
        # Pashto: the Solar Hijri date (1 Hamal 1404 is 21 March 2025).
        ("ps", "ټاکلې نېټه 1 وری 1404: R-1", None),
        # The profile's default: English, and Gregorian (no Hamal in the body).
        (None, "Due on 21 Mar 2025: R-1", "حمل"),
    ],
    ids=["pashto-solar-hijri", "english-gregorian"],
)
def test_a_before_due_reminder_subject_is_in_the_readers_language_and_calendar(
    language, subject, not_in_body
):
    from commitments.emails import build_message

    user = UserFactory(username="reader")
    if language:
        Profile.objects.filter(user=user).update(language=language)
    commitment = CommitmentFactory(owner=user, reference="R-1", due_date=dt.date(2025, 3, 21))
    reminder = Reminder.objects.create(
        commitment=commitment,
        recipient=user,
        kind=Reminder.Kind.BEFORE_DUE,
        slot=dt.date(2025, 3, 14),
        about=dt.date(2025, 3, 21),
        send_after=dt.datetime(2025, 3, 14, 4, tzinfo=dt.UTC),
    )
    message, _ = build_message(reminder=reminder, now=dt.datetime(2025, 3, 14, 4, tzinfo=dt.UTC))
    assert message.subject == subject
    if not_in_body:
        assert not_in_body not in message.body


def test_the_status_chart_is_mirrored_right_to_left(officer):
    from django.utils import translation

    from commitments.selectors import dashboard_figures
    from commitments.templatetags.tracker import status_sector_chart

    CommitmentFactory(owner=officer, status="proposed")
    CommitmentFactory(owner=officer, status="agreed")
    with translation.override("en"):
        ltr = status_sector_chart(dashboard_figures())
    with translation.override("fa"):
        rtl = status_sector_chart(dashboard_figures())
    width = ltr["width"]
    assert rtl["width"] == width and not ltr["rtl"] and rtl["rtl"]
    assert rtl["label_x"] == width - ltr["label_x"]
    for bar_l, bar_r in zip(ltr["bars"], rtl["bars"], strict=True):
        assert bar_r["total_x"] == round(width - bar_l["total_x"], 1)
        for seg_l, seg_r in zip(bar_l["segments"], bar_r["segments"], strict=True):
            # The first status starts at the right edge of the bar area in Dari.
            assert seg_r["x"] + seg_r["width"] == pytest.approx(width - seg_l["x"], abs=0.2)


@pytest.mark.parametrize(
    ("code", "grouped"),
    [("en", "500,000,000"), ("ru", "500\xa0000\xa0000"), ("kk", "500\xa0000\xa0000"),
     ("fa", "500,000,000"), ("ps", "500,000,000")],
)  # fmt: skip
def test_large_amounts_are_grouped_by_thousands_in_every_language(code, grouped):
    # Django ships fa without grouping and no kk or ps formats at all (tracker/formats/).
    from django.template import Context, Template
    from django.utils import translation

    template = Template('{% load humanize %}{{ n|floatformat:"0g" }}|{{ n|intcomma }}')
    with translation.override(code):
        assert template.render(Context({"n": 500_000_000})) == f"{grouped}|{grouped}"
