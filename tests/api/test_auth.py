"""Tokens: hashed, shown once, scoped, expiring, revocable; session login with CSRF;
throttling per token and per user."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from io import StringIO

import pytest
import redis
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from commitments import services
from commitments.models import ApiToken
from tracker.embedded_redis import embedded_redis

from .conftest import bearer_client
from .helpers import assert_error

pytestmark = pytest.mark.django_db
LIST = "/api/v1/commitments/"


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_only_a_hash_of_the_token_is_stored(officer):
    token, raw = services.api_token_issue(name="Registry", user=officer, scope="read")
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in {stored.token_hash, stored.prefix, stored.name}
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(stored.prefix)


def test_command_prints_the_token_once_and_it_works(officer):
    out, err = StringIO(), StringIO()
    call_command(
        "issue_api_token",
        "Dashboard",
        "--user",
        "officer-a",
        "--scope",
        "read",
        "--expires-days",
        "30",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(name="Dashboard")
    assert token.scope == "read"
    assert token.expires_at - timezone.now() > dt.timedelta(days=29)
    assert _client(raw).get(LIST).status_code == 200
    assert raw not in err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["X", "--user", "nobody", "--scope", "read"],
        ["X", "--user", "officer-a", "--scope", "read", "--expires-days", "0"],
        [" ", "--user", "officer-a", "--scope", "write"],
    ],
)
def test_command_refuses_bad_input_and_creates_nothing(officer, args):
    with pytest.raises(CommandError):
        call_command("issue_api_token", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


def test_expired_token_gets_401(officer):
    _token, raw = services.api_token_issue(
        name="Old", user=officer, scope="write", expires_in_days=1
    )
    with time_machine.travel(timezone.now() + dt.timedelta(days=2)):
        response = _client(raw).get(LIST)
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_gets_401(officer):
    token, raw = services.api_token_issue(name="Gone", user=officer, scope="write")
    assert services.api_token_revoke(token_id=token.pk) is True
    assert services.api_token_revoke(token_id=token.pk) is False
    assert_error(_client(raw).get(LIST), 401)


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer a b", "Bearer ct_unknown", "Bearer \u00e9t\u00e9"]
)
def test_bad_bearer_headers_get_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    assert_error(client.get(LIST), 401)


def test_token_of_deactivated_user_gets_401(officer):
    _token, raw = services.api_token_issue(name="X", user=officer, scope="write")
    officer.is_active = False
    officer.save()
    assert_error(_client(raw).get(LIST), 401)


def test_use_is_recorded_at_most_once_a_minute(officer):
    token, raw = services.api_token_issue(name="X", user=officer, scope="read")
    client = _client(raw)
    client.get(LIST)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(LIST)
    token.refresh_from_db()
    assert token.last_used_at == first
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        client.get(LIST)
    token.refresh_from_db()
    assert token.last_used_at > first


def test_write_with_read_token_is_403_naming_the_scope(commitment, manager):
    client = bearer_client(manager, "read")
    response = client.patch(
        f"{LIST}{commitment.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error(response, 403)
    assert "read scope" in body["detail"]


def test_session_login_works_and_writes_need_csrf(officer, commitment):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(officer)
    assert client.get(LIST).status_code == 200
    response = client.patch(
        f"{LIST}{commitment.pk}/", {"progress": 10}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error(response, 403)
    assert "CSRF" in body["detail"]
    commitment.refresh_from_db()
    assert commitment.progress == 0


def test_browsable_api_renders_for_a_session_user(officer, commitment):
    client = APIClient()
    client.force_login(officer)
    response = client.get(LIST, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content


def test_throttle_per_token_answers_429_with_retry_after(officer, settings):
    settings.API_THROTTLE_RATES = {"token": "3/minute", "user": "100/minute"}
    client = bearer_client(officer, "read")
    assert [client.get(LIST).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(LIST)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # Another token of the same user has its own budget.
    assert bearer_client(officer, "write").get(LIST).status_code == 200


def test_throttle_per_user_counts_all_their_tokens(officer, other_officer, settings):
    settings.API_THROTTLE_RATES = {"token": "100/minute", "user": "4/minute"}
    first, second = bearer_client(officer, "read"), bearer_client(officer, "write")
    assert [c.get(LIST).status_code for c in (first, second, first, second)] == [200] * 4
    response = second.get(LIST)
    assert_error(response, 429)
    assert "Retry-After" in response
    assert bearer_client(other_officer).get(LIST).status_code == 200


def test_admin_creates_a_token_shows_it_once_and_revokes(admin_client, officer):
    response = admin_client.post(
        "/admin/commitments/apitoken/add/",
        {"name": "Partner", "user": officer.pk, "scope": "write", "expires_in_days": "7"},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="Partner")
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word.rstrip(".") for m in shown for word in m.split() if word.startswith("ct_"))
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
    page = admin_client.get(f"/admin/commitments/apitoken/{token.pk}/change/")
    assert raw.encode() not in page.content

    admin_client.post(
        "/admin/commitments/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert_error(_client(raw).get(LIST), 401)


@pytest.fixture
def redis_url():
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with embedded_redis() as url:
        yield url


def test_throttle_counts_live_in_redis_when_configured(officer, settings, redis_url):
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "api": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        },
    }
    settings.API_THROTTLE_RATES = {"token": "2/minute", "user": "100/minute"}
    client = bearer_client(officer, "read")
    assert [client.get(LIST).status_code for _ in range(3)] == [200, 200, 429]
    keys = redis.Redis.from_url(redis_url).keys(f"{prefix}:*")
    try:
        assert any(b"throttle_token" in key for key in keys), keys
    finally:
        if keys:
            redis.Redis.from_url(redis_url).delete(*keys)
