"""Compile locale/<code>/LC_MESSAGES/*.po into .mo in pure Python (issue 15).

Django's compilemessages needs GNU gettext's msgfmt, which a fresh machine with only
python3 and make lacks; polib (in the runtime lock) writes the same .mo files. Fuzzy
entries are left out, as msgfmt does. `make run` and `make test` run this first.
"""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


def compile_catalogue(po_path: Path) -> Path:
    po = polib.pofile(str(po_path))
    for entry in po.fuzzy_entries():
        entry.msgstr = ""
        entry.msgstr_plural = dict.fromkeys(entry.msgstr_plural, "")
    mo_path = po_path.with_suffix(".mo")
    po.save_as_mofile(str(mo_path))
    return mo_path


class Command(BaseCommand):
    help = "Compile the gettext catalogues in LOCALE_PATHS (no msgfmt needed)."

    def handle(self, *args, **options):
        count = 0
        for root in settings.LOCALE_PATHS:
            for po_path in sorted(Path(root).glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                compile_catalogue(po_path)
                count += 1
        if options["verbosity"]:
            self.stdout.write(f"{count} catalogue(s) compiled.")
