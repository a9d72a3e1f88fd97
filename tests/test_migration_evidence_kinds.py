"""Migration 0007 renames the evidence kinds to what a source is (issue 10): rows written
before it keep their meaning under the new names."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("commitments", "0007_demo_marker")]
AFTER = [("commitments", "0008_figures_parties_context")]


@pytest.mark.django_db(transaction=True)
def test_old_evidence_kinds_become_their_successors():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    org = old.get_model("commitments", "Organisation").objects.create(name="O", kind="other")
    person = old.get_model("commitments", "Person").objects.create(name="P")
    visit = old.get_model("commitments", "Visit").objects.create(
        title="V",
        code="V",
        start_date="2025-04-21",
        end_date="2025-04-22",
        place="Kabul",
        host_country="AF",
        visiting_country="KZ",
        delegation_lead=person,
    )
    commitment = old.get_model("commitments", "Commitment").objects.create(
        reference="V-001", title="c", visit=visit, sector="trade", pledged_by=org, nature="done"
    )
    Evidence = old.get_model("commitments", "Evidence")
    for kind in ("press_release", "media_report", "agreement_text", "photo"):
        Evidence.objects.create(commitment=commitment, url="https://e.org", title=kind, kind=kind)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    kinds = dict(new.get_model("commitments", "Evidence").objects.values_list("title", "kind"))
    assert kinds == {
        "press_release": "official_statement",
        "media_report": "news_report",
        "agreement_text": "document",
        "photo": "photo",
    }
    # The visit's dates survive; the end date may now be empty.
    assert str(new.get_model("commitments", "Visit").objects.get().end_date) == "2025-04-22"

    # Back to the latest state for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
