"""Issue 15: a commitment's translations over the API. `title` and `description` stay
the original; the tracker's translations are read and written under `translations`."""

from __future__ import annotations

import pytest

from commitments.models import AuditEvent, Commitment

pytestmark = pytest.mark.django_db


def _path(c: Commitment) -> str:
    return f"/api/v1/commitments/{c.pk}/"


def test_translations_are_written_beside_the_original_and_read_back(officer_api, commitment):
    original = commitment.title
    response = officer_api.patch(
        _path(commitment),
        {"translations": {"ru": {"title": "Железная дорога"}, "fa": {"title": "راه آهن"}}},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == original  # the original keeps its meaning
    assert body["translations"] == {
        "ru": {"title": "Железная дорога", "description": ""},
        "fa": {"title": "راه آهن", "description": ""},
    }
    commitment.refresh_from_db()
    assert commitment.title == original
    assert commitment.translated_title_ru == "Железная дорога"
    assert commitment.version == 2
    change = AuditEvent.objects.get(commitment=commitment, action="update").changes
    assert change["translated_title_ru"] == [None, "Железная дорога"]
    # A language left out is kept; an empty string removes one translation.
    response = officer_api.patch(
        _path(commitment),
        {"translations": {"ru": {"title": ""}}},
        format="json",
        HTTP_IF_MATCH='"2"',
    )
    assert response.status_code == 200, response.json()
    assert response.json()["translations"] == {"fa": {"title": "راه آهن", "description": ""}}


def test_a_russian_reader_still_gets_the_original_title(officer_api, commitment):
    commitment.translated_title_ru = "Перевод"
    commitment.save()
    body = officer_api.get(_path(commitment), HTTP_ACCEPT_LANGUAGE="ru").json()
    assert body["title"] == commitment.title != "Перевод"
    assert body["translations"]["ru"]["title"] == "Перевод"


def test_sending_back_what_was_read_changes_nothing(officer_api, commitment):
    commitment.translated_title_kk = "Теміржол"
    commitment.save()
    read = officer_api.get(_path(commitment))
    response = officer_api.put(_path(commitment), read.json(), format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"1"'


@pytest.mark.parametrize(
    "translations",
    [
        {"xx": {"title": "?"}},
        {"ru": {"quote": "a quote is never translated"}},
        {"ru": {"title": "x" * 301}},
        {"ru": "not an object"},
        ["ru"],
    ],
)
def test_bad_translations_are_400_and_write_nothing(officer_api, commitment, translations):
    response = officer_api.patch(
        _path(commitment), {"translations": translations}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 400, response.json()
    commitment.refresh_from_db()
    assert commitment.version == 1
    assert not AuditEvent.objects.filter(commitment=commitment).exists()


def test_organisations_carry_their_translated_names(officer_api, commitment):
    org = commitment.pledged_by
    org.translated_name_ps = "د قزاقستان حکومت"
    org.save()
    body = officer_api.get(f"/api/v1/organisations/{org.pk}/").json()
    assert body["name"] == org.name
    assert body["translations"] == {"ps": {"name": "د قزاقستان حکومت"}}
