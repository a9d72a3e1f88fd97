"""`manage.py import_visit PATH`: loads or updates a visit data set idempotently, and
never overwrites a field someone changed since the last import (issue 9, item 4)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from commitments import services
from commitments.models import (
    AuditEvent,
    Channel,
    Commitment,
    ContextFact,
    ImportRecord,
    Organisation,
    Source,
    Status,
    StatusChange,
    Visit,
)
from commitments.services.importer import visit_dataset_load

from .conftest import VISIT_FIXTURE as FIXTURE

pytestmark = pytest.mark.django_db

LEGACY = Path(settings.BASE_DIR) / "fixtures" / "legacy" / "kz_af_2025_visit.v1.json"
ALL = 27  # commitments in the data set


def _import(path: Path | str = FIXTURE, *args: str) -> str:
    out = io.StringIO()
    call_command("import_visit", str(path), *args, stdout=out)
    return out.getvalue()


def _state() -> dict:
    """Everything a run that changes nothing must leave exactly as it was."""
    return {
        "commitments": sorted(
            Commitment.objects.values_list("reference", "version", "change_seq", "title")
        ),
        "history": StatusChange.objects.count(),
        "audit": AuditEvent.objects.count(),
        "records": sorted(ImportRecord.objects.values_list("model", "key", "imported_at")),
        "facts": ContextFact.objects.count(),
        "orgs": Organisation.objects.count(),
    }


def _edited_copy(tmp_path: Path, edit) -> Path:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "visit.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _item(data: dict, reference: str) -> dict:
    return next(c for c in data["commitments"] if c["reference"] == reference)


def test_second_import_changes_nothing(db):
    first = _import()
    assert f"{ALL} created, 0 updated, 0 unchanged, 0 conflicts" in first
    before = _state()
    second = _import()
    assert f"0 created, 0 updated, {ALL} unchanged, 0 conflicts" in second
    # No history row, no audit row, no version bump, not even a rewritten import record.
    assert _state() == before


def test_a_managers_edit_is_kept_and_reported_as_a_conflict(db, manager):
    _import()
    _import()
    c = Commitment.objects.get(reference="KZ-AF-2025-005")
    services.commitment_update(
        commitment_id=c.pk,
        actor=manager,
        channel=Channel.WEB,
        data={"title": "Trading house of Kazakhstan in Kabul (renamed by the desk)"},
    )
    before = _state()
    third = _import()
    assert f"0 created, 0 updated, {ALL} unchanged, 1 conflicts" in third
    # The report names the reference, the field, the value kept and the file's value.
    assert (
        "conflict: KZ-AF-2025-005 title: kept 'Trading house of Kazakhstan in Kabul "
        "(renamed by the desk)', file has 'Kazakh trading house in Kabul'"
    ) in third
    c.refresh_from_db()
    assert c.title == "Trading house of Kazakhstan in Kabul (renamed by the desk)"
    assert _state() == before, "a conflict writes nothing"


def test_a_field_changed_in_both_is_kept_and_the_others_follow_the_file(db, manager, tmp_path):
    _import()
    c = Commitment.objects.get(reference="KZ-AF-2025-005")
    services.commitment_update(
        commitment_id=c.pk, actor=manager, channel=Channel.WEB, data={"title": "Desk title"}
    )

    def edit(data):
        _item(data, "KZ-AF-2025-005")["title"] = "File title"
        _item(data, "KZ-AF-2025-005")["description"] = "A new description from the file."

    result = visit_dataset_load(path=_edited_copy(tmp_path, edit))
    c.refresh_from_db()
    assert (c.title, c.description) == ("Desk title", "A new description from the file.")
    assert [(x.reference, x.field, x.kept, x.file) for x in result.conflicts] == [
        ("KZ-AF-2025-005", "title", "Desk title", "File title")
    ]
    assert result.updated == ["KZ-AF-2025-005"]


def test_a_field_changed_in_the_file_only_is_updated_through_the_service(db, tmp_path):
    _import()
    c = Commitment.objects.get(reference="KZ-AF-2025-010")
    version, audit = c.version, AuditEvent.objects.count()

    def edit(data):
        _item(data, "KZ-AF-2025-010")["description"] = "Corrected description."

    out = _import(_edited_copy(tmp_path, edit))
    assert f"0 created, 1 updated, {ALL - 1} unchanged, 0 conflicts" in out
    c.refresh_from_db()
    assert c.description == "Corrected description." and c.version == version + 1
    assert AuditEvent.objects.count() == audit + 1
    event = AuditEvent.objects.latest("id")
    assert (event.channel, event.action, event.commitment_id) == ("import", "update", c.pk)
    assert event.changes["description"][1] == "Corrected description."
    # Applied once: the same file again changes nothing.
    assert f"0 created, 0 updated, {ALL} unchanged" in _import(_edited_copy(tmp_path, edit))


def test_pledging_parties_follow_the_file(db, tmp_path):
    _import()

    def edit(data):
        _item(data, "KZ-AF-2025-005")["pledged_by"] = ["kz-gov", "kz-business"]

    _import(_edited_copy(tmp_path, edit))
    c = Commitment.objects.get(reference="KZ-AF-2025-005")
    assert c.pledged_by.name == "Government of Kazakhstan"
    assert list(c.co_pledgers.values_list("name", flat=True)) == ["Kazakh private sector"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["commitments"][3].pop("title"), "KZ-AF-2025-004: missing key 'title'"),
        (
            lambda d: _item(d, "KZ-AF-2025-029").update(pledged_by=["nobody"]),
            "KZ-AF-2025-029 pledged_by: unknown organisation key 'nobody'",
        ),
        (lambda d: d.pop("visit"), "file: missing key 'visit'"),
        (
            lambda d: _item(d, "KZ-AF-2025-029").update(parent="KZ-AF-2025-999"),
            "unknown parent 'KZ-AF-2025-999'",
        ),
        # Found only while writing: the last commitment's sector is refused by the model,
        # after 26 others were created; the whole file is rolled back.
        (
            lambda d: _item(d, "KZ-AF-2025-029").update(sector="space"),
            "KZ-AF-2025-029: sector:",
        ),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_written(
    db, tmp_path, edit, message
):
    with pytest.raises(CommandError) as refused:
        _import(_edited_copy(tmp_path, edit))
    assert "Nothing was imported" in str(refused.value) and message in str(refused.value)
    assert not Commitment.objects.exists()
    assert not Organisation.objects.exists() and not Visit.objects.exists()
    assert not ImportRecord.objects.exists() and not AuditEvent.objects.exists()


def test_not_json_is_refused(db, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"organisations": [', encoding="utf-8")
    with pytest.raises(CommandError, match=r"not valid JSON \(line 1"):
        _import(path)
    with pytest.raises(CommandError, match="cannot read the file"):
        _import(tmp_path / "missing.json")
    assert not Commitment.objects.exists()


def test_an_update_keeps_its_conflicts_after_a_failed_run(db, manager, tmp_path):
    """A refused file leaves the previous import's state (records included) intact."""
    _import()
    before = _state()
    with pytest.raises(CommandError):
        _import(_edited_copy(tmp_path, lambda d: _item(d, "KZ-AF-2025-029").update(sector="x")))
    assert _state() == before


def test_a_database_loaded_before_records_existed_is_corrected_with_the_baseline(db, manager):
    """The first data set, loaded by the old importer (no import records), then a desk
    edit: the corrected data set with --baseline fixes every untouched field, keeps the
    edit, withdraws the double-counted bank items, and is then idempotent."""
    visit_dataset_load(path=LEGACY)
    ImportRecord.objects.all().delete()  # as the old importer left it
    herat = Commitment.objects.get(reference="KZ-AF-2025-007")
    services.commitment_update(
        commitment_id=herat.pk, actor=manager, channel=Channel.WEB, data={"title": "Desk"}
    )

    without_baseline = _import()
    # 027-029 created; nothing old overwritten: the 24 others only gain the translations
    # they lacked (issue 15), which no edit can have filled since.
    assert "3 created, 24 updated" in without_baseline
    assert Commitment.objects.get(reference="KZ-AF-2025-017").figure_kind == ""
    for event in AuditEvent.objects.filter(action="update", channel=Channel.IMPORT):
        assert all(name.startswith("translated_title_") for name in event.changes), event

    out = _import(FIXTURE, "--baseline", str(LEGACY))
    assert "1 conflicts" in out and "conflict: KZ-AF-2025-007 title: kept 'Desk'" in out
    roadmap = Commitment.objects.get(reference="KZ-AF-2025-017")
    assert roadmap.figure_kind == "target_trade_turnover"
    assert list(roadmap.co_pledgers.values_list("name", flat=True)) == [
        "Government of Afghanistan (Islamic Emirate)"
    ]
    herat.refresh_from_db()
    assert herat.title == "Desk" and herat.pledged_by.name == "Government of Kazakhstan"
    for ref in ("KZ-AF-2025-012", "KZ-AF-2025-013"):
        c = Commitment.objects.get(reference=ref)
        assert c.status == Status.CANCELLED
        assert StatusChange.objects.filter(
            commitment=c, to_status=Status.CANCELLED, channel="import"
        ).exists()
    assert Visit.objects.get().end_date is None
    assert Source.objects.get(key="press").kind == "news_report"
    assert ContextFact.objects.count() == 7

    before = _state()
    again = _import()
    assert f"0 created, 0 updated, {ALL} unchanged, 1 conflicts" in again
    assert _state() == before


def test_a_withdrawn_item_someone_moved_is_not_cancelled(db, officer):
    visit_dataset_load(path=LEGACY)
    item = Commitment.objects.get(reference="KZ-AF-2025-012")
    item.owner = officer
    item.save(update_fields=["owner"])
    services.commitment_transition(
        commitment_id=item.pk, to_status=Status.AGREED, actor=officer, channel=Channel.WEB
    )
    result = visit_dataset_load(path=FIXTURE)
    item.refresh_from_db()
    assert item.status == Status.AGREED
    assert ("KZ-AF-2025-012", "status", "agreed", "cancelled") in [
        (c.reference, c.field, c.kept, c.file) for c in result.conflicts
    ]
    assert Commitment.objects.get(reference="KZ-AF-2025-013").status == Status.CANCELLED


@pytest.mark.skipif(os.name != "posix", reason="runs manage.py in a subprocess")
def test_exit_status_is_0_on_success_and_non_zero_on_a_bad_file(tmp_path):
    """The contract as a shell sees it, on a private SQLite file."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert run("migrate", "-v0").returncode == 0
    ok = run("import_visit", str(FIXTURE))
    assert ok.returncode == 0, ok.stderr
    assert f"{ALL} created, 0 updated, 0 unchanged, 0 conflicts" in ok.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    refused = run("import_visit", str(bad))
    assert refused.returncode != 0
    assert "Nothing was imported" in refused.stderr and "not valid JSON" in refused.stderr


# --- Issue 15: the tracker's translations of titles and names ------------------------


def _translated(reference: str) -> dict:
    c = Commitment.objects.get(reference=reference)
    return {lang: getattr(c, f"translated_title_{lang}") for lang in ("ru", "kk", "fa", "ps")}


def test_the_data_set_loads_titles_and_names_in_four_languages_beside_the_original(db):
    _import()
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for item in data["commitments"]:
        c = Commitment.objects.get(reference=item["reference"])
        assert c.title == item["title"]  # the original, in English
        assert c.source_quote == item["quote"]  # the quote stays verbatim, untranslated
        for lang in ("ru", "kk", "fa", "ps"):
            assert getattr(c, f"translated_title_{lang}") == item["translations"][lang]["title"]
        assert not c.translated_title_en  # the original is English: nothing to translate
    railway = _translated("KZ-AF-2025-001")
    assert "Тургунди" in railway["ru"] and "راه آهن" in railway["fa"]
    kz = Organisation.objects.get(name="Government of Kazakhstan")
    assert (kz.translated_name_ru, kz.translated_name_kk) == (
        "Правительство Казахстана",
        "Қазақстан Үкіметі",
    )
    assert Organisation.objects.filter(translated_name_fa__isnull=True).count() == 0


def test_an_edited_translation_is_kept_and_an_untouched_one_follows_the_file(db, tmp_path):
    _import()
    edited = Commitment.objects.get(reference="KZ-AF-2025-005").pk
    ru = {"translated_title_ru": "Торговый дом Казахстана в Кабуле"}
    services.commitment_update(commitment_id=edited, actor=None, channel="system", data=ru)

    def edit(data):
        _item(data, "KZ-AF-2025-005")["translations"]["ru"]["title"] = "Новое из файла"
        _item(data, "KZ-AF-2025-006")["translations"]["fa"]["title"] = "عنوان تازه"
        data["organisations"][0]["translations"]["kk"]["name"] = "ҚР Үкіметі"

    out = _import(_edited_copy(tmp_path, edit))
    assert "1 updated" in out and "1 conflicts" in out, out
    assert "KZ-AF-2025-005 translated_title_ru: kept" in out
    assert _translated("KZ-AF-2025-005")["ru"] == "Торговый дом Казахстана в Кабуле"
    assert _translated("KZ-AF-2025-006")["fa"] == "عنوان تازه"
    assert Organisation.objects.get(name="Government of Kazakhstan").translated_name_kk == (
        "ҚР Үкіметі"
    )
    # And the run after it changes nothing more.
    assert "0 updated" in _import(_edited_copy(tmp_path, edit))


def test_a_database_imported_before_translations_takes_them_without_conflicts(db, tmp_path):
    def untranslated(data):
        for row in [*data["organisations"], *data["people"], *data["commitments"]]:
            row.pop("translations", None)

    _import(_edited_copy(tmp_path, untranslated))
    # As the records of an import made before translations existed: without their keys.
    for record in ImportRecord.objects.all():
        record.values = {k: v for k, v in record.values.items() if "translated_" not in k}
        record.save()
    assert not any(_translated("KZ-AF-2025-001").values())
    out = _import()
    assert f"0 created, {ALL} updated, 0 unchanged, 0 conflicts" in out, out
    assert _translated("KZ-AF-2025-001")["kk"].startswith("Тургунди")
    assert f"0 created, 0 updated, {ALL} unchanged, 0 conflicts" in _import()


@pytest.mark.parametrize(
    ("translations", "message"),
    [
        ({"xx": {"title": "?"}}, "unknown language 'xx'"),
        ({"ru": {"quote": "?"}}, "translations['ru']['quote'] is not a text"),
        ({"ru": "?"}, "translations['ru'] must be an object"),
    ],
)
def test_bad_translations_stop_the_import_and_write_nothing(db, tmp_path, translations, message):
    def edit(data):
        _item(data, "KZ-AF-2025-001")["translations"] = translations

    with pytest.raises(CommandError, match=message.replace("[", r"\[")):
        _import(_edited_copy(tmp_path, edit))
    assert not Commitment.objects.exists()
