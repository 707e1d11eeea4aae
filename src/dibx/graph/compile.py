"""Selection -> one Cypher query, with the release check written into every step.

The compiled query returns each node as a map that `dibx.graph.rows` names and decodes (the
record's key and marking, the selected fields as `[value]` when released and null when
withheld, each field's marking, `fieldMarkings` when selected, and the relations by result
key); nothing outside the graph layer reads that map.

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

from dibx.errors import Invalid
from dibx.graph import asof, tallies
from dibx.graph.cursors import Key, Part, Sealer, beyond, order_by
from dibx.graph.model import MODEL, Model, NodeType, Relation
from dibx.graph.release import dated_holds, marking_in_force, released, visible
from dibx.graph.rows import (
    ALL_FIELD_MARKINGS,
    FIELD_MARKING,
    KEY,
    MARKING,
    RELATIONS,
    VALUES,
)
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
    # Opens the cursors of nested pages (`after`/`before` on a relation), for this caller.
    cursors: Sealer | None = None
    viewer: str = ""  # `dibx.graph.cursors.viewer` of the caller
    params: dict[str, Any] = field(default_factory=dict)
    # Time travel (`asOf`): the parameter holding the time, and per state variable the
    # record variable it belongs to (relations walk from the record, read the state).
    at: str | None = None
    records: dict[str, str] = field(default_factory=dict)
    # The relations' keys in the query's maps -> their result keys. The query names each
    # relation by its place (`k0`, `k1`, ...), not by its result key: that key hashes the
    # argument values, so a text holding it would differ for every page size or cursor, and
    # Neo4j would plan each value's query anew (seconds for a rich document). The rows are
    # renamed back as they are decoded (`dibx.graph.rows.decode_node`).
    renames: dict[str, str] = field(default_factory=dict)
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
        parts = [f"{KEY}: {var}.{node_type.key}"]
        fields: list[str] = []
        relations: dict[str, str] = {}
        for sel in merge(selections):
            if sel.name in node_type.names or sel.name == "fieldMarkings":
                fields.append(sel.name)
            elif sel.name in node_type.relations:
                rel = node_type.relations[sel.name]
                place = f"k{len(self.renames)}"
                self.renames[place] = sel.key
                relations[place] = self._relation(var, node_type, rel, sel)
        parts += self._marked(var, node_type.name, node_type.names, fields)
        if relations:
            parts.append(f"{RELATIONS}: " + _map(relations))
        return "{" + ", ".join(parts) + "}"

    def _marked(
        self, var: str, owner: str, names: tuple[str, ...], selected: list[str]
    ) -> list[str]:
        """The record's marking and its selected fields: each as `[value]` where released
        (null where withheld) with its marking in force, and `fieldMarkings` if asked."""
        values: dict[str, str] = {}
        markings: dict[str, str] = {}
        parts = [f"{MARKING}: {marking_in_force(var, owner)}"]
        for name in selected:
            if name == "fieldMarkings":
                entries = {
                    n: f"[{marking_in_force(var, owner, n)}, {released(var, owner, n)}]"
                    for n in names
                }
                parts.append(f"{ALL_FIELD_MARKINGS}: " + _map(entries))
            elif name in names:
                values[name] = f"CASE WHEN {released(var, owner, name)} THEN [{var}.`{name}`] END"
                markings[name] = marking_in_force(var, owner, name)
        if values:
            parts += [f"{VALUES}: " + _map(values), f"{FIELD_MARKING}: " + _map(markings)]
        return parts

    def _edge(self, var: str, rel: Relation, selections: list[Selected]) -> str:
        selected = [
            s.name
            for s in merge(selections)
            if s.name in rel.edge_fields or s.name == "fieldMarkings"
        ]
        return "{" + ", ".join(self._marked(var, rel.edge_type, rel.edge_fields, selected)) + "}"

    # -- relations ---------------------------------------------------------------------

    def _relation(self, var: str, owner: NodeType, rel: Relation, sel: Selected) -> str:
        target = self.model.nodes[rel.target]
        edge, other = self.var("e"), self.var("n")
        # What a page of the relation carries on: the far record too under `asOf`.
        carry = f"{edge}, {other}"
        tie = f"elementId({edge})"
        # The link's pattern and release checks, when a page may check them after ordering.
        arrow, checks = "", None
        if self.at is None:
            arrow = (
                f"({var})-[{edge}:{rel.rel}]->({other}:{target.label})"
                if rel.direction == "out"
                else f"({var})<-[{edge}:{rel.rel}]-({other}:{target.label})"
            )
            checks = f"{visible(edge, rel.edge_type)} AND {visible(other, target.name)}"
            match = f"MATCH {arrow} WHERE {checks}"
        else:
            other_rec = self.var("r")
            self.records[other] = other_rec
            match = asof.relation(
                self.model, owner, self.records[var], var, rel, edge, other_rec, other, self.at
            )
            carry += f", {other_rec}"
            # An edge read from a state or a record's state has no stable element id.
            tie = f"coalesce({edge}.uid, '')"
        if rel.dated:
            as_of = self.param(sel.arg("asOf") or self.as_of)
            holds = dated_holds(edge, rel.edge_type, as_of)
            match += f" AND {holds}"
            checks = None if checks is None else f"{checks} AND {holds}"

        if not rel.many:
            node_sel = list(sel.children)
            body = (
                f"{{edge: {self._edge(edge, rel, [])}, node: {self.node(other, target, node_sel)}}}"
            )
            return (
                f"head(COLLECT {{ {match} WITH {carry} ORDER BY {other}.{target.key} "
                f"LIMIT 1 RETURN {body} }})"
            )

        edge_sels = [c for e in sel.find("edges") for c in e.children if c.name != "node"]
        node_sels = [c for n in sel.find("edges", "node") for c in n.children]
        node_sels += [c for n in sel.find("nodes") for c in n.children]
        size, forward, at = self._window(owner, rel, sel)
        # One extra row tells whether there is a next page without counting everything.
        limit = self.param(max(0, min(size, self.nested_limit)) + 1)
        keys = (Key(f"{other}.{target.key}"), Key(tie))
        edge_map = self._edge(edge, rel, edge_sels)
        # A link's place (far key, edge id: about 60 bytes) only where a cursor is asked.
        place = f", at: [{other}.{target.key}, {tie}]" if _asks_cursors(sel) else ""
        body = f"{{edge: {edge_map}, node: {self.node(other, target, node_sels)}{place}}}"
        # Release tallies (`dibx.graph.tallies`) give the total where the owner's are current.
        tallied = rel.tallied and self.at is None and bool(sel.find("totalCount"))
        order = order_by(keys, reverse=not forward)
        if at is None and self.at is None and sel.find("totalCount"):
            counted = self._counted_page(match, carry, keys, forward, limit, body, size)
            if not tallied:
                return counted
            # Current tallies: the page checks links only until it is full, as a page
            # after a cursor does, and the total is summed from the tallies.
            assert checks is not None
            fast = (
                f"{{items: {_checked_items(arrow, '', carry, order, checks, limit, body)}, "
                f"first: {self.param(size)}, back: {'false' if forward else 'true'}, "
                f"other: false, total: {self._tallied(var, sel.name, rel, target)}}}"
            )
            return f"CASE WHEN {tallies.is_current(var, sel.name)} THEN {fast} ELSE {counted} END"
        opposite, where = "false", []
        if at is not None:
            # The cursor names its parent record: at any other record this page is empty.
            parent = f"{var}.{owner.key} = {self.param(at[0])}"
            where = [parent, beyond(keys, at[1:], self.param, forward=forward)]
            back = beyond(keys, at[1:], self.param, forward=not forward, inclusive=True)
            opposite = f"EXISTS {{ {match} AND {parent} AND {back} }}"
        if checks is None:  # under `asOf`: the match reads states (`asof.relation`)
            page = " AND ".join([match, *where])
            items = (
                f"COLLECT {{ {page} WITH {carry} ORDER BY {order} LIMIT {limit} RETURN {body} }}"
            )
        else:
            cut = f" WHERE {' AND '.join(where)}" if where else ""
            items = _checked_items(arrow, cut, carry, order, checks, limit, body)
        parts = [
            f"items: {items}",
            f"first: {self.param(size)}",
            f"back: {'false' if forward else 'true'}",
            f"other: {opposite}",
        ]
        if tallied:
            per_link = f"COUNT {{ {match} }}"
            parts.append(f"total: {self._tallied(var, sel.name, rel, target, per_link)}")
        elif sel.find("totalCount"):
            parts.append(f"total: COUNT {{ {match} }}")
        return "{" + ", ".join(parts) + "}"

    def _tallied(
        self, var: str, name: str, rel: Relation, target: NodeType, per_link: str | None = None
    ) -> str:
        """The total of `var`'s relation `name` from its release tallies; with `per_link`,
        that where they are current, else `per_link`."""
        tally = self.var("t")
        if per_link is None:
            return tallies.tallied_total(var, name, rel, target, tally)
        return tallies.total(var, name, rel, target, tally, per_link)

    def _counted_page(
        self,
        match: str,
        carry: str,
        keys: tuple[Key, ...],
        forward: bool,
        limit: str,
        body: str,
        size: int,
    ) -> str:
        """A first page and its totalCount from one pass over the matched links: the links
        (and the release checks that admit them) are read once, counted, and the first
        `limit` projected. `totalCount` counts exactly the rows the page is cut from, so it
        never counts a link the caller may not see."""
        rows, row = self.var("rows"), self.var("row")
        names = [v.strip() for v in carry.split(",")]
        unpack = ", ".join(f"{row}[{i}] AS {v}" for i, v in enumerate(names))
        # Subquery expressions only: an aggregating function here would make the enclosing
        # projection an aggregation. COLLECT keeps the ORDER BY's order; an empty page
        # (`first: 0`) needs none, only whether a link exists.
        order = f" ORDER BY {order_by(keys, reverse=not forward)}" if size > 0 else ""
        ordered = f"COLLECT {{ {match} WITH {carry}{order} RETURN [{carry}] }}"
        items = f"COLLECT {{ UNWIND {rows}[..{limit}] AS {row} WITH {unpack} RETURN {body} }}"
        return (
            f"head(COLLECT {{ UNWIND [{ordered}] AS {rows} "
            f"RETURN {{items: {items}, first: {self.param(size)}, "
            f"back: {'false' if forward else 'true'}, other: false, total: size({rows})}} }})"
        )

    def _window(
        self, owner: NodeType, rel: Relation, sel: Selected
    ) -> tuple[int, bool, tuple[Part, ...] | None]:
        """(page size, forward, the opened cursor: parent key, far key, edge id)."""
        first, after = sel.arg("first"), sel.arg("after")
        last, before = sel.arg("last"), sel.arg("before")
        backward = last is not None or before is not None
        if backward and (first is not None or after is not None):
            raise Invalid(
                "page forwards (first, after) or backwards (last, before), not both",
                field=sel.name,
            )
        size = last if backward else first
        size = int(size if size is not None else rel.first)
        token = before if backward else after
        if token is None:
            return size, not backward, None
        if self.cursors is None:
            raise Invalid("cursors are not accepted here", field=sel.name)
        at = self.cursors.open(
            self.viewer,
            relation_connection(owner, sel.name),
            str(token),
            field=f"{sel.name}.{'before' if backward else 'after'}",
            size=3,
        )
        return size, not backward, at


def _asks_cursors(sel: Selected) -> bool:
    """Whether a relation's selection seals a cursor: an edge's, or the page's first or last."""
    return any(
        sel.find(*path)
        for path in (("edges", "cursor"), ("pageInfo", "startCursor"), ("pageInfo", "endCursor"))
    )


def _checked_items(
    arrow: str, cut: str, carry: str, order: str, checks: str, limit: str, body: str
) -> str:
    """A page of links ordered by keys first, then checked until the page is full: a link
    past the page is never checked (a busy capability has thousands of providers). Only
    links that pass the checks are returned, so the page and its order are those of
    checking first; the second ORDER BY keeps that order by the query's meaning, and Neo4j
    sees its input is ordered already and does not sort again."""
    return (
        f"COLLECT {{ MATCH {arrow}{cut} WITH {carry} ORDER BY {order} WHERE {checks} "
        f"WITH {carry} ORDER BY {order} LIMIT {limit} RETURN {body} }}"
    )


def relation_connection(owner: NodeType, relation: str) -> str:
    """What a nested page's cursor is bound to: the relation of the record type."""
    return f"{owner.name}.{relation}"


def _map(entries: dict[str, str]) -> str:
    """A Cypher map literal; the keys are model names or relation places, quoted."""
    return "{" + ", ".join(f"`{k}`: {v}" for k, v in entries.items()) + "}"


def connection_node_selections(sel_children: list[Selected]) -> list[Selected]:
    """Fields selected on the nodes of a root connection (under edges.node and nodes)."""
    root = Selected("root", (), tuple(sel_children))
    return [c for n in root.find("edges", "node") for c in n.children] + [
        c for n in root.find("nodes") for c in n.children
    ]
