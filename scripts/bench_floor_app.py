"""The HTTP floor for scripts/bench_http.py: a bare WSGI app served by the same gunicorn
(same gunicorn.conf.py, same worker count) that answers

    GET /list    the API list's 100 rows by one SQL query (scripts/bench_api.FLOOR_SQL's
                 shape), encoded with json.dumps: what any web stack must at least do.

No Django, no middleware, no authentication: the difference between this and the API is
what the tracker's own request cycle costs. One psycopg connection per worker process,
opened on first use (as Django's persistent connections are).
"""

from __future__ import annotations

import json
import os

import psycopg

FLOOR_SQL = """
    SELECT c.id, c.reference, c.external_id, c.title, c.description, c.visit_id,
           c.parent_id, c.sector, c.nature, c.status, c.due_date, c.next_follow_up_at,
           c.follow_up_every_days, c.snoozed_until, c.status_changed_at, u.username,
           c.pledged_by_id, c.beneficiary_id, c.amount, c.currency, c.figure_kind, c.unit,
           c.figure_year, c.progress, c.source_id, c.source_quote, c.version, c.change_seq,
           c.created_at, c.updated_at
    FROM commitments_commitment c LEFT JOIN auth_user u ON u.id = c.owner_id
    ORDER BY c.change_seq, c.id
    LIMIT 100
"""

_connection: psycopg.Connection | None = None


def _conn() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        _connection = psycopg.connect(url, autocommit=True)
    return _connection


def app(environ, start_response):
    if environ.get("PATH_INFO") != "/list":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    with _conn().cursor() as cursor:
        cursor.execute(FLOOR_SQL)
        names = [col.name for col in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    body = json.dumps({"next": None, "previous": None, "results": rows}, default=str).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
