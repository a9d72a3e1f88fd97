"""Load or update a visit data set: `python manage.py import_visit PATH [--baseline OLD]`.

Idempotent, and never overwrites a field someone changed since the last import: such a
field is kept and listed as a conflict (see commitments.services.importer). Exit status
0 when the file was loaded (conflicts included), non-zero with the reason when the file
is refused, in which case nothing was written.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from commitments.services.importer import DatasetError, visit_dataset_load


class Command(BaseCommand):
    help = "Load or update a visit data set (JSON) without overwriting anyone's edits."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The data set, e.g. fixtures/kz_af_2025_visit.json")
        parser.add_argument(
            "--baseline",
            help=(
                "For a database loaded before import records existed: the data set it was "
                "loaded from (its values count as what the last import wrote)."
            ),
        )

    def handle(self, *args, path: str, baseline: str | None, **options):
        try:
            result = visit_dataset_load(path=path, baseline=baseline)
        except DatasetError as exc:
            raise CommandError(f"Nothing was imported: {exc}") from None
        self.stdout.write(
            f"{path}: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.unchanged)} unchanged, {len(result.conflicts)} conflicts"
        )
        for conflict in result.conflicts:
            self.stdout.write(self.style.WARNING(f"conflict: {conflict}"))
