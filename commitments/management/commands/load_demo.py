"""Load the visit data set as demo data, with demo users and made-up dates.

For `make run` and trying the tracker out. It refuses a database that holds real data
(commitments it did not create) unless --force, never changes an existing user, and
only dates the commitments it created itself (services.demo). Real data is loaded with
`manage.py import_visit PATH`.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from commitments.services.demo import DemoRefused, demo_load

FIXTURES = Path(settings.BASE_DIR) / "fixtures"


class Command(BaseCommand):
    help = (
        "Load the Kabul visit data set as demo data, with demo users (officer, officer2, "
        "manager, viewer, admin) and made-up due dates. Refuses a database holding real data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though the database holds real data; real commitments are "
            "left untouched and existing users are not changed.",
        )

    def handle(self, *args, force: bool = False, **options):
        try:
            result = demo_load(
                fixtures=sorted(FIXTURES.glob("*.json")),
                password=os.environ.get("DEMO_PASSWORD", ""),
                force=force,
            )
        except DemoRefused as refused:
            raise CommandError(str(refused)) from refused
        for name, loaded in result.datasets:
            self.stdout.write(
                f"{name}: {len(loaded.created)} created, {len(loaded.updated)} updated, "
                f"{len(loaded.unchanged)} unchanged"
            )
        self.stdout.write(f"{result.dated} demo commitment(s) given made-up due dates.")
        if result.users_created:
            names = ", ".join(result.users_created)
            if result.generated_password:
                self.stdout.write(
                    self.style.WARNING(
                        f"Demo users {names}; password: {result.generated_password} "
                        "(shown once; set DEMO_PASSWORD to choose it)"
                    )
                )
            else:
                self.stdout.write(f"Demo users {names} created with DEMO_PASSWORD.")
