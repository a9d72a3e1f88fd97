# ruff: noqa: RUF001 - Cyrillic on purpose: search in any script
"""Free-text search (issue 14): any script, organisations' aliases, people met, owners'
full names; the same on SQLite and PostgreSQL, in the list, the API and /search/."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from commitments.filters import CommitmentFilterSet
from commitments.models import Commitment, Organisation

from .conftest import VISIT_FIXTURE as FIXTURE
from .factories import CommitmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit_loaded(db):
    call_command("import_visit", str(FIXTURE), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Commitment.objects.count()


def _q(value):
    return set(
        CommitmentFilterSet({"q": value}, queryset=Commitment.objects.all()).qs.values_list(
            "reference", flat=True
        )
    )


def test_cyrillic_alias_finds_the_organisations_commitments_in_any_case(visit_loaded):
    kz = Organisation.objects.get(name="Government of Kazakhstan")
    kz.aliases = [*kz.aliases, "Правительство Казахстана", "Казахстан"]
    kz.save()
    expected = set(
        Commitment.objects.pledged_by_party(kz).values_list("reference", flat=True)
    ) | set(Commitment.objects.filter(beneficiary=kz).values_list("reference", flat=True))
    assert expected
    assert _q("Казахстан") >= expected
    # Case folds for Cyrillic too, where SQLite's LIKE would not.
    assert _q("казахстан") == _q("Казахстан") == _q("КАЗАХСТАН")
    assert _q("Марс") == set()


def test_cyrillic_words_in_a_title_are_found_whatever_the_case(db):
    c = CommitmentFactory(title="Поставка зерна в Кабул")
    CommitmentFactory(title="Something else")
    assert _q("ЗЕРНА") == {c.reference}
    assert _q("поставка") == {c.reference}


def test_a_person_met_during_the_visit_finds_its_commitments(visit_loaded):
    found = _q("Baradar")
    assert found
    visit_refs = set(Commitment.objects.values_list("reference", flat=True))
    assert found <= visit_refs
    assert _q("baradar akhund") == found  # an alias, lower case


def test_an_owners_full_name_finds_their_commitments(db):
    owner = get_user_model().objects.create(username="fa", first_name="Farida", last_name="Azizi")
    mine = CommitmentFactory(owner=owner)
    CommitmentFactory()
    assert _q("Farida Azizi") == {mine.reference}
    assert _q("azizi") == {mine.reference}


def test_search_page_ranks_reference_then_title_then_text(client, officer):
    by_text = CommitmentFactory(title="Other", description="about the railway")
    by_title = CommitmentFactory(title="Railway study")
    client.force_login(officer)
    response = client.get("/search/", {"q": "railway"})
    assert response.status_code == 200
    shown = [c.pk for c in response.context["page_obj"].object_list]
    assert shown == [by_title.pk, by_text.pk]
    assert client.get("/search/", {"q": ""}).status_code == 200


def test_api_and_list_use_the_same_search(client, officer, visit_loaded):
    client.force_login(officer)
    html = client.get("/commitments/", {"q": "Baradar", "per_page": 100}).content.decode()
    for ref in _q("Baradar"):
        assert ref in html
