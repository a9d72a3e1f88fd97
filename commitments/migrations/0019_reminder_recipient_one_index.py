import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# reminder_recipient_state (recipient, state) serves every lookup by recipient, so the
# foreign key's own index only costs the sweep a write per row it inserts. Only the index
# goes: AlterField would also drop and re-add the foreign key constraint, which checks
# every row of a large outbox again while holding its lock.
INDEX = "commitments_reminder_recipient_id_fc69f6fd"


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0018_sweep_mark"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="reminder",
                    name="recipient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reminders",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX IF NOT EXISTS "{INDEX}" '
                        'ON "commitments_reminder" ("recipient_id")'
                    ),
                ),
            ],
        ),
    ]
