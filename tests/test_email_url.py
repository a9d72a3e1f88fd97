"""EMAIL_URL=filemail:///absolute/path writes mail into that folder, whatever the working
directory of the process that sends it (the worker of `make run` runs in the checkout)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings


def _file_path(email_url: str) -> str:
    code = "from django.conf import settings; print(settings.EMAIL_FILE_PATH)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tracker.settings", "EMAIL_URL": email_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("filemail:///srv/tracker/mail", "/srv/tracker/mail"),
        ("filemail://var/mail", "var/mail"),
    ],
)
def test_filemail_keeps_the_path_as_written(url, path):
    assert _file_path(url) == path
