"""Every resource, method, role and token scope: the status each caller gets, and
that a refused write leaves the database as it was."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from commitments.models import AuditEvent, Commitment, Evidence, Note, Status, StatusChange
from tests.factories import CommitmentFactory, OrganisationFactory, SourceFactory

from .conftest import bearer_client
from .helpers import assert_error

CALLERS = ("anonymous", "viewer", "read_token", "owner", "other_officer", "manager")


@pytest.fixture
def world(officer, other_officer, manager, viewer):
    commitment = CommitmentFactory(owner=officer, external_id="ext-1")
    return {
        "commitment": commitment,
        "source": SourceFactory(),
        "clients": {
            "anonymous": APIClient(),
            "viewer": bearer_client(viewer),
            "read_token": bearer_client(manager, "read"),
            "owner": bearer_client(officer),
            "other_officer": bearer_client(other_officer),
            "manager": bearer_client(manager),
        },
    }


def _create_body(c: Commitment) -> dict:
    return {
        "title": "A new pledge",
        "visit": c.visit_id,
        "sector": "trade",
        "nature": "intention",
        "pledged_by": c.pledged_by_id,
    }


def _put_body(c: Commitment) -> dict:
    return {**_create_body(c), "title": "Replaced title", "owner": c.owner.username}


# (name, method, path template, body builder, needs If-Match) → expected status per caller
OPERATIONS = {
    "list commitments": ("get", "/api/v1/commitments/", None, False),
    "retrieve commitment": ("get", "/api/v1/commitments/{id}/", None, False),
    "create commitment": ("post", "/api/v1/commitments/", _create_body, False),
    "patch commitment": ("patch", "/api/v1/commitments/{id}/", lambda c: {"progress": 40}, True),
    "put commitment": ("put", "/api/v1/commitments/{id}/", _put_body, True),
    "delete commitment": ("delete", "/api/v1/commitments/{id}/", None, True),
    "move status": (
        "post",
        "/api/v1/commitments/{id}/transitions/",
        lambda c: {"to": "agreed", "note": "Signed."},
        True,
    ),
    "list history": ("get", "/api/v1/commitments/{id}/history/", None, False),
    "list evidence": ("get", "/api/v1/commitments/{id}/evidence/", None, False),
    "add evidence": (
        "post",
        "/api/v1/commitments/{id}/evidence/",
        lambda c: {"url": "https://example.org/a", "title": "Press release"},
        False,
    ),
    "list notes": ("get", "/api/v1/commitments/{id}/notes/", None, False),
    "add note": ("post", "/api/v1/commitments/{id}/notes/", lambda c: {"text": "Called."}, False),
    "list visits": ("get", "/api/v1/visits/", None, False),
    "retrieve visit": ("get", "/api/v1/visits/{visit}/", None, False),
    "create visit": ("post", "/api/v1/visits/", lambda c: {"title": "x"}, False),
    "list organisations": ("get", "/api/v1/organisations/", None, False),
    "retrieve organisation": ("get", "/api/v1/organisations/{org}/", None, False),
    "delete organisation": ("delete", "/api/v1/organisations/{org}/", None, False),
    "list sources": ("get", "/api/v1/sources/", None, False),
    "retrieve source": ("get", "/api/v1/sources/{source}/", None, False),
    "patch source": ("patch", "/api/v1/sources/{source}/", lambda c: {"title": "x"}, False),
    "sync commitments": (
        "post",
        "/api/v1/sync/commitments/",
        lambda c: {"commitments": [{**_create_body(c), "external_id": "ext-new"}]},
        False,
    ),
}

READ = {"anonymous": 401, **dict.fromkeys(CALLERS[1:], 200)}
NO_WRITERS = {"anonymous": 401, "viewer": 403, "read_token": 403}
EXPECTED = {
    "list commitments": READ,
    "retrieve commitment": READ,
    "create commitment": {**NO_WRITERS, "owner": 201, "other_officer": 201, "manager": 201},
    "patch commitment": {**NO_WRITERS, "owner": 200, "other_officer": 403, "manager": 200},
    "put commitment": {**NO_WRITERS, "owner": 200, "other_officer": 403, "manager": 200},
    "delete commitment": {**NO_WRITERS, "owner": 405, "other_officer": 405, "manager": 405},
    "move status": {**NO_WRITERS, "owner": 200, "other_officer": 403, "manager": 200},
    "list history": READ,
    "list evidence": READ,
    "add evidence": {**NO_WRITERS, "owner": 201, "other_officer": 403, "manager": 201},
    "list notes": READ,
    "add note": {**NO_WRITERS, "owner": 201, "other_officer": 403, "manager": 201},
    "list visits": READ,
    "retrieve visit": READ,
    "create visit": {**NO_WRITERS, "owner": 405, "other_officer": 405, "manager": 405},
    "list organisations": READ,
    "retrieve organisation": READ,
    "delete organisation": {**NO_WRITERS, "owner": 405, "other_officer": 405, "manager": 405},
    "list sources": READ,
    "retrieve source": READ,
    "patch source": {**NO_WRITERS, "owner": 405, "other_officer": 405, "manager": 405},
    "sync commitments": {**NO_WRITERS, "owner": 200, "other_officer": 200, "manager": 200},
}


def _snapshot() -> tuple:
    return (
        list(Commitment.objects.order_by("pk").values_list("pk", "version", "title", "status")),
        StatusChange.objects.count(),
        Evidence.objects.count(),
        Note.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_each_caller_gets_the_status_its_role_and_scope_allow(world, operation, caller):
    method, template, body, needs_if_match = OPERATIONS[operation]
    c = world["commitment"]
    path = template.format(
        id=c.pk, visit=c.visit_id, org=c.pledged_by_id, source=world["source"].pk
    )
    headers = {"HTTP_IF_MATCH": f'"{c.version}"'} if needs_if_match else {}
    before = _snapshot()
    client = world["clients"][caller]
    data = body(c) if body else None
    response = getattr(client, method)(path, data, format="json", **headers)

    expected = EXPECTED[operation][caller]
    if expected >= 400:
        assert_error(response, expected)
        assert _snapshot() == before, "a refused request wrote something"
    else:
        assert response.status_code == expected, response.content[:400]
    if method == "get" and expected == 200 and "{id}/" in template and template.count("/") == 5:
        assert response["ETag"] == f'"{c.version}"'


def test_officer_sync_creates_new_items_but_may_not_update_others_commitments(world):
    c = world["commitment"]
    response = world["clients"]["other_officer"].post(
        "/api/v1/sync/commitments/",
        {
            "commitments": [
                {**_create_body(c), "external_id": "ext-1", "title": "Hijacked"},
                {**_create_body(c), "external_id": "ext-2"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["error", "created"]
    assert "detail" in results[0]["errors"]
    c.refresh_from_db()
    assert c.title != "Hijacked"


def test_unknown_organisation_in_a_write_is_a_field_error(world):
    c = world["commitment"]
    OrganisationFactory()
    response = world["clients"]["manager"].post(
        "/api/v1/commitments/", {**_create_body(c), "pledged_by": 999999}, format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert "pledged_by" in body["errors"]


def test_read_token_can_read_everything_a_manager_can(world):
    response = world["clients"]["read_token"].get("/api/v1/commitments/")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [world["commitment"].pk]


def test_status_after_matrix_moves_is_consistent(world):
    # The owner's move went through the one transition service: history row and version.
    c = world["commitment"]
    response = world["clients"]["owner"].post(
        f"/api/v1/commitments/{c.pk}/transitions/",
        {"to": "agreed"},
        format="json",
        HTTP_IF_MATCH=f'"{c.version}"',
    )
    assert response.status_code == 200
    c.refresh_from_db()
    assert c.status == Status.AGREED
    assert c.status_changes.filter(to_status=Status.AGREED, channel="api").count() == 1
    assert response["ETag"] == f'"{c.version}"'


def test_officer_who_watches_a_commitment_may_change_it(world, other_officer):
    c = world["commitment"]
    c.watchers.add(other_officer)
    response = world["clients"]["other_officer"].patch(
        f"/api/v1/commitments/{c.pk}/", {"progress": 20}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    c.refresh_from_db()
    assert (c.progress, c.version) == (20, 2)


def test_officer_may_not_reassign_but_a_manager_may(world, other_officer):
    c = world["commitment"]
    refused = world["clients"]["owner"].patch(
        f"/api/v1/commitments/{c.pk}/",
        {"owner": other_officer.username},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert_error(refused, 403)
    c.refresh_from_db()
    assert c.owner.username == "officer-a"
    moved = world["clients"]["manager"].patch(
        f"/api/v1/commitments/{c.pk}/",
        {"owner": other_officer.username},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert moved.status_code == 200
    assert moved.json()["owner"] == other_officer.username
