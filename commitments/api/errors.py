"""One JSON shape for every 4xx the API returns:

    {"status": 409, "code": "transition_not_allowed", "detail": "…",
     "errors": {"field": ["message", …]}, …extra keys such as "allowed"}

Domain errors from the services are mapped here, so views never catch them.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import TransitionNotAllowed, VersionConflict, error_dict


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = "Send If-Match with the ETag you read."
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The commitment changed since you read it; fetch it again."
    default_code = "precondition_failed"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "Unprocessable request."
    default_code = "unprocessable"


def error_body(status_code: int, code: str, detail: str, errors=None, **extra) -> dict:
    return {"status": status_code, "code": code, "detail": detail, "errors": errors or {}, **extra}


def flatten_errors(detail) -> dict[str, list[str]]:
    """DRF's nested error detail as {field: [messages]}; nested paths joined with dots."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            for index, sub in enumerate(value):
                if sub:
                    walk(f"{prefix}[{index}]" if prefix else f"[{index}]", sub)
        else:
            messages = value if isinstance(value, list) else [value]
            out.setdefault(prefix or "detail", []).extend(str(m) for m in messages)

    walk("", detail)
    return out


def api_exception_handler(exc, context):
    extra: dict = {}
    if isinstance(exc, TransitionNotAllowed):
        exc_api = Conflict(exc.reason, code="transition_not_allowed")
        extra = {"allowed": list(exc.allowed), "from": exc.from_status, "to": exc.to_status}
        exc = exc_api
    elif isinstance(exc, VersionConflict):
        extra = {"current_version": exc.current}
        exc = PreconditionFailed()
    elif isinstance(exc, DjangoValidationError):
        return _respond(400, "invalid", "The request is not valid.", error_dict(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DataError):
        # The database refused a value (out of range, unencodable): the input's fault, and
        # nothing was written. The fields should have caught it; this is the net.
        return _respond(400, "invalid", "A value cannot be stored; check the request.")

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let it be a 500 with a traceback in the logs
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = error_body(response.status_code, "invalid", "The request is not valid.", errors)
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = getattr(exc.detail, "code", None) or exc.default_code
        body = error_body(response.status_code, str(code), str(detail), **extra)
    response.data = body
    return response


def _respond(status_code: int, code: str, detail: str, errors=None, **extra) -> Response:
    return Response(error_body(status_code, code, detail, errors, **extra), status=status_code)


@csrf_exempt
@login_not_required
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/ answer in the API's error shape, not an HTML page."""
    return JsonResponse(error_body(404, "not_found", "No such resource."), status=404)
