"""API tokens: issue (the secret is returned once, only its hash is stored), look up,
record use, revoke.

A lookup is cached for TOKEN_CACHE_SECONDS in the API's Redis (settings.CACHES["api"];
no caching on any other cache, which processes would not share), with the user and their
roles, so a request costs no token query (issue 13). What would make a cached token
wrong is a write: revoking or deleting it, changing its user (deactivation) or their
groups. Each of those puts a marker in the token's place, at once and again after commit,
and a lookup that finds a marker reads the database. A lookup stores what it read only
where no entry is (SET NX): a lookup that read the row just before a revocation
committed cannot put the old row back over the marker. If Redis is unreachable, lookups
read the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
import secrets

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ApiToken, ApiTokenScope
from ..permissions import load_roles
from ..redis_clients import CacheCircuit, redis_for_cache

# Recording every use would write a row per request; once a minute is enough to see
# which integrations are alive.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
TOKEN_PREFIX = "ct_"  # noqa: S105 (a marker that helps secret scanners, not a secret)
TOKEN_CACHE_SECONDS = 30
_FORGOTTEN = b"-"  # the marker: "read the database"


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
    digest = hash_token(raw)
    token = _cached_token(digest)
    if token is not None:
        # Cached by a read that recorded its use: last_used_at is right to within
        # LAST_USED_RESOLUTION + TOKEN_CACHE_SECONDS. Expiry is checked on every request.
        return token if token.is_usable() else None
    try:
        token = ApiToken.objects.select_related("user").get(token_hash=digest)
    except ApiToken.DoesNotExist:
        return None
    if not token.is_usable() or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # A conditional update: concurrent requests do not fight over the row.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    _cache_token(digest, token)
    return token


def _redis():
    return None if CacheCircuit.is_open() else redis_for_cache("api")


def _key(digest: str) -> str:
    return caches["api"].make_key(f"apitoken_{digest}")


def _cache_call(action):
    client = _redis()
    if client is None:
        return None
    try:
        return action(client)
    except Exception as exc:  # the cache is an optimisation: read the database instead
        CacheCircuit.trip(exc)
        return None


def _cached_token(digest: str) -> ApiToken | None:
    stored = _cache_call(lambda client: client.get(_key(digest)))
    if not stored or stored == _FORGOTTEN:
        return None
    return pickle.loads(stored)  # noqa: S301 (written by this module to our own Redis)


def _cache_token(digest: str, token: ApiToken) -> None:
    if _redis() is None:
        return
    load_roles(token.user)  # cached with the token: permission checks ask for them
    data = pickle.dumps(token)
    _cache_call(lambda client: client.set(_key(digest), data, ex=TOKEN_CACHE_SECONDS, nx=True))


def api_tokens_forget(*, token_hashes) -> None:
    """Make the next lookups of these tokens read the database: now, and again once the
    current transaction commits (a lookup in between reads the old row)."""
    keys = [_key(digest) for digest in token_hashes]
    if not keys:
        return

    def forget():
        def mark(client):
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.set(key, _FORGOTTEN, ex=TOKEN_CACHE_SECONDS)
            pipe.execute()

        _cache_call(mark)

    forget()
    transaction.on_commit(forget)


def _forget_token(sender, instance, created=False, **kwargs) -> None:
    if not created:  # a new token was never looked up, so never cached
        api_tokens_forget(token_hashes=[instance.token_hash])


def _forget_users_tokens(sender, instance, **kwargs) -> None:
    if _redis() is not None and instance.pk is not None:
        hashes = ApiToken.objects.filter(user_id=instance.pk).values_list("token_hash", flat=True)
        api_tokens_forget(token_hashes=list(hashes))


def _forget_on_group_change(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if not reverse:  # user.groups.add(...): the user is the instance
        _forget_users_tokens(sender, instance)
        return
    # group.user_set.add(...): the users are in pk_set (all of the group's when cleared)
    users = pk_set if pk_set is not None else instance.user_set.values_list("pk", flat=True)
    if _redis() is not None:
        hashes = ApiToken.objects.filter(user_id__in=list(users)).values_list(
            "token_hash", flat=True
        )
        api_tokens_forget(token_hashes=list(hashes))


post_save.connect(_forget_token, sender=ApiToken, dispatch_uid="api-token-forget-save")
post_delete.connect(_forget_token, sender=ApiToken, dispatch_uid="api-token-forget-delete")
post_save.connect(
    _forget_users_tokens, sender=get_user_model(), dispatch_uid="api-token-forget-user"
)
m2m_changed.connect(
    _forget_on_group_change,
    sender=get_user_model().groups.through,
    dispatch_uid="api-token-forget-groups",
)


def api_token_revoke(*, token_id: int) -> bool:
    """Revoke a token; True when this call revoked it (False: already revoked). It stops
    working at once, in every process (a cached lookup is forgotten)."""
    with transaction.atomic():
        revoked = bool(
            ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        )
        if revoked:
            hashes = ApiToken.objects.filter(pk=token_id).values_list("token_hash", flat=True)
            api_tokens_forget(token_hashes=list(hashes))
    return revoked
