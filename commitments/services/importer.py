"""Load or update a visit data set (fixtures/*.json), idempotently and without
overwriting anyone's edits.

Rows are matched on natural keys (organisation and person names, source key, visit
code, meeting title, context-fact key, commitment reference). For every row the importer
records what it wrote (`ImportRecord`), and on the next run compares three values per
field: what it wrote last, the row's current value and the file's.

- current == file: nothing to do;
- current == what the last import wrote: nobody touched it, the file's value is applied;
- otherwise someone changed it since: the current value is kept and the field is
  reported as a conflict (reference, field, value kept, value in the file).

A database loaded before import records existed has no record to compare with; give
the data set it was loaded from as `baseline` and its values stand in for the records.

Commitments are written through the commitment services (channel "import"), so their
history and audit trail are real; a second run with the same file writes nothing. A
commitment's status is the workflow's: the file's status is used only when the
importer creates the commitment, or to withdraw one the data set no longer holds.
A bad file (not JSON, a key missing, an unknown organisation) raises DatasetError and
writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    TERMINAL_STATUSES,
    Channel,
    Commitment,
    ContextFact,
    DocumentKind,
    ImportRecord,
    Meeting,
    Organisation,
    Person,
    Source,
    Status,
    Visit,
)
from ..translated import COMMITMENT_TEXTS, NAME_TEXTS, column, columns, languages
from .commitments import EvidenceInput, commitment_create, commitment_transition, commitment_update


class DatasetError(Exception):
    """The data set cannot be loaded as it is; the message says where and why."""


@dataclass(frozen=True)
class Conflict:
    reference: str  # the commitment reference, or "<model> <key>" for other rows
    field: str
    kept: Any  # the database's value, left as it is
    file: Any  # the value the file asks for

    def __str__(self) -> str:
        return f"{self.reference} {self.field}: kept {self.kept!r}, file has {self.file!r}"


@dataclass
class ImportResult:
    """References of the commitments the run created, updated (including withdrawn) or
    left as they were, and every field it did not overwrite."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


_MISSING = object()

# --- Reading the file: every key checked before anything is written ----------------------


def _read(path: Path | str) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: the top level must be an object.")
    return data


def _req(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected an object.")
    if key not in obj:
        raise DatasetError(f"{where}: missing key {key!r}.")
    return obj[key]


def _list(obj: dict, key: str, where: str) -> list:
    value = _req(obj, key, where)
    if not isinstance(value, list):
        raise DatasetError(f"{where}: {key!r} must be a list.")
    return value


def _keyed(obj: dict, section: str, key: str, *, within: str = "file"):
    """The entries of list `section` of `obj`, each with its natural key (`key`,
    required) and its place in the file for error messages (`people[2]`,
    `visit.meetings[0]`)."""
    prefix = "" if within == "file" else f"{within}."
    for i, entry in enumerate(_list(obj, section, within)):
        where = f"{prefix}{section}[{i}]"
        yield entry, _req(entry, key, where), where


def _iso(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: {value!r} is not a date (YYYY-MM-DD).") from None


def _money(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return f"{Decimal(str(value)):.2f}"
    except InvalidOperation:
        raise DatasetError(f"{where}: {value!r} is not an amount.") from None


def _translations(item: dict, texts: dict[str, str], where: str) -> dict[str, str]:
    """The row's `translations` ({"ru": {"title": "..."}, ...}: the tracker's own, never a
    quote) as one value per translation column, "" where the file gives none."""
    given = item.get("translations") or {}
    if not isinstance(given, dict):
        raise DatasetError(f"{where}: 'translations' must be an object.")
    out = dict.fromkeys(columns(texts), "")
    for lang, values in given.items():
        if lang not in languages():
            raise DatasetError(f"{where}: unknown language {lang!r} in 'translations'.")
        if not isinstance(values, dict):
            raise DatasetError(f"{where}: translations[{lang!r}] must be an object.")
        for name, value in values.items():
            if name not in texts or not isinstance(value, str):
                raise DatasetError(f"{where}: translations[{lang!r}][{name!r}] is not a text.")
            out[column(texts[name], lang)] = value
    return out


def _plan(data: dict) -> dict[tuple[str, str], dict[str, Any]]:
    """What the file asks each row to hold, keyed by (model, natural key), with relations
    as natural keys. Pure: reads no database, so a baseline file is planned the same way.

    Also accepts the first data set's shape (one `pledged_by`, `amount`/`currency` on the
    commitment, no figure kind), so that file can serve as a baseline.
    """
    plan: dict[tuple[str, str], dict[str, Any]] = {}
    org_names: dict[str, str] = {}
    for o, key, where in _keyed(data, "organisations", "key"):
        name = _req(o, "name", where)
        org_names[key] = name
        plan[("organisation", name)] = {
            "aliases": list(o.get("aliases", [])),
            "country": _req(o, "country", where),
            "kind": _req(o, "kind", where),
            **_translations(o, NAME_TEXTS, where),
        }

    def org(key: Any, where: str) -> str | None:
        if key in (None, ""):
            return None
        if key not in org_names:
            raise DatasetError(f"{where}: unknown organisation key {key!r}.")
        return org_names[key]

    people = set()
    for p, name, where in _keyed(data, "people", "name"):
        people.add(name)
        plan[("person", name)] = {
            "aliases": list(p.get("aliases", [])),
            "position": p.get("position", ""),
            "organisation": org(p.get("organisation"), where),
            **_translations(p, NAME_TEXTS, where),
        }

    def person(name: str, where: str) -> str:
        if name not in people:
            raise DatasetError(f"{where}: unknown person {name!r}.")
        return name

    source_keys = set()
    for s, key, where in _keyed(data, "sources", "key"):
        source_keys.add(key)
        plan[("source", key)] = {
            "kind": s.get("kind", ""),
            "title": _req(s, "title", where),
            "publisher": s.get("publisher", ""),
            "author": s.get("author", ""),
            "published_on": _iso(s.get("published_on"), where),
            "published_note": s.get("published_note", ""),
            "language": s.get("language", "en"),
            "url": s.get("url", ""),
        }

    def source(key: Any, where: str) -> str:
        if key not in source_keys:
            raise DatasetError(f"{where}: unknown source key {key!r}.")
        return key

    v = _req(data, "visit", "file")
    code = _req(v, "code", "visit")
    plan[("visit", code)] = {
        "title": _req(v, "title", "visit"),
        "start_date": _iso(_req(v, "start_date", "visit"), "visit"),
        "end_date": _iso(v.get("end_date"), "visit"),
        "place": _req(v, "place", "visit"),
        "host_country": _req(v, "host_country", "visit"),
        "visiting_country": _req(v, "visiting_country", "visit"),
        "delegation_lead": person(_req(v, "delegation_lead", "visit"), "visit"),
        "summary": v.get("summary", ""),
        "sources": sorted(source(k, "visit.sources") for k in _list(v, "sources", "visit")),
    }
    for m, title, where in _keyed(v, "meetings", "title", within="visit"):
        plan[("meeting", f"{code}/{title}")] = {
            "held_on": _iso(m.get("held_on"), where),
            "summary": m.get("summary", ""),
            "source": source(_req(m, "source", where), where),
            "participants": sorted(person(n, where) for n in _list(m, "participants", where)),
        }
    for i, c in enumerate(v.get("context", [])):
        where = f"visit.context[{i}]"
        plan[("context", f"{code}/{_req(c, 'key', where)}")] = {
            "statement": _req(c, "statement", where),
            "figure": c.get("figure", ""),
            "quote": _req(c, "quote", where),
            "source": source(_req(c, "source", where), where),
            "position": i,
        }

    references = set()
    for i, item in enumerate(_list(data, "commitments", "file")):
        ref = _req(item, "reference", f"commitments[{i}]")
        references.add(ref)
        pledgers = _req(item, "pledged_by", ref)
        if isinstance(pledgers, str):
            pledgers = [pledgers]
        if not isinstance(pledgers, list) or not pledgers:
            raise DatasetError(f"{ref}: 'pledged_by' must name at least one organisation key.")
        names = [org(key, f"{ref} pledged_by") for key in pledgers]
        figure = item.get("figure")
        if figure is not None:
            fig = {
                "figure_kind": _req(figure, "kind", f"{ref} figure"),
                "amount": _money(_req(figure, "amount", f"{ref} figure"), ref),
                "currency": figure.get("currency", ""),
                "unit": figure.get("unit", ""),
                "figure_year": figure.get("year"),
            }
        else:  # the first data set's shape
            fig = {
                "figure_kind": "",
                "amount": _money(item.get("amount"), ref),
                "currency": item.get("currency", ""),
                "unit": "",
                "figure_year": None,
            }
        plan[("commitment", ref)] = {
            "title": _req(item, "title", ref),
            "description": item.get("description", ""),
            "visit": code,
            "parent": item.get("parent") or None,
            "sector": _req(item, "sector", ref),
            "pledged_by": names[0],
            "co_pledgers": sorted(set(names[1:])),
            "beneficiary": org(item.get("beneficiary"), f"{ref} beneficiary"),
            "nature": _req(item, "nature", ref),
            **fig,
            "source": source(_req(item, "source", ref), ref),
            "source_quote": _req(item, "quote", ref),
            **_translations(item, COMMITMENT_TEXTS, ref),
            # Not merged: used when the importer creates the commitment.
            "status": _req(item, "status", ref),
        }
    for ref in references:
        parent = plan[("commitment", ref)]["parent"]
        if parent and parent not in references and not _exists(parent):
            raise DatasetError(f"{ref}: unknown parent {parent!r}.")
    for i, w in enumerate(data.get("withdrawn", [])):
        where = f"withdrawn[{i}]"
        ref = _req(w, "reference", where)
        if ref in references:
            raise DatasetError(f"{where}: {ref} is both in the data set and withdrawn.")
        plan[("withdrawn", ref)] = {"reason": _req(w, "reason", where)}
    return plan


def _exists(reference: str) -> bool:
    return Commitment.objects.filter(reference=reference).exists()


# --- Current values, in the plan's representation ----------------------------------------


def _name(obj) -> str | None:
    return obj.name if obj is not None else None


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _translation_getters(texts: dict[str, str]) -> dict[str, Callable[[Any], Any]]:
    # NULL and "" both mean "no translation"; the plan says "".
    return {name: (lambda n: lambda obj: getattr(obj, n) or "")(name) for name in columns(texts)}


# Fields added after import records began: a record without one means no import wrote
# it, and it was empty then (so an empty field takes the file's value, and a filled one
# was filled by someone and is kept).
_ADDED_LATER = frozenset(columns(COMMITMENT_TEXTS) + columns(NAME_TEXTS))

_CURRENT: dict[str, dict[str, Callable[[Any], Any]]] = {
    "organisation": {
        "aliases": lambda o: list(o.aliases),
        "country": lambda o: o.country.code or "",
        "kind": lambda o: o.kind,
        **_translation_getters(NAME_TEXTS),
    },
    "person": {
        "aliases": lambda p: list(p.aliases),
        "position": lambda p: p.position,
        "organisation": lambda p: _name(p.organisation),
        **_translation_getters(NAME_TEXTS),
    },
    "source": {
        name: (lambda n: lambda s: getattr(s, n))(name)
        for name in ("kind", "title", "publisher", "author", "published_note", "language", "url")
    }
    | {"published_on": lambda s: _date(s.published_on)},
    "visit": {
        "title": lambda v: v.title,
        "start_date": lambda v: _date(v.start_date),
        "end_date": lambda v: _date(v.end_date),
        "place": lambda v: v.place,
        "host_country": lambda v: v.host_country.code,
        "visiting_country": lambda v: v.visiting_country.code,
        "delegation_lead": lambda v: v.delegation_lead.name,
        "summary": lambda v: v.summary,
        "sources": lambda v: sorted(v.sources.values_list("key", flat=True)),
    },
    "meeting": {
        "held_on": lambda m: _date(m.held_on),
        "summary": lambda m: m.summary,
        "source": lambda m: m.source.key if m.source else None,
        "participants": lambda m: sorted(m.participants.values_list("name", flat=True)),
    },
    "context": {
        "statement": lambda c: c.statement,
        "figure": lambda c: c.figure,
        "quote": lambda c: c.quote,
        "source": lambda c: c.source.key,
        "position": lambda c: c.position,
    },
    "commitment": {
        "title": lambda c: c.title,
        "description": lambda c: c.description,
        "visit": lambda c: c.visit.code,
        "parent": lambda c: c.parent.reference if c.parent else None,
        "sector": lambda c: c.sector,
        "pledged_by": lambda c: c.pledged_by.name,
        "co_pledgers": lambda c: sorted(c.co_pledgers.values_list("name", flat=True)),
        "beneficiary": lambda c: _name(c.beneficiary),
        "nature": lambda c: c.nature,
        "figure_kind": lambda c: c.figure_kind,
        "amount": lambda c: None if c.amount is None else f"{c.amount:.2f}",
        "currency": lambda c: c.currency,
        "unit": lambda c: c.unit,
        "figure_year": lambda c: c.figure_year,
        "source": lambda c: c.source.key if c.source else None,
        "source_quote": lambda c: c.source_quote,
        **_translation_getters(COMMITMENT_TEXTS),
    },
}


# --- The three-way merge -----------------------------------------------------------------


class _Run:
    def __init__(self, plan: dict, baseline: dict) -> None:
        self.plan = plan
        self.baseline = baseline
        self.result = ImportResult()
        self.records = {(r.model, r.key): r for r in ImportRecord.objects.all()}

    def base(self, model: str, key: str) -> dict:
        """What the last import wrote into the row, field by field. A field the records
        lack (no import since records began, or a conflict never settled) falls back to
        the baseline data set, when one is given."""
        record = self.records.get((model, key))
        return {**self.baseline.get((model, key), {}), **(record.values if record else {})}

    def merge(self, model: str, key: str, obj, label: str) -> dict[str, Any]:
        """The fields to write on an existing row; conflicts are recorded on the way."""
        wanted = self.plan[(model, key)]
        base = self.base(model, key)
        new_base = dict(base)
        apply = {}
        for name, current_of in _CURRENT[model].items():
            want = wanted[name]
            current = current_of(obj)
            if current == want:
                new_base[name] = want
            elif base.get(name, "" if name in _ADDED_LATER else _MISSING) == current:
                apply[name] = want
                new_base[name] = want
            else:
                self.result.conflicts.append(
                    Conflict(reference=label, field=name, kept=current, file=want)
                )
        self.remember(model, key, new_base)
        return apply

    def remember(self, model: str, key: str, values: dict) -> None:
        record = self.records.get((model, key))
        if record is None:
            self.records[(model, key)] = ImportRecord.objects.create(
                model=model, key=key, values=values
            )
        elif record.values != values:
            record.values = values
            record.save(update_fields=["values", "imported_at"])

    def keys(self, model: str) -> list[str]:
        return [key for (m, key) in self.plan if m == model]


def _save(obj, values: dict[str, Any], m2m: Iterable[str] = ()) -> None:
    """Write plain fields on a non-commitment row (these have no service: no rule beyond
    the model's own validation), then its many-to-many sets."""
    plain = {k: v for k, v in values.items() if k not in m2m}
    for name, value in plain.items():
        setattr(obj, name, value)
    try:
        obj.full_clean(validate_unique=obj.pk is None)
    except ValidationError as exc:
        raise DatasetError(f"{obj._meta.model_name} {obj}: {exc.messages}") from None
    if obj.pk is None:
        obj.save()
    elif plain:
        obj.save(update_fields=list(plain))


@transaction.atomic
def visit_dataset_load(*, path: Path | str, baseline: Path | str | None = None) -> ImportResult:
    """Load one visit file. All or nothing: a bad row rolls the whole file back.

    `baseline`: the data set a database was loaded from before import records existed
    (see docs/data.md); its values count as "what the last import wrote".
    """
    plan = _plan(_read(path))
    base_plan = _plan(_read(baseline)) if baseline else {}
    run = _Run(plan, base_plan)

    orgs = {o.name: o for o in Organisation.objects.all()}
    people = {p.name: p for p in Person.objects.select_related("organisation")}

    for name in run.keys("organisation"):
        wanted = plan[("organisation", name)]
        obj = orgs.get(name)
        if obj is None:
            orgs[name] = obj = Organisation(name=name)
            _save(obj, wanted)
            run.remember("organisation", name, wanted)
        else:
            _save(obj, run.merge("organisation", name, obj, f"organisation {name}"))

    def to_org(name):
        return orgs[name] if name else None

    for name in run.keys("person"):
        wanted = plan[("person", name)]
        obj = people.get(name)
        if obj is None:
            people[name] = obj = Person(name=name)
            _save(obj, {**wanted, "organisation": to_org(wanted["organisation"])})
            run.remember("person", name, wanted)
        else:
            apply = run.merge("person", name, obj, f"person {name}")
            if "organisation" in apply:
                apply["organisation"] = to_org(apply["organisation"])
            _save(obj, apply)

    sources: dict[str, Source] = {}
    for key in run.keys("source"):
        wanted = plan[("source", key)]
        obj = _find_source(key, wanted, base_plan.get(("source", key)))
        if obj is None:
            obj = Source(key=key)
            _save(obj, wanted)
            run.remember("source", key, wanted)
        else:
            if obj.key != key:  # a row loaded before sources had keys: adopt it
                obj.key = key
                obj.save(update_fields=["key"])
            _save(obj, run.merge("source", key, obj, f"source {key}"))
        sources[key] = obj

    (code,) = run.keys("visit")
    visit = _load_visit(run, code, people, sources)
    _load_children(
        run,
        visit,
        sources,
        kind="meeting",
        model=Meeting,
        name_field="title",
        to_many=("participants", people),
    )
    _load_children(run, visit, sources, kind="context", model=ContextFact, name_field="key")
    _load_commitments(run, visit, orgs, sources)
    _withdraw(run)
    return run.result


def _find_source(key: str, wanted: dict, base: dict | None) -> Source | None:
    found = Source.objects.filter(key=key).first()
    if found is not None:
        return found
    for values in (base, wanted):
        if values:
            found = Source.objects.filter(
                key="", title=values["title"], publisher=values["publisher"]
            ).first()
            if found is not None:
                return found
    return None


def _load_visit(run: _Run, code: str, people: dict, sources: dict) -> Visit:
    wanted = run.plan[("visit", code)]

    def resolved(values: dict) -> dict:
        out = dict(values)
        if "delegation_lead" in out:
            out["delegation_lead"] = people[out["delegation_lead"]]
        for name in ("start_date", "end_date"):
            if name in out:
                out[name] = dt.date.fromisoformat(out[name]) if out[name] else None
        out.pop("sources", None)
        return out

    visit = Visit.objects.filter(code=code).first()
    if visit is None:
        visit = Visit(code=code)
        _save(visit, resolved(wanted))
        visit.sources.set([sources[k] for k in wanted["sources"]])
        run.remember("visit", code, wanted)
        return visit
    apply = run.merge("visit", code, visit, f"visit {code}")
    _save(visit, resolved(apply))
    if "sources" in apply:
        visit.sources.set([sources[k] for k in apply["sources"]])
    return visit


def _load_children(
    run: _Run,
    visit: Visit,
    sources: dict,
    *,
    kind: str,
    model,
    name_field: str,
    to_many: tuple[str, dict] | None = None,
) -> None:
    """A visit's child rows of one kind (meetings by title, context facts by key): a new
    row takes all of the file's values, one already there the three-way merge. A
    `source` value names one of the file's sources; `to_many` (field, rows by name) is a
    many-to-many set after the row is saved."""
    many_field, many_rows = to_many or ("", {})
    rows = model.objects.filter(visit=visit).select_related("source")
    existing = {getattr(row, name_field): row for row in rows}
    for key in run.keys(kind):
        name = key.split("/", 1)[1]
        row = existing.get(name)
        if row is None:
            apply = run.plan[(kind, key)]
            run.remember(kind, key, apply)
            row = model(visit=visit, **{name_field: name})
        else:
            apply = run.merge(kind, key, row, f"{kind} {name}")
        values = {k: v for k, v in apply.items() if k != many_field}
        if "source" in values:
            values["source"] = sources[values["source"]]
        _save(row, values)
        if many_field in apply:
            getattr(row, many_field).set([many_rows[n] for n in apply[many_field]])


def _parents_first(references: list[str], plan: dict) -> list[str]:
    ordered: list[str] = []
    seen: set[str] = set()
    wanted = set(references)

    def visit(ref: str, trail: tuple[str, ...] = ()) -> None:
        if ref in seen:
            return
        if ref in trail:
            raise DatasetError(f"Parent cycle through {ref}.")
        parent = plan[("commitment", ref)]["parent"]
        if parent in wanted:
            visit(parent, (*trail, ref))
        seen.add(ref)
        ordered.append(ref)

    for ref in references:
        visit(ref)
    return ordered


def _service_data(values: dict, *, visit: Visit, orgs: dict, sources: dict) -> dict[str, Any]:
    """The plan's natural keys turned into what commitment_create/update take."""
    data = {k: v for k, v in values.items() if k != "status"}
    if "visit" in data:
        data["visit"] = visit
    if "parent" in data:
        data["parent"] = (
            Commitment.objects.get(reference=data["parent"]) if data["parent"] else None
        )
    for name in ("pledged_by", "beneficiary"):
        if name in data:
            data[name] = orgs[data[name]] if data[name] else None
    if "co_pledgers" in data:
        data["co_pledgers"] = [orgs[n] for n in data["co_pledgers"]]
    if "source" in data:
        data["source"] = sources[data["source"]] if data["source"] else None
    if "amount" in data:
        data["amount"] = Decimal(data["amount"]) if data["amount"] is not None else None
    return data


def _load_commitments(run: _Run, visit: Visit, orgs: dict, sources: dict) -> None:
    existing = {
        c.reference: c
        for c in Commitment.objects.filter(reference__in=run.keys("commitment")).select_related(
            "visit", "parent", "pledged_by", "beneficiary", "source"
        )
    }
    for ref in _parents_first(run.keys("commitment"), run.plan):
        wanted = run.plan[("commitment", ref)]
        current = existing.get(ref)
        try:
            if current is not None:
                apply = run.merge("commitment", ref, current, ref)
                if not apply:
                    run.result.unchanged.append(ref)
                    continue
                commitment_update(
                    commitment_id=current.pk,
                    actor=None,
                    channel=Channel.IMPORT,
                    data=_service_data(apply, visit=visit, orgs=orgs, sources=sources),
                )
                run.result.updated.append(ref)
                continue
            _create(ref, wanted, visit=visit, orgs=orgs, sources=sources)
        except ValidationError as exc:
            raise DatasetError(f"{ref}: {_messages(exc)}") from None
        run.remember("commitment", ref, wanted)
        run.result.created.append(ref)


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def _create(ref: str, wanted: dict, *, visit: Visit, orgs: dict, sources: dict) -> None:
    target = wanted["status"]
    data = _service_data(wanted, visit=visit, orgs=orgs, sources=sources)
    # A closed item is entered as agreed and then moved, so the move rules (evidence for
    # fulfilled) hold for imported data as for everything else.
    initial = Status.AGREED if target in TERMINAL_STATUSES else target
    commitment = commitment_create(
        actor=None, channel=Channel.IMPORT, data=data, reference=ref, status=initial
    )
    if target == initial:
        return
    source = data["source"]
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
                kind=source.kind or DocumentKind.NEWS_REPORT,
                published_on=source.published_on,
                source_id=source.pk,
            )
        ],
    )


def _withdraw(run: _Run) -> None:
    """Cancel, with the file's reason, commitments an earlier data set held and this one
    withdraws, unless someone has moved them since the import made them."""
    for ref in run.keys("withdrawn"):
        commitment = Commitment.objects.filter(reference=ref).first()
        if commitment is None or commitment.status == Status.CANCELLED:
            continue
        imported_status = run.base("commitment", ref).get("status", _MISSING)
        if commitment.status != imported_status:
            run.result.conflicts.append(
                Conflict(
                    reference=ref,
                    field="status",
                    kept=commitment.status,
                    file=Status.CANCELLED.value,
                )
            )
            continue
        commitment_transition(
            commitment_id=commitment.pk,
            to_status=Status.CANCELLED,
            actor=None,
            channel=Channel.IMPORT,
            note=f"Withdrawn from the data set: {run.plan[('withdrawn', ref)]['reason']}",
        )
        run.result.updated.append(ref)
