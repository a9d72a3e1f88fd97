"""Readiness checks for /readyz: reads only, each answering "ok" or a short reason.

A reason names what failed in a few words (an exception's class, an age), never a URL,
host or password: the endpoint is public so that load balancers can probe it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Heartbeat
from .services.heartbeats import SWEEP_HEARTBEAT

OK = "ok"
# A probe must answer well within a load balancer's own timeout (often 2-5 s), even when
# Redis accepts connections but never replies.
REDIS_PROBE_TIMEOUT = 0.5


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(value == OK for value in self.checks.values())

    def as_dict(self) -> dict:
        return {"status": "ok" if self.ok else "fail", "checks": self.checks}


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return OK


def check_redis(url: str | None = None) -> str:
    import redis

    timeout = min(REDIS_PROBE_TIMEOUT, settings.REDIS_SOCKET_TIMEOUT)
    client = redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        # One try: a retry would double the time a hung Redis holds the probe.
        retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
    )
    try:
        client.ping()
    except redis.exceptions.TimeoutError:
        return "timeout"
    except redis.exceptions.AuthenticationError:
        return "authentication failed"
    except redis.exceptions.ConnectionError:
        return "unreachable"
    except Exception as exc:
        return f"error ({type(exc).__name__})"
    finally:
        client.close()
    return OK


def sweep_interval() -> float:
    """Seconds between two reminder sweeps, as beat schedules them."""
    schedule = settings.CELERY_BEAT_SCHEDULE["reminders-sweep"]["schedule"]
    if isinstance(schedule, dt.timedelta):
        return schedule.total_seconds()
    return float(schedule)


def check_beat(now: dt.datetime | None = None) -> str:
    """The last reminder sweep finished less than two intervals ago: one late or missed
    sweep is tolerated (a deploy, a slow sweep), two are not."""
    now = now or timezone.now()
    try:
        last = Heartbeat.objects.filter(name=SWEEP_HEARTBEAT).values_list("beat_at", flat=True)
        last = last.first()
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"
    if last is None:
        return "no sweep recorded"
    limit = 2 * sweep_interval()
    age = (now - last).total_seconds()
    if age > limit:
        return f"last sweep {age:.0f} s ago (limit {limit:.0f} s)"
    return OK


def readiness() -> Readiness:
    database = check_database()
    beat = check_beat() if database == OK else "unknown (database unavailable)"
    return Readiness({"database": database, "redis": check_redis(), "beat": beat})
