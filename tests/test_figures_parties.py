"""Typed figures, pledges by several parties, context facts and honest dates (issue 10):
through the services, the filters, the API and the pages."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from commitments import services
from commitments.models import (
    AuditEvent,
    Channel,
    Commitment,
    FigureKind,
    Organisation,
    Visit,
)
from commitments.services.importer import visit_dataset_load
from tests.api.conftest import bearer_client

from .conftest import VISIT_FIXTURE as FIXTURE
from .factories import CommitmentFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(db):
    return visit_dataset_load(path=FIXTURE)


def _af() -> Organisation:
    return Organisation.objects.get(name="Government of Afghanistan (Islamic Emirate)")


def test_filtering_by_a_pledging_organisation_matches_any_party(loaded, viewer):
    af = _af()
    api = bearer_client(viewer)
    refs = [
        r["reference"]
        for r in api.get(f"/api/v1/commitments/?pledged_by={af.pk}&page_size=100").json()["results"]
    ]
    # Pledged alone (006, 016) and as one of both sides (009, 011, 017, ...).
    assert {"KZ-AF-2025-006", "KZ-AF-2025-016", "KZ-AF-2025-011", "KZ-AF-2025-017"} <= set(refs)
    assert "KZ-AF-2025-001" not in refs, "Kazakhstan alone pledged the railway"
    assert len(refs) == len(set(refs)), "no duplicate rows"
    expected = Commitment.objects.pledged_by_party(af).count()
    assert len(refs) == expected == 9  # 006, 016 alone; 7 with Kazakhstan
    # The browser list uses the same FilterSet.
    from django.test import Client

    browser = Client()
    browser.force_login(viewer)
    page = browser.get("/commitments/", {"pledged_by": af.pk, "per_page": 100})
    assert len(page.context["page_obj"]) == expected


def test_free_text_search_finds_a_co_pledger(loaded, viewer):
    api = bearer_client(viewer)
    body = api.get("/api/v1/commitments/?q=Afghan%20private%20sector&page_size=100").json()
    assert "KZ-AF-2025-018" in [r["reference"] for r in body["results"]]


def test_api_shows_every_pledging_party_and_the_kind_of_figure(loaded, viewer):
    c = Commitment.objects.get(reference="KZ-AF-2025-017")
    body = bearer_client(viewer).get(f"/api/v1/commitments/{c.pk}/").json()
    kz = Organisation.objects.get(name="Government of Kazakhstan")
    assert body["pledged_by"] == kz.pk
    assert body["co_pledgers"] == [_af().pk]
    assert body["pledgers"] == [kz.pk, _af().pk]
    assert (body["figure_kind"], body["amount"], body["currency"], body["unit"]) == (
        "target_trade_turnover",
        "3000000000.00",
        "USD",
        "",
    )
    visit = bearer_client(viewer).get(f"/api/v1/visits/{c.visit_id}/").json()
    assert visit["end_date"] is None, "not stated, so not given"
    assert {f["key"] for f in visit["context_facts"]} >= {"sugar-exports"}


def test_api_creates_a_pledge_of_both_sides(manager, commitment):
    other = OrganisationFactory()
    response = bearer_client(manager).post(
        "/api/v1/commitments/",
        {
            "title": "Joint working group",
            "visit": commitment.visit_id,
            "sector": "trade",
            "nature": "intention",
            "pledged_by": commitment.pledged_by_id,
            "co_pledgers": [other.pk],
            "amount": "25.00",
            "unit": "percent",
            "figure_kind": "target_volume",
            "figure_year": 2030,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["pledgers"] == [commitment.pledged_by_id, other.pk]
    assert (body["unit"], body["currency"], body["figure_year"]) == ("percent", "", 2030)


def test_changing_the_parties_is_an_audited_update_and_a_no_op_writes_nothing(commitment):
    other = OrganisationFactory()
    version = commitment.version
    _c, changed = services.commitment_update(
        commitment_id=commitment.pk,
        actor=None,
        channel=Channel.SYSTEM,
        data={"co_pledgers": [other]},
    )
    assert changed
    commitment.refresh_from_db()
    assert commitment.version == version + 1
    assert list(commitment.co_pledgers.all()) == [other]
    assert AuditEvent.objects.latest("id").changes["co_pledgers"] == [[], [other.pk]]
    audit = AuditEvent.objects.count()
    _c, changed = services.commitment_update(
        commitment_id=commitment.pk,
        actor=None,
        channel=Channel.SYSTEM,
        data={"co_pledgers": [other]},
    )
    assert not changed and AuditEvent.objects.count() == audit


def test_the_bulk_services_refuse_parties_instead_of_dropping_them(commitment):
    (result,) = services.commitments_create_many(
        actor=None,
        channel=Channel.SYSTEM,
        items=[
            services.NewCommitment(
                data={
                    "title": "x",
                    "visit": commitment.visit,
                    "sector": "trade",
                    "nature": "intention",
                    "pledged_by": commitment.pledged_by,
                    "co_pledgers": [OrganisationFactory()],
                }
            )
        ],
    )
    assert isinstance(result, ValidationError) and "co_pledgers" in result.message_dict


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": 5, "currency": "USD", "unit": "tons"}, "unit"),
        ({"amount": 5}, "currency"),
        ({"figure_kind": FigureKind.GRANT}, "amount"),
        ({"figure_kind": "gift", "amount": 5, "currency": "USD"}, "figure_kind"),
    ],
)
def test_a_figure_needs_an_amount_and_a_currency_or_a_unit(commitment, data, field):
    version = commitment.version
    with pytest.raises(ValidationError) as refused:
        services.commitment_update(
            commitment_id=commitment.pk, actor=None, channel=Channel.SYSTEM, data=data
        )
    assert field in refused.value.message_dict
    commitment.refresh_from_db()
    assert commitment.version == version


def test_visit_page_shows_context_and_dates_not_stated(loaded, client, viewer):
    visit = Visit.objects.get(code="KZ-AF-2025")
    client.force_login(viewer)
    html = client.get(reverse("commitments:visit-detail", args=[visit.pk])).content.decode()
    assert "end date not stated" in html
    assert html.count("date not stated") >= 5  # the end date, four meetings
    assert "Context reported by the sources" in html
    assert "32%" in html and "19,100 tons in 2023 to 143,000 in 2024" in html
    assert "News report of a statement" in html and "by Qais Ahmad" in html
    assert "publisher not stated" in html


def test_commitment_page_says_what_kind_of_figure_it_is(loaded, client, viewer):
    client.force_login(viewer)
    c = Commitment.objects.get(reference="KZ-AF-2025-017")
    html = client.get(c.get_absolute_url()).content.decode()
    assert "Target: trade turnover" in html
    assert "Government of Kazakhstan; Government of Afghanistan (Islamic Emirate)" in html


def test_overdue_csv_carries_the_kind_of_figure_and_every_party(client, manager):
    import csv
    import datetime as dt
    import io

    other = OrganisationFactory(name="Second party")
    c = CommitmentFactory(
        due_date=dt.date(2020, 1, 1),
        amount=3,
        currency="USD",
        figure_kind=FigureKind.TARGET_TRADE_TURNOVER,
    )
    c.co_pledgers.add(other)
    client.force_login(manager)
    response = client.get("/commitments/overdue/", {"format": "csv"})
    *lines, trailer = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert trailer == "# rows: 1"
    (row,) = csv.DictReader(io.StringIO("\n".join(lines)))
    assert (row["Kind of figure"], row["Amount"], row["Currency or unit"]) == (
        FigureKind.TARGET_TRADE_TURNOVER.label,
        "3.00",
        "USD",
    )
    assert row["Also pledged by"] == "Second party"
