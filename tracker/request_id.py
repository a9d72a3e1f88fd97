"""The request id middleware: django-guid's, behind a sanity check of the incoming header.

django-guid either accepts only UUIDs or accepts anything. Proxies and callers send other
useful ids too (nginx's 32 hex digits, "Root=1-…" trace ids), but an unbounded header would
land verbatim in every log line. So an X-Request-ID of 1-128 characters from a safe set is
kept; anything else is dropped before django-guid looks, and it makes a fresh id.
"""

from __future__ import annotations

import re

from django_guid.middleware import guid_middleware

REQUEST_ID_META = "HTTP_X_REQUEST_ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")


def is_sane_request_id(value: str) -> bool:
    return SANE_REQUEST_ID.fullmatch(value) is not None


def request_id_middleware(get_response):
    inner = guid_middleware(get_response)

    def middleware(request):
        value = request.META.get(REQUEST_ID_META)
        if value is not None and not is_sane_request_id(value):
            del request.META[REQUEST_ID_META]
        return inner(request)

    return middleware
