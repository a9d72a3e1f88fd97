"""History is append-only: notes, evidence, status changes and audit events cannot be
changed or deleted through the ORM, a queryset, the admin or (on PostgreSQL) raw SQL. A
mistaken note is retracted by a new timeline entry that hides it, keeping the original."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from commitments import services
from commitments.models import AuditEvent, Channel, Evidence, Note, StatusChange
from commitments.selectors import commitment_timeline

from .conftest import on_postgres

HISTORY = [Note, Evidence, StatusChange, AuditEvent]


@pytest.mark.django_db
@pytest.mark.parametrize("model", HISTORY, ids=lambda m: m.__name__)
def test_history_rows_refuse_save_delete_and_queryset_writes(history, model):
    rows = model.objects.filter(commitment=history)
    row = rows.first()
    assert row is not None
    count = rows.count()
    with pytest.raises(TypeError):
        row.save()
    with pytest.raises(TypeError):
        row.delete()
    with pytest.raises(TypeError):
        rows.update(commitment=history)
    with pytest.raises(TypeError):
        rows.delete()
    assert model.objects.filter(commitment=history).count() == count


@pytest.mark.django_db
def test_note_and_evidence_text_stays_as_written(history):
    note = Note.objects.get(commitment=history)
    note.text = "rewritten"
    with pytest.raises(TypeError):
        note.save()
    evidence = Evidence.objects.get(commitment=history)
    evidence.url = "https://example.org/other"
    with pytest.raises(TypeError):
        evidence.save(update_fields=["url"])
    assert Note.objects.get(pk=note.pk).text == "n"
    assert Evidence.objects.get(pk=evidence.pk).url == "https://example.org/a"


@pytest.mark.django_db
@pytest.mark.skipif(not on_postgres(), reason="the triggers are PostgreSQL's")
@pytest.mark.parametrize("model", HISTORY, ids=lambda m: m.__name__)
def test_raw_sql_delete_and_update_fail_on_postgres(history, model):
    table = model._meta.db_table
    count = model.objects.filter(commitment=history).count()
    for sql in (
        f"DELETE FROM {table}",  # noqa: S608 - table names from the models
        f"UPDATE {table} SET id = id",  # noqa: S608
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert model.objects.filter(commitment=history).count() == count


@pytest.mark.django_db
@pytest.mark.skipif(not on_postgres(), reason="the triggers are PostgreSQL's")
def test_postgres_triggers_cover_exactly_the_history_tables():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT event_object_table FROM information_schema.triggers "
            "WHERE trigger_name LIKE %s",
            ["%_append_only"],
        )
        tables = {row[0] for row in cursor.fetchall()}
    assert tables == {m._meta.db_table for m in HISTORY}


# --- Retracting a note ---------------------------------------------------------------


@pytest.mark.django_db
def test_author_retracts_a_note_it_leaves_the_default_timeline_and_stays_for_audit(
    commitment, officer
):
    note = services.note_add(
        commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="Wrong file"
    )
    retraction = services.note_retract(
        note_id=note.pk, actor=officer, channel=Channel.WEB, reason="Meant another item."
    )
    assert retraction.kind == Note.Kind.RETRACTION
    assert retraction.retracts_id == note.pk
    assert Note.objects.get(pk=note.pk).text == "Wrong file"  # the original is kept
    shown = [e.item for e in commitment_timeline(commitment) if e.kind == "note"]
    assert note not in shown
    assert retraction in shown
    everything = [
        e.item for e in commitment_timeline(commitment, show_retracted=True) if e.kind == "note"
    ]
    assert note in everything
    audit = AuditEvent.objects.filter(commitment=commitment, action="note_retract").get()
    assert audit.changes == {"note": note.pk, "retraction": retraction.pk}


@pytest.mark.django_db
def test_a_manager_may_retract_any_comment_another_officer_may_not(
    commitment, officer, other_officer, manager
):
    note = services.note_add(
        commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="x"
    )
    commitment.watchers.add(other_officer)
    with pytest.raises(PermissionDenied):
        services.note_retract(note_id=note.pk, actor=other_officer, channel=Channel.WEB, reason="r")
    assert not Note.objects.filter(kind=Note.Kind.RETRACTION).exists()
    services.note_retract(note_id=note.pk, actor=manager, channel=Channel.WEB, reason="dup")
    assert Note.objects.filter(kind=Note.Kind.RETRACTION, retracts=note).count() == 1


@pytest.mark.django_db
def test_a_note_is_retracted_once_with_a_reason_and_system_notes_not_at_all(
    commitment, officer, manager
):
    note = services.note_add(
        commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="x"
    )
    with pytest.raises(ValidationError):
        services.note_retract(note_id=note.pk, actor=officer, channel=Channel.WEB, reason=" ")
    services.note_retract(note_id=note.pk, actor=officer, channel=Channel.WEB, reason="r")
    with pytest.raises(ValidationError):
        services.note_retract(note_id=note.pk, actor=manager, channel=Channel.WEB, reason="r2")
    services.commitment_reassign(
        commitment_id=commitment.pk, actor=manager, channel=Channel.WEB, owner=manager
    )
    system_note = Note.objects.get(kind=Note.Kind.REASSIGN)
    with pytest.raises(PermissionDenied):
        services.note_retract(
            note_id=system_note.pk, actor=manager, channel=Channel.WEB, reason="r"
        )
    assert Note.objects.filter(kind=Note.Kind.RETRACTION).count() == 1


@pytest.mark.django_db
def test_browser_retract_button_hides_the_note(client, commitment, officer):
    note = services.note_add(
        commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="Typo here"
    )
    client.force_login(officer)
    page = client.get(commitment.get_absolute_url())
    url = reverse("commitments:note-retract", args=[commitment.pk, note.pk])
    assert url in page.content.decode()
    response = client.post(url, {"reason": "Typo"})
    assert response.status_code == 302
    page = client.get(commitment.get_absolute_url()).content.decode()
    assert "Typo here" not in page
    assert "Note retracted" in page
    assert (
        "Typo here" in client.get(commitment.get_absolute_url() + "?history=all").content.decode()
    )


@pytest.mark.django_db
def test_browser_retract_refused_for_someone_elses_note(client, commitment, officer, other_officer):
    note = services.note_add(
        commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="Mine"
    )
    commitment.watchers.add(other_officer)
    client.force_login(other_officer)
    url = reverse("commitments:note-retract", args=[commitment.pk, note.pk])
    assert url not in client.get(commitment.get_absolute_url()).content.decode()
    assert client.post(url, {"reason": "nope"}).status_code == 403
    assert not Note.objects.filter(kind=Note.Kind.RETRACTION).exists()


@pytest.mark.django_db
def test_browser_retract_without_reason_is_a_readable_form_error(client, commitment, officer):
    note = services.note_add(
        commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="Mine"
    )
    client.force_login(officer)
    url = reverse("commitments:note-retract", args=[commitment.pk, note.pk])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 422  # the panel again, swapped in place by htmx
    assert "Say why the note is retracted." in response.content.decode()
    assert not Note.objects.filter(kind=Note.Kind.RETRACTION).exists()
