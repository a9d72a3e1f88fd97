# The overdue list pages through open commitments in due-date order and counts them;
# this partial index serves both without a sort or a full scan.
# (Numbered 0005 for the browser-app branch; at merge its dependency should name the
# latest migration of the other branches.)

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0004_api"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="commitment",
            index=models.Index(
                condition=models.Q(("status__in", ["cancelled", "fulfilled"]), _negated=True),
                fields=["due_date", "reference"],
                name="commitment_open_due",
            ),
        ),
    ]
