"""All benchmarks, on PostgreSQL with N seeded commitments: `make bench [SIZE=N]`.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench SIZE=100000
    .venv/bin/python scripts/bench.py --commitments 10000     # the same, without make

Creates the database if it does not exist, migrates it, loads the demo data and seeds
up to N commitments (default 100,000; a database holding more keeps them), then runs,
one after the other, each printing medians and, where a floor exists, the floor
measured in the same run (interleaved with the figure where the script can) and the
ratio:
  scripts/bench_pages.py      server time of the overdue list, list page, search with and
                              without a match, dashboard; the whole overdue CSV vs its floor
  scripts/bench_api.py        API list vs raw-SQL floor (ratio), 1,000-item sync
  scripts/bench_http.py       over gunicorn (2 workers): API list vs the same SQL served by
                              the same gunicorn, transitions vs the SQL write floor, ratios
  scripts/bench_reminders.py  reminder sweep time and queries, emails per second
The figures of the last run are in the README ("Measured speed").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench"


def _ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')  # name comes from the operator's URL


def _run(*args: str, env: dict[str, str]) -> None:
    print(f"\n$ {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commitments", type=int, default=100_000, help="size to seed up to")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("BENCH_DATABASE_URL must point at PostgreSQL: the figures are for production.")
    _ensure_database(url)
    env = {**os.environ, "DATABASE_URL": url}
    _run("manage.py", "migrate", "--noinput", "-v0", env=env)
    _run("manage.py", "load_demo", "--force", env=env)  # the bench rows are not demo rows
    # bench_api seeds up to --commitments when fewer exist, then ANALYZEs.
    _run("scripts/bench_api.py", "--commitments", str(args.commitments), env=env)
    _run("scripts/bench_http.py", env=env)
    _run("scripts/bench_pages.py", env=env)
    _run("scripts/bench_reminders.py", env=env)


if __name__ == "__main__":
    main()
