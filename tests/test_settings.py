"""Settings come from the environment and are secure by default."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings


def run_manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_debug_off_and_a_real_secret():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x7!" * 20 + "a-real-secret-of-length"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_default_secret():
    result = run_manage("check", "--deploy", env={"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": ""})
    # An empty variable falls back to the insecure development key, which is flagged.
    assert "security.W009" in result.stdout + result.stderr


def test_stored_times_are_utc():
    assert settings.USE_TZ is True
    assert settings.CELERY_TIMEZONE == "UTC"


def test_unix_socket_redis_url_becomes_a_kombu_socket_url():
    from tracker.embedded_redis import celery_broker_url

    assert celery_broker_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"
    assert celery_broker_url("redis://h:6379/1") == "redis://h:6379/1"
