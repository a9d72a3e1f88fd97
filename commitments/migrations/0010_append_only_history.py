"""History is append-only, in the database too.

Notes get retractions (a note that hides another from the default timeline). On
PostgreSQL a trigger refuses UPDATE and DELETE on the four history tables, so no path,
raw SQL included, rewrites history. TRUNCATE (how the test suite empties tables between
transactional tests) fires no row trigger and is not refused. A later data migration that
truly must rewrite a history row would have to disable the trigger for that statement,
on purpose and in the open.

On SQLite the triggers are not installed: the models and querysets refuse the same writes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

HISTORY_TABLES = (
    "commitments_note",
    "commitments_evidence",
    "commitments_statuschange",
    "commitments_auditevent",
)

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION tracker_refuse_history_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # No parameters: the "%" of RAISE must reach PostgreSQL as it is.
    schema_editor.execute(CREATE_FUNCTION, params=None)
    for table in HISTORY_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION tracker_refuse_history_change()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in HISTORY_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS tracker_refuse_history_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0009_heartbeat"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="note",
            name="retracts",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="retracted_by",
                to="commitments.note",
                verbose_name="retracts",
            ),
        ),
        migrations.AlterField(
            model_name="note",
            name="kind",
            field=models.CharField(
                choices=[
                    ("comment", "Note"),
                    ("snooze", "Follow-up snoozed"),
                    ("reassign", "Reassigned"),
                    ("system", "System"),
                    ("retraction", "Note retracted"),
                ],
                default="comment",
                max_length=12,
            ),
        ),
        migrations.AddConstraint(
            model_name="note",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "retraction"), ("retracts__isnull", False)),
                    models.Q(
                        models.Q(("kind", "retraction"), _negated=True), ("retracts__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="note_retraction_names_its_note",
            ),
        ),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
