"""Queueing Celery tasks from the services: by task name, ids only, after commit.

The services never import `commitments.tasks` (the tasks import the services); a task is
queued by the name it is registered under, on the project's Celery app (its broker and
settings; celery's `current_app` is a default app until something imports ours).
"""

from __future__ import annotations

from django.conf import settings

from tracker.celery import app


def task_queue(name: str, task_id_arg: int | list[int], *, countdown: int | None = None) -> None:
    """Queue task `name` with one id (or one list of ids). Raises when the broker is down;
    callers decide."""
    app.send_task(name, args=[task_id_arg], countdown=countdown, retry=False)


def retry_countdown(seconds: int) -> int:
    """A retry's countdown, never longer than the broker's visibility timeout: Redis
    would redeliver a longer countdown message early, as if its worker had died."""
    limit = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] - 60
    return max(1, min(seconds, limit))
