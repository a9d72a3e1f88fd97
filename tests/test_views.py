"""Browser pages through Django's test client: every page per role, the writes and
their refusals (403, 400 with field errors, 409 on a stale version), CSV export and
what the pages must never render (unsafe links, unescaped text)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from commitments.models import (
    AuditEvent,
    Commitment,
    Evidence,
    FigureKind,
    Note,
    Organisation,
    Sector,
    Status,
    StatusChange,
)
from commitments.selectors import commitment_timeline

from .factories import CommitmentFactory, OrganisationFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _detail(c):
    return reverse("commitments:commitment-detail", args=[c.pk])


def _post(client, c, action, data):
    return client.post(reverse(f"commitments:{action}", args=[c.pk]), data)


def _writes():
    return (
        StatusChange.objects.count(),
        Note.objects.count(),
        Evidence.objects.count(),
        AuditEvent.objects.count(),
    )


# --- Login ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/", "/commitments/", "/commitments/overdue/", "/commitments/overdue/?format=csv"],
)
def test_every_page_sends_anonymous_users_to_the_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_anonymous_post_writes_nothing(client, commitment):
    before = _writes()
    response = _post(client, commitment, "note-add", {"text": "hello"})
    assert response.status_code == 302
    assert _writes() == before


def test_login_redirects_only_to_local_paths(client, officer):
    data = {"username": officer.username, "password": "correct horse battery staple"}
    evil = client.post("/accounts/login/", {**data, "next": "https://evil.example/steal"})
    assert evil.status_code == 302 and evil["Location"] == "/"
    client.logout()
    local = client.post("/accounts/login/", {**data, "next": "/commitments/overdue/"})
    assert local["Location"] == "/commitments/overdue/"


# --- Pages per role -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "manager", "viewer"])
def test_every_page_renders_for_every_role(client, request, role, commitment):
    client.force_login(request.getfixturevalue(role))
    for url in [
        "/",
        "/commitments/",
        "/commitments/overdue/",
        _detail(commitment),
        reverse("commitments:visit-detail", args=[commitment.visit_id]),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b'name="csrfmiddlewaretoken"' in response.content  # the sign-out form


def test_viewer_sees_no_edit_controls(client, viewer, commitment):
    client.force_login(viewer)
    html = client.get(_detail(commitment)).content.decode()
    for form_id in ("status-form", "note-form", "evidence-form", "snooze-form", "reassign-form"):
        assert form_id not in html


def test_officer_sees_forms_on_own_commitment_but_not_on_others(client, officer, commitment):
    client.force_login(officer)
    assert "status-form" in client.get(_detail(commitment)).content.decode()
    # Reassigning is for managers.
    assert "reassign-form" not in client.get(_detail(commitment)).content.decode()
    other = CommitmentFactory()
    assert "status-form" not in client.get(_detail(other)).content.decode()


def test_manager_sees_reassign_and_reopen_options(client, manager):
    closed = CommitmentFactory(status=Status.CANCELLED)
    client.force_login(manager)
    response = client.get(_detail(closed))
    assert "reassign-form" in client.get(_detail(closed) + "?action=reassign").content.decode()
    # Workflow order, nothing preselected.
    assert [v for v, _ in response.context["transition_form"].fields["to_status"].choices] == [
        "",
        Status.PROPOSED,
        Status.AGREED,
    ]


def test_only_allowed_moves_are_offered(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.BLOCKED)
    client.force_login(officer)
    choices = client.get(_detail(c)).context["transition_form"].fields["to_status"].choices
    assert [v for v, _ in choices] == ["", Status.AGREED, Status.IN_PROGRESS, Status.CANCELLED]


def test_officer_is_offered_no_reopening_of_a_closed_commitment(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.FULFILLED)
    client.force_login(officer)
    html = client.get(_detail(c)).content.decode()
    assert "status-form" not in html
    assert "only a manager may reopen it" in html


def test_missing_commitment_and_visit_are_404(client, officer):
    client.force_login(officer)
    assert client.get("/commitments/999999/").status_code == 404
    assert client.get("/visits/999999/").status_code == 404


# --- Status update ----------------------------------------------------------------------


def test_status_update_with_note_and_evidence_writes_history_and_redirects(
    client, officer, commitment
):
    client.force_login(officer)
    response = _post(
        client,
        commitment,
        "commitment-transition",
        {
            "version": commitment.version,
            "to_status": Status.IN_PROGRESS,
            "note": "Working group met.",
            "evidence_url": "https://example.org/minutes",
            "evidence_title": "Minutes",
            "evidence_kind": Evidence.Kind.DOCUMENT,
        },
    )
    assert response.status_code == 302 and response["Location"] == _detail(commitment)
    commitment.refresh_from_db()
    assert commitment.status == Status.IN_PROGRESS
    change = StatusChange.objects.filter(commitment=commitment).order_by("-version").first()
    assert (change.note, change.actor, change.channel) == ("Working group met.", officer, "web")
    assert list(commitment.evidence.values_list("url", "kind")) == [
        ("https://example.org/minutes", Evidence.Kind.DOCUMENT)
    ]
    page = client.get(_detail(commitment)).content.decode()
    assert "Working group met." in page and "Status changed to In progress." in page


def test_htmx_status_update_answers_in_place_with_the_new_panel(client, officer, commitment):
    client.force_login(officer)
    response = client.post(
        reverse("commitments:commitment-transition", args=[commitment.pk]),
        {"version": commitment.version, "to_status": Status.AGREED},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="commitment-panel"' in html and "Status changed to Agreed." in html
    assert f'name="version" value="{commitment.version + 1}"' in html


def test_a_move_the_service_refuses_shows_the_error_next_to_the_field(client, officer, commitment):
    client.force_login(officer)
    before = _writes()
    response = _post(
        client,
        commitment,
        "commitment-transition",
        {"version": commitment.version, "to_status": Status.CANCELLED, "note": "  "},
    )
    assert response.status_code == 422
    assert response.context["transition_form"].errors["note"] == ["Say why in a note."]
    assert _writes() == before
    commitment.refresh_from_db()
    assert commitment.status == Status.PROPOSED


def test_fulfilled_without_evidence_is_refused_on_the_evidence_field(client, officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    client.force_login(officer)
    response = _post(
        client, c, "commitment-transition", {"version": c.version, "to_status": Status.FULFILLED}
    )
    assert response.status_code == 422
    assert "evidence_url" in response.context["transition_form"].errors
    c.refresh_from_db()
    assert c.status == Status.AGREED


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "ftp://x.org/a"]
)
def test_unsafe_evidence_link_is_a_field_error_and_nothing_is_written(
    client, officer, commitment, url
):
    client.force_login(officer)
    before = _writes()
    response = _post(
        client,
        commitment,
        "commitment-transition",
        {
            "version": commitment.version,
            "to_status": Status.IN_PROGRESS,
            "evidence_url": url,
            "evidence_title": "x",
            "evidence_kind": Evidence.Kind.PHOTO,
        },
    )
    assert response.status_code == 422
    assert response.context["transition_form"].errors["evidence_url"]
    assert _writes() == before


def test_a_move_not_offered_is_a_form_error(client, officer, commitment):
    client.force_login(officer)
    response = _post(
        client,
        commitment,
        "commitment-transition",
        {"version": commitment.version, "to_status": Status.FULFILLED},
    )
    assert response.status_code == 422
    assert "to_status" in response.context["transition_form"].errors


def test_stale_version_is_refused_with_the_current_state_and_nothing_overwritten(
    client, officer, commitment
):
    from commitments import services

    client.force_login(officer)
    stale = commitment.version
    # Someone else moves it after our page was loaded.
    services.commitment_transition(
        commitment_id=commitment.pk,
        to_status=Status.AGREED,
        actor=officer,
        channel="api",
        expected_version=stale,
    )
    before = _writes()
    response = _post(
        client,
        commitment,
        "commitment-transition",
        {"version": stale, "to_status": Status.IN_PROGRESS, "note": "my typed note"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed this commitment" in html
    assert "my typed note" in html  # what the user typed is kept
    assert f'name="version" value="{stale + 1}"' in html  # the form now carries the current one
    assert response.context["commitment"].status == Status.AGREED
    assert _writes() == before
    commitment.refresh_from_db()
    assert commitment.status == Status.AGREED


def test_garbage_version_is_a_form_error_not_a_500(client, officer, commitment):
    client.force_login(officer)
    response = _post(
        client, commitment, "commitment-transition", {"version": "x", "to_status": "nope"}
    )
    assert response.status_code == 422


# --- 403s --------------------------------------------------------------------------------

WRITES = [
    ("commitment-transition", {"to_status": Status.AGREED}),
    ("note-add", {"text": "hello"}),
    ("evidence-add", {"url": "https://example.org", "title": "x", "kind": "photo"}),
    ("commitment-snooze", {"until": "2999-01-01", "reason": "travel"}),
    ("commitment-reassign", {"owner": ""}),
]


@pytest.mark.parametrize(("action", "data"), WRITES)
def test_viewer_writes_are_403_and_change_nothing(client, viewer, commitment, action, data):
    client.force_login(viewer)
    before = (_writes(), commitment.version)
    response = _post(client, commitment, action, {**data, "version": commitment.version})
    assert response.status_code == 403
    commitment.refresh_from_db()
    assert (_writes(), commitment.version) == before


@pytest.mark.parametrize(("action", "data"), WRITES)
def test_officer_writes_to_a_commitment_they_do_not_own_are_403(
    client, other_officer, commitment, action, data
):
    client.force_login(other_officer)
    before = (_writes(), commitment.version)
    response = _post(client, commitment, action, {**data, "version": commitment.version})
    assert response.status_code == 403
    commitment.refresh_from_db()
    assert (_writes(), commitment.version) == before
    assert commitment.status == Status.PROPOSED


def test_watching_officer_may_write(client, other_officer, commitment):
    commitment.watchers.add(other_officer)
    client.force_login(other_officer)
    response = _post(client, commitment, "note-add", {"text": "watching"})
    assert response.status_code == 302
    assert Note.objects.filter(commitment=commitment, text="watching").exists()


@pytest.mark.parametrize(
    "name", ["note-add", "commitment-transition", "commitment-snooze", "commitment-undo"]
)
def test_get_on_a_write_url_goes_to_the_commitment_and_writes_nothing(
    client, officer, commitment, name
):
    client.force_login(officer)
    before = _writes()
    response = client.get(reverse(f"commitments:{name}", args=[commitment.pk]))
    assert response.status_code == 302 and response["Location"] == _detail(commitment)
    assert _writes() == before
    assert client.put(reverse(f"commitments:{name}", args=[commitment.pk])).status_code == 405


def test_csrf_is_enforced(officer, commitment):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(officer)
    response = _post(strict, commitment, "note-add", {"text": "no token"})
    assert response.status_code == 403
    assert not Note.objects.filter(text="no token").exists()


# --- Evidence, notes, snooze, reassign ------------------------------------------------------


def test_add_evidence_note_and_snooze_show_in_the_timeline(client, officer, commitment):
    client.force_login(officer)
    assert (
        _post(
            client,
            commitment,
            "evidence-add",
            {
                "url": "https://example.org/a",
                "title": "Statement",
                "kind": "official_statement",
            },
        ).status_code
        == 302
    )
    assert (
        _post(client, commitment, "note-add", {"text": "Called the ministry."}).status_code == 302
    )
    commitment.refresh_from_db()
    until = TODAY() + dt.timedelta(days=20)  # after the next follow-up (14 days)
    response = _post(
        client,
        commitment,
        "commitment-snooze",
        {"version": commitment.version, "until": until.isoformat(), "reason": "Minister away"},
    )
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert commitment.snoozed_until == until
    kinds = [entry.kind for entry in commitment_timeline(commitment)]
    assert kinds == ["note", "note", "evidence", "status"]
    html = client.get(_detail(commitment)).content.decode()
    assert "Minister away" in html and "Called the ministry." in html


def test_snooze_in_the_past_is_an_error_on_the_date_field(client, officer, commitment):
    client.force_login(officer)
    response = _post(
        client,
        commitment,
        "commitment-snooze",
        {"version": commitment.version, "until": TODAY().isoformat(), "reason": "x"},
    )
    assert response.status_code == 422
    assert response.context["snooze_form"].errors["until"]
    commitment.refresh_from_db()
    assert commitment.snoozed_until is None


def test_empty_note_is_a_field_error(client, officer, commitment):
    client.force_login(officer)
    response = _post(client, commitment, "note-add", {"text": ""})
    assert response.status_code == 422
    assert response.context["note_form"].errors["text"]
    assert not Note.objects.exists()


def test_manager_reassigns_and_it_is_logged(client, manager, officer, other_officer, commitment):
    client.force_login(manager)
    response = _post(
        client,
        commitment,
        "commitment-reassign",
        {"version": commitment.version, "owner": other_officer.pk, "note": "Leave cover"},
    )
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert commitment.owner == other_officer
    assert Note.objects.get(commitment=commitment, kind=Note.Kind.REASSIGN).text.endswith(
        "Leave cover"
    )


def test_manager_reopens_a_fulfilled_commitment_with_a_note(client, manager):
    c = CommitmentFactory(status=Status.FULFILLED, due_date=TODAY())
    client.force_login(manager)
    response = _post(
        client,
        c,
        "commitment-transition",
        {
            "version": c.version,
            "to_status": Status.IN_PROGRESS,
            "note": "Work resumed",
            "confirm": "on",
            "due_date": (TODAY() + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.status == Status.IN_PROGRESS


# --- Escaping and links ----------------------------------------------------------------------


def test_user_text_is_escaped_and_unsafe_links_are_not_rendered(client, officer):
    c = CommitmentFactory(owner=officer, title="<script>alert(1)</script>")
    Note.objects.create(commitment=c, author=officer, text="<img src=x onerror=alert(1)>")
    # A row that slipped past validation (bulk write): it must not become a link.
    Evidence.objects.bulk_create(
        [Evidence(commitment=c, url="javascript:alert(2)", title="Bad link")]
    )
    Evidence.objects.create(commitment=c, url="https://example.org/ok", title="Good link")
    client.force_login(officer)
    html = client.get(_detail(c)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "javascript:alert(2)" not in html
    assert (
        '<a href="https://example.org/ok" rel="noopener noreferrer" target="_blank">Good link</a>'
        in html
    )


def test_detail_shows_provenance_parent_and_children(client, officer):
    source = SourceFactory(title="Press service report", url="https://example.org/report")
    parent = CommitmentFactory(owner=officer, source=source, source_quote="ready to invest")
    child = CommitmentFactory(parent=parent, title="First phase")
    client.force_login(officer)
    html = client.get(_detail(parent)).content.decode()
    assert "Press service report" in html and "ready to invest" in html
    assert child.reference in html and "First phase" in html
    assert parent.reference in client.get(_detail(child)).content.decode()


# --- Lists, overdue, CSV ------------------------------------------------------------------


def _overdue(days, **kwargs):
    return CommitmentFactory(due_date=TODAY() - dt.timedelta(days=days), **kwargs)


def test_list_filters_and_my_commitments(client, officer, commitment):
    CommitmentFactory(reference="ZZ-1", sector=Sector.HEALTH)
    client.force_login(officer)
    mine = client.get("/commitments/", {"owner": officer.username})
    assert [c.pk for c in mine.context["page_obj"]] == [commitment.pk]
    assert "My commitments" in mine.content.decode()
    health = client.get("/commitments/", {"sector": Sector.HEALTH})
    assert [c.reference for c in health.context["page_obj"]] == ["ZZ-1"]


def test_list_bad_filter_is_a_400_with_the_error_not_a_500(client, officer):
    client.force_login(officer)
    response = client.get("/commitments/", {"status": "nope", "due_before": "31-31-2025"})
    assert response.status_code == 400
    assert set(response.context["filterset"].errors) == {"status", "due_before"}
    assert list(response.context["page_obj"]) == []


def test_list_pages_and_sorts(client, officer):
    for i in range(30):
        CommitmentFactory(reference=f"R-{i:03d}")
    client.force_login(officer)
    first = client.get("/commitments/", {"ordering": "-reference", "per_page": 25})
    assert [c.reference for c in first.context["page_obj"]][:2] == ["R-029", "R-028"]
    second = client.get("/commitments/", {"ordering": "-reference", "page": 2})
    assert len(second.context["page_obj"]) == 5
    assert 'aria-sort="descending"' in first.content.decode()


def test_pages_sorted_by_a_column_with_ties_show_every_row_once(client, officer):
    """30 commitments due on one day, 25 a page: the two pages hold all 30 once each
    (OFFSET pages need a total order; reference breaks the ties)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(30):
        CommitmentFactory(reference=f"T-{i:03d}", due_date=dt.date(2026, 5, 1))
    client.force_login(officer)
    seen = []
    for page in (1, 2):
        with CaptureQueriesContext(connection) as ctx:
            r = client.get("/commitments/", {"ordering": "-due_date", "page": page})
        seen += [c.reference for c in r.context["page_obj"]]
        ids = [q["sql"] for q in ctx.captured_queries if "LIMIT" in q["sql"]]
        # The tie-break runs the way the sort does: one index serves both directions.
        assert any(
            'ORDER BY "commitments_commitment"."due_date" DESC' in s
            and '"commitments_commitment"."reference" DESC' in s
            for s in ids
        )
    assert sorted(seen) == [f"T-{i:03d}" for i in range(30)]
    assert seen == sorted(seen, reverse=True)


def test_overdue_list_shows_days_last_change_note_and_groups(client, manager, officer):
    old = _overdue(9, owner=officer, status=Status.AGREED)
    _overdue(2, owner=manager)
    CommitmentFactory(due_date=TODAY() + dt.timedelta(days=3))  # not overdue
    _overdue(5, status=Status.FULFILLED)  # closed: never overdue
    StatusChange.objects.create(
        commitment=old,
        from_status=Status.PROPOSED,
        to_status=Status.AGREED,
        note="Ministry agreed in writing",
        channel="web",
        version=old.version + 1,
    )
    client.force_login(manager)
    response = client.get("/commitments/overdue/")
    rows = list(response.context["page_obj"])
    assert (rows[0].pk, rows[0].days_overdue.days) == (old.pk, 9)
    assert len(rows) == 2
    assert "Ministry agreed in writing" in response.content.decode()
    grouped = client.get("/commitments/overdue/", {"group": "owner"})
    assert [r.owner.username for r in grouped.context["page_obj"]] == ["manager-a", "officer-a"]


def test_overdue_grouped_by_owner_pages_owners_by_name_then_the_unowned(client, manager):
    # Two owners named out of id order, and commitments nobody owns: the grouped pages are
    # the owners by username, each owner's items most overdue first, then the unowned,
    # cut in pages of 25 across both sides with nothing shown twice or left out.
    zed, abe = UserFactory(username="zed"), UserFactory(username="abe")
    for i in range(20):
        _overdue(1 + i, owner=zed, reference=f"Z-{i:02d}")
    for i in range(10):
        _overdue(1 + i % 3, owner=abe, reference=f"A-{i:02d}")
    for i in range(5):
        _overdue(2 + i, owner=None, reference=f"N-{i:02d}")
    _overdue(50, owner=None, status=Status.FULFILLED)  # closed: never overdue
    expected = [
        c.reference
        for c in sorted(
            Commitment.objects.overdue(),
            key=lambda c: (
                c.owner is None,
                c.owner.username if c.owner else "",
                c.due_date,
                c.reference,
            ),
        )
    ]
    client.force_login(manager)
    seen = []
    for number in (1, 2):
        response = client.get("/commitments/overdue/", {"group": "owner", "page": number})
        assert response.status_code == 200
        page = response.context["page_obj"]
        assert page.paginator.count == 35
        seen += [c.reference for c in page]
    assert len(expected) == 35
    assert seen == expected
    assert seen[:10] == sorted(
        seen[:10], key=lambda r: Commitment.objects.get(reference=r).due_date
    )
    assert {r[0] for r in seen[:10]} == {"A"} and {r[0] for r in seen[30:]} == {"N"}
    body = response.content.decode()
    assert body.index("Owner: zed") < body.index("Owner: nobody")


def test_the_organisation_filters_list_names_keep_the_choice_and_refuse_an_unknown_id(
    client, manager
):
    import re

    a = OrganisationFactory(name="Zaman Bank & Co <Kabul>")
    b = OrganisationFactory(name="Freedom Bank")
    mine = CommitmentFactory(pledged_by=a)
    CommitmentFactory(pledged_by=b)
    client.force_login(manager)
    response = client.get("/commitments/", {"pledged_by": a.pk})
    assert [c.pk for c in response.context["page_obj"]] == [mine.pk]
    body = response.content.decode()
    select = re.search(r'<select name="pledged_by".*?</select>', body, re.S).group(0)
    assert f'<option value="{a.pk}" selected>Zaman Bank &amp; Co &lt;Kabul&gt;</option>' in select
    assert f'<option value="{b.pk}">Freedom Bank</option>' in select
    assert select.count("<option") == 1 + Organisation.objects.count()  # "Any", then each
    beneficiary = re.search(r'<select name="beneficiary".*?</select>', body, re.S).group(0)
    assert " selected" not in beneficiary
    unknown = client.get("/commitments/", {"pledged_by": b.pk + 1000})
    assert unknown.status_code == 400
    assert list(unknown.context["page_obj"]) == []


def test_overdue_csv_is_exactly_what_the_filters_select(client, manager):
    a = _overdue(9, sector=Sector.HEALTH, title="=HYPERLINK(evil)")
    b = _overdue(3, sector=Sector.HEALTH)
    _overdue(4, sector=Sector.TRADE)
    client.force_login(manager)
    response = client.get("/commitments/overdue/", {"sector": Sector.HEALTH, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content)
    # A byte-order mark, so a spreadsheet reads UTF-8.
    assert body.startswith("\ufeff".encode())
    *lines, trailer = body.decode("utf-8-sig").splitlines()
    assert trailer == "# rows: 2"  # the trailer a reader checks for a whole file
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [r["Reference"] for r in rows] == [a.reference, b.reference]
    assert rows[0]["Days overdue"] == "9"
    # Labels, not codes; ISO dates.
    assert rows[0]["Status"] == a.get_status_display() and rows[0]["Sector"] == "Health"
    assert rows[0]["Due date"] == a.due_date.isoformat()
    # A cell a spreadsheet would run as a formula is defused.
    assert rows[0]["Title"] == "'=HYPERLINK(evil)"
    page = client.get("/commitments/overdue/", {"sector": Sector.HEALTH})
    assert [c.reference for c in page.context["page_obj"]] == [r["Reference"] for r in rows]
    # The page's columns come first, in its order.
    assert list(rows[0])[:3] == ["Days overdue", "Reference", "Title"]


def test_overdue_csv_with_bad_filters_is_a_400(client, manager):
    client.force_login(manager)
    response = client.get("/commitments/overdue/", {"due_after": "tomorrow", "format": "csv"})
    assert response.status_code == 400
    assert b"due_after" in response.content


def test_dashboard_figures(client, viewer):
    _overdue(
        3,
        status=Status.BLOCKED,
        sector=Sector.MINING,
        amount=100,
        currency="USD",
        figure_kind=FigureKind.INVESTMENT,
    )
    CommitmentFactory(
        due_date=TODAY() + dt.timedelta(days=5),
        amount=50,
        currency="KZT",
        figure_kind=FigureKind.GRANT,
    )
    CommitmentFactory(due_date=TODAY() + dt.timedelta(days=20))
    CommitmentFactory(
        status=Status.FULFILLED, amount=70, currency="USD", figure_kind=FigureKind.CREDIT
    )
    # Not money pledged: counted apart, never in the pledged table.
    CommitmentFactory(amount=3000, currency="USD", figure_kind=FigureKind.TARGET_TRADE_TURNOVER)
    CommitmentFactory(amount=5, unit="tons", figure_kind=FigureKind.TARGET_VOLUME)
    CommitmentFactory(amount=140, currency="USD", figure_kind=FigureKind.AGREEMENT_VALUE)
    CommitmentFactory(amount=9, currency="USD")  # kind not stated
    client.force_login(viewer)
    response = client.get("/")
    figures = response.context["figures"]
    assert figures.overdue_count == 1
    assert figures.due_soon_count == 1
    assert figures.open_total == 7
    counts = {row.sector: row.counts for row in figures.by_sector}
    assert counts[Sector.MINING][Status.BLOCKED] == 1
    pledged = {(r["status"], r["currency"]): r["total"] for r in figures.pledged}
    assert pledged == {
        (Status.PROPOSED, "KZT"): 50,
        (Status.BLOCKED, "USD"): 100,
        (Status.FULFILLED, "USD"): 70,
    }
    assert [(r["kind"], r["measure"], r["total"]) for r in figures.targets] == [
        (FigureKind.TARGET_TRADE_TURNOVER, "USD", 3000),
        (FigureKind.TARGET_VOLUME, "tons", 5),
    ]
    assert [(r["measure"], r["total"]) for r in figures.agreements] == [("USD", 140)]
    assert [(r["measure"], r["total"]) for r in figures.unstated] == [("USD", 9)]
    html = response.content.decode()
    assert "<svg" in html and "Mining: Blocked 1" in html
    assert "Target: trade turnover" in html and "Value of agreements signed" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "cdn" not in html.lower()


def test_visit_page_lists_sources_and_commitments(client, viewer, commitment):
    source = SourceFactory(title="Official statement")
    commitment.visit.sources.add(source)
    client.force_login(viewer)
    html = client.get(reverse("commitments:visit-detail", args=[commitment.visit_id])).content
    assert b"Official statement" in html and commitment.reference.encode() in html


def test_timeline_is_newest_first_across_kinds(officer, commitment):
    later = timezone.now() + dt.timedelta(hours=1)
    Note.objects.create(commitment=commitment, author=officer, text="n", created_at=later)
    Evidence.objects.create(
        commitment=commitment,
        url="https://example.org",
        title="e",
        added_at=later - dt.timedelta(minutes=30),
    )
    entries = commitment_timeline(commitment)
    assert [e.kind for e in entries] == ["note", "evidence", "status"]
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)


def test_login_page_labels_its_fields_and_carries_csrf(client):
    html = client.get("/accounts/login/?next=/commitments/").content.decode()
    assert '<label for="id_username">' in html and '<label for="id_password">' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="next" value="/commitments/"' in html


def test_refused_write_shows_a_readable_403_page(client, viewer, commitment):
    client.force_login(viewer)
    response = _post(client, commitment, "note-add", {"text": "x"})
    assert response.status_code == 403
    assert b"Nothing was saved" in response.content


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://example.org/a", "https://example.org/a"),
        ("HTTP://example.org/a", "HTTP://example.org/a"),
        ("javascript:alert(1)", ""),
        (" javascript:alert(1)", ""),
        ("\x01https://example.org", ""),
        ("//evil.example/x", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_href_lets_through_only_http_and_https(url, shown):
    from commitments.templatetags.tracker import safe_href

    assert safe_href(url) == shown
