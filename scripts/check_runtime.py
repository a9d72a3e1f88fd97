"""Prove the runtime lock runs the tracker: run it with a venv built from
requirements.lock alone (scripts/smoke_run.sh does), never with the dev venv.

1. Imports every module of the project packages (tracker, commitments), so a package
   that only the dev lock brings in fails here instead of in production.
2. Migrates a scratch SQLite database, then starts `celery -A tracker worker` and
   `celery -A tracker beat` against an embedded Redis, a few seconds each, and fails if
   either dies, never says it is ready, or prints a traceback.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("tracker", "commitments")
# What each process prints once it is up (Celery's own wording).
READY = {"worker": "ready.", "beat": "beat: Starting..."}


def fail(message: str) -> None:
    print(f"check-runtime: FAIL: {message}", flush=True)
    sys.exit(1)


def import_everything() -> int:
    try:
        import django

        django.setup()  # imports every installed app: a missing package often shows here
    except Exception as error:
        fail(f"django.setup(): {type(error).__name__}: {error}")
    count = 0
    for name in PACKAGES:
        package = importlib.import_module(name)
        count += 1
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            try:
                importlib.import_module(info.name)
            except Exception as error:  # any import failure is the finding
                fail(f"import {info.name}: {type(error).__name__}: {error}")
            count += 1
    for program in ("gunicorn", "honcho", "celery", "redis", "kombu.transport.redis"):
        try:
            importlib.import_module(program)
        except Exception as error:
            fail(f"import {program}: {type(error).__name__}: {error}")
    return count


def run_briefly(name: str, argv: list[str], env: dict, seconds: float) -> None:
    log = Path(env["CHECK_DIR"]) / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        ready_at = None
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if process.poll() is not None:
                fail(f"{name} exited with {process.returncode}:\n{text[-3000:]}")
            if ready_at is None and READY[name] in text:
                ready_at = time.monotonic()
            if ready_at is not None and time.monotonic() - ready_at >= seconds:
                break
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    text = log.read_text(errors="replace")
    if ready_at is None:
        fail(f"{name} never said it was ready:\n{text[-3000:]}")
    if "Traceback" in text:
        fail(f"{name} printed a traceback:\n{text[-3000:]}")
    print(f"check-runtime: ok: {name} ran {seconds:.0f} s after it was ready", flush=True)


def main() -> None:
    os.chdir(BASE_DIR)
    sys.path.insert(0, str(BASE_DIR))
    scratch = Path(tempfile.mkdtemp(prefix="tracker-runtime-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tracker.settings",
            "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
            "EMAIL_URL": f"filemail://{scratch / 'mail'}",
            "CHECK_DIR": str(scratch),
        }
    )
    os.environ.pop("REDIS_URL", None)
    count = import_everything()
    print(f"check-runtime: ok: imported {count} project modules", flush=True)

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print("check-runtime: ok: migrated a scratch database", flush=True)

    from tracker.embedded_redis import embedded_redis

    celery = str(Path(sys.executable).with_name("celery"))
    with embedded_redis(scratch / "redis.db") as url:
        env = {**os.environ, "REDIS_URL": url, "PYTHONUNBUFFERED": "1"}
        run_briefly(
            "worker",
            [celery, "-A", "tracker", "worker", "--loglevel", "INFO", "--concurrency", "1"],
            env,
            seconds=3,
        )
        run_briefly(
            "beat",
            [
                celery,
                "-A",
                "tracker",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(scratch / "beat-schedule"),
            ],
            env,
            seconds=3,
        )
    print("check-runtime: all checks passed", flush=True)


if __name__ == "__main__":
    main()
