"""Safe moves (issue 14): workflow order with nothing preselected, a confirmation and a
reason for destructive moves, undo of one's own last move (a new history row), times in
the viewer's zone, and write URLs that a reload cannot break."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from commitments import services
from commitments.models import Channel, Commitment, Profile, Status, StatusChange

from .factories import CommitmentFactory

pytestmark = pytest.mark.django_db


def _move(client, c, data):
    return client.post(reverse("commitments:commitment-transition", args=[c.pk]), data)


def test_cancel_without_confirmation_is_refused_and_nothing_is_written(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    client.force_login(officer)
    response = _move(
        client, c, {"version": c.version, "to_status": Status.CANCELLED, "note": "No money"}
    )
    assert response.status_code == 422
    assert response.context["transition_form"].errors["confirm"]
    c.refresh_from_db()
    assert c.status == Status.AGREED
    assert not StatusChange.objects.filter(commitment=c, to_status=Status.CANCELLED).exists()


def test_cancel_with_confirmation_and_reason_goes_through(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    client.force_login(officer)
    response = _move(
        client,
        c,
        {"version": c.version, "to_status": Status.CANCELLED, "note": "No money", "confirm": "on"},
    )
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.status == Status.CANCELLED


def test_empty_move_is_a_form_error(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    client.force_login(officer)
    response = _move(client, c, {"version": c.version, "to_status": ""})
    assert response.status_code == 422
    assert response.context["transition_form"].errors["to_status"]


def _transition(c, actor, to, **kw):
    return services.commitment_transition(
        commitment_id=c.pk, to_status=to, actor=actor, channel=Channel.WEB, **kw
    )


def test_officer_undoes_own_cancellation_with_a_new_history_row(officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    first = _transition(c, officer, Status.CANCELLED, note="oops")
    back = services.commitment_undo_last_move(
        commitment_id=c.pk, actor=officer, channel=Channel.WEB
    )
    c.refresh_from_db()
    assert c.status == Status.AGREED
    assert (back.from_status, back.to_status) == (Status.CANCELLED, Status.AGREED)
    assert back.pk != first.pk
    # The cancellation is still in the history, untouched.
    first_again = StatusChange.objects.get(pk=first.pk)
    assert (first_again.to_status, first_again.note) == (Status.CANCELLED, "oops")


def test_undo_refused_for_someone_elses_move(officer, other_officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    c.watchers.add(other_officer)
    _transition(c, officer, Status.IN_PROGRESS)
    with pytest.raises(ValidationError):
        services.commitment_undo_last_move(
            commitment_id=c.pk, actor=other_officer, channel=Channel.WEB
        )
    c.refresh_from_db()
    assert c.status == Status.IN_PROGRESS


def test_undo_refused_after_the_window_and_after_a_later_change(officer, settings):
    settings.TRACKER_UNDO_MINUTES = 10
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    _transition(c, officer, Status.IN_PROGRESS)
    later = timezone.now() + dt.timedelta(minutes=11)
    with pytest.raises(ValidationError):
        services.commitment_undo_last_move(
            commitment_id=c.pk, actor=officer, channel=Channel.WEB, now=later
        )
    d = CommitmentFactory(owner=officer, status=Status.AGREED)
    _transition(d, officer, Status.IN_PROGRESS)
    services.note_add(commitment_id=d.pk, actor=officer, channel=Channel.WEB, text="news")
    with pytest.raises(ValidationError):
        services.commitment_undo_last_move(commitment_id=d.pk, actor=officer, channel=Channel.WEB)
    assert StatusChange.objects.filter(commitment__in=[c, d]).count() == 4  # 2 created + 2 moves


def test_undo_button_through_the_page(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    client.force_login(officer)
    _move(
        client,
        c,
        {"version": c.version, "to_status": Status.CANCELLED, "note": "x", "confirm": "on"},
    )
    assert (
        "Undo my last move"
        in client.get(reverse("commitments:commitment-detail", args=[c.pk])).content.decode()
    )
    response = client.post(reverse("commitments:commitment-undo", args=[c.pk]))
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.status == Status.AGREED


@time_machine.travel(dt.datetime(2026, 10, 16, 16, 35, tzinfo=dt.UTC), tick=False)
def test_times_show_in_the_viewers_zone_with_its_name(client, officer):
    Profile.objects.update_or_create(user=officer, defaults={"time_zone": "Asia/Kabul"})
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    _transition(c, officer, Status.IN_PROGRESS)
    client.force_login(officer)
    html = client.get(reverse("commitments:commitment-detail", args=[c.pk])).content.decode()
    assert "16 Oct 2026, 21:05 Asia/Kabul" in html
    assert "16:35" not in html


def test_profile_page_sets_the_zone_and_refuses_an_unknown_one(client, officer):
    client.force_login(officer)
    page = client.get("/profile/")
    assert page.status_code == 200
    assert 'action="/profile/time-zone/"' in page.content.decode()
    bad = client.post("/profile/time-zone/", {"time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert not Profile.objects.filter(user=officer, time_zone="Mars/Olympus").exists()
    saved = client.post("/profile/time-zone/", {"time_zone": "Asia/Almaty"})
    assert saved.status_code == 302 and saved["Location"] == "/profile/"
    assert Profile.objects.get(user=officer).time_zone == "Asia/Almaty"


def test_date_filter_accepts_day_month_year_and_iso(client, officer):
    client.force_login(officer)
    assert client.get("/commitments/?due_after=16/10/2026").status_code == 200
    assert client.get("/commitments/?due_after=2026-10-16").status_code == 200
    bad = client.get("/commitments/?due_after=10/16/2026")
    assert bad.status_code == 400


def test_snooze_must_end_after_the_next_follow_up(officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    follow_up = timezone.now() + dt.timedelta(days=10)
    Commitment.objects.filter(pk=c.pk).update(next_follow_up_at=follow_up)
    c.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        services.commitment_snooze(
            commitment_id=c.pk,
            actor=officer,
            channel=Channel.WEB,
            until=timezone.localdate() + dt.timedelta(days=5),
            reason="travel",
        )
    assert "until" in caught.value.message_dict
    c.refresh_from_db()
    assert c.snoozed_until is None
    services.commitment_snooze(
        commitment_id=c.pk,
        actor=officer,
        channel=Channel.WEB,
        until=timezone.localdate(follow_up) + dt.timedelta(days=3),
        reason="travel",
    )


def test_reopening_asks_for_a_due_date_and_resets_progress(client, manager):
    c = CommitmentFactory(status=Status.FULFILLED, progress=100, due_date=None)
    client.force_login(manager)
    data = {"version": c.version, "to_status": Status.IN_PROGRESS, "note": "Work resumed"}
    refused = _move(client, c, {**data, "confirm": "on"})
    assert refused.status_code == 422
    assert refused.context["transition_form"].errors["due_date"]
    due = timezone.localdate() + dt.timedelta(days=30)
    done = _move(client, c, {**data, "confirm": "on", "due_date": due.strftime("%d/%m/%Y")})
    assert done.status_code == 302
    c.refresh_from_db()
    assert (c.status, c.due_date) == (Status.IN_PROGRESS, due)
    assert c.progress < 100


def test_a_refused_profile_form_shows_the_whole_page_with_its_error(client, officer):
    """Each of /profile/'s forms, when refused, comes back on the full page: the other
    forms stay (the page lost its time zone form after a refused preference before)."""
    client.force_login(officer)
    forms = ('action="/profile/time-zone/"', 'name="calendar"', 'name="kind"')

    bad_zone = client.post("/profile/time-zone/", {"time_zone": "Mars/Olympus"}).content.decode()
    bad_prefs = client.post(
        "/profile/preferences/", {"language": "fa", "calendar": "julian"}
    ).content.decode()

    for page in (bad_zone, bad_prefs):
        assert all(marker in page for marker in forms), page
    assert "errorlist" in bad_zone
    assert "errorlist" in bad_prefs


def test_a_reassignment_names_the_new_owner_by_name_not_username(client, manager, officer):
    # Issue 14 finding 5: owners are shown by name; the timeline said "Reassigned to
    # officer." (the username), also in the demo's first entry of every commitment.
    officer.first_name, officer.last_name = "Farida", "Azizi"
    officer.save()
    c = CommitmentFactory(owner=manager, status=Status.AGREED)
    client.force_login(manager)
    response = client.post(
        reverse("commitments:commitment-reassign", args=[c.pk]),
        {"version": c.version, "owner": officer.pk, "note": ""},
        follow=True,
    )
    assert response.status_code == 200
    c.refresh_from_db()
    assert c.owner == officer
    note = c.notes.get()
    assert note.text == "Reassigned to Farida Azizi."
    assert officer.username not in note.text
    html = response.content.decode()
    assert "Reassigned to Farida Azizi." in html
    assert f"Reassigned to {officer.username}" not in html


def test_reassigning_to_the_current_owner_says_so_and_writes_nothing(client, manager, officer):
    """It read "Reassigned to …" though nothing changed, and a note given with it was lost."""
    officer.first_name, officer.last_name = "Farida", "Azizi"
    officer.save()
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    before = c.version
    client.force_login(manager)
    response = client.post(
        reverse("commitments:commitment-reassign", args=[c.pk]),
        {"version": c.version, "owner": officer.pk, "note": "Handing over"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Farida Azizi already owns this commitment." in html
    assert "Reassigned to" not in html
    c.refresh_from_db()
    assert c.version == before and c.owner == officer
    assert not c.notes.exists()


def test_owner_choices_name_people_and_empty_choices_say_any(client, manager, officer):
    # Issue 14 finding 5: the list's Owner filter and the Reassign form listed usernames,
    # and the empty choice of every select filter read "---------".
    officer.first_name, officer.last_name = "Farida", "Azizi"
    officer.save()
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    client.force_login(manager)
    html = client.get(reverse("commitments:commitment-list")).content.decode()
    assert "---------" not in html
    assert f'<option value="{officer.username}">Farida Azizi</option>' in html
    assert f">{officer.username}</option>" not in html
    # The parameter is still the username (the API's contract).
    listed = client.get(reverse("commitments:commitment-list"), {"owner": officer.username})
    assert [x.pk for x in listed.context["page_obj"].object_list] == [c.pk]
    from commitments.forms import ReassignForm

    choices = {str(v): label for v, label in ReassignForm(commitment=c).fields["owner"].choices}
    assert choices[str(officer.pk)] == "Farida Azizi"
