"""The orjson renderer writes the bytes DRF's JSONRenderer writes (issue 13)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from commitments.api.renderers import OrjsonRenderer


@pytest.mark.parametrize(
    "data",
    [
        {
            "a": 1,
            "b": [1, 2.5, None, True],
            "c": "Kabul \u2013 \u049a\u0430\u0437\u0430\u049b\u0441\u0442\u0430\u043d",
        },
        {"line": "a\u2028b\u2029c", "nested": {"x": [{"y": "z"}]}},
        {"when": dt.datetime(2025, 4, 21, 9, 30, tzinfo=dt.UTC), "day": dt.date(2025, 4, 22)},
        {
            "amount": Decimal("500000000.10"),
            "id": uuid.UUID(int=7),
            "label": gettext_lazy("Search"),
        },
        [],
        {"detail": "x", 3: "non-string key"},
    ],
)
def test_orjson_renderer_writes_what_drf_writes(data):
    assert OrjsonRenderer().render(data) == JSONRenderer().render(data)


def test_indent_requested_is_honoured():
    body = OrjsonRenderer().render({"a": 1}, "application/json; indent=2")
    assert body == b'{\n  "a": 1\n}'


@pytest.mark.django_db
def test_api_answers_through_the_orjson_renderer(client, manager):
    client.force_login(manager)
    response = client.get("/api/v1/commitments/", HTTP_ACCEPT="application/json", secure=True)
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, OrjsonRenderer)
    assert response.json()["results"] == []
