"""Request ids and log lines: an id on every response and every line made while handling
the request; one line per 4xx and no traceback; tracebacks for 5xx; JSON or plain text."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.urls import include, path
from rest_framework.test import APIClient

from commitments.services import api_token_issue

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
logger = logging.getLogger("tests.logging")


@login_not_required
def _fails(request):
    logger.info("about to fail")
    raise RuntimeError("boom in a view")


@login_not_required
def _forbidden(request):
    raise PermissionDenied("not yours")


urlpatterns = [
    path("test/fails/", _fails),
    path("test/forbidden/", _forbidden),
    path("", include("tracker.urls")),
]


@pytest.fixture
def console(settings):
    """What the configured console handler writes (settings.LOGGING), as lines."""
    settings.ROOT_URLCONF = __name__
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    old = handler.setStream(stream)
    lines = lambda: [json.loads(line) for line in stream.getvalue().splitlines()]  # noqa: E731
    yield lines
    handler.setStream(old)


@pytest.fixture
def raw_client(client):
    client.raise_request_exception = False
    return client


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path_", ["/healthz", "/no/such/page/", "/api/v1/nothing/", "/", "/test/forbidden/"]
)
def test_a_sane_request_id_is_echoed_on_every_response(raw_client, console, path_):
    response = raw_client.get(path_, HTTP_X_REQUEST_ID="lb-1234.abc:Root=1-5e")
    assert response["X-Request-ID"] == "lb-1234.abc:Root=1-5e"


def test_a_500_carries_the_request_id_and_its_traceback(raw_client, console):
    response = raw_client.get("/test/fails/", HTTP_X_REQUEST_ID="trace-500")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "trace-500"
    lines = console()
    assert {line["request_id"] for line in lines} == {"trace-500"}
    assert [line["message"] for line in lines] == [
        "about to fail",
        "Internal Server Error: /test/fails/",
    ]
    error = lines[-1]
    assert error["level"] == "ERROR"
    assert error["status_code"] == 500
    assert (error["method"], error["path"]) == ("GET", "/test/fails/")
    assert "RuntimeError: boom in a view" in error["exc_info"]


@pytest.mark.parametrize(
    "value",
    ["x" * 129, "has space", "semi;colon", "new\u00e9", ""],
)
def test_an_unsafe_request_id_is_replaced_by_a_new_one(raw_client, console, value):
    response = raw_client.get("/healthz", HTTP_X_REQUEST_ID=value)
    new = response["X-Request-ID"]
    assert new != value
    assert len(new) == 32
    assert int(new, 16) >= 0


def test_each_request_without_an_id_gets_its_own(raw_client):
    first = raw_client.get("/healthz")["X-Request-ID"]
    second = raw_client.get("/healthz")["X-Request-ID"]
    assert first != second
    assert len(first) == len(second) == 32


@pytest.mark.parametrize(
    ("path", "headers", "status", "logged"),
    [
        (
            "/test/forbidden/",
            {"HTTP_X_REQUEST_ID": "trace-403"},
            403,
            {
                "message": "Forbidden (Permission denied): /test/forbidden/",
                "level": "WARNING",
                "request_id": "trace-403",
            },
        ),
        (
            "/healthz",
            {"HTTP_HOST": "evil.example"},
            400,
            {"logger": "django.security.DisallowedHost", "status_code": 400},
        ),
    ],
    ids=["403", "bad-host-400"],
)
def test_a_4xx_is_one_line_without_traceback(raw_client, console, path, headers, status, logged):
    response = raw_client.get(path, **headers)
    assert response.status_code == status
    (line,) = console()
    assert {key: line.get(key) for key in logged} == logged
    assert "exc_info" not in line


def test_a_drf_4xx_is_logged_once_without_traceback(console, officer, commitment):
    _, secret = api_token_issue(name="log test", user=officer, scope="write")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.post(
        f"/api/v1/commitments/{commitment.pk}/transitions/",
        {"to": "in_progress"},
        format="json",
        HTTP_X_REQUEST_ID="trace-428",
    )
    assert response.status_code == 428
    lines = console()
    assert [(line["level"], line["status_code"]) for line in lines] == [("WARNING", 428)]
    assert lines[0]["request_id"] == "trace-428"
    assert lines[0]["path"] == f"/api/v1/commitments/{commitment.pk}/transitions/"
    assert "exc_info" not in lines[0]


def test_lines_outside_a_request_have_a_dash_for_request_id(console):
    logger.warning("no request here")
    assert console() == [
        {
            "level": "WARNING",
            "logger": "tests.logging",
            "message": "no request here",
            "request_id": "-",
            "time": console()[0]["time"],
        }
    ]


def _manage(*args, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "fmt"),
    [
        ({"DJANGO_DEBUG": "0"}, "json"),
        ({"DJANGO_DEBUG": "1"}, "plain"),
        ({"DJANGO_DEBUG": "1", "LOG_FORMAT": "json"}, "json"),
        ({"DJANGO_DEBUG": "0", "LOG_FORMAT": "plain"}, "plain"),
    ],
)
def test_log_format_follows_debug_unless_log_format_says(env, fmt):
    code = "import logging; logging.getLogger('probe').warning('hello %s', 'there')"
    result = _manage("shell", "-v0", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "hello there" in x]
    if fmt == "json":
        record = json.loads(line)
        assert record["message"] == "hello there"
        assert record["logger"] == "probe"
        assert record["request_id"] == "-"
    else:
        assert line.endswith("WARNING probe [-] hello there")


def test_an_unknown_log_format_stops_the_start():
    result = _manage("check", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or plain" in result.stderr
