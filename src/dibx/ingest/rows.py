"""Row models built from the model of record: one pydantic model per row shape.

A row model has one entry per field of a node or edge type (checked and coerced by
`Field.coerce`, so loaders, mutations and the model say the same thing), the key columns
(checked by the node type's key pattern), and whatever else the file format carries (marking
columns, nested lists) passed through for the loader. `extra="forbid"`: an unknown column or
key is rejected by name. The type's cross-field `check` runs once every field is valid.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Annotated, Any

import pydantic
from pydantic import BeforeValidator, ConfigDict, ValidationError

from dibx.graph.model import Field, FieldError, NodeType, RecordCheck
from dibx.ingest.report import RowError, kind_name

Coerce = Callable[[object], Any]


def key_coercer(node: NodeType, column: str, what: str | None = None) -> Coerce:
    """Checks a key column naming a `node` (its own key or an edge's endpoint); `what` names
    the column in a message about a bad value."""

    def coerce(raw: object) -> str:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise FieldError(f"missing required field {column!r}")
        if not isinstance(raw, str):
            raise FieldError(
                f"{column!r} must be text, got {kind_name(raw)} {raw!r} (quote it in YAML)"
            )
        try:
            return node.coerce_key(raw)
        except FieldError:
            raise FieldError(f"bad {what or column} {raw.strip()!r} ({node.key_hint})") from None

    return coerce


def row_model(
    name: str,
    fields: Sequence[Field],
    *,
    keys: Mapping[str, Coerce] | None = None,
    passthrough: Collection[str] = (),
    required: Collection[str] = (),
    check: RecordCheck | None = None,
) -> type[pydantic.BaseModel]:
    """A pydantic model for one row: `keys` (column -> coercer) and `fields` are checked,
    `passthrough` columns are kept as given, `required` makes optional fields required."""
    spec: dict[str, Any] = {}
    columns: dict[str, str] = {}  # python name -> column; aliases keep any field name legal
    for column, coerce in (keys or {}).items():
        spec[f"k{len(spec)}"] = _entry(column, coerce)
        columns[f"k{len(columns)}"] = column
    for f in fields:
        checked = replace(f, required=True) if f.name in required else f
        spec[f"k{len(spec)}"] = _entry(f.name, checked.coerce)
        columns[f"k{len(columns)}"] = f.name
    for column in passthrough:
        spec[f"k{len(spec)}"] = (Any, pydantic.Field(default=None, alias=column))
        columns[f"k{len(columns)}"] = column
    field_names = {f.name for f in fields}
    validators: dict[str, Any] = {}
    if check is not None:
        record_check = check

        def run_check(model: pydantic.BaseModel) -> pydantic.BaseModel:
            values = {columns[k]: v for k, v in model.__dict__.items()}
            record_check({k: v for k, v in values.items() if k in field_names})
            return model

        validators["check"] = pydantic.model_validator(mode="after")(run_check)
    return pydantic.create_model(
        name,
        __config__=ConfigDict(extra="forbid", populate_by_name=False),
        __validators__=validators,
        **spec,
    )


def _entry(column: str, coerce: Coerce) -> tuple[Any, Any]:
    # validate_default: an absent column is coerced too (a required field says so).
    return (
        Annotated[Any, BeforeValidator(coerce)],
        pydantic.Field(default=None, alias=column, validate_default=True),
    )


def validate(model: type[pydantic.BaseModel], raw: object, what: str) -> dict[str, Any]:
    """The row's checked values by column, or RowError naming every problem."""
    if not isinstance(raw, dict):
        raise RowError(f"{what} must be a mapping, got {kind_name(raw)}")
    try:
        checked = model.model_validate(raw)
    except ValidationError as err:
        raise RowError(_reason(model, err)) from None
    return checked.model_dump(by_alias=True)


def columns(model: type[pydantic.BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _reason(model: type[pydantic.BaseModel], err: ValidationError) -> str:
    unknown: list[str] = []
    problems: list[str] = []
    for e in err.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            unknown.append(where)
        elif e["type"] == "value_error" and "error" in e.get("ctx", {}):
            problems.append(str(e["ctx"]["error"]))
        else:
            problems.append(f"{where}: {e['msg']}" if where else e["msg"])
    if unknown:
        expected = ", ".join(sorted(columns(model)))
        problems.insert(0, f"unknown field(s) {', '.join(sorted(unknown))}; expected {expected}")
    return "; ".join(problems)
