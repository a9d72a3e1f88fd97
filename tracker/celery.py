"""The Celery app: `celery -A tracker worker` and `celery -A tracker beat`.

Configuration lives in Django settings under the CELERY_ namespace; the periodic
schedule is declared once, in settings.CELERY_BEAT_SCHEDULE.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
