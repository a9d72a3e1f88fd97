"""`send_reminders [--dry-run]`: run one reminder sweep now and print what it queued.

The same sweep beat triggers every few minutes (commitments.tasks.sweep_reminders). With
--dry-run the sweep runs in a transaction that is rolled back: nothing is written and
nothing is queued, and the output says what would have been.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from commitments.models import Reminder
from commitments.services import reminders_sweep


class Command(BaseCommand):
    help = "Run one reminder sweep now and print what it queued (or would queue)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Write nothing, queue nothing; just say."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        result = reminders_sweep(dry_run=dry_run)
        verb = "would queue" if dry_run else "queued"
        made = ", ".join(f"{kind} {n}" for kind, n in sorted(result.by_kind.items())) or "none"
        self.stdout.write(f"new reminders: {made}")
        self.stdout.write(f"{verb} {len(result.queued)} reminder(s)")
        if dry_run:
            # The rows were rolled back; describe them from the plan.
            return
        for reminder in (
            Reminder.objects.filter(pk__in=result.queued[:50])
            .select_related("commitment", "recipient")
            .order_by("pk")
        ):
            ref = reminder.commitment.reference if reminder.commitment else "-"
            self.stdout.write(
                f"  #{reminder.pk} {reminder.kind} {ref} to {reminder.recipient.email}"
            )
        if len(result.queued) > 50:
            self.stdout.write(f"  ... and {len(result.queued) - 50} more")
