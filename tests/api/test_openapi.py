"""The OpenAPI document and the interactive docs, which must work with no internet."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_and_describes_every_resource():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/commitments/",
        "/api/v1/commitments/{id}/",
        "/api/v1/commitments/{id}/transitions/",
        "/api/v1/commitments/{id}/history/",
        "/api/v1/commitments/{id}/evidence/",
        "/api/v1/commitments/{id}/notes/",
        "/api/v1/visits/",
        "/api/v1/organisations/",
        "/api/v1/sources/",
        "/api/v1/sync/commitments/",
    ):
        assert expected in paths
    assert "delete" not in schema["paths"]["/api/v1/commitments/{id}/"]
    params = {p["name"] for p in schema["paths"]["/api/v1/commitments/"]["get"]["parameters"]}
    assert {"status", "overdue", "updated_since", "changed_after", "cursor", "page_size"} <= params
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_loads_only_local_assets():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert all(not a.startswith(("http:", "https:", "//")) for a in assets), assets
    for asset in assets:
        if asset.startswith("/static/"):
            assert Client().get(asset).status_code == 200, asset
