"""Read and validate the reference (CSV) and demo (YAML) data into a Dataset, before any write.

Every bad row is rejected with a reason a data steward can act on, and everything that
depends on a rejected row (a membership of a rejected agreement, the edges of a rejected
supplier) is rejected too, saying which row it depended on. Nothing is guessed: a malformed
marking rejects its row with the marking parser's own message.

Layout: `<data_dir>/reference/{agreements,memberships}.csv` and `<data_dir>/demo/*.yaml`
(either function also accepts the sub-folder itself). Nations are not a file: they are every
ISO 3166-1 country that pycountry knows, named by its common name where it has one.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import pycountry
import yaml

from dibx import data as shipped
from dibx.auth import markings
from dibx.graph.records import (
    PUBLIC_TEXT,
    AgreementRecord,
    CapabilityRecord,
    Dataset,
    Markings,
    MembershipRecord,
    NationRecord,
    ProvidesRecord,
    RequiresRecord,
    SourcesFromRecord,
    SubsidiaryRecord,
    SupplierRecord,
)

__all__ = [
    "AGREEMENT_KINDS",
    "NATION_CODES",
    "ImportResult",
    "Rejection",
    "default_data_dir",
    "load_demo",
    "load_reference",
    "nation_records",
]

AGREEMENT_KINDS: Final = frozenset(
    {"statute", "treaty", "mou", "arrangement", "tetragraph", "designation"}
)
NATION_CODES: Final = frozenset(c.alpha_3 for c in pycountry.countries)
# What a type's field takes when neither the row nor the file's defaults mark it: deny by
# default (US only), and the file is reported for the gap.
FALLBACK_MARKING: Final = "CUI//NOFORN"

_AGREEMENT_COLUMNS: Final = ("code", "name", "kind", "source")
_MEMBERSHIP_COLUMNS: Final = ("nation", "agreement", "since", "until", "precision", "source")
# Optional: the membership edge's marking and its fields' (an empty cell is PUBLIC, as
# reference data is). `precision` says how exact `since` is, so it takes since's marking.
_MEMBERSHIP_MARKINGS: Final = ("marking", "marking_since", "marking_until", "marking_source")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CAGE = re.compile(r"^[0-9A-Z]{5}$")
_ECCN = re.compile(r"^(EAR99|[0-9][A-E][0-9]{3}(\.[a-z0-9]+)*)$")
_USML: Final = frozenset(
    {
        "I",
        "II",
        "III",
        "IV",
        "V",
        "VI",
        "VII",
        "VIII",
        "IX",
        "X",
        "XI",
        "XII",
        "XIII",
        "XIV",
        "XV",
        "XVI",
        "XVII",
        "XVIII",
        "XIX",
        "XX",
        "XXI",
    }
)
_JURISDICTIONS: Final = ("ITAR", "EAR", "NONE")


@dataclass(frozen=True, slots=True)
class Rejection:
    file: str
    row: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} {self.row}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    dataset: Dataset
    rejected: list[Rejection]
    # Not errors: e.g. a marking stored in canonical order that was written in another.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


class _RowError(ValueError):
    """A row's fault; the message is the rejection reason."""


def default_data_dir() -> Path:
    """The shipped reference and demo data (`dibx.data`)."""
    return shipped.reference_dir()


def nation_records() -> list[NationRecord]:
    return [
        NationRecord(
            code=c.alpha_3,
            # "Taiwan", "South Korea" rather than ISO's long forms where pycountry has them.
            name=getattr(c, "common_name", None) or c.name,
            markings=Markings.public(("name",)),
        )
        for c in sorted(pycountry.countries, key=lambda c: c.alpha_3)
    ]


# --- shared helpers ----------------------------------------------------------------------------


class _Context:
    """Collects rejections and notes for one load, and canonicalizes markings once each."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.rejected: list[Rejection] = []
        self.notes: list[str] = []
        self._canonical: dict[str, str | markings.MarkingError] = {}

    def name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.base))
        except ValueError:
            return str(path)

    def reject(self, file: str, row: str, reason: str) -> None:
        self.rejected.append(Rejection(file, row, reason))

    def marking(self, value: object, what: str) -> str:
        if not isinstance(value, str):
            raise _RowError(f"marking of {what} must be text, got {_kind(value)}")
        hit = self._canonical.get(value)
        if hit is None:
            try:
                hit = markings.canonicalize(value)
            except markings.MarkingError as err:
                hit = err
            self._canonical[value] = hit
            if isinstance(hit, str) and hit != value.strip():
                self.notes.append(f"marking {value!r} stored in canonical form {hit!r}")
        if isinstance(hit, markings.MarkingError):
            raise _RowError(f"malformed marking for {what}: {hit}")
        return hit


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _resolve(data_dir: Path, sub: str, probe: Callable[[Path], bool]) -> Path:
    return data_dir if probe(data_dir) else data_dir / sub


# --- reference data (CSV) ------------------------------------------------------------------------


def _read_csv(
    ctx: _Context, path: Path, columns: Sequence[str], optional: Sequence[str] = ()
) -> Iterator[tuple[str, dict[str, str]]]:
    name = ctx.name(path)
    if not path.is_file():
        ctx.reject(name, "-", "file not found")
        return
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        missing = [c for c in columns if c not in header]
        unknown = [c for c in header if c not in columns and c not in optional]
        if missing or unknown:
            parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
            parts += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
            expected = ", ".join(columns) + (
                f" (optional: {', '.join(optional)})" if optional else ""
            )
            ctx.reject(name, "header", f"{'; '.join(parts)}; expected {expected}")
            return
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:
                ctx.reject(name, where, f"more fields than the {len(header)} columns")
                continue
            yield where, {k: (v or "").strip() for k, v in row.items()}


def _required(row: Mapping[str, str], *names: str) -> None:
    missing = [n for n in names if not row.get(n)]
    if missing:
        raise _RowError(f"missing required field(s): {', '.join(missing)}")


def _iso_date(text: str, what: str) -> date:
    if not _DATE.match(text):
        raise _RowError(f"bad date for {what}: {text!r} (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise _RowError(f"bad date for {what}: {text!r} ({err})") from None


def _agreements(ctx: _Context, path: Path) -> tuple[dict[str, AgreementRecord], dict[str, str]]:
    """Valid agreements by code, and the reason each rejected code was rejected."""
    name = ctx.name(path)
    valid: dict[str, AgreementRecord] = {}
    first: dict[str, str] = {}
    bad: dict[str, str] = {}
    for where, row in _read_csv(ctx, path, _AGREEMENT_COLUMNS):
        try:
            _required(row, *_AGREEMENT_COLUMNS)
            code = row["code"]
            if not _CODE.match(code):
                raise _RowError(f"bad agreement code {code!r} (upper case letters, digits, _)")
            if code in first:
                raise _RowError(f"duplicate agreement code {code!r} (first at {first[code]})")
            if row["kind"] not in AGREEMENT_KINDS:
                kinds = ", ".join(sorted(AGREEMENT_KINDS))
                raise _RowError(f"unknown kind {row['kind']!r}; expected one of {kinds}")
        except _RowError as err:
            ctx.reject(name, where, str(err))
            if row.get("code") and row["code"] not in first:
                bad.setdefault(row["code"], f"{name} {where}: {err}")
            continue
        first[code] = where
        valid[code] = AgreementRecord(
            code=code,
            name=row["name"],
            kind=row["kind"],
            source=row["source"],
            markings=Markings.public(p for p, _ in AgreementRecord.PROPERTIES),
        )
    return valid, bad


def _membership_markings(ctx: _Context, row: Mapping[str, str]) -> Markings:
    def marking(column: str, what: str) -> str:
        text = row.get(column) or ""
        return ctx.marking(text, what) if text else PUBLIC_TEXT

    since = marking("marking_since", "since")
    return Markings.build(
        marking("marking", "the membership"),
        {
            "since": since,
            "precision": since,
            "until": marking("marking_until", "until"),
            "source": marking("marking_source", "source"),
        },
    )


def _membership(
    ctx: _Context,
    row: Mapping[str, str],
    agreements: Mapping[str, AgreementRecord],
    bad: Mapping[str, str],
) -> MembershipRecord:
    _required(row, "nation", "agreement", "since", "precision", "source")
    nation, agreement = row["nation"], row["agreement"]
    if nation not in NATION_CODES:
        raise _RowError(f"unknown nation code {nation!r} (not an ISO 3166-1 alpha-3 code)")
    if agreement in bad:
        raise _RowError(f"agreement {agreement!r} was rejected ({bad[agreement]})")
    if agreement not in agreements:
        raise _RowError(f"unknown agreement {agreement!r}")
    since = _iso_date(row["since"], "since")
    until = _iso_date(row["until"], "until") if row.get("until") else None
    if until is not None and until <= since:
        raise _RowError(f"until {until} is not after since {since}")
    precision = row["precision"]
    if precision not in ("year", "day"):
        raise _RowError(f"bad precision {precision!r}; expected 'year' or 'day'")
    if precision == "year" and (since.month, since.day) != (1, 1):
        raise _RowError(f"precision 'year' needs since on 1 January, got {since}")
    return MembershipRecord(
        nation=nation,
        agreement=agreement,
        since=since,
        until=until,
        precision=precision,
        source=row["source"],
        markings=_membership_markings(ctx, row),
    )


def _overlaps(a: MembershipRecord, b: MembershipRecord) -> bool:
    a_end, b_end = a.until or date.max, b.until or date.max
    return a.since < b_end and b.since < a_end


def load_reference(data_dir: Path) -> ImportResult:
    """Nations (pycountry), agreements.csv and memberships.csv, validated."""
    ref = _resolve(data_dir, "reference", lambda d: (d / "agreements.csv").is_file())
    ctx = _Context(ref.parent)
    agreements, bad = _agreements(ctx, ref / "agreements.csv")
    path = ref / "memberships.csv"
    name = ctx.name(path)
    memberships: list[MembershipRecord] = []
    seen: dict[tuple[str, str], list[tuple[MembershipRecord, str]]] = {}
    for where, row in _read_csv(ctx, path, _MEMBERSHIP_COLUMNS, _MEMBERSHIP_MARKINGS):
        try:
            record = _membership(ctx, row, agreements, bad)
            for other, other_where in seen.get((record.nation, record.agreement), []):
                if _overlaps(record, other):
                    raise _RowError(
                        f"{record.nation} in {record.agreement} overlaps the membership "
                        f"since {other.since} ({other_where})"
                    )
        except _RowError as err:
            ctx.reject(name, where, str(err))
            continue
        seen.setdefault((record.nation, record.agreement), []).append((record, where))
        memberships.append(record)
    dataset = Dataset(
        nations=nation_records(), agreements=list(agreements.values()), memberships=memberships
    )
    return ImportResult(dataset, ctx.rejected, ctx.notes)


# --- demo data (YAML) ----------------------------------------------------------------------------

_Defaults = dict[str, tuple[str, dict[str, str]]]

# Marked fields per type, by graph property name; BASED_IN has none.
_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "Supplier": tuple(p for p, _ in SupplierRecord.PROPERTIES),
    "BASED_IN": (),
    "Capability": tuple(p for p, _ in CapabilityRecord.PROPERTIES),
    "REQUIRES": (),
    "PROVIDES": tuple(p for p, _ in ProvidesRecord.PROPERTIES),
    "SOURCES_FROM": tuple(p for p, _ in SourcesFromRecord.PROPERTIES),
    "SUBSIDIARY_OF": tuple(p for p, _ in SubsidiaryRecord.PROPERTIES),
}
_SECTION_TYPES: Final = {
    "suppliers": ("Supplier", "BASED_IN", "PROVIDES", "SOURCES_FROM", "SUBSIDIARY_OF"),
    "capabilities": ("Capability", "REQUIRES"),
}
_TOP_KEYS: Final = frozenset({"notice", "defaults", "suppliers", "capabilities"})
_MARK_KEYS: Final = ("marking", "markings")
_SUPPLIER_KEYS: Final = frozenset(
    {"id", "nation", *_FIELDS["Supplier"], *_MARK_KEYS, "provides", "sources_from", "subsidiary_of"}
)
_CAPABILITY_KEYS: Final = frozenset({"id", *_FIELDS["Capability"], *_MARK_KEYS, "requires"})
_PROVIDES_KEYS: Final = frozenset({"capability", *_FIELDS["PROVIDES"], *_MARK_KEYS})
_SOURCES_KEYS: Final = frozenset({"supplier", *_FIELDS["SOURCES_FROM"], *_MARK_KEYS})
_SUBSIDIARY_KEYS: Final = frozenset({"parent", *_FIELDS["SUBSIDIARY_OF"], *_MARK_KEYS})
_REQUIRES_KEYS: Final = frozenset({"capability", *_MARK_KEYS})
_SUPPLIER_EDGES: Final = ("provides", "sources_from", "subsidiary_of")


class _Row:
    """Typed access to one YAML mapping; every getter raises _RowError with the field's name."""

    def __init__(self, raw: object, allowed: frozenset[str], what: str) -> None:
        if not isinstance(raw, dict):
            raise _RowError(f"{what} must be a mapping, got {_kind(raw)}")
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            raise _RowError(
                f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
            )
        self.raw: dict[str, Any] = raw

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _RowError(
                f"{key!r} must be text, got {_kind(value)} {value!r} (quote it in YAML)"
            )
        return value.strip() or None

    def required(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise _RowError(f"missing required field {key!r}")
        return value

    def key(self, name: str) -> str:
        value = self.required(name)
        if not _ID.match(value):
            raise _RowError(f"bad {name} {value!r} (letters, digits and . _ : - only)")
        return value

    def integer(self, key: str, low: int, high: int) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _RowError(f"{key!r} must be a whole number, got {_kind(value)} {value!r}")
        if not low <= value <= high:
            raise _RowError(f"{key} {value} out of range {low}..{high}")
        return value

    def number(self, key: str, low: float, high: float) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise _RowError(f"{key!r} must be a number, got {_kind(value)} {value!r}")
        if not low <= value <= high:
            raise _RowError(f"{key} {value} out of range [{low:g}, {high:g}]")
        return float(value)

    def flag(self, key: str) -> bool | None:
        value = self.raw.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise _RowError(f"{key!r} must be true or false, got {_kind(value)} {value!r}")

    def items(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _RowError(f"{key!r} must be a list, got {_kind(value)}")
        return value


def _defaults(ctx: _Context, file: str, raw: object, sections: Sequence[str]) -> _Defaults:
    """Per type: (record marking, field markings). A gap or a bad marking is reported and
    takes FALLBACK_MARKING, so nothing becomes more releasable by mistake."""
    table: _Defaults = {}
    if not isinstance(raw, dict):
        ctx.reject(file, "defaults", f"missing or not a mapping; {FALLBACK_MARKING} applies")
        raw = {}
    needed = {t for s in sections for t in _SECTION_TYPES[s]}
    for type_name in sorted(str(t) for t in set(raw) - set(_FIELDS)):
        ctx.reject(file, f"defaults.{type_name}", f"unknown type; expected {', '.join(_FIELDS)}")
    for type_name, names in _FIELDS.items():
        entry = raw.get(type_name)
        record, fields = FALLBACK_MARKING, dict.fromkeys(names, FALLBACK_MARKING)
        table[type_name] = (record, fields)
        if entry is None:
            if type_name in needed:
                ctx.reject(file, f"defaults.{type_name}", f"missing; {FALLBACK_MARKING} applies")
            continue
        problems: list[str] = []
        try:
            row = _Row(entry, frozenset({"marking", "fields"}), f"defaults.{type_name}")
            record = ctx.marking(row.raw.get("marking"), f"{type_name} records")
        except _RowError as err:
            problems.append(str(err))
        given = entry.get("fields") if isinstance(entry, dict) else None
        if not isinstance(given, dict):
            given = {}
            if names:
                problems.append("fields must be a mapping of field to marking")
        problems += [
            f"unknown field {k!r}" for k in sorted(str(k) for k in set(given) - set(names))
        ]
        for name in names:
            if name not in given:
                problems.append(f"no default marking for {name}")
                continue
            try:
                fields[name] = ctx.marking(given[name], f"{type_name}.{name}")
            except _RowError as err:
                problems.append(str(err))
        if problems:
            reason = "; ".join(problems)
            ctx.reject(file, f"defaults.{type_name}", f"{reason} ({FALLBACK_MARKING} applies)")
        table[type_name] = (record, fields)
    return table


def _markings(
    ctx: _Context, row: _Row, type_name: str, defaults: _Defaults, extra: Sequence[str] = ()
) -> tuple[Markings, dict[str, str]]:
    """The row's markings over its type's defaults; `extra` names edge overrides (nation)."""
    record, fields = defaults[type_name]
    if row.raw.get("marking") is not None:
        record = ctx.marking(row.raw["marking"], f"the {type_name} record")
    given = row.raw.get("markings") or {}
    if not isinstance(given, dict):
        raise _RowError("markings must be a mapping of field to marking")
    unknown = sorted(str(k) for k in set(given) - set(fields) - set(extra))
    if unknown:
        raise _RowError(f"markings for unknown field(s) {', '.join(unknown)}")
    resolved = {n: ctx.marking(given[n], n) if n in given else m for n, m in fields.items()}
    others = {n: ctx.marking(given[n], n) for n in extra if n in given}
    return Markings.build(record, resolved), others


def _check_export(c: CapabilityRecord) -> None:
    if c.jurisdiction == "ITAR":
        if c.usml is None:
            raise _RowError("an ITAR item needs its USML category (usml)")
        if c.eccn is not None:
            raise _RowError("an ITAR item has a USML category, not an ECCN")
    elif c.usml is not None:
        raise _RowError(f"usml given for a {c.jurisdiction} item")
    if c.jurisdiction == "EAR" and c.eccn is None:
        raise _RowError("an EAR item needs its ECCN (or EAR99)")
    if c.jurisdiction == "NONE" and c.eccn is not None:
        raise _RowError("eccn given for an item subject to neither ITAR nor EAR")
    if c.jurisdiction != "ITAR" and (c.sme or c.etl or c.cdn_excluded):
        raise _RowError("sme, etl and cdnExcluded apply to USML (ITAR) items only")


def _capability(ctx: _Context, row: _Row, defaults: _Defaults) -> CapabilityRecord:
    jurisdiction = row.required("jurisdiction")
    if jurisdiction not in _JURISDICTIONS:
        raise _RowError(
            f"bad jurisdiction {jurisdiction!r}; expected one of {', '.join(_JURISDICTIONS)}"
        )
    usml = row.text("usml")
    if usml is not None and usml not in _USML:
        raise _RowError(f"bad USML category {usml!r}; expected a Roman numeral I..XXI")
    eccn = row.text("eccn")
    if eccn is not None and not _ECCN.match(eccn):
        raise _RowError(f"bad ECCN {eccn!r} (e.g. 3A001.b.2, 9A610, EAR99)")
    marks, _ = _markings(ctx, row, "Capability", defaults)
    record = CapabilityRecord(
        id=row.key("id"),
        name=row.required("name"),
        area=row.required("area"),
        jurisdiction=jurisdiction,
        markings=marks,
        description=row.text("description"),
        usml=usml,
        eccn=eccn,
        sme=bool(row.flag("sme")),
        etl=bool(row.flag("etl")),
        classified=bool(row.flag("classified")),
        cdn_excluded=bool(row.flag("cdnExcluded")),
    )
    _check_export(record)
    return record


def _supplier(ctx: _Context, row: _Row, defaults: _Defaults) -> SupplierRecord:
    nation = row.required("nation")
    if nation not in NATION_CODES:
        raise _RowError(f"unknown nation code {nation!r} (not an ISO 3166-1 alpha-3 code)")
    cage = row.text("cage")
    if cage is not None and not _CAGE.match(cage):
        raise _RowError(f"bad CAGE code {cage!r} (five letters or digits)")
    marks, edge = _markings(ctx, row, "Supplier", defaults, extra=("nation",))
    return SupplierRecord(
        id=row.key("id"),
        name=row.required("name"),
        nation=nation,
        markings=marks,
        based_in_marking=edge.get("nation", defaults["BASED_IN"][0]),
        cage=cage,
        city=row.text("city"),
        description=row.text("description"),
        employees=row.integer("employees", 0, 10_000_000),
    )


@dataclass(slots=True)
class _Pending:
    """An edge parsed from a row, waiting for its endpoints to be checked."""

    file: str
    where: str
    source: str  # the row it is nested in (supplier or capability id)
    target: str
    build: Callable[[], Any]


@dataclass(slots=True)
class _Demo:
    capabilities: dict[str, CapabilityRecord] = field(default_factory=dict)
    suppliers: dict[str, SupplierRecord] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)  # "kind:id" -> where first defined
    rejected: dict[str, str] = field(default_factory=dict)  # "kind:id" -> why
    requires: list[_Pending] = field(default_factory=list)
    provides: list[_Pending] = field(default_factory=list)
    sources_from: list[_Pending] = field(default_factory=list)
    subsidiaries: list[_Pending] = field(default_factory=list)


def _nested(
    ctx: _Context,
    file: str,
    where: str,
    owner: str,
    raws: list[Any],
    parse: Callable[[_Row], tuple[str, Callable[[], Any]]],
    allowed: frozenset[str],
    into: list[_Pending],
    shorthand: str | None = None,
) -> None:
    for j, raw in enumerate(raws):
        at = f"{where}[{j}]"
        if shorthand is not None and isinstance(raw, str):
            raw = {shorthand: raw}  # `requires: [cap-a, cap-b]`
        try:
            target, build = parse(_Row(raw, allowed, at))
        except _RowError as err:
            ctx.reject(file, at, str(err))
            continue
        into.append(_Pending(file, at, owner, target, build))


def _read_file(ctx: _Context, demo: _Demo, path: Path) -> None:
    file = ctx.name(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        ctx.reject(file, "-", f"not valid YAML: {err}")
        return
    if not isinstance(doc, dict):
        ctx.reject(file, "-", "expected a mapping with notice, defaults, suppliers, capabilities")
        return
    for key in sorted(str(k) for k in set(doc) - _TOP_KEYS):
        ctx.reject(file, key, f"unknown top-level key; expected {', '.join(sorted(_TOP_KEYS))}")
    notice = doc.get("notice")
    if not isinstance(notice, str) or not notice.strip():
        ctx.reject(file, "notice", "missing: say that company facts are illustrative")
    sections = [s for s in ("capabilities", "suppliers") if doc.get(s) is not None]
    defaults = _defaults(ctx, file, doc.get("defaults"), sections)
    for i, raw in enumerate(_section(ctx, file, doc, "capabilities")):
        _read_capability(ctx, demo, defaults, file, i, raw)
    for i, raw in enumerate(_section(ctx, file, doc, "suppliers")):
        _read_supplier(ctx, demo, defaults, file, i, raw)


def _read_capability(
    ctx: _Context, demo: _Demo, defaults: _Defaults, file: str, i: int, raw: object
) -> None:
    where, ident = _identify(raw, f"capabilities[{i}]")
    try:
        row = _Row(raw, _CAPABILITY_KEYS, where)
        record = _capability(ctx, row, defaults)
        _claim(demo, "capability", record.id, f"{file} {where}")
        requires = row.items("requires")
    except _RowError as err:
        ctx.reject(file, where, str(err))
        if ident is not None:
            demo.rejected.setdefault(f"capability:{ident}", f"{file} {where}: {err}")
        _reject_children(ctx, file, where, raw, str(err), ("requires",))
        return
    demo.capabilities[record.id] = record
    cap = record.id

    def parse(r: _Row) -> tuple[str, Callable[[], Any]]:
        target = r.key("capability")
        marks, _ = _markings(ctx, r, "REQUIRES", defaults)
        return target, lambda: RequiresRecord(cap, target, marks)

    _nested(
        ctx,
        file,
        f"{where} requires",
        cap,
        requires,
        parse,
        _REQUIRES_KEYS,
        demo.requires,
        shorthand="capability",
    )


def _read_supplier(
    ctx: _Context, demo: _Demo, defaults: _Defaults, file: str, i: int, raw: object
) -> None:
    where, ident = _identify(raw, f"suppliers[{i}]")
    try:
        row = _Row(raw, _SUPPLIER_KEYS, where)
        supplier = _supplier(ctx, row, defaults)
        _claim(demo, "supplier", supplier.id, f"{file} {where}")
        nested = {k: row.items(k) for k in _SUPPLIER_EDGES}
    except _RowError as err:
        ctx.reject(file, where, str(err))
        if ident is not None:
            demo.rejected.setdefault(f"supplier:{ident}", f"{file} {where}: {err}")
        _reject_children(ctx, file, where, raw, str(err), _SUPPLIER_EDGES)
        return
    demo.suppliers[supplier.id] = supplier
    sid = supplier.id

    def provides(r: _Row) -> tuple[str, Callable[[], Any]]:
        target = r.key("capability")
        capacity, unit = r.number("capacity", 0, 1e12), r.text("unit")
        if capacity is not None and unit is None:
            raise _RowError("capacity needs its unit")
        trl, lead = r.integer("trl", 1, 9), r.integer("leadTimeDays", 0, 36_500)
        marks, _ = _markings(ctx, r, "PROVIDES", defaults)
        return target, lambda: ProvidesRecord(sid, target, marks, capacity, unit, trl, lead)

    def sources(r: _Row) -> tuple[str, Callable[[], Any]]:
        target = r.key("supplier")
        share, sole, item = r.number("share", 0, 1), r.flag("sole"), r.text("item")
        if sole and share is not None and share < 1:
            raise _RowError(f"a sole source supplies the whole need, but share is {share:g}")
        marks, _ = _markings(ctx, r, "SOURCES_FROM", defaults)
        return target, lambda: SourcesFromRecord(sid, target, marks, item, share, sole)

    def owner(r: _Row) -> tuple[str, Callable[[], Any]]:
        target = r.key("parent")
        share = r.number("share", 0, 1)
        if not share:
            raise _RowError("missing required field 'share' (ownership above 0, at most 1)")
        marks, _ = _markings(ctx, r, "SUBSIDIARY_OF", defaults)
        return target, lambda: SubsidiaryRecord(sid, target, share, marks)

    at = f"{where} "
    _nested(
        ctx, file, at + "provides", sid, nested["provides"], provides, _PROVIDES_KEYS, demo.provides
    )
    _nested(
        ctx,
        file,
        at + "sources_from",
        sid,
        nested["sources_from"],
        sources,
        _SOURCES_KEYS,
        demo.sources_from,
    )
    _nested(
        ctx,
        file,
        at + "subsidiary_of",
        sid,
        nested["subsidiary_of"],
        owner,
        _SUBSIDIARY_KEYS,
        demo.subsidiaries,
    )


def _section(ctx: _Context, file: str, doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.reject(file, key, f"must be a list, got {_kind(value)}")
        return []
    return value


def _identify(raw: object, where: str) -> tuple[str, str | None]:
    """The row's location, with its id when it has a usable one."""
    ident = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(ident, str) and ident.strip():
        return f"{where} ({ident.strip()})", ident.strip()
    return where, None


def _claim(demo: _Demo, kind: str, ident: str, where: str) -> None:
    key = f"{kind}:{ident}"
    if key in demo.first:
        raise _RowError(f"duplicate {kind} id {ident!r} (first at {demo.first[key]})")
    demo.first[key] = where


def _reject_children(
    ctx: _Context, file: str, where: str, raw: object, why: str, keys: Sequence[str]
) -> None:
    """The nested edges of a rejected row go with it, each reported."""
    if not isinstance(raw, dict):
        return
    for key in keys:
        children = raw.get(key)
        for j in range(len(children) if isinstance(children, list) else 0):
            ctx.reject(file, f"{where} {key}[{j}]", f"its row was rejected: {why}")


def _endpoint(demo: _Demo, kind: str, ident: str, known: Mapping[str, object]) -> None:
    if ident in known:
        return
    why = demo.rejected.get(f"{kind}:{ident}")
    if why is not None:
        raise _RowError(f"depends on {kind} {ident!r}, which was rejected ({why})")
    raise _RowError(f"unknown {kind} {ident!r}")


def _resolve_edges(
    ctx: _Context,
    demo: _Demo,
    pending: list[_Pending],
    source_kind: str,
    target_kind: str,
    check: Callable[[_Pending], None] | None = None,
) -> list[Any]:
    sources = demo.capabilities if source_kind == "capability" else demo.suppliers
    targets = demo.capabilities if target_kind == "capability" else demo.suppliers
    seen: dict[tuple[str, str], str] = {}
    out = []
    for p in pending:
        try:
            _endpoint(demo, source_kind, p.source, sources)
            _endpoint(demo, target_kind, p.target, targets)
            if source_kind == target_kind and p.source == p.target:
                raise _RowError(f"{p.source!r} cannot point at itself")
            if (p.source, p.target) in seen:
                raise _RowError(
                    f"duplicate edge {p.source} -> {p.target} (first at {seen[p.source, p.target]})"
                )
            if check is not None:
                check(p)
        except _RowError as err:
            ctx.reject(p.file, p.where, str(err))
            continue
        seen[p.source, p.target] = f"{p.file} {p.where}"
        out.append(p.build())
    return out


def _reaches(graph: Mapping[str, list[str]], start: str, goal: str) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def load_demo(data_dir: Path) -> ImportResult:
    """Every `*.yaml` demo file, validated together (rows may reference other files' rows)."""
    demo_dir = _resolve(data_dir, "demo", lambda d: any(d.glob("*.yaml")))
    ctx = _Context(demo_dir.parent)
    files = sorted(demo_dir.glob("*.yaml"))
    if not files:
        ctx.reject(ctx.name(demo_dir), "-", "no *.yaml demo files")
    demo = _Demo()
    for path in files:
        _read_file(ctx, demo, path)

    # REQUIRES is a DAG: an edge that would close a cycle is rejected.
    graph: dict[str, list[str]] = {}

    def acyclic(p: _Pending) -> None:
        if _reaches(graph, p.target, p.source):
            raise _RowError(f"{p.source} -> {p.target} would close a REQUIRES cycle")
        graph.setdefault(p.source, []).append(p.target)

    requires = _resolve_edges(ctx, demo, demo.requires, "capability", "capability", acyclic)
    provides = _resolve_edges(ctx, demo, demo.provides, "supplier", "capability")
    sources = _resolve_edges(ctx, demo, demo.sources_from, "supplier", "supplier")

    owned: dict[str, float] = {}

    def total_share(p: _Pending) -> None:
        share = float(p.build().share) + owned.get(p.source, 0.0)
        if share > 1 + 1e-9:
            raise _RowError(f"owners of {p.source!r} would hold {share:g} (more than all of it)")
        owned[p.source] = share

    subsidiaries = _resolve_edges(ctx, demo, demo.subsidiaries, "supplier", "supplier", total_share)
    dataset = Dataset(
        suppliers=list(demo.suppliers.values()),
        capabilities=list(demo.capabilities.values()),
        requires=requires,
        provides=provides,
        sources_from=sources,
        subsidiaries=subsidiaries,
    )
    return ImportResult(dataset, ctx.rejected, ctx.notes)
