"""The visit brief as a one-page A4 PDF, made on the server with fpdf2.

Fonts are embedded (DejaVu Sans Condensed, bundled under static/fonts with its licence:
Latin, Cyrillic and Arabic in one face), and text is shaped with HarfBuzz (uharfbuzz)
so Arabic letters join and run right to left. Rows are one line each, cut to their
column with an ellipsis, so the real visit (29 commitments) fits one page.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .formats import format_day, person_name
from .selectors import VisitBrief
from .translated import COMMITMENT_TEXTS, NAME_TEXTS, shown

FONT_DIR = Path(settings.BASE_DIR) / "static" / "fonts"
REGULAR = FONT_DIR / "DejaVuSansCondensed.ttf"
BOLD = FONT_DIR / "DejaVuSansCondensed-Bold.ttf"

# Column widths in mm (A4 is 210 mm wide; 10 mm margins leave 190).
# The status column holds "In progress +40d" whole (days overdue were cut off at 17 mm).
COLUMNS = (
    ("reference", 20),
    ("title", 68),
    ("status", 23),
    ("owner", 25),
    ("due", 17),
    ("last", 19),
    ("evidence", 18),
)


def pdf_available() -> tuple[bool, str]:
    """Whether the PDF can be made here, and if not, how to enable it."""
    try:
        import fpdf  # noqa: F401
        import uharfbuzz  # noqa: F401
    except ImportError:
        return False, _(
            "The PDF needs the fpdf2 and uharfbuzz packages: run `make install` (they are "
            "in requirements.lock). The printable page works without them."
        )
    if not (REGULAR.exists() and BOLD.exists()):
        return False, _("The PDF needs the fonts in static/fonts/.")
    return True, ""


def _fit(pdf, text: str, width: float) -> str:
    text = " ".join((text or "").split())
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def render_brief_pdf(brief: VisitBrief) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_font("DejaVu", "", str(REGULAR))
    pdf.add_font("DejaVu", "B", str(BOLD))
    pdf.set_text_shaping(True)
    visit = brief.visit
    pdf.set_title(f"{visit.code}: {visit.title}")
    pdf.add_page()

    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(0, 5.5, visit.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 7.5)
    dates = format_day(visit.start_date)
    if visit.end_date:
        dates += " " + _("to") + f" {format_day(visit.end_date)}"
    pdf.cell(
        0,
        4,
        f"{visit.place} · {dates} · "
        + _("%(n)s commitments") % {"n": brief.count}
        + f" · {_('as of')} {format_day(_today())}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if brief.context_facts:
        pdf.ln(1)
        pdf.set_font("DejaVu", "B", 8)
        pdf.cell(0, 4, _("Context reported by the sources"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 6.5)
        for fact in brief.context_facts:
            line = fact.lead + (f": {fact.figure}" if fact.figure else "")
            pdf.cell(0, 3.2, "• " + _fit(pdf, line, 186), new_x="LMARGIN", new_y="NEXT")

    headers = {
        "reference": _("Reference"),
        "title": _("Commitment"),
        "status": _("Status"),
        "owner": _("Owner"),
        "due": _("Due"),
        "last": _("Last change"),
        "evidence": _("Evidence"),
    }
    pdf.ln(1.5)
    pdf.set_font("DejaVu", "B", 6.5)
    pdf.set_fill_color(230, 233, 238)
    for key, width in COLUMNS:
        pdf.cell(width, 4, headers[key], border="B", fill=True)
    pdf.ln(4)
    for group in brief.groups:
        pdf.set_font("DejaVu", "B", 7)
        party = shown(group.counterpart, "name", NAME_TEXTS)[0]
        pdf.cell(0, 3.8, _fit(pdf, party, 190), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 6.3)
        for c in group.rows:
            owner = person_name(c.owner) or "—"
            values = {
                "reference": c.reference,
                "title": shown(c, "title", COMMITMENT_TEXTS)[0],
                "status": c.get_status_display()
                + (f" +{c.days_overdue.days}d" if c.days_overdue else ""),
                "owner": owner,
                "due": format_day(c.due_date) or "—",
                "last": format_day(c.last_change_at) or "—",
                "evidence": ngettext("%(n)s item", "%(n)s items", c.evidence_count)
                % {"n": c.evidence_count}
                if c.evidence_count
                else "—",
            }
            for key, width in COLUMNS:
                pdf.cell(width, 3.4, _fit(pdf, str(values[key]), width - 1), border="B")
            pdf.ln(3.4)
    return bytes(pdf.output())


def _today():
    from .models import today_local

    return today_local()
