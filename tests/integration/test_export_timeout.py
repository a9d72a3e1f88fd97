"""A long overdue CSV behind gunicorn with a tiny worker timeout (issue 13): the client gets
the whole file (its trailer counts every overdue row in the database) or an error it
cannot miss; never a 200 that silently ends early."""

from __future__ import annotations

import http.client

import pytest
from django.test import Client

from commitments.models import Commitment

from ..test_exports import overdue_rows

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _fetch(port: int, cookie: str) -> tuple[int, bytes]:
    """Status and whole body; raises when the body is cut (chunked, so a cut shows)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/commitments/overdue/?format=csv", headers={"Cookie": cookie})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("timeout", ["1", "30"])
def test_export_is_whole_or_a_clear_error_never_silently_truncated(
    start_gunicorn, manager, timeout
):
    overdue_rows(40_000, manager)
    expected = Commitment.objects.overdue().count()
    browser = Client()
    browser.force_login(manager)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    server = start_gunicorn(GUNICORN_TIMEOUT=timeout)
    outcomes = []
    for _ in range(2):
        try:
            status, body = _fetch(server.port, cookie)
        except (http.client.IncompleteRead, ConnectionError, http.client.HTTPException) as exc:
            outcomes.append(type(exc).__name__)  # cut: the client knows
            continue
        if status != 200:
            outcomes.append(status)  # an error status is an error, not a file
            continue
        lines = body.decode().splitlines()
        # A 200 is the whole file: the trailer is there and counts the database's rows.
        assert lines[-1] == f"# rows: {expected}"
        assert len(lines) == expected + 2  # header + rows + trailer
        outcomes.append("whole")
    if timeout == "30":
        assert outcomes == ["whole", "whole"]
    print("outcomes with a", timeout, "s timeout:", outcomes)
