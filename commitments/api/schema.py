"""What the OpenAPI document adds to drf-spectacular's: the truth about errors, and links.

- Every operation lists the error statuses it can answer, each with the one error shape
  (commitments.api.errors): a client and Schemathesis can check every 4xx against it.
- Links tell a stateful client (Schemathesis's state machine) how a created commitment's
  id feeds the other operations.

Wired in SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"].
"""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of every 4xx.",
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["status", "code", "detail", "errors"],
    "additionalProperties": True,  # e.g. "allowed" on a refused move
}

# Any request: malformed query or body (400), no or bad credentials (401), role or scope
# (403), unknown id or cursor (404), wrong method (405), unacceptable Accept (406),
# throttled (429).
READ_ERRORS = {
    "400": "The query is not valid.",
    "401": "No valid credentials.",
    "403": "Not allowed for this user or token.",
    "404": "No such resource, or a cursor we did not make.",
    "405": "Method not allowed.",
    "406": "Only JSON is served.",
    "429": "Too many requests; see Retry-After.",
}
# Writes, also: a refused move or idempotency clash (409), stale If-Match (412), body too
# large (413), body not JSON (415), replayed key with another body (422), no If-Match (428).
WRITE_ERRORS = {
    "409": "Conflict: a move the table forbids, or a request with this key still running.",
    "412": "The commitment changed since you read it (If-Match).",
    "413": "The request body is too large.",
    "415": "Send application/json.",
    "422": "This Idempotency-Key was used with a different body.",
    "428": "Send If-Match with the ETag you read.",
}
COMPONENT_PREFIX = "#/components/schemas/"
ERROR_REF = {"$ref": COMPONENT_PREFIX + "Error"}
# A request line over gunicorn's limit_request_line (4094 bytes: a long query string) is
# answered by gunicorn before the app sees it, as a short HTML page (found by the live
# Schemathesis run, issue 11). Documented as what it is.
REQUEST_LINE_LIMIT = 4094  # gunicorn.conf.py's limit_request_line
URI_TOO_LONG = {
    "description": f"The request line is over {REQUEST_LINE_LIMIT} bytes (gunicorn's "
    "limit_request_line); answered by the server before the API, as HTML.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _links() -> dict:
    by_id = {"id": "$response.body#/id"}
    return {
        "GetCommitment": {"operationId": "v1_commitments_retrieve", "parameters": by_id},
        "AddNote": {"operationId": "v1_commitments_notes_create", "parameters": by_id},
        "ListNotes": {"operationId": "v1_commitments_notes_list", "parameters": by_id},
        "AddEvidence": {"operationId": "v1_commitments_evidence_create", "parameters": by_id},
        "History": {"operationId": "v1_commitments_history_list", "parameters": by_id},
    }


def _single_ordering(result) -> None:
    """django-filter describes `ordering` as a comma-separated list; a cursor follows one
    column, so the API takes exactly one of the values (pagination.CommitmentCursorPagination)."""
    listing = result.get("paths", {}).get("/api/v1/commitments/", {}).get("get", {})
    for parameter in listing.get("parameters", []):
        if parameter["name"] == "ordering" and parameter["schema"].get("type") == "array":
            parameter["schema"] = parameter["schema"]["items"]
            parameter.pop("explode", None)
            parameter.pop("style", None)


def _refs(node, found: set[str]) -> None:
    """Names of every component schema `node` refers to, directly or through others."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith(COMPONENT_PREFIX):
            found.add(ref[len(COMPONENT_PREFIX) :])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _closed_request_objects(result) -> None:
    """Every write refuses keys it does not know ("Unknown field.", StrictMixin and
    services.commitments): the objects a request body is made of say so
    (additionalProperties: false), or a client would read extra keys as allowed."""
    schemas = result.get("components", {}).get("schemas", {})
    pending: set[str] = set()
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                _refs(operation["requestBody"], pending)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        schema = schemas[name]
        _refs(schema, pending)
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)


def add_errors_and_links(result, generator, **kwargs):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    operation_ids = set()
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation_ids.add(operation.get("operationId"))
            wanted = dict(READ_ERRORS)
            if method in ("post", "put", "patch"):
                wanted |= WRITE_ERRORS
            for code, description in wanted.items():
                operation["responses"].setdefault(code, _error_response(description))
            operation["responses"].setdefault("414", URI_TOO_LONG)
            for code, response in operation["responses"].items():
                # A bare OpenApiResponse() for an error status: give it the shape.
                if code.startswith("4") and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    _single_ordering(result)
    _closed_request_objects(result)
    create = result.get("paths", {}).get("/api/v1/commitments/", {}).get("post")
    if create:
        links = {
            name: link for name, link in _links().items() if link["operationId"] in operation_ids
        }
        create["responses"]["201"]["links"] = links
    return result
