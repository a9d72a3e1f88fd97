"""Queueing Celery tasks from the services: by task name, ids only, after commit.

The services never import `commitments.tasks` (the tasks import the services); a task is
queued by the name it is registered under, on the project's Celery app (its broker and
settings; celery's `current_app` is a default app until something imports ours).

Queueing is best effort (the outbox sweeps queue again what was not), so a broker that
hangs must not cost every request a socket timeout: after a failed publish, or while the
API cache (the same Redis) is known to be down, this process does not try the broker for
BROKER_RETRY_SECONDS and raises BrokerUnavailable at once.
"""

from __future__ import annotations

from django.conf import settings

from tracker.celery import app

from ..redis_clients import CacheCircuit, Circuit

BROKER_RETRY_SECONDS = 10.0


class BrokerUnavailable(ConnectionError):
    """The broker failed in this process a moment ago; nothing was queued."""


class BrokerCircuit(Circuit):
    """The broker: while open, nothing is published (the outboxes keep the rows and
    their sweeps queue them again)."""

    seconds = BROKER_RETRY_SECONDS
    message = "broker unavailable (%s: %s); not queueing tasks for %.0f s"


def task_queue(name: str, task_id_arg: int | list[int], *, countdown: int | None = None) -> None:
    """Queue task `name` with one id (or one list of ids). Raises when the broker is down
    (BrokerUnavailable without trying while the circuit is open); callers decide."""
    if BrokerCircuit.is_open() or CacheCircuit.is_open():
        raise BrokerUnavailable(f"broker skipped for a while after a failure; {name} not queued")
    try:
        app.send_task(name, args=[task_id_arg], countdown=countdown, retry=False)
    except Exception as exc:
        BrokerCircuit.trip(exc)
        raise


def retry_countdown(seconds: int) -> int:
    """A retry's countdown, never longer than the broker's visibility timeout: Redis
    would redeliver a longer countdown message early, as if its worker had died."""
    limit = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] - 60
    return max(1, min(seconds, limit))
