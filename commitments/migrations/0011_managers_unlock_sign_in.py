"""Managers may unlock a locked-out sign-in: they see and delete django-axes' access
attempts in the admin (demo managers are staff; a deployment makes its managers staff to
use this). Superusers could already."""

from django.db import migrations

CODENAMES = ("view_accessattempt", "delete_accessattempt")


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally made after migrate (post_migrate); make these two now.
    content_type, _ = ContentType.objects.get_or_create(app_label="axes", model="accessattempt")
    managers, _ = Group.objects.get_or_create(name="Managers")
    for codename in CODENAMES:
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=codename,
            defaults={"name": f"Can {codename.split('_')[0]} access attempt"},
        )
        managers.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    managers = Group.objects.filter(name="Managers").first()
    if managers:
        managers.permissions.remove(
            *Permission.objects.filter(content_type__app_label="axes", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0010_append_only_history"),
        ("axes", "0010_accessattemptexpiration"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
