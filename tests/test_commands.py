"""Management commands and the admin go through the same rules as everything else."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from commitments.models import (
    AuditEvent,
    Commitment,
    Evidence,
    Role,
    Status,
    StatusChange,
    Visit,
)

from .factories import CommitmentFactory, OrganisationFactory, UserFactory, VisitFactory


@pytest.mark.django_db
def test_seed_demo_writes_consistent_synthetic_data(capsys):
    call_command("seed_demo", commitments=300, users=20)
    visit = Visit.objects.get(code="SEED-1")
    qs = Commitment.objects.filter(visit=visit)
    assert qs.count() == 300
    statuses = set(qs.values_list("status", flat=True))
    assert {Status.PROPOSED, Status.IN_PROGRESS, Status.FULFILLED} <= statuses
    assert qs.overdue().exists()
    assert qs.filter(due_date__isnull=False).exclude(pk__in=qs.overdue()).exists()
    # History matches each row: as many moves as its version, ending at its status.
    for c in qs.order_by("?")[:30]:
        history = list(c.status_changes.order_by("version"))
        assert len(history) == c.version
        assert history[-1].to_status == c.status
    # Every fulfilled one has evidence; change_seq values are unique.
    assert not qs.filter(status=Status.FULFILLED, evidence__isnull=True).exists()
    assert qs.values("change_seq").distinct().count() == 300
    seeded_users = get_user_model().objects.filter(username__startswith="seed1-")
    assert seeded_users.count() == 20
    assert not seeded_users.filter(email="").exists()
    call_command("seed_demo", commitments=10, users=5)
    assert Visit.objects.filter(code="SEED-2").exists()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_seed_demo_leaves_statistics_for_the_planner():
    """A bulk load without ANALYZE leaves the planner guessing (autovacuum may be off,
    or not come round for minutes): pages at a million rows were 3-25 times slower."""
    call_command("seed_demo", commitments=120, users=10)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
            [Commitment._meta.db_table],
        )
        (estimated,) = cursor.fetchone()
    assert estimated == Commitment.objects.count() == 120


@pytest.mark.django_db
def test_seed_demo_refuses_a_silly_count():
    with pytest.raises(CommandError):
        call_command("seed_demo", commitments=0)
    assert not Commitment.objects.exists()


@pytest.fixture
def admin_client_manager(client, db):
    from django.contrib.auth.models import Group

    user = UserFactory(username="boss", is_staff=True, is_superuser=True)
    user.groups.add(Group.objects.get_or_create(name=Role.MANAGER)[0])
    client.force_login(user)
    return client, user


@pytest.mark.django_db
def test_admin_status_action_goes_through_the_service(admin_client_manager):
    client, user = admin_client_manager
    movable = CommitmentFactory(status=Status.PROPOSED)
    stuck = CommitmentFactory(status=Status.FULFILLED)
    response = client.post(
        reverse("admin:commitments_commitment_changelist"),
        {"action": "move_to_in_progress", "_selected_action": [movable.pk, stuck.pk]},
        follow=True,
    )
    assert response.status_code == 200
    movable.refresh_from_db()
    stuck.refresh_from_db()
    assert movable.status == Status.IN_PROGRESS and movable.version == 2
    change = movable.status_changes.get(version=2)
    assert (change.channel, change.actor) == ("admin", user)
    # The reopening needs a note, which an action cannot give: refused, nothing written.
    assert stuck.status == Status.FULFILLED and stuck.version == 1
    assert StatusChange.objects.filter(commitment=stuck).count() == 1


@pytest.mark.django_db
def test_admin_add_writes_history_and_audit(admin_client_manager):
    client, user = admin_client_manager
    visit = VisitFactory(code="ADM-2025")
    org = OrganisationFactory()
    response = client.post(
        reverse("admin:commitments_commitment_add"),
        {
            "title": "Grain terminal",
            "visit": visit.pk,
            "sector": "trade",
            "pledged_by": org.pk,
            "nature": "intention",
            "progress": 0,
            "currency": "",
            "external_id": "",
            "source_quote": "",
            "description": "",
            "status_changes-TOTAL_FORMS": 0,
            "status_changes-INITIAL_FORMS": 0,
            "evidence-TOTAL_FORMS": 0,
            "evidence-INITIAL_FORMS": 0,
            "notes-TOTAL_FORMS": 0,
            "notes-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    c = Commitment.objects.get(title="Grain terminal")
    assert c.reference == "ADM-2025-001"
    assert c.status_changes.get().channel == "admin"
    assert AuditEvent.objects.filter(commitment=c, action="create", actor=user).exists()
    assert not Evidence.objects.exists()


@pytest.mark.django_db
def test_admin_cannot_edit_or_delete_history(admin_client_manager):
    client, _ = admin_client_manager
    c = CommitmentFactory()
    change = c.status_changes.get()
    url = reverse("admin:commitments_statuschange_delete", args=[change.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert StatusChange.objects.filter(pk=change.pk).exists()
