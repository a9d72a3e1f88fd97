"""A broker that fails is left alone for a while by this process (issue 9: a hung Redis
costs a write a bounded delay, not a socket timeout per queued task per request)."""

from __future__ import annotations

import time

import pytest

from commitments.redis_clients import CacheCircuit
from commitments.services import queueing
from commitments.services.queueing import BrokerCircuit, BrokerUnavailable, task_queue
from tracker.celery import app


@pytest.fixture
def broker(monkeypatch):
    """app.send_task replaced: records each call; raises while `broker.down` is set."""

    class Broker:
        down = False
        calls: list[str] = []

    def send_task(name, args=None, countdown=None, **options):
        Broker.calls.append(name)
        if Broker.down:
            raise TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(app, "send_task", send_task)
    Broker.calls = []
    return Broker


def test_after_a_failed_publish_the_broker_is_not_tried_until_the_retry_time(broker, caplog):
    broker.down = True
    with pytest.raises(TimeoutError):
        task_queue("commitments.tasks.deliver_webhook", 1)
    for _ in range(3):
        with pytest.raises(BrokerUnavailable):
            task_queue("commitments.tasks.deliver_webhook", 2)
    assert broker.calls == ["commitments.tasks.deliver_webhook"]  # tried once, not four times
    assert caplog.text.count("broker unavailable (TimeoutError") == 1
    assert "Traceback" not in caplog.text

    broker.down = False
    BrokerCircuit.down_until = time.monotonic() - 1  # the retry time has come
    task_queue("commitments.tasks.deliver_webhook", 3)
    assert len(broker.calls) == 2
    task_queue("commitments.tasks.deliver_webhook", 4)
    assert len(broker.calls) == 3


def test_a_working_broker_is_used_every_time(broker):
    for i in range(3):
        task_queue("commitments.tasks.deliver_webhook", i)
    assert len(broker.calls) == 3
    assert not BrokerCircuit.is_open()


def test_a_cache_known_down_skips_the_broker_on_the_same_redis(broker):
    CacheCircuit.down_until = time.monotonic() + queueing.BROKER_RETRY_SECONDS
    with pytest.raises(BrokerUnavailable):
        task_queue("commitments.tasks.deliver_webhook", 1)
    assert broker.calls == []
    CacheCircuit.reset()
    task_queue("commitments.tasks.deliver_webhook", 1)
    assert broker.calls == ["commitments.tasks.deliver_webhook"]
