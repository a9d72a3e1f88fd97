"""`make run`: the web server, a Celery worker and Celery beat in one terminal.

With REDIS_URL unset, an embedded Redis (tracker.embedded_redis) is started first and
its socket handed to the three processes. Ctrl-C stops them all (honcho), then Redis.
Mail goes to the console unless EMAIL_URL says otherwise.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from honcho.manager import Manager
from honcho.printer import Printer

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def _processes(port: str) -> dict[str, str]:
    python = sys.executable
    celery = str(Path(python).with_name("celery"))
    return {
        "web": f"{python} manage.py runserver 127.0.0.1:{port}",
        "worker": f"{celery} -A tracker worker --loglevel INFO --concurrency 2",
        "beat": f"{celery} -A tracker beat --loglevel INFO "
        f"--schedule {VAR_DIR / 'celerybeat-schedule'}",
    }


def _serve(env: dict[str, str]) -> int:
    manager = Manager(Printer(sys.stdout))
    for name, cmd in _processes(env.get("PORT", "8000")).items():
        manager.add_process(name, cmd, cwd=str(BASE_DIR), env=env)
    manager.loop()
    return manager.returncode or 0


def _mail_destination(email_url: str) -> str:
    if email_url.startswith("consolemail:"):
        return "this terminal (the worker's output)"
    if email_url.startswith("filemail:"):
        return "files in " + email_url.removeprefix("filemail://")
    return email_url.split("@")[-1]


def main() -> int:
    VAR_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    # A laptop run: plain HTTP, so no secure-only cookies or HTTPS redirect.
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("EMAIL_URL", "consolemail://")
    # The demo's reminders go out at once, whatever the hour (see TRACKER_REMINDER_ANY_HOUR).
    env.setdefault("TRACKER_REMINDER_ANY_HOUR", "1")
    # Links in emails and calendar feeds point at the port this run serves on.
    env.setdefault("SITE_URL", f"http://127.0.0.1:{env.get('PORT', '8000')}")
    env["PYTHONUNBUFFERED"] = "1"
    print(
        f"tracker on http://127.0.0.1:{env.get('PORT', '8000')}/ ; mail goes to "
        f"{_mail_destination(env['EMAIL_URL'])}; Ctrl-C stops everything",
        flush=True,
    )
    if env.get("REDIS_URL"):
        return _serve(env)
    from tracker.embedded_redis import embedded_redis

    with embedded_redis(VAR_DIR / "redis.db") as url:
        print(f"embedded Redis on {url}", flush=True)
        env["REDIS_URL"] = url
        return _serve(env)


if __name__ == "__main__":
    sys.exit(main())
