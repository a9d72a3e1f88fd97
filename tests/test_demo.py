"""load_demo: demo rows only on an empty or demo database, made-up dates only on its own
rows, existing users never changed; and the any-hour reminder setting the demo uses."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from commitments.models import Channel, Commitment, StatusChange
from commitments.services.importer import visit_dataset_load
from commitments.services.reminders import Schedule, send_time

from .conftest import VISIT_FIXTURE as FIXTURE

User = get_user_model()


def _snapshot():
    return {
        c.reference: (c.owner_id, c.due_date, c.next_follow_up_at, c.version, c.title)
        for c in Commitment.objects.all()
    }


def test_demo_rows_are_marked_and_dated_through_the_demo_channel(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-2025")
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert Commitment.objects.exists()
    assert not Commitment.objects.filter(is_demo=False).exists()
    dated = Commitment.objects.open().filter(due_date__isnull=False)
    assert dated.exists()
    # Every made-up date went through the services, on the demo channel.
    assert StatusChange.objects.filter(channel=Channel.DEMO).count() == 0
    from commitments.models import AuditEvent

    demo_audits = AuditEvent.objects.filter(channel=Channel.DEMO, action="update")
    assert demo_audits.count() == Commitment.objects.filter(owner__isnull=False).count()


def test_load_demo_refuses_a_database_holding_real_data_and_changes_nothing(db, monkeypatch):
    visit_dataset_load(path=FIXTURE)  # real data, as import_visit loads it
    before = _snapshot()
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-2025")

    with pytest.raises(CommandError, match="did not create"):
        call_command("load_demo")

    assert _snapshot() == before
    assert not User.objects.exists()


def test_forced_load_demo_adds_users_and_leaves_real_commitments_alone(db, monkeypatch):
    visit_dataset_load(path=FIXTURE)
    before = _snapshot()
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-2025")

    call_command("load_demo", "--force", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert _snapshot() == before
    assert all(owner is None and due is None for owner, due, *_ in before.values())
    assert User.objects.get(username="officer").check_password("a-demo-password-2025")


def test_load_demo_never_changes_an_existing_user(db, monkeypatch):
    admin = User.objects.create_user("admin", "ops@ministry.example", "the-real-one-2025")
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-2025")

    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    admin.refresh_from_db()
    assert admin.check_password("the-real-one-2025")
    assert not admin.check_password("a-demo-password-2025")
    assert not admin.is_superuser and not admin.is_staff
    assert admin.email == "ops@ministry.example"
    # The other demo users were created with the demo password.
    assert User.objects.get(username="manager").check_password("a-demo-password-2025")


def test_load_demo_twice_changes_nothing_the_second_time(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-2025")
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = _snapshot()
    rows = StatusChange.objects.count()

    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert _snapshot() == first
    assert StatusChange.objects.count() == rows


def test_any_hour_sends_as_soon_as_the_day_begins_in_the_recipients_zone(settings):
    kabul = Schedule(zone="Asia/Kabul", working_days=frozenset({1}), morning_hour=9)
    now = dt.datetime(2026, 11, 28, 21, 0, tzinfo=dt.UTC)  # a Saturday, 01:30 in Kabul
    slot = dt.date(2026, 11, 29)

    settings.TRACKER_REMINDER_ANY_HOUR = False
    assert send_time(slot=slot, schedule=kabul, now=now) > now + dt.timedelta(days=1)

    settings.TRACKER_REMINDER_ANY_HOUR = True
    # Midnight of 29 November in Kabul (UTC+4:30) is 19:30 UTC on the 28th: already past.
    assert send_time(slot=slot, schedule=kabul, now=now) == dt.datetime(
        2026, 11, 28, 19, 30, tzinfo=dt.UTC
    )


def test_made_up_due_dates_are_labelled_demo_and_real_ones_are_not(client, officer):
    from .factories import CommitmentFactory

    demo = CommitmentFactory(owner=officer, due_date=dt.date(2026, 12, 1), is_demo=True)
    real = CommitmentFactory(owner=officer, due_date=dt.date(2026, 12, 1))
    client.force_login(officer)

    assert 'class="demo-badge"' in client.get(demo.get_absolute_url()).content.decode()
    assert 'class="demo-badge"' not in client.get(real.get_absolute_url()).content.decode()
    listing = client.get("/commitments/").content.decode()
    assert listing.count('class="demo-badge"') == 1


def test_the_timeline_says_which_entries_the_demo_made_up(client, monkeypatch, manager):
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-2025")
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    demo = Commitment.objects.filter(is_demo=True, owner__isnull=False).first()
    client.force_login(manager)

    page = client.get(demo.get_absolute_url()).content.decode()

    assert "made up for the demo" in page
