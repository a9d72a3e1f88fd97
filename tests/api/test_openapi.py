"""The OpenAPI document and the interactive docs, which must work with no internet."""

from __future__ import annotations

import re
import runpy

import pytest
from django.conf import settings as django_settings
from django.test import Client

from commitments.api.schema import REQUEST_LINE_LIMIT
from tests.factories import CommitmentFactory

from .conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _docs_public(settings):
    settings.API_DOCS_PUBLIC = True


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


# --- Issue 11: a schema that tells the truth, behind a sign-in -----------------------------


def _schema() -> dict:
    return Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_a_sign_in_unless_api_docs_public(settings, officer, path):
    settings.API_DOCS_PUBLIC = False
    anonymous = Client().get(path)
    assert anonymous.status_code in (302, 401, 403)
    assert b"openapi" not in anonymous.content
    if anonymous.status_code == 302:
        assert anonymous["Location"].startswith("/accounts/login/")
    signed_in = Client()
    signed_in.force_login(officer)
    assert signed_in.get(path).status_code == 200
    settings.API_DOCS_PUBLIC = True
    assert Client().get(path).status_code == 200


def test_schema_is_readable_with_a_read_token(settings, manager):
    from .conftest import bearer_client

    settings.API_DOCS_PUBLIC = False
    response = bearer_client(manager, "read").get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200


def test_every_operation_documents_its_errors_in_the_error_shape():
    schema = _schema()
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {
        "status",
        "code",
        "detail",
        "errors",
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404", "429"} <= codes, (method, path)
            if method in ("post", "put", "patch"):
                assert {"409", "413", "415"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith("4") and code != "414":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path, code)


def test_orderings_in_the_schema_are_exactly_those_the_api_accepts(officer):
    from tests.factories import CommitmentFactory

    from .conftest import bearer_client

    CommitmentFactory.create_batch(2)
    client = bearer_client(officer)
    params = _schema()["paths"]["/api/v1/commitments/"]["get"]["parameters"]
    (ordering,) = [p for p in params if p["name"] == "ordering"]
    assert ordering["schema"]["type"] == "string"
    offered = set(ordering["schema"]["enum"])
    assert "due_date" not in offered and "-due_date" not in offered
    for value in offered:
        assert client.get(f"/api/v1/commitments/?ordering={value}").status_code == 200, value
    for value in ("due_date", "-due_date", "title", "reference,status"):
        assert client.get(f"/api/v1/commitments/?ordering={value}").status_code == 400, value


def test_page_size_is_documented_as_it_is_checked(officer):
    from .conftest import bearer_client

    params = _schema()["paths"]["/api/v1/commitments/"]["get"]["parameters"]
    (page_size,) = [p for p in params if p["name"] == "page_size"]
    assert page_size["schema"] == {"type": "integer", "minimum": 1}
    client = bearer_client(officer)
    assert client.get("/api/v1/commitments/?page_size=null").status_code == 400
    assert client.get("/api/v1/commitments/?page_size=1").status_code == 200


def _objects_in_request_bodies(schema: dict) -> dict[str, dict]:
    components = schema["components"]["schemas"]
    found: dict[str, dict] = {}
    pending = [
        op["requestBody"]
        for item in schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "requestBody" in op
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "").rpartition("/")[2]
            if ref and ref not in found:
                found[ref] = components[ref]
                pending.append(components[ref])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return {name: s for name, s in found.items() if "properties" in s}


def test_request_objects_say_unknown_keys_are_refused_and_the_api_refuses_them(officer):
    """The live Schemathesis run sent extra keys the schema allowed; the API answered 400
    "Unknown field." So every object a request body is made of is closed."""
    objects = _objects_in_request_bodies(_schema())
    assert {"Commitment", "PatchedCommitment", "NoteInput", "EvidenceInput", "Transition"} <= set(
        objects
    )
    assert {"SyncRequest", "WebhookEndpoint", "PatchedWebhookEndpoint"} <= set(objects)
    open_ones = [n for n, s in objects.items() if s.get("additionalProperties") is not False]
    assert open_ones == []
    commitment = CommitmentFactory(owner=officer)
    response = bearer_client(officer).post(
        f"/api/v1/commitments/{commitment.pk}/notes/", {"text": "hi", "x": 1}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"x": ["Unknown field."]}


def test_text_fields_that_refuse_blank_say_min_length_one():
    schema = _schema()["components"]["schemas"]
    assert schema["Commitment"]["properties"]["title"]["minLength"] == 1
    assert schema["WebhookEndpoint"]["properties"]["url"]["minLength"] == 1
    assert schema["NoteInput"]["properties"]["text"]["minLength"] == 1
    # Blank is allowed where the API allows it.
    assert "minLength" not in schema["Commitment"]["properties"]["description"]


def test_a_request_line_over_gunicorns_limit_is_documented_as_its_html_414():
    """The live Schemathesis run (gunicorn) got a 414 HTML page for a long query string,
    a status the schema did not list. gunicorn answers it before the app: documented as
    what it is, with the limit gunicorn.conf.py sets."""
    conf = runpy.run_path(str(django_settings.BASE_DIR / "gunicorn.conf.py"))
    assert conf["limit_request_line"] == REQUEST_LINE_LIMIT
    for path, item in _schema()["paths"].items():
        for method, operation in item.items():
            too_long = operation["responses"]["414"]
            assert set(too_long["content"]) == {"text/html"}, (method, path)
            assert str(REQUEST_LINE_LIMIT) in too_long["description"]


@pytest.mark.parametrize(
    "key", ["k-1", " padded ", "x" * 200, "x" * 201, "tab\there", "é", "   ", "a\x7fb"]
)
def test_idempotency_key_schema_accepts_exactly_what_the_api_accepts(manager, key):
    """The live Schemathesis run sent keys the schema allowed (any string) and the API
    refused ("Send 1 to 200 printable ASCII characters."): the schema now says the rule."""
    sync = _schema()["paths"]["/api/v1/sync/commitments/"]["post"]
    (header,) = [p for p in sync["parameters"] if p["name"] == "Idempotency-Key"]
    rule = header["schema"]
    schema_says = (
        rule["minLength"] <= len(key) <= rule["maxLength"]
        and re.fullmatch(rule["pattern"], key) is not None
    )
    response = bearer_client(manager).post(
        "/api/v1/sync/commitments/", {"commitments": [{}]}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    api_refused = response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
    assert schema_says is not api_refused, (key, response.status_code)
