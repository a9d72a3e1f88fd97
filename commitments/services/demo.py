"""The demo: the visit data set, four demo users and made-up dates, for `make run`.

A demo must never damage real data, so the rules are narrow:

- It runs only on an empty database or one that holds nothing but demo rows. A database
  with commitments that the demo did not create (real data, loaded by `import_visit`, the
  API or the browser) is refused unless the caller forces it; forced, the demo still
  leaves those commitments alone.
- Commitments it creates carry `is_demo`; only those get made-up owners, due dates and
  follow-ups, written through the commitment services with the "demo" channel so the
  timeline says where they came from and the pages label them.
- Users are created when missing and otherwise left as they are: no password, group,
  profile or superuser flag of an existing account is changed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from ..models import Channel, Commitment, Profile, Role
from .commitments import commitment_update
from .importer import ImportResult, visit_dataset_load

# username, role (None: superuser), e-mail, time zone, ISO working days
DEMO_USERS = [
    ("officer", Role.DESK_OFFICER, "officer@example.org", "Asia/Kabul", [6, 7, 1, 2, 3, 4]),
    ("officer2", Role.DESK_OFFICER, "officer2@example.org", "Asia/Almaty", [1, 2, 3, 4, 5]),
    ("manager", Role.MANAGER, "manager@example.org", "Asia/Almaty", [1, 2, 3, 4, 5]),
    ("viewer", Role.VIEWER, "viewer@example.org", "UTC", [1, 2, 3, 4, 5]),
    ("admin", None, "admin@example.org", "UTC", [1, 2, 3, 4, 5]),
]
# Names people know the demo users by (pages show names, not usernames).
DEMO_NAMES = {
    "officer": ("Farida", "Azizi"),
    "officer2": ("Daniyar", "Seitkali"),
    "manager": ("Aigerim", "Nurlanova"),
    "viewer": ("Omar", "Haidari"),
    "admin": ("Site", "Administrator"),
}
# Days from today for the demo due dates, cycled over the open demo commitments: some
# overdue (past 14 and 30 days too, for escalations), some due today or yesterday (so the
# first sweep has reminders to send at once), some falling due within a fortnight.
DUE_OFFSETS = [-40, -16, -5, -1, 0, 1, 3, 7, 12, 30, 60, 90]


class DemoRefused(Exception):
    """The database holds real data; the demo would mix made-up rows into it."""

    def __init__(self, real_commitments: int):
        self.real_commitments = real_commitments
        super().__init__(
            f"This database holds {real_commitments} commitment(s) that load_demo did not "
            "create. The demo only runs on an empty or demo database. Load real data with "
            "`manage.py import_visit PATH`; pass --force to add the demo users anyway "
            "(real commitments are left untouched)."
        )


@dataclass
class DemoResult:
    datasets: list[tuple[str, ImportResult]] = field(default_factory=list)
    users_created: list[str] = field(default_factory=list)
    # Set when users were created without a chosen password: shown once by the command.
    generated_password: str = ""
    dated: int = 0


def demo_real_commitments() -> int:
    """How many commitments were not created by the demo (real data)."""
    return Commitment.objects.filter(is_demo=False).count()


def demo_load(*, fixtures: Iterable[Path], password: str = "", force: bool = False) -> DemoResult:
    """Load the data sets as demo rows, create the demo users, date the demo rows."""
    real = demo_real_commitments()
    if real and not force:
        raise DemoRefused(real)
    result = DemoResult()
    with transaction.atomic():
        for path in fixtures:
            loaded = visit_dataset_load(path=path)
            if loaded.created:
                # Created by this run: these are the demo's own rows.
                Commitment.objects.filter(reference__in=loaded.created).update(is_demo=True)
            result.datasets.append((Path(path).name, loaded))
        users = _demo_users(password=password, result=result)
        result.dated = _demo_dates(users=users)
    return result


def _demo_users(*, password: str, result: DemoResult) -> dict:
    User = get_user_model()
    generated = "" if password else secrets.token_urlsafe(12)
    users = {}
    for username, role, email, zone, days in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            first, last = DEMO_NAMES.get(username, ("", ""))
            user = User(username=username, email=email, first_name=first, last_name=last)
            user.is_staff = role in (None, Role.MANAGER)
            user.is_superuser = role is None
            user.set_password(password or generated)
            user.save()
            if role:
                user.groups.add(Group.objects.get(name=role))
            Profile.objects.update_or_create(
                user=user, defaults={"time_zone": zone, "working_days": days}
            )
            result.users_created.append(username)
        users[username] = user
    if "officer" in result.users_created and "manager" in users:
        Profile.objects.filter(user=users["officer"]).update(line_manager=users["manager"])
    if result.users_created and generated:
        result.generated_password = generated
    return users


def _demo_dates(*, users: dict) -> int:
    """Give the open demo commitments an owner, a due date and a follow-up time."""
    today = timezone.localdate()
    now = timezone.now()
    owners = [users["officer"], users["officer"], users["officer"], users["officer2"]]
    dated = 0
    demo_rows = Commitment.objects.filter(is_demo=True).order_by("pk")
    for index, commitment in enumerate(demo_rows):
        data = {}
        if commitment.owner_id is None:
            data["owner"] = owners[index % len(owners)]
        if commitment.is_open and commitment.due_date is None:
            data["due_date"] = today + dt.timedelta(days=DUE_OFFSETS[dated % len(DUE_OFFSETS)])
            # Half of them are waiting for an update already.
            data["next_follow_up_at"] = now + dt.timedelta(days=-2 if dated % 2 else 5)
            dated += 1
        if data:
            commitment_update(
                commitment_id=commitment.pk, actor=None, channel=Channel.DEMO, data=data
            )
    return dated
