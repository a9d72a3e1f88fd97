"""Calendar feeds (iCalendar, RFC 5545): a user's due dates and follow-ups, a visit's
due dates, or a saved filter's, behind a long secret URL that needs no session.

The token is never stored: it is an HMAC (SECRET_KEY) of the feed's id and its random
`salt`, so the owner can be shown the same URL again; the row keeps only the token's
SHA-256 for the lookup. Revoking gives the feed a new salt (the old URL stops working).
Rotating SECRET_KEY changes every feed's URL (the old ones stop working).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import CalendarFeed, Commitment, Profile, Visit

Kind = CalendarFeed.Kind
# A feed stops at this many events; a calendar client does not need more.
FEED_LIMIT = 5000


def _token(feed: CalendarFeed) -> str:
    mac = hmac.new(
        settings.SECRET_KEY.encode(), f"calendar:{feed.pk}:{feed.salt}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_token(feed: CalendarFeed) -> str:
    return _token(feed)


def calendar_feed_url(feed: CalendarFeed) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/calendar/{_token(feed)}.ics"


def _save_new(feed: CalendarFeed) -> CalendarFeed:
    feed.salt = secrets.token_hex(16)
    feed.token_hash = secrets.token_hex(32)  # a placeholder until the id is known
    feed.save()
    feed.token_hash = _hash(_token(feed))
    feed.save(update_fields=["token_hash"])
    return feed


def calendar_feed_personal(*, user) -> CalendarFeed:
    """The user's own feed ("my due dates and follow-ups"), made on first ask."""
    feed = CalendarFeed.objects.filter(user=user, kind=Kind.USER, revoked_at__isnull=True).first()
    if feed is not None:
        return feed
    try:
        with transaction.atomic():
            return _save_new(CalendarFeed(user=user, kind=Kind.USER))
    except IntegrityError:  # made at the same moment by another request
        return CalendarFeed.objects.get(user=user, kind=Kind.USER, revoked_at__isnull=True)


def calendar_feed_create(
    *, user, kind: str, visit: Visit | None = None, query: str = "", name: str = ""
) -> CalendarFeed:
    """A feed of a visit or of a saved filter (the list page's query string)."""
    if kind == Kind.USER:
        return calendar_feed_personal(user=user)
    if kind == Kind.VISIT and visit is None:
        raise ValidationError({"visit": _("Choose a visit.")})
    if kind == Kind.FILTER:
        query = urlsplit(query).query if "?" in query else query.lstrip("?")
        from ..filters import CommitmentFilterSet

        filterset = CommitmentFilterSet(QueryDict(query), queryset=Commitment.objects.none())
        if not filterset.is_valid():
            raise ValidationError({"query": _("This filter is not valid.")})
    if kind not in Kind.values:
        raise ValidationError({"kind": _("Unknown feed kind.")})
    with transaction.atomic():
        return _save_new(
            CalendarFeed(user=user, kind=kind, visit=visit, query=query, name=name[:200])
        )


def calendar_feed_revoke(*, feed_id: int, user) -> CalendarFeed:
    """Give the feed a new secret URL; the old one answers 404 from now on."""
    with transaction.atomic():
        feed = CalendarFeed.objects.select_for_update().get(pk=feed_id, user=user)
        feed.salt = secrets.token_hex(16)
        feed.token_hash = _hash(_token(feed))
        feed.save(update_fields=["salt", "token_hash"])
    return feed


def calendar_feed_for_token(token: str) -> CalendarFeed | None:
    if not token or len(token) > 100:
        return None
    feed = (
        CalendarFeed.objects.select_related("user", "visit")
        .filter(token_hash=_hash(token), revoked_at__isnull=True)
        .first()
    )
    if feed is None or not feed.user.is_active:
        return None
    return feed


# --- The feed -----------------------------------------------------------------------------


def _commitments(feed: CalendarFeed):
    from django.db.models import Q

    if feed.kind == Kind.USER:
        return (
            Commitment.objects.open()
            .owned_by(feed.user)
            .filter(Q(due_date__isnull=False) | Q(next_follow_up_at__isnull=False))
        )
    base = Commitment.objects.open().filter(due_date__isnull=False)
    if feed.kind == Kind.VISIT:
        return base.filter(visit_id=feed.visit_id)
    from ..filters import CommitmentFilterSet

    filterset = CommitmentFilterSet(QueryDict(feed.query), queryset=base)
    return filterset.qs if filterset.is_valid() else base.none()


def _zone(user) -> zoneinfo.ZoneInfo:
    profile = Profile.objects.filter(user=user).only("time_zone").first()
    try:
        return zoneinfo.ZoneInfo(profile.time_zone if profile else settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def calendar_feed_ics(feed: CalendarFeed, *, now: dt.datetime | None = None) -> bytes:
    """The feed as iCalendar bytes. One all-day event per due date; for the personal
    feed also one 30-minute event at each open commitment's next follow-up, in the
    user's zone. UIDs are stable per commitment; SEQUENCE is the commitment's version,
    which grows with every change, so a moved due date replaces the old event."""
    import icalendar

    now = now or timezone.now()
    zone = _zone(feed.user)
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    site = settings.SITE_URL.rstrip("/")
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Commitment tracker//calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", feed.name or str(Kind(feed.kind).label))
    cal.add("x-wr-timezone", str(zone.key))
    rows = (
        _commitments(feed)
        .only("pk", "reference", "title", "status", "due_date", "next_follow_up_at", "version")
        .order_by("pk")[:FEED_LIMIT]
    )
    for c in rows:
        link = f"{site}/commitments/{c.pk}/"
        status = c.get_status_display()
        if c.due_date is not None:
            event = icalendar.Event()
            event.add("uid", f"commitment-{c.pk}-due@{domain}")
            event.add("sequence", c.version)
            event.add("dtstamp", now)
            event.add("dtstart", c.due_date)
            event.add("dtend", c.due_date + dt.timedelta(days=1))
            event.add("summary", f"Due: {c.reference} {c.title} ({status})")
            event.add("description", f"{c.title}\n{_('Status')}: {status}\n{link}")
            event.add("url", link)
            cal.add_component(event)
        if feed.kind == Kind.USER and c.next_follow_up_at:
            start = c.next_follow_up_at.astimezone(zone)
            follow = icalendar.Event()
            follow.add("uid", f"commitment-{c.pk}-follow-up@{domain}")
            follow.add("sequence", c.version)
            follow.add("dtstamp", now)
            follow.add("dtstart", start)
            follow.add("dtend", start + dt.timedelta(minutes=30))
            follow.add("summary", f"Follow up: {c.reference} {c.title} ({status})")
            follow.add("description", f"{c.title}\n{_('Status')}: {status}\n{link}")
            follow.add("url", link)
            cal.add_component(follow)
    cal.add_missing_timezones()
    return cal.to_ical()
