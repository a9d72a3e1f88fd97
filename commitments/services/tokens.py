"""API tokens: issue (the secret is returned once, only its hash is stored), look up,
record use, revoke."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ApiToken, ApiTokenScope

# Recording every use would write a row per request; once a minute is enough to see
# which integrations are alive.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
TOKEN_PREFIX = "ct_"  # noqa: S105 (a marker that helps secret scanners, not a secret)


def hash_token(raw: str) -> str:
    # The secret has 256 bits of entropy, so a plain fast hash is safe (no need for a
    # slow password hasher) and lets us find the row by an indexed lookup.
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(
    *,
    name: str,
    user,
    scope: str,
    expires_in_days: int | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for `user`. Returns (row, secret); the secret is not stored."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = _("Name the integration the token is for.")
    if scope not in ApiTokenScope.values:
        errors["scope"] = _("Scope is read or write.")
    if expires_in_days is not None and expires_in_days < 1:
        errors["expires_in_days"] = _("A token lives at least one day.")
    if user is None or not user.is_active:
        errors["user"] = _("Choose an active user.")
    if errors:
        raise ValidationError(errors)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        token = ApiToken(
            name=name,
            user=user,
            scope=scope,
            prefix=raw[: len(TOKEN_PREFIX) + 6],
            token_hash=hash_token(raw),
            expires_at=expires_at,
        )
        token.full_clean()
        token.save()
    return token, raw


def api_token_issue_for_username(
    *, name: str, username: str, scope: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"user": _("No user named %(u)s.") % {"u": username}})
    return api_token_issue(name=name, user=user, scope=scope, expires_in_days=expires_in_days)


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The usable token matching `raw`, or None. Records its use (at most once a minute)."""
    if not raw or len(raw) > 200:
        return None
    try:
        token = ApiToken.objects.select_related("user").get(token_hash=hash_token(raw))
    except ApiToken.DoesNotExist:
        return None
    if not token.is_usable() or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # A conditional update: concurrent requests do not fight over the row.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_revoke(*, token_id: int) -> bool:
    """Revoke a token; True when this call revoked it (False: already revoked)."""
    return bool(
        ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )
