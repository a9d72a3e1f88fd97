"""Security headers on every HTML page: a Content-Security-Policy with no 'unsafe-inline',
a Permissions-Policy; HSTS preload only when switched on. (The browser tests check that
Chromium reports no CSP violation on these pages.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from .factories import UserFactory
from .test_settings import run_manage

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.fixture
def admin_client(client, commitment):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _assert_headers(response, path):
    assert response.status_code == 200, path
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy, path
    assert "script-src 'self'" in policy, path
    assert "style-src 'self'" in policy, path
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
    assert "frame-ancestors 'none'" in policy, path
    assert "camera=()" in response["Permissions-Policy"], path
    assert "geolocation=()" in response["Permissions-Policy"], path


@pytest.mark.django_db
def test_pages_signed_out_carry_csp_and_permissions_policy(client):
    for path in (reverse("login"), reverse("password_reset")):
        _assert_headers(client.get(path), path)


@pytest.mark.django_db
def test_pages_signed_in_carry_csp_and_permissions_policy(admin_client, commitment):
    for path in (
        reverse("commitments:dashboard"),
        reverse("commitments:commitment-list"),
        reverse("commitments:overdue-list"),
        commitment.get_absolute_url(),
        commitment.visit.get_absolute_url(),
        reverse("password_change"),
        reverse("two-factor"),
        reverse("admin:index"),
        reverse("api-docs"),
    ):
        _assert_headers(admin_client.get(path), path)


@pytest.mark.django_db
def test_api_docs_page_has_no_inline_script_or_style(client, admin_client):
    page = admin_client.get(reverse("api-docs")).content.decode()
    assert "<style" not in page
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag, tag
    script = admin_client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def test_templates_have_no_inline_script_style_or_event_handler():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if "email" in path.parts:
            continue  # emails are not pages: no CSP applies to them
        text = path.read_text()
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",
            r"<style",
            r"\son[a-z]+=\"",
            r"\sstyle=\"",
        ):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(TEMPLATES)}: {pattern}")
    assert offenders == []


def test_hsts_preload_is_off_by_default_and_check_deploy_stays_clean_either_way():
    assert settings.SECURE_HSTS_PRELOAD is False
    secret = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x7!" * 20 + "a-real-secret-of-length"}
    for preload in ("0", "1"):
        result = run_manage(
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            env={**secret, "DJANGO_HSTS_PRELOAD": preload},
        )
        assert result.returncode == 0, result.stdout + result.stderr
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECURE_HSTS_PRELOAD)",
        env={**secret, "DJANGO_HSTS_PRELOAD": "1"},
    )
    assert result.stdout.strip().endswith("True")
