"""Load the visit data set and demo users, with demo dates relative to today.

Safe to run again: rows are matched on natural keys, passwords are only set for users
this run creates (or when DEMO_PASSWORD is given), and demo dates are only given to
commitments that have none.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from commitments import services
from commitments.models import Channel, Commitment, Profile, Role
from commitments.services.importer import visit_dataset_load

FIXTURES = Path(settings.BASE_DIR) / "fixtures"

# username, role, e-mail, time zone, ISO working days
DEMO_USERS = [
    ("officer", Role.DESK_OFFICER, "officer@example.org", "Asia/Kabul", [6, 7, 1, 2, 3, 4]),
    ("officer2", Role.DESK_OFFICER, "officer2@example.org", "Asia/Almaty", [1, 2, 3, 4, 5]),
    ("manager", Role.MANAGER, "manager@example.org", "Asia/Almaty", [1, 2, 3, 4, 5]),
    ("viewer", Role.VIEWER, "viewer@example.org", "UTC", [1, 2, 3, 4, 5]),
]
# Days from today for the demo due dates, cycled over the open commitments: some overdue
# (past 14 and 30 days too, for escalations), some falling due within a fortnight.
DUE_OFFSETS = [-40, -16, -5, -1, 0, 1, 3, 7, 12, 30, 60, 90]


class Command(BaseCommand):
    help = "Load the Kabul visit data set and demo users (idempotent)."

    def handle(self, *args, **options):
        for path in sorted(FIXTURES.glob("*.json")):
            result = visit_dataset_load(path=path)
            self.stdout.write(
                f"{path.name}: {len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged"
            )
        password = os.environ.get("DEMO_PASSWORD", "")
        generated = password or secrets.token_urlsafe(12)
        users = self._users(password, generated)
        self._assign(users)

    @transaction.atomic
    def _users(self, password: str, generated: str) -> dict:
        User = get_user_model()
        created_any = False
        users = {}
        specs = [*DEMO_USERS, ("admin", None, "admin@example.org", "UTC", [1, 2, 3, 4, 5])]
        for username, role, email, zone, days in specs:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": email, "is_staff": role is None or role == Role.MANAGER},
            )
            if role is None and not user.is_superuser:
                user.is_superuser = user.is_staff = True
                user.save(update_fields=["is_superuser", "is_staff"])
            if created or password:
                user.set_password(password or generated)
                user.save(update_fields=["password"])
                created_any = created_any or created
            if role:
                user.groups.add(Group.objects.get(name=role))
            Profile.objects.update_or_create(
                user=user, defaults={"time_zone": zone, "working_days": days}
            )
            users[username] = user
        officer_profile = users["officer"].profile
        if officer_profile.line_manager_id is None:
            officer_profile.line_manager = users["manager"]
            officer_profile.save(update_fields=["line_manager"])
        if created_any and not password:
            self.stdout.write(
                self.style.WARNING(
                    f"Demo users officer, officer2, manager, viewer, admin; password: {generated}"
                    " (shown once; set DEMO_PASSWORD to choose it)"
                )
            )
        return users

    def _assign(self, users: dict) -> None:
        today = timezone.localdate()
        now = timezone.now()
        open_index = 0
        for index, commitment in enumerate(Commitment.objects.order_by("reference")):
            data = {}
            if commitment.owner_id is None:
                data["owner"] = users["officer2"] if index % 4 == 3 else users["officer"]
            if commitment.is_open and commitment.due_date is None:
                offset = DUE_OFFSETS[open_index % len(DUE_OFFSETS)]
                data["due_date"] = today + dt.timedelta(days=offset)
                # Half of them are waiting for an update already.
                data["next_follow_up_at"] = now + dt.timedelta(days=-2 if open_index % 2 else 5)
                open_index += 1
            if data:
                services.commitment_update(
                    commitment_id=commitment.pk, actor=None, channel=Channel.SYSTEM, data=data
                )
