"""Benchmark of the REST API on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres bench5
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench5 .venv/bin/python scripts/bench_api.py

Migrates, seeds 100,000 commitments when fewer exist (seed_demo), then measures, in
process through the whole Django stack (middleware, token auth, throttles, filters,
pagination, JSON rendering):

- the median time of GET /api/v1/commitments/?page_size=100;
- the floor: the same 100 rows by one raw SQL query, encoded to JSON;
- their ratio (aim: under 3);
- the time of one 1,000-item POST /api/v1/sync/commitments/ (creates), and of the
  same batch again (updates) (aim: under 2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from commitments import services  # noqa: E402
from commitments.models import Commitment, Organisation, Role, Visit  # noqa: E402

FLOOR_SQL = """
    SELECT c.id, c.reference, c.external_id, c.title, c.description, c.visit_id,
           c.parent_id, c.sector, c.nature, c.status, c.due_date, c.next_follow_up_at,
           c.follow_up_every_days, c.snoozed_until, c.status_changed_at, u.username,
           c.pledged_by_id, c.beneficiary_id, c.amount, c.currency, c.progress,
           c.source_id, c.source_quote, c.version, c.change_seq, c.created_at, c.updated_at
    FROM commitments_commitment c LEFT JOIN auth_user u ON u.id = c.owner_id
    ORDER BY c.change_seq, c.id
    LIMIT 100
"""


def _median_ms(fn, runs: int) -> float:
    for _ in range(5):
        fn()  # warm caches and connections
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commitments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    if connection.vendor != "postgresql":
        sys.exit("Run on PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench5")
    # The in-process client speaks to "testserver"; throttling is not what is measured.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.API_THROTTLE_RATES = {"token": "1000000/minute", "user": "1000000/minute"}

    call_command("migrate", verbosity=0)
    have = Commitment.objects.count()
    if have < args.commitments:
        call_command("seed_demo", commitments=args.commitments - have)
    # Planner statistics after the bulk load, as autovacuum would gather shortly.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    total = Commitment.objects.count()

    manager, _ = get_user_model().objects.get_or_create(username="bench-manager")
    manager.groups.add(Group.objects.get_or_create(name=Role.MANAGER)[0])
    _token, raw = services.api_token_issue(name="bench", user=manager, scope="write")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def api_list():
        response = client.get("/api/v1/commitments/?page_size=100", secure=True)
        assert response.status_code == 200, response.content[:300]
        assert len(json.loads(response.content)["results"]) == 100

    def floor():
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL)
            names = [col.name for col in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        body = json.dumps(rows, default=str).encode()
        assert len(rows) == 100 and body

    api_ms = _median_ms(api_list, args.runs)
    floor_ms = _median_ms(floor, args.runs)

    visit = Visit.objects.order_by("-pk").first()
    orgs = list(Organisation.objects.values_list("pk", flat=True)[:20])
    run = uuid.uuid4().hex[:8]
    items = [
        {
            "external_id": f"bench-{run}-{i}",
            "title": f"Bench pledge {i}",
            "visit": visit.pk,
            "sector": "trade",
            "nature": "agreement",
            "pledged_by": orgs[i % len(orgs)],
            "beneficiary": orgs[(i + 1) % len(orgs)],
            "owner": "bench-manager",
            "amount": "1000.00",
            "currency": "USD",
        }
        for i in range(1000)
    ]

    def sync(batch):
        start = time.perf_counter()
        response = client.post(
            "/api/v1/sync/commitments/",
            json.dumps({"commitments": batch}),
            content_type="application/json",
            secure=True,
        )
        elapsed = time.perf_counter() - start
        body = json.loads(response.content)
        assert response.status_code == 200 and body["errors"] == 0, body.get("results", body)[:3]
        return elapsed, body

    create_s, created = sync(items)
    update_s, updated = sync([{**item, "title": item["title"] + " (v2)"} for item in items])
    unchanged_s, unchanged = sync([{**item, "title": item["title"] + " (v2)"} for item in items])

    # One create into the biggest visit: flat in size with the per-visit reference counter
    # (it used to scan the visit's references: 266 ms at 100k).
    from django.test.utils import CaptureQueriesContext

    one = {"visit": visit, "sector": "trade", "nature": "intention", "owner": manager}
    one["pledged_by"] = Organisation.objects.get(pk=orgs[0])
    create_times, queries = [], 0
    for i in range(15):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            services.commitment_create(
                actor=manager, channel="api", data={**one, "title": f"Bench one {run} {i}"}
            )
            create_times.append((time.perf_counter() - start) * 1000)
        queries = len(ctx.captured_queries)

    print(f"database: {connection.settings_dict['NAME']} ({total} commitments)")
    print(f"list of 100 via API, median of {args.runs}: {api_ms:.2f} ms")
    print(f"raw SQL + json.dumps floor, median of {args.runs}: {floor_ms:.2f} ms")
    print(f"ratio API / floor: {api_ms / floor_ms:.2f} (aim < 3)")
    print(f"sync 1,000 items, all new: {create_s:.2f} s ({created['created']} created)")
    print(f"sync 1,000 items, all changed: {update_s:.2f} s ({updated['updated']} updated)")
    print(
        f"sync 1,000 items, none changed: {unchanged_s:.2f} s ({unchanged['unchanged']} unchanged)"
    )
    print(
        f"one create in visit {visit.code}, median of 15: "
        f"{statistics.median(create_times):.1f} ms, {queries} queries"
    )


if __name__ == "__main__":
    main()
