"""Who may call what: the browser's roles (commitments.permissions), plus token scope.

Object-level rules (officers change only what they own or watch) are enforced by the
services, which raise PermissionDenied; this class refuses early what can never pass.
"""

from __future__ import annotations

from rest_framework import permissions

from ..models import ApiToken
from ..permissions import is_viewer


class TrackerApiPermission(permissions.BasePermission):
    message = "You may not change anything."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if isinstance(request.auth, ApiToken) and not request.auth.can_write:
            self.message = "This token has read scope; writing needs a write token."
            return False
        if is_viewer(user):
            self.message = "Viewers may not change anything."
            return False
        return True
