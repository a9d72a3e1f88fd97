"""Domain errors raised by services; views and the API turn them into responses."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

__all__ = [
    "CommitmentNotFound",
    "PermissionDenied",
    "TransitionNotAllowed",
    "ValidationError",
    "VersionConflict",
    "error_dict",
]


class CommitmentNotFound(ValidationError):
    """No commitment has the id a service was given. A ValidationError on the field
    "commitment" for callers that report it with the rest; the API answers 404."""

    def __init__(self):
        super().__init__({"commitment": _("No such commitment.")})


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


def error_dict(exc: Exception) -> dict[str, list[str]]:
    """A service error as {field: [messages]}; errors with no field go under "detail"."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return {
                name: [str(m) for m in ValidationError(msgs).messages]
                for name, msgs in exc.error_dict.items()
            }
        return {"detail": [str(m) for m in exc.messages]}
    if isinstance(exc, TransitionNotAllowed):
        allowed = ", ".join(exc.allowed) or _("none")
        return {"status": [f"{exc.reason} " + _("Allowed moves: %(a)s.") % {"a": allowed}]}
    return {"detail": [str(exc) or exc.__class__.__name__]}
