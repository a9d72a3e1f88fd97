"""One Redis client per process for a Django cache that is Redis (settings.CACHES), and
the circuit that stops using it for a while after it failed.

Django's RedisCache builds a new redis.Redis object for every operation (about 0.1 ms
each: it fills a table of reply parsers); the API's per-request work (throttle counters,
token lookups) goes through one client per process and its connection pool instead, with
the cache's own timeouts and key prefix (`caches[alias].make_key`).
"""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

CACHE_RETRY_SECONDS = 10.0


class Circuit:
    """Per process: when a Redis-backed part last failed. While open (`seconds` after the
    failure) callers leave that part alone, so a Redis that hangs costs one socket
    timeout per window rather than one per request. Plain attribute writes: a race
    between threads only means one more try. Subclasses name the part in `message`
    (a %-format taking the error's type, the error and the seconds)."""

    seconds: float
    message: str
    down_until: float = 0.0

    @classmethod
    def is_open(cls) -> bool:
        return time.monotonic() < cls.down_until

    @classmethod
    def trip(cls, exc: Exception | None = None) -> None:
        """Leave the part alone for `seconds`; say why in one line (a traceback says
        nothing more)."""
        cls.down_until = time.monotonic() + cls.seconds
        if exc is not None:
            logger.warning(cls.message, type(exc).__name__, exc, cls.seconds)

    @classmethod
    def reset(cls) -> None:
        cls.down_until = 0.0


class CacheCircuit(Circuit):
    """The API's cache: while open, throttles let requests through and token lookups go
    to the database."""

    seconds = CACHE_RETRY_SECONDS
    message = "API cache unavailable (%s: %s); not throttling nor caching tokens for %.0f s"


_clients: dict[tuple, redis.Redis] = {}


def redis_for_cache(alias: str) -> redis.Redis | None:
    """The client for settings.CACHES[alias], or None when that cache is not Redis."""
    conf = settings.CACHES[alias]
    if not conf["BACKEND"].endswith(".RedisCache"):
        return None
    location = conf["LOCATION"]
    if not isinstance(location, str) or "," in location:
        return None  # several servers: not this module's business
    options = conf.get("OPTIONS", {})
    key = (location, tuple(sorted(options.items())))
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(location, **options)
    return client
