"""Webhooks end to end: a real Celery worker, a real Redis, a real HTTP receiver.

What is counted is what the receiver got (by X-Tracker-Delivery), checked with the
signature recipe of docs/webhooks.md, not what the code says it did.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from commitments import services
from commitments.models import Channel, Status, WebhookDelivery, WebhookEndpoint
from commitments.services.webhooks import webhooks_dispatch

from ..factories import UserFactory, bulk_commitments
from .conftest import (
    assert_twice_only_in_window,
    free_port,
    kill_mid_batch,
    use_broker,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SECRET = "integration-test-secret-0123456789"
State = WebhookDelivery.State


def verify(header: str, body: bytes, secret: str = SECRET) -> bool:
    """The receiver's recipe, written out as docs/webhooks.md gives it."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) < 300


class Receiver:
    """A threaded http.server that records every POST; `status` is what it answers."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.status = 200
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append(
                        {
                            "delivery": self.headers["X-Tracker-Delivery"],
                            "event": self.headers["X-Tracker-Event"],
                            "signed": verify(self.headers["X-Tracker-Signature"], body),
                            "body": json.loads(body),
                            "status": receiver.status,
                        }
                    )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ok(self) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["status"] == 200]

    def deliveries(self) -> collections.Counter:
        return collections.Counter(r["delivery"] for r in self.ok())


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def webhook_settings(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return settings


def worker_env(**extra) -> dict:
    return {"WEBHOOK_ALLOW_PRIVATE": "1", **{k: str(v) for k, v in extra.items()}}


def seed(n: int) -> list[int]:
    return bulk_commitments(n, prefix="WH", status=Status.PROPOSED)


def endpoint(url: str, *, owner=None, events=("commitment.status_changed",)) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        owner=owner or UserFactory(username="hook-owner"),
        url=url,
        secret=SECRET,
        events=list(events),
    )


def move(pk: int, to: str) -> None:
    services.commitment_transition(
        commitment_id=pk, to_status=to, actor=None, channel=Channel.SYSTEM
    )


def moves(ids: list[int], rounds: int) -> None:
    """`rounds` status changes per commitment: proposed → agreed, then in progress and
    agreed by turns."""
    for step in range(rounds):
        to = Status.AGREED if step % 2 == 0 else Status.IN_PROGRESS
        for pk in ids:
            move(pk, to)


def assert_in_order(received: list[dict]) -> None:
    versions = collections.defaultdict(list)
    for r in received:
        versions[r["body"]["commitment"]["id"]].append(r["body"]["commitment"]["version"])
    for pk, seen in versions.items():
        assert seen == sorted(seen), f"commitment {pk} delivered out of order: {seen}"


def test_1000_status_changes_give_1000_signed_deliveries_in_order_none_for_a_rollback(
    receiver, redis_url, start_worker, smtp_sink, webhook_settings
):
    ids = seed(100)
    endpoint(receiver.url)
    with use_broker(redis_url):
        start_worker(redis=redis_url, smtp_port=smtp_sink[1], **worker_env())
        moves(ids, 10)
        with pytest.raises(RuntimeError), transaction.atomic():
            services.commitment_transition(
                commitment_id=ids[0],
                to_status=Status.CANCELLED,
                actor=None,
                channel=Channel.SYSTEM,
                note="rolled back",
            )
            raise RuntimeError("roll back")
        assert wait_until(
            lambda: WebhookDelivery.objects.filter(state=State.DELIVERED).count() == 1000,
            timeout=240,
            every=1,
        )
        time.sleep(1)
    received = receiver.ok()
    assert len(received) == 1000
    assert max(receiver.deliveries().values()) == 1
    assert all(r["signed"] for r in received)
    assert {r["event"] for r in received} == {"commitment.status_changed"}
    assert not [r for r in received if r["body"]["commitment"]["status"] == "cancelled"]
    assert WebhookDelivery.objects.count() == 1000
    assert_in_order(received)


def test_worker_killed_mid_batch_all_delivered_none_twice_outside_the_window(
    receiver, redis_url, start_worker, smtp_sink, webhook_settings
):
    webhook_settings.WEBHOOK_REQUEUE_SECONDS = 2
    ids = seed(50)
    endpoint(receiver.url)
    env = worker_env(WEBHOOK_LEASE_SECONDS=5)
    with use_broker(redis_url):
        moves(ids, 10)  # 500 deliveries waiting before any worker runs
        # Received but not recorded: the worker died between the answer and the UPDATE.
        delivered = WebhookDelivery.objects.filter(state=State.DELIVERED)
        done = delivered.values_list("delivery_id", flat=True)
        start = partial(start_worker, redis=redis_url, smtp_port=smtp_sink[1], **env)
        window = kill_mid_batch(start, receiver.deliveries, done.all, action=webhooks_dispatch)
    counts = receiver.deliveries()
    assert len(counts) == 500
    assert_twice_only_in_window(counts, window)
    assert_in_order(receiver.ok())


def test_receiver_down_then_up_deliveries_resume_with_backoff(
    redis_url, start_worker, smtp_sink, webhook_settings
):
    port = free_port()
    ids = seed(5)
    hook = endpoint(f"http://127.0.0.1:{port}/hook")
    env = worker_env(WEBHOOK_RETRY_BASE_SECONDS=1, WEBHOOK_RETRY_CAP_SECONDS=2)
    with use_broker(redis_url):
        start_worker(redis=redis_url, smtp_port=smtp_sink[1], **env)
        moves(ids, 2)  # 10 deliveries; nobody listens on the port yet
        assert wait_until(
            lambda: WebhookDelivery.objects.filter(attempts__gte=3).count() == len(ids),
            timeout=60,
        )
        assert not WebhookDelivery.objects.filter(state=State.DELIVERED).exists()
        waiting = WebhookDelivery.objects.filter(attempts__gte=3).first()
        assert "ConnectionError" in waiting.last_error
        # Backoff: the next attempt is 1-2 s after the last, not immediately.
        assert waiting.next_attempt_at > waiting.queued_at
        server = Receiver(port).start()
        try:
            assert wait_until(
                lambda: WebhookDelivery.objects.filter(state=State.DELIVERED).count() == 10,
                timeout=60,
                action=webhooks_dispatch,
            )
        finally:
            server.stop()
    assert len(server.deliveries()) == 10
    assert_in_order(server.ok())
    hook.refresh_from_db()
    assert hook.state == WebhookEndpoint.State.ACTIVE and hook.consecutive_failures == 0


def test_receiver_failing_for_ever_pauses_the_endpoint_and_emails_its_owner_once(
    receiver, redis_url, start_worker, smtp_sink, webhook_settings
):
    sink, smtp_port = smtp_sink
    receiver.status = 500
    ids = seed(3)
    owner = UserFactory(username="hook-owner", email="hooks@example.org")
    hook = endpoint(receiver.url, owner=owner)
    env = worker_env(
        WEBHOOK_RETRY_BASE_SECONDS=1, WEBHOOK_RETRY_CAP_SECONDS=1, WEBHOOK_PAUSE_AFTER_FAILURES=5
    )
    with use_broker(redis_url):
        start_worker(redis=redis_url, smtp_port=smtp_port, **env)
        moves(ids, 1)
        assert wait_until(
            lambda: WebhookEndpoint.objects.get(pk=hook.pk).state == "paused", timeout=60
        )
        sink.wait_for(1, timeout=30)
        calls_at_pause = len(receiver.received)
        time.sleep(4)  # retries would have come in this time; a paused endpoint gets none
        webhooks_dispatch()
        time.sleep(1)
    assert len(receiver.received) <= calls_at_pause + 2  # in flight when it paused
    hook.refresh_from_db()
    assert "HTTP 500" in hook.paused_reason
    assert len(sink.messages) == 1
    (mail,) = sink.messages
    assert mail["To"] == "hooks@example.org"
    assert mail["Subject"].startswith("Webhook paused")
    assert not WebhookDelivery.objects.filter(state=State.DELIVERED).exists()
    # Nothing was dropped: the events wait for the endpoint to be resumed.
    assert WebhookDelivery.objects.filter(state=State.PENDING).count() == len(ids)
