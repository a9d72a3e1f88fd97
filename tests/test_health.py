"""/healthz and /readyz: public, plain-HTTP friendly, no secrets; the beat check's rule."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from commitments import health
from commitments.models import Heartbeat
from commitments.services import SWEEP_HEARTBEAT, heartbeat_record, reminders_sweep

from .integration.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_ok(monkeypatch):
    """The Redis check is proven against a real server in tests/integration/test_readyz.py;
    here it answers "ok" so the other checks can be looked at alone."""
    monkeypatch.setattr(health, "check_redis", lambda url=None: health.OK)


def test_healthz_answers_without_login_or_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]
    assert "no-store" in response["Cache-Control"]


def test_probes_are_not_redirected_to_https_but_pages_are(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    login = client.get("/accounts/login/")
    assert login.status_code == 301
    assert login["Location"].startswith("https://")


def test_probes_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_readyz_ok_after_a_recent_sweep(client, redis_ok):
    reminders_sweep()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "beat": "ok"},
    }


def test_readyz_fails_beat_when_no_sweep_was_ever_recorded(client, redis_ok):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"] == {"database": "ok", "redis": "ok", "beat": "no sweep recorded"}


def test_beat_is_ok_up_to_two_intervals_and_fails_after(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "reminders-sweep": {"task": "commitments.tasks.sweep_reminders", "schedule": 300.0}
    }
    now = timezone.now()
    heartbeat_record(name=SWEEP_HEARTBEAT, at=now - dt.timedelta(seconds=599))
    assert health.check_beat(now) == "ok"
    heartbeat_record(name=SWEEP_HEARTBEAT, at=now - dt.timedelta(seconds=601))
    assert health.check_beat(now) == "last sweep 601 s ago (limit 600 s)"
    assert Heartbeat.objects.count() == 1  # upserted, not appended


def test_beat_reads_a_timedelta_schedule_too(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "reminders-sweep": {"task": "x", "schedule": dt.timedelta(minutes=1)}
    }
    now = timezone.now()
    heartbeat_record(name=SWEEP_HEARTBEAT, at=now - dt.timedelta(seconds=121))
    assert health.check_beat(now).startswith("last sweep 121 s ago")


def test_a_dry_run_sweep_records_no_heartbeat():
    reminders_sweep(dry_run=True)
    assert not Heartbeat.objects.exists()
    reminders_sweep()
    assert Heartbeat.objects.get(name=SWEEP_HEARTBEAT).beat_at > timezone.now() - dt.timedelta(
        seconds=60
    )


def test_readyz_with_redis_unreachable_is_quick_and_names_no_secret(client, settings):
    port = free_port()  # nothing listens there
    settings.REDIS_URL = f"redis://:hunter2-secret@127.0.0.1:{port}/0"
    heartbeat_record(name=SWEEP_HEARTBEAT)
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "unreachable", "beat": "ok"}
    text = response.content.decode()
    assert "hunter2" not in text
    assert str(port) not in text
    assert "redis://" not in text


def test_readyz_reports_a_database_failure_without_detail(client, redis_ok, monkeypatch):
    from django.db import OperationalError

    def broken():
        raise OperationalError('connection to server at "db.internal" failed: password secret')

    monkeypatch.setattr(health.connection, "cursor", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "unavailable (OperationalError)"
    assert checks["beat"] == "unknown (database unavailable)"
    assert "secret" not in response.content.decode()
