"""The API over HTTP against its floors, measured interleaved in one run (issue 13).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/6 \
        .venv/bin/python scripts/bench_http.py [--rounds 5] [--seconds 3]

Starts two gunicorns with the project's gunicorn.conf.py and 2 sync workers each: the
tracker (tracker.wsgi) and the floor (scripts/bench_floor_app.py: the same SQL, json.dumps,
no framework). Then, alternating between the two so that a noisy machine hurts both alike:

- reads: GET /api/v1/commitments/?page_size=100 against the floor's GET /list, latency
  with 1 client (median) and requests per second with 8 clients;
- writes: a status transition over the API (GET for the ETag, then POST .../transitions/
  with If-Match, and POST alone with the ETag the previous answer gave) with 1 and 4
  clients, against the SQL floor (UPDATE + history INSERT in one transaction, psycopg,
  no HTTP) with 1 and 4 clients.

Prints every figure next to its floor and the ratio. Throttling stays on (Redis when
REDIS_URL is set) with rates too high to refuse anything: its cost is part of a request.
The database must hold seeded commitments (scripts/bench.py or seed_demo).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402

from commitments import services  # noqa: E402
from commitments.models import Commitment, Role, Status  # noqa: E402
from tracker.embedded_redis import configured_or_embedded  # noqa: E402

HOST = "127.0.0.1"
LIST_PATH = "/api/v1/commitments/?page_size=100"
TOGGLE = {Status.AGREED: Status.IN_PROGRESS, Status.IN_PROGRESS: Status.AGREED}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _serve(app: str, port: int, extra_env: dict[str, str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": HOST,
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "GUNICORN_MAX_REQUESTS": "0",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"gunicorn for {app} did not start on port {port}")


def _request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, response.headers, data
    finally:
        conn.close()


def _rate(worker, clients: int, seconds: float) -> float:
    """Operations per second of `clients` threads each calling worker(i) in a loop."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def run(i):
        while time.monotonic() < stop:
            worker(i)
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--requests", type=int, default=40, help="latency requests per round")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput block")
    parser.add_argument("--read-clients", type=int, default=8)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run on PostgreSQL: DATABASE_URL=postgres://...")

    manager, _ = get_user_model().objects.get_or_create(username="bench-manager")
    manager.groups.add(Group.objects.get_or_create(name=Role.MANAGER)[0])
    _token, raw = services.api_token_issue(name="bench-http", user=manager, scope="write")
    auth = {"Authorization": f"Bearer {raw}"}
    # Commitments that move back and forth between agreed and in progress: 4 per API
    # client, 4 per floor client, none shared.
    movable = list(
        Commitment.objects.filter(status__in=list(TOGGLE))
        .order_by("-id")
        .values_list("id", flat=True)[:64]
    )
    api_ids, floor_ids = movable[:32], movable[32:]
    total = Commitment.objects.count()
    connection.close()

    rates = "1000000000/minute"
    api_port, floor_port = _free_port(), _free_port()
    # Redis as in production (throttle counters, token lookups): REDIS_URL or an embedded one.
    with configured_or_embedded() as redis_url:
        servers = [
            _serve(
                "tracker.wsgi",
                api_port,
                {"API_RATE_PER_TOKEN": rates, "API_RATE_PER_USER": rates, "REDIS_URL": redis_url},
            ),
            _serve("bench_floor_app:app", floor_port, {"PYTHONPATH": str(ROOT / "scripts")}),
        ]
        try:
            _measure(args, api_port, floor_port, auth, api_ids, floor_ids, total)
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                server.wait(timeout=30)


def _measure(args, api_port, floor_port, auth, api_ids, floor_ids, total) -> None:
    def api_list(_i=0):
        status, _h, body = _request(api_port, "GET", LIST_PATH, auth)
        assert status == 200, body[:300]

    def floor_list(_i=0):
        status, _h, body = _request(floor_port, "GET", "/list")
        assert status == 200, body[:300]

    etags: dict[int, tuple[str, str]] = {}
    turns = [0] * 8  # per client: which of its own commitments is next

    def next_id(ids, i):
        turns[i] += 1
        return ids[i * 4 + turns[i] % 4]

    def api_move(i, *, read_first: bool):
        pk = next_id(api_ids, i)
        if read_first or pk not in etags:
            status, headers, body = _request(api_port, "GET", f"/api/v1/commitments/{pk}/", auth)
            assert status == 200, body[:300]
            etags[pk] = (headers["ETag"], json.loads(body)["status"])
        tag, current = etags[pk]
        status, headers, body = _request(
            api_port,
            "POST",
            f"/api/v1/commitments/{pk}/transitions/",
            {**auth, "If-Match": tag, "Content-Type": "application/json"},
            json.dumps({"to": TOGGLE[current]}).encode(),
        )
        assert status == 200, body[:300]
        etags[pk] = (headers["ETag"], TOGGLE[current])

    url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    floor_conns = [psycopg.connect(url) for _ in range(4)]

    def floor_move(i):
        pk = next_id(floor_ids, i)
        conn = floor_conns[i]
        with conn.transaction():
            cur = conn.execute(
                "UPDATE commitments_commitment SET status = CASE status WHEN 'agreed' "
                "THEN 'in_progress' ELSE 'agreed' END, version = version + 1, "
                "status_changed_at = now() WHERE id = %s RETURNING status, version",
                [pk],
            )
            to_status, version = cur.fetchone()
            conn.execute(
                "INSERT INTO commitments_statuschange (from_status, to_status, at, note, "
                "channel, version, actor_id, commitment_id) "
                "VALUES (%s, %s, now(), '', 'api', %s, NULL, %s)",
                [TOGGLE[to_status], to_status, version, pk],
            )

    for _ in range(5):  # warm both servers' workers and connections
        api_list()
        floor_list()

    lat_api, lat_floor = [], []
    read_rates: dict[str, list[float]] = {"api": [], "floor": []}
    write_rates: dict[str, list[float]] = {k: [] for k in ("floor1", "floor4")}
    for k in ("getpost1", "getpost4", "post1", "post4"):
        write_rates[k] = []
    for _round in range(args.rounds):
        for _ in range(args.requests):
            for fn, sink in ((api_list, lat_api), (floor_list, lat_floor)):
                start = time.perf_counter()
                fn()
                sink.append((time.perf_counter() - start) * 1000)
        read_rates["api"].append(_rate(api_list, args.read_clients, args.seconds))
        read_rates["floor"].append(_rate(floor_list, args.read_clients, args.seconds))
        for clients in (1, 4):
            write_rates[f"floor{clients}"].append(_rate(floor_move, clients, args.seconds))
            write_rates[f"getpost{clients}"].append(
                _rate(lambda i: api_move(i, read_first=True), clients, args.seconds)
            )
            write_rates[f"post{clients}"].append(
                _rate(lambda i: api_move(i, read_first=False), clients, args.seconds)
            )

    def med(values):
        return statistics.median(values)

    n = args.rounds
    print(
        f"database: {connection.settings_dict['NAME']} ({total} commitments), "
        f"{n} interleaved rounds, gunicorn 2 sync workers each"
    )
    api_ms, floor_ms = med(lat_api), med(lat_floor)
    print(
        f"list of 100, 1 client, median of {len(lat_api)}: API {api_ms:.2f} ms, "
        f"HTTP floor {floor_ms:.2f} ms, ratio {api_ms / floor_ms:.2f} (aim <= 2)"
    )
    api_rps, floor_rps = med(read_rates["api"]), med(read_rates["floor"])
    print(
        f"list of 100, {args.read_clients} clients, median of {n}: API {api_rps:.0f} req/s, "
        f"HTTP floor {floor_rps:.0f} req/s, ratio {floor_rps / api_rps:.2f} (aim <= 2)"
    )
    f1, f4 = med(write_rates["floor1"]), med(write_rates["floor4"])
    print(f"SQL floor writes/s (UPDATE + history INSERT): 1 client {f1:.0f}, 4 clients {f4:.0f}")
    for label, key in (("GET + POST", "getpost"), ("POST with the last ETag", "post")):
        w1, w4 = med(write_rates[f"{key}1"]), med(write_rates[f"{key}4"])
        print(
            f"API transition, {label}: 1 client {w1:.0f}/s ({w1 / f1:.2f} of floor, aim "
            f">= 0.20), 4 clients {w4:.0f}/s ({w4 / f4:.2f} of floor; 4 vs 1: {w4 / w1:.2f})"
        )
    for conn in floor_conns:
        conn.close()


if __name__ == "__main__":
    main()
