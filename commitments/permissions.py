"""Who may do what. Roles are the auth groups named in models.Role.

- Managers read and change everything, reopen closed items and reassign owners.
- Desk officers read everything and change what they own or watch.
- Viewers read everything and change nothing.
Superusers count as managers.
"""

from __future__ import annotations

from .models import Commitment, Role


def _groups(user) -> set[str]:
    # Cache on the user object: a page asks these questions many times.
    cached = getattr(user, "_tracker_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._tracker_groups = cached
    return cached


def load_roles(user) -> None:
    """Read the user's roles now (one query) and keep them on the object, e.g. before it
    is cached whole (services.tokens)."""
    _groups(user)


def is_manager(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or Role.MANAGER in _groups(user)))


def is_viewer(user) -> bool:
    """Read-only: in Viewers and in no writing role."""
    if not user.is_authenticated:
        return True
    groups = _groups(user)
    if is_manager(user):
        return False
    return Role.DESK_OFFICER not in groups


def is_desk_officer(user) -> bool:
    return bool(user.is_authenticated and Role.DESK_OFFICER in _groups(user))


def can_edit(user, commitment: Commitment) -> bool:
    """May `user` change this commitment (status, evidence, notes, snooze)?"""
    return commitment.pk in editable_ids(user, [commitment])


def editable_ids(user, commitments) -> set[int]:
    """The ids of `commitments` that `user` may change: the rule of can_edit, for many
    commitments in one query at most (the bulk sync)."""
    commitments = list(commitments)
    if is_manager(user):
        return {c.pk for c in commitments}
    if not is_desk_officer(user):
        return set()
    owned = {c.pk for c in commitments if c.owner_id == user.pk}
    others = [c.pk for c in commitments if c.pk not in owned]
    if not others:
        return owned
    watched = Commitment.watchers.through.objects.filter(commitment_id__in=others, user_id=user.pk)
    return owned | set(watched.values_list("commitment_id", flat=True))


def can_reopen(user) -> bool:
    return is_manager(user)


def can_reassign(user) -> bool:
    return is_manager(user)


def can_retract_note(user, note) -> bool:
    """A comment may be retracted by its author or by a manager. Notes the system wrote
    (snoozes, reassignments, retractions themselves) record what happened and stay."""
    from .models import Note

    if note.kind != Note.Kind.COMMENT or not user.is_authenticated:
        return False
    return is_manager(user) or (note.author_id is not None and note.author_id == user.pk)
