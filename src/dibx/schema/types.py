"""GraphQL object types derived from a `Model`: nodes, edges, connections and sort inputs.

Each node or edge object wraps one typed row of a compiled query (`dibx.graph.rows`).
Nothing here queries the database: nested fields read what the root field's single query
already fetched, found under the key the compiler gave them (`own_key`). A field declared in
the model is a field here, with the model's description; nothing else names it.

Types refer to each other in cycles (a Supplier's offers lead to Capabilities, whose
providers lead back), so every class is made first and decorated once all exist.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from dibx.graph.compile import relation_connection
from dibx.graph.cursors import viewer
from dibx.graph.model import MODEL, Model, NodeType, Relation
from dibx.graph.rows import EMPTY_RELATION, EdgeRow, Link, NodeRow, RelationRow
from dibx.schema.connection import AFTER, BEFORE, FIRST, LAST, Connection, Edge, Rows
from dibx.schema.context import Context
from dibx.schema.direct import direct
from dibx.schema.fields import (
    FieldMarking,
    field_markings,
    field_markings_for,
    marked,
    record_marking,
)
from dibx.schema.ids import encode_id
from dibx.schema.scopes import resolver
from dibx.schema.selection import own_key
from dibx.schema.written import Writes, writes

MARKING = "The marking of this record (or edge) itself: it governs whether it is shown at all."
EDGE_CURSOR = "This edge's place in the list (for `after` or `before`): opaque."
AS_OF = "The date the memberships are read for (default today)."


def returning(kind: Any, **arguments: Any) -> Callable[[Any], Any]:
    """Give a resolver its GraphQL return type (and argument types), chosen at run time:
    model-derived types are values, which a static annotation cannot name."""

    def apply(fn: Any) -> Any:
        fn.__annotations__.update(arguments, **{"return": kind})
        return fn

    return apply


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@strawberry.interface(description="An object with a stable global id.")
class Node:
    @resolver("Stable global id (opaque).")
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # every implementation defines it


@strawberry.interface(description="A record or edge that carries markings.")
class Marked:
    _row: strawberry.Private[NodeRow | EdgeRow]

    @resolver(MARKING, metadata=writes(Writes.MARKING))
    def marking(self) -> str:
        return record_marking(self)

    @resolver(
        "The marking of each field, and whether it was released to you.",
        metadata={
            **direct(lambda root, context, *_: field_markings_for(root, context)),
            **writes(Writes.FIELD_MARKINGS),
        },
    )
    def field_markings(self, info: Info[Context, None]) -> list[FieldMarking]:
        return field_markings(self, info)


@strawberry.enum(description="Which way a sort runs.")
class SortDirection(Enum):
    ASC = strawberry.enum_value("asc", description="Smallest first; withheld and null last.")
    DESC = strawberry.enum_value("desc", description="Largest first; withheld and null last.")


def wrap(info: Info[Context, None], cls: Any, row: NodeRow | EdgeRow, **extra: Any) -> Any:
    return wrap_in(info.context, cls, row, **extra)


def wrap_in(context: Context, cls: Any, row: NodeRow | EdgeRow, **extra: Any) -> Any:
    """A record handed out is a released portion: its own marking joins the banner."""
    context.disclosure.release(row.marking)
    return cls(_row=row, **extra)


@dataclass(frozen=True, slots=True)
class ModelTypes:
    """The GraphQL types of one model: node classes, root connections and sort inputs."""

    model: Model
    nodes: dict[str, Any]
    connections: dict[str, Any]  # node type -> Connection[Edge[node], node]
    sorts: dict[str, Any]  # node type -> its sort input (types with sortable fields)

    def page(
        self,
        info: Info[Context, None],
        type_name: str,
        page: Any,
        cursor_of: Callable[[tuple[Any, ...]], str],
        asked: tuple[str | None, str | None] = (None, None),
    ) -> Any:
        """A root connection over a page of records (`dibx.graph.reads.Page`); `asked` is
        the (before, after) it was asked with, the ends of an empty page."""
        cls = self.nodes[type_name]
        items, positions = page.items, page.positions

        def edges(context: Context) -> list[Any]:
            return [
                Edge(position=functools.partial(cursor_of, at), build=_builder(cls, item))
                for item, at in zip(items, positions, strict=True)
            ]

        def ends() -> tuple[str | None, str | None]:
            if not positions:
                return asked
            return cursor_of(positions[0]), cursor_of(positions[-1])

        rows = Rows(
            edges=edges,
            nodes=lambda context: [wrap_in(context, cls, item) for item in items],
            has_next=page.has_next,
            has_previous=page.has_previous,
            cursors=ends,
            total=int(page.total or 0),
        )
        return self.connections[type_name](rows=rows)


def _builder(cls: Any, item: NodeRow) -> Callable[[Context], Any]:
    return lambda context: wrap_in(context, cls, item)


def _blank(name: str, bases: tuple[type, ...]) -> Any:
    annotations: dict[str, Any] = {"_row": strawberry.Private[NodeRow]}
    namespace: dict[str, Any] = {}
    if not bases:  # an edge: the relationship's row, its far node's and its cursor
        annotations = {
            "_row": strawberry.Private[EdgeRow],
            "_node": strawberry.Private[NodeRow],
            "_cursor": strawberry.Private[functools.partial[str]],  # sealed only if selected
        }
        namespace["cursor"] = strawberry.field(
            resolver=_edge_cursor, description=EDGE_CURSOR, metadata=writes(Writes.EDGE_CURSOR)
        )
    return type(
        name,
        (Marked, *bases),
        {"__annotations__": annotations, "__module__": __name__, **namespace},
    )


def _edge_cursor(root: Any) -> str:
    return str(root._cursor())


def _key_fields(cls: Any, node: NodeType) -> None:
    type_name = node.name

    def global_id(root: Any) -> strawberry.ID:
        return strawberry.ID(encode_id(type_name, root._row.key))

    def key(root: Any) -> str:
        return str(root._row.key)

    cls.id = strawberry.field(
        resolver=global_id,
        description="Stable global id (opaque).",
        metadata=writes(Writes.ID, type_name),
    )
    setattr(
        cls,
        snake(node.key_field),
        strawberry.field(
            resolver=key,
            name=node.key_field,
            description=node.key_description or f"The {type_name}'s key ({node.key_hint}).",
            metadata=writes(Writes.KEY),
        ),
    )


def _relation_rows(
    edge_cls: Any,
    target: Any,
    data: RelationRow,
    cursor_of: Callable[[Link], str],
    asked: tuple[str | None, str | None],
) -> Rows:
    shown = data.items

    def ends() -> tuple[str | None, str | None]:
        return (cursor_of(shown[0]), cursor_of(shown[-1])) if shown else asked

    def edges(context: Context) -> list[Any]:
        return [
            wrap_in(
                context, edge_cls, i.edge, _node=i.node, _cursor=functools.partial(cursor_of, i)
            )
            for i in shown
        ]

    return Rows(
        edges=edges,
        nodes=lambda context: [wrap_in(context, target, i.node) for i in shown],
        has_next=data.has_next,
        has_previous=data.has_previous,
        cursors=ends,
        total=data.total,
    )


def _many(key: str, owner: NodeType, rel: Relation, edge_cls: Any, target: Any) -> Any:
    conn = Connection[edge_cls, target]
    connection = relation_connection(owner, key)

    def page(root: Any, context: Context, own: str, asked: tuple[str | None, str | None]) -> Any:
        """The page fetched under the field's result key `own`; its cursors sealed here."""
        sealer, parent = context.directory.cursors, root._row.key
        caller: list[str] = []  # the viewer, worked out once a cursor is asked for

        def cursor_of(link: Link) -> str:
            assert link.at is not None  # every link of a to-many page carries its place
            if not caller:
                caller.append(viewer(context.scope))
            return sealer.seal(caller[0], connection, (parent, *link.at))

        found = root._row.relations.get(own)
        data = found if isinstance(found, RelationRow) else EMPTY_RELATION
        return conn(rows=_relation_rows(edge_cls, target, data, cursor_of, asked))

    def page_direct(root: Any, context: Context, args: dict[str, Any], own: str, _: Any) -> Any:
        return page(root, context, own, (args.get("before"), args.get("after")))

    def resolve(
        root: Any,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Any:
        # The arguments were compiled into the root field's query.
        return page(root, info.context, own_key(info._raw_info), (before, after))

    def resolve_dated(
        root: Any,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
        as_of: Annotated[datetime.date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Any:
        # `asOf` was compiled into the query; the result is found under its key.
        return resolve(root, info, first, after, last, before)

    chosen = resolve_dated if rel.dated else resolve
    return strawberry.field(
        resolver=returning(conn)(chosen),
        name=key,
        description=rel.description,
        metadata={**direct(page_direct), **writes(Writes.MANY, connection)},
    )


def _one(key: str, rel: Relation, target: Any) -> Any:
    def one(root: Any, context: Context, own: str) -> Any:
        link = root._row.relations.get(own)
        if not isinstance(link, Link):
            return None
        # The edge is a released portion too: its marking joins the banner.
        context.disclosure.release(link.edge.marking)
        return wrap_in(context, target, link.node)

    @returning(target | None)
    def resolve(root: Any, info: Info[Context, None]) -> Any:
        return one(root, info.context, own_key(info._raw_info))

    return strawberry.field(
        resolver=resolve,
        name=key,
        description=rel.description,
        metadata={
            **direct(lambda root, context, _, own, __: one(root, context, own)),
            **writes(Writes.ONE),
        },
    )


def _far_node(target: Any) -> Any:
    @returning(target)
    def resolve(root: Any, info: Info[Context, None]) -> Any:
        return wrap(info, target, root._node)

    return strawberry.field(
        resolver=resolve,
        description="The record at the other end.",
        metadata={
            **direct(lambda root, context, *_: wrap_in(context, target, root._node)),
            **writes(Writes.FAR_NODE),
        },
    )


def build_types(
    model: Model = MODEL, extra: Mapping[str, Mapping[str, Any]] | None = None
) -> ModelTypes:
    """`extra`: further fields per node type (e.g. `history` on stewarded records)."""
    nodes = {name: _blank(name, (Node,)) for name in model.nodes}
    edges: dict[str, Any] = {}
    for node in model.nodes.values():
        cls = nodes[node.name]
        _key_fields(cls, node)
        for f in node.fields:
            setattr(cls, f.attr, marked(f.name, f.kind, f.description))
        for key, rel in node.relations.items():
            target = nodes[rel.target]
            if not rel.many:
                setattr(cls, snake(key), _one(key, rel, target))
                continue
            edge_cls = edges.get(rel.edge_name)
            if edge_cls is None:
                edge_cls = edges[rel.edge_name] = _blank(rel.edge_name, ())
                edge_cls.__doc__ = rel.edge.description
                edge_cls.node = _far_node(target)
                for f in rel.edge.fields:
                    setattr(edge_cls, f.attr, marked(f.name, f.kind, f.description))
            setattr(cls, snake(key), _many(key, node, rel, edge_cls, target))
    for name, cls in edges.items():
        strawberry.type(cls, name=name, description=cls.__doc__)
    for name, fields in (extra or {}).items():
        for attr, value in fields.items():
            setattr(nodes[name], attr, value)
    for node in model.nodes.values():
        strawberry.type(nodes[node.name], name=node.name, description=node.description)
    connections = {
        name: Connection[Edge[cls], cls]  # type: ignore[valid-type]
        for name, cls in nodes.items()
    }
    sorts = {n.name: _sort_input(n) for n in model.nodes.values() if n.sortable()}
    return ModelTypes(model=model, nodes=nodes, connections=connections, sorts=sorts)


def _sort_input(node: NodeType) -> Any:
    """`<Type>SortField` (the key and every sortable field) and the `<Type>Sort` input."""
    values: dict[str, Any] = {
        "KEY": strawberry.enum_value("key", description=f"The {node.name}'s key.")
    }
    for f in node.sortable():
        values[snake(f.name).upper()] = strawberry.enum_value(f.name, description=f.description)
    functional: Any = Enum  # the enum's name is the model's, not a literal
    members = functional(f"{node.name}SortField", values)
    field_enum = strawberry.enum(
        members,
        description=f"What {node.name} records can be sorted by.",
    )
    cls = type(
        f"{node.name}Sort",
        (),
        {
            "__annotations__": {"field": field_enum, "direction": SortDirection},
            "__module__": __name__,
            "field": strawberry.field(description="The field to sort by."),
            "direction": strawberry.field(
                default=SortDirection.ASC, description="Ascending (default) or descending."
            ),
        },
    )
    return strawberry.input(
        cls, description="Sort order; a field withheld from you sorts as null (last)."
    )
