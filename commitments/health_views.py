"""/healthz and /readyz: public, for load balancers and orchestrators (docs/operations.md).

/healthz says the process answers and touches nothing else, so a database outage does not
make an orchestrator restart every web process. /readyz says whether this process can do
its work (database, Redis, the reminder sweep running) and answers 503 when it cannot.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import health


@login_not_required
@never_cache
@require_safe
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def readyz(request) -> JsonResponse:
    result = health.readiness()
    return JsonResponse(result.as_dict(), status=200 if result.ok else 503)
