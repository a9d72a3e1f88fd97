"""Spreadsheet export (XLSX) and import (XLSX or CSV) of commitments.

Import is two steps: `spreadsheet_preview` reads the file, refuses what it must (macros,
oversized files, unknown columns), and runs the rows through the bulk commitment
services inside a transaction that is rolled back: the preview's errors are the
services' own, not a second copy of the rules. `spreadsheet_import_apply` runs the same
rows again for real (channel `import`). Rows are matched by `external_id`, so importing
the same file twice changes nothing the second time; a row with no external id is matched
by its `reference` (an exported commitment that has none, like the visit data's), so an
exported list always imports back.

Export writes the columns the importer reads, with typed cells (dates as dates, amounts
as numbers) and every text cell stored as text (a title starting with "=" is not a
formula in the exported file).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..exceptions import VersionConflict
from ..models import Channel, Commitment, Organisation, SpreadsheetImport, Status, Visit
from .commitments import (
    CommitmentChange,
    NewCommitment,
    commitments_create_many,
    commitments_update_many,
)


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # lazy translation: the header in the user's language
    kind: str = "text"  # text, date, number, integer
    required: bool = False


COLUMNS = (
    Column("external_id", gettext_lazy("External id"), required=True),
    # Exported; read only to match a row that has no external id (never written).
    Column("reference", gettext_lazy("Reference")),
    Column("title", gettext_lazy("Title"), required=True),
    Column("description", gettext_lazy("Description")),
    Column("visit", gettext_lazy("Visit"), required=True),
    Column("sector", gettext_lazy("Sector"), required=True),
    Column("nature", gettext_lazy("Nature"), required=True),
    Column("status", gettext_lazy("Status")),
    Column("owner", gettext_lazy("Owner")),
    Column("pledged_by", gettext_lazy("Pledged by"), required=True),
    Column("beneficiary", gettext_lazy("Beneficiary")),
    Column("due_date", gettext_lazy("Due date"), "date"),
    Column("amount", gettext_lazy("Amount"), "number"),
    Column("currency", gettext_lazy("Currency")),
    Column("progress", gettext_lazy("Progress (%)"), "integer"),
    Column("follow_up_every_days", gettext_lazy("Follow up every (days)"), "integer"),
)
BY_KEY = {c.key: c for c in COLUMNS}
READ_ONLY = {"reference"}
MACRO_EXTENSIONS = (".xlsm", ".xltm", ".xlsb", ".xla", ".xlam")


class SpreadsheetRefused(ValidationError):
    """The whole file is refused (nothing is read from it)."""


# --- Export -------------------------------------------------------------------------------


def _export_values(c: Commitment) -> list:
    return [
        c.external_id,
        c.reference,
        c.title,
        c.description,
        c.visit.code if c.visit_id else "",
        c.sector,
        c.nature,
        c.status,
        c.owner.get_username() if c.owner_id else "",
        c.pledged_by.name if c.pledged_by_id else "",
        c.beneficiary.name if c.beneficiary_id else "",
        c.due_date,
        c.amount,
        c.currency,
        c.progress,
        c.follow_up_every_days,
    ]


def spreadsheet_export(queryset) -> bytes:
    """An XLSX of the commitments in `queryset` (any list's current filter)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Commitments"))
    bold = Font(bold=True)
    header = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=str(column.label))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    rows = queryset.select_related("visit", "owner", "pledged_by", "beneficiary").order_by("pk")
    for c in rows.iterator(chunk_size=1000):
        cells = []
        for column, value in zip(COLUMNS, _export_values(c), strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if column.kind == "date" and value is not None:
                cell.number_format = "yyyy-mm-dd"
            elif column.kind == "number" and value is not None:
                cell.number_format = "#,##0.00"
            elif isinstance(value, str):
                cell.data_type = "s"  # text stays text, even "=…"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- Reading a file -----------------------------------------------------------------------


def _refuse(message: str) -> SpreadsheetRefused:
    return SpreadsheetRefused({"file": [message]})


def _check_xlsx(content: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise _refuse(_("This is not an XLSX file. Save the sheet as .xlsx or .csv.")) from None
    names = archive.namelist()
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise _refuse(_("The workbook contains macros. Save it as a plain .xlsx without them."))
    if "[Content_Types].xml" in names and b"macroEnabled" in archive.read("[Content_Types].xml"):
        raise _refuse(_("The workbook contains macros. Save it as a plain .xlsx without them."))
    # A small file that unpacks to gigabytes (a zip bomb) is refused before it is read.
    if sum(info.file_size for info in archive.infolist()) > 40 * settings.IMPORT_MAX_BYTES:
        raise _refuse(_("The workbook is too large once unpacked."))


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _read_xlsx(content: bytes) -> list[list[tuple[str, bool]]]:
    from openpyxl import load_workbook

    _check_xlsx(content)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception:
        raise _refuse(_("This workbook cannot be read. Save it again as .xlsx.")) from None
    sheet = book.worksheets[0]
    rows = []
    for row in sheet.iter_rows():
        # (text, is_formula) per cell
        rows.append([(_cell_text(c.value), getattr(c, "data_type", "") == "f") for c in row])
        if len(rows) > settings.IMPORT_MAX_ROWS + 1:
            break
    book.close()
    return rows


def _read_csv(content: bytes) -> list[list[tuple[str, bool]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(_("Save the CSV file as UTF-8.")) from None
    rows = []
    for row in csv.reader(io.StringIO(text)):
        rows.append([(v.strip(), v.strip().startswith("=")) for v in row])
        if len(rows) > settings.IMPORT_MAX_ROWS + 1:
            break
    return rows


def _column_names() -> dict[str, str]:
    """Header text -> column key: the keys, and the labels in the reader's language and in
    every other interface language (a sheet exported by a Russian reader imports for an
    English one)."""
    names = {column.key.lower(): column.key for column in COLUMNS}
    for column in COLUMNS:
        names.setdefault(str(column.label).lower(), column.key)
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for column in COLUMNS:
                names.setdefault(str(column.label).lower(), column.key)
    return names


def _header_map(header: list[str]) -> dict[int, str]:
    names = _column_names()
    mapping, unknown = {}, []
    for index, title in enumerate(header):
        if not title:
            continue
        key = names.get(title.strip().lower())
        if key is None:
            unknown.append(title)
        else:
            mapping[index] = key
    if unknown:
        raise _refuse(
            _("Unknown column(s): %(names)s. Use the header row of an exported sheet.")
            % {"names": ", ".join(unknown)}
        )
    missing = [str(c.label) for c in COLUMNS if c.required and c.key not in mapping.values()]
    if missing:
        raise _refuse(_("Missing column(s): %(names)s.") % {"names": ", ".join(missing)})
    return mapping


def spreadsheet_read(*, filename: str, content: bytes) -> list[dict]:
    """The file's data rows as {"row": sheet row number, "values": {key: text},
    "formulas": [keys]}; raises SpreadsheetRefused for a file that is not read at all."""
    name = (filename or "").lower()
    if len(content) > settings.IMPORT_MAX_BYTES:
        raise _refuse(
            _("The file is larger than %(n)s MB.") % {"n": settings.IMPORT_MAX_BYTES // 2**20}
        )
    if name.endswith(MACRO_EXTENSIONS):
        raise _refuse(_("Workbooks with macros are not accepted. Save it as .xlsx."))
    if name.endswith(".xlsx"):
        rows = _read_xlsx(content)
    elif name.endswith(".csv"):
        rows = _read_csv(content)
    else:
        raise _refuse(_("Upload an .xlsx or .csv file."))
    if not rows:
        raise _refuse(_("The sheet is empty."))
    if len(rows) > settings.IMPORT_MAX_ROWS + 1:
        raise _refuse(
            _("The sheet has more than %(n)s rows; split it.") % {"n": settings.IMPORT_MAX_ROWS}
        )
    mapping = _header_map([text for text, _formula in rows[0]])
    out = []
    for number, row in enumerate(rows[1:], start=2):
        values, formulas = {}, []
        for index, (text, formula) in enumerate(row):
            if index in mapping:
                values[mapping[index]] = text
                if formula:
                    formulas.append(mapping[index])
        if any(values.values()):
            out.append({"row": number, "values": values, "formulas": formulas})
    return out


# --- Turning rows into service calls --------------------------------------------------------


@dataclass
class RowResult:
    row: int
    external_id: str
    action: str  # create, update, unchanged, error
    errors: dict[str, list[str]]
    commitment_id: int | None = None
    reference: str = ""  # what matched the row when it has no external id


def _convert(values: dict, lookups: dict) -> tuple[dict, str | None, dict]:
    """Sheet text -> service data. Returns (data, status, errors by column)."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, text in values.items():
        if key in READ_ONLY or key == "status":
            continue
        kind = BY_KEY[key].kind
        try:
            if key == "visit":
                data[key] = lookups["visit"][text]
            elif key in ("pledged_by", "beneficiary"):
                if not text and key == "beneficiary":
                    data[key] = None
                else:
                    data[key] = lookups["org"][text]
            elif key == "owner":
                data[key] = lookups["user"][text] if text else None
            elif not text:
                data[key] = None if kind != "text" else ""
            elif kind == "date":
                data[key] = dt.date.fromisoformat(text[:10])
            elif kind == "number":
                data[key] = Decimal(text.replace(",", ""))
            elif kind == "integer":
                data[key] = int(Decimal(text))
            else:
                data[key] = text
        except KeyError:
            errors[key] = [_("“%(v)s” is not known here.") % {"v": text}]
        except (ValueError, InvalidOperation):
            expected = {"date": _("a date (YYYY-MM-DD)"), "number": _("a number")}.get(
                kind, _("a whole number")
            )
            errors[key] = [_("“%(v)s” is not %(what)s.") % {"v": text, "what": expected}]
    if data.get("progress") is None and "progress" in data:
        data.pop("progress")  # the model's default (0), not NULL
    status = values.get("status") or None
    if status and status not in Status.values:
        errors["status"] = [_("“%(v)s” is not a status.") % {"v": status}]
    return data, status, errors


def _lookups(rows: list[dict]) -> dict:
    def wanted(*keys):
        return {r["values"].get(k) for r in rows for k in keys} - {None, ""}

    return {
        "visit": {v.code: v for v in Visit.objects.filter(code__in=wanted("visit"))},
        "org": {
            o.name: o
            for o in Organisation.objects.filter(name__in=wanted("pledged_by", "beneficiary"))
        },
        "user": {
            u.get_username(): u
            for u in get_user_model().objects.filter(username__in=wanted("owner"), is_active=True)
        },
    }


def _messages(exc: Exception) -> dict[str, list[str]]:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return {("row" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
    if isinstance(exc, ValidationError):
        return {"row": exc.messages}
    if isinstance(exc, (PermissionDenied, VersionConflict)):
        return {"row": [str(exc) or _("You may not change this commitment.")]}
    return {"row": [str(exc)]}


def _run(*, user, rows: list[dict]) -> list[RowResult]:
    """Apply the rows through the bulk services (caller decides commit or rollback)."""
    lookups = _lookups(rows)
    ids = [r["values"].get("external_id", "") for r in rows]
    existing = {
        c.external_id: c
        for c in Commitment.objects.with_external_ids(ids).only("pk", "external_id", "status")
    }
    # A row without an external id names an existing commitment by its reference.
    references = {
        r["values"].get("reference", "") for r in rows if not r["values"].get("external_id")
    } - {""}
    by_reference = {
        c.reference: c
        for c in Commitment.objects.filter(reference__in=references).only(
            "pk", "reference", "status"
        )
    }
    results: list[RowResult] = []
    creates: list[tuple[RowResult, NewCommitment]] = []
    updates: list[tuple[RowResult, CommitmentChange]] = []
    seen: set[str] = set()
    for row in rows:
        external_id = row["values"].get("external_id", "")
        result = RowResult(row=row["row"], external_id=external_id, action="error", errors={})
        results.append(result)
        data, status, errors = _convert(row["values"], lookups)
        for key in row["formulas"]:
            errors[key] = [_("This cell holds a formula; type the value instead.")]
        reference = row["values"].get("reference", "")
        result.reference = "" if external_id else reference
        current = existing.get(external_id)
        if external_id:
            if external_id in seen:
                errors["external_id"] = [_("This external id is on an earlier row too.")]
            seen.add(external_id)
        elif not reference:
            errors["external_id"] = [
                _("Give each row an external id, so a second import updates it.")
            ]
        elif reference not in by_reference:
            errors["reference"] = [
                _("No commitment has the reference “%(v)s”; give the row an external id.")
                % {"v": reference}
            ]
        elif f"reference:{reference}" in seen:
            errors["reference"] = [_("This reference is on an earlier row too.")]
        else:
            seen.add(f"reference:{reference}")
            current = by_reference[reference]
            data.pop("external_id", None)  # matched by reference: its external id stays
        if current is not None and status and status != current.status:
            errors["status"] = [
                _(
                    "The status is %(s)s; change it on the commitment's page "
                    "(a move needs a note or evidence)."
                )
                % {"s": current.status}
            ]
        if errors:
            result.errors = errors
            continue
        if current is None:
            creates.append((result, NewCommitment(data=data, status=status or Status.PROPOSED)))
        else:
            updates.append((result, CommitmentChange(commitment_id=current.pk, data=data)))
    for result, created in _written(user, commitments_create_many, creates):
        result.action, result.commitment_id = "create", created.pk
    for result, (commitment, changed) in _written(user, commitments_update_many, updates):
        result.action = "update" if changed else "unchanged"
        result.commitment_id = commitment.pk
    return results


def _written(user, write, batch: list):
    """Run one bulk write (create or update) over the rows that passed their checks: a
    row the write refused gets its errors; yields (result, outcome) for each row written."""
    if not batch:
        return
    outcomes = write(actor=user, channel=Channel.IMPORT, items=[item for _r, item in batch])
    for (result, _item), outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, Exception):
            result.errors = _messages(outcome)
        else:
            yield result, outcome


def _check_importer(user) -> None:
    from ..permissions import is_manager

    if not is_manager(user):
        raise PermissionDenied(_("Only managers import spreadsheets."))


def spreadsheet_preview(
    *, user, filename: str, content: bytes
) -> tuple[SpreadsheetImport, list[RowResult]]:
    """Read the file and dry-run it: what would be created, updated, left, refused.
    Nothing but the SpreadsheetImport row (the parsed rows, for the confirmation) is kept."""
    _check_importer(user)
    rows = spreadsheet_read(filename=filename, content=content)
    with transaction.atomic():
        results = _run(user=user, rows=rows)
        transaction.set_rollback(True)
    upload = SpreadsheetImport.objects.create(user=user, filename=filename[:255], rows=rows)
    return upload, results


def spreadsheet_import_apply(*, user, import_id: int) -> list[RowResult]:
    """Confirm a previewed import: the rows without errors are written (channel import),
    once: a second confirmation of the same upload does nothing."""
    _check_importer(user)
    with transaction.atomic():
        taken = SpreadsheetImport.objects.filter(
            pk=import_id, user=user, state=SpreadsheetImport.State.PREVIEW
        ).update(state=SpreadsheetImport.State.APPLIED, applied_at=timezone.now())
        if not taken:
            raise ValidationError(
                {"import": _("This import was already confirmed or is not yours.")}
            )
        upload = SpreadsheetImport.objects.get(pk=import_id)
        return _run(user=user, rows=upload.rows)


def summarize(results: Iterable[RowResult]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
    for result in results:
        counts[result.action if not result.errors else "error"] += 1
    return counts
