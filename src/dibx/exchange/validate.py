"""A row of an exchange file, checked by the one validator of writes.

A row becomes the input of the mutation that would create it (`createSupplier`,
`setProvides`, ...) and goes through `StewardshipService.check`: the same scopes, value
coercion, cross-field checks, marking algebra, "a marking you may read yourself" rule and
policy floors as a mutation. An empty marking takes the policy's default for the portion (a
field without a value takes it unchecked, as a mutation's omitted field does). The errors come
back with the column they are about, ready for a steward.

Fields named in `withheld` (an export's fields withheld from the nation it was written for)
are the exception: they are stored with neither a value nor a marking of their own (they read
as no value under the policy's default, and export leaves them out again), and a row that
does not change them leaves them as stored. The policy's default stands in for what the
slice never knew; filling it in as a marking would make it look released.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final

from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.exchange.format import KEY, MARKING, ORIGIN, REASON, SUFFIX, WITHHELD, Entity
from dibx.exchange.reader import Row
from dibx.services.stewardship import (
    INVALID,
    UNKNOWN_FIELD,
    Checked,
    StewardshipService,
    UserError,
)

# Reject codes of the import itself (the validator's own: INVALID, MARKING_*, FORBIDDEN, ...).
MALFORMED: Final = "MALFORMED"  # a line that is not a row of the format
DEPENDS_ON_REJECTED: Final = "DEPENDS_ON_REJECTED"
DUPLICATE_ROW: Final = "DUPLICATE_ROW"
ORIGIN_MISMATCH: Final = "ORIGIN_MISMATCH"
RETIRED: Final = "RETIRED"


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected row: where, which column ('' for the whole row), a code and a reason."""

    source: str
    line: int
    column: str
    code: str
    reason: str

    def __str__(self) -> str:
        col = f" [{self.column}]" if self.column else ""
        return f"{self.source}:{self.line}{col} {self.code}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Item:
    """A row that passed every check needing no database, ready for the writer."""

    source: str
    line: int
    entity: Entity
    checked: Checked

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def _op(entity: Entity) -> str:
    if entity.node is not None:
        return f"create{entity.node.name}"
    assert entity.edge is not None
    return "set" + "".join(p.title() for p in entity.edge.rel.split("_"))


def column_of(entity: Entity, path: tuple[str, ...]) -> str:
    """The column a validator error path is about: ('fields', f, 'marking') is `f.marking`."""
    if not path:
        return ""
    head = path[0]
    if head == "fields":
        if len(path) == 1:
            return ""  # a cross-field rule: the row as a whole
        return path[1] + (SUFFIX if path[-1] == MARKING else "")
    if entity.owned and head in {e.end_role for e in entity.owned}:
        return head + (SUFFIX if path[-1] == MARKING else "")
    return head


class RowChecker:
    """Checks rows for one importer (principal, release scope) with a service bound to it."""

    def __init__(
        self, service: StewardshipService, principal: Principal, scope: ReleaseScope
    ) -> None:
        self.service = service
        self.principal = principal
        self.scope = scope
        self.defaults = scope.default_marking
        self.nation = principal.nation
        self._ops: dict[str, str] = {}

    def key_of(self, raw: object) -> object:
        """A record key as the importer gives it: `GBR:acme` from GBR is `acme`."""
        prefix = self.nation + ":"
        if isinstance(raw, str) and raw.startswith(prefix):
            return raw[len(prefix) :]
        return raw

    def change(self, row: Row, defaulted: set[str] | None = None) -> dict[str, Any]:
        """The mutation input a row stands for; `defaulted` gets the marking columns left
        empty whose policy default was put in."""
        filled = set() if defaulted is None else defaulted
        entity, v = row.entity, row.values
        owner = entity.owner
        out: dict[str, Any] = {}
        if entity.node is not None:
            out[KEY] = self.key_of(v.get(KEY))
        else:
            assert entity.ends is not None
            for role in entity.ends:
                out[role] = v.get(role)
        out[MARKING] = v.get(MARKING) or self.defaults.get(owner)
        if v.get(MARKING) is None:
            filled.add(MARKING)
        fields: dict[str, Any] = {}
        for name in entity.field_names:
            value = v.get(name)
            mark = v.get(name + SUFFIX)
            if value is None and mark is None:
                continue  # no value: the policy default marking, as a mutation's omitted field
            if mark is None:
                filled.add(name + SUFFIX)
            fields[name] = {"value": value, "marking": mark or self.defaults.get(f"{owner}_{name}")}
        out["fields"] = fields
        for edge in entity.owned:
            role = edge.end_role
            end = v.get(role)
            if end is not None:
                if v.get(role + SUFFIX) is None:
                    filled.add(role + SUFFIX)
                out[role] = {
                    "key": end,
                    "marking": v.get(role + SUFFIX) or self.defaults.get(edge.rel),
                }
        if v.get(REASON) is not None:
            out[REASON] = v[REASON]
        return out

    def withheld(self, row: Row) -> tuple[str, ...] | Reject:
        """The row's `withheld` field names (a JSON list, or names separated by commas), each a
        field of the entity given neither a value nor a marking."""
        raw = row.values.get(WITHHELD)
        if raw is None:
            return ()
        parts = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            return Reject(
                row.source, row.line, WITHHELD, INVALID, "withheld is a list of field names"
            )
        names = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
        entity = row.entity
        for name in names:
            if name not in entity.field_names:
                known = ", ".join(entity.field_names)
                reason = f"{entity.name} has no field {name!r} to withhold; known: {known}"
                return Reject(row.source, row.line, WITHHELD, UNKNOWN_FIELD, reason)
            if row.values.get(name) is not None or row.values.get(name + SUFFIX) is not None:
                reason = f"{name} is listed as withheld, so it takes no value and no marking"
                return Reject(row.source, row.line, WITHHELD, INVALID, reason)
        return names

    def check(self, row: Row) -> Item | list[Reject]:
        origin = row.values.get(ORIGIN)
        if origin is not None and origin != self.nation:
            return [
                Reject(
                    row.source,
                    row.line,
                    ORIGIN,
                    ORIGIN_MISMATCH,
                    f"the row says it originates with {origin}, but {self.nation} is importing "
                    "it: only the originator imports its records",
                )
            ]
        withheld = self.withheld(row)
        if isinstance(withheld, Reject):
            return [withheld]
        entity = row.entity
        op = self._ops.get(entity.name)
        if op is None:
            op = self._ops[entity.name] = _op(entity)
        defaulted: set[str] = set()
        change = self.change(row, defaulted)
        checked, errors = self.service.check(self.principal, self.scope, op, change)
        if checked is None:
            return [self.reject(row, e, defaulted) for e in errors]
        for name in withheld:  # checked with the defaults; stored without them
            checked.fields.values.pop(name, None)
            checked.fields.markings.pop(name, None)
        return Item(row.source, row.line, entity, checked)

    def reject(
        self, row: Row, error: UserError, defaulted: AbstractSet[str] = frozenset()
    ) -> Reject:
        column = column_of(row.entity, error.field)
        reason = error.message
        if column in defaulted and error.code.startswith("MARKING_"):
            reason = (
                f"{column} is empty, so it takes the policy default, and {reason}; "
                f"give {column} a marking your nation may read"
            )
        return Reject(row.source, row.line, column, error.code, reason)


def checked_values(item: Item) -> Mapping[str, Any]:
    return item.checked.fields.values
