"""Request rates per token and per user, counted in a cache shared by all processes
(settings.CACHES["api"]: Redis when REDIS_URL is set). Over the limit: 429 + Retry-After.

Rates come from settings.API_THROTTLE_RATES, read on each request so tests can lower
them. If the cache is unreachable the request is let through: throttling protects the
service and must not take it down.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from ..models import ApiToken

logger = logging.getLogger(__name__)


class _ApiThrottle(SimpleRateThrottle):
    def __init__(self):
        self.cache = caches["api"]
        super().__init__()

    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:  # cache down: fail open, loudly
            logger.exception("API throttle cache unavailable; request not throttled")
            return True


class TokenRateThrottle(_ApiThrottle):
    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class UserRateThrottle(_ApiThrottle):
    """All of a user's tokens and browser sessions together."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return self.cache_format % {"scope": "anon", "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
