"""Second factor (TOTP with recovery codes, django-otp) for managers and administrators.

Every write to a user's OTP devices is here; the views call these. A user has at most
one authenticator app (a TOTPDevice) and one set of recovery codes (a StaticDevice whose
tokens are used up one by one).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import devices_for_user, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from commitments.permissions import is_manager

log = logging.getLogger(__name__)

RECOVERY_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def may_use_two_factor(user) -> bool:
    """Managers and administrators may (and are encouraged to) add a second factor."""
    return bool(user.is_authenticated and (is_manager(user) or user.is_staff))


def two_factor_enabled(user) -> bool:
    return user_has_device(user, confirmed=True)


def _check_may(user) -> None:
    if not may_use_two_factor(user):
        raise PermissionDenied(_("A second factor is for managers and administrators."))


def totp_start(*, user) -> TOTPDevice:
    """The unconfirmed authenticator device to show as a QR code (made once, kept until
    confirmed, so reloading the page does not change the secret)."""
    _check_may(user)
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ValidationError(_("An authenticator app is already set up."))
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": APP_DEVICE_NAME}
    )
    return device


def totp_confirm(*, user, token: str) -> tuple[TOTPDevice, list[str]]:
    """Turn the second factor on with a first code from the app; returns the device and
    fresh recovery codes (shown once)."""
    _check_may(user)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            raise ValidationError(_("Start the set-up again: no authenticator is waiting."))
        if not device.verify_token((token or "").strip()):
            raise ValidationError({"token": _("That code is not right; try the current one.")})
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = recovery_codes_issue(user=user)
    log.info("Second factor turned on for user %s", user.get_username())
    return device, codes


def recovery_codes_issue(*, user) -> list[str]:
    """A new set of single-use recovery codes; any earlier set stops working."""
    _check_may(user)
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, defaults={"name": RECOVERY_DEVICE_NAME}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def two_factor_disable(*, user, token: str) -> None:
    """Turn the second factor off; needs a current code (or a recovery code)."""
    with transaction.atomic():
        if two_factor_verify(user=user, token=token) is None:
            raise ValidationError({"token": _("That code is not right.")})
        for device in devices_for_user(user, confirmed=None):
            device.delete()
    log.info("Second factor turned off for user %s", user.get_username())


def two_factor_verify(*, user, token: str) -> Device | None:
    """The device that accepts `token` (app code or unused recovery code), or None.

    Each device is checked on its own with django-otp's throttling (failures slow the
    next attempt down); a recovery code is used up when it matches.
    """
    token = (token or "").strip().replace(" ", "")
    if not token:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                return device
    return None
