"""Bulk upsert by external_id, and Idempotency-Key replays."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commitments.models import AuditEvent, Commitment, IdempotencyKey, Status
from tests.factories import CommitmentFactory, OrganisationFactory, VisitFactory

from .conftest import bearer_client
from .helpers import assert_error

pytestmark = pytest.mark.django_db
SYNC = "/api/v1/sync/commitments/"


@pytest.fixture
def refs():
    return {"visit": VisitFactory().pk, "pledged_by": OrganisationFactory().pk}


def _item(refs, external_id: str, **extra) -> dict:
    return {
        "external_id": external_id,
        "title": f"Pledge {external_id}",
        "sector": "trade",
        "nature": "agreement",
        **refs,
        **extra,
    }


def test_sync_creates_updates_and_leaves_unchanged_per_item(manager_api, refs):
    CommitmentFactory(
        external_id="b",
        title="Pledge b",
        **{"visit_id": refs["visit"], "pledged_by_id": refs["pledged_by"]},
        sector="trade",
        nature="agreement",
    )
    CommitmentFactory(
        external_id="c",
        title="Old title",
        visit_id=refs["visit"],
        pledged_by_id=refs["pledged_by"],
        sector="trade",
        nature="agreement",
    )
    response = manager_api.post(
        SYNC,
        {"commitments": [_item(refs, "a"), _item(refs, "b"), _item(refs, "c")]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [r["result"] for r in body["results"]] == ["created", "unchanged", "updated"]
    assert (body["created"], body["updated"], body["unchanged"], body["errors"]) == (1, 1, 1, 0)
    assert Commitment.objects.get(external_id="c").title == "Pledge c"
    assert Commitment.objects.get(external_id="a").status_changes.get().channel == "api"


def test_one_bad_item_does_not_block_the_good_ones(manager_api, refs):
    items = [
        _item(refs, "ok-1"),
        _item(refs, "bad-type", progress="lots"),
        _item(refs, "bad-currency", amount="5.00"),  # model rule, raised by the service
        {"title": "no external id", **refs, "sector": "trade", "nature": "agreement"},
        _item(refs, "ok-1"),  # twice in one batch
        "not an object",
        _item(refs, "ok-2", status="agreed"),
    ]
    body = manager_api.post(SYNC, {"commitments": items}, format="json").json()
    results = body["results"]
    assert [r["result"] for r in results] == [
        "created",
        "error",
        "error",
        "error",
        "error",
        "error",
        "created",
    ]
    assert "progress" in results[1]["errors"]
    assert "currency" in results[2]["errors"]
    assert "external_id" in results[3]["errors"]
    assert "external_id" in results[4]["errors"]
    assert set(Commitment.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}
    assert Commitment.objects.get(external_id="ok-2").status == Status.AGREED


def test_sync_moves_status_through_the_transition_rules(manager_api, refs):
    c = CommitmentFactory(
        external_id="s",
        visit_id=refs["visit"],
        pledged_by_id=refs["pledged_by"],
        sector="trade",
        nature="agreement",
        title="Pledge s",
    )
    body = manager_api.post(
        SYNC,
        {"commitments": [_item(refs, "s", status="fulfilled")]},
        format="json",
    ).json()
    assert body["results"][0]["result"] == "error"
    assert "status" in body["results"][0]["errors"]
    c.refresh_from_db()
    assert (c.status, c.version) == (Status.PROPOSED, 1)

    body = manager_api.post(
        SYNC, {"commitments": [_item(refs, "s", status="agreed")]}, format="json"
    ).json()
    assert body["results"][0]["result"] == "updated"
    c.refresh_from_db()
    assert c.status == Status.AGREED


def test_stale_version_in_an_item_is_refused(manager_api, refs):
    c = CommitmentFactory(
        external_id="v",
        visit_id=refs["visit"],
        pledged_by_id=refs["pledged_by"],
        sector="trade",
        nature="agreement",
    )
    body = manager_api.post(
        SYNC, {"commitments": [_item(refs, "v", version=7)]}, format="json"
    ).json()
    assert body["results"][0]["result"] == "error"
    c.refresh_from_db()
    assert c.version == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"commitments": []},
        {"commitments": "x"},
        {"items": []},
        {"commitments": [{}], "extra": 1},
        [],
    ],
)
def test_malformed_sync_bodies_are_400(manager_api, payload):
    assert_error(manager_api.post(SYNC, payload, format="json"), 400)
    assert not Commitment.objects.exists()


def test_more_than_1000_items_is_400_and_nothing_is_written(manager_api, refs):
    items = [_item(refs, f"x{i}") for i in range(1001)]
    body = assert_error(manager_api.post(SYNC, {"commitments": items}, format="json"), 400)
    assert "commitments" in body["errors"]
    assert not Commitment.objects.exists()


# --- Idempotency-Key ------------------------------------------------------------------


def test_replay_returns_the_first_answer_without_applying_again(manager_api, refs):
    payload = {"commitments": [_item(refs, "k1")]}
    first = manager_api.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.json()["results"][0]["result"] == "created"
    # Someone edits the row in between; a real re-run would now say "updated".
    Commitment.objects.filter(external_id="k1").update(title="Edited meanwhile")
    audit = AuditEvent.objects.count()

    replay = manager_api.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.count() == audit
    assert Commitment.objects.get(external_id="k1").title == "Edited meanwhile"


def test_same_key_with_a_different_body_is_422(manager_api, refs):
    manager_api.post(
        SYNC, {"commitments": [_item(refs, "k1")]}, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    response = manager_api.post(
        SYNC, {"commitments": [_item(refs, "k2")]}, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    assert_error(response, 422)
    assert not Commitment.objects.filter(external_id="k2").exists()


def test_keys_are_scoped_to_the_token(manager, refs):
    payload = {"commitments": [_item(refs, "k1")]}
    one, two = bearer_client(manager), bearer_client(manager)
    assert one.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="k").json()["created"] == 1
    second = two.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert "Idempotent-Replayed" not in second
    assert second.json()["unchanged"] == 1
    assert IdempotencyKey.objects.count() == 2


def test_key_still_in_progress_gets_409(manager, refs):
    client = bearer_client(manager)
    token = manager.api_tokens.get()
    payload = {"commitments": [_item(refs, "k1")]}
    from commitments.services.idempotency import request_fingerprint

    IdempotencyKey.objects.create(token=token, key="busy", fingerprint=request_fingerprint(payload))
    assert_error(client.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="busy"), 409)
    assert not Commitment.objects.exists()


def test_idempotency_key_needs_a_token(manager, refs):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(manager)
    response = client.post(
        SYNC, {"commitments": [_item(refs, "k1")]}, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    assert_error(response, 400)
    assert not Commitment.objects.exists()


def test_key_abandoned_by_a_dead_process_can_be_taken_over(manager, refs):
    client = bearer_client(manager)
    token = manager.api_tokens.get()
    payload = {"commitments": [_item(refs, "k1")]}
    row = IdempotencyKey.objects.create(token=token, key="old", fingerprint="x" * 64)
    IdempotencyKey.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=1)
    )
    response = client.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert response.status_code == 200
    assert response.json()["created"] == 1
    row.refresh_from_db()
    assert row.response_status == 200


def test_replayed_answer_that_echoes_a_nul_character_is_stored_and_replayed(manager_api, refs):
    # Found by Schemathesis on PostgreSQL: an error naming an unknown field "a\x00b" could
    # not be stored for the replay (jsonb refuses NUL) and the request failed with a 500.
    payload = {"commitments": [_item(refs, "n1", **{"a\x00b": 1})]}
    first = manager_api.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="nul")
    assert first.status_code == 200, first.content
    assert first.json()["errors"] == 1
    replay = manager_api.post(SYNC, payload, format="json", HTTP_IDEMPOTENCY_KEY="nul")
    assert replay.status_code == 200
    assert replay.json()["errors"] == 1
    assert not Commitment.objects.filter(external_id="n1").exists()
