"""Issue 14 finding 5: what a user reads is plain language, with no internal field
names or Django leftovers, on every page of the browser app, for each role."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from commitments.models import Commitment, Status, Visit

from .conftest import VISIT_FIXTURE

pytestmark = pytest.mark.django_db

# Words the trial found on the pages ("version 5", "Changed after (change_seq)", "Owner
# (username)", an Overdue filter on "Unknown") and Django's empty choice.
JARGON = re.compile(
    r"change_seq|Changed after|\(username\)|>Unknown<|[Vv]ersion \d|---------|updated_since"
)


def _visible(html: str) -> str:
    """The page's text and its option labels, without scripts, tags or attributes."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", html)
    return re.sub(r"(?s)<(?!option)[^>]*>", " ", html)


@pytest.fixture
def visit(db, officer):
    call_command("import_visit", str(VISIT_FIXTURE), stdout=open("/dev/null", "w"))  # noqa: SIM115
    Commitment.objects.filter(reference="KZ-AF-2025-001").update(owner=officer)
    return Visit.objects.get()


def _pages(visit) -> list[str]:
    c = Commitment.objects.get(reference="KZ-AF-2025-001")
    return [
        "/",
        "/commitments/",
        "/commitments/overdue/",
        f"/commitments/{c.pk}/",
        # Each of the Update panel's forms (one at a time; reassign for managers).
        *(
            f"/commitments/{c.pk}/?action={action}"
            for action in ("status", "note", "evidence", "snooze", "reassign")
        ),
        f"/visits/{visit.pk}/",
        f"/visits/{visit.pk}/brief/",
        "/search/?q=railway",
        "/profile/",
    ]


@pytest.mark.parametrize("role", ["officer", "manager", "viewer"])
def test_no_internal_names_on_any_page(client, visit, role, request):
    user = request.getfixturevalue(role)
    client.force_login(user)
    managers = ["/webhooks/", "/commitments/import/"] if role == "manager" else []
    for path in _pages(visit) + managers:
        response = client.get(path)
        assert response.status_code == 200, path
        found = JARGON.findall(_visible(response.content.decode()))
        assert found == [], (path, found)


def test_viewers_get_no_my_commitments_and_the_overdue_filter_offers_open_statuses(
    client, visit, viewer
):
    client.force_login(viewer)
    html = client.get("/commitments/overdue/").content.decode()
    assert "My commitments" not in html
    statuses = set(re.findall(r'<option value="([a-z_]+)"[^>]*>', html)) & set(Status.values)
    assert statuses == {Status.PROPOSED, Status.AGREED, Status.IN_PROGRESS, Status.BLOCKED}


def test_an_imported_commitment_has_no_status_change_from_the_load(client, visit, manager):
    # Its timeline starts with its recording by the import, not a made-up reassignment,
    # and "Last status change" is empty rather than the load date.
    c = Commitment.objects.get(reference="KZ-AF-2025-002")
    client.force_login(manager)
    html = client.get(f"/commitments/{c.pk}/").content.decode()
    assert "Reassigned to" not in html
    rows = client.get("/commitments/overdue/", {"overdue": "unknown"}).context["page_obj"]
    assert all(r.last_change_at is None for r in rows)
