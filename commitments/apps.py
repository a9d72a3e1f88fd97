from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommitmentsConfig(AppConfig):
    name = "commitments"
    verbose_name = _("Commitments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The `ulower` lookup and SQLite's Unicode lower-case function (free-text search).
        # Django's table of languages lacks Pashto; modeltranslation's admin asks it
        # whether each translation column is written right to left.
        from django.conf.locale import LANG_INFO

        from tracker import postgres  # noqa: F401 (timestamps by psycopg's C loader)

        from . import search  # noqa: F401

        LANG_INFO.setdefault(
            "ps", {"bidi": True, "code": "ps", "name": "Pashto", "name_local": "پښتو"}
        )
