"""Issue 11, part 3: one set of limits, refused the same way on every path; dates within
sane bounds; reopening leaves something that can fall overdue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from commitments import services
from commitments.models import NOTE_MAX_LENGTH, Channel, Evidence, Note, Status, StatusChange
from tests.api.conftest import bearer_client
from tests.api.helpers import assert_error
from tests.factories import CommitmentFactory, OrganisationFactory, VisitFactory, move

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def _post(client, c, action, data):
    return client.post(reverse(f"commitments:{action}", args=[c.pk]), data)


def _writes(c):
    return (c.notes.count(), c.status_changes.count(), c.evidence.count())


def test_browser_note_of_4_7_mb_is_a_form_error_and_nothing_is_stored(client, officer):
    c = CommitmentFactory(owner=officer)
    client.force_login(officer)
    before = _writes(c)
    response = _post(client, c, "note-add", {"text": "x" * 4_700_000})
    assert response.status_code == 422
    assert response.context["note_form"].errors["text"]
    assert _writes(c) == before


def test_browser_status_change_note_over_the_limit_is_refused(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    client.force_login(officer)
    response = _post(
        client,
        c,
        "commitment-transition",
        {"version": c.version, "to_status": Status.BLOCKED, "note": "n" * (NOTE_MAX_LENGTH + 1)},
    )
    assert response.status_code == 422
    assert response.context["transition_form"].errors["note"]
    c.refresh_from_db()
    assert c.status == Status.AGREED and c.status_changes.count() == 1


def test_service_refuses_an_oversize_status_change_note_on_every_channel(manager):
    c = CommitmentFactory(status=Status.AGREED)
    for channel in (Channel.WEB, Channel.API, Channel.IMPORT, Channel.SYSTEM):
        with pytest.raises(ValidationError) as info:
            services.commitment_transition(
                commitment_id=c.pk,
                to_status=Status.BLOCKED,
                actor=manager,
                channel=channel,
                note="n" * (NOTE_MAX_LENGTH + 1),
            )
        assert "note" in info.value.message_dict
    assert StatusChange.objects.filter(commitment=c).count() == 1


def test_service_refuses_an_oversize_note_from_the_import_channel_too(manager):
    c = CommitmentFactory()
    with pytest.raises(ValidationError):
        services.note_add(commitment_id=c.pk, actor=None, channel=Channel.IMPORT, text="n" * 5001)
    assert not Note.objects.exists()


def test_api_and_browser_give_the_same_message_for_an_oversize_note(client, officer):
    c = CommitmentFactory(owner=officer)
    client.force_login(officer)
    text = "y" * (NOTE_MAX_LENGTH + 7)
    page = _post(client, c, "note-add", {"text": text})
    browser_message = page.context["note_form"].errors["text"][0]
    api = bearer_client(officer).post(
        f"/api/v1/commitments/{c.pk}/notes/", {"text": text}, format="json"
    )
    api_message = assert_error(api, 400)["errors"]["text"][0]
    assert api_message == browser_message
    assert str(NOTE_MAX_LENGTH) in api_message
    assert not Note.objects.exists()


def test_api_and_browser_give_the_same_message_for_an_oversize_evidence_title(client, officer):
    c = CommitmentFactory(owner=officer)
    client.force_login(officer)
    data = {"url": "https://example.org/a", "title": "t" * 301, "kind": "media_report"}
    page = _post(client, c, "evidence-add", data)
    assert page.status_code == 422
    browser_message = page.context["evidence_form"].errors["title"][0]
    api = bearer_client(officer).post(
        f"/api/v1/commitments/{c.pk}/evidence/",
        {"url": data["url"], "title": data["title"]},
        format="json",
    )
    assert assert_error(api, 400)["errors"]["title"][0] == browser_message
    assert not Evidence.objects.exists()


@pytest.mark.parametrize(
    ("days", "ok"),
    [(0, False), (-3, False), (366, False), (365, True), (20, True), (10, False)],
    ids=["today", "past", "over-a-year", "a-year", "after-follow-up", "before-follow-up"],
)
def test_snooze_is_after_the_next_follow_up_and_at_most_a_year_ahead(officer, days, ok):
    c = CommitmentFactory(owner=officer)
    c.next_follow_up_at = timezone.now() + dt.timedelta(days=14)
    c.save()
    call = {
        "commitment_id": c.pk,
        "actor": officer,
        "channel": Channel.WEB,
        "until": TODAY() + dt.timedelta(days=days),
        "reason": "Minister away",
    }
    if ok:
        services.commitment_snooze(**call)
    else:
        with pytest.raises(ValidationError) as info:
            services.commitment_snooze(**call)
        assert "until" in info.value.message_dict
    c.refresh_from_db()
    assert (c.snoozed_until is not None) == ok


def test_browser_snooze_to_9999_is_a_form_error(client, officer):
    c = CommitmentFactory(owner=officer)
    client.force_login(officer)
    data = {"version": c.version, "until": "9999-12-31", "reason": "x"}
    response = _post(client, c, "commitment-snooze", data)
    assert response.status_code == 422
    assert response.context["snooze_form"].errors["until"]
    c.refresh_from_db()
    assert c.snoozed_until is None


@pytest.mark.parametrize("due", ["2205-01-01", "0225-01-01", "9999-12-31"])
def test_api_create_with_a_due_date_outside_the_window_is_400(manager, due):
    client = bearer_client(manager)
    body = {
        "title": "Far off",
        "sector": "trade",
        "nature": "agreement",
        "visit": VisitFactory().pk,
        "pledged_by": OrganisationFactory().pk,
        "due_date": due,
    }
    response = client.post("/api/v1/commitments/", body, format="json")
    assert "due_date" in assert_error(response, 400)["errors"]


def test_due_date_window_is_a_setting(manager, settings):
    c = CommitmentFactory()
    far = TODAY() + dt.timedelta(days=365 * 3)
    settings.TRACKER_DUE_DATE_WINDOW_YEARS = 2
    with pytest.raises(ValidationError):
        services.commitment_update(
            commitment_id=c.pk, actor=manager, channel=Channel.WEB, data={"due_date": far}
        )
    settings.TRACKER_DUE_DATE_WINDOW_YEARS = 5
    services.commitment_update(
        commitment_id=c.pk, actor=manager, channel=Channel.WEB, data={"due_date": far}
    )
    c.refresh_from_db()
    assert c.due_date == far


@pytest.fixture
def fulfilled(db):
    """A fulfilled commitment that never had a due date."""
    return CommitmentFactory(status=Status.FULFILLED, progress=100, due_date=None)


def _reopen(c, actor, **extra):
    return move(c, Status.IN_PROGRESS, actor=actor, note="Work resumed", **extra)


def test_reopening_a_fulfilled_commitment_without_a_due_date_is_refused(manager, fulfilled):
    with pytest.raises(ValidationError) as info:
        _reopen(fulfilled, manager)
    assert "due_date" in info.value.message_dict
    fulfilled.refresh_from_db()
    assert fulfilled.status == Status.FULFILLED


def test_reopening_caps_progress_and_can_fall_overdue(manager, fulfilled):
    c = fulfilled
    due = TODAY() + dt.timedelta(days=7)
    _reopen(c, manager, due_date=due)
    c.refresh_from_db()
    assert c.status == Status.IN_PROGRESS
    assert c.progress == services.commitments.REOPENED_PROGRESS_CAP < 100
    assert c.due_date == due
    assert c.is_overdue(on=due + dt.timedelta(days=1))


def test_api_reopen_takes_a_due_date(manager):
    manager_api = bearer_client(manager)
    c = CommitmentFactory(status=Status.FULFILLED, progress=100, due_date=None)
    url = f"/api/v1/commitments/{c.pk}/transitions/"
    refused = manager_api.post(
        url, {"to": "in_progress", "note": "Back"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert "due_date" in assert_error(refused, 400)["errors"]
    due = (TODAY() + dt.timedelta(days=30)).isoformat()
    ok = manager_api.post(
        url,
        {"to": "in_progress", "note": "Back", "due_date": due},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["due_date"] == due and ok.json()["progress"] == 90
