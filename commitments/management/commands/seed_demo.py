"""Synthetic data for load tests: `seed_demo --commitments 100000`.

This writes in bulk, not through the per-row services, because a load test needs
100,000 rows in under a minute; it writes what the services would (a history row per
status reached, versions, change sequence numbers) so every page and endpoint sees
consistent data. Each run adds a new synthetic visit; it never touches real data.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from commitments.models import (
    TERMINAL_STATUSES,
    ChangeCounter,
    Channel,
    Commitment,
    Evidence,
    Nature,
    Organisation,
    Person,
    Profile,
    Role,
    Sector,
    Status,
    StatusChange,
    Visit,
)
from tracker import postgres

BATCH = 5000
# A realistic spread: most pledges still open, a tenth blocked, a fifth closed.
STATUS_WEIGHTS = {
    Status.PROPOSED: 25,
    Status.AGREED: 20,
    Status.IN_PROGRESS: 25,
    Status.BLOCKED: 8,
    Status.FULFILLED: 17,
    Status.CANCELLED: 5,
}
# The path of moves that leads to each status, for the history rows.
PATHS = {
    Status.PROPOSED: [Status.PROPOSED],
    Status.AGREED: [Status.PROPOSED, Status.AGREED],
    Status.IN_PROGRESS: [Status.PROPOSED, Status.AGREED, Status.IN_PROGRESS],
    Status.BLOCKED: [Status.PROPOSED, Status.AGREED, Status.BLOCKED],
    Status.FULFILLED: [Status.PROPOSED, Status.AGREED, Status.IN_PROGRESS, Status.FULFILLED],
    Status.CANCELLED: [Status.PROPOSED, Status.CANCELLED],
}
CURRENCIES = ["USD", "USD", "USD", "KZT", "AFN", "EUR"]
COUNTRIES = ["KZ", "AF", "UZ", "TM", "TJ", "PK", "CN", "TR"]
ZONES = ["Asia/Kabul", "Asia/Almaty", "Europe/Berlin", "America/New_York", "UTC"]
WORDS = (
    "railway corridor trade house chamber bank account visa transit cable fibre grain flour "
    "sugar ore survey clinic school exhibition customs warehouse logistics payment"
).split()


class Command(BaseCommand):
    help = "Add N synthetic commitments (with users, organisations and history) for load tests."

    def add_arguments(self, parser):
        parser.add_argument("--commitments", type=int, default=1000)
        parser.add_argument("--users", type=int, default=60)
        parser.add_argument("--seed", type=int, default=2025)

    def handle(self, *args, **options):
        count = options["commitments"]
        if count < 1:
            raise CommandError("--commitments must be at least 1")
        rng = random.Random(options["seed"])
        started = time.perf_counter()
        with transaction.atomic():
            run = Visit.objects.filter(code__startswith="SEED-").count() + 1
            officers, managers = self._users(options["users"], run, rng)
            orgs = self._organisations(run, rng)
            visit = self._visit(run, orgs)
            self._commitments(count, run, visit, orgs, officers, rng)
            self._analyze()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"seeded {count} commitments in visit {visit.code} "
            f"({len(officers)} officers, {len(managers)} managers) in {elapsed:.1f}s"
        )

    def _analyze(self) -> None:
        """Statistics for the tables just filled (PostgreSQL). Without them the planner
        guesses from an empty table until autovacuum comes round (never, where it is
        off): at a million rows the list pages took 170-780 ms and the overdue CSV 38 s
        instead of 65 ms and 8 s."""
        postgres.analyze(
            Commitment,
            Commitment.co_pledgers.through,
            StatusChange,
            Evidence,
            Organisation,
            Person,
            Profile,
            Visit,
            get_user_model(),
        )

    def _users(self, n: int, run: int, rng: random.Random):
        User = get_user_model()
        password = make_password(None)  # unusable: load-test users do not sign in
        roles = [Role.DESK_OFFICER] * 8 + [Role.MANAGER] + [Role.VIEWER]
        users = [
            User(
                username=f"seed{run}-user{i:03d}",
                email=f"seed{run}-user{i:03d}@example.org",
                first_name="Seed",
                last_name=f"User {i}",
                password=password,
            )
            for i in range(n)
        ]
        User.objects.bulk_create(users)
        users = list(User.objects.filter(username__startswith=f"seed{run}-").order_by("username"))
        groups = {g.name: g for g in Group.objects.filter(name__in=Role.ALL)}
        through = User.groups.through
        memberships, profiles = [], []
        officers, managers = [], []
        for i, user in enumerate(users):
            role = roles[i % len(roles)]
            memberships.append(through(user_id=user.pk, group_id=groups[role].pk))
            profiles.append(Profile(user=user, time_zone=rng.choice(ZONES)))
            (officers if role == Role.DESK_OFFICER else managers).append(user)
        through.objects.bulk_create(memberships)
        Profile.objects.bulk_create(profiles)
        return officers, managers

    def _organisations(self, run: int, rng: random.Random) -> list[Organisation]:
        kinds = list(Organisation.Kind.values)
        Organisation.objects.bulk_create(
            [
                Organisation(
                    name=f"Seed {run} organisation {i:03d}",
                    country=rng.choice(COUNTRIES),
                    kind=rng.choice(kinds),
                )
                for i in range(200)
            ]
        )
        return list(Organisation.objects.filter(name__startswith=f"Seed {run} organisation"))

    def _visit(self, run: int, orgs: list[Organisation]) -> Visit:
        lead, _ = Person.objects.get_or_create(
            name=f"Seed delegation lead {run}", defaults={"position": "Synthetic"}
        )
        today = timezone.localdate()
        return Visit.objects.create(
            code=f"SEED-{run}",
            title=f"Synthetic load-test visit {run}",
            start_date=today - dt.timedelta(days=200),
            end_date=today - dt.timedelta(days=198),
            place="Synthetic",
            host_country="AF",
            visiting_country="KZ",
            delegation_lead=lead,
        )

    def _commitments(self, count, run, visit, orgs, officers, rng) -> None:
        today = timezone.localdate()
        now = timezone.now()
        statuses = list(STATUS_WEIGHTS)
        weights = list(STATUS_WEIGHTS.values())
        sectors = list(Sector.values)
        natures = list(Nature.values)
        counter = ChangeCounter.objects.select_for_update().get(name="commitment")
        seq = counter.value
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            rows = []
            for i in range(start, start + size):
                status = rng.choices(statuses, weights)[0]
                # Due dates from 90 days ago to 180 days ahead: ~a quarter of the open
                # ones overdue, a few percent due within a fortnight; some have none.
                due = (
                    today + dt.timedelta(days=rng.randint(-90, 180)) if rng.random() < 0.9 else None
                )
                has_amount = rng.random() < 0.4
                seq += 1
                created = now - dt.timedelta(days=rng.randint(1, 200), minutes=rng.randint(0, 1440))
                rows.append(
                    Commitment(
                        reference=f"{visit.code}-{i + 1:06d}",
                        title=" ".join(rng.sample(WORDS, 4)).capitalize(),
                        description="Synthetic commitment for load tests.",
                        visit=visit,
                        sector=rng.choice(sectors),
                        pledged_by=rng.choice(orgs),
                        beneficiary=rng.choice(orgs),
                        nature=rng.choice(natures),
                        owner=rng.choice(officers),
                        status=status,
                        status_changed_at=created + dt.timedelta(days=1),
                        due_date=due,
                        next_follow_up_at=(
                            None
                            if status in TERMINAL_STATUSES
                            else now + dt.timedelta(hours=rng.randint(-24 * 20, 24 * 30))
                        ),
                        amount=(Decimal(rng.randint(1, 50_000)) * 10_000 if has_amount else None),
                        currency=rng.choice(CURRENCIES) if has_amount else "",
                        progress=100 if status == Status.FULFILLED else rng.randint(0, 90),
                        version=len(PATHS[status]),
                        change_seq=seq,
                        created_at=created,
                        updated_at=created + dt.timedelta(days=1),
                    )
                )
            Commitment.objects.bulk_create(rows)
            # bulk_create returns no ids on SQLite for old versions; read them back.
            saved = Commitment.objects.filter(
                visit=visit, reference__in=[r.reference for r in rows]
            ).values_list("pk", "status", "owner_id", "created_at")
            history, evidence = [], []
            for pk, status, owner_id, created in saved:
                path = PATHS[status]
                for version, to_status in enumerate(path, start=1):
                    history.append(
                        StatusChange(
                            commitment_id=pk,
                            from_status=path[version - 2] if version > 1 else "",
                            to_status=to_status,
                            actor_id=owner_id,
                            at=created + dt.timedelta(hours=version),
                            channel=Channel.IMPORT,
                            version=version,
                            note="Synthetic history"
                            if to_status not in TERMINAL_STATUSES
                            else "Closed (synthetic)",
                        )
                    )
                if status == Status.FULFILLED:
                    evidence.append(
                        Evidence(
                            commitment_id=pk,
                            url=f"https://example.org/evidence/{pk}",
                            title="Synthetic evidence",
                            added_by_id=owner_id,
                        )
                    )
            StatusChange.objects.bulk_create(history, batch_size=BATCH)
            Evidence.objects.bulk_create(evidence, batch_size=BATCH)
        ChangeCounter.objects.filter(pk=counter.pk).update(value=F("value") + count)
        # The seeded references use numbers 1..count: new ones continue after them.
        Visit.objects.filter(pk=visit.pk).update(last_reference_number=count)
