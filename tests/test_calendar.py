"""Calendar feeds: parsed back with the icalendar library, a subscription round trip
(fetch, change a due date, fetch again), tokens, and where a user finds their URL."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from django.test import Client

from commitments import services
from commitments.models import CalendarFeed, Channel, Profile, Status

from .api.conftest import bearer_client
from .factories import CommitmentFactory, VisitFactory

pytestmark = pytest.mark.django_db


def fetch(url: str, client: Client | None = None):
    path = url.split("://", 1)[1].split("/", 1)[1]
    return (client or Client()).get(f"/{path}")


def events(response) -> dict[str, icalendar.Event]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


@pytest.fixture
def mine(officer, other_officer):
    due = dt.date(2026, 2, 10)
    return {
        "open": [
            CommitmentFactory(owner=officer, due_date=due, status=Status.AGREED),
            CommitmentFactory(owner=officer, due_date=due + dt.timedelta(days=3)),
        ],
        "closed": CommitmentFactory(owner=officer, due_date=due, status=Status.CANCELLED),
        "no_due": CommitmentFactory(owner=officer, due_date=None, next_follow_up_at=None),
        "others": CommitmentFactory(owner=other_officer, due_date=due),
    }


def test_feed_parses_and_carries_every_open_commitment_the_user_owns_with_a_due_date(officer, mine):
    feed = services.calendar_feed_personal(user=officer)
    got = events(fetch(services.calendar_feed_url(feed)))
    due_events = {uid: e for uid, e in got.items() if "-due@" in uid}
    assert {uid.split("-")[1] for uid in due_events} == {str(c.pk) for c in mine["open"]}
    c = mine["open"][0]
    event = due_events[f"commitment-{c.pk}-due@127.0.0.1"]
    assert event.decoded("DTSTART") == c.due_date
    assert c.reference in str(event["SUMMARY"]) and "Agreed" in str(event["SUMMARY"])
    assert str(event["URL"]).endswith(f"/commitments/{c.pk}/")


def test_sequence_grows_and_uid_stays_when_a_due_date_moves(officer, mine, manager):
    feed = services.calendar_feed_personal(user=officer)
    url = services.calendar_feed_url(feed)
    c = mine["open"][0]
    uid = f"commitment-{c.pk}-due@127.0.0.1"
    before = events(fetch(url))[uid]
    services.commitment_update(
        commitment_id=c.pk,
        actor=manager,
        channel=Channel.WEB,
        data={"due_date": dt.date(2026, 3, 1)},
    )
    after = events(fetch(url))[uid]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("DTSTART") == dt.date(2026, 3, 1)


def test_follow_ups_are_in_the_users_time_zone(officer):
    Profile.objects.filter(user=officer).update(time_zone="Asia/Kabul")
    at = dt.datetime(2026, 2, 1, 4, 30, tzinfo=dt.UTC)
    c = CommitmentFactory(owner=officer, due_date=None, next_follow_up_at=at)
    feed = services.calendar_feed_personal(user=officer)
    event = events(fetch(services.calendar_feed_url(feed)))[
        f"commitment-{c.pk}-follow-up@127.0.0.1"
    ]
    start = event.decoded("DTSTART")
    assert str(start.tzinfo) == "Asia/Kabul" and start.hour == 9 and start == at


def test_visit_and_saved_filter_feeds(officer, mine):
    visit = mine["open"][0].visit
    by_visit = services.calendar_feed_create(user=officer, kind="visit", visit=visit)
    uids = set(events(fetch(services.calendar_feed_url(by_visit))))
    assert uids == {f"commitment-{mine['open'][0].pk}-due@127.0.0.1"}
    by_filter = services.calendar_feed_create(
        user=officer, kind="filter", query="/commitments/?status=agreed"
    )
    uids = set(events(fetch(services.calendar_feed_url(by_filter))))
    assert uids == {f"commitment-{mine['open'][0].pk}-due@127.0.0.1"}


def test_a_revoked_or_wrong_token_gets_404_and_the_token_is_not_stored(officer, mine):
    feed = services.calendar_feed_personal(user=officer)
    old = services.calendar_feed_url(feed)
    token = old.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 40
    row = CalendarFeed.objects.get(pk=feed.pk)
    assert token not in {row.token_hash, row.salt}
    services.calendar_feed_revoke(feed_id=feed.pk, user=officer)
    assert fetch(old).status_code == 404
    assert fetch(old.replace(token, token[:-1] + "x")).status_code == 404
    new = services.calendar_feed_url(CalendarFeed.objects.get(pk=feed.pk))
    assert new != old and fetch(new).status_code == 200


def test_feed_needs_no_session_and_sets_none(officer, mine):
    feed = services.calendar_feed_personal(user=officer)
    response = fetch(services.calendar_feed_url(feed))
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


def test_the_user_finds_their_feed_on_the_profile_page_and_in_the_api(client, officer, mine):
    client.force_login(officer)
    page = client.get("/profile/")
    assert page.status_code == 200
    url = services.calendar_feed_url(services.calendar_feed_personal(user=officer))
    assert url in page.text
    api = bearer_client(officer, "read").get("/api/v1/me/calendar/")
    assert api.status_code == 200 and api.json()["url"] == url
    # Asking again gives the same address (no new feed each time).
    assert bearer_client(officer, "read").get("/api/v1/me/calendar/").json()["url"] == url
    assert CalendarFeed.objects.filter(user=officer).count() == 1


def test_profile_adds_a_visit_feed_and_refuses_a_bad_filter(client, officer):
    client.force_login(officer)
    visit = VisitFactory()
    assert (
        client.post("/profile/calendars/", {"kind": "visit", "visit": visit.pk}).status_code == 302
    )
    bad = client.post("/profile/calendars/", {"kind": "filter", "query": "status=nonsense"})
    assert bad.status_code == 400
    assert CalendarFeed.objects.filter(user=officer, kind="filter").count() == 0
