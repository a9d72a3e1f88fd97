"""Fixtures for API tests: clients that authenticate with a bearer token per role and
scope, and a clean throttle cache for each test."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from commitments import services


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(settings):
    # A private in-memory counter store per test (changing CACHES resets the handlers).
    # Never clear() the configured one: on Redis that is FLUSHDB on a shared database.
    settings.CACHES = {
        **settings.CACHES,
        "api": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"api-test-{uuid.uuid4().hex}",
        },
    }


def bearer_client(user, scope: str = "write") -> APIClient:
    _token, raw = services.api_token_issue(name=f"{user.username}-{scope}", user=user, scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_token = raw
    return client


@pytest.fixture
def officer_api(officer):
    return bearer_client(officer)


@pytest.fixture
def manager_api(manager):
    return bearer_client(manager)


@pytest.fixture
def viewer_api(viewer):
    return bearer_client(viewer)


@pytest.fixture
def read_api(manager):
    return bearer_client(manager, "read")
