"""The reminder policy and the sweep, with the clock held still: who is reminded of what,
when (their zone, their working morning), exactly once, and what voids or holds it."""

from __future__ import annotations

import datetime as dt
import socket
import zoneinfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commitments import selectors, services
from commitments.models import Channel, Profile, Reminder, Role, Status
from commitments.services.reminders import reminder_claim, reminder_send, reminders_sweep

from .conftest import on_postgres
from .factories import CommitmentFactory, UserFactory

UTC = dt.UTC
Kind = Reminder.Kind
State = Reminder.State
ALL_WEEK = [1, 2, 3, 4, 5, 6, 7]

pytestmark = pytest.mark.django_db


def at(y, m, d, h=0, minute=0, zone="UTC") -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)


def owner(name="owner", zone="UTC", days=None, hour=8, **profile):
    user = UserFactory(username=name)
    Profile.objects.filter(user=user).update(
        time_zone=zone, working_days=days or [1, 2, 3, 4, 5], morning_hour=hour, **profile
    )
    user.groups.add(Group.objects.get_or_create(name=Role.DESK_OFFICER)[0])
    return user


def manager(name="boss", **kwargs):
    user = owner(name, **kwargs)
    user.groups.add(Group.objects.get_or_create(name=Role.MANAGER)[0])
    return user


def rows(**filters):
    return list(
        Reminder.objects.filter(**filters)
        .order_by("kind", "slot", "recipient_id")
        .values_list("kind", "slot", "recipient__username", "send_after")
    )


# --- the policy --------------------------------------------------------------------------


def test_owner_is_reminded_7_and_1_days_before_on_the_day_and_weekly_while_overdue():
    user = owner(days=ALL_WEEK)
    c = CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))
    made = set()
    day = dt.datetime(2025, 5, 30, 9, tzinfo=UTC)
    while day < dt.datetime(2025, 7, 3, tzinfo=UTC):
        reminders_sweep(now=day)
        day += dt.timedelta(days=1)
    made = rows(commitment=c)
    assert [(k, s) for k, s, _u, _t in made] == [
        (Kind.BEFORE_DUE, dt.date(2025, 6, 3)),
        (Kind.BEFORE_DUE, dt.date(2025, 6, 9)),
        (Kind.DUE, dt.date(2025, 6, 10)),
        (Kind.OVERDUE, dt.date(2025, 6, 17)),
        (Kind.OVERDUE, dt.date(2025, 6, 24)),
        (Kind.OVERDUE, dt.date(2025, 7, 1)),
    ]


def test_a_second_sweep_creates_nothing_and_queues_nothing_new():
    user = owner()
    CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))
    now = at(2025, 6, 10, 9)
    first = reminders_sweep(now=now)
    count = Reminder.objects.count()
    second = reminders_sweep(now=now + dt.timedelta(minutes=1))
    assert first.created >= 1 and first.queued
    assert Reminder.objects.count() == count
    assert second.queued == []


def test_the_sweep_runs_a_constant_number_of_queries():
    users = [owner(f"o{i}") for i in range(3)]
    Profile.objects.filter(user__in=users).update(line_manager=manager())

    def sweep_queries(size: int) -> int:
        Reminder.objects.all().delete()
        for i in range(size):
            CommitmentFactory(
                owner=users[i % 3],
                due_date=dt.date(2025, 6, 10) - dt.timedelta(days=(i % 3) * 7 + 14 * (i % 2)),
                next_follow_up_at=at(2025, 6, 10, 1),
            )
        with CaptureQueriesContext(connection) as ctx:
            result = reminders_sweep(now=at(2025, 6, 10, 9))
        assert result.created >= size
        return len(ctx.captured_queries)

    small, large = sweep_queries(5), sweep_queries(60)
    if on_postgres():
        # One INSERT whatever the number of rows.
        assert small == large
    else:
        # SQLite's parameter limit splits the insert into batches; the reads stay constant.
        assert large <= small + 4


def test_kabul_half_hour_offset_is_honoured():
    user = owner(zone="Asia/Kabul", days=[6, 7, 1, 2, 3, 4])
    CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))  # a Tuesday
    reminders_sweep(now=at(2025, 6, 9, 12))
    (due,) = Reminder.objects.filter(kind=Kind.DUE)
    assert due.send_after == dt.datetime(2025, 6, 10, 3, 30, tzinfo=UTC)  # 08:00 +04:30


def test_almaty_owner_gets_the_morning_in_their_zone():
    user = owner(zone="Asia/Almaty")
    CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))
    reminders_sweep(now=at(2025, 6, 9, 12))
    (due,) = Reminder.objects.filter(kind=Kind.DUE)
    assert due.send_after.astimezone(zoneinfo.ZoneInfo("Asia/Almaty")).hour == 8


def _sweep_hourly(start: dt.datetime, hours: int) -> None:
    for i in range(hours):
        now = start + dt.timedelta(hours=i)
        for reminder_id in reminders_sweep(now=now).queued:
            reminder_send(reminder_id=reminder_id, now=now)


@pytest.mark.parametrize(
    ("days", "utc_hours"),
    [
        # Europe/Berlin springs forward on 30 March 2025 and falls back on 26 October.
        ([dt.date(2025, 3, 29), dt.date(2025, 3, 30), dt.date(2025, 3, 31)], [7, 6, 6]),
        ([dt.date(2025, 10, 25), dt.date(2025, 10, 26), dt.date(2025, 10, 27)], [6, 7, 7]),
    ],
)
def test_daylight_saving_days_neither_skip_nor_double_a_reminder(days, utc_hours):
    user = owner(zone="Europe/Berlin", days=ALL_WEEK)
    items = [CommitmentFactory(owner=user, due_date=day) for day in days]
    _sweep_hourly(dt.datetime.combine(days[0], dt.time(), tzinfo=UTC) - dt.timedelta(days=1), 96)
    for item, day, hour in zip(items, days, utc_hours, strict=True):
        (due,) = Reminder.objects.filter(commitment=item, kind=Kind.DUE)
        assert due.state == State.SENT
        assert due.send_after == dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)
    assert len(mail.outbox) == Reminder.objects.filter(state=State.SENT).count()


@pytest.mark.parametrize(("day", "hour"), [(dt.date(2025, 3, 30), 2), (dt.date(2025, 10, 26), 2)])
def test_a_reminder_hour_that_is_skipped_or_repeated_by_dst_still_sends_once(day, hour):
    user = owner(zone="Europe/Berlin", days=ALL_WEEK, hour=hour)
    item = CommitmentFactory(owner=user, due_date=day)
    _sweep_hourly(dt.datetime.combine(day, dt.time(), tzinfo=UTC) - dt.timedelta(hours=6), 24)
    sent = Reminder.objects.filter(commitment=item, kind=Kind.DUE, state=State.SENT)
    assert sent.count() == 1
    assert len([m for m in mail.outbox if "Due today" in m.subject]) == 1


def test_a_slot_on_a_day_off_moves_to_a_working_day():
    user = owner(days=[1, 2, 3, 4, 5])
    # Due Saturday 14 June 2025: the day-before warning (Friday) stays on Friday, the
    # week-ahead one (Saturday 7th) moves back to Friday 6th, the due-day one to Monday.
    c = CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 14))
    for day in range(6, 15):
        reminders_sweep(now=at(2025, 6, day, 7))
    sends = {(k, s): t for k, s, _u, t in rows(commitment=c)}
    assert sends[(Kind.BEFORE_DUE, dt.date(2025, 6, 7))] == at(2025, 6, 6, 8)
    assert sends[(Kind.BEFORE_DUE, dt.date(2025, 6, 13))] == at(2025, 6, 13, 8)
    assert sends[(Kind.DUE, dt.date(2025, 6, 14))] == at(2025, 6, 16, 8)


def test_nothing_goes_out_at_night_a_late_reminder_waits_for_the_next_morning():
    user = owner(zone="Asia/Kabul", days=ALL_WEEK)
    CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))
    # 23:30 in Kabul on the due date: the morning is 15 hours gone.
    result = reminders_sweep(now=at(2025, 6, 10, 23, 30, "Asia/Kabul"))
    (due,) = Reminder.objects.filter(kind=Kind.DUE)
    assert due.send_after == at(2025, 6, 11, 8, zone="Asia/Kabul")
    assert result.queued == []


def test_escalation_goes_to_the_line_manager_once_per_step():
    boss = manager("boss")
    other = manager("other-boss")
    user = owner()
    Profile.objects.filter(user=user).update(line_manager=boss)
    c = CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 1))
    for day in range(13, 45):
        for h in (7, 13):
            reminders_sweep(now=at(2025, 6, 1, h) + dt.timedelta(days=day))
    escalations = rows(commitment=c, kind=Kind.ESCALATION)
    assert [(s, u) for _k, s, u, _t in escalations] == [
        (dt.date(2025, 6, 15), "boss"),
        (dt.date(2025, 7, 1), "boss"),
    ]
    assert not Reminder.objects.filter(recipient=other).exclude(kind=Kind.WEEKLY_DIGEST).exists()


def test_a_line_manager_outside_the_managers_group_is_still_the_one_told():
    manager("m1")
    lead = owner("team-lead")
    user = owner()
    Profile.objects.filter(user=user).update(line_manager=lead)
    c = CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 1))
    reminders_sweep(now=at(2025, 6, 16, 9))
    assert [u for _k, _s, u, _t in rows(commitment=c, kind=Kind.ESCALATION)] == ["team-lead"]


def test_without_a_line_manager_every_manager_is_told():
    managers = {manager("m1").username, manager("m2").username}
    c = CommitmentFactory(owner=owner(), due_date=dt.date(2025, 6, 1))
    reminders_sweep(now=at(2025, 6, 16, 9))
    got = {u for _k, _s, u, _t in rows(commitment=c, kind=Kind.ESCALATION)}
    assert got == managers


def test_follow_up_request_once_per_follow_up_date():
    user = owner(days=ALL_WEEK)
    c = CommitmentFactory(owner=user, next_follow_up_at=at(2025, 6, 10, 11))
    reminders_sweep(now=at(2025, 6, 9, 12))
    (row,) = Reminder.objects.filter(commitment=c, kind=Kind.FOLLOW_UP)
    assert row.send_after == at(2025, 6, 10, 11)  # when it passes, in working hours
    for h in range(9, 48):
        reminders_sweep(now=at(2025, 6, 9, 0) + dt.timedelta(hours=h))
    assert Reminder.objects.filter(commitment=c, kind=Kind.FOLLOW_UP).count() == 1


def test_snooze_holds_follow_up_requests_but_not_overdue_reminders(officer):
    Profile.objects.filter(user=officer).update(working_days=ALL_WEEK)
    c = CommitmentFactory(
        owner=officer, due_date=dt.date(2025, 6, 3), next_follow_up_at=at(2025, 6, 10, 6)
    )
    with time_machine.travel(at(2025, 6, 9, 12), tick=False):
        services.commitment_snooze(
            commitment_id=c.pk,
            actor=officer,
            channel=Channel.WEB,
            until=dt.date(2025, 6, 12),
            reason="Waiting for the ministry",
        )
    result = reminders_sweep(now=at(2025, 6, 10, 9))
    kinds = set(Reminder.objects.filter(commitment=c).values_list("kind", flat=True))
    assert kinds == {Kind.OVERDUE}
    assert len(result.queued) == 1
    # The snooze ends on the 12th: the follow-up request goes out then, once.
    reminders_sweep(now=at(2025, 6, 11, 9))
    assert not Reminder.objects.filter(commitment=c, kind=Kind.FOLLOW_UP).exists()
    reminders_sweep(now=at(2025, 6, 12, 9))
    reminders_sweep(now=at(2025, 6, 12, 10))
    assert Reminder.objects.filter(commitment=c, kind=Kind.FOLLOW_UP).count() == 1


def test_a_pending_follow_up_is_held_not_sent_while_snoozed(officer):
    c = CommitmentFactory(owner=officer, next_follow_up_at=at(2025, 6, 10, 6))
    reminders_sweep(now=at(2025, 6, 9, 9))
    (row,) = Reminder.objects.filter(commitment=c, kind=Kind.FOLLOW_UP)
    c.snoozed_until = dt.date(2025, 6, 20)
    c.save()
    assert reminders_sweep(now=at(2025, 6, 10, 9)).queued == []
    # Even a send task already in the queue holds it rather than send it.
    Reminder.objects.filter(pk=row.pk).update(queued_at=None)
    assert reminder_send(reminder_id=row.pk, now=at(2025, 6, 10, 9)).status == "held"
    row.refresh_from_db()
    assert row.state == State.PENDING and mail.outbox == []


def test_changing_the_due_date_voids_reminders_for_the_old_date(officer):
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    reminders_sweep(now=at(2025, 6, 9, 9))
    old = set(Reminder.objects.filter(commitment=c).values_list("pk", flat=True))
    assert old
    services.commitment_update(
        commitment_id=c.pk,
        actor=officer,
        channel=Channel.WEB,
        data={"due_date": dt.date(2025, 7, 10)},
    )
    assert (
        set(Reminder.objects.filter(pk__in=old, state=State.VOID).values_list("pk", flat=True))
        == old
    )
    result = reminders_sweep(now=at(2025, 6, 10, 9))
    assert result.queued == []
    assert mail.outbox == []


def test_closing_a_commitment_stops_its_reminders(officer):
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10), status=Status.AGREED)
    reminders_sweep(now=at(2025, 6, 9, 9))
    services.commitment_transition(
        commitment_id=c.pk,
        to_status=Status.CANCELLED,
        actor=officer,
        channel=Channel.WEB,
        note="Dropped by both sides",
    )
    assert not Reminder.objects.filter(commitment=c, state=State.PENDING).exists()
    for day in range(9, 30):
        reminders_sweep(now=at(2025, 6, day, 9))
    assert not Reminder.objects.filter(commitment=c, state=State.PENDING).exists()


def test_a_reminder_voided_after_it_was_queued_is_not_sent(officer):
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    (rid,) = reminders_sweep(now=at(2025, 6, 10, 9)).queued
    # A write that bypasses the services (so nothing voided the row): the send re-checks.
    type(c).objects.filter(pk=c.pk).update(due_date=dt.date(2025, 8, 1))
    assert reminder_send(reminder_id=rid, now=at(2025, 6, 10, 9)).status == "void"
    assert mail.outbox == []


# --- claim and send -----------------------------------------------------------------------


def test_a_claim_is_exclusive_and_an_expired_lease_can_be_taken_again(officer, settings):
    CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    now = at(2025, 6, 10, 9)
    (rid,) = reminders_sweep(now=now).queued
    assert reminder_claim(reminder_id=rid, now=now) is not None
    assert reminder_claim(reminder_id=rid, now=now + dt.timedelta(seconds=10)) is None
    later = now + dt.timedelta(seconds=settings.TRACKER_REMINDER_LEASE_SECONDS + 1)
    # The sweep queues it again once the lease ran out (the worker died) ...
    assert reminders_sweep(now=later + dt.timedelta(minutes=5)).queued == [rid]
    # ... and a worker may take it.
    assert reminder_claim(reminder_id=rid, now=later) is not None


def test_send_marks_sent_with_a_deterministic_message_id_text_html_and_link(officer, settings):
    settings.SITE_URL = "https://tracker.example.org"
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    now = at(2025, 6, 10, 9)
    (rid,) = reminders_sweep(now=now).queued
    assert reminder_send(reminder_id=rid, now=now).status == "sent"
    assert reminder_send(reminder_id=rid, now=now).status == "skipped"
    (message,) = mail.outbox
    row = Reminder.objects.get(pk=rid)
    assert row.state == State.SENT and row.sent_at is not None
    assert row.message_id == message.extra_headers["Message-ID"]
    assert row.message_id == f"<reminder-{rid}.due.20250610@tracker.example.org>"
    link = f"https://tracker.example.org/commitments/{c.pk}/"
    assert link in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and f'href="{link}"' in html
    assert message.to == [officer.email]


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_failure_retries_with_backoff_then_ends_failed_and_shows_on_timeline(
    officer, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _refused_port()
    settings.TRACKER_REMINDER_MAX_ATTEMPTS = 3
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10))
    now = at(2025, 6, 10, 9)
    (rid,) = reminders_sweep(now=now).queued
    first = reminder_send(reminder_id=rid, now=now)
    assert first.status == "retry" and first.retry_in == settings.TRACKER_REMINDER_RETRY_SECONDS
    row = Reminder.objects.get(pk=rid)
    assert row.state == State.PENDING and "ConnectionRefused" in row.last_error
    assert reminder_send(reminder_id=rid, now=now).status == "skipped"  # not yet due again
    second = reminder_send(reminder_id=rid, now=row.send_after)
    assert second.retry_in == 2 * first.retry_in
    row.refresh_from_db()
    assert reminder_send(reminder_id=rid, now=row.send_after).status == "failed"
    row.refresh_from_db()
    assert row.state == State.FAILED and row.attempts == 3 and row.sent_at is None
    assert list(selectors.reminders_for_timeline(commitment=c)) == [row]


def test_daily_digest_officers_get_one_email_instead_of_single_ones():
    user = owner(days=ALL_WEEK, daily_digest=True)
    for due in (dt.date(2025, 6, 10), dt.date(2025, 6, 3), dt.date(2025, 6, 17)):
        CommitmentFactory(owner=user, due_date=due)
    now = at(2025, 6, 10, 9)
    first = reminders_sweep(now=now)
    held = Reminder.objects.filter(in_digest=True)
    assert held.count() == 3
    # Only the digest is queued; the three single reminders ride in it.
    (digest_id,) = first.queued
    assert Reminder.objects.get(pk=digest_id).kind == Kind.DAILY_DIGEST
    assert reminder_send(reminder_id=digest_id, now=now).status == "sent"
    assert len(mail.outbox) == 1 and mail.outbox[0].body.count("/commitments/") == 3
    assert set(held.values_list("state", flat=True)) == {State.SENT}
    assert reminders_sweep(now=now + dt.timedelta(hours=1)).queued == []


def test_weekly_digest_lists_the_managers_overdue_items_once_a_week():
    boss = manager(days=ALL_WEEK)
    user = owner()
    Profile.objects.filter(user=user).update(line_manager=boss)
    CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 1), reference="LATE-1")
    CommitmentFactory(owner=user, due_date=dt.date(2025, 9, 1), reference="LATER-1")
    sent = 0
    for day in range(9, 16):  # Monday 9 June to Sunday 15 June
        for rid in reminders_sweep(now=at(2025, 6, day, 9)).queued:
            if Reminder.objects.get(pk=rid).kind == Kind.WEEKLY_DIGEST:
                sent += reminder_send(reminder_id=rid, now=at(2025, 6, day, 9)).status == "sent"
    assert sent == 1
    (digest,) = [m for m in mail.outbox if m.subject.startswith("Weekly digest")]
    assert "LATE-1" in digest.body and "LATER-1" not in digest.body


def test_a_snooze_holds_follow_ups_waiting_in_a_daily_digest():
    user = owner(days=ALL_WEEK, daily_digest=True)
    c = CommitmentFactory(owner=user, next_follow_up_at=at(2025, 6, 10, 6))
    now = at(2025, 6, 10, 9)
    (digest_id,) = reminders_sweep(now=now).queued
    (follow_up,) = Reminder.objects.filter(in_digest=True, kind=Kind.FOLLOW_UP)
    # The officer snoozes after the digest was planned, before it goes out.
    type(c).objects.filter(pk=c.pk).update(snoozed_until=dt.date(2025, 6, 20))
    reminder_send(reminder_id=digest_id, now=now)
    assert mail.outbox == []
    follow_up.refresh_from_db()
    assert follow_up.state == State.PENDING
    # Nor does a later sweep plan a digest for snoozed follow-ups alone.
    later = now + dt.timedelta(days=1)
    assert not any(
        Reminder.objects.get(pk=rid).kind == Kind.DAILY_DIGEST
        for rid in reminders_sweep(now=later).queued
    )


def test_a_due_date_changed_and_changed_back_gets_its_reminder_again(officer):
    c = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 17))
    now = at(2025, 6, 10, 9)
    (first,) = reminders_sweep(now=now).queued  # 7 days before the due date
    for due in (dt.date(2025, 6, 18), dt.date(2025, 6, 17)):  # a slip, then undone
        services.commitment_update(
            commitment_id=c.pk, actor=officer, channel=Channel.WEB, data={"due_date": due}
        )
    assert Reminder.objects.get(pk=first).state == State.VOID
    (again,) = reminders_sweep(now=now + dt.timedelta(minutes=5)).queued
    assert again != first
    assert Reminder.objects.get(pk=again).about == dt.date(2025, 6, 17)
    assert reminder_send(reminder_id=again, now=now).status == "sent"
    assert len(mail.outbox) == 1
    # And a further sweep plans nothing more for that slot.
    assert reminders_sweep(now=now + dt.timedelta(minutes=10)).queued == []


# --- beat's incremental sweep (SweepMark) -------------------------------------------------


def _sweep_plans(now, **kwargs):
    """Rows written and the commitments touched by one sweep's plan."""
    before = set(Reminder.objects.values_list("pk", flat=True))
    result = reminders_sweep(now=now, **kwargs)
    new = Reminder.objects.exclude(pk__in=before).exclude(commitment=None)
    return result, set(new.values_list("commitment_id", "kind"))


def test_the_incremental_sweep_plans_what_changed_through_the_services_and_nothing_else(
    officer,
):
    quiet = CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 3))  # overdue 7 days
    moved = CommitmentFactory(owner=officer, due_date=dt.date(2025, 9, 1))
    now = at(2025, 6, 10, 9)
    _, planned = _sweep_plans(now, incremental=True)  # no mark yet: a whole plan
    assert planned == {(quiet.pk, Kind.OVERDUE)}
    services.commitment_update(
        commitment_id=moved.pk,
        actor=officer,
        channel=Channel.WEB,
        data={"due_date": dt.date(2025, 6, 10)},
    )
    # A write outside the services (no change number): beat's sweep does not see it.
    type(quiet).objects.filter(pk=quiet.pk).update(due_date=dt.date(2025, 6, 11))
    _, planned = _sweep_plans(now + dt.timedelta(minutes=5), incremental=True)
    assert planned == {(moved.pk, Kind.DUE)}
    # The whole plan (a started worker, send_reminders, hourly) finds the other one.
    _, planned = _sweep_plans(now + dt.timedelta(minutes=10))
    assert planned == {(quiet.pk, Kind.BEFORE_DUE), (quiet.pk, Kind.DUE)}


def test_an_incremental_sweep_with_nothing_new_reads_no_commitment_but_still_dispatches(
    officer, settings
):
    settings.TRACKER_REMINDER_FULL_SWEEP_SECONDS = 8 * 3600
    for weeks in range(3):  # due today, a week overdue, two weeks overdue
        CommitmentFactory(owner=officer, due_date=dt.date(2025, 6, 10) - dt.timedelta(weeks=weeks))
    now = at(2025, 6, 10, 3)  # before the officer's morning: rows planned, none queued
    assert reminders_sweep(now=now).queued == []
    pending = Reminder.objects.filter(state=State.PENDING).count()
    assert pending == 3
    with CaptureQueriesContext(connection) as ctx:
        result = reminders_sweep(now=at(2025, 6, 10, 9), incremental=True)
    assert result.created == 0
    assert len(result.queued) == pending  # the morning came: the same rows are queued
    # Every read of the commitments is narrowed to those changed since the mark.
    reads = _commitment_reads(ctx)
    assert reads and [sql for sql in reads if '"change_seq" >' not in sql] == []
    # Past the whole-plan interval the sweep plans everything again.
    settings.TRACKER_REMINDER_FULL_SWEEP_SECONDS = 3600
    with CaptureQueriesContext(connection) as whole:
        reminders_sweep(now=at(2025, 6, 10, 9, 5), incremental=True)
    reads = _commitment_reads(whole)
    assert reads and [sql for sql in reads if '"change_seq" >' in sql] == []


def _commitment_reads(ctx) -> list[str]:
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "commitments_commitment"')
    ]


def test_a_follow_up_time_coming_within_reach_is_planned_by_the_incremental_sweep(officer):
    now = at(2025, 6, 10, 9)
    c = CommitmentFactory(owner=officer, next_follow_up_at=now + dt.timedelta(days=1, hours=2))
    assert _sweep_plans(now)[1] == set()  # a day and two hours ahead: not yet
    _, planned = _sweep_plans(now + dt.timedelta(hours=3), incremental=True)
    assert planned == {(c.pk, Kind.FOLLOW_UP)}


def test_incremental_sweeps_miss_nothing_a_whole_plan_would_find(officer, settings):
    """A working day of changes through the services, beat sweeping every 5 minutes:
    afterwards a whole plan finds nothing the incremental ones left out."""
    import random

    settings.TRACKER_REMINDER_FULL_SWEEP_SECONDS = 24 * 3600
    rng = random.Random(7)
    start = at(2025, 6, 10, 6)
    items = [
        CommitmentFactory(
            owner=officer,
            status=Status.AGREED,
            due_date=dt.date(2025, 6, 10) + dt.timedelta(days=rng.randint(-30, 30)),
            next_follow_up_at=start + dt.timedelta(hours=rng.randint(-48, 48)),
        )
        for _ in range(30)
    ]
    reminders_sweep(now=start)
    for step in range(1, 40):
        now = start + dt.timedelta(minutes=5 * step)
        c = rng.choice(items)
        c.refresh_from_db()
        action = rng.choice(["due", "due", "snooze", "move"])
        with time_machine.travel(now, tick=False):
            if action == "due":
                services.commitment_update(
                    commitment_id=c.pk,
                    actor=officer,
                    channel=Channel.WEB,
                    data={
                        "due_date": dt.date(2025, 6, 10)
                        + dt.timedelta(days=rng.choice([0, 1, 7, -7, -14]))
                    },
                )
            elif action == "snooze" and c.status != Status.CANCELLED:
                services.commitment_snooze(
                    commitment_id=c.pk,
                    actor=officer,
                    channel=Channel.WEB,
                    until=max(dt.date(2025, 6, 10), (c.next_follow_up_at or now).date())
                    + dt.timedelta(days=rng.randint(1, 5)),
                    reason="Waiting for the ministry",
                )
            elif c.status == Status.AGREED:
                services.commitment_transition(
                    commitment_id=c.pk,
                    to_status=Status.IN_PROGRESS,
                    actor=officer,
                    channel=Channel.WEB,
                    note="Started",
                )
        reminders_sweep(now=now, incremental=True)
    planned_incrementally = Reminder.objects.count()
    result, planned = _sweep_plans(start + dt.timedelta(minutes=5 * 40))
    assert planned_incrementally > 30
    assert result.created == 0 and planned == set()


def test_beat_asks_for_the_incremental_sweep_and_a_started_worker_for_the_whole_one():
    from django.conf import settings

    from commitments.tasks import sweep_reminders

    entry = settings.CELERY_BEAT_SCHEDULE["reminders-sweep"]
    assert entry["task"] == sweep_reminders.name
    assert entry["kwargs"] == {"incremental": True}
    # tracker.celery sends the task with no arguments when a worker starts.
    import inspect

    assert inspect.signature(sweep_reminders.run).parameters["incremental"].default is False


@pytest.mark.skipif(
    not on_postgres(),
    reason="PostgreSQL writes due rows queued; SQLite lets the dispatch queue them",
)
def test_the_sweep_writes_due_rows_queued_and_never_rewrites_them(settings):
    """A row whose time has come is written queued (its id in `queued`); one not yet due,
    or held for a digest, is written waiting. The outbox sees inserts only: at a million
    commitments an UPDATE of each new row doubled the first sweep's writing."""
    settings.TRACKER_REMINDER_CATCH_UP_DAYS = 0
    early = owner("early", days=ALL_WEEK, hour=8)
    late = owner("late", days=ALL_WEEK, hour=17)
    digest = owner("digest", days=ALL_WEEK, hour=8, daily_digest=True)
    due = dt.date(2025, 6, 10)
    for user in (early, late, digest):
        CommitmentFactory(owner=user, due_date=due)
    now = at(2025, 6, 10, 9)

    def outbox_writes() -> tuple[int, int]:
        # PostgreSQL 15's "xact" view also holds counts of earlier transactions that
        # were not yet flushed (an earlier test's, within a second): compare before and
        # after, inside this transaction.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                [Reminder._meta.db_table],
            )
            return cursor.fetchone() or (0, 0)

    ins_before, upd_before = outbox_writes()
    result = reminders_sweep(now=now)
    ins_after, upd_after = outbox_writes()
    written = {
        r.recipient.username: r
        for r in Reminder.objects.filter(kind=Kind.DUE).select_related("recipient")
    }
    assert set(written) == {"early", "late", "digest"}
    assert written["early"].queued_at == now
    assert written["late"].queued_at is None  # its morning comes at 17:00
    assert written["digest"].queued_at is None  # held for the daily digest
    digests = Reminder.objects.filter(kind=Kind.DAILY_DIGEST)
    assert result.queued == sorted([written["early"].pk, *digests.values_list("pk", flat=True)])
    assert (ins_after - ins_before, upd_after - upd_before) == (Reminder.objects.count(), 0)
    # Nothing is queued twice; the late one is queued when its morning comes.
    assert reminders_sweep(now=now + dt.timedelta(minutes=3)).queued == []
    Reminder.objects.filter(pk__in=result.queued).update(state=State.SENT)  # the worker's
    assert reminders_sweep(now=at(2025, 6, 10, 17, 5)).queued == [written["late"].pk]


def _outbox_inserts(ctx) -> list[str]:
    table = Reminder._meta.db_table
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(f"INSERT INTO {table}")]


def test_a_row_the_plan_cannot_see_is_skipped_and_the_rest_written(settings):
    """The plan leaves out what the outbox holds, so the sweep writes its rows plainly
    (no ON CONFLICT: 0.7-1.0 s less for a first sweep at a million commitments). A row
    that meets the unique key anyway, here one left about another due date (changed
    behind the services' back, so never voided), is skipped: the rest is written, the
    old row is left as it was, and the sweep does not fail."""
    settings.TRACKER_REMINDER_CATCH_UP_DAYS = 0
    user = owner(days=ALL_WEEK)
    manager(days=ALL_WEEK)  # a weekly digest on every sweep
    now = at(2025, 6, 10, 9)
    clean = CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))
    with CaptureQueriesContext(connection) as ctx:
        first = reminders_sweep(now=now)
    assert first.created >= 1
    if on_postgres():
        # The commitments' rows plainly; the weekly digests (planned on every sweep, kept
        # once by the key) with ON CONFLICT at once.
        plain, digests = _outbox_inserts(ctx)
        assert "ON CONFLICT" not in plain
        assert "ON CONFLICT DO NOTHING" in digests
    # A whole sweep with nothing new: no INSERT meets the key and is rolled back.
    with CaptureQueriesContext(connection) as ctx:
        assert reminders_sweep(now=now + dt.timedelta(minutes=1)).created == 0
    assert not [q for q in ctx.captured_queries if "ROLLBACK TO SAVEPOINT" in q["sql"]]

    hidden = CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))
    fresh = CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))
    old = Reminder.objects.create(
        commitment=hidden,
        recipient=user,
        kind=Kind.DUE,
        slot=dt.date(2025, 6, 10),
        about=dt.date(2025, 5, 1),
        send_after=now - dt.timedelta(days=40),
    )
    before = Reminder.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        second = reminders_sweep(now=now + dt.timedelta(minutes=5))
    assert second.created == 1  # fresh's; hidden's met the key
    assert Reminder.objects.count() == before + 1
    assert Reminder.objects.filter(commitment=fresh, kind=Kind.DUE).count() == 1
    assert Reminder.objects.filter(commitment=clean, kind=Kind.DUE).count() == 1
    assert list(Reminder.objects.filter(commitment=hidden).values_list("pk", "about")) == [
        (old.pk, dt.date(2025, 5, 1))
    ]
    if on_postgres():
        plain, skipping, _digests = _outbox_inserts(ctx)
        assert "ON CONFLICT" not in plain
        assert "ON CONFLICT DO NOTHING" in skipping
        assert any("ROLLBACK TO SAVEPOINT" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's statistics")
def test_a_sweep_that_writes_many_rows_refreshes_the_outbox_statistics(monkeypatch):
    """Statistics taken before a first sweep wrote 170,000 rows made the next whole
    plan 20 times slower at a million commitments: a large sweep ANALYZEs the outbox."""
    from commitments.services.reminders import sweep

    user = owner(days=ALL_WEEK)
    for _ in range(4):
        CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 10))

    def estimated() -> float:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                [Reminder._meta.db_table],
            )
            return cursor.fetchone()[0]

    before = estimated()
    monkeypatch.setattr(sweep, "ANALYZE_AFTER_ROWS", 5)
    assert reminders_sweep(now=at(2025, 6, 10, 9)).created == 4  # below: left alone
    assert estimated() == before
    for _ in range(2):
        CommitmentFactory(owner=user, due_date=dt.date(2025, 6, 11))
    monkeypatch.setattr(sweep, "ANALYZE_AFTER_ROWS", 2)
    assert reminders_sweep(now=at(2025, 6, 10, 9, 5)).created >= 2
    assert estimated() == Reminder.objects.count() > 4
