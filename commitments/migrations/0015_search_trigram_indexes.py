"""Trigram indexes for the free-text search (issue 13), on PostgreSQL only.

The search (commitments/search.py) compares LOWER(column) LIKE '%term%' (Unicode lower
case), so each index is on that expression with gin_trgm_ops: the planner answers the
search's OR of LIKEs with a bitmap OR of these indexes instead of reading every row.
Organisation, person and user names are matched in Python (small tables). SQLite keeps
its plain scan (no extension, nothing to create)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "commitment_reference_trgm": ("commitments_commitment", "reference"),
    "commitment_title_trgm": ("commitments_commitment", "title"),
    "commitment_description_trgm": ("commitments_commitment", "description"),
    "commitment_source_quote_trgm": ("commitments_commitment", "source_quote"),
}


class TrigramExtensionOnPostgres(TrigramExtension):
    """TrigramExtension skips other databases going forwards but not backwards (it asks
    pg_extension): unapplying on SQLite must be a no-op too."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((LOWER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("commitments", "0014_visit_reference_counter")]

    operations = [
        TrigramExtensionOnPostgres(),
        migrations.RunPython(create, drop),
    ]
