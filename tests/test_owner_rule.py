"""Issue 11, part 2: one owner rule on every path, decided in the services.

A desk officer who creates a commitment owns it; only managers set or change another
owner (create, update, sync); watchers follow the same rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from commitments import services
from commitments.models import AuditEvent, Channel, Commitment
from tests.api.conftest import bearer_client
from tests.api.helpers import assert_error
from tests.factories import CommitmentFactory, OrganisationFactory, VisitFactory

pytestmark = pytest.mark.django_db
LIST = "/api/v1/commitments/"
SYNC = "/api/v1/sync/commitments/"


@pytest.fixture
def refs():
    return {"visit": VisitFactory().pk, "pledged_by": OrganisationFactory().pk}


def _new(refs, **extra) -> dict:
    return {"title": "Grain corridor", "sector": "trade", "nature": "agreement", **refs, **extra}


def test_officer_api_create_owns_it_and_can_then_edit_it(officer, refs):
    client = bearer_client(officer)
    response = client.post(LIST, _new(refs), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["owner"] == officer.username
    made = Commitment.objects.get()
    assert made.owner == officer
    edit = client.patch(
        f"{LIST}{made.pk}/", {"progress": 10}, format="json", HTTP_IF_MATCH=response["ETag"]
    )
    assert edit.status_code == 200, edit.json()


def test_officer_api_create_naming_themselves_is_accepted(officer, refs):
    response = bearer_client(officer).post(LIST, _new(refs, owner=officer.username), format="json")
    assert response.status_code == 201
    assert Commitment.objects.get().owner == officer


@pytest.mark.parametrize("who", ["viewer", "other_officer", "manager"])
def test_officer_api_create_for_someone_else_is_403_and_writes_nothing(officer, refs, request, who):
    other = request.getfixturevalue(who)
    response = bearer_client(officer).post(LIST, _new(refs, owner=other.username), format="json")
    assert_error(response, 403)
    assert not Commitment.objects.exists()
    assert not AuditEvent.objects.exists()


def test_manager_api_create_may_name_any_owner_or_none(manager, other_officer, refs):
    client = bearer_client(manager)
    named = client.post(LIST, _new(refs, owner=other_officer.username), format="json")
    assert named.status_code == 201 and named.json()["owner"] == other_officer.username
    unowned = client.post(LIST, _new(refs, title="Second"), format="json")
    assert unowned.status_code == 201 and unowned.json()["owner"] is None


def test_officer_sync_owns_what_it_creates_and_can_repeat_without_naming_an_owner(officer, refs):
    client = bearer_client(officer)
    payload = {"commitments": [_new(refs, external_id="R-1"), _new(refs, external_id="R-2")]}
    first = client.post(SYNC, payload, format="json").json()
    assert [r["result"] for r in first["results"]] == ["created", "created"]
    assert set(Commitment.objects.values_list("owner", flat=True)) == {officer.pk}
    again = client.post(SYNC, payload, format="json").json()
    assert [r["result"] for r in again["results"]] == ["unchanged", "unchanged"], again
    changed = client.post(
        SYNC, {"commitments": [_new(refs, external_id="R-1", title="New title")]}, format="json"
    ).json()
    assert changed["results"][0]["result"] == "updated", changed


def test_officer_sync_naming_another_owner_is_an_item_error(officer, other_officer, refs):
    client = bearer_client(officer)
    items = [
        _new(refs, external_id="mine"),
        _new(refs, external_id="theirs", owner=other_officer.username),
    ]
    body = client.post(SYNC, {"commitments": items}, format="json").json()
    assert [r["result"] for r in body["results"]] == ["created", "error"]
    assert "manager" in body["results"][1]["errors"]["detail"][0]
    assert list(Commitment.objects.values_list("external_id", flat=True)) == ["mine"]


def test_officer_sync_cannot_change_the_owner_of_an_existing_item(officer, other_officer, refs):
    CommitmentFactory(
        external_id="E-1", owner=officer, visit_id=refs["visit"], pledged_by_id=refs["pledged_by"]
    )
    body = (
        bearer_client(officer)
        .post(
            SYNC,
            {"commitments": [_new(refs, external_id="E-1", owner=other_officer.username)]},
            format="json",
        )
        .json()
    )
    assert body["results"][0]["result"] == "error"
    assert Commitment.objects.get(external_id="E-1").owner == officer


def test_manager_sync_may_set_the_owner(manager, other_officer, refs):
    body = (
        bearer_client(manager)
        .post(
            SYNC,
            {"commitments": [_new(refs, external_id="M-1", owner=other_officer.username)]},
            format="json",
        )
        .json()
    )
    assert body["results"][0]["result"] == "created"
    assert Commitment.objects.get(external_id="M-1").owner == other_officer


def test_officer_api_update_of_the_owner_is_403(officer, other_officer):
    mine = CommitmentFactory(owner=officer)
    response = bearer_client(officer).patch(
        f"{LIST}{mine.pk}/",
        {"owner": other_officer.username},
        format="json",
        HTTP_IF_MATCH=f'"{mine.version}"',
    )
    assert_error(response, 403)
    mine.refresh_from_db()
    assert mine.owner == officer


def _data(refs) -> dict:
    from commitments.models import Organisation, Visit

    return {
        "title": "Service create",
        "sector": "trade",
        "nature": "agreement",
        "visit": Visit.objects.get(pk=refs["visit"]),
        "pledged_by": Organisation.objects.get(pk=refs["pledged_by"]),
    }


def test_service_officer_may_watch_but_not_add_other_watchers(officer, other_officer, refs):
    made = services.commitment_create(
        actor=officer, channel=Channel.WEB, data=_data(refs), watchers=[officer]
    )
    assert list(made.watchers.all()) == [officer]
    with pytest.raises(PermissionDenied):
        services.commitment_create(
            actor=officer, channel=Channel.WEB, data=_data(refs), watchers=[other_officer]
        )
    assert Commitment.objects.count() == 1


def test_service_manager_may_set_any_watchers_and_inactive_owner_is_refused(
    manager, officer, other_officer, refs
):
    from django.core.exceptions import ValidationError

    made = services.commitment_create(
        actor=manager, channel=Channel.WEB, data=_data(refs), watchers=[officer, other_officer]
    )
    assert set(made.watchers.all()) == {officer, other_officer}
    other_officer.is_active = False
    other_officer.save()
    with pytest.raises(ValidationError):
        services.commitment_create(
            actor=manager, channel=Channel.WEB, data={**_data(refs), "owner": other_officer}
        )


def test_import_channel_keeps_the_owner_it_is_given(other_officer, refs):
    made = services.commitment_create(
        actor=None, channel=Channel.IMPORT, data={**_data(refs), "owner": other_officer}
    )
    assert made.owner == other_officer
