"""Logging pieces named in settings.LOGGING: the request id on every record, no traceback
for client errors, and the JSON line format.

Django already logs every 4xx and 5xx response once (django.request, from the handler,
DRF's included). What it gets wrong for operations: a 403 from PermissionDenied and a 400
from a SuspiciousOperation (a bad Host header) come with the whole traceback, as if the
server had failed. ClientErrorWithoutTraceback keeps the one line and drops the traceback;
5xx keep theirs.
"""

from __future__ import annotations

import logging

from django_guid import get_guid
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

NO_REQUEST = "-"


class RequestIdFilter(logging.Filter):
    """Set `record.request_id`: the current request's (or Celery task's) id, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_guid() or NO_REQUEST
        return True


class ClientErrorWithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    the method and path of the request a record is about, and any other `extra`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__("%(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        # Django passes the HttpRequest as `extra`; its repr is noise, these two say it.
        request = log_data.pop("request", None)
        if request is not None and hasattr(request, "method"):
            log_data["method"] = request.method
            log_data["path"] = request.path
