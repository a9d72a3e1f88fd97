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
from django.db import connection  # noqa: E402
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
    ("dashboard", "/"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--user", default="manager")
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
        for _ in range(args.warmup):
            assert client.get(url).status_code == 200, url
        timings = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, url
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        print(
            f"{name:32} {statistics.median(timings):10.1f} {min(timings):7.1f} "
            f"{max(timings):7.1f} {len(queries):8d}"
        )


if __name__ == "__main__":
    main()
