"""Webhooks without a worker: events recorded with the change (and only then), the
signature recipe, the SSRF guard at send time, ordering, backoff, the API and pages.
End to end with a real worker and receiver: tests/integration/test_webhooks_delivery.py."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import ssl
import subprocess
import threading
import time
import zoneinfo
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from commitments import services
from commitments.models import (
    Channel,
    Status,
    WebhookDelivery,
    WebhookEndpoint,
)
from commitments.services import webhooks
from commitments.services.commitments import EvidenceInput

from .api.conftest import bearer_client
from .factories import CommitmentFactory, VisitFactory

pytestmark = pytest.mark.django_db
SECRET = "a-secret-of-enough-length"
ALL = [
    "commitment.created",
    "commitment.status_changed",
    "commitment.evidence_added",
    "commitment.note_added",
    "commitment.due_date_changed",
    "commitment.overdue",
    "commitment.escalated",
]


@pytest.fixture
def hook(manager):
    return WebhookEndpoint.objects.create(
        owner=manager, url="https://hooks.example.org/in", secret=SECRET, events=ALL
    )


def events():
    return list(WebhookDelivery.objects.order_by("pk").values_list("event", flat=True))


def test_each_service_writes_its_event_with_the_commitment_as_the_api_shows_it(
    hook, officer, manager
):
    commitment = services.commitment_create(
        actor=manager,
        channel=Channel.WEB,
        data={
            "title": "Grain corridor",
            "visit": VisitFactory(),
            "sector": "trade",
            "nature": "intention",
            "pledged_by": CommitmentFactory().pledged_by,
            "owner": officer,
        },
    )
    services.commitment_transition(
        commitment_id=commitment.pk, to_status=Status.AGREED, actor=officer, channel=Channel.WEB
    )
    services.evidence_add(
        commitment_id=commitment.pk,
        actor=officer,
        channel=Channel.WEB,
        item=EvidenceInput(url="https://example.org/a", title="Press release"),
    )
    services.note_add(commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="Met")
    services.commitment_update(
        commitment_id=commitment.pk,
        actor=manager,
        channel=Channel.WEB,
        data={"due_date": dt.date(2026, 6, 1)},
    )
    # A change that is not a subscribed kind (title only) sends nothing.
    services.commitment_update(
        commitment_id=commitment.pk, actor=manager, channel=Channel.WEB, data={"title": "New"}
    )
    assert events() == [
        "commitment.created",
        "commitment.status_changed",
        "commitment.evidence_added",
        "commitment.note_added",
        "commitment.due_date_changed",
    ]
    last = json.loads(WebhookDelivery.objects.order_by("pk").last().body)
    assert last["event"] == "commitment.due_date_changed"
    assert last["commitment"]["id"] == commitment.pk
    assert last["commitment"]["due_date"] == "2026-06-01"
    assert last["data"] == {"due_date": [None, "2026-06-01"]}
    assert set(last) >= {"id", "event", "created_at", "commitment"}


def test_a_rolled_back_change_leaves_no_event(hook, commitment):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.AGREED,
            actor=None,
            channel=Channel.SYSTEM,
        )
        raise RuntimeError
    assert not WebhookDelivery.objects.exists()


def test_a_refused_change_leaves_no_event(hook, commitment, viewer):
    with pytest.raises(Exception):  # noqa: B017 (the service's refusal, whatever its type)
        services.commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.FULFILLED,
            actor=None,
            channel=Channel.SYSTEM,
        )
    assert not WebhookDelivery.objects.exists()


def test_events_by_commitment_id_load_no_commitment_when_no_endpoint_exists(manager):
    """The reminder sweep hands over thousands of ids at once: with no endpoint, one query
    (the endpoints), no commitment read; with one, the same deliveries as by instance."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    overdue = [CommitmentFactory(), CommitmentFactory()]
    items = [("commitment.overdue", c.pk, {"days_overdue": 7}) for c in overdue]
    with CaptureQueriesContext(connection) as ctx:
        assert webhooks.webhook_events_record_by_id(items=items) == []
    assert len(ctx.captured_queries) == 1
    assert "commitments_commitment" not in ctx.captured_queries[0]["sql"]
    # Items given lazily are not even made (the sweep derives them from every row).
    made = []

    def lazily():
        for item in items:
            made.append(item)
            yield item

    assert webhooks.webhook_events_record_by_id(items=lazily()) == []
    assert made == []
    WebhookEndpoint.objects.create(
        owner=manager, url="https://hooks.example.org/in", secret=SECRET, events=ALL
    )
    with mock.patch.object(webhooks, "_enqueue"):
        webhooks.webhook_events_record_by_id(items=items)
    sent = WebhookDelivery.objects.order_by("commitment_id")
    assert [(d.commitment_id, d.event) for d in sent] == [
        (c.pk, "commitment.overdue") for c in overdue
    ]
    assert json.loads(sent[0].body)["data"] == {"days_overdue": 7}
    with pytest.raises(ValueError, match="unknown webhook event"):
        webhooks.webhook_events_record_by_id(items=[("commitment.nope", overdue[0].pk, None)])


def test_filters_by_event_visit_and_sector(manager, commitment):
    visit = commitment.visit
    WebhookEndpoint.objects.create(
        owner=manager, url="https://a.example.org", secret=SECRET, events=["commitment.created"]
    )
    WebhookEndpoint.objects.create(
        owner=manager,
        url="https://b.example.org",
        secret=SECRET,
        events=ALL,
        visit=VisitFactory(),
    )
    only_here = WebhookEndpoint.objects.create(
        owner=manager, url="https://c.example.org", secret=SECRET, events=ALL, visit=visit
    )
    WebhookEndpoint.objects.create(
        owner=manager, url="https://d.example.org", secret=SECRET, events=ALL, sector="health"
    )
    services.commitment_transition(
        commitment_id=commitment.pk, to_status=Status.AGREED, actor=None, channel=Channel.SYSTEM
    )
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [only_here.pk]


def test_the_overdue_and_escalation_sweep_records_events(hook, officer, settings):
    from commitments.services.reminders import reminders_sweep

    late = CommitmentFactory(owner=officer, due_date=timezone.localdate() - dt.timedelta(days=14))
    reminders_sweep()
    assert sorted(events()) == ["commitment.escalated", "commitment.overdue"]
    reminders_sweep()  # a second sweep plans nothing new: no second event
    assert len(events()) == 2
    body = json.loads(WebhookDelivery.objects.get(event="commitment.escalated").body)
    assert body["commitment"]["id"] == late.pk and body["data"] == {"days_overdue": 14}


# --- Signature ------------------------------------------------------------------------------


def documented_verify(secret: str, header: str, body: bytes) -> bool:
    """docs/webhooks.md's recipe, written out independently of the code that signs."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), fields["v1"])


def test_signature_verifies_with_the_documented_recipe_and_fails_when_one_byte_changes():
    body = b'{"id":"1","event":"commitment.created","commitment":{"title":"Caf\xc3\xa9"}}'
    header = webhooks.webhook_signature(secret=SECRET, timestamp=int(time.time()), body=body)
    assert header.startswith("t=") and ",v1=" in header
    assert documented_verify(SECRET, header, body)
    assert webhooks.webhook_signature_verify(secret=SECRET, header=header, body=body)
    for index in range(len(body)):
        changed = bytearray(body)
        changed[index] ^= 0x01
        assert not documented_verify(SECRET, header, bytes(changed))
    assert not documented_verify("another-secret-entirely", header, body)
    old = webhooks.webhook_signature(secret=SECRET, timestamp=int(time.time()) - 3600, body=body)
    assert not webhooks.webhook_signature_verify(secret=SECRET, header=old, body=body)


# --- SSRF guard ------------------------------------------------------------------------------


def queued(endpoint, commitment=None) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        commitment=commitment,
        event="commitment.created",
        event_id="00000000-0000-0000-0000-000000000001",
        delivery_id=f"00000000-0000-0000-0000-{WebhookDelivery.objects.count() + 1:012d}",
        body="{}",
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1),
    )


@pytest.mark.parametrize(
    ("url", "resolves_to"),
    [
        ("http://127.0.0.1:8000/hook", None),
        ("http://[::1]/hook", None),
        ("http://169.254.169.254/latest/meta-data/", None),
        ("http://10.1.2.3/hook", None),
        ("http://localhost/hook", None),
        ("https://innocent.example.org/hook", ["127.0.0.1"]),
        ("https://mixed.example.org/hook", ["93.184.215.14", "192.168.1.5"]),
        ("http://[::ffff:127.0.0.1]/hook", None),
    ],
)
def test_non_public_addresses_are_refused_at_send_time_and_never_connected(
    manager, url, resolves_to, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    endpoint = WebhookEndpoint.objects.create(owner=manager, url=url, secret=SECRET, events=ALL)
    delivery = queued(endpoint)
    with contextlib.ExitStack() as stack:
        post = stack.enter_context(
            mock.patch.object(webhooks, "_open", side_effect=AssertionError("connected"))
        )
        if resolves_to is not None:
            # A DNS name that resolves to a refused address (a resolver stub, no /etc/hosts).
            stack.enter_context(
                mock.patch.object(webhooks, "resolve_host", return_value=resolves_to)
            )
        outcome = webhooks.webhook_send(delivery_id=delivery.pk)
    assert outcome.status == "failed"
    assert not post.called
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.FAILED
    assert delivery.last_error.startswith("refused:")
    assert "WEBHOOK_ALLOW_PRIVATE" in delivery.last_error


class _Receiver:
    """A local HTTP(S) receiver recording the Host header, path and body of each POST."""

    def __init__(self, context=None):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.headers["Host"], self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        if context:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_connection_goes_to_the_address_that_was_checked_not_a_second_lookup(manager, settings):
    # DNS rebinding: the name is resolved once, for the check, and the request goes to
    # that address. The name here cannot be resolved at all, so a second lookup (as the
    # HTTP client made before) fails; the Host header still carries the name.
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver = _Receiver()
    try:
        url = f"http://hook.example.invalid:{receiver.port}/in?x=1"
        endpoint = WebhookEndpoint.objects.create(owner=manager, url=url, secret=SECRET, events=ALL)
        delivery = queued(endpoint)
        with mock.patch.object(webhooks, "resolve_host", return_value=["127.0.0.1"]) as stub:
            outcome = webhooks.webhook_send(delivery_id=delivery.pk)
    finally:
        receiver.stop()
    assert outcome.status == "delivered", WebhookDelivery.objects.get(pk=delivery.pk).last_error
    assert stub.call_count == 1
    ((host, path, headers, body),) = receiver.received
    assert host == f"hook.example.invalid:{receiver.port}" and path == "/in?x=1"
    assert documented_verify(SECRET, headers["X-Tracker-Signature"], body)


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate for hook.example.test (openssl, no extra package)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hook.example.test",
         "-addext", "subjectAltName=DNS:hook.example.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.mark.parametrize(
    ("name", "delivered"), [("hook.example.test", True), ("other.example", False)]
)
def test_https_to_the_checked_address_verifies_the_certificate_for_the_url_host_name(
    manager, settings, tls_files, name, delivered
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    key, cert = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver = _Receiver(context)
    try:
        url = f"https://{name}:{receiver.port}/in"
        endpoint = WebhookEndpoint.objects.create(owner=manager, url=url, secret=SECRET, events=ALL)
        delivery = queued(endpoint)
        with (
            mock.patch.object(webhooks, "resolve_host", return_value=["127.0.0.1"]),
            mock.patch.object(webhooks, "ca_bundle", return_value=str(cert)),
        ):
            outcome = webhooks.webhook_send(delivery_id=delivery.pk)
    finally:
        receiver.stop()
    delivery.refresh_from_db()
    if delivered:
        assert outcome.status == "delivered", delivery.last_error
        assert [r[0] for r in receiver.received] == [f"{name}:{receiver.port}"]
    else:
        # The certificate names another host: no request is sent, the attempt is retried.
        assert outcome.status == "retry" and receiver.received == []
        assert "certificate" in delivery.last_error.lower() or "ssl" in delivery.last_error.lower()


def test_private_addresses_are_allowed_with_the_setting(manager, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert webhooks.webhook_check_destination("http://127.0.0.1:9/hook") == ["127.0.0.1"]


def test_only_http_and_https_endpoints_are_accepted(manager):
    for url in ("ftp://example.org/x", "file:///etc/passwd", "gopher://example.org", "example"):
        with pytest.raises(Exception, match="http"):
            services.webhook_endpoint_create(
                actor=manager, data={"url": url, "secret": SECRET, "events": ALL}
            )
    assert not WebhookEndpoint.objects.exists()


# --- Claim, order, backoff ------------------------------------------------------------------


def test_a_later_delivery_of_the_same_commitment_waits_for_the_earlier_one(hook, commitment):
    first, second = queued(hook, commitment), queued(hook, commitment)
    other = queued(hook, CommitmentFactory())
    assert webhooks.webhook_claim(delivery_id=second.pk) is None
    assert webhooks.webhook_claim(delivery_id=other.pk) is not None  # another line: free
    lease = webhooks.webhook_claim(delivery_id=first.pk)
    assert lease is not None
    assert webhooks.webhook_claim(delivery_id=first.pk) is None  # held: nobody else
    assert webhooks.webhook_claim(delivery_id=second.pk) is None
    WebhookDelivery.objects.filter(pk=first.pk).update(state="delivered")
    assert webhooks.webhook_claim(delivery_id=second.pk) is not None


def test_an_expired_lease_can_be_claimed_again(hook, commitment):
    delivery = queued(hook, commitment)
    now = timezone.now()
    assert webhooks.webhook_claim(delivery_id=delivery.pk, now=now) is not None
    later = now + dt.timedelta(seconds=hook_lease() + 1)
    assert webhooks.webhook_claim(delivery_id=delivery.pk, now=later) is not None
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def hook_lease() -> int:
    from django.conf import settings

    return settings.WEBHOOK_LEASE_SECONDS


def test_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_CAP_SECONDS = 3600
    assert [webhooks.webhook_backoff(n) for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip


def test_a_failed_attempt_is_retried_later_not_now(hook, commitment, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    delivery = queued(hook, commitment)
    with (
        mock.patch.object(webhooks, "resolve_host", return_value=["93.184.215.14"]),
        mock.patch.object(webhooks, "_open", side_effect=OSError("connection refused")),
    ):
        outcome = webhooks.webhook_send(delivery_id=delivery.pk)
    assert outcome.status == "retry" and outcome.retry_in == settings.WEBHOOK_RETRY_BASE_SECONDS
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.next_attempt_at > timezone.now()
    assert webhooks.webhook_claim(delivery_id=delivery.pk) is None  # not before its time


# --- API ----------------------------------------------------------------------------------


def test_api_create_list_deliveries_test_and_redeliver(manager, hook):
    api = bearer_client(manager)
    created = api.post(
        "/api/v1/webhooks/",
        {"url": "https://x.example.org/in", "secret": SECRET, "events": ["commitment.created"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert "secret" not in body and body["events"] == ["commitment.created"]
    assert body["owner"] == manager.username
    listed = api.get("/api/v1/webhooks/").json()["results"]
    assert {e["url"] for e in listed} == {"https://x.example.org/in", hook.url}
    test = api.post(f"/api/v1/webhooks/{hook.pk}/test/")
    assert test.status_code == 202 and test.json()["event"] == "webhook.test"
    deliveries = api.get(f"/api/v1/webhooks/{hook.pk}/deliveries/").json()["results"]
    assert [d["event"] for d in deliveries] == ["webhook.test"]
    assert {"state", "attempts", "response_code", "duration_ms"} <= set(deliveries[0])
    again = api.post(f"/api/v1/webhooks/{hook.pk}/deliveries/{deliveries[0]['id']}/redeliver/")
    assert again.status_code == 202
    assert again.json()["event_id"] == deliveries[0]["event_id"]
    assert again.json()["delivery_id"] != deliveries[0]["delivery_id"]
    paused = api.patch(f"/api/v1/webhooks/{hook.pk}/", {"state": "paused"}, format="json")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert api.delete(f"/api/v1/webhooks/{hook.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=hook.pk).exists()


def test_api_refuses_bad_urls_officers_viewers_and_read_tokens(manager, officer, viewer, hook):
    bad = bearer_client(manager).post(
        "/api/v1/webhooks/",
        {"url": "ftp://x.example.org", "secret": SECRET, "events": ["commitment.created"]},
        format="json",
    )
    assert bad.status_code in (400, 422) and "url" in bad.json()["errors"]
    bad_event = bearer_client(manager).post(
        "/api/v1/webhooks/",
        {"url": "https://x.example.org", "secret": SECRET, "events": ["commitment.deleted"]},
        format="json",
    )
    assert bad_event.status_code in (400, 422)
    for client in (bearer_client(officer), bearer_client(viewer), bearer_client(manager, "read")):
        assert client.get("/api/v1/webhooks/").status_code == 403
        assert client.post(f"/api/v1/webhooks/{hook.pk}/test/").status_code == 403
    assert WebhookEndpoint.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


# --- Browser ------------------------------------------------------------------------------


def test_webhook_pages_for_managers_with_test_and_redeliver_buttons(client, manager, hook):
    client.force_login(manager)
    page = client.get("/webhooks/")
    assert page.status_code == 200 and hook.url in page.text
    client.post(f"/webhooks/{hook.pk}/test/")
    delivery = WebhookDelivery.objects.get()
    detail = client.get(f"/webhooks/{hook.pk}/")
    assert "Send test event" in detail.text and "Redeliver" in detail.text
    assert "webhook.test" in detail.text
    client.post(f"/webhooks/{hook.pk}/redeliver/", {"delivery": delivery.pk})
    assert WebhookDelivery.objects.count() == 2
    created = client.post(
        "/webhooks/",
        {"url": "https://y.example.org/in", "secret": SECRET, "events": ["commitment.overdue"]},
    )
    assert created.status_code == 302
    refused = client.post(
        "/webhooks/", {"url": "file:///etc/passwd", "secret": SECRET, "events": ALL[:1]}
    )
    assert refused.status_code == 400 and WebhookEndpoint.objects.count() == 2


def test_the_delivery_log_shows_times_in_the_viewers_zone_and_names_it(client, manager, hook):
    """As on every other page: a Kabul manager reads Kabul time, with the zone said."""
    from commitments.models import Profile

    Profile.objects.filter(user=manager).update(time_zone="Asia/Kabul")
    client.force_login(manager)
    client.post(f"/webhooks/{hook.pk}/test/")
    delivery = WebhookDelivery.objects.get()
    kabul = delivery.created_at.astimezone(zoneinfo.ZoneInfo("Asia/Kabul"))
    detail = client.get(f"/webhooks/{hook.pk}/").text
    assert f"{kabul:%H:%M:%S} Asia/Kabul" in detail


def test_webhook_pages_are_for_managers_only(client, officer, hook):
    client.force_login(officer)
    assert client.get("/webhooks/").status_code == 403
    assert client.post(f"/webhooks/{hook.pk}/test/").status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_the_receiver_example_in_the_docs_accepts_our_signature_and_refuses_a_changed_body():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "webhooks.md").read_text()
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(example.split("class Hook", 1)[0], namespace)  # noqa: S102 (our own docs)
    secret = namespace["SECRET"].decode()
    body = b'{"id":"1","event":"commitment.note_added"}'
    header = webhooks.webhook_signature(secret=secret, timestamp=int(time.time()), body=body)
    assert namespace["signature_ok"](header, body)
    assert not namespace["signature_ok"](header, body.replace(b"1", b"2"))
    assert not namespace["signature_ok"]("garbage", body)
