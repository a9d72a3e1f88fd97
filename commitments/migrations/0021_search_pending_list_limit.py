"""A small GIN pending list for the trigram indexes (issue 13), on PostgreSQL only.

GIN indexes take new entries into a pending list that every search reads in full until
it is merged into the index: by VACUUM (autovacuum), or by the write that makes it pass
`gin_pending_list_limit` (4 MB by default). Each change to a commitment adds entries to
all fifteen trigram indexes, so between merges a search read up to 60 MB of pending
entries: at a million commitments, after a few thousand status moves, a search with no
match took 82 ms instead of 34, one matching many rows 740 ms instead of 286. At 256 kB
a write merges sixteen times as often, each merge sixteen times smaller.
"""

from django.db import migrations

# The indexes of migrations 0015 and 0017, spelled out (a migration stays as written).
TRIGRAM_INDEXES = [
    f"commitment_{column}_trgm"
    for column in (
        "reference",
        "title",
        "description",
        "source_quote",
        *(
            f"translated_{base}_{lang}"
            for base in ("title", "description")
            for lang in ("en", "ru", "kk", "fa", "ps")
        ),
    )
]
LIMIT_KB = 256


def limit(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f'ALTER INDEX "{name}" SET (gin_pending_list_limit = {LIMIT_KB})')


def unlimit(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f'ALTER INDEX "{name}" RESET (gin_pending_list_limit)')


class Migration(migrations.Migration):
    dependencies = [("commitments", "0020_list_sort_and_sector_indexes")]

    operations = [migrations.RunPython(limit, unlimit)]
