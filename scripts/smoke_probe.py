"""Probe a running tracker from outside, as its first user would (stdlib only).

    python3 scripts/smoke_probe.py --base http://127.0.0.1:8000 --password PW --mail-dir DIR

Checks, in order, and exits non-zero at the first that fails:
1. the login page answers;
2. every demo user signs in (officer, officer2, manager, viewer, admin);
3. the officer moves one of their commitments to "in progress" with a note, through the
   same form the browser posts, and the commitment page then shows the move and the note;
4. a reminder email written by the running worker appears in the mail folder in time.

Used by scripts/smoke_run.sh (and so by CI); runs with any Python 3.11, no packages.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

DEMO_USERS = ("officer", "officer2", "manager", "viewer", "admin")


class Forms(HTMLParser):
    """Every <form> on a page: its action and the values it would post by default."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "options": {}})
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self.forms[-1]["options"][self._select] = []
        elif tag == "option" and self._select:
            self.forms[-1]["options"][self._select].append(a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def forms_of(html: str) -> list[dict]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


class Session:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, data: dict, referer: str) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST")
        request.add_header("Referer", self.base + referer)
        return self._open(request)

    def _open(self, request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode(errors="replace")


def fail(message: str) -> None:
    print(f"smoke: FAIL: {message}", flush=True)
    sys.exit(1)


def ok(message: str) -> None:
    print(f"smoke: ok: {message}", flush=True)


def sign_in(base: str, username: str, password: str) -> Session:
    session = Session(base)
    status, _, html = session.get("/accounts/login/")
    if status != 200:
        fail(f"login page answered {status}")
    token = next(f for f in forms_of(html) if "csrfmiddlewaretoken" in f["fields"])
    data = {
        "csrfmiddlewaretoken": token["fields"]["csrfmiddlewaretoken"],
        "username": username,
        "password": password,
    }
    status, url, page = session.post("/accounts/login/", data, "/accounts/login/")
    if status != 200 or urllib.parse.urlsplit(url).path.startswith("/accounts/login"):
        fail(f"{username} could not sign in (HTTP {status}, landed on {url})")
    if "/accounts/logout/" not in page:
        fail(f"{username} signed in but the page offers no sign-out")
    return session


def move_one_commitment(session: Session) -> str:
    """Move the first of the officer's commitments that may go to in_progress."""
    status, _, listing = session.get("/commitments/?ordering=reference")
    if status != 200:
        fail(f"commitment list answered {status}")
    links = list(dict.fromkeys(re.findall(r'href="(/commitments/\d+/)"', listing)))
    note = f"Smoke test move at {time.strftime('%H:%M:%S')}"
    for link in links:
        _, _, page = session.get(link)
        for form in forms_of(page):
            if not form["action"].endswith("/status/"):
                continue
            if "in_progress" not in form["options"].get("to_status", []):
                continue
            data = dict(form["fields"], to_status="in_progress", note=note)
            status, _, _ = session.post(form["action"], data, link)
            if status >= 400:
                fail(f"status move on {link} answered {status}")
            _, _, after = session.get(link)
            if note not in after or "status-in_progress" not in after:
                fail(f"{link} does not show the move and its note after the POST")
            return link
    fail("no commitment of the officer offers a move to in progress")
    return ""


def wait_for_mail(folder: Path, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(p for p in folder.glob("*") if p.is_file() and p.stat().st_size)
        for path in found:
            text = path.read_text(errors="replace")
            if "Subject:" in text and "/commitments/" in text:
                return path
        time.sleep(1)
    fail(f"no reminder email in {folder} within {timeout:.0f} s")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--mail-dir", required=True, type=Path)
    parser.add_argument("--mail-timeout", type=float, default=60)
    args = parser.parse_args()

    started = time.monotonic()
    status, _, _ = Session(args.base).get("/accounts/login/")
    if status != 200:
        fail(f"login page answered {status}")
    ok("login page answers")
    sessions = {name: sign_in(args.base, name, args.password) for name in DEMO_USERS}
    ok(f"demo users sign in: {', '.join(sessions)}")
    link = move_one_commitment(sessions["officer"])
    ok(f"officer moved {link} to in progress with a note")
    mail = wait_for_mail(args.mail_dir, args.mail_timeout)
    subject = next(
        (
            line
            for line in mail.read_text(errors="replace").splitlines()
            if line.startswith("Subject:")
        ),
        "",
    )
    ok(f"reminder email from the worker: {mail.name} ({subject.strip()})")
    print(f"smoke: all checks passed in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
