"""Selection -> one Cypher query, with the release check written into every step.

What the compiled query returns for a node is a map:

    __key   the node's key (released with the record)
    __m     the record's marking
    <f>     for a marked field: [value] when released, null when withheld
    __m_<f> the field's marking (for the banner, and for saying what was withheld)
    __fm    {field: [marking, released]} for every field, when `fieldMarkings` is selected
    <key>   for a relation: {total, items: [{edge, node}]} (or one item for a to-one relation)

Every release check and marking comes from `dibx.graph.release` (the one place that writes
them): a missing clause list falls back to the policy default for the type and field, and a
missing default is null, which fails the check (deny by default). Records and edges that fail
are not matched at all, so counts, order and pagination never see them; fields that fail come
back as null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dibx.graph.model import MODEL, Model, NodeType, Relation
from dibx.graph.release import dated_holds, marking_in_force, released, visible
from dibx.graph.selection import Selected

CONNECTION_PARTS = {"totalCount", "edges", "nodes", "pageInfo"}


def merge(selections: list[Selected]) -> list[Selected]:
    """Merge fields selected more than once (aliases, fragments) into one per result key."""
    by_key: dict[str, Selected] = {}
    for sel in selections:
        seen = by_key.get(sel.key)
        if seen is None:
            by_key[sel.key] = sel
        else:
            by_key[sel.key] = Selected(sel.name, sel.args, seen.children + sel.children)
    return list(by_key.values())


@dataclass
class Compiler:
    """Builds one query; holds its parameters so every value travels as a $parameter."""

    as_of: date
    nested_limit: int
    # The model the schema was built from: a relation's far type is looked up here.
    model: Model = MODEL
    params: dict[str, Any] = field(default_factory=dict)
    _vars: int = 0

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def var(self, prefix: str) -> str:
        self._vars += 1
        return f"{prefix}{self._vars}"

    # -- nodes -------------------------------------------------------------------------

    def node(self, var: str, node_type: NodeType, selections: list[Selected]) -> str:
        parts = [
            f"__key: {var}.{node_type.key}",
            f"__m: {marking_in_force(var, node_type.name)}",
        ]
        for sel in merge(selections):
            if sel.name in node_type.names:
                parts.extend(self._field(var, node_type.name, sel.name))
            elif sel.name == "fieldMarkings":
                parts.append(self._field_markings(var, node_type.name, node_type.names))
            elif sel.name in node_type.relations:
                rel = node_type.relations[sel.name]
                parts.append(f"`{sel.key}`: {self._relation(var, rel, sel)}")
        return "{" + ", ".join(dict.fromkeys(parts)) + "}"

    def _field(self, var: str, owner: str, name: str) -> list[str]:
        return [
            f"`{name}`: CASE WHEN {released(var, owner, name)} THEN [{var}.`{name}`] END",
            f"`__m_{name}`: {marking_in_force(var, owner, name)}",
        ]

    def _field_markings(self, var: str, owner: str, names: tuple[str, ...]) -> str:
        entries = [
            f"`{n}`: [{marking_in_force(var, owner, n)}, {released(var, owner, n)}]" for n in names
        ]
        return "__fm: {" + ", ".join(entries) + "}"

    def _edge(self, var: str, rel: Relation, selections: list[Selected]) -> str:
        parts = [f"__m: {marking_in_force(var, rel.edge_type)}"]
        for sel in merge(selections):
            if sel.name in rel.edge_fields:
                parts.extend(self._field(var, rel.edge_type, sel.name))
            elif sel.name == "fieldMarkings":
                parts.append(self._field_markings(var, rel.edge_type, rel.edge_fields))
        return "{" + ", ".join(dict.fromkeys(parts)) + "}"

    # -- relations ---------------------------------------------------------------------

    def _relation(self, var: str, rel: Relation, sel: Selected) -> str:
        target = self.model.nodes[rel.target]
        edge, other = self.var("e"), self.var("n")
        arrow = (
            f"({var})-[{edge}:{rel.rel}]->({other}:{target.label})"
            if rel.direction == "out"
            else f"({var})<-[{edge}:{rel.rel}]-({other}:{target.label})"
        )
        where = [visible(edge, rel.edge_type), visible(other, target.name)]
        if rel.dated:
            as_of = self.param(sel.arg("asOf") or self.as_of)
            where.append(dated_holds(edge, rel.edge_type, as_of))
        match = f"MATCH {arrow} WHERE " + " AND ".join(where)

        if not rel.many:
            node_sel = list(sel.children)
            body = (
                f"{{edge: {self._edge(edge, rel, [])}, node: {self.node(other, target, node_sel)}}}"
            )
            return (
                f"head(COLLECT {{ {match} WITH {edge}, {other} ORDER BY {other}.{target.key} "
                f"LIMIT 1 RETURN {body} }})"
            )

        edge_sels = [c for e in sel.find("edges") for c in e.children if c.name != "node"]
        node_sels = [c for n in sel.find("edges", "node") for c in n.children]
        node_sels += [c for n in sel.find("nodes") for c in n.children]
        first = int(sel.arg("first") if sel.arg("first") is not None else self.nested_limit)
        # One extra row tells whether there is a next page without counting everything.
        limit = self.param(max(0, min(first, self.nested_limit)) + 1)
        edge_map = self._edge(edge, rel, edge_sels)
        body = f"{{edge: {edge_map}, node: {self.node(other, target, node_sels)}}}"
        items = (
            f"COLLECT {{ {match} WITH {edge}, {other} ORDER BY {other}.{target.key}, "
            f"elementId({edge}) LIMIT {limit} RETURN {body} }}"
        )
        parts = [f"items: {items}", f"first: {self.param(first)}"]
        if sel.find("totalCount"):
            parts.append(f"total: COUNT {{ {match} }}")
        return "{" + ", ".join(parts) + "}"


def connection_node_selections(sel_children: list[Selected]) -> list[Selected]:
    """Fields selected on the nodes of a root connection (under edges.node and nodes)."""
    root = Selected("root", (), tuple(sel_children))
    return [c for n in root.find("edges", "node") for c in n.children] + [
        c for n in root.find("nodes") for c in n.children
    ]
