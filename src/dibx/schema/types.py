"""GraphQL object types. Each wraps one map returned by a compiled query (see graph.compile).

Nothing here queries the database: nested fields read what the root field's single query
already fetched, found under the key the compiler gave them (`own_key`).
"""

import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from dibx.schema.context import Context
from dibx.schema.fields import FieldMarking, field_markings, marked, record_marking
from dibx.schema.ids import encode_id
from dibx.schema.selection import own_key

MARKING = "The marking of this record (or edge) itself: it governs whether it is shown at all."


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = None


@strawberry.interface(description="An object with a stable global id.")
class Node:
    @strawberry.field(description="Stable global id (opaque).")
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # every implementation defines it


def _relation(root: Any, info: Info[Context, None]) -> dict[str, Any]:
    data: dict[str, Any] = root._d.get(own_key(info._raw_info)) or {"items": [], "first": 0}
    return data


def _wrap(info: Info[Context, None], cls: Any, data: dict[str, Any], **extra: Any) -> Any:
    # A record handed out is a released portion: its own marking joins the banner.
    info.context.disclosure.release(data.get("__m"))
    return cls(_d=data, **extra)


@strawberry.interface(description="A record or edge that carries markings.")
class Marked:
    @strawberry.field(description=MARKING)
    def marking(self) -> str:
        return record_marking(self)  # type: ignore[arg-type]

    @strawberry.field(description="The marking of each field, and whether it was released to you.")
    def field_markings(self, info: Info[Context, None]) -> list[FieldMarking]:
        return field_markings(self, info)  # type: ignore[arg-type]


# -- nodes ------------------------------------------------------------------------------


@strawberry.type(description="A company or facility in the industrial base.")
class Supplier(Marked, Node):
    _d: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Stable global id (opaque).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Supplier", self._d["__key"]))

    @strawberry.field(description="The supplier's key in dibx data.")
    def key(self) -> str:
        return str(self._d["__key"])

    name = marked("name", str)
    cage = marked("cage", str, "Commercial and Government Entity code.")
    city = marked("city", str)
    description = marked("description", str)
    employees = marked("employees", int)

    @strawberry.field(description="The nation the supplier is based in (null if withheld).")
    def nation(self, info: Info[Context, None]) -> "Nation | None":
        data = self._d.get(own_key(info._raw_info))
        if data is None:
            return None
        # The BASED_IN edge is a released portion too: its marking joins the banner.
        info.context.disclosure.release(data["edge"].get("__m"))
        return _wrap(info, Nation, data["node"])

    @strawberry.field(description="Capabilities this supplier provides, with capacity.")
    def capabilities(self, info: Info[Context, None], first: int = 20) -> "OfferConnection":
        return _wrap_conn(info, OfferConnection, _relation(self, info))

    @strawberry.field(description="Its direct suppliers (one tier upstream).")
    def suppliers(self, info: Info[Context, None], first: int = 20) -> "SupplyConnection":
        return _wrap_conn(info, SupplyConnection, _relation(self, info))

    @strawberry.field(description="Its direct customers (one tier downstream).")
    def customers(self, info: Info[Context, None], first: int = 20) -> "SupplyConnection":
        return _wrap_conn(info, SupplyConnection, _relation(self, info))

    @strawberry.field(description="Companies that own a share of this one.")
    def owners(self, info: Info[Context, None], first: int = 20) -> "OwnershipConnection":
        return _wrap_conn(info, OwnershipConnection, _relation(self, info))

    @strawberry.field(description="Companies this one owns a share of.")
    def subsidiaries(self, info: Info[Context, None], first: int = 20) -> "OwnershipConnection":
        return _wrap_conn(info, OwnershipConnection, _relation(self, info))


@strawberry.type(description="Something that can be built or supplied, with export-control facts.")
class Capability(Marked, Node):
    _d: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Stable global id (opaque).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Capability", self._d["__key"]))

    @strawberry.field(description="The capability's key in dibx data.")
    def key(self) -> str:
        return str(self._d["__key"])

    name = marked("name", str)
    area = marked("area", str)
    description = marked("description", str)
    jurisdiction = marked("jurisdiction", str, "ITAR, EAR or NONE.")
    usml = marked("usml", str, "USML category (22 CFR 121.1) when ITAR.")
    eccn = marked("eccn", str, "Export Control Classification Number when EAR.")
    sme = marked("sme", bool, "Significant military equipment.")
    etl = marked("etl", bool, "On the AUKUS Excluded Technology List (ITAR 126 Supp. 2).")
    classified = marked("classified", bool)
    cdn_excluded = marked("cdnExcluded", bool, "Excluded from the Canadian exemption (126.5).")

    @strawberry.field(description="Suppliers providing this capability, with capacity.")
    def providers(self, info: Info[Context, None], first: int = 20) -> "ProviderConnection":
        return _wrap_conn(info, ProviderConnection, _relation(self, info))

    @strawberry.field(description="Capabilities this one is built from.")
    def requires(self, info: Info[Context, None], first: int = 20) -> "CapabilityLinkConnection":
        return _wrap_conn(info, CapabilityLinkConnection, _relation(self, info))

    @strawberry.field(description="Capabilities built from this one.")
    def required_by(self, info: Info[Context, None], first: int = 20) -> "CapabilityLinkConnection":
        return _wrap_conn(info, CapabilityLinkConnection, _relation(self, info))


@strawberry.type(description="A nation (ISO 3166-1 alpha-3).")
class Nation(Marked, Node):
    _d: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Stable global id (opaque).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Nation", self._d["__key"]))

    @strawberry.field(description="ISO 3166-1 alpha-3 code.")
    def code(self) -> str:
        return str(self._d["__key"])

    name = marked("name", str)

    @strawberry.field(description="Agreements the nation belongs to as of a date (default today).")
    def agreements(
        self,
        info: Info[Context, None],
        first: int = 50,
        as_of: datetime.date | None = None,
    ) -> "AgreementMembershipConnection":
        return _wrap_conn(info, AgreementMembershipConnection, _relation(self, info))

    @strawberry.field(description="Suppliers based in this nation.")
    def suppliers(self, info: Info[Context, None], first: int = 20) -> "BasedInConnection":
        return _wrap_conn(info, BasedInConnection, _relation(self, info))


@strawberry.type(description="An agreement, arrangement or designation nations belong to.")
class Agreement(Marked, Node):
    _d: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Stable global id (opaque).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Agreement", self._d["__key"]))

    @strawberry.field(description="Agreement code, e.g. NTIB, AUKUS, RDP_MOU, NATO, SOSA.")
    def code(self) -> str:
        return str(self._d["__key"])

    name = marked("name", str)
    kind = marked("kind", str)

    @strawberry.field(description="Member nations as of a date (default today).")
    def members(
        self,
        info: Info[Context, None],
        first: int = 50,
        as_of: datetime.date | None = None,
    ) -> "NationMembershipConnection":
        return _wrap_conn(info, NationMembershipConnection, _relation(self, info))


# -- edges (a relationship and the node at its other end) --------------------------------


def _edge_node(cls: Any) -> Any:
    def resolve(root: Any, info: Info[Context, None]) -> Any:
        return _wrap(info, cls, root._n)

    resolve.__annotations__["return"] = cls
    return strawberry.field(resolver=resolve, description="The record at the other end.")


@strawberry.type(description="A supplier's offer of a capability.")
class Offer(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Capability = _edge_node(Capability)
    capacity = marked("capacity", float, "Capacity in `unit` per year.")
    unit = marked("unit", str)
    trl = marked("trl", int, "Technology readiness level, 1-9.")
    lead_time_days = marked("leadTimeDays", int)


@strawberry.type(description="A supplier offering the capability.")
class ProviderOffer(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Supplier = _edge_node(Supplier)
    capacity = marked("capacity", float, "Capacity in `unit` per year.")
    unit = marked("unit", str)
    trl = marked("trl", int, "Technology readiness level, 1-9.")
    lead_time_days = marked("leadTimeDays", int)


@strawberry.type(description="One tier of supply between a buyer and its supplier.")
class SupplyLink(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Supplier = _edge_node(Supplier)
    item = marked("item", str)
    share = marked("share", float, "Share of the buyer's need for the item, 0-1.")
    sole = marked("sole", bool, "Whether this is the buyer's sole source of the item.")


@strawberry.type(description="An ownership link between companies.")
class Ownership(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Supplier = _edge_node(Supplier)
    share = marked("share", float, "Share owned, 0-1.")


@strawberry.type(description="A REQUIRES link between capabilities.")
class CapabilityLink(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Capability = _edge_node(Capability)


@strawberry.type(description="A nation's membership in an agreement.")
class AgreementMembership(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Agreement = _edge_node(Agreement)
    since = marked("since", datetime.date)
    until = marked("until", datetime.date)
    source = marked("source", str)


@strawberry.type(description="A nation's membership in an agreement.")
class NationMembership(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Nation = _edge_node(Nation)
    since = marked("since", datetime.date)
    until = marked("until", datetime.date)
    source = marked("source", str)


@strawberry.type(description="A supplier based in the nation.")
class BasedIn(Marked):
    _d: strawberry.Private[dict[str, Any]]
    _n: strawberry.Private[dict[str, Any]]
    node: Supplier = _edge_node(Supplier)


# -- relation connections -----------------------------------------------------------------


@strawberry.type(description="Fields every connection has.")
class ConnectionBase:
    _data: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="How many you may see in all (never counts hidden records).")
    def total_count(self) -> int:
        total = self._data.get("total")
        if total is None:  # the compiler counts only when totalCount is selected
            raise RuntimeError("totalCount was not fetched")
        return int(total)

    @strawberry.field
    def page_info(self) -> PageInfo:
        return PageInfo(has_next_page=len(self._data["items"]) > self._data["first"])


def _edges(cls: Any) -> Any:
    def resolve(root: Any, info: Info[Context, None]) -> Any:
        items = root._data["items"][: root._data["first"]]
        return [_wrap(info, cls, item["edge"], _n=item["node"]) for item in items]

    resolve.__annotations__["return"] = list[cls]
    return strawberry.field(resolver=resolve)


def _nodes(cls: Any) -> Any:
    def resolve(root: Any, info: Info[Context, None]) -> Any:
        items = root._data["items"][: root._data["first"]]
        return [_wrap(info, cls, item["node"]) for item in items]

    resolve.__annotations__["return"] = list[cls]
    return strawberry.field(resolver=resolve)


def _wrap_conn(info: Info[Context, None], cls: Any, data: dict[str, Any]) -> Any:
    return cls(_data=data)


def _connection(name: str, edge: Any, node: Any) -> Any:
    """A relation's connection type: edges (the relationship and its far record) and nodes."""
    namespace: dict[str, Any] = {
        "__annotations__": {
            "_data": strawberry.Private[dict[str, Any]],
            "edges": list[edge],
            "nodes": list[node],
        },
        "edges": _edges(edge),
        "nodes": _nodes(node),
    }
    return strawberry.type(type(name, (ConnectionBase,), namespace))


OfferConnection = _connection("OfferConnection", Offer, Capability)
ProviderConnection = _connection("ProviderConnection", ProviderOffer, Supplier)
SupplyConnection = _connection("SupplyConnection", SupplyLink, Supplier)
OwnershipConnection = _connection("OwnershipConnection", Ownership, Supplier)
CapabilityLinkConnection = _connection("CapabilityLinkConnection", CapabilityLink, Capability)
AgreementMembershipConnection = _connection(
    "AgreementMembershipConnection", AgreementMembership, Agreement
)
NationMembershipConnection = _connection("NationMembershipConnection", NationMembership, Nation)
BasedInConnection = _connection("BasedInConnection", BasedIn, Supplier)
