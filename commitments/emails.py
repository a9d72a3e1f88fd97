"""The reminder emails: plain text with an HTML alternative, rendered from templates
under templates/commitments/email/. `build_message` returns the message and, for a
daily digest, the ids of the held reminders it carries."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from tracker import calendars

from .formats import format_day
from .models import Commitment, Profile, Reminder, Role, today_local

# Short, the reference last: a mail client's list cuts the end, and the reference is also
# in the body. Translated in the recipient's language when the message is built.
SUBJECTS = {
    Reminder.Kind.BEFORE_DUE: gettext_noop("Due on {due}: {ref}"),
    Reminder.Kind.DUE: gettext_noop("Due today: {ref}"),
    Reminder.Kind.OVERDUE: gettext_noop("Overdue since {due}: {ref}"),
    Reminder.Kind.FOLLOW_UP: gettext_noop("Update requested: {ref}"),
    Reminder.Kind.ESCALATION: gettext_noop("Escalation, {step} days overdue: {ref}"),
}


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _message(*, to: str, subject: str, template: str, context: dict) -> EmailMultiAlternatives:
    text = render_to_string(f"commitments/email/{template}.txt", context)
    html = render_to_string(f"commitments/email/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    return message


def _item(commitment: Commitment, today: dt.date) -> dict:
    return {
        "commitment": commitment,
        "url": absolute(commitment.get_absolute_url()),
        "days_overdue": (today - commitment.due_date).days if commitment.is_overdue(today) else 0,
    }


def recipient_profile(reminder: Reminder) -> Profile | None:
    """The recipient's profile as read with the reminder (select_related
    "recipient__profile", as delivery reads a batch); None if they have none."""
    try:
        return reminder.recipient.profile
    except Profile.DoesNotExist:
        return None


def _reader_style(profile: Profile | None) -> tuple[str, calendars.DateStyle]:
    """The recipient's language and date style (issue 15): their profile, else the site's."""
    language = (profile.language if profile else "") or settings.LANGUAGE_CODE
    if profile is None:
        return language, calendars.DateStyle()
    calendar = profile.calendar or (
        calendars.SOLAR_HIJRI if language in settings.SOLAR_HIJRI_LANGUAGES else calendars.GREGORIAN
    )
    return language, calendars.DateStyle(calendar=calendar, eastern_digits=profile.eastern_digits)


_READ = object()


def build_message(
    *, reminder: Reminder, now: dt.datetime, profile: Profile | object | None = _READ
) -> tuple[EmailMultiAlternatives | None, list[int]]:
    """The email for `reminder` in the recipient's language and calendar; None when there is
    nothing to say (an empty digest). The recipient's profile is read here unless the
    caller passes the one it has just read (delivery: with the batch, no query per email)."""
    if profile is _READ:
        profile = Profile.objects.filter(user_id=reminder.recipient_id).first()
    language, style = _reader_style(profile)
    with translation.override(language), calendars.override(style):
        return _build_message(reminder=reminder, now=now)


def _build_message(
    *, reminder: Reminder, now: dt.datetime
) -> tuple[EmailMultiAlternatives | None, list[int]]:
    today = today_local(now)
    to = reminder.recipient.email
    if reminder.kind == Reminder.Kind.DAILY_DIGEST:
        held = list(
            Reminder.objects.filter(
                recipient_id=reminder.recipient_id,
                state=Reminder.State.PENDING,
                in_digest=True,
                send_after__lte=now,
            )
            .without_snoozed_follow_ups(today)
            .select_related("commitment")
        )
        if not held:
            return None, []
        items = [dict(_item(r.commitment, today), reminder=r) for r in held]
        context = {"user": reminder.recipient, "items": items, "title": _("Your reminders today")}
        subject = ngettext("{n} reminder for {day}", "{n} reminders for {day}", len(items)).format(
            n=len(items), day=format_day(today)
        )
        return _message(to=to, subject=subject, template="digest", context=context), [
            r.pk for r in held
        ]
    if reminder.kind == Reminder.Kind.WEEKLY_DIGEST:
        overdue = (
            Commitment.objects.overdue(on=today)
            # Their reports' items, and those of owners with no line manager (whose
            # escalations go to every manager too).
            .filter(
                Q(owner__profile__line_manager_id=reminder.recipient_id)
                | Q(owner__isnull=False, owner__profile__line_manager__isnull=True)
            )
            .select_related("owner")
            .order_by("due_date")[:200]
        )
        items = [_item(c, today) for c in overdue]
        if not items:
            return None, []
        context = {
            "user": reminder.recipient,
            "items": items,
            "title": _("Overdue commitments of your team"),
            "role": Role.MANAGER,
        }
        subject = ngettext(
            "Weekly digest: {n} overdue commitment",
            "Weekly digest: {n} overdue commitments",
            len(items),
        ).format(n=len(items))
        return _message(to=to, subject=subject, template="digest", context=context), []
    commitment = reminder.commitment
    context = dict(_item(commitment, today), reminder=reminder, user=reminder.recipient)
    subject = _(SUBJECTS[reminder.kind]).format(
        ref=commitment.reference,
        due=format_day(commitment.due_date),
        step=reminder.step,
    )
    return _message(to=to, subject=subject, template="reminder", context=context), []
