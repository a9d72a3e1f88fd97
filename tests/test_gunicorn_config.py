"""gunicorn.conf.py and the proxy settings: workers from cores unless WEB_CONCURRENCY says,
forwarded headers believed only from the configured proxy, on both sides."""

from __future__ import annotations

import multiprocessing
import os
import runpy
import subprocess
import sys

import pytest
from django.conf import settings

CONF = str(settings.BASE_DIR / "gunicorn.conf.py")
SECRET = "x7!" * 20 + "a-real-secret-of-length"


def _conf(monkeypatch, **env) -> dict:
    for name in ("WEB_CONCURRENCY", "PORT", "HOST", "FORWARDED_ALLOW_IPS", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(CONF)


def test_defaults_workers_from_cores_and_trusts_only_localhost(monkeypatch):
    conf = _conf(monkeypatch)
    assert conf["workers"] == min(2 * multiprocessing.cpu_count() + 1, 12)
    assert conf["bind"] == ["0.0.0.0:8000"]
    assert conf["forwarded_allow_ips"] == "127.0.0.1"
    assert (conf["timeout"], conf["graceful_timeout"], conf["keepalive"]) == (30, 30, 5)
    assert "%({x-request-id}o)s" in conf["access_log_format"]


def test_environment_overrides(monkeypatch):
    conf = _conf(
        monkeypatch,
        WEB_CONCURRENCY="3",
        PORT="9100",
        HOST="127.0.0.1",
        FORWARDED_ALLOW_IPS="10.0.0.5",
        GUNICORN_TIMEOUT="12",
    )
    assert conf["workers"] == 3
    assert conf["bind"] == ["127.0.0.1:9100"]
    assert conf["forwarded_allow_ips"] == "10.0.0.5"
    assert conf["timeout"] == 12


def _settings_value(expr: str, **env) -> str:
    code = f"from django.conf import settings; print(repr({expr}))"
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_TRUST_X_FORWARDED_PROTO"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", code],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_x_forwarded_proto_is_ignored_unless_a_trusted_proxy_is_configured():
    assert _settings_value("settings.SECURE_PROXY_SSL_HEADER") == "None"
    trusted = _settings_value(
        "settings.SECURE_PROXY_SSL_HEADER", DJANGO_TRUST_X_FORWARDED_PROTO="1"
    )
    assert trusted == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_a_spoofed_forwarded_proto_does_not_make_a_request_secure(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301  # still treated as plain HTTP


@pytest.mark.parametrize("trust", ["0", "1"])
def test_check_deploy_stays_clean_with_or_without_the_proxy(trust):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SECRET,
            "DJANGO_TRUST_X_FORWARDED_PROTO": trust,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
