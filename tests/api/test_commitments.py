"""Commitment endpoints: the JSON shape, ETag/If-Match, transitions, bad input, limits."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.utils import timezone

from commitments.models import AuditEvent, Commitment, Evidence, Status, StatusChange
from tests.factories import CommitmentFactory, OrganisationFactory

from .helpers import assert_error

pytestmark = pytest.mark.django_db


def _path(c: Commitment, tail: str = "") -> str:
    return f"/api/v1/commitments/{c.pk}/{tail}"


def _unchanged(c: Commitment) -> None:
    version = c.version
    c.refresh_from_db()
    assert c.version == version
    assert not AuditEvent.objects.filter(commitment=c).exists()


def test_commitment_json_carries_the_contract_fields(officer_api, commitment):
    commitment.amount = "1500000.50"
    commitment.currency = "USD"
    commitment.due_date = dt.date(2025, 1, 1)
    commitment.save()
    body = officer_api.get(_path(commitment)).json()
    assert body["reference"] == commitment.reference
    assert body["owner"] == "officer-a"
    assert body["pledged_by"] == commitment.pledged_by_id
    assert body["beneficiary"] == commitment.beneficiary_id
    assert body["amount"] == "1500000.50"
    assert body["currency"] == "USD"
    assert body["is_overdue"] is True
    assert body["due_date"] == "2025-01-01"
    assert body["version"] == commitment.version
    assert body["links"]["history"] == _path(commitment, "history/")
    assert body["links"]["evidence"] == _path(commitment, "evidence/")


def test_a_client_can_send_back_what_it_read(officer_api, commitment):
    read = officer_api.get(_path(commitment))
    body = read.json()
    body["progress"] = 30
    response = officer_api.put(_path(commitment), body, format="json", HTTP_IF_MATCH=read["ETag"])
    assert response.status_code == 200, response.json()
    assert response.json()["progress"] == 30
    assert response["ETag"] == '"2"'


def test_create_answers_201_with_etag_and_location(manager_api, commitment):
    response = manager_api.post(
        "/api/v1/commitments/",
        {
            "title": "Rail link",
            "visit": commitment.visit_id,
            "sector": "rail_transport",
            "nature": "agreement",
            "pledged_by": commitment.pledged_by_id,
            "owner": "officer-a",
            "status": "agreed",
            "amount": "10.00",
            "currency": "USD",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = Commitment.objects.get(pk=response.json()["id"])
    assert created.status == Status.AGREED
    assert created.owner.username == "officer-a"
    assert response["ETag"] == f'"{created.version}"'
    assert response["Location"] == _path(created)
    assert created.status_changes.get().channel == "api"


def test_patch_without_if_match_is_428_and_writes_nothing(officer_api, commitment):
    response = officer_api.patch(_path(commitment), {"title": "New"}, format="json")
    assert_error(response, 428, "precondition_required")
    _unchanged(commitment)
    assert commitment.title != "New"


def test_put_without_if_match_is_428_and_writes_nothing(officer_api, commitment):
    body = officer_api.get(_path(commitment)).json()
    response = officer_api.put(_path(commitment), {**body, "title": "New"}, format="json")
    assert_error(response, 428)
    _unchanged(commitment)


def test_transition_without_if_match_is_428_and_writes_nothing(officer_api, commitment):
    response = officer_api.post(_path(commitment, "transitions/"), {"to": "agreed"}, format="json")
    assert_error(response, 428)
    _unchanged(commitment)
    assert commitment.status == Status.PROPOSED


def test_stale_if_match_gets_412_and_writes_nothing(officer_api, commitment):
    etag = officer_api.get(_path(commitment))["ETag"]
    assert (
        officer_api.patch(
            _path(commitment), {"progress": 10}, format="json", HTTP_IF_MATCH=etag
        ).status_code
        == 200
    )
    commitment.refresh_from_db()
    audit_rows = AuditEvent.objects.count()

    stale = officer_api.patch(
        _path(commitment), {"progress": 90}, format="json", HTTP_IF_MATCH=etag
    )
    body = assert_error(stale, 412, "precondition_failed")
    assert body["current_version"] == 2
    moved = officer_api.post(
        _path(commitment, "transitions/"), {"to": "agreed"}, format="json", HTTP_IF_MATCH=etag
    )
    assert_error(moved, 412)
    garbage = officer_api.patch(
        _path(commitment), {"progress": 90}, format="json", HTTP_IF_MATCH="x"
    )
    assert_error(garbage, 412)
    commitment.refresh_from_db()
    assert (commitment.progress, commitment.status, commitment.version) == (10, "proposed", 2)
    assert AuditEvent.objects.count() == audit_rows


def test_weak_etag_form_is_accepted(officer_api, commitment):
    response = officer_api.patch(
        _path(commitment), {"progress": 5}, format="json", HTTP_IF_MATCH='W/"1"'
    )
    assert response.status_code == 200


def test_patch_with_same_values_keeps_the_version(officer_api, commitment):
    response = officer_api.patch(
        _path(commitment), {"title": commitment.title}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    assert response["ETag"] == '"1"'


def test_transition_with_evidence_fulfils(officer_api, commitment):
    commitment.status = Status.AGREED
    commitment.save()
    response = officer_api.post(
        _path(commitment, "transitions/"),
        {
            "to": "fulfilled",
            "note": "Done",
            "evidence": [{"url": "https://gov.example/release", "title": "Release"}],
        },
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "fulfilled"
    assert response.json()["progress"] == 100
    assert Evidence.objects.filter(commitment=commitment).count() == 1


def test_forbidden_move_is_409_listing_the_allowed_moves(officer_api, commitment):
    response = officer_api.post(
        _path(commitment, "transitions/"), {"to": "fulfilled"}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error(response, 409, "transition_not_allowed")
    assert body["allowed"] == ["agreed", "cancelled", "in_progress"]
    _unchanged(commitment)
    assert StatusChange.objects.filter(commitment=commitment).count() == 1


def test_move_needing_a_note_without_one_is_400(officer_api, commitment):
    response = officer_api.post(
        _path(commitment, "transitions/"), {"to": "cancelled"}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error(response, 400, "invalid")
    assert "note" in body["errors"]
    _unchanged(commitment)


def test_status_cannot_be_changed_by_patch(officer_api, commitment):
    response = officer_api.patch(
        _path(commitment), {"status": "agreed"}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error(response, 400)
    assert "status" in body["errors"]
    _unchanged(commitment)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"progress": "lots"}, "progress"),
        ({"progress": 101}, "progress"),
        ({"due_date": "2025-13-45"}, "due_date"),
        ({"due_date": "tomorrow"}, "due_date"),
        ({"next_follow_up_at": "2025-02-30T10:00:00Z"}, "next_follow_up_at"),
        ({"owner": "nobody-by-that-name"}, "owner"),
        ({"owner": 12}, "owner"),
        ({"visit": "1"}, "visit"),
        ({"pledged_by": True}, "pledged_by"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"currency": "XXQ"}, "currency"),
        ({"title": "nul\x00byte"}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"colour": "red"}, "colour"),
        ({"amount": "10.00"}, "currency"),  # model rule: an amount needs a currency
    ],
)
def test_bad_field_values_are_400_naming_the_field_and_write_nothing(
    manager_api, commitment, payload, field
):
    response = manager_api.patch(_path(commitment), payload, format="json", HTTP_IF_MATCH='"1"')
    body = assert_error(response, 400, "invalid")
    assert field in body["errors"], body
    _unchanged(commitment)


@pytest.mark.parametrize(
    "move",
    [
        {"to": "finished"},
        {"to": 3},
        {"to": "agreed", "evidence": [{"url": "javascript:alert(1)", "title": "x"}]},
        {"to": "agreed", "evidence": [{"url": "ftp://example.org/x", "title": "x"}]},
        {"to": "agreed", "evidence": [{"url": "https://e.org/x", "title": "x", "extra": 1}]},
        {"to": "agreed", "evidence": [{"url": "https://e.org/x", "title": "x"}] * 21},
        {"to": "agreed", "evidence": "https://e.org/x"},
        {"to": "agreed", "reason": "unknown key"},
    ],
)
def test_bad_transition_bodies_are_400_and_write_nothing(officer_api, commitment, move):
    response = officer_api.post(
        _path(commitment, "transitions/"), move, format="json", HTTP_IF_MATCH='"1"'
    )
    assert_error(response, 400, "invalid")
    _unchanged(commitment)
    assert not Evidence.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ('"text"', "application/json", 400),
        ("title=x", "text/plain", 415),
    ],
)
def test_unparseable_bodies_get_4xx_not_500(manager_api, body, content_type, status):
    response = manager_api.generic("POST", "/api/v1/commitments/", body, content_type)
    assert_error(response, status)
    assert not Commitment.objects.exists()


def test_huge_body_is_413(manager_api, settings, commitment):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"title": "x" * 2000})
    response = manager_api.generic(
        "PATCH", _path(commitment), body, "application/json", HTTP_IF_MATCH='"1"'
    )
    assert_error(response, 413, "payload_too_large")
    _unchanged(commitment)


def test_unknown_commitment_and_unknown_path_are_json_404(officer_api):
    assert_error(officer_api.get("/api/v1/commitments/999999/"), 404)
    assert_error(officer_api.get("/api/v1/commitments/abc/"), 404)
    assert_error(officer_api.get("/api/v1/no-such-thing/"), 404)
    assert_error(officer_api.get("/api/v1/commitments/99999999999999999999999/history/"), 404)


def test_evidence_and_notes_are_added_through_the_services(officer_api, commitment):
    ev = officer_api.post(
        _path(commitment, "evidence/"),
        {"url": "https://example.org/doc", "title": "Doc", "kind": "press_release"},
        format="json",
    )
    assert ev.status_code == 201
    note = officer_api.post(_path(commitment, "notes/"), {"text": "Phoned"}, format="json")
    assert note.status_code == 201
    assert note.json()["author"] == "officer-a"
    assert AuditEvent.objects.filter(action__in=["evidence_add", "note_add"]).count() == 2
    listed = officer_api.get(_path(commitment, "evidence/")).json()["results"]
    assert [e["title"] for e in listed] == ["Doc"]
    # The kind's name before migration 0007 is still accepted, and stored as its successor.
    assert [e["kind"] for e in listed] == ["official_statement"]
    history = officer_api.get(_path(commitment, "history/")).json()["results"]
    assert [h["to_status"] for h in history] == ["proposed"]


def test_empty_note_is_400(officer_api, commitment):
    assert_error(officer_api.post(_path(commitment, "notes/"), {"text": "  "}, format="json"), 400)


# --- Lists, filters, pagination ----------------------------------------------------------


def test_filters_come_from_the_shared_filterset(officer_api, officer):
    late = CommitmentFactory(owner=officer, due_date=dt.date(2020, 1, 1), status="agreed")
    CommitmentFactory(due_date=dt.date(2020, 1, 1), status="fulfilled")
    CommitmentFactory(due_date=timezone.localdate() + dt.timedelta(days=30))
    ids = lambda r: [c["id"] for c in r.json()["results"]]  # noqa: E731
    assert ids(officer_api.get("/api/v1/commitments/?overdue=true")) == [late.pk]
    assert ids(officer_api.get("/api/v1/commitments/?owner=officer-a")) == [late.pk]
    both = officer_api.get("/api/v1/commitments/?status=agreed&status=fulfilled")
    assert len(ids(both)) == 2
    assert_error(officer_api.get("/api/v1/commitments/?status=finished"), 400)
    assert_error(officer_api.get("/api/v1/commitments/?updated_since=yesterday"), 400)
    assert_error(officer_api.get("/api/v1/commitments/?due_before=2025-02-31"), 400)
    assert_error(officer_api.get("/api/v1/commitments/?ordering=due_date"), 400)


def test_updated_since_with_an_offset_postgresql_refuses_is_compared_in_utc(officer_api):
    made = CommitmentFactory()
    ids = lambda r: [c["id"] for c in r.json()["results"]]  # noqa: E731
    old = officer_api.get("/api/v1/commitments/?updated_since=0230-12-26T10:18:46-20:57")
    assert old.status_code == 200 and ids(old) == [made.pk]
    later = officer_api.get("/api/v1/commitments/?updated_since=9999-12-31T23:00:00-20:00")
    assert later.status_code == 200 and ids(later) == []


def test_cursor_pages_through_everything_once(officer_api):
    made = {CommitmentFactory().pk for _ in range(7)}
    seen, url = [], "/api/v1/commitments/?page_size=3&ordering=-reference"
    while url:
        page = officer_api.get(url).json()
        seen += [c["id"] for c in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(made)


def test_page_size_is_capped_at_500(officer_api):
    CommitmentFactory.create_batch(3)
    page = officer_api.get("/api/v1/commitments/?page_size=100000").json()
    assert len(page["results"]) == 3
    assert_error(officer_api.get("/api/v1/commitments/?cursor=garbage"), 404)


@pytest.mark.parametrize("size", [10, 500])
def test_commitment_list_runs_the_same_queries_at_10_and_500(
    officer_api, size, django_assert_num_queries
):
    pledged_by = OrganisationFactory()
    CommitmentFactory.create_batch(size, pledged_by=pledged_by)
    # token lookup, the page (owner joined), the page's other pledging parties (on
    # PostgreSQL an array subquery of the page's query). Nothing per row.
    officer_api.get("/api/v1/commitments/?page_size=1")  # last_used_at now fresh
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        response = officer_api.get(f"/api/v1/commitments/?page_size={size}")
    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [10, 500])
def test_sub_lists_run_constant_queries(officer_api, officer, size, django_assert_num_queries):
    commitment = CommitmentFactory(owner=officer)
    for i in range(size):
        Evidence.objects.create(commitment=commitment, url=f"https://e.org/{i}", title="t")
    officer_api.get("/api/v1/organisations/")
    # token, the commitment, the page (added_by joined)
    with django_assert_num_queries(3):
        response = officer_api.get(_path(commitment, f"evidence/?page_size={size}"))
    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [10, 500])
def test_reference_lists_run_constant_queries(officer_api, size, django_assert_num_queries):
    OrganisationFactory.create_batch(size)
    officer_api.get("/api/v1/sources/")
    with django_assert_num_queries(2):
        response = officer_api.get(f"/api/v1/organisations/?page_size={size}")
    assert len(response.json()["results"]) == size
