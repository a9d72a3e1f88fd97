"""Spreadsheet import and export: preview first, idempotent by external_id, refusals,
typed export, export → import round trip, and the browser pages."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import translation
from openpyxl import Workbook, load_workbook

from commitments.models import AuditEvent, Channel, Commitment, SpreadsheetImport, StatusChange
from commitments.services.spreadsheets import (
    COLUMNS,
    SpreadsheetRefused,
    spreadsheet_export,
    spreadsheet_import_apply,
    spreadsheet_preview,
    summarize,
)

from .conftest import VISIT_FIXTURE
from .factories import CommitmentFactory, OrganisationFactory, VisitFactory

pytestmark = pytest.mark.django_db
HEADER = [
    "external_id",
    "title",
    "visit",
    "sector",
    "nature",
    "pledged_by",
    "due_date",
    "amount",
    "currency",
]


def xlsx(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def visit():
    return VisitFactory(code="KZ-AF-2025")


@pytest.fixture
def org():
    return OrganisationFactory(name="Ministry of Trade")


def good_rows(n, visit, org):
    return [
        [
            f"EXT-{i}",
            f"Pledge {i}",
            visit.code,
            "trade",
            "intention",
            org.name,
            dt.datetime(2026, 3, 1) + dt.timedelta(days=i % 30),
            1000 + i,
            "USD",
        ]
        for i in range(n)
    ]


def test_1000_rows_preview_then_import_under_10_s_and_a_second_import_changes_nothing(
    manager, visit, org
):
    content = xlsx(good_rows(1000, visit, org))
    started = time.monotonic()
    upload, preview = spreadsheet_preview(user=manager, filename="pledges.xlsx", content=content)
    assert summarize(preview) == {"create": 1000, "update": 0, "unchanged": 0, "error": 0}
    assert Commitment.objects.count() == 0, "the preview wrote something"
    results = spreadsheet_import_apply(user=manager, import_id=upload.pk)
    elapsed = time.monotonic() - started
    print(f"\n1,000-row XLSX: preview + import in {elapsed:.2f} s")
    assert elapsed < 10
    assert summarize(results)["create"] == 1000
    assert Commitment.objects.count() == 1000
    # Through the services: history rows and audit rows on the import channel.
    assert StatusChange.objects.filter(channel=Channel.IMPORT).count() == 1000
    c = Commitment.objects.get(external_id="EXT-7")
    assert c.due_date == dt.date(2026, 3, 8) and c.amount == Decimal("1007.00")
    versions = dict(Commitment.objects.values_list("pk", "version"))
    audit = AuditEvent.objects.count()

    again, preview = spreadsheet_preview(user=manager, filename="pledges.xlsx", content=content)
    assert summarize(preview) == {"create": 0, "update": 0, "unchanged": 1000, "error": 0}
    assert (
        summarize(spreadsheet_import_apply(user=manager, import_id=again.pk))["unchanged"] == 1000
    )
    assert dict(Commitment.objects.values_list("pk", "version")) == versions
    assert AuditEvent.objects.count() == audit


def test_10_bad_rows_show_10_row_errors_and_nothing_is_written_until_confirmed(manager, visit, org):
    rows = good_rows(20, visit, org)
    rows[0][1] = ""  # no title
    rows[1][2] = "NO-SUCH-VISIT"
    rows[2][3] = "fishing"  # unknown sector
    rows[3][5] = "Nobody Ltd"
    rows[4][6] = "next spring"
    rows[5][7] = "a lot"
    rows[6][0] = ""  # no external id
    rows[7][0] = rows[8][0]  # the same external id twice (the later row is refused)
    rows[9][7] = -5  # a negative amount
    rows[10][1] = '=HYPERLINK("http://evil")'  # a formula
    upload, preview = spreadsheet_preview(user=manager, filename="bad.xlsx", content=xlsx(rows))
    errors = {r.row: r.errors for r in preview if r.errors}
    assert len(errors) == 10, errors
    assert "title" in errors[2]
    assert "visit" in errors[3] and "NO-SUCH-VISIT" in errors[3]["visit"][0]
    assert "sector" in errors[4]
    assert "pledged_by" in errors[5]
    assert "due_date" in errors[6] and "date" in errors[6]["due_date"][0]
    assert "amount" in errors[7]
    assert "external_id" in errors[8]
    assert "external_id" in errors[10]
    assert "amount" in errors[11]
    assert "formula" in errors[12]["title"][0]
    assert Commitment.objects.count() == 0
    results = spreadsheet_import_apply(user=manager, import_id=upload.pk)
    assert summarize(results) == {"create": 10, "update": 0, "unchanged": 0, "error": 10}
    assert Commitment.objects.count() == 10
    # A second confirmation of the same upload does nothing.
    with pytest.raises(Exception, match="already confirmed"):
        spreadsheet_import_apply(user=manager, import_id=upload.pk)
    assert Commitment.objects.count() == 10


def test_update_by_external_id_changes_only_what_differs(manager, visit, org):
    c = CommitmentFactory(external_id="EXT-1", visit=visit, pledged_by=org, title="Old title")
    content = xlsx(
        [["EXT-1", "New title", visit.code, "trade", "intention", org.name, None, None, ""]]
    )
    upload, preview = spreadsheet_preview(user=manager, filename="u.xlsx", content=content)
    assert [r.action for r in preview] == ["update"]
    spreadsheet_import_apply(user=manager, import_id=upload.pk)
    c.refresh_from_db()
    assert c.title == "New title" and c.version == 2


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("big.xlsx", b"x" * (5 * 1024 * 1024 + 1), "larger than"),
        ("macros.xlsm", b"PK", "macros"),
        ("notes.txt", b"hello", ".xlsx or .csv"),
        ("fake.xlsx", b"not a zip", "not an XLSX"),
    ],
)
def test_refused_files_write_nothing(manager, filename, content, message):
    with pytest.raises(SpreadsheetRefused, match=message):
        spreadsheet_preview(user=manager, filename=filename, content=content)
    assert not SpreadsheetImport.objects.exists()


def test_a_workbook_with_a_vba_project_is_refused_whatever_its_name(manager):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/vbaProject.bin", b"\x00" * 10)
    with pytest.raises(SpreadsheetRefused, match="macros"):
        spreadsheet_preview(user=manager, filename="innocent.xlsx", content=out.getvalue())


def test_unknown_columns_are_refused_with_their_names(manager):
    with pytest.raises(SpreadsheetRefused, match="Colour"):
        spreadsheet_preview(user=manager, filename="x.xlsx", content=xlsx([], [*HEADER, "Colour"]))


def test_only_managers_import(officer):
    with pytest.raises(PermissionDenied):
        spreadsheet_preview(user=officer, filename="x.xlsx", content=xlsx([]))


def test_csv_imports_like_xlsx(manager, visit, org):
    content = (
        "external_id,title,visit,sector,nature,pledged_by,due_date,amount,currency\n"
        f"CSV-1,Grain corridor,{visit.code},trade,agreement,{org.name},2026-05-01,12.50,USD\n"
    ).encode()
    upload, preview = spreadsheet_preview(user=manager, filename="x.csv", content=content)
    assert [r.action for r in preview] == ["create"]
    spreadsheet_import_apply(user=manager, import_id=upload.pk)
    assert Commitment.objects.get(external_id="CSV-1").amount == Decimal("12.50")


def test_export_has_typed_cells_and_imports_back_unchanged(manager, visit, org, officer):
    CommitmentFactory(
        external_id="RT-1",
        visit=visit,
        pledged_by=org,
        beneficiary=OrganisationFactory(name="Afghan Railways"),
        owner=officer,
        title="=1+1 is not a formula",
        due_date=dt.date(2026, 1, 31),
        amount=Decimal("2500000.50"),
        currency="USD",
    )
    CommitmentFactory(external_id="RT-2", visit=visit, pledged_by=org)
    content = spreadsheet_export(Commitment.objects.all())
    sheet = load_workbook(io.BytesIO(content)).active
    header = [c.value for c in sheet[1]]
    assert header == [str(c.label) for c in COLUMNS]
    row = dict(zip(header, sheet[2], strict=True))
    assert isinstance(row["Due date"].value, dt.datetime) and row["Due date"].is_date
    assert row["Amount"].value == pytest.approx(2500000.5) and row["Amount"].data_type == "n"
    assert row["Title"].data_type == "s" and row["Title"].value == "=1+1 is not a formula"
    before = dict(Commitment.objects.values_list("pk", "version"))

    upload, preview = spreadsheet_preview(user=manager, filename="back.xlsx", content=content)
    assert summarize(preview) == {"create": 0, "update": 0, "unchanged": 2, "error": 0}, [
        r.errors for r in preview
    ]
    spreadsheet_import_apply(user=manager, import_id=upload.pk)
    assert dict(Commitment.objects.values_list("pk", "version")) == before


def test_the_visit_data_set_exported_imports_back_unchanged_matched_by_reference(manager):
    # The real data set has references but no external ids: an exported list of it must
    # import back (it failed before: every row "give each row an external id").
    call_command("import_visit", str(VISIT_FIXTURE), stdout=io.StringIO())
    assert not Commitment.objects.exclude(external_id="").exists()
    before = dict(Commitment.objects.values_list("pk", "version"))
    audit = AuditEvent.objects.count()
    content = spreadsheet_export(Commitment.objects.all())
    upload, preview = spreadsheet_preview(user=manager, filename="list.xlsx", content=content)
    assert summarize(preview) == {"create": 0, "update": 0, "unchanged": 27, "error": 0}, [
        r.errors for r in preview if r.errors
    ]
    spreadsheet_import_apply(user=manager, import_id=upload.pk)
    assert dict(Commitment.objects.values_list("pk", "version")) == before
    assert AuditEvent.objects.count() == audit


def test_a_row_without_external_id_updates_the_commitment_its_reference_names(manager, visit, org):
    named = CommitmentFactory(visit=visit, pledged_by=org, external_id="", title="Old title")
    kept = CommitmentFactory(visit=visit, pledged_by=org, external_id="KEEP-1", title="Kept")
    header = ["external_id", "reference", *HEADER[1:]]
    rows = [
        ["", named.reference, "New title", visit.code, "trade", "intention", org.name],
        ["", kept.reference, "Kept, renamed", visit.code, "trade", "intention", org.name],
        ["", "NO-SUCH-REF", "Lost", visit.code, "trade", "intention", org.name],
        ["", named.reference, "Twice", visit.code, "trade", "intention", org.name],
        ["", "", "Nothing to match", visit.code, "trade", "intention", org.name],
    ]
    rows = [[*row, None, None, None] for row in rows]  # due date, amount, currency
    content = xlsx(rows, header)
    upload, preview = spreadsheet_preview(user=manager, filename="r.xlsx", content=content)
    by_row = {r.row: r for r in preview}
    assert by_row[2].action == "update" and by_row[2].commitment_id == named.pk
    assert by_row[2].reference == named.reference  # shown in the preview
    assert by_row[3].action == "update" and by_row[3].commitment_id == kept.pk
    assert "NO-SUCH-REF" in by_row[4].errors["reference"][0]
    assert "earlier row" in by_row[5].errors["reference"][0]
    assert "external_id" in by_row[6].errors
    assert Commitment.objects.get(pk=named.pk).title == "Old title", "the preview wrote"
    count, moves = Commitment.objects.count(), StatusChange.objects.count()
    spreadsheet_import_apply(user=manager, import_id=upload.pk)
    assert Commitment.objects.count() == count  # nothing created from a reference
    assert StatusChange.objects.count() == moves  # and no status moved
    named.refresh_from_db()
    kept.refresh_from_db()
    assert named.title == "New title" and named.external_id == ""
    # Matched by reference, the row's empty external id does not clear the commitment's.
    assert kept.title == "Kept, renamed" and kept.external_id == "KEEP-1"


def test_a_sheet_exported_in_russian_imports_for_an_english_reader(manager, visit, org):
    CommitmentFactory(external_id="RU-1", visit=visit, pledged_by=org)
    with translation.override("ru"):
        content = spreadsheet_export(Commitment.objects.all())
    header = [c.value for c in load_workbook(io.BytesIO(content)).active[1]]
    assert "Номер" in header and "Reference" not in header
    before = dict(Commitment.objects.values_list("pk", "version"))
    with translation.override("en"):
        _upload, preview = spreadsheet_preview(user=manager, filename="ru.xlsx", content=content)
    assert summarize(preview) == {"create": 0, "update": 0, "unchanged": 1, "error": 0}
    assert dict(Commitment.objects.values_list("pk", "version")) == before


# --- Pages ----------------------------------------------------------------------------------


def test_import_page_previews_with_errors_by_cell_then_confirms(client, manager, visit, org):
    from django.core.files.uploadedfile import SimpleUploadedFile

    rows = good_rows(3, visit, org)
    rows[1][6] = "soon"
    client.force_login(manager)
    assert client.get("/commitments/import/").status_code == 200
    upload = SimpleUploadedFile("p.xlsx", xlsx(rows), content_type="application/octet-stream")
    preview = client.post("/commitments/import/", {"file": upload})
    assert preview.status_code == 200
    assert "2 to create, 0 to update, 0 unchanged, 1 with errors" in preview.text
    assert "Due date</strong>: “soon” is not a date" in preview.text
    assert Commitment.objects.count() == 0
    confirm = client.post("/commitments/import/", {"confirm": SpreadsheetImport.objects.get().pk})
    assert confirm.status_code == 302
    assert Commitment.objects.count() == 2


def test_import_page_refuses_a_macro_workbook_and_officers(client, manager, officer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(manager)
    refused = client.post(
        "/commitments/import/", {"file": SimpleUploadedFile("m.xlsm", b"PK\x03\x04")}
    )
    assert refused.status_code == 400 and "macros" in refused.text
    client.force_login(officer)
    assert client.get("/commitments/import/").status_code == 403
    assert not SpreadsheetImport.objects.exists()


@pytest.mark.parametrize("path", ["/commitments/", "/commitments/overdue/"])
def test_any_list_exports_its_current_filter_as_xlsx(client, officer, path, visit, org):
    late = dt.date(2025, 1, 1)
    CommitmentFactory(visit=visit, pledged_by=org, due_date=late, status="agreed", title="A")
    CommitmentFactory(visit=visit, pledged_by=org, due_date=late, status="proposed", title="B")
    client.force_login(officer)
    response = client.get(f"{path}?status=agreed&format=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    titles = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert titles == ["A"]
