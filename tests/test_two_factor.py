"""Optional second factor (TOTP, recovery codes) for managers and administrators: set-up
with a server-made QR code, the code step after the password, recovery codes used once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services

RIGHT = "correct horse battery staple"


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


def _turn_on(client, user) -> list[str]:
    client.force_login(user)
    page = client.get(reverse("two-factor"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("two-factor"), {"action": "confirm", "token": _code(device)})
    assert response.status_code == 200
    return response.context["codes"]


def _sign_in(client, user, password=RIGHT):
    client.logout()
    return client.post(reverse("login"), {"username": user.username, "password": password})


@pytest.mark.django_db
def test_setup_page_shows_a_server_made_qr_code_and_the_otpauth_address(client, manager):
    client.force_login(manager)
    page = client.get(reverse("two-factor")).content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    assert "otpauth://totp/" in page
    # Reloading keeps the same secret (the app scanned it).
    first = TOTPDevice.objects.get(user=manager).key
    client.get(reverse("two-factor"))
    assert TOTPDevice.objects.get(user=manager).key == first


@pytest.mark.django_db
def test_wrong_first_code_does_not_turn_it_on(client, manager):
    client.force_login(manager)
    client.get(reverse("two-factor"))
    response = client.post(reverse("two-factor"), {"action": "confirm", "token": "000000"})
    assert response.status_code == 400
    assert not services.two_factor_enabled(manager)


@pytest.mark.django_db
def test_desk_officers_and_viewers_have_no_second_factor_page(client, officer, viewer):
    for user in (officer, viewer):
        client.force_login(user)
        assert client.get(reverse("two-factor")).status_code == 403
    assert not TOTPDevice.objects.exists()


@pytest.mark.django_db
def test_after_the_password_a_manager_with_a_device_must_give_a_code(client, manager):
    codes = _turn_on(client, manager)
    assert len(codes) == services.RECOVERY_CODE_COUNT
    device = TOTPDevice.objects.get(user=manager, confirmed=True)

    assert _sign_in(client, manager).status_code == 302
    response = client.get(reverse("commitments:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two-factor-verify"))
    assert client.get(reverse("admin:index")).status_code == 302  # admin too
    response = client.post(reverse("two-factor-verify"), {"token": "123456", "next": "/"})
    assert response.status_code == 400
    assert client.get(reverse("commitments:dashboard")).status_code == 302

    device.refresh_from_db()
    device.throttling_failure_count = 0  # the wrong code above slowed the next attempt
    device.throttling_failure_timestamp = None
    device.save()
    # A code is good once: the next one comes 30 s after the one that turned it on.
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=device.step)):
        code = _code(device)
        response = client.post(reverse("two-factor-verify"), {"token": code, "next": "/"})
        assert response.status_code == 302
        assert client.get(reverse("commitments:dashboard")).status_code == 200


@pytest.mark.django_db
def test_a_recovery_code_works_once(client, manager):
    codes = _turn_on(client, manager)
    _sign_in(client, manager)
    response = client.post(reverse("two-factor-verify"), {"token": codes[0], "next": "/"})
    assert response.status_code == 302
    assert client.get(reverse("commitments:dashboard")).status_code == 200
    assert not StaticToken.objects.filter(token=codes[0]).exists()

    _sign_in(client, manager)
    response = client.post(reverse("two-factor-verify"), {"token": codes[0], "next": "/"})
    assert response.status_code == 400
    assert client.get(reverse("commitments:dashboard")).status_code == 302


@pytest.mark.django_db
def test_users_without_a_device_sign_in_with_the_password_alone(client, manager):
    _sign_in(client, manager)
    assert client.get(reverse("commitments:dashboard")).status_code == 200
