"""Sign-in defences and account flows: lockout after a burst of wrong passwords (django-axes,
by username and IP), unlock in the admin, password change for every user, password reset
by email with links that work once and expire."""

from __future__ import annotations

import datetime as dt
import logging
import re
from unittest import mock

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import mail
from django.urls import reverse

from .factories import UserFactory

RIGHT = "correct horse battery staple"  # the factories' password
LIMIT = 5


@pytest.fixture(autouse=True)
def _lockout_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def _sign_in(client, username: str, password: str, ip: str = "203.0.113.7"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


@pytest.mark.django_db
def test_burst_of_wrong_passwords_locks_then_the_right_one_is_refused_unchecked(
    client, officer, caplog
):
    for attempt in range(1, LIMIT):
        response = _sign_in(client, officer.username, f"wrong-{attempt}")
        assert response.status_code == 200, attempt  # the form again, with its error
        assert "_auth_user_id" not in client.session
    # The attempt that reaches the limit is the first one refused with the lockout page.
    response = _sign_in(client, officer.username, "wrong-last")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()

    caplog.clear()
    with (
        caplog.at_level(logging.INFO, logger="axes"),
        mock.patch.object(
            AbstractBaseUser, "check_password", autospec=True, side_effect=AssertionError
        ) as check,
    ):
        response = _sign_in(client, officer.username, RIGHT)
    assert response.status_code == 429
    assert check.call_count == 0  # refused without looking at the password
    assert "_auth_user_id" not in client.session
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "203.0.113.7" in logged
    assert officer.username in logged


@pytest.mark.django_db
def test_lockout_is_per_username_and_ip(client, officer, other_officer):
    for attempt in range(LIMIT):
        _sign_in(client, officer.username, f"wrong-{attempt}")
    assert _sign_in(client, officer.username, RIGHT).status_code == 429
    # The same user from elsewhere, and another user from the same address, still sign in.
    assert _sign_in(client, officer.username, RIGHT, ip="198.51.100.9").status_code == 302
    client.logout()
    assert _sign_in(client, other_officer.username, RIGHT).status_code == 302


@pytest.mark.django_db
def test_admin_unlocks_a_locked_out_user(client, officer):
    for attempt in range(LIMIT):
        _sign_in(client, officer.username, f"wrong-{attempt}")
    assert _sign_in(client, officer.username, RIGHT).status_code == 429
    attempt = AccessAttempt.objects.get(username=officer.username)

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert officer.username in client.get(changelist).content.decode()
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.exists()
    client.logout()

    assert _sign_in(client, officer.username, RIGHT).status_code == 302


@pytest.mark.django_db
def test_every_user_can_change_their_password_from_the_header(client, viewer):
    client.force_login(viewer)
    page = client.get(reverse("commitments:dashboard")).content.decode()
    assert reverse("password_change") in page
    response = client.get(reverse("password_change"))
    assert response.status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": RIGHT,
            "new_password1": "a brand new passphrase 42",
            "new_password2": "a brand new passphrase 42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    client.logout()
    assert _sign_in(client, viewer.username, RIGHT).status_code == 200  # old one refused
    assert _sign_in(client, viewer.username, "a brand new passphrase 42").status_code == 302


@pytest.mark.django_db
def test_password_change_with_wrong_old_password_changes_nothing(client, viewer):
    client.force_login(viewer)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "not it",
            "new_password1": "a brand new passphrase 42",
            "new_password2": "a brand new passphrase 42",
        },
    )
    assert response.status_code == 200
    viewer.refresh_from_db()
    assert viewer.check_password(RIGHT)


def _reset_link(client, email: str) -> str:
    response = client.post(reverse("password_reset"), {"email": email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    (link,) = re.findall(r"https?://\S+/accounts/reset/\S+/", mail.outbox[0].body)
    return link.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


@pytest.mark.django_db
def test_password_reset_by_email_works_once(client, officer):
    path = _reset_link(client, officer.email)
    # Django moves the token into the session and redirects to .../set-password/.
    form_url = client.get(path)["Location"]
    response = client.get(form_url)
    assert response.context["validlink"] is True
    response = client.post(
        form_url,
        {"new_password1": "reset passphrase 2026!", "new_password2": "reset passphrase 2026!"},
    )
    assert response.status_code == 302
    assert _sign_in(client, officer.username, "reset passphrase 2026!").status_code == 302
    client.logout()

    # The same link again: refused, and the password stays as set.
    response = client.get(path, follow=True)
    assert response.context["validlink"] is False
    assert "no longer valid" in response.content.decode()
    officer.refresh_from_db()
    assert officer.check_password("reset passphrase 2026!")


@pytest.mark.django_db
def test_password_reset_link_expires(client, officer, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    path = _reset_link(client, officer.email)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=2)):
        response = client.get(path, follow=True)
    assert response.context["validlink"] is False


@pytest.mark.django_db
def test_password_reset_for_unknown_address_sends_nothing_and_says_the_same(client, officer):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_manager_unlocks_in_the_admin_and_an_officer_cannot(client, officer, manager):
    for attempt in range(LIMIT):
        _sign_in(client, officer.username, f"wrong-{attempt}")
    attempt = AccessAttempt.objects.get(username=officer.username)
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])

    officer.is_staff = True  # even a staff desk officer holds no such permission
    officer.save(update_fields=["is_staff"])
    client.force_login(officer)
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()

    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client.force_login(manager)
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.exists()
    client.logout()
    assert _sign_in(client, officer.username, RIGHT).status_code == 302
