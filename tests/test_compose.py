"""compose.yaml declares the production layout of docs/operations.md. Docker does not run
here, so this checks its shape: the services, one beat, the repo's gunicorn config, and
that every variable it gives the app is documented in README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "compose.yaml").read_text())


def _documented() -> set[str]:
    readme = (BASE_DIR / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))


def test_compose_declares_every_part_of_the_layout():
    services = _compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "proxy"} <= set(services)
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["web"]["deploy"]["replicas"] >= 2
    assert "gunicorn -c gunicorn.conf.py tracker.wsgi" in services["web"]["command"]
    for name in APP_SERVICES:
        assert "--require-hashes -r requirements.lock" in services[name]["command"], name


def test_every_app_variable_in_compose_is_documented_in_the_readme():
    services = _compose()["services"]
    used = {key for name in APP_SERVICES for key in services[name]["environment"]}
    missing = used - _documented()
    assert not missing, f"not in README's configuration table: {sorted(missing)}"


def test_gunicorn_believes_forwarded_headers_only_from_the_proxy():
    compose = _compose()
    proxy_ip = compose["services"]["proxy"]["networks"]["tracker"]["ipv4_address"]
    env = compose["services"]["web"]["environment"]
    assert env["FORWARDED_ALLOW_IPS"] == proxy_ip
    assert env["DJANGO_TRUST_X_FORWARDED_PROTO"] == "1"
