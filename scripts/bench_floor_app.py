"""The HTTP floor for scripts/bench_http.py: a bare WSGI app served by the same gunicorn
(same gunicorn.conf.py, same worker count) that answers

    GET /list    the API list's rows by the SQL the API sends for them, encoded with
                 json.dumps: what any web stack must at least do.

No Django, no middleware, no authentication: the difference between this and the API is
what the tracker's own request cycle costs. One psycopg connection per worker process,
opened on first use (as Django's persistent connections are).
"""

from __future__ import annotations

import json
import os

import psycopg

# The SQL the API's list sends (selectors.commitment_api_rows on PostgreSQL): the same
# columns, the translation columns and the co-pledgers as an array, 101 rows (one more
# than a page, to know whether there is a next one). Kept in step by hand with the query
# the API sends (CaptureQueriesContext around a list request shows it).
_LANGS = ("en", "ru", "kk", "fa", "ps")
_TRANSLATIONS = ", ".join(
    f"c.translated_{base}_{lang}" for base in ("title", "description") for lang in _LANGS
)
FLOOR_SQL = f"""
    SELECT c.id, c.reference, c.external_id, c.title, c.description, c.visit_id,
           c.parent_id, c.sector, c.nature, c.status, c.due_date, c.next_follow_up_at,
           c.follow_up_every_days, c.snoozed_until, c.status_changed_at, c.owner_id,
           c.pledged_by_id, c.beneficiary_id, c.amount, c.currency, c.figure_kind, c.unit,
           c.figure_year, c.progress, c.source_id, c.source_quote, c.version, c.change_seq,
           c.created_at, c.updated_at, {_TRANSLATIONS}, u.username,
           ARRAY(SELECT p.organisation_id FROM commitments_commitment_co_pledgers p
                 WHERE p.commitment_id = c.id ORDER BY 1) AS co_pledger_ids
    FROM commitments_commitment c LEFT JOIN auth_user u ON u.id = c.owner_id
    ORDER BY c.change_seq, c.id
    LIMIT 101
"""  # noqa: S608 (column names from code)


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
