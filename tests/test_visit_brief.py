"""The visit brief (issue 14): /visits/<id>/brief/ and /visits/<id>/brief.pdf for the
real visit: one A4 page, every commitment's reference readable in the PDF's text, fonts
embedded for Latin, Cyrillic and Arabic."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils.html import escape

from commitments.models import Commitment, Organisation, Visit

from .conftest import VISIT_FIXTURE as FIXTURE

pytestmark = pytest.mark.django_db

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
    reason="poppler-utils is not installed: `apt-get install poppler-utils` (CI does)",
)


@pytest.fixture
def visit(db):
    call_command("import_visit", str(FIXTURE), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Visit.objects.get()


def test_brief_page_lists_every_commitment_by_counterpart(client, viewer, visit):
    client.force_login(viewer)
    response = client.get(f"/visits/{visit.pk}/brief/")
    assert response.status_code == 200
    html = response.content.decode()
    for ref in visit.commitments.values_list("reference", flat=True):
        assert ref in html
    parties = Organisation.objects.filter(pledges_made__visit=visit).distinct()
    for name in parties.values_list("name", flat=True):
        assert name in html
    assert f"/visits/{visit.pk}/brief.pdf" in html


def _pdf(client, viewer, visit, tmp_path) -> Path:
    client.force_login(viewer)
    response = client.get(f"/visits/{visit.pk}/brief.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    path = tmp_path / "brief.pdf"
    path.write_bytes(response.content)
    return path


@needs_poppler
def test_brief_pdf_is_one_a4_page_with_every_reference(client, viewer, visit, tmp_path):
    path = _pdf(client, viewer, visit, tmp_path)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout
    assert "595.28 x 841.89 pts (A4)" in info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    refs = list(visit.commitments.values_list("reference", flat=True))
    assert len(refs) == visit.commitments.count() > 20
    missing = [r for r in refs if r not in text]
    assert missing == []


@needs_poppler
def test_brief_pdf_embeds_fonts_and_shapes_cyrillic_and_arabic(client, viewer, visit, tmp_path):
    c = Commitment.objects.filter(visit=visit).order_by("reference").first()
    Commitment.objects.filter(pk=c.pk).update(title="Железная дорога — سكک آهن")
    path = _pdf(client, viewer, visit, tmp_path)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    rows = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all(" yes " in line for line in rows), fonts  # every font embedded
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "Железная дорога" in text
    # Shaped Arabic: the letters are there (pdftotext gives them in logical order).
    assert "آهن" in text or "سكک" in text


def test_brief_of_an_unknown_visit_is_a_404(client, viewer, db):
    client.force_login(viewer)
    assert client.get("/visits/999/brief/").status_code == 404
    assert client.get("/visits/999/brief.pdf").status_code == 404


@needs_poppler
@pytest.mark.parametrize("code", ["ru", "fa"])
def test_the_brief_shows_titles_and_parties_in_the_readers_language(
    client, viewer, visit, tmp_path, code
):
    from commitments.models import Profile

    Profile.objects.filter(user=viewer).update(language=code)
    railway = Commitment.objects.get(reference="KZ-AF-2025-001")
    title = getattr(railway, f"translated_title_{code}")
    party = getattr(railway.pledged_by, f"translated_name_{code}")
    assert title and party and title != railway.title
    client.force_login(viewer)
    html = client.get(f"/visits/{visit.pk}/brief/").content.decode()
    assert title in html and party in html
    # The group row shows the translation; the original is only in its marker's hover text.
    assert f">{railway.pledged_by.name}<" not in html
    text = subprocess.run(
        ["pdftotext", str(_pdf(client, viewer, visit, tmp_path)), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Each row is cut to its column, so look for the title's first words. pdftotext gives
    # Arabic script in logical order but wraps runs in bidi controls and moves digit runs,
    # so the words are looked for one by one, the controls removed.
    text = re.sub("[\u202a-\u202e]", "", text)
    words = [w for w in title.split() if not any(ch.isdigit() for ch in w)][:2]
    assert all(w in text for w in words), words
    assert party in text
    assert railway.pledged_by.name not in text


def test_context_facts_lead_into_their_figure_without_a_stray_full_stop(client, viewer, visit):
    # "... at the exhibition's opening.: 32%" on the page (the PDF dropped the stop).
    facts = list(visit.context_facts.all())
    assert any(f.figure and f.statement.endswith(".") for f in facts)
    client.force_login(viewer)
    html = client.get(f"/visits/{visit.pk}/brief/").content.decode()
    assert ".: <strong>" not in html
    for f in facts:
        if f.figure:
            assert f"{escape(f.statement.rstrip('.'))}: <strong>{escape(f.figure)}</strong>" in html
        else:
            assert f"<li>{escape(f.statement)}</li>" in html


@needs_poppler
def test_brief_pdf_keeps_the_days_overdue_of_every_late_row_and_counts_evidence(
    client, viewer, visit, tmp_path
):
    import datetime as dt

    from commitments.models import Evidence, Status, today_local

    # The longest status beside days overdue: "In progress" with three digits; it was
    # cut to "In progress +…" in a 17 mm column.
    late = Commitment.objects.get(reference="KZ-AF-2025-001")
    Commitment.objects.filter(pk=late.pk).update(
        status=Status.IN_PROGRESS, due_date=today_local() - dt.timedelta(days=123)
    )
    path = _pdf(client, viewer, visit, tmp_path)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    row = next(line for line in text.splitlines() if "KZ-AF-2025-001" in line)
    assert "In progress +123d" in row, row
    # Evidence counted in words ("1 item"), as on the page, not "1 item(s)".
    assert Evidence.objects.filter(commitment__visit=visit).exists()
    assert "item(s)" not in text
    assert re.search(r"\b1 item\b", text)
