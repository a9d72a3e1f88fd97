"""Load a visit data set (fixtures/*.json) into the database, idempotently.

Rows are matched on natural keys (organisation and person names, source title and
publisher, visit code, meeting title, commitment reference), so loading the same file
twice changes nothing the second time. Commitments are written through the same
services as every other channel (channel "import"), so their history is real.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from ..models import (
    TERMINAL_STATUSES,
    Channel,
    Commitment,
    Evidence,
    Meeting,
    Organisation,
    Person,
    Source,
    Status,
    Visit,
)
from .commitments import EvidenceInput, commitment_create, commitment_transition, commitment_update


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _upsert(model, lookup: dict[str, Any], values: dict[str, Any]):
    obj, created = model.objects.get_or_create(**lookup, defaults=values)
    if not created:
        dirty = [k for k, v in values.items() if getattr(obj, k) != v]
        if dirty:
            for k in dirty:
                setattr(obj, k, values[k])
            obj.full_clean()
            obj.save(update_fields=dirty)
    else:
        obj.full_clean()
    return obj


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _parents_first(items: list[dict]) -> list[dict]:
    """Order commitments so that each parent comes before its children."""
    by_ref = {item["reference"]: item for item in items}
    ordered: list[dict] = []
    seen: set[str] = set()

    def visit(item: dict, trail: tuple[str, ...] = ()) -> None:
        ref = item["reference"]
        if ref in seen:
            return
        if ref in trail:
            raise ValueError(f"Parent cycle through {ref}")
        parent = item.get("parent")
        if parent:
            if parent not in by_ref and not Commitment.objects.filter(reference=parent).exists():
                raise ValueError(f"{ref}: unknown parent {parent}")
            if parent in by_ref:
                visit(by_ref[parent], (*trail, ref))
        seen.add(ref)
        ordered.append(item)

    for item in items:
        visit(item)
    return ordered


@transaction.atomic
def visit_dataset_load(*, path: Path | str) -> ImportResult:
    """Load one visit file. All or nothing: a bad row rolls the whole file back."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    result = ImportResult()

    orgs = {
        o["key"]: _upsert(
            Organisation,
            {"name": o["name"]},
            {"aliases": o["aliases"], "country": o["country"], "kind": o["kind"]},
        )
        for o in data["organisations"]
    }
    people = {
        p["name"]: _upsert(
            Person,
            {"name": p["name"]},
            {
                "aliases": p["aliases"],
                "position": p["position"],
                "organisation": orgs[p["organisation"]] if p["organisation"] else None,
            },
        )
        for p in data["people"]
    }
    sources = {
        s["key"]: _upsert(
            Source,
            {"title": s["title"], "publisher": s["publisher"]},
            {
                "author": s["author"],
                "published_on": _date(s["published_on"]),
                "published_note": s["published_note"],
                "language": s["language"],
                "url": s["url"],
            },
        )
        for s in data["sources"]
    }
    v = data["visit"]
    visit = _upsert(
        Visit,
        {"code": v["code"]},
        {
            "title": v["title"],
            "start_date": _date(v["start_date"]),
            "end_date": _date(v["end_date"]),
            "place": v["place"],
            "host_country": v["host_country"],
            "visiting_country": v["visiting_country"],
            "delegation_lead": people[v["delegation_lead"]],
            "summary": v["summary"],
        },
    )
    visit.sources.set([sources[key] for key in v["sources"]])
    for m in v["meetings"]:
        meeting = _upsert(
            Meeting,
            {"visit": visit, "title": m["title"]},
            {
                "held_on": _date(m["held_on"]),
                "summary": m["summary"],
                "source": sources[m["source"]],
            },
        )
        meeting.participants.set([people[name] for name in m["participants"]])

    for item in _parents_first(data["commitments"]):
        ref = item["reference"]
        source = sources[item["source"]]
        fields = {
            "title": item["title"],
            "description": item["description"],
            "visit": visit,
            "parent": (
                Commitment.objects.get(reference=item["parent"]) if item.get("parent") else None
            ),
            "sector": item["sector"],
            "pledged_by": orgs[item["pledged_by"]],
            "beneficiary": orgs[item["beneficiary"]] if item.get("beneficiary") else None,
            "nature": item["nature"],
            "amount": Decimal(item["amount"]) if item.get("amount") else None,
            "currency": item.get("currency", ""),
            "source": source,
            "source_quote": item["quote"],
        }
        existing = Commitment.objects.filter(reference=ref).first()
        if existing is not None:
            _, changed = commitment_update(
                commitment_id=existing.pk, actor=None, channel=Channel.IMPORT, data=fields
            )
            (result.updated if changed else result.unchanged).append(ref)
            continue
        target = item["status"]
        # A closed item is entered as agreed and then moved, so the move rules (evidence
        # for fulfilled) hold for imported data as for everything else.
        initial = Status.AGREED if target in TERMINAL_STATUSES else target
        commitment = commitment_create(
            actor=None, channel=Channel.IMPORT, data=fields, reference=ref, status=initial
        )
        if target != initial:
            commitment_transition(
                commitment_id=commitment.pk,
                to_status=target,
                actor=None,
                channel=Channel.IMPORT,
                note=f"Reported as done in: {source.title}.",
                evidence=[
                    EvidenceInput(
                        url=source.url,
                        title=source.title,
                        kind=(
                            Evidence.Kind.PRESS_RELEASE
                            if "press" in source.publisher.lower()
                            else Evidence.Kind.MEDIA_REPORT
                        ),
                        published_on=source.published_on,
                        source_id=source.pk,
                    )
                ],
            )
        result.created.append(ref)
    return result
