"""The benchmarked read operations, written once per way of running them.

Each operation exists as
  * a dibx GraphQL document (sent over HTTP with a bearer token),
  * a @neo4j/graphql document for the generated schema in bench/neo4j-graphql/server.mjs,
  * hand-written Cypher for the raw driver, without release checks (`plain`),
  * the same Cypher with dibx's release predicates written in (`checked`): the record and edge
    checks in the MATCH, withheld fields read as null, markings returned for the banner.

All four return the same information: the same records, the same fields, nested lists ordered
by key and cut at the same length. `keys_*` extract what must agree between the ways (ids in
order, counts) so bench/run.py can check the ways against each other before timing them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, LiteralString

from dibx.schema.ids import encode_id

Params = dict[str, Any]
Keys = Any


# --- release predicates, as dibx stores and checks them ---------------------------------------


def ok(prop: str, default_key: str) -> str:
    """A stored clause list (or the policy default for data without one) is met by $groups."""
    return (
        f"all(rc IN coalesce({prop}, $dr.{default_key}) "
        f"WHERE any(rg IN split(rc, '|') WHERE rg IN $groups))"
    )


def vis(var: str, type_name: str) -> str:
    """The record or edge `var` exists for the caller."""
    return ok(f"{var}.release", type_name)


def fld(var: str, owner: str, name: str) -> str:
    """Field `name` of `var` as the caller reads it, with its marking: value: ..., m_value: ..."""
    return (
        f"{name}: CASE WHEN {ok(f'{var}.release_{name}', f'{owner}_{name}')} "
        f"THEN {var}.{name} END, m_{name}: coalesce({var}.marking_{name}, $dm.{owner}_{name})"
    )


def mark(var: str, type_name: str) -> str:
    return f"m: coalesce({var}.marking, $dm.{type_name})"


# --- operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    title: str
    dibx_document: str
    dibx_variables: Callable[[str | None], Params]
    ngql_document: str
    ngql_variables: Callable[[str | None], Params]
    plain_cypher: LiteralString
    checked_cypher: LiteralString
    cypher_params: Callable[[str | None], Params]
    keys_dibx: Callable[[Mapping[str, Any]], Keys]
    keys_ngql: Callable[[Mapping[str, Any]], Keys]
    keys_raw: Callable[[list[dict[str, Any]]], Keys]


def _lit(text: str) -> LiteralString:
    # Query text built here from constants and the helpers above; values travel as parameters.
    # (mypy treats LiteralString as str; the annotation documents the intent.)
    return text


# (1) First page of 20 suppliers by name, with nation and first 5 capabilities with capacity.

LIST_DIBX = """
query ListSuppliers {
  suppliers(first: 20, sort: [{field: NAME}]) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      key name
      nation { code name }
      capabilities(first: 5) { edges { capacity node { key name } } }
    } }
  }
}
"""

LIST_NGQL = """
query ListSuppliers {
  suppliersConnection(first: 20, sort: [{name: ASC}, {id: ASC}]) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name
      nation(limit: 1, sort: [{code: ASC}]) { code name }
      capabilitiesConnection(first: 5, sort: [{node: {id: ASC}}]) {
        edges { properties { capacity } node { id name } }
      }
    } }
  }
}
"""

# `s.name IS NOT NULL` (every supplier has a name) lets Neo4j read the name index in order.
LIST_PLAIN = _lit("""
MATCH (s:Supplier) WHERE s.name IS NOT NULL
WITH s ORDER BY s.name, s.id LIMIT 21
RETURN s.id AS id, s.name AS name,
  head(COLLECT { MATCH (s)-[:BASED_IN]->(n:Nation) WITH n ORDER BY n.code LIMIT 1
                 RETURN {code: n.code, name: n.name} }) AS nation,
  COLLECT { MATCH (s)-[p:PROVIDES]->(c:Capability) WITH p, c ORDER BY c.id LIMIT 6
            RETURN {capacity: p.capacity, id: c.id, name: c.name} } AS capabilities
""")

LIST_CHECKED = _lit(f"""
MATCH (s:Supplier) WHERE {vis("s", "Supplier")}
WITH s ORDER BY CASE WHEN {ok("s.release_name", "Supplier_name")} THEN s.name END, s.id
LIMIT 21
RETURN s.id AS id, {{{mark("s", "Supplier")}, {fld("s", "Supplier", "name")}}} AS supplier,
  head(COLLECT {{ MATCH (s)-[b:BASED_IN]->(n:Nation)
                 WHERE {vis("b", "BASED_IN")} AND {vis("n", "Nation")}
                 WITH b, n ORDER BY n.code LIMIT 1
                 RETURN {{{mark("b", "BASED_IN")}, code: n.code, node_{mark("n", "Nation")},
                         {fld("n", "Nation", "name")}}} }}) AS nation,
  COLLECT {{ MATCH (s)-[p:PROVIDES]->(c:Capability)
            WHERE {vis("p", "PROVIDES")} AND {vis("c", "Capability")}
            WITH p, c ORDER BY c.id LIMIT 6
            RETURN {{{mark("p", "PROVIDES")}, {fld("p", "PROVIDES", "capacity")}, id: c.id,
                    node_{mark("c", "Capability")}, {fld("c", "Capability", "name")}}} }}
    AS capabilities
""")


def _list_keys_dibx(data: Mapping[str, Any]) -> Keys:
    return [e["node"]["key"] for e in data["suppliers"]["edges"]]


def _list_keys_ngql(data: Mapping[str, Any]) -> Keys:
    return [e["node"]["id"] for e in data["suppliersConnection"]["edges"]]


def _list_keys_raw(rows: list[dict[str, Any]]) -> Keys:
    return [r["id"] for r in rows[:20]]


# (2) One supplier by id, three levels down: suppliers -> suppliers -> capabilities.

TREE_DIBX = """
query SupplyTree($id: ID!) {
  supplier(id: $id) {
    key name
    suppliers(first: 10) { edges { item share node {
      key name
      suppliers(first: 10) { edges { node {
        key name
        capabilities(first: 5) { edges { capacity node { key name } } }
      } } }
    } } }
  }
}
"""

TREE_NGQL = """
query SupplyTree($id: ID!) {
  suppliers(where: {id: {eq: $id}}) {
    id name
    suppliersConnection(first: 10, sort: [{node: {id: ASC}}]) { edges {
      properties { item share }
      node {
        id name
        suppliersConnection(first: 10, sort: [{node: {id: ASC}}]) { edges { node {
          id name
          capabilitiesConnection(first: 5, sort: [{node: {id: ASC}}]) {
            edges { properties { capacity } node { id name } }
          }
        } } }
      }
    } }
  }
}
"""

TREE_PLAIN = _lit("""
MATCH (s:Supplier {id: $id})
RETURN s.id AS id, s.name AS name,
  COLLECT { MATCH (s)-[r:SOURCES_FROM]->(t:Supplier) WITH r, t ORDER BY t.id LIMIT 11
    RETURN {item: r.item, share: r.share, id: t.id, name: t.name,
      suppliers: COLLECT { MATCH (t)-[:SOURCES_FROM]->(u:Supplier) WITH u ORDER BY u.id LIMIT 11
        RETURN {id: u.id, name: u.name,
          capabilities: COLLECT { MATCH (u)-[p:PROVIDES]->(c:Capability)
            WITH p, c ORDER BY c.id LIMIT 6
            RETURN {capacity: p.capacity, id: c.id, name: c.name} } } } } } AS suppliers
""")

TREE_CHECKED = _lit(f"""
MATCH (s:Supplier {{id: $id}}) WHERE {vis("s", "Supplier")}
RETURN s.id AS id, {{{mark("s", "Supplier")}, {fld("s", "Supplier", "name")}}} AS supplier,
  COLLECT {{ MATCH (s)-[r:SOURCES_FROM]->(t:Supplier)
    WHERE {vis("r", "SOURCES_FROM")} AND {vis("t", "Supplier")}
    WITH r, t ORDER BY t.id LIMIT 11
    RETURN {{{mark("r", "SOURCES_FROM")}, {fld("r", "SOURCES_FROM", "item")},
      {fld("r", "SOURCES_FROM", "share")}, id: t.id, node_{mark("t", "Supplier")},
      {fld("t", "Supplier", "name")},
      suppliers: COLLECT {{ MATCH (t)-[r2:SOURCES_FROM]->(u:Supplier)
        WHERE {vis("r2", "SOURCES_FROM")} AND {vis("u", "Supplier")}
        WITH r2, u ORDER BY u.id LIMIT 11
        RETURN {{{mark("r2", "SOURCES_FROM")}, id: u.id, node_{mark("u", "Supplier")},
          {fld("u", "Supplier", "name")},
          capabilities: COLLECT {{ MATCH (u)-[p:PROVIDES]->(c:Capability)
            WHERE {vis("p", "PROVIDES")} AND {vis("c", "Capability")}
            WITH p, c ORDER BY c.id LIMIT 6
            RETURN {{{mark("p", "PROVIDES")}, {fld("p", "PROVIDES", "capacity")}, id: c.id,
              node_{mark("c", "Capability")}, {fld("c", "Capability", "name")}}} }} }} }} }} }}
    AS suppliers
""")


def _tree_keys_dibx(data: Mapping[str, Any]) -> Keys:
    s = data["supplier"]
    if s is None:
        return None
    return [
        (
            e["node"]["key"],
            [
                (f["node"]["key"], [g["node"]["key"] for g in f["node"]["capabilities"]["edges"]])
                for f in e["node"]["suppliers"]["edges"]
            ],
        )
        for e in s["suppliers"]["edges"]
    ]


def _tree_keys_ngql(data: Mapping[str, Any]) -> Keys:
    if not data["suppliers"]:
        return None
    s = data["suppliers"][0]
    return [
        (
            e["node"]["id"],
            [
                (
                    f["node"]["id"],
                    [g["node"]["id"] for g in f["node"]["capabilitiesConnection"]["edges"]],
                )
                for f in e["node"]["suppliersConnection"]["edges"]
            ],
        )
        for e in s["suppliersConnection"]["edges"]
    ]


def _tree_keys_raw(rows: list[dict[str, Any]]) -> Keys:
    if not rows:
        return None
    return [
        (
            t["id"],
            [(u["id"], [c["id"] for c in u["capabilities"][:5]]) for u in t["suppliers"][:10]],
        )
        for t in rows[0]["suppliers"][:10]
    ]


# (3) A capability by id with its first 20 providers (and how many there are) and their nations.

PROVIDERS_DIBX = """
query Providers($id: ID!) {
  capability(id: $id) {
    key name
    providers(first: 20) { totalCount edges { capacity node {
      key name nation { code name }
    } } }
  }
}
"""

PROVIDERS_NGQL = """
query Providers($id: ID!) {
  capabilities(where: {id: {eq: $id}}) {
    id name
    providersConnection(first: 20, sort: [{node: {id: ASC}}]) { totalCount edges {
      properties { capacity }
      node { id name nation(limit: 1, sort: [{code: ASC}]) { code name } }
    } }
  }
}
"""

PROVIDERS_PLAIN = _lit("""
MATCH (c:Capability {id: $id})
RETURN c.id AS id, c.name AS name,
  COUNT { (c)<-[:PROVIDES]-(:Supplier) } AS total,
  COLLECT { MATCH (c)<-[p:PROVIDES]-(s:Supplier) WITH p, s ORDER BY s.id LIMIT 21
    RETURN {capacity: p.capacity, id: s.id, name: s.name,
      nation: head(COLLECT { MATCH (s)-[:BASED_IN]->(n:Nation) WITH n ORDER BY n.code LIMIT 1
                             RETURN {code: n.code, name: n.name} }) } } AS providers
""")

PROVIDERS_CHECKED = _lit(f"""
MATCH (c:Capability {{id: $id}}) WHERE {vis("c", "Capability")}
RETURN c.id AS id, {{{mark("c", "Capability")}, {fld("c", "Capability", "name")}}} AS capability,
  COUNT {{ MATCH (c)<-[p:PROVIDES]-(s:Supplier)
          WHERE {vis("p", "PROVIDES")} AND {vis("s", "Supplier")} }} AS total,
  COLLECT {{ MATCH (c)<-[p:PROVIDES]-(s:Supplier)
    WHERE {vis("p", "PROVIDES")} AND {vis("s", "Supplier")}
    WITH p, s ORDER BY s.id LIMIT 21
    RETURN {{{mark("p", "PROVIDES")}, {fld("p", "PROVIDES", "capacity")}, id: s.id,
      node_{mark("s", "Supplier")}, {fld("s", "Supplier", "name")},
      nation: head(COLLECT {{ MATCH (s)-[b:BASED_IN]->(n:Nation)
        WHERE {vis("b", "BASED_IN")} AND {vis("n", "Nation")}
        WITH b, n ORDER BY n.code LIMIT 1
        RETURN {{{mark("b", "BASED_IN")}, code: n.code, node_{mark("n", "Nation")},
                {fld("n", "Nation", "name")}}} }}) }} }} AS providers
""")


def _providers_keys_dibx(data: Mapping[str, Any]) -> Keys:
    c = data["capability"]
    if c is None:
        return None
    p = c["providers"]
    return (p["totalCount"], [e["node"]["key"] for e in p["edges"]])


def _providers_keys_ngql(data: Mapping[str, Any]) -> Keys:
    if not data["capabilities"]:
        return None
    p = data["capabilities"][0]["providersConnection"]
    return (p["totalCount"], [e["node"]["id"] for e in p["edges"]])


def _providers_keys_raw(rows: list[dict[str, Any]]) -> Keys:
    if not rows:
        return None
    return (rows[0]["total"], [p["id"] for p in rows[0]["providers"][:20]])


# (4) A filtered count: suppliers based in a FVEY nation (today) that provide capability X.

AGREEMENT = "FVEY"

COUNT_DIBX = """
query CountFveyProviders($capability: ID!) {
  suppliers(first: 0, filter: {agreement: "FVEY", capability: $capability}) { totalCount }
}
"""

COUNT_NGQL = """
query CountFveyProviders($capability: ID!, $today: Date!) {
  suppliersConnection(where: {
    capabilities: {some: {id: {eq: $capability}}},
    nation: {some: {agreementsConnection: {some: {
      node: {code: {eq: "FVEY"}},
      edge: {since: {lte: $today}, OR: [{until: {eq: null}}, {until: {gt: $today}}]}
    }}}}
  }) { totalCount }
}
"""

COUNT_PLAIN = _lit("""
MATCH (:Capability {id: $id})<-[:PROVIDES]-(s:Supplier)
WHERE EXISTS { MATCH (s)-[:BASED_IN]->(:Nation)-[m:MEMBER_OF]->(:Agreement {code: $agreement})
               WHERE m.since <= $today AND (m.until IS NULL OR m.until > $today) }
RETURN count(DISTINCT s) AS total
""")

COUNT_CHECKED = _lit(f"""
MATCH (c:Capability {{id: $id}})<-[p:PROVIDES]-(s:Supplier)
WHERE {vis("c", "Capability")} AND {vis("p", "PROVIDES")} AND {vis("s", "Supplier")}
  AND EXISTS {{ MATCH (s)-[b:BASED_IN]->(:Nation)-[m:MEMBER_OF]->(:Agreement {{code: $agreement}})
               WHERE {vis("b", "BASED_IN")}
                 AND m.since <= $today AND (m.until IS NULL OR m.until > $today) }}
RETURN count(DISTINCT s) AS total
""")


def _count_keys_dibx(data: Mapping[str, Any]) -> Keys:
    return data["suppliers"]["totalCount"]


def _count_keys_ngql(data: Mapping[str, Any]) -> Keys:
    return data["suppliersConnection"]["totalCount"]


def _count_keys_raw(rows: list[dict[str, Any]]) -> Keys:
    return rows[0]["total"]


# (5) A page of 100 suppliers by name, with nation and first 5 capabilities (capacity).

PAGE_SIZE = 100
PAGE_DIBX = LIST_DIBX.replace("ListSuppliers", "PageSuppliers").replace(
    "suppliers(first: 20,", f"suppliers(first: {PAGE_SIZE},"
)
PAGE_NGQL = LIST_NGQL.replace("ListSuppliers", "PageSuppliers").replace(
    "suppliersConnection(first: 20,", f"suppliersConnection(first: {PAGE_SIZE},"
)
PAGE_PLAIN = _lit(LIST_PLAIN.replace("LIMIT 21", f"LIMIT {PAGE_SIZE + 1}"))
PAGE_CHECKED = _lit(LIST_CHECKED.replace("LIMIT 21", f"LIMIT {PAGE_SIZE + 1}"))


def _page_keys_raw(rows: list[dict[str, Any]]) -> Keys:
    return [r["id"] for r in rows[:PAGE_SIZE]]


# (6) A capability by id, its first 10 providers, and two tiers of their suppliers (5 each).

CHAIN_DIBX = """
query ProviderChain($id: ID!) {
  capability(id: $id) {
    key name
    providers(first: 10) { edges { capacity node {
      key name
      suppliers(first: 5) { edges { share node {
        key name
        suppliers(first: 5) { edges { node { key name } } }
      } } }
    } } }
  }
}
"""

CHAIN_NGQL = """
query ProviderChain($id: ID!) {
  capabilities(where: {id: {eq: $id}}) {
    id name
    providersConnection(first: 10, sort: [{node: {id: ASC}}]) { edges {
      properties { capacity }
      node {
        id name
        suppliersConnection(first: 5, sort: [{node: {id: ASC}}]) { edges {
          properties { share }
          node {
            id name
            suppliersConnection(first: 5, sort: [{node: {id: ASC}}]) {
              edges { node { id name } }
            }
          }
        } }
      }
    } }
  }
}
"""

CHAIN_PLAIN = _lit("""
MATCH (c:Capability {id: $id})
RETURN c.id AS id, c.name AS name,
  COLLECT { MATCH (c)<-[p:PROVIDES]-(s:Supplier) WITH p, s ORDER BY s.id LIMIT 11
    RETURN {capacity: p.capacity, id: s.id, name: s.name,
      suppliers: COLLECT { MATCH (s)-[r:SOURCES_FROM]->(t:Supplier) WITH r, t ORDER BY t.id LIMIT 6
        RETURN {share: r.share, id: t.id, name: t.name,
          suppliers: COLLECT { MATCH (t)-[:SOURCES_FROM]->(u:Supplier)
            WITH u ORDER BY u.id LIMIT 6 RETURN {id: u.id, name: u.name} } } } } } AS providers
""")

CHAIN_CHECKED = _lit(f"""
MATCH (c:Capability {{id: $id}}) WHERE {vis("c", "Capability")}
RETURN c.id AS id, {{{mark("c", "Capability")}, {fld("c", "Capability", "name")}}} AS capability,
  COLLECT {{ MATCH (c)<-[p:PROVIDES]-(s:Supplier)
    WHERE {vis("p", "PROVIDES")} AND {vis("s", "Supplier")}
    WITH p, s ORDER BY s.id LIMIT 11
    RETURN {{{mark("p", "PROVIDES")}, {fld("p", "PROVIDES", "capacity")}, id: s.id,
      node_{mark("s", "Supplier")}, {fld("s", "Supplier", "name")},
      suppliers: COLLECT {{ MATCH (s)-[r:SOURCES_FROM]->(t:Supplier)
        WHERE {vis("r", "SOURCES_FROM")} AND {vis("t", "Supplier")}
        WITH r, t ORDER BY t.id LIMIT 6
        RETURN {{{mark("r", "SOURCES_FROM")}, {fld("r", "SOURCES_FROM", "share")}, id: t.id,
          node_{mark("t", "Supplier")}, {fld("t", "Supplier", "name")},
          suppliers: COLLECT {{ MATCH (t)-[r2:SOURCES_FROM]->(u:Supplier)
            WHERE {vis("r2", "SOURCES_FROM")} AND {vis("u", "Supplier")}
            WITH r2, u ORDER BY u.id LIMIT 6
            RETURN {{{mark("r2", "SOURCES_FROM")}, id: u.id, node_{mark("u", "Supplier")},
              {fld("u", "Supplier", "name")}}} }} }} }} }} }} AS providers
""")


def _chain_keys_dibx(data: Mapping[str, Any]) -> Keys:
    c = data["capability"]
    if c is None:
        return None
    return [
        (
            e["node"]["key"],
            [
                (f["node"]["key"], [g["node"]["key"] for g in f["node"]["suppliers"]["edges"]])
                for f in e["node"]["suppliers"]["edges"]
            ],
        )
        for e in c["providers"]["edges"]
    ]


def _chain_keys_ngql(data: Mapping[str, Any]) -> Keys:
    if not data["capabilities"]:
        return None
    return [
        (
            e["node"]["id"],
            [
                (
                    f["node"]["id"],
                    [g["node"]["id"] for g in f["node"]["suppliersConnection"]["edges"]],
                )
                for f in e["node"]["suppliersConnection"]["edges"]
            ],
        )
        for e in data["capabilities"][0]["providersConnection"]["edges"]
    ]


def _chain_keys_raw(rows: list[dict[str, Any]]) -> Keys:
    if not rows:
        return None
    return [
        (p["id"], [(t["id"], [u["id"] for u in t["suppliers"][:5]]) for t in p["suppliers"][:5]])
        for p in rows[0]["providers"][:10]
    ]


def build(today: date) -> list[Operation]:
    """The operations; `param` is a supplier or capability key (None for the list, page)."""

    def sup_id(key: str | None) -> Params:
        return {"id": encode_id("Supplier", str(key))}

    def cap_id(key: str | None) -> Params:
        return {"id": encode_id("Capability", str(key))}

    return [
        Operation(
            name="list",
            title="first 20 suppliers by name, with nation and first 5 capabilities (capacity)",
            dibx_document=LIST_DIBX,
            dibx_variables=lambda _: {},
            ngql_document=LIST_NGQL,
            ngql_variables=lambda _: {},
            plain_cypher=LIST_PLAIN,
            checked_cypher=LIST_CHECKED,
            cypher_params=lambda _: {},
            keys_dibx=_list_keys_dibx,
            keys_ngql=_list_keys_ngql,
            keys_raw=_list_keys_raw,
        ),
        Operation(
            name="tree",
            title="supplier by id, 3 levels: suppliers(10) -> suppliers(10) -> capabilities(5)",
            dibx_document=TREE_DIBX,
            dibx_variables=sup_id,
            ngql_document=TREE_NGQL,
            ngql_variables=lambda key: {"id": key},
            plain_cypher=TREE_PLAIN,
            checked_cypher=TREE_CHECKED,
            cypher_params=lambda key: {"id": key},
            keys_dibx=_tree_keys_dibx,
            keys_ngql=_tree_keys_ngql,
            keys_raw=_tree_keys_raw,
        ),
        Operation(
            name="providers",
            title="capability by id, totalCount + first 20 providers (capacity) and their nations",
            dibx_document=PROVIDERS_DIBX,
            dibx_variables=cap_id,
            ngql_document=PROVIDERS_NGQL,
            ngql_variables=lambda key: {"id": key},
            plain_cypher=PROVIDERS_PLAIN,
            checked_cypher=PROVIDERS_CHECKED,
            cypher_params=lambda key: {"id": key},
            keys_dibx=_providers_keys_dibx,
            keys_ngql=_providers_keys_ngql,
            keys_raw=_providers_keys_raw,
        ),
        Operation(
            name="count",
            title="count of suppliers in FVEY nations providing capability X",
            dibx_document=COUNT_DIBX,
            dibx_variables=lambda key: {"capability": encode_id("Capability", str(key))},
            ngql_document=COUNT_NGQL,
            ngql_variables=lambda key: {"capability": key, "today": today.isoformat()},
            plain_cypher=COUNT_PLAIN,
            checked_cypher=COUNT_CHECKED,
            cypher_params=lambda key: {"id": key, "agreement": AGREEMENT, "today": today},
            keys_dibx=_count_keys_dibx,
            keys_ngql=_count_keys_ngql,
            keys_raw=_count_keys_raw,
        ),
        Operation(
            name="page",
            title=f"first {PAGE_SIZE} suppliers by name, with nation and first 5 capabilities",
            dibx_document=PAGE_DIBX,
            dibx_variables=lambda _: {},
            ngql_document=PAGE_NGQL,
            ngql_variables=lambda _: {},
            plain_cypher=PAGE_PLAIN,
            checked_cypher=PAGE_CHECKED,
            cypher_params=lambda _: {},
            keys_dibx=_list_keys_dibx,
            keys_ngql=_list_keys_ngql,
            keys_raw=_page_keys_raw,
        ),
        Operation(
            name="chain",
            title="capability by id, providers(10) -> suppliers(5) -> suppliers(5)",
            dibx_document=CHAIN_DIBX,
            dibx_variables=cap_id,
            ngql_document=CHAIN_NGQL,
            ngql_variables=lambda key: {"id": key},
            plain_cypher=CHAIN_PLAIN,
            checked_cypher=CHAIN_CHECKED,
            cypher_params=lambda key: {"id": key},
            keys_dibx=_chain_keys_dibx,
            keys_ngql=_chain_keys_ngql,
            keys_raw=_chain_keys_raw,
        ),
    ]


def operation_names(ops: Sequence[Operation]) -> list[str]:
    return [op.name for op in ops]
