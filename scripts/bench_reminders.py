"""Benchmark of the reminder sweep and of delivery, on a seeded database.

    createdb -h 127.0.0.1 -U postgres bench4
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench4
    python manage.py migrate && python manage.py seed_demo --commitments 100000
    REDIS_URL=redis://127.0.0.1:6379/4 python scripts/bench_reminders.py [--runs 5] [--emails 2000]

Measures, with the outbox emptied before each run:
- the sweep (plan + bulk insert + marking what is due as queued), median of --runs, and
  its number of queries; then the same sweep again with nothing new (steady state);
- delivery: a real `celery -A tracker worker` with default settings (prefork, one process
  per CPU) sending --emails reminders, queued in batches as the sweep queues them, to a
  local aiosmtpd sink; emails per second from the first task queued to the last message
  received, and whether any was lost or received twice (by Message-ID).
Deletes the reminders it made when done. Without REDIS_URL an embedded Redis is used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

import django  # noqa: E402

django.setup()

from aiosmtpd.controller import Controller  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from commitments.models import Commitment, Reminder  # noqa: E402
from commitments.services import reminders  # noqa: E402
from commitments.services.reminders import message_id_for, sweep  # noqa: E402
from tracker.embedded_redis import celery_broker_url, configured_or_embedded  # noqa: E402

# The sink is the instrument, not what is measured: aiosmtpd logs five lines per message
# at INFO ("mail.log"), which this project's JSON logging formats (11,942 lines in a run
# of 2,313 emails), on the two CPUs that the worker's two processes need.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class Sink:
    def __init__(self):
        self.count = 0
        self.last = 0.0
        self.lock = threading.Lock()
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content.decode("utf-8", "replace")
        message_id = next(
            (
                line.split(":", 1)[1].strip()
                for line in content.splitlines()
                if line.lower().startswith("message-id:")
            ),
            "",
        )
        with self.lock:
            self.count += 1
            self.last = time.perf_counter()
            self.message_ids.append(message_id)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clear() -> None:
    # TRUNCATE, not DELETE: deleted rows stay in the table and its indexes until a VACUUM
    # (autovacuum may be off), and each run's INSERT then walked more dead entries.
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Reminder._meta.db_table}")


def sweep_without_queueing(now: dt.datetime, **kwargs):
    """The sweep's database work; the queueing to Redis is timed on its own below."""
    # The sweep module's own name: patching the package's (as this script did after the
    # reminders package split) left the sweep queueing every task to Redis while timed.
    original = sweep._enqueue
    sweep._enqueue = lambda ids: None
    try:
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            result = reminders.reminders_sweep(now=now, **kwargs)
            elapsed = time.perf_counter() - started
    finally:
        sweep._enqueue = original
    return elapsed, len(ctx.captured_queries), result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--emails", type=int, default=2000)
    args = parser.parse_args()

    total = Commitment.objects.count()
    open_count = Commitment.objects.open().count()
    # A fixed hour at which every seeded zone (Kabul to New York) is in its working day.
    # The last such hour that has passed (today's, or yesterday's before 13:00 UTC).
    noon = timezone.now().replace(hour=13, minute=0, second=0, microsecond=0)
    now = noon if noon <= timezone.now() else noon - dt.timedelta(days=1)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"commitments: {total} ({open_count} open); sweep at {now:%Y-%m-%d %H:%M} UTC")

    cold, warm, whole = [], [], []
    for _ in range(args.runs):
        clear()
        elapsed, queries, result = sweep_without_queueing(now)
        cold.append((elapsed, queries, result))
        # Beat's sweep a minute later (incremental: nothing changed since).
        later = now + dt.timedelta(minutes=1)
        warm.append(sweep_without_queueing(later, incremental=True))
        # The same with a whole plan (worker start, send_reminders, hourly).
        whole.append(sweep_without_queueing(later + dt.timedelta(minutes=1)))
    result = cold[-1][2]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.by_kind.items()))
    print(
        f"sweep, empty outbox: median {statistics.median(t for t, _, _ in cold):.3f}s "
        f"over {args.runs} runs, queries {sorted({q for _, q, _ in cold})}, "
        f"created {result.created} ({kinds}), "
        f"queued {len(result.queued)} "
        f"({len(result.queued) / max(total, 1):.1%} of all commitments)"
    )
    print(
        f"sweep, nothing new (beat's, incremental): median "
        f"{statistics.median(t for t, _, _ in warm):.3f}s, "
        f"queries {sorted({q for _, q, _ in warm})}, created {warm[-1][2].created}"
    )
    print(
        "sweep, nothing new (whole plan): median "
        f"{statistics.median(t for t, _, _ in whole):.3f}s, "
        f"queries {sorted({q for _, q, _ in whole})}, created {whole[-1][2].created}"
    )

    ids = result.queued[: args.emails]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    worker = None
    try:
        with configured_or_embedded() as url:
            from tracker.celery import app

            app.conf.broker_url = celery_broker_url(url)
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge("celery")
            env = {
                **os.environ,
                "REDIS_URL": url,
                "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
            }
            worker = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("celery")),
                    "-A",
                    "tracker",
                    "worker",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=BASE_DIR,
                env=env,
                start_new_session=True,
            )
            # The worker sweeps once when it starts (tracker/celery.py) and queues every
            # due reminder: let that sweep finish, then drop what it queued, so the clock
            # measures the batches below on an otherwise idle worker.
            from commitments.models import Heartbeat

            booted = timezone.now()
            deadline = time.monotonic() + 300
            while (
                time.monotonic() < deadline
                and not Heartbeat.objects.filter(
                    name="reminders-sweep", beat_at__gte=booted
                ).exists()
            ):
                time.sleep(0.5)
            time.sleep(2)
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge("celery")
            started = time.perf_counter()
            # As the sweep queues them: batches of ids, one SMTP connection per batch.
            from commitments.services.reminders.delivery import send_tasks_queue

            send_tasks_queue(ids)
            queued_in = time.perf_counter() - started
            expected = {
                message_id_for(r) for r in Reminder.objects.filter(pk__in=ids).only("kind", "slot")
            }
            # Wait for these emails themselves: counting every email stopped the clock
            # early when the start-up sweep's tasks (taken before the purge) arrived too.
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                with sink.lock:
                    if expected <= set(sink.message_ids):
                        break
                time.sleep(0.1)
            elapsed = sink.last - started
            print(
                f"queueing {len(ids)} send tasks: {queued_in:.2f}s ({len(ids) / queued_in:.0f}/s)"
            )
            time.sleep(2)  # anything sent twice arrives now
            received = set(sink.message_ids)
            # "others": tasks of the start-up sweep the purge missed (taken already).
            print(
                f"delivery: {len(expected & received)} of {len(ids)} emails in {elapsed:.1f}s, "
                f"lost {len(expected - received)}, received twice "
                f"{len(sink.message_ids) - len(received)}; with {len(received - expected)} "
                f"others its start-up sweep queued, {len(sink.message_ids) / elapsed:.1f} "
                f"emails/s (worker default settings, {os.cpu_count()} CPUs)"
            )
    finally:
        if worker and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        controller.stop()
        clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
