"""Outgoing webhooks: endpoints, the outbox of events, and the signed delivery.

How it fits together (docs/webhooks.md has the receiver's side):

- The commitment services call `webhook_events_record` inside their own transaction, so
  an event exists exactly when its change committed. It writes one `WebhookDelivery` per
  matching endpoint, with the JSON body fixed now (the commitment as the API shows it),
  and queues a send task for each after the commit.
- `webhook_send` (the task, with an id) claims the row with a conditional UPDATE (pending
  and due -> sending, with a lease; or a sending row whose lease ran out), provided no
  earlier delivery of the same commitment to the same endpoint is still undelivered: that
  is what keeps deliveries in order per commitment. It then checks the resolved address
  (the SSRF guard), POSTs, and records the attempt.
- Failures retry with capped exponential backoff; an endpoint that fails
  WEBHOOK_PAUSE_AFTER_FAILURES times in a row is paused and its owner emailed once.
- `webhooks_dispatch` (beat, every minute) queues again what the broker lost: pending rows
  queued long ago and sending rows whose worker died (lease run out).

The one window where a receiver may get a delivery twice: it answered 2xx and the worker
died before recording it. The retry carries the same X-Tracker-Delivery id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    WEBHOOK_TEST_EVENT,
    Commitment,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from ..permissions import is_manager
from .outbox import outbox_finish, outbox_retry
from .queueing import retry_countdown, task_queue

# Queued by name: the tasks module imports the services, never the reverse.
DELIVER_TASK = "commitments.tasks.deliver_webhook"
logger = logging.getLogger(__name__)
State = WebhookDelivery.State
EndpointState = WebhookEndpoint.State
SIGNATURE_HEADER = "X-Tracker-Signature"
EVENT_HEADER = "X-Tracker-Event"
DELIVERY_HEADER = "X-Tracker-Delivery"
# Fields a caller may set on an endpoint.
ENDPOINT_FIELDS = ("url", "secret", "events", "visit", "sector", "state")


class WebhookRefused(Exception):
    """The endpoint's address may not be called (scheme, or a non-public address)."""


# --- Signature ----------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The X-Tracker-Signature value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_signature_verify(
    *, secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """The receiver's check, as docs/webhooks.md describes it (used by our tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(
        expected.encode(), f"t={timestamp},v1={parts.get('v1', '')}".encode()
    )


# --- Endpoints ----------------------------------------------------------------------------


def _check_manager(actor) -> None:
    if actor is None or not is_manager(actor):
        raise PermissionDenied(_("Only managers and admins manage webhooks."))


def _clean_endpoint(endpoint: WebhookEndpoint) -> None:
    errors = {}
    scheme = urlsplit(endpoint.url or "").scheme.lower()
    if scheme not in ("http", "https"):
        errors["url"] = [_("Only http:// and https:// endpoints can receive webhooks.")]
    if len(endpoint.secret or "") < 16:
        errors["secret"] = [_("Use a secret of at least 16 characters.")]
    try:
        endpoint.full_clean(exclude=["owner", "visit"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, messages)
    if errors:
        raise ValidationError(errors)


def webhook_endpoint_create(*, actor, data: Mapping[str, Any]) -> WebhookEndpoint:
    _check_manager(actor)
    unknown = set(data) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    endpoint = WebhookEndpoint(owner=actor, **data)
    _clean_endpoint(endpoint)
    endpoint.save()
    return endpoint


def webhook_endpoint_update(*, actor, endpoint_id: int, data: Mapping[str, Any]) -> WebhookEndpoint:
    """Change an endpoint. Setting state back to active resumes it: the failure count
    starts again and what waited is queued."""
    _check_manager(actor)
    unknown = set(data) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        resumed = data.get("state") == EndpointState.ACTIVE and endpoint.state != data["state"]
        for name, value in data.items():
            setattr(endpoint, name, value)
        if resumed:
            endpoint.consecutive_failures = 0
            endpoint.paused_reason = ""
        _clean_endpoint(endpoint)
        endpoint.save()
        if resumed:
            webhooks_dispatch()
    return endpoint


def webhook_endpoint_delete(*, actor, endpoint_id: int) -> None:
    _check_manager(actor)
    WebhookEndpoint.objects.filter(pk=endpoint_id).delete()


# --- Recording events (called by the commitment services) --------------------------------


def _payload(*, event: str, event_id: uuid.UUID, at: dt.datetime, commitment, data) -> str:
    from ..api.serializers import CommitmentSerializer

    body = {
        "id": str(event_id),
        "event": event,
        "created_at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": data or {},
        "commitment": CommitmentSerializer(commitment).data if commitment is not None else None,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def _matches(endpoint: WebhookEndpoint, event: str, commitment: Commitment) -> bool:
    return (
        event in endpoint.events
        and (endpoint.visit_id is None or endpoint.visit_id == commitment.visit_id)
        and (not endpoint.sector or endpoint.sector == commitment.sector)
    )


def webhook_events_record(
    *,
    event: str,
    commitments: Iterable[Commitment],
    data: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Write `event` for each commitment to the outbox of every endpoint that wants it.

    Call inside the transaction of the change: the rows commit or roll back with it. The
    send tasks are queued after the commit. One query when no endpoint exists.
    Paused endpoints still collect events (they are delivered on resume).
    """
    return webhook_events_record_many(items=[(event, c, data) for c in commitments], now=now)


def webhook_events_record_many(
    *,
    items: Iterable[tuple[str, Commitment, Mapping[str, Any] | None]],
    now: dt.datetime | None = None,
) -> list[int]:
    """webhook_events_record for (event, commitment, data) items of several kinds: one
    query for the endpoints and one INSERT, whatever the number of items."""
    items = _known_events(items)
    endpoints = list(WebhookEndpoint.objects.all()) if items else []
    return _record(items, endpoints, now)


def webhook_events_record_by_id(
    *,
    items: Iterable[tuple[str, int, Mapping[str, Any] | None]],
    now: dt.datetime | None = None,
) -> list[int]:
    """webhook_events_record_many for (event, commitment id, data) items: for a caller
    that holds ids (the reminder sweep finds thousands of commitments overdue at once),
    the commitments are loaded, in one query, only when an endpoint exists. `items` may
    be a generator: with no endpoint it is not consumed, so a caller that derives the
    items from 170,000 planned reminders does none of that work."""
    endpoints = list(WebhookEndpoint.objects.all())
    if not endpoints:
        return []
    items = _known_events(items)
    by_id = Commitment.objects.in_bulk({pk for _event, pk, _data in items})
    return _record([(event, by_id[pk], data) for event, pk, data in items], endpoints, now)


def _known_events(items: Iterable[tuple]) -> list[tuple]:
    items = list(items)
    for event, _commitment, _data in items:
        if event not in WebhookEvent.values:
            raise ValueError(f"unknown webhook event {event!r}")
    return items


def _record(
    items: list[tuple[str, Commitment, Mapping[str, Any] | None]],
    endpoints: list[WebhookEndpoint],
    now: dt.datetime | None,
) -> list[int]:
    """One outbox row per matching endpoint and item, in one INSERT; their sends queued
    after the commit."""
    if not endpoints:
        return []
    now = now or timezone.now()
    rows = []
    for event, commitment, data in items:
        wanted = [e for e in endpoints if _matches(e, event, commitment)]
        if not wanted:
            continue
        event_id = uuid.uuid4()
        body = _payload(event=event, event_id=event_id, at=now, commitment=commitment, data=data)
        rows.extend(
            WebhookDelivery(
                endpoint=endpoint,
                commitment_id=commitment.pk,
                event=event,
                event_id=event_id,
                delivery_id=uuid.uuid4(),
                body=body,
                next_attempt_at=now,
                queued_at=now,
                created_at=now,
            )
            for endpoint in wanted
        )
    if not rows:
        return []
    WebhookDelivery.objects.bulk_create(rows)
    active = [row for row in rows if row.endpoint.state == EndpointState.ACTIVE]
    ids = [row.pk for row in active if row.pk is not None]
    if len(ids) < len(active):
        # A backend that does not return ids from bulk_create: find them by delivery id.
        ids = list(
            WebhookDelivery.objects.filter(
                delivery_id__in=[r.delivery_id for r in active]
            ).values_list("pk", flat=True)
        )
    transaction.on_commit(lambda: _enqueue(ids))
    return ids


def webhook_test_send(*, actor, endpoint_id: int) -> WebhookDelivery:
    """Queue a test event (no commitment) to the endpoint, paused or not."""
    _check_manager(actor)
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    now = timezone.now()
    event_id = uuid.uuid4()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event=WEBHOOK_TEST_EVENT,
            event_id=event_id,
            delivery_id=uuid.uuid4(),
            body=_payload(
                event=WEBHOOK_TEST_EVENT,
                event_id=event_id,
                at=now,
                commitment=None,
                data={"message": "Test event from the commitment tracker."},
            ),
            next_attempt_at=now,
            queued_at=now,
            created_at=now,
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


def webhook_redeliver(*, actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's event again as a new delivery (same event id and body, new
    delivery id), as a receiver that lost it would want."""
    _check_manager(actor)
    old = WebhookDelivery.objects.get(pk=delivery_id)
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint_id=old.endpoint_id,
            commitment_id=old.commitment_id,
            event=old.event,
            event_id=old.event_id,
            delivery_id=uuid.uuid4(),
            body=old.body,
            next_attempt_at=now,
            queued_at=now,
            created_at=now,
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


# --- Queueing -----------------------------------------------------------------------------


def _enqueue(ids: list[int], *, countdown: int = 0) -> None:
    """Queue send tasks; never raise (the dispatch sweep queues them again)."""
    if not ids:
        return
    try:
        for delivery_id in ids:
            task_queue(DELIVER_TASK, delivery_id, countdown=countdown)
    except Exception:
        logger.warning("could not queue %d webhook deliveries; the dispatch will", len(ids))


def webhook_deliver(*, delivery_id: int) -> DeliveryOutcome:
    """What the delivery task does: `webhook_send`, then queue the retry it asks for
    (the row already holds its next time; this only saves waiting for the dispatch)."""
    outcome = webhook_send(delivery_id=delivery_id)
    if outcome.status == "retry":
        _enqueue([delivery_id], countdown=retry_countdown(outcome.retry_in))
    return outcome


def _earlier_undelivered():
    """An earlier delivery of the same commitment to the same endpoint not yet settled."""
    return WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        commitment_id=OuterRef("commitment_id"),
        pk__lt=OuterRef("pk"),
        state__in=(State.PENDING, State.SENDING),
    )


def _sendable() -> Q:
    # Test events go to a paused endpoint too: that is how a manager checks it recovered.
    return Q(endpoint__state=EndpointState.ACTIVE) | Q(event=WEBHOOK_TEST_EVENT)


def webhooks_dispatch(*, now: dt.datetime | None = None, limit: int = 5000) -> list[int]:
    """Queue (after commit) the deliveries that are due and whose task may be lost:
    pending and never queued or queued more than WEBHOOK_REQUEUE_SECONDS ago, or sending
    with an expired lease; the head of each (endpoint, commitment) line only."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS)
    due = (
        WebhookDelivery.objects.filter(_sendable())
        .filter(
            Q(state=State.PENDING, next_attempt_at__lte=now)
            & (Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
            | Q(state=State.SENDING, lease_until__lt=now)
        )
        .filter(~Exists(_earlier_undelivered()))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    ids = list(due)
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids).update(queued_at=now)
        transaction.on_commit(lambda: _enqueue(ids))
    return ids


def _queue_next(delivery: WebhookDelivery, now: dt.datetime) -> None:
    """The delivery after this one in its commitment's line, if its time has come."""
    if delivery.commitment_id is None:
        return
    following = (
        WebhookDelivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            commitment_id=delivery.commitment_id,
            state=State.PENDING,
            pk__gt=delivery.pk,
            next_attempt_at__lte=now,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following:
        _enqueue([following])


# --- Claim and send -----------------------------------------------------------------------


def webhook_claim(*, delivery_id: int, now: dt.datetime | None = None) -> dt.datetime | None:
    """Take a delivery: pending and due -> sending with a lease, or a sending one whose
    lease ran out, when no earlier delivery of its commitment to its endpoint is still
    open. A conditional UPDATE: two workers can never both hold it. Returns the lease
    (the claim's token) or None."""
    now = now or timezone.now()
    lease = now + dt.timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .filter(_sendable())
        .filter(
            Q(state=State.PENDING, next_attempt_at__lte=now)
            | Q(state=State.SENDING, lease_until__lt=now)
        )
        .filter(~Exists(_earlier_undelivered()))
        .update(state=State.SENDING, lease_until=lease, attempts=F("attempts") + 1)
    )
    return lease if claimed else None


def _finish(delivery_id: int, lease: dt.datetime, **values) -> bool:
    return outbox_finish(WebhookDelivery, delivery_id, lease, **values)


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (a seam for tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def _refusal(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for test, name in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_private, "private"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not public"),
    ):
        if test:
            return name
    return None


def webhook_check_destination(url: str) -> list[str]:
    """Refuse a URL we must not call: not http(s), or resolving to any loopback,
    link-local, private or otherwise non-public address (unless WEBHOOK_ALLOW_PRIVATE).
    Checked at send time, on what the name resolves to then. Returns the addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("only http and https URLs are delivered to")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve_host(parts.hostname, port)
    except OSError as exc:
        raise ConnectionError(f"cannot resolve {parts.hostname}: {exc}") from None
    if not addresses:
        raise ConnectionError(f"{parts.hostname} has no address")
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            reason = _refusal(address)
            if reason:
                raise WebhookRefused(
                    f"{parts.hostname} resolves to {address} ({reason}); "
                    "set WEBHOOK_ALLOW_PRIVATE=1 to allow it"
                )
    return addresses


@dataclass
class DeliveryOutcome:
    status: str  # delivered, skipped, retry, failed
    retry_in: int = 0


def ca_bundle() -> str:
    """The CA certificates an https endpoint's certificate is checked against (certifi's,
    as requests uses; a seam for tests)."""
    import certifi

    return certifi.where()


def _open(*, url: str, address: str, body: bytes, headers: dict, timeout: float) -> int:
    """POST `body` to `url` over a connection to `address`, the address the guard checked:
    the name is not resolved a second time, so a DNS answer that changes between the check
    and the connection (DNS rebinding) cannot steer the request elsewhere. The Host header
    and, for https, the SNI name and the certificate check use the URL's host name."""
    import urllib3

    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    default_port = port == (443 if https else 80)
    host_header = parts.hostname if default_port else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # an IPv6 literal
        host_header = f"[{parts.hostname}]" + ("" if default_port else f":{port}")
    options = {
        "port": port,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if https:
        pool = urllib3.HTTPSConnectionPool(
            address,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_bundle(),
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, **options)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with pool:
        # No redirects: a 302 to an internal address would step around the guard.
        response = pool.urlopen(
            "POST",
            target,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            assert_same_host=False,
            preload_content=False,
        )
        response.release_conn()
        return response.status


def _post(delivery: WebhookDelivery, addresses: list[str]) -> tuple[int, int]:
    """POST the delivery to the first checked address that takes the connection; return
    (status code, milliseconds). Raises on network errors."""
    import urllib3

    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "commitment-tracker-webhooks/1",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.delivery_id),
        SIGNATURE_HEADER: webhook_signature(
            secret=delivery.endpoint.secret, timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    not_connected = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    for index, address in enumerate(addresses):
        try:
            code = _open(
                url=delivery.endpoint.url,
                address=address,
                body=body,
                headers=headers,
                timeout=timeout,
            )
            break
        except not_connected:
            # Nothing was sent on this one: the next checked address, if any.
            if index == len(addresses) - 1:
                raise
    return code, int((time.monotonic() - started) * 1000)


def webhook_backoff(attempts: int) -> int:
    """Seconds before retry number `attempts` (1 = the first retry)."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return int(min(settings.WEBHOOK_RETRY_CAP_SECONDS, base * 2 ** max(0, attempts - 1)))


def _endpoint_failed(endpoint: WebhookEndpoint, error: str) -> None:
    """Count a failed attempt; pause the endpoint (and email its owner) at the limit.
    Only the UPDATE that pauses it sends the email, so the owner is told once."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    limit = settings.WEBHOOK_PAUSE_AFTER_FAILURES
    reason = f"{limit} failed attempts in a row; last: {error}"[:300]
    paused = WebhookEndpoint.objects.filter(
        pk=endpoint.pk, state=EndpointState.ACTIVE, consecutive_failures__gte=limit
    ).update(state=EndpointState.PAUSED, paused_reason=reason)
    if paused and endpoint.owner.email:
        link = f"{settings.SITE_URL.rstrip('/')}/webhooks/{endpoint.pk}/"
        try:
            send_mail(
                subject=_("Webhook paused: %(url)s") % {"url": endpoint.url[:100]},
                message=_(
                    "Deliveries to %(url)s failed %(n)s times in a row, so the endpoint is "
                    "paused. Events are kept and will be delivered when you resume it:\n"
                    "%(link)s\n\nLast error: %(error)s\n"
                )
                % {"url": endpoint.url, "n": limit, "link": link, "error": error},
                from_email=None,
                recipient_list=[endpoint.owner.email],
            )
        except Exception:
            logger.warning("webhook %s paused; could not email its owner", endpoint.pk)


def webhook_send(*, delivery_id: int, now: dt.datetime | None = None) -> DeliveryOutcome:
    """Claim, sign, POST and record one delivery. Safe to call twice for the same id."""
    now = now or timezone.now()
    lease = webhook_claim(delivery_id=delivery_id, now=now)
    if lease is None:
        return DeliveryOutcome("skipped")
    delivery = WebhookDelivery.objects.select_related("endpoint__owner").get(pk=delivery_id)
    code, duration, error, permanent = None, None, "", False
    if delivery.attempts > settings.WEBHOOK_MAX_ATTEMPTS:
        error, permanent = delivery.last_error or "worker lost too many times", True
    else:
        try:
            addresses = webhook_check_destination(delivery.endpoint.url)
            code, duration = _post(delivery, addresses)
        except WebhookRefused as exc:
            error, permanent = f"refused: {exc}", True
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        else:
            if not 200 <= code < 300:
                error = f"HTTP {code}"
    done = timezone.now()
    # What every outcome records of this attempt.
    attempt = {"response_code": code, "duration_ms": duration, "last_error": error}
    if not error:
        # The one window for a duplicate: the receiver has it, and this process dies
        # before this UPDATE. The lease runs out and it goes again, same delivery id.
        if not _finish(
            delivery_id,
            lease,
            state=State.DELIVERED,
            delivered_at=done,
            lease_until=None,
            **attempt,
        ):
            logger.error("webhook delivery %s: lease lost while sending", delivery_id)
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, consecutive_failures__gt=0).update(
            consecutive_failures=0
        )
        _queue_next(delivery, done)
        return DeliveryOutcome("delivered")
    logger.warning(
        "webhook delivery %s: attempt %s failed: %s", delivery_id, delivery.attempts, error
    )
    _endpoint_failed(delivery.endpoint, error)
    if permanent or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        _finish(delivery_id, lease, state=State.FAILED, lease_until=None, **attempt)
        _queue_next(delivery, done)
        return DeliveryOutcome("failed")
    delay = webhook_backoff(delivery.attempts)
    again = outbox_retry(model=WebhookDelivery, now=done, delay=delay, due_field="next_attempt_at")
    _finish(delivery_id, lease, **again, **attempt)
    return DeliveryOutcome("retry", retry_in=delay)
