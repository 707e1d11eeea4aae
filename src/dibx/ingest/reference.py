"""Reference data (CSV): nations, agreements and dated memberships, checked before any write.

Layout: `<data_dir>/reference/{agreements,memberships}.csv` (the sub-folder itself is accepted
too). Nations are not a file: they are every ISO 3166-1 country that pycountry knows, named by
its common name where it has one. Columns are the model's: a node file has its key and fields,
an edge file its endpoint roles and fields, plus optional marking columns for the edge.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final

import pycountry
import pydantic

from dibx import data as shipped
from dibx.graph.model import AGREEMENT, MEMBER_OF, NATION
from dibx.graph.records import PUBLIC_TEXT, Dataset, EdgeRecord, Markings, NodeRecord
from dibx.ingest.report import Context, ImportResult, RowError
from dibx.ingest.rows import columns, key_coercer, row_model, validate

__all__ = ["NATION_CODES", "default_data_dir", "load_reference", "nation_records"]

NATION_CODES: Final = frozenset(c.alpha_3 for c in pycountry.countries)
# A field marked with another: `precision` says how exact `since` is, so it takes since's.
_FOLLOWS: Final = {"precision": "since"}


def default_data_dir() -> Path:
    """The shipped reference and demo data (`dibx.data`)."""
    return shipped.reference_dir()


def nation_records() -> list[NodeRecord]:
    marks = Markings.public(NATION.names)
    return [
        NodeRecord.of(
            NATION,
            c.alpha_3,
            marks,
            # "Taiwan", "South Korea" rather than ISO's long forms where pycountry has them.
            {"name": getattr(c, "common_name", None) or c.name},
        )
        for c in sorted(pycountry.countries, key=lambda c: c.alpha_3)
    ]


def _agreement_row() -> type[pydantic.BaseModel]:
    # Reference data cites its source: every column is required here.
    return row_model(
        "AgreementRow",
        AGREEMENT.fields,
        keys={AGREEMENT.key: key_coercer(AGREEMENT, AGREEMENT.key, f"agreement {AGREEMENT.key}")},
        required=AGREEMENT.names,
    )


def _marking_columns() -> tuple[str, ...]:
    return ("marking", *(f"marking_{n}" for n in MEMBER_OF.names if n not in _FOLLOWS))


def _membership_row() -> type[pydantic.BaseModel]:
    return row_model(
        "MembershipRow",
        MEMBER_OF.fields,
        keys={
            MEMBER_OF.start_role: key_coercer(NATION, MEMBER_OF.start_role),
            MEMBER_OF.end_role: key_coercer(AGREEMENT, MEMBER_OF.end_role),
        },
        passthrough=_marking_columns(),
        required=("precision", "source"),
        check=MEMBER_OF.check,
    )


def _read_csv(
    ctx: Context, path: Path, model: type[pydantic.BaseModel], optional: Sequence[str] = ()
) -> Iterator[tuple[str, dict[str, str]]]:
    name = ctx.name(path)
    if not path.is_file():
        ctx.reject(name, "-", "file not found")
        return
    required = [c for c in columns(model) if c not in optional]
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in required and c not in optional]
        if missing or unknown:
            parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
            parts += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
            expected = ", ".join(required) + (
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


def _agreements(ctx: Context, path: Path) -> tuple[dict[str, NodeRecord], dict[str, str]]:
    """Valid agreements by code, and the reason each rejected code was rejected."""
    name = ctx.name(path)
    valid: dict[str, NodeRecord] = {}
    first: dict[str, str] = {}
    bad: dict[str, str] = {}
    model = _agreement_row()
    marks = Markings.public(AGREEMENT.names)
    for where, row in _read_csv(ctx, path, model):
        code = row.get(AGREEMENT.key, "")
        try:
            values = validate(model, row, where)
            if code in first:
                raise RowError(f"duplicate agreement code {code!r} (first at {first[code]})")
        except RowError as err:
            ctx.reject(name, where, str(err))
            if code and code not in first:
                bad.setdefault(code, f"{name} {where}: {err}")
            continue
        first[code] = where
        fields = {n: values[n] for n in AGREEMENT.names}
        valid[code] = NodeRecord.of(AGREEMENT, code, marks, fields)
    return valid, bad


def _membership_markings(ctx: Context, row: Mapping[str, Any]) -> Markings:
    def marking(column: str, what: str) -> str:
        text = row.get(column) or ""
        return ctx.marking(text, what) if text else PUBLIC_TEXT  # reference data is public

    fields = {n: marking(f"marking_{n}", n) for n in MEMBER_OF.names if n not in _FOLLOWS}
    fields.update({n: fields[leader] for n, leader in _FOLLOWS.items()})
    return Markings.build(marking("marking", "the membership"), fields)


def _membership(
    ctx: Context,
    model: type[pydantic.BaseModel],
    row: Mapping[str, str],
    agreements: Mapping[str, NodeRecord],
    bad: Mapping[str, str],
    where: str,
) -> EdgeRecord:
    values = validate(model, row, where)
    nation, agreement = values[MEMBER_OF.start_role], values[MEMBER_OF.end_role]
    if nation not in NATION_CODES:
        raise RowError(f"unknown nation code {nation!r} (not an ISO 3166-1 alpha-3 code)")
    if agreement in bad:
        raise RowError(f"agreement {agreement!r} was rejected ({bad[agreement]})")
    if agreement not in agreements:
        raise RowError(f"unknown agreement {agreement!r}")
    fields = {n: values[n] for n in MEMBER_OF.names}
    return EdgeRecord.of(MEMBER_OF, nation, agreement, _membership_markings(ctx, values), fields)


def _overlaps(a: EdgeRecord, b: EdgeRecord) -> bool:
    a_end, b_end = a["until"] or date.max, b["until"] or date.max
    return bool(a["since"] < b_end and b["since"] < a_end)


def _resolve(data_dir: Path) -> Path:
    return data_dir if (data_dir / "agreements.csv").is_file() else data_dir / "reference"


def load_reference(data_dir: Path) -> ImportResult:
    """Nations (pycountry), agreements.csv and memberships.csv, checked."""
    ref = _resolve(data_dir)
    ctx = Context(ref.parent)
    agreements, bad = _agreements(ctx, ref / "agreements.csv")
    path = ref / "memberships.csv"
    name = ctx.name(path)
    model = _membership_row()
    memberships: list[EdgeRecord] = []
    seen: dict[tuple[str, str], list[tuple[EdgeRecord, str]]] = {}
    for where, row in _read_csv(ctx, path, model, _marking_columns()):
        try:
            record = _membership(ctx, model, row, agreements, bad, where)
            for other, other_where in seen.get((record.start, record.end), []):
                if _overlaps(record, other):
                    raise RowError(
                        f"{record.start} in {record.end} overlaps the membership "
                        f"since {other['since']} ({other_where})"
                    )
        except RowError as err:
            ctx.reject(name, where, str(err))
            continue
        seen.setdefault((record.start, record.end), []).append((record, where))
        memberships.append(record)
    dataset = Dataset(
        nodes={NATION.name: nation_records(), AGREEMENT.name: list(agreements.values())},
        edges={MEMBER_OF.rel: memberships},
    )
    return ctx.result(dataset)
