"""Reminder policy: when a reminder goes out. Pure time rules, no database.

All times are UTC; a reminder's `slot` is a calendar date and its `send_after` is the
recipient's working morning for that date, computed with zoneinfo, so a daylight-saving
change moves the hour but can never add or remove a day.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings

from ...models import Profile, Reminder

UTC = dt.UTC
Kind = Reminder.Kind

# Kinds that go to the owner and are planned from the due date.
DUE_KINDS = (Kind.BEFORE_DUE, Kind.DUE, Kind.OVERDUE)
# Overdue reminders stop after a year; older items are for the managers' digest.
OVERDUE_HORIZON_DAYS = 366


@dataclass(frozen=True)
class Schedule:
    """The parts of a recipient's profile the policy needs (defaults for no profile)."""

    zone: str = "UTC"
    working_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    morning_hour: int = 8
    daily_digest: bool = False
    line_manager_id: int | None = None

    @classmethod
    def of(cls, profile: Profile | None) -> Schedule:
        if profile is None:
            return cls()
        return cls(
            zone=profile.time_zone,
            working_days=frozenset(profile.working_days or [1, 2, 3, 4, 5]),
            morning_hour=profile.morning_hour,
            daily_digest=profile.daily_digest,
            line_manager_id=profile.line_manager_id,
        )


def zone_of(schedule: Schedule) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(schedule.zone)


def morning_of(*, day: dt.date, schedule: Schedule) -> dt.datetime:
    """The recipient's reminder hour on `day`, in UTC.

    zoneinfo resolves a wall time that does not exist (spring forward) or exists twice
    (fall back) to one instant (fold=0), so each calendar day has exactly one morning.
    """
    local = dt.datetime.combine(day, dt.time(schedule.morning_hour), tzinfo=zone_of(schedule))
    return local.astimezone(UTC)


def send_time(
    *, slot: dt.date, schedule: Schedule, now: dt.datetime, earlier: bool = False
) -> dt.datetime:
    """When a reminder for calendar day `slot` goes out to a recipient.

    On the slot's working morning in their zone; a slot on a day off moves to the working
    day before it (`earlier`, for warnings before a due date) or after it. If that morning
    is more than TRACKER_REMINDER_WINDOW_HOURS gone, it waits for the next working morning
    after `now` rather than arrive at night.
    """
    if settings.TRACKER_REMINDER_ANY_HOUR:
        # The demo's and a trial's setting: no working mornings or days off, a reminder
        # goes out as soon as its day has begun in the recipient's zone.
        return dt.datetime.combine(slot, dt.time(0), tzinfo=zone_of(schedule)).astimezone(UTC)
    step = dt.timedelta(days=-1 if earlier else 1)
    day = slot
    for _ in range(7):
        if day.isoweekday() in schedule.working_days:
            break
        day += step
    at = morning_of(day=day, schedule=schedule)
    window = dt.timedelta(hours=settings.TRACKER_REMINDER_WINDOW_HOURS)
    if at + window >= now:
        return at
    day = now.astimezone(zone_of(schedule)).date()
    for _ in range(8):
        if day.isoweekday() in schedule.working_days:
            at = morning_of(day=day, schedule=schedule)
            if at + window >= now:
                return at
        day += dt.timedelta(days=1)
    return at


def slot_window(today: dt.date) -> list[dt.date]:
    """The slot dates one sweep considers: a few days back (catch-up) and tomorrow.

    Tomorrow, because a recipient east of the tracker's zone has their morning while the
    tracker's date is still today. The window stays shorter than a week so that one
    commitment has at most one overdue slot in it.
    """
    back = max(0, min(settings.TRACKER_REMINDER_CATCH_UP_DAYS, 4))
    return [today + dt.timedelta(days=d) for d in range(-back, 2)]
