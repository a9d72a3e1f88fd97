"""Server-side time of the browser pages on a large data set.

Times requests through Django's test client (the whole request in-process: middleware,
queries, template rendering; no network), signed in as the demo manager, after a
warm-up, and prints the median, the fastest and slowest, and the query count per page.

    createdb / psql -c 'create database bench'   # a database of its own
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python manage.py migrate
    DATABASE_URL=... python manage.py load_demo
    DATABASE_URL=... python manage.py seed_demo --commitments 100000
    DATABASE_URL=... python scripts/bench_pages.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from commitments.models import Commitment  # noqa: E402

PAGES = [
    ("overdue list", "/commitments/overdue/"),
    ("overdue list, by owner", "/commitments/overdue/?group=owner"),
    ("overdue list, sector filter", "/commitments/overdue/?sector=trade"),
    ("overdue list, page 100", "/commitments/overdue/?page=100"),
    ("list page", "/commitments/"),
    ("list page, sorted by due date", "/commitments/?ordering=-due_date"),
    ("list page, two statuses", "/commitments/?status=blocked&status=agreed"),
    ("list page, search", "/commitments/?q=rail"),
    ("list page, search, no match", "/commitments/?q=zzqx"),
    ("dashboard", "/"),
]


CSV_URL = "/commitments/overdue/?format=csv"

# The floor of the overdue CSV: the same rows, names and last status change in one SQL
# statement through a server-side cursor, written by csv.writer; no Django on the way.
CSV_FLOOR_SQL = """
SELECT c.reference, c.title, c.status, %(today)s - c.due_date, c.due_date, u.username,
       p.name, b.name, c.sector, c.figure_kind, c.amount, c.currency, c.figure_year,
       h.at, h.note, c.next_follow_up_at
FROM commitments_commitment c
JOIN commitments_organisation p ON p.id = c.pledged_by_id
LEFT JOIN commitments_organisation b ON b.id = c.beneficiary_id
LEFT JOIN auth_user u ON u.id = c.owner_id
LEFT JOIN LATERAL (
    SELECT s.at, s.note FROM commitments_statuschange s
    WHERE s.commitment_id = c.id ORDER BY s.version DESC LIMIT 1
) h ON true
WHERE c.due_date < %(today)s AND c.status NOT IN ('fulfilled', 'cancelled')
ORDER BY c.due_date, c.reference
"""


def _body(response) -> int:
    """Bytes of the whole answer (a streamed one is read to its end, as a client would)."""
    if response.streaming:
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def _csv_floor() -> int:
    import csv
    import io

    from commitments.models import today_local

    out = io.StringIO()
    writer = csv.writer(out)
    with connection.connection.cursor(name="csv_floor") as cursor:
        cursor.itersize = 2000
        cursor.execute(CSV_FLOOR_SQL, {"today": today_local()})
        for row in cursor:
            writer.writerow(row)
    return out.tell()


def _median_ms(fn, runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def bench_csv(client, runs: int) -> None:
    """The whole overdue CSV against its floor, interleaved run by run."""
    connection.ensure_connection()
    app, floor = [], []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(CSV_URL)
        size = _body(response)
        app.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
        with transaction.atomic():  # a server-side cursor lives in a transaction
            start = time.perf_counter()
            _csv_floor()
            floor.append((time.perf_counter() - start) * 1000)
    a, f = statistics.median(app), statistics.median(floor)
    print(f"{'overdue CSV, whole file':32} {a:10.1f} {'':>7} {'':>7} {'':>8}  {size / 1e6:.1f} MB")
    print(f"{'  its floor (SQL + csv.writer)':32} {f:10.1f}   ratio {a / f:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--user", default="manager")
    parser.add_argument("--only", default="", help="only the pages whose name has this")
    parser.add_argument("--csv-runs", type=int, default=3, help="whole-CSV runs (0: skip)")
    args = parser.parse_args()

    # The test client speaks plain HTTP to "testserver".
    settings.ALLOWED_HOSTS = ["*"]
    settings.SECURE_SSL_REDIRECT = False
    client = Client()
    client.force_login(get_user_model().objects.get(username=args.user))

    vendor = connection.vendor
    total = Commitment.objects.count()
    overdue = Commitment.objects.overdue().count()
    print(f"{vendor}: {total} commitments, {overdue} overdue; {args.runs} runs after warm-up")
    print(f"{'page':32} {'median ms':>10} {'min':>7} {'max':>7} {'queries':>8}")
    for name, url in PAGES:
        if args.only not in name:
            continue
        for _ in range(args.warmup):
            assert client.get(url).status_code == 200, url
        timings = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get(url)
            _body(response)
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, url
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        print(
            f"{name:32} {statistics.median(timings):10.1f} {min(timings):7.1f} "
            f"{max(timings):7.1f} {len(queries):8d}"
        )
    if args.csv_runs and vendor == "postgresql":
        bench_csv(client, args.csv_runs)


if __name__ == "__main__":
    main()
