"""Fill a catalogue from a numbered translation list (one "N<TAB>text" line per entry, in
the catalogue's order; plural forms separated by " ||| "; "\\n" for a line break).

Used once per language when the catalogues were first written (issue 15); later changes go
into the .po files directly. Refuses a translation whose placeholders differ from the
msgid's, so a shifted line cannot slip in.

    python scripts/fill_catalogue.py LANG LIST
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import polib

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
PLURAL_FORMS = {
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);",
    "kk": "nplurals=2; plural=(n!=1);",
    "fa": "nplurals=2; plural=(n > 1);",
    "ps": "nplurals=2; plural=(n != 1);",
}


def main(lang: str, listing: str) -> int:
    path = Path(__file__).resolve().parent.parent / "locale" / lang / "LC_MESSAGES" / "django.po"
    po = polib.pofile(str(path))
    po.metadata["Language"] = lang
    po.metadata["Plural-Forms"] = PLURAL_FORMS[lang]
    po.metadata["Project-Id-Version"] = "commitment tracker"
    if "fuzzy" in po.metadata_is_fuzzy:
        po.metadata_is_fuzzy = []
    lines = {}
    for raw in Path(listing).read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        number, _, text = raw.partition("\t")
        lines[int(number)] = text.replace("\\n", "\n")
    errors = 0
    for i, entry in enumerate(po):
        if i not in lines:
            continue
        forms = [f.strip() for f in lines[i].split("|||")]
        want = sorted(PLACEHOLDER.findall(entry.msgid))
        for form in forms:
            got = sorted(PLACEHOLDER.findall(form))
            # A plural form may leave the number out ("one day" in words).
            if got != want and not (entry.msgid_plural and set(got) <= set(want)):
                print(f"{lang} {i}: placeholders {got} != {want}: {entry.msgid!r}")
                errors += 1
        if entry.msgid_plural:
            n = int(PLURAL_FORMS[lang].split("nplurals=")[1].split(";")[0])
            if len(forms) == 1:
                forms = forms * n
            entry.msgstr_plural = {k: forms[min(k, len(forms) - 1)] for k in range(n)}
        else:
            entry.msgstr = forms[0]
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    po.save(str(path))
    missing = [e.msgid for e in po.untranslated_entries()]
    print(f"{lang}: {len(po)} entries, {len(missing)} untranslated, {errors} placeholder errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
