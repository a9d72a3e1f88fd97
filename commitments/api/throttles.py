"""Request rates per token and per user, counted in a cache shared by all processes
(settings.CACHES["api"]: Redis when REDIS_URL is set). Over the limit: 429 + Retry-After.

Both counters are fixed windows (a count that expires a period after the window's first
request), checked in one Redis round trip on one pooled client per process: DRF's
sliding-window throttles cost four round trips a request, each on a new client object
(issue 13). A fixed window lets a client send up to twice its rate across a window's
edge; for a limit that protects the service, that is enough.

Rates come from settings.API_THROTTLE_RATES, read on each request so tests can lower
them. If the cache is unreachable the request is let through: throttling protects the
service and must not take it down. After a failure this process leaves the cache alone for
CACHE_RETRY_SECONDS: a Redis that hangs would otherwise cost every request a socket
timeout (settings.REDIS_SOCKET_TIMEOUT), where now one request in that window pays it once.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

from ..models import ApiToken
from ..redis_clients import CacheCircuit, redis_for_cache

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/minute" -> (600, 60)."""
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


def _hit_redis(client, windows: list[tuple[str, int]]) -> list[tuple[int, int]]:
    # Per key: start the window if none runs, count this request, read the time left.
    pipe = client.pipeline(transaction=False)
    for key, period in windows:
        pipe.set(key, 0, ex=period, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
    replies = pipe.execute()
    return [(replies[i + 1], replies[i + 2]) for i in range(0, len(replies), 3)]


def _hit_cache(cache, windows: list[tuple[str, int]]) -> list[tuple[int, int]]:
    # Any other cache (one process's memory in tests and development). Not atomic: only
    # Redis is shared by processes in production.
    now = time.time()
    counts = []
    for key, period in windows:
        count, ends = cache.get(key) or (0, now + period)
        if ends <= now:
            count, ends = 0, now + period
        cache.set(key, (count + 1, ends), timeout=max(1, int(ends - now) + 1))
        counts.append((count + 1, int(ends - now) + 1))
    return counts


class ApiRateThrottle(BaseThrottle):
    """The token's rate (settings.API_THROTTLE_RATES["token"]) and its user's across all
    their tokens and sessions ("user"; "anon" by address without one)."""

    def __init__(self):
        self.retry_after: int | None = None

    def _windows(self, request) -> list[tuple[str, str, int, int]]:
        rates = settings.API_THROTTLE_RATES
        found = []
        if isinstance(request.auth, ApiToken) and rates.get("token"):
            found.append(("token", request.auth.pk, *parse_rate(rates["token"])))
        if request.user.is_authenticated:
            ident = request.user.pk
            scope = "user"
        else:
            ident, scope = self.get_ident(request), "anon"
        if rates.get("user"):
            found.append((scope, ident, *parse_rate(rates["user"])))
        return found

    def allow_request(self, request, view) -> bool:
        if CacheCircuit.is_open():
            return True
        cache = caches["api"]
        windows = self._windows(request)
        if not windows:
            return True
        keys = [(f"throttle_{scope}_{ident}", period) for scope, ident, _n, period in windows]
        try:
            client = redis_for_cache("api")
            if client is not None:
                counts = _hit_redis(client, [(cache.make_key(k), p) for k, p in keys])
            else:
                counts = _hit_cache(cache, keys)
        except Exception as exc:  # cache down: fail open
            CacheCircuit.trip(exc)
            return True
        over = [
            left
            for (_scope, _ident, limit, period), (count, left) in zip(windows, counts, strict=True)
            if count > limit
        ]
        if over:
            self.retry_after = max(1, *over)
            return False
        return True

    def wait(self) -> int | None:
        return self.retry_after
