"""Cursor pagination: stable under concurrent writes, no COUNT(*) over 100,000 rows."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

# Orderings a cursor can follow: non-null columns only (a cursor cannot point at NULL).
CURSOR_ORDERINGS = {"change_seq", "updated_at", "reference", "status_changed_at", "status", "id"}


class ApiCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"


class CommitmentCursorPagination(ApiCursorPagination):
    # Default: the change order, so "everything since my last change_seq" pages in order.
    ordering = ("change_seq", "id")

    def get_ordering(self, request, queryset, view):
        wanted = request.query_params.get("ordering")
        if not wanted:
            return self.ordering
        name = wanted.removeprefix("-")
        if name not in CURSOR_ORDERINGS:
            raise ValidationError(
                {"ordering": [f"Order by one of: {', '.join(sorted(CURSOR_ORDERINGS))}."]}
            )
        return (wanted, "-id" if wanted.startswith("-") else "id")
