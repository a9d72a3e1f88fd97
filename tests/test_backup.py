"""The backup and restore procedures of docs/operations.md, run as written: every
commitment, history row and reminder comes back, by count and by id."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from commitments import services
from commitments.models import Channel, Commitment, Reminder, StatusChange

from .factories import CommitmentFactory
from .integration.conftest import database_url

pytestmark = pytest.mark.django_db(transaction=True)

TABLES = {
    "commitments": Commitment._meta.db_table,
    "history": StatusChange._meta.db_table,
    "reminders": Reminder._meta.db_table,
}


def _seed(officer) -> dict[str, list[int]]:
    today = timezone.localdate()
    dues = [today + dt.timedelta(days=7), today - dt.timedelta(days=15), today, None]
    for due in dues:
        commitment = CommitmentFactory(owner=officer, due_date=due)
        services.commitment_transition(
            commitment_id=commitment.pk, to_status="agreed", actor=officer, channel=Channel.WEB
        )
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status="blocked",
            actor=officer,
            channel=Channel.WEB,
            note="Waiting for the ministry.",
        )
    services.reminders_sweep()
    expected = {
        "commitments": list(Commitment.objects.order_by("pk").values_list("pk", flat=True)),
        "history": list(StatusChange.objects.order_by("pk").values_list("pk", flat=True)),
        "reminders": list(Reminder.objects.order_by("pk").values_list("pk", flat=True)),
    }
    assert len(expected["commitments"]) == 4
    assert len(expected["history"]) == 12  # created + two moves each
    assert expected["reminders"], "the sweep should have written reminders"
    return expected


def _ids(cursor) -> dict[str, list[int]]:
    found = {}
    for key, table in TABLES.items():
        cursor.execute(f"SELECT id FROM {table} ORDER BY id")  # noqa: S608 (names from models)
        found[key] = [row[0] for row in cursor.fetchall()]
    return found


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_dump/pg_restore need PostgreSQL (DATABASE_URL)"
)
def test_pg_dump_restores_into_a_fresh_database_with_every_row(officer, tmp_path):
    expected = _seed(officer)
    source = database_url()
    dump = tmp_path / "tracker.dump"
    fresh = f"{connection.settings_dict['NAME']}_restore_{os.getpid()}"
    fresh_url = source.rsplit("/", 1)[0] + f"/{fresh}"
    admin_url = source.rsplit("/", 1)[0] + "/postgres"

    # docs/operations.md, "PostgreSQL": dump, create an empty database, restore into it.
    subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", dump, "-d", source], check=True)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
        admin.execute(f'CREATE DATABASE "{fresh}"')
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", fresh_url, dump], check=True
        )
        with psycopg.connect(fresh_url) as restored, restored.cursor() as cursor:
            assert _ids(cursor) == expected
            # The restored copy is usable: its sequences continue after the restored ids.
            cursor.execute(
                "SELECT last_value FROM pg_sequences WHERE sequencename = %s",
                [f"{TABLES['commitments']}_id_seq"],
            )
            assert cursor.fetchone()[0] >= max(expected["commitments"])
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the SQLite procedure; PostgreSQL has its own test"
)
def test_sqlite_online_backup_restores_every_row(officer, tmp_path):
    expected = _seed(officer)
    live = connection.settings_dict["NAME"]
    backup = tmp_path / "tracker-backup.sqlite3"

    # docs/operations.md, "SQLite": the online backup API, safe while the app runs.
    code = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))"
    subprocess.run([sys.executable, "-c", code, live, str(backup)], check=True)

    # Restore: the backup file becomes the database file (the app stopped).
    restored = tmp_path / "restored.sqlite3"
    shutil.copyfile(backup, restored)
    with sqlite3.connect(restored) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert _ids(db.cursor()) == expected
