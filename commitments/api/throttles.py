"""Request rates per token and per user, counted in a cache shared by all processes
(settings.CACHES["api"]: Redis when REDIS_URL is set). Over the limit: 429 + Retry-After.

Rates come from settings.API_THROTTLE_RATES, read on each request so tests can lower
them. If the cache is unreachable the request is let through: throttling protects the
service and must not take it down. After a failure this process leaves the cache alone for
CACHE_RETRY_SECONDS: a Redis that hangs would otherwise cost every request a socket
timeout per throttle (settings.REDIS_SOCKET_TIMEOUT), where now one request in that window
pays it once.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from ..models import ApiToken

logger = logging.getLogger(__name__)

CACHE_RETRY_SECONDS = 10.0


class CacheCircuit:
    """Per process: when the throttle cache last failed. Plain attribute writes: a race
    between threads only means one more try of the cache."""

    down_until: float = 0.0

    @classmethod
    def is_open(cls) -> bool:
        return time.monotonic() < cls.down_until

    @classmethod
    def trip(cls) -> None:
        cls.down_until = time.monotonic() + CACHE_RETRY_SECONDS

    @classmethod
    def reset(cls) -> None:
        cls.down_until = 0.0


class _ApiThrottle(SimpleRateThrottle):
    def __init__(self):
        self.cache = caches["api"]
        super().__init__()

    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if CacheCircuit.is_open():
            return True
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # cache down: fail open, one line (a traceback says nothing)
            CacheCircuit.trip()
            logger.warning(
                "API throttle cache unavailable (%s: %s); not throttling for %.0f s",
                type(exc).__name__,
                exc,
                CACHE_RETRY_SECONDS,
            )
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
