"""Small assertions shared by the API tests."""

from __future__ import annotations


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Every 4xx has the one error shape: status, code, detail, errors."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body
