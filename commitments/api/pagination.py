"""Cursor pagination: stable under concurrent writes, no COUNT(*) over 100,000 rows.

Cursors are signed. DRF's own cursor is base64 of a query string the client can edit, and
its position goes straight into a WHERE clause: an edited one ("p=abc" on an integer
column, a NUL, a 30-digit number) was a 500 from the database. A signed cursor is one we
produced, for this ordering, so its position is a value we read from a row of that
column; anything else is a 404 before any query, in the API's error shape.
"""

from __future__ import annotations

from django.core import signing
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.utils.urls import replace_query_param

from ..filters import CURSOR_ORDERINGS

CURSOR_SALT = "commitments.api.cursor"
INVALID_CURSOR = _("Invalid cursor: follow the next and previous links as given.")
PAGE_SIZE_RULE = _("Send a whole number from 1; above %(max)d is served as %(max)d.")


def page_size_rule(maximum: int) -> str:
    return str(PAGE_SIZE_RULE) % {"max": maximum}


class ApiCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
    cursor_query_description = _("Opaque: copy it from a next or previous link.")

    def get_page_size(self, request):
        # DRF silently falls back to the default for "null", "0" or "abc"; a client that
        # asked for something it cannot have should hear so.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # Digits only; a number too long to be a page size is simply the maximum.
        if not (raw.isascii() and raw.isdigit()) or int(raw[:10]) < 1:
            rule = page_size_rule(self.max_page_size)
            raise ValidationError({self.page_size_query_param: [rule]})
        return min(int(raw[:10]), self.max_page_size)

    def _ordering_key(self) -> str:
        ordering = self.ordering
        return ",".join(ordering) if isinstance(ordering, list | tuple) else str(ordering)

    def encode_cursor(self, cursor: Cursor) -> str:
        token = signing.dumps(
            [cursor.offset, int(cursor.reverse), cursor.position, self._ordering_key()],
            salt=CURSOR_SALT,
            compress=True,
        )
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def decode_cursor(self, request) -> Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None
        try:
            offset, reverse, position, ordering = signing.loads(token, salt=CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError, UnicodeError):
            # 404 as DRF answers a cursor it cannot read: that page does not exist.
            raise NotFound(INVALID_CURSOR) from None
        if ordering != self._ordering_key():
            raise NotFound(_("This cursor belongs to another ordering."))
        return Cursor(offset=offset, reverse=bool(reverse), position=position)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = page_size_rule(self.max_page_size)
        return parameters


class CommitmentCursorPagination(ApiCursorPagination):
    # Default: the change order, so "everything since my last change_seq" pages in order.
    ordering = ("change_seq", "id")

    def get_ordering(self, request, queryset, view):
        # The API FilterSet has already refused any other value (with the same list).
        wanted = request.query_params.get("ordering")
        if not wanted:
            return self.ordering
        name = wanted.removeprefix("-")
        if name not in CURSOR_ORDERINGS:
            raise ValidationError(
                {"ordering": [f"Order by one of: {', '.join(sorted(CURSOR_ORDERINGS))}."]}
            )
        return (wanted, "-id" if wanted.startswith("-") else "id")
