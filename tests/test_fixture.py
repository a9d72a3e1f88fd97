"""The Kabul visit data set loads, holds each pledge with its parties, and reloads cleanly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from commitments.models import (
    Commitment,
    Evidence,
    Nature,
    Organisation,
    Person,
    Source,
    Status,
    StatusChange,
    Visit,
)
from commitments.services.importer import visit_dataset_load

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "kz_af_2025_visit.json"

# reference: (words in the title, pledged by, beneficiary, amount, nature, status)
EXPECTED = {
    "KZ-AF-2025-001": (
        "Torghundi-Herat-Spin Boldak railway",
        "Government of Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        Decimal("500000000"),
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-002": (
        "Torghundi-Herat phase",
        "Government of Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-003": (
        "Logistics and transport company in Herat",
        "Government of Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-004": (
        "optical cable",
        "Government of Kazakhstan",
        "Ministry of Communications and Information Technology of Afghanistan",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-005": (
        "Kazakh trading house in Kabul",
        "Government of Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-006": (
        "Afghan trading house in Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        "Government of Kazakhstan",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-007": (
        "Chamber of Commerce in Herat",
        "Kazakh Chamber of Commerce in Afghanistan",
        "Afghan private sector",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-008": (
        "Chamber of Commerce in Kabul",
        "Government of Kazakhstan",
        "Afghan private sector",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-010": (
        "agricultural products",
        "Government of Kazakhstan",
        "Afghan private sector",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-012": (
        "Freedom Bank",
        "Freedom Bank",
        "Afghan private banks",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-013": (
        "Zaman Bank",
        "Zaman Bank",
        "Afghan private banks",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-014": (
        "Internet connectivity",
        "Government of Kazakhstan",
        "Ministry of Communications and Information Technology of Afghanistan",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-015": (
        "Visa facilitation",
        "Government of Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-016": (
        "Transit of Kazakh goods",
        "Government of Afghanistan (Islamic Emirate)",
        "Government of Kazakhstan",
        None,
        Nature.INTENTION,
        Status.PROPOSED,
    ),
    "KZ-AF-2025-017": (
        "USD 3 billion",
        "Government of Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        Decimal("3000000000"),
        Nature.AGREEMENT,
        Status.IN_PROGRESS,
    ),
    "KZ-AF-2025-018": (
        "20 private-sector agreements",
        "Kazakh private sector",
        "Afghan private sector",
        Decimal("140000000"),
        Nature.DONE,
        Status.AGREED,
    ),
    "KZ-AF-2025-020": (
        "ore samples collected in Nuristan",
        "Ministry of Industry and Construction of Kazakhstan",
        "Government of Afghanistan (Islamic Emirate)",
        None,
        Nature.DONE,
        Status.FULFILLED,
    ),
    "KZ-AF-2025-021": (
        "consulate in Almaty",
        "Government of Kazakhstan",
        "Consulate of the Islamic Emirate of Afghanistan in Almaty",
        None,
        Nature.DONE,
        Status.FULFILLED,
    ),
}


@pytest.fixture
def loaded(db):
    return visit_dataset_load(path=FIXTURE)


def test_visit_is_loaded_with_its_sources_and_lead(loaded):
    visit = Visit.objects.get(code="KZ-AF-2025")
    assert (str(visit.start_date), str(visit.end_date), visit.place) == (
        "2025-04-21",
        "2025-04-22",
        "Kabul",
    )
    assert (visit.host_country.code, visit.visiting_country.code) == ("AF", "KZ")
    assert visit.delegation_lead.name == "Serik Zhumangarin"
    assert visit.sources.count() == 2
    assert not Source.objects.exclude(url="").exists(), "no source URL may be invented"
    assert visit.meetings.count() == 4


@pytest.mark.parametrize("reference", sorted(EXPECTED))
def test_each_pledge_is_held_with_its_parties_and_amount(loaded, reference):
    words, pledged_by, beneficiary, amount, nature, status = EXPECTED[reference]
    c = Commitment.objects.select_related("pledged_by", "beneficiary", "source").get(
        reference=reference
    )
    assert words.lower() in c.title.lower()
    assert c.pledged_by.name == pledged_by
    assert c.beneficiary.name == beneficiary
    assert c.amount == amount
    assert c.currency == ("USD" if amount else "")
    assert (c.nature, c.status) == (nature, status)
    assert c.source is not None and c.source_quote
    assert c.due_date is None, "the sources give no due dates"


def test_sub_commitments_hang_under_their_parents(loaded):
    assert Commitment.objects.get(reference="KZ-AF-2025-002").parent.reference == "KZ-AF-2025-001"
    banks = Commitment.objects.get(reference="KZ-AF-2025-011")
    assert sorted(banks.children.values_list("pledged_by__name", flat=True)) == [
        "Freedom Bank",
        "Zaman Bank",
    ]


def test_done_items_are_fulfilled_with_the_source_as_evidence(loaded):
    for c in Commitment.objects.filter(status=Status.FULFILLED):
        assert c.nature == Nature.DONE
        evidence = Evidence.objects.get(commitment=c)
        assert evidence.url == "" and evidence.source_id == c.source_id


def test_aliases_keep_other_spellings(loaded):
    assert "Alhaj Nooruddin" in Person.objects.get(name="Nooruddin Azizi").aliases
    assert "Towrgondi" in Commitment.objects.get(reference="KZ-AF-2025-004").title


def test_loading_twice_duplicates_nothing(loaded):
    counts = [m.objects.count() for m in (Commitment, Organisation, Person, StatusChange, Evidence)]
    again = visit_dataset_load(path=FIXTURE)
    assert again.created == [] and again.updated == []
    assert len(again.unchanged) == len(loaded.created)
    assert [
        m.objects.count() for m in (Commitment, Organisation, Person, StatusChange, Evidence)
    ] == counts


def test_load_demo_twice_gives_users_dates_and_no_duplicates(db, monkeypatch, capsys):
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-2025")
    call_command("load_demo")
    first = {c.reference: (c.owner_id, c.due_date, c.version) for c in Commitment.objects.all()}
    call_command("load_demo")
    second = {c.reference: (c.owner_id, c.due_date, c.version) for c in Commitment.objects.all()}
    assert first == second
    assert all(owner for owner, _due, _v in first.values())
    assert Commitment.objects.overdue().exists()
    assert Commitment.objects.open().filter(due_date__isnull=True).count() == 0
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    # The sign-in lockout (django-axes) needs the request: whose IP is trying.
    request = RequestFactory().post("/accounts/login/")
    for username in ("officer", "manager", "admin", "viewer"):
        assert authenticate(request, username=username, password="a-demo-password-2025")
