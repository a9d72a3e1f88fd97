"""Domain errors raised by services; views and the API turn them into responses."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

__all__ = ["PermissionDenied", "TransitionNotAllowed", "ValidationError", "VersionConflict"]


class TransitionNotAllowed(Exception):
    """The move table (or a role rule) forbids this status move."""

    def __init__(self, from_status: str, to_status: str, allowed: list[str], reason: str = ""):
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = allowed
        self.reason = reason or f"Cannot move from {from_status} to {to_status}."
        super().__init__(self.reason)


class VersionConflict(Exception):
    """Someone changed the commitment since the caller read it (optimistic concurrency)."""

    def __init__(self, expected: int, current: int):
        self.expected = expected
        self.current = current
        super().__init__(
            f"The commitment changed since it was read (version {expected}, now {current})."
        )
