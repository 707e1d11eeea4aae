"""The analytics root fields return the service's result dataclasses as they are: strawberry
must read their fields by attribute, turn the service's enum strings into enum values, and
compute what the dataclasses lack (global ids, counts). This holds only while no analytics
type has an interface or an `is_type_of` check, which would refuse a plain dataclass."""

from __future__ import annotations

import strawberry
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLType

from dibx.schema import build_schema
from dibx.schema.analytics import AnalyticsQuery
from dibx.schema.analytics.exposure import ExposurePath
from dibx.schema.analytics.supply_chain import SupplyChainGraph
from dibx.schema.ids import encode_id
from dibx.schema.scopes import resolver
from dibx.services.analytics.chain import ChainEdge, ChainNode, ChainReport
from dibx.services.analytics.common import SupplierRef
from dibx.services.analytics.exposure import ExposurePath as ServicePath

_ACME = SupplierRef(key="acme", name="Acme", nation="CHN", marking="U")
_CAP = ChainNode("radar", "CAPABILITY", "Radar", None, 0, "U")
_SUP = ChainNode("acme", "SUPPLIER", "Acme", "CHN", 1, "U")


@strawberry.type
class _Query:
    @resolver("A path.", graphql_type=ExposurePath)
    def path(self) -> ServicePath:
        return ServicePath((_ACME,), 1, "CHN", "OWNERSHIP", None, _ACME, ("acme",), "U")

    @resolver("A tree.", graphql_type=SupplyChainGraph)
    def chain(self) -> ChainReport:
        edge = ChainEdge(_CAP, _SUP, "PROVIDES", 1, None, 0.5, None, 10.0, "U")
        return ChainReport(_CAP, 1, (_CAP, _SUP), (edge,), "U")


def test_service_dataclasses_resolve_as_analytics_types() -> None:
    result = strawberry.Schema(_Query).execute_sync(
        "{ path { suppliers { id key name nation } via owner { key } ownerChain tier }"
        "  chain { root { id kind } nodeCount edgeCount edges { from to kind share } } }"
    )
    assert result.errors is None
    supplier = str(encode_id("Supplier", "acme"))
    capability = str(encode_id("Capability", "radar"))
    assert result.data == {
        "path": {
            "suppliers": [{"id": supplier, "key": "acme", "name": "Acme", "nation": "CHN"}],
            "via": "OWNERSHIP",
            "owner": {"key": "acme"},
            "ownerChain": ["acme"],
            "tier": 1,
        },
        "chain": {
            "root": {"id": capability, "kind": "CAPABILITY"},
            "nodeCount": 2,
            "edgeCount": 1,
            "edges": [{"from": capability, "to": supplier, "kind": "PROVIDES", "share": 0.5}],
        },
    }


def _named(kind: GraphQLType) -> GraphQLType:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def test_no_analytics_type_checks_the_class_of_what_it_is_given() -> None:
    built = build_schema()
    query = built._schema.query_type
    assert query is not None
    definition = AnalyticsQuery.__strawberry_definition__  # type: ignore[attr-defined]
    roots = [built.config.name_converter.get_graphql_name(f) for f in definition.fields]
    seen: set[str] = set()
    todo = [_named(query.fields[name].type) for name in roots]
    assert len(todo) == 8
    while todo:
        kind = todo.pop()
        if not isinstance(kind, GraphQLObjectType) or kind.name in seen:
            continue
        seen.add(kind.name)
        assert kind.is_type_of is None, kind.name
        assert not kind.interfaces, kind.name
        todo += [_named(f.type) for f in kind.fields.values()]
    assert {"SupplierSummary", "CapabilitySummary", "SupplyEdge"} <= seen
