"""The model of record: every node type, edge type and marked field, declared once.

Each `Field` says its type, its GraphQL description, its default marking (the policy's
`[defaults]` may override it), how a loaded or written value is checked and coerced, whether
it sorts or filters, and how the synthetic generator fills it. Records, write queries, the
GraphQL object, edge, connection, sort and filter types, id types, loader allow-lists and
(next) mutation inputs and import/export columns are derived from this module; nothing else
names a field.

Labels, relationship types and property names can only come from here (they cannot be query
parameters), so no identifier in a compiled query ever comes from a caller. `Model` is a
value: a test can build one with an extra field and derive everything from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from random import Random
from typing import Any, Literal

Direction = Literal["out", "in"]
Kind = type[str] | type[int] | type[float] | type[bool] | type[date]
# How the synthetic generator fills a field: a function of its random source (None: left empty).
Fill = Callable[[Random], Any]
# A check across a record's coerced values (e.g. export-control consistency); raises FieldError.
RecordCheck = Callable[[Mapping[str, Any]], None]

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
NATION_PATTERN = re.compile(r"^[A-Z]{3}$")
TEXT_MAX = 2000
# C0 controls, DEL and C1 controls; free text (`multiline`) may hold tab, LF and CR.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class FieldError(ValueError):
    """A value a field cannot take; the message names the field and says what it takes."""


def check_text(name: str, text: str, *, multiline: bool = False) -> None:
    """FieldError if `text` holds a control character: any (C0, DEL, C1) in one line of
    text, any but tab, line feed and carriage return in a free text (`multiline`)."""
    found = (_CONTROL_BUT_LINES if multiline else _CONTROL).search(text)
    if found is None:
        return
    allowed = (
        "of the control characters it takes only tab, line feed and carriage return"
        if multiline
        else "it takes one line of text without control characters"
    )
    raise FieldError(
        f"{name!r} contains the control character U+{ord(found.group()):04X}; {allowed}"
    )


def _kind_name(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


@dataclass(frozen=True, slots=True)
class Field:
    """One marked property of a node or edge; `name` is both the graph property and the
    GraphQL field name (camelCase)."""

    name: str
    kind: Kind
    description: str
    marking: str = "CUI"  # the default marking, unless the policy's [defaults] overrides it
    required: bool = False
    low: float | None = None  # numbers: inclusive bounds
    high: float | None = None
    choices: tuple[str, ...] = ()  # text: the only values allowed
    pattern: re.Pattern[str] | None = None  # text: the form allowed
    hint: str = ""  # what a rejected value should look like, for the message
    multiline: bool = False  # text: free text, which may hold tabs and line breaks
    sortable: bool = False
    # False: never null in stored data (a loader fills a default), e.g. flags.
    nullable: bool = True
    default: Any = None  # what a loader stores when the input gives nothing
    # Store the marking even when the value is null: "no value" is itself information (an
    # open-ended membership), so a withheld null must read exactly like a withheld value.
    marked_when_null: bool = False
    fill: Fill | None = None

    @property
    def attr(self) -> str:
        """The Python attribute name (snake_case) of the GraphQL field."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()

    def coerce(self, raw: object) -> Any:
        """The stored value for an input value (YAML, CSV text, JSON or a GraphQL argument),
        or FieldError saying precisely what is wrong. None means "no value"."""
        if isinstance(raw, str) and self.kind is not str:
            raw = raw.strip() or None
        if raw is None:
            if self.required:
                raise FieldError(f"missing required field {self.name!r}")
            return self.default
        if self.kind is bool:
            return self._flag(raw)
        if self.kind is int:
            return self._number(raw, whole=True)
        if self.kind is float:
            return self._number(raw, whole=False)
        if self.kind is date:
            return self._date(raw)
        return self._text(raw)

    def _text(self, raw: object) -> str | None:
        if not isinstance(raw, str):
            raise FieldError(
                f"{self.name!r} must be text, got {_kind_name(raw)} {raw!r} (quote it in YAML)"
            )
        text = raw.strip()
        if not text:
            if self.required:
                raise FieldError(f"missing required field {self.name!r}")
            return None
        if len(text) > TEXT_MAX:
            raise FieldError(f"{self.name!r} is longer than {TEXT_MAX} characters")
        check_text(self.name, text, multiline=self.multiline)
        if self.choices and text not in self.choices:
            raise FieldError(f"bad {self.name} {text!r}; expected one of {', '.join(self.choices)}")
        if self.pattern is not None and not self.pattern.match(text):
            raise FieldError(f"bad {self.name} {text!r}" + (f" ({self.hint})" if self.hint else ""))
        return text

    def _flag(self, raw: object) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise FieldError(f"{self.name!r} must be true or false, got {_kind_name(raw)} {raw!r}")

    def _number(self, raw: object, *, whole: bool) -> int | float:
        value: object = raw
        if isinstance(raw, str):
            try:
                value = int(raw) if whole else float(raw)
            except ValueError:
                value = raw
        if whole and (isinstance(value, bool) or not isinstance(value, int)):
            raise FieldError(f"{self.name!r} must be a whole number, got {_kind_name(raw)} {raw!r}")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or math.isnan(value)
            or math.isinf(value)
        ):
            raise FieldError(f"{self.name!r} must be a number, got {_kind_name(raw)} {raw!r}")
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not low <= value <= high:
            raise FieldError(f"{self.name} {value} out of range [{low:g}, {high:g}]")
        return value if whole else float(value)

    def _date(self, raw: object) -> date:
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            try:
                return date.fromisoformat(raw.strip())
            except ValueError:
                pass
        raise FieldError(f"{self.name!r} must be a date YYYY-MM-DD, got {raw!r}")


@dataclass(frozen=True, slots=True)
class EdgeType:
    """A relationship type: its endpoints, the marked fields it carries and its key.

    `start_role`/`end_role` name the endpoints in records, loaders and (next) mutation inputs
    (a SOURCES_FROM runs from its `buyer` to its `supplier`). `key_fields` are properties that,
    with the endpoints, tell two edges apart (a nation may leave an agreement and rejoin it).
    """

    rel: str
    start: str  # node type name
    end: str
    start_role: str
    end_role: str
    description: str
    marking: str = "CUI"
    fields: tuple[Field, ...] = ()
    key_fields: tuple[str, ...] = ()
    dated: bool = False  # carries since/until and is read "as of" a date
    check: RecordCheck | None = None
    acyclic: bool = False  # loaders refuse an edge that would close a cycle

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        return _find(self.fields, name, self.rel)


@dataclass(frozen=True, slots=True)
class Relation:
    """A node type's view of an edge type, as a GraphQL connection field."""

    edge: EdgeType
    direction: Direction
    description: str
    # The GraphQL type name of one edge of this connection (e.g. "Offer", "SupplyLink").
    edge_name: str
    many: bool = True
    first: int = 20  # default page size
    # Keep per-owner release tallies for its totalCount (`dibx.graph.tallies`): the count of
    # a busy owner's links read from a few stored sums instead of every link's clause lists.
    # Only for an undated relation (a dated one's count depends on the date asked).
    tallied: bool = False

    @property
    def rel(self) -> str:
        return self.edge.rel

    @property
    def target(self) -> str:
        return self.edge.end if self.direction == "out" else self.edge.start

    @property
    def edge_fields(self) -> tuple[str, ...]:
        return self.edge.names

    @property
    def dated(self) -> bool:
        return self.edge.dated

    @property
    def edge_type(self) -> str:
        """Name under which the edge's default markings are looked up in the policy."""
        return self.edge.rel


@dataclass(frozen=True, slots=True)
class NodeType:
    name: str
    label: str
    key: str  # the key property (`id` or `code`)
    key_pattern: re.Pattern[str]
    key_hint: str
    description: str
    marking: str = "CUI"
    fields: tuple[Field, ...] = ()
    relations: dict[str, Relation] = field(default_factory=dict)
    check: RecordCheck | None = None
    key_description: str = ""  # the GraphQL description of the key field

    @property
    def key_field(self) -> str:
        """The GraphQL name of the key: `key` for an `id` (the global id is `id`), else itself."""
        return "key" if self.key == "id" else self.key

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        return _find(self.fields, name, self.name)

    def sortable(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.sortable)

    def coerce_key(self, raw: object) -> str:
        if not isinstance(raw, str) or not self.key_pattern.match(raw.strip()):
            raise FieldError(f"bad {self.key} {raw!r} ({self.key_hint})")
        return raw.strip()


def _find(fields: Iterable[Field], name: str, owner: str) -> Field:
    for f in fields:
        if f.name == name:
            return f
    known = ", ".join(f.name for f in fields)
    raise KeyError(f"{owner} has no field {name!r}; known: {known}")


@dataclass(frozen=True, slots=True)
class Model:
    """Node and edge types by name; everything else is derived from a Model."""

    nodes: dict[str, NodeType]
    edges: dict[str, EdgeType]

    def __post_init__(self) -> None:
        for node in self.nodes.values():
            for name, rel in node.relations.items():
                if rel.tallied and (rel.dated or not rel.many):
                    raise ValueError(
                        f"{node.name}.{name}: only an undated relation to many is tallied"
                    )

    def tallied(self) -> tuple[tuple[NodeType, str, Relation], ...]:
        """(owner type, relation name, relation) of every tallied relation
        (`dibx.graph.tallies`)."""
        return tuple(
            (node, name, rel)
            for node in self.nodes.values()
            for name, rel in node.relations.items()
            if rel.tallied
        )

    def untallied(self) -> Model:
        """This model with no tallied relation: every totalCount counts link by link."""
        nodes = {
            name: replace(
                node,
                relations={k: replace(r, tallied=False) for k, r in node.relations.items()},
            )
            for name, node in self.nodes.items()
        }
        return Model(nodes=nodes, edges=dict(self.edges))

    def defaults(self) -> dict[str, str]:
        """Default markings in the policy's key form: `<Type>` and `<Type>_<field>`."""
        out: dict[str, str] = {}
        owners: list[tuple[str, str, tuple[Field, ...]]] = [
            (n.name, n.marking, n.fields) for n in self.nodes.values()
        ] + [(e.rel, e.marking, e.fields) for e in self.edges.values()]
        for key, marking, fields in owners:
            out[key] = marking
            for f in fields:
                out[f"{key}_{f.name}"] = f.marking
        return out

    def owned(self, node: str) -> tuple[EdgeType, ...]:
        """Edge types a node has exactly one of, outgoing (a supplier's BASED_IN): a record
        carries them and they are written with it, replacing an older one."""
        relations = self.nodes[node].relations.values()
        return tuple(r.edge for r in relations if r.direction == "out" and not r.many)

    def fields_of(self, owner: str) -> tuple[Field, ...]:
        """The fields of a node type (by name) or an edge type (by relationship type)."""
        if owner in self.nodes:
            return self.nodes[owner].fields
        return self.edges[owner].fields

    def with_field(self, owner: str, new: Field) -> Model:
        """This model with one more field on a node or edge type (relations follow)."""
        if owner in self.nodes:
            node = self.nodes[owner]
            nodes = {**self.nodes, owner: replace(node, fields=(*node.fields, new))}
            return _relink(nodes, self.edges)
        edge = self.edges[owner]
        edges = {**self.edges, owner: replace(edge, fields=(*edge.fields, new))}
        return _relink(self.nodes, edges)


def _relink(nodes: Mapping[str, NodeType], edges: Mapping[str, EdgeType]) -> Model:
    """Point every relation at the current edge types (they are frozen values)."""
    relinked = {
        name: replace(
            node,
            relations={k: replace(r, edge=edges[r.edge.rel]) for k, r in node.relations.items()},
        )
        for name, node in nodes.items()
    }
    return Model(nodes=relinked, edges=dict(edges))


# --- cross-field checks ---------------------------------------------------------------------


def _export_control(v: Mapping[str, Any]) -> None:
    """ITAR items carry a USML category, EAR items an ECCN; ITAR-only flags on ITAR only."""
    jurisdiction = v.get("jurisdiction")
    if jurisdiction == "ITAR":
        if v.get("usml") is None:
            raise FieldError("an ITAR item needs its USML category (usml)")
        if v.get("eccn") is not None:
            raise FieldError("an ITAR item has a USML category, not an ECCN")
    elif v.get("usml") is not None:
        raise FieldError(f"usml given for a {jurisdiction} item")
    if jurisdiction == "EAR" and v.get("eccn") is None:
        raise FieldError("an EAR item needs its ECCN (or EAR99)")
    if jurisdiction == "NONE" and v.get("eccn") is not None:
        raise FieldError("eccn given for an item subject to neither ITAR nor EAR")
    if jurisdiction != "ITAR" and (v.get("sme") or v.get("etl") or v.get("cdnExcluded")):
        raise FieldError("sme, etl and cdnExcluded apply to USML (ITAR) items only")


def _membership_dates(v: Mapping[str, Any]) -> None:
    since, until = v.get("since"), v.get("until")
    if since is not None and until is not None and until < since:
        raise FieldError(f"until {until} is before since {since}")
    if v.get("precision") == "year" and since is not None and (since.month, since.day) != (1, 1):
        raise FieldError(f"precision 'year' needs since on 1 January, got {since}")


def _capacity_unit(v: Mapping[str, Any]) -> None:
    if v.get("capacity") is not None and v.get("unit") is None:
        raise FieldError("capacity needs its unit")


def _sole_source(v: Mapping[str, Any]) -> None:
    share = v.get("share")
    if v.get("sole") and share is not None and share < 1:
        raise FieldError(f"a sole source supplies the whole need, but share is {share:g}")


def _ownership(v: Mapping[str, Any]) -> None:
    if v.get("share") == 0:
        raise FieldError("an ownership share must be above 0")


# --- the model of record --------------------------------------------------------------------

USML = (
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI",
    "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI",
)  # fmt: skip
JURISDICTIONS = ("ITAR", "EAR", "NONE")
AGREEMENT_KINDS = ("statute", "treaty", "mou", "arrangement", "tetragraph", "designation")
ECCN_PATTERN = re.compile(r"^(EAR99|[0-9][A-E][0-9]{3}(\.[a-z0-9]+)*)$")
CAGE_PATTERN = re.compile(r"^[0-9A-Z]{5}$")
_PUBLIC = "PUBLIC"
_NOFORN = "CUI//NOFORN"


def _cage(r: Random) -> str:
    return "".join(r.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))


MEMBER_OF = EdgeType(
    rel="MEMBER_OF",
    start="Nation",
    end="Agreement",
    start_role="nation",
    end_role="agreement",
    description="A nation's membership in an agreement, dated.",
    marking=_PUBLIC,
    fields=(
        Field("since", date, "When the membership began.", _PUBLIC, required=True),
        Field(
            "until",
            date,
            "When it ended (null: still a member).",
            _PUBLIC,
            marked_when_null=True,
        ),
        Field(
            "precision",
            str,
            "How exact `since` is: `year` (January 1 of a known year) or `day`.",
            _PUBLIC,
            choices=("year", "day"),
            default="day",
        ),
        Field("source", str, "Where the membership is published.", _PUBLIC),
    ),
    key_fields=("since",),
    dated=True,
    check=_membership_dates,
)

BASED_IN = EdgeType(
    rel="BASED_IN",
    start="Supplier",
    end="Nation",
    start_role="supplier",
    end_role="nation",
    description="The nation a supplier is based in.",
)

PROVIDES = EdgeType(
    rel="PROVIDES",
    start="Supplier",
    end="Capability",
    start_role="supplier",
    end_role="capability",
    description="A supplier's offer of a capability.",
    fields=(
        Field(
            "capacity",
            float,
            "Capacity in `unit` per year.",
            _NOFORN,
            low=0,
            high=1e12,
            fill=lambda r: round(r.lognormvariate(4, 1.5), 1),
        ),
        Field("unit", str, "The unit capacity is counted in.", fill=lambda r: "units"),
        Field(
            "trl",
            int,
            "Technology readiness level, 1-9.",
            low=1,
            high=9,
            fill=lambda r: r.randint(4, 9),
        ),
        Field(
            "leadTimeDays",
            int,
            "Lead time in days.",
            _NOFORN,
            low=0,
            high=36_500,  # as the loaders have always taken it (the demo has 4000)
            fill=lambda r: r.randint(14, 540),
        ),
    ),
    check=_capacity_unit,
)

SOURCES_FROM = EdgeType(
    rel="SOURCES_FROM",
    start="Supplier",
    end="Supplier",
    start_role="buyer",
    end_role="supplier",
    description="One tier of supply: the buyer sources an item from the supplier.",
    marking=_NOFORN,
    fields=(
        Field("item", str, "What is bought.", _NOFORN),
        Field(
            "share", float, "Share of the buyer's need for the item, 0-1.", _NOFORN, low=0, high=1
        ),
        Field("sole", bool, "Whether this is the buyer's sole source of the item.", _NOFORN),
    ),
    check=_sole_source,
)

SUBSIDIARY_OF = EdgeType(
    rel="SUBSIDIARY_OF",
    start="Supplier",
    end="Supplier",
    start_role="child",
    end_role="parent",
    description="Ownership: the parent owns a share of the child.",
    fields=(
        Field(
            "share",
            float,
            "Share owned, 0-1.",
            "CUI//PROPIN//NOFORN",
            required=True,
            low=0,
            high=1,
        ),
    ),
    check=_ownership,
)

REQUIRES = EdgeType(
    rel="REQUIRES",
    start="Capability",
    end="Capability",
    start_role="capability",
    end_role="requires",
    description="What a capability is built from.",
    acyclic=True,
)

_SUPPLIER_FIELDS = (
    Field("name", str, "The supplier's name.", required=True, sortable=True),
    Field(
        "cage",
        str,
        "Commercial and Government Entity code.",
        pattern=CAGE_PATTERN,
        hint="five letters or digits",
        sortable=True,
        fill=_cage,
    ),
    Field("city", str, "City of the main facility.", sortable=True),
    Field("description", str, "What the supplier does.", multiline=True),
    Field(
        "employees",
        int,
        "Head count.",
        low=0,
        high=10_000_000,
        sortable=True,
        fill=lambda r: int(r.paretovariate(1.2) * 20),
    ),
)

_CAPABILITY_FIELDS = (
    Field("name", str, "The capability's name.", required=True, sortable=True),
    Field("area", str, "Technology area.", required=True, sortable=True),
    Field("description", str, "What the capability is.", multiline=True),
    Field(
        "jurisdiction",
        str,
        "ITAR, EAR or NONE.",
        required=True,
        choices=JURISDICTIONS,
        sortable=True,
    ),
    Field("usml", str, "USML category (22 CFR 121.1) when ITAR.", choices=USML),
    Field(
        "eccn",
        str,
        "Export Control Classification Number when EAR.",
        pattern=ECCN_PATTERN,
        hint="e.g. 3A001.b.2, 9A610, EAR99",
    ),
    Field("sme", bool, "Significant military equipment.", nullable=False, default=False),
    Field(
        "etl",
        bool,
        "On the AUKUS Excluded Technology List (ITAR 126 Supp. 2).",
        nullable=False,
        default=False,
    ),
    Field(
        "classified", bool, "Whether the capability is classified.", nullable=False, default=False
    ),
    Field(
        "cdnExcluded",
        bool,
        "Excluded from the Canadian exemption (ITAR 126.5).",
        nullable=False,
        default=False,
    ),
)


def _rel(
    edge: EdgeType, direction: Direction, edge_name: str, description: str, **kw: Any
) -> Relation:
    return Relation(edge, direction, description, edge_name, **kw)


SUPPLIER = NodeType(
    name="Supplier",
    label="Supplier",
    key="id",
    key_pattern=KEY_PATTERN,
    key_hint="letters, digits and . _ : - only",
    key_description="The supplier's key in dibx data.",
    description="A company or facility in the industrial base.",
    fields=_SUPPLIER_FIELDS,
    relations={
        "nation": _rel(
            BASED_IN,
            "out",
            "BasedInNation",
            "The nation the supplier is based in (null if withheld).",
            many=False,
        ),
        "capabilities": _rel(
            PROVIDES, "out", "Offer", "Capabilities this supplier provides, with capacity."
        ),
        "suppliers": _rel(
            SOURCES_FROM, "out", "SupplyLink", "Its direct suppliers (one tier upstream)."
        ),
        "customers": _rel(
            SOURCES_FROM, "in", "SupplyLink", "Its direct customers (one tier downstream)."
        ),
        "owners": _rel(
            SUBSIDIARY_OF, "out", "Ownership", "Companies that own a share of this one."
        ),
        "subsidiaries": _rel(
            SUBSIDIARY_OF, "in", "Ownership", "Companies this one owns a share of."
        ),
    },
)

CAPABILITY = NodeType(
    name="Capability",
    label="Capability",
    key="id",
    key_pattern=KEY_PATTERN,
    key_hint="letters, digits and . _ : - only",
    key_description="The capability's key in dibx data.",
    description="Something that can be built or supplied, with export-control facts.",
    fields=_CAPABILITY_FIELDS,
    relations={
        "providers": _rel(
            PROVIDES,
            "in",
            "ProviderOffer",
            "Suppliers providing this capability, with capacity.",
            tallied=True,
        ),
        "requires": _rel(REQUIRES, "out", "CapabilityLink", "Capabilities this one is built from."),
        "requiredBy": _rel(REQUIRES, "in", "CapabilityLink", "Capabilities built from this one."),
    },
    check=_export_control,
)

NATION = NodeType(
    name="Nation",
    label="Nation",
    key="code",
    key_pattern=NATION_PATTERN,
    key_hint="an ISO 3166-1 alpha-3 code",
    key_description="ISO 3166-1 alpha-3 code.",
    description="A nation (ISO 3166-1 alpha-3).",
    marking=_PUBLIC,
    fields=(
        Field("name", str, "The nation's common name.", _PUBLIC, required=True, sortable=True),
    ),
    relations={
        "agreements": _rel(
            MEMBER_OF,
            "out",
            "AgreementMembership",
            "Agreements the nation belongs to as of a date (default today).",
            first=50,
        ),
        "suppliers": _rel(
            BASED_IN, "in", "BasedIn", "Suppliers based in this nation.", tallied=True
        ),
    },
)

AGREEMENT = NodeType(
    name="Agreement",
    label="Agreement",
    key="code",
    key_pattern=CODE_PATTERN,
    key_hint="capital letters, digits and _, 2-16 long",
    key_description="Agreement code, e.g. NTIB, AUKUS, RDP_MOU, NATO, SOSA.",
    description="An agreement, arrangement or designation nations belong to.",
    marking=_PUBLIC,
    fields=(
        Field("name", str, "The agreement's name.", _PUBLIC, required=True, sortable=True),
        Field(
            "kind",
            str,
            "What kind of instrument it is.",
            _PUBLIC,
            required=True,
            choices=AGREEMENT_KINDS,
        ),
        Field("source", str, "Where the agreement is published.", _PUBLIC),
    ),
    relations={
        "members": _rel(
            MEMBER_OF,
            "in",
            "NationMembership",
            "Member nations as of a date (default today).",
            first=50,
        ),
    },
)

MODEL = Model(
    nodes={t.name: t for t in (SUPPLIER, CAPABILITY, NATION, AGREEMENT)},
    edges={
        e.rel: e for e in (MEMBER_OF, BASED_IN, PROVIDES, SOURCES_FROM, SUBSIDIARY_OF, REQUIRES)
    },
)

# Shorthands for the model of record, for code that does not take a Model.
TYPES: dict[str, NodeType] = MODEL.nodes
EDGE_FIELDS: dict[str, tuple[str, ...]] = {rel: e.names for rel, e in MODEL.edges.items()}
