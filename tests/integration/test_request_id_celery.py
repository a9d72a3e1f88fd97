"""A task queued while handling a request runs in the real worker under the request's id:
the worker's own log lines for it name the id the caller sent."""

from __future__ import annotations

import json
import time

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path

from commitments.tasks import sweep_reminders

from .conftest import use_broker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@login_not_required
def _queue_a_sweep(request):
    # Only for this test: no page of the app queues a sweep itself.
    sweep_reminders.delay()
    return HttpResponse("queued")


urlpatterns = [path("test/queue/", _queue_a_sweep), path("", include("tracker.urls"))]


def test_the_worker_logs_the_task_under_the_request_id(
    client, settings, redis_url, smtp_sink, start_worker
):
    settings.ROOT_URLCONF = __name__
    _sink, smtp_port = smtp_sink
    with use_broker(redis_url):
        worker = start_worker(redis=redis_url, smtp_port=smtp_port, LOG_FORMAT="json")
        response = client.get("/test/queue/", HTTP_X_REQUEST_ID="visit-trace-77")
        assert response.status_code == 200
        assert response["X-Request-ID"] == "visit-trace-77"

        deadline = time.monotonic() + 60
        lines: list[dict] = []
        while time.monotonic() < deadline:
            text = worker.log.read_text() if worker.log.exists() else ""
            lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
            if any(
                "succeeded" in x["message"] and "sweep_reminders" in x["message"] for x in lines
            ):
                break
            time.sleep(0.3)

    succeeded = [
        x for x in lines if "sweep_reminders" in x["message"] and "succeeded" in x["message"]
    ]
    assert len(succeeded) == 1, lines[-10:]
    assert succeeded[0]["request_id"] == "visit-trace-77"
    # Lines outside the task (start-up) are not given the request's id.
    assert any(x["request_id"] == "-" for x in lines)
