"""A per-visit reference counter (issue 13): new references take the next number under
the visit's row lock instead of scanning the visit's references for the highest."""

import re

from django.db import migrations, models


def backfill(apps, schema_editor):
    # The highest number among each visit's <code>-N references, whatever their width
    # (seed_demo writes six digits, the services three): the counter starts past all of them.
    Visit = apps.get_model("commitments", "Visit")
    Commitment = apps.get_model("commitments", "Commitment")
    for visit in Visit.objects.all().iterator():
        pattern = re.compile(rf"{re.escape(visit.code)}-([0-9]+)")
        highest = 0
        references = Commitment.objects.filter(
            visit_id=visit.pk, reference__startswith=f"{visit.code}-"
        ).values_list("reference", flat=True)
        for reference in references.iterator(chunk_size=10_000):
            match = pattern.fullmatch(reference)
            if match:
                highest = max(highest, int(match.group(1)))
        if highest:
            Visit.objects.filter(pk=visit.pk).update(last_reference_number=highest)


class Migration(migrations.Migration):
    dependencies = [("commitments", "0013_integrations")]

    operations = [
        migrations.AddField(
            model_name="visit",
            name="last_reference_number",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
