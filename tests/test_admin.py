"""The admin writes through the services: no field offered and silently dropped, watchers
with a version bump and an audit row, form errors instead of 500s, and no deletes of
history (single or bulk). Driven with the test client as a superuser."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from commitments import services
from commitments.models import AuditEvent, Channel, Commitment, Evidence, Note

from .factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_url(commitment: Commitment) -> str:
    return reverse("admin:commitments_commitment_change", args=[commitment.pk])


def _form_data(admin_client, commitment: Commitment, **changes) -> dict:
    """The change form as the admin renders it, with `changes` typed over it."""
    response = admin_client.get(_change_url(commitment))
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if name == "watchers":
            data[name] = [getattr(u, "pk", u) for u in (value or [])]
        elif value is None:
            data[name] = ""
        else:
            data[name] = getattr(value, "pk", value)
    for prefix in ("status_changes", "evidence", "notes"):
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    data |= changes
    return {k: v for k, v in data.items() if v is not None}


def _inline_prefixes(response) -> dict:
    return {f.prefix: f for f in response.context["inline_admin_formsets"]}


@pytest.mark.django_db
def test_admin_form_offers_no_field_it_would_drop(admin_client, commitment):
    response = admin_client.get(_change_url(commitment))
    fields = set(response.context["adminform"].form.fields)
    # Everything editable is either saved by a service or shown read-only.
    assert "reference" not in fields
    assert "snoozed_until" not in fields
    assert fields <= {*services.EDITABLE_FIELDS, "watchers"}
    page = response.content.decode()
    assert commitment.reference in page  # shown, read-only


@pytest.mark.django_db
def test_admin_edit_goes_through_the_service_version_and_audit(admin_client, commitment):
    version = commitment.version
    data = _form_data(admin_client, commitment, title="Rail corridor, phase 2")
    response = admin_client.post(_change_url(commitment), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    commitment.refresh_from_db()
    assert commitment.title == "Rail corridor, phase 2"
    assert commitment.version == version + 1
    event = AuditEvent.objects.filter(commitment=commitment, action="update").get()
    assert event.channel == Channel.ADMIN
    assert event.changes["title"][1] == "Rail corridor, phase 2"


@pytest.mark.django_db
def test_admin_tampered_reference_and_snooze_change_nothing(admin_client, commitment):
    reference = commitment.reference
    data = _form_data(
        admin_client,
        commitment,
        reference="HACKED-1",
        snoozed_until=(dt.date.today() + dt.timedelta(days=30)).isoformat(),
    )
    response = admin_client.post(_change_url(commitment), data)
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert commitment.reference == reference
    assert commitment.snoozed_until is None


@pytest.mark.django_db
def test_admin_watchers_bump_version_and_leave_an_audit_row(
    admin_client, commitment, other_officer
):
    version = commitment.version
    data = _form_data(admin_client, commitment, watchers=[other_officer.pk])
    response = admin_client.post(_change_url(commitment), data)
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert list(commitment.watchers.all()) == [other_officer]
    assert commitment.version == version + 1
    event = AuditEvent.objects.filter(commitment=commitment, action="watchers_set").get()
    assert event.changes == {"added": [other_officer.pk], "removed": []}
    assert event.channel == Channel.ADMIN


@pytest.mark.django_db
def test_admin_reassign_to_inactive_owner_is_a_form_error_not_a_500(
    admin_client, commitment, officer
):
    gone = UserFactory(username="left-the-ministry", is_active=False)
    version = commitment.version
    data = _form_data(admin_client, commitment, owner=gone.pk, title="Changed too")
    response = admin_client.post(_change_url(commitment), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Choose an active user as the new owner." in errors["owner"]
    commitment.refresh_from_db()
    assert commitment.owner == officer
    assert commitment.title != "Changed too"  # nothing of the refused change was kept
    assert commitment.version == version
    assert not AuditEvent.objects.filter(commitment=commitment, action="update").exists()


@pytest.mark.django_db
def test_admin_add_creates_through_the_service(admin_client, commitment):
    url = reverse("admin:commitments_commitment_add")
    data = {
        "title": "New pledge",
        "visit": commitment.visit_id,
        "sector": commitment.sector,
        "pledged_by": commitment.pledged_by_id,
        "nature": commitment.nature,
        "progress": "0",
        "external_id": "",
    }
    for prefix in ("status_changes", "evidence", "notes"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Commitment.objects.get(title="New pledge")
    assert created.reference.startswith(commitment.visit.code + "-")
    assert created.status_changes.count() == 1
    assert AuditEvent.objects.filter(commitment=created, action="create").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Note, Evidence], ids=["note", "evidence"])
def test_admin_cannot_delete_notes_or_evidence_single_or_bulk(admin_client, history, model):
    row = model.objects.get(commitment=history)
    opts = model._meta
    delete_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[row.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200
    assert "delete_selected" not in page.content.decode()
    response = admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert model.objects.filter(pk=row.pk).exists()
    change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
    admin_client.post(change_url, {"text": "rewritten", "title": "rewritten"})
    row_after = model.objects.get(pk=row.pk)
    written = {Note: "n", Evidence: "Minutes"}[model]
    assert getattr(row_after, "text", getattr(row_after, "title", None)) == written


@pytest.mark.django_db
def test_admin_edits_translations_through_the_service(admin_client, commitment):
    # Issue 15: each language's translation of title and description, not their empty
    # base fields; the original title stays as it was.
    fields = set(admin_client.get(_change_url(commitment)).context["adminform"].form.fields)
    assert {"translated_title_fa", "translated_description_ru"} <= fields
    assert not {"translated_title", "translated_description"} & fields
    original = commitment.title
    data = _form_data(admin_client, commitment, translated_title_fa="راه آهن هرات")
    response = admin_client.post(_change_url(commitment), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    commitment.refresh_from_db()
    assert (commitment.title, commitment.translated_title_fa) == (original, "راه آهن هرات")
    event = AuditEvent.objects.get(commitment=commitment, action="update")
    assert event.channel == Channel.ADMIN
    assert set(event.changes) == {"translated_title_fa"}
