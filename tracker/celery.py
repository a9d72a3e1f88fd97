"""The Celery app: `celery -A tracker worker` and `celery -A tracker beat`.

Configuration lives in Django settings under the CELERY_ namespace; the periodic
schedule is declared once, in settings.CELERY_BEAT_SCHEDULE.
"""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def sweep_when_a_worker_starts(sender, **kwargs):
    """Queue one reminder sweep as soon as a worker is up.

    Beat's first run comes one interval after it starts (five minutes by default), so a
    fresh stack, or one back from an outage, would sit on due reminders until then. The
    sweep is idempotent (the outbox's unique key), so N workers starting at once cost N
    cheap sweeps and no duplicate email.
    """
    from django.conf import settings

    if settings.TRACKER_SWEEP_ON_WORKER_START:
        sender.app.send_task("commitments.tasks.sweep_reminders")
