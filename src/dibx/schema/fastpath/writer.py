"""Writes a covered operation's response straight from its compiled rows.

The root resolvers run as before (arguments, limits, the compiled read, the root record's
marking into the banner, the audit); what each returns is then written into the response by
the plan's steps (`steps.compile_steps`), instead of resolving and completing every field of
every object. Each step does what its field's resolver declares (`dibx.schema.written`): the
same value serialized by the same scalar; the same markings into the banner, through
`Disclosure.release`, once per record handed out and once per released value; the same
`withheld` entries in the same order (fields in document order, depth first, a page's
records released before any is written, as the resolvers wrap them); the same errors at the
same paths, a failed non-null field nulling its nearest nullable parent as `Execution` does.

Below the root, steps read the row maps themselves (`dibx.graph.rows`: the whole row was
checked when its root record decoded), so no `NodeRow`, `Link` or strawberry object is
built for a nested record. Response paths are plain tuples (`At`, laid out as graphql-core's
`Path`), made into a `Path` only for an error or a `withheld` entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError, GraphQLInterfaceType, GraphQLNonNull, get_named_type
from graphql.pyutils import Path, Undefined

from dibx.graph.cursors import Sealer, viewer
from dibx.graph.rows import (
    ALL_FIELD_MARKINGS,
    AT,
    BACK,
    EDGE,
    FIELD_MARKING,
    FIRST,
    ITEMS,
    KEY,
    MARKING,
    NODE,
    OTHER,
    RELATIONS,
    TOTAL,
    VALUES,
)
from dibx.graph.selection import result_key
from dibx.schema.connection import PageInfo
from dibx.schema.fastpath.execute import Execution, leaf_error
from dibx.schema.fastpath.steps import Op, RootSteps, Step, Steps
from dibx.schema.fields import FieldMarking
from dibx.schema.ids import encode_id
from dibx.schema.selection import path_text

UNMARKED = "UNMARKED"  # how a value without a marking is weighed for disclosure
NOT_FETCHED = "totalCount was not fetched"  # `Connection.total_count`'s error
_NONE: Mapping[str, Any] = {}
_ABSENT = object()
# A response path: (the parent's, key, parent type name), as `Path` lays it out.
At = tuple[Any, str | int, str | None]
# The ops, as module constants: the record loop tests them by identity.
_TYPENAME, _VALUE, _MARKING, _FIELD_MARKINGS = Op.TYPENAME, Op.VALUE, Op.MARKING, Op.FIELD_MARKINGS
_ID, _KEY, _ONE, _MANY = Op.ID, Op.KEY, Op.ONE, Op.MANY
_EDGE_CURSOR, _FAR_NODE, _TOTAL, _EDGES = Op.EDGE_CURSOR, Op.FAR_NODE, Op.TOTAL, Op.EDGES
_NODES, _PAGE_INFO, _CURSOR, _NODE = Op.NODES, Op.PAGE_INFO, Op.CURSOR, Op.NODE


class RelationPage:
    """A relation's page as `rows.RelationRow` reads it, with what its cursors are sealed
    with: the owner's key and the relation's connection."""

    __slots__ = ("asked", "connection", "has_next", "has_previous", "links", "owner", "total")

    def __init__(
        self,
        links: list[Mapping[str, Any]],
        has_next: bool,
        has_previous: bool,
        total: int | None,
        owner: str,
        connection: str,
        asked: tuple[Any, Any],
    ) -> None:
        self.links = links
        self.has_next = has_next
        self.has_previous = has_previous
        self.total = total
        self.owner = owner
        self.connection = connection
        self.asked = asked  # (before, after): an empty page's ends


def _path(at: At | None) -> Path | None:
    if at is None or type(at) is Path:
        return at
    return Path(_path(at[0]), at[1], at[2])


def _text(at: At) -> str:
    """The path as `withheld` names it (`selection.path_text`)."""
    path = _path(at)
    assert path is not None
    return path_text(path)


def _leaf(step: Step, value: Any) -> Any:
    """A leaf as `Execution.complete` completes it."""
    if value is None:
        if isinstance(step.type, GraphQLNonNull):
            raise TypeError(step.null_error)
        return None
    if step.text and type(value) is str:  # String and ID serialize text as itself
        return value
    serialized = step.serialize(value)
    if serialized is None or serialized is Undefined:
        raise leaf_error(get_named_type(step.type), value, serialized)
    return serialized


class Writing:
    """One request's response, written by a plan's steps."""

    def __init__(self, execution: Execution, context: Any, roots: Mapping[str, RootSteps]) -> None:
        self.execution = execution
        self.context = context
        self.roots = roots
        self.release = context.disclosure.release
        self.withhold = context.disclosure.withhold
        self.discloses = context.policy.discloses
        self.sealer: Sealer = context.directory.cursors
        self.viewer: str | None = None  # worked out once a cursor is sealed
        self.arguments: dict[int, tuple[str, tuple[Any, Any]]] = {}

    def fail(self, raw: Exception, step: Step, at: At, *, item: bool = False) -> None:
        """As `Execution._field_error`: located; raised on if the field (or, for a list's
        item, the item) may not be null."""
        kind = step.item_type if item else step.type
        path = _path(at)
        assert path is not None
        self.execution._field_error(raw, kind, step.nodes, path)

    def root(self, path: Path, value: Any) -> Any:
        """A root field's value (what its resolver returned), written."""
        steps = self.roots[str(path.key)]
        if value is None:
            if isinstance(steps.type, GraphQLNonNull):
                raise TypeError(steps.null_error)
            return None
        if steps.page is not None:
            return self.root_page(steps.page, value, path)
        if isinstance(get_named_type(steps.type), GraphQLInterfaceType):
            definition = getattr(type(value), "__strawberry_definition__", None)
            found = steps.records.get(definition.name) if definition is not None else None
            if found is None:  # as `Execution._runtime_type` refuses it
                raise GraphQLError(f"No object type for {type(value).__name__}.")
            return self.record(found, value._row.raw, path)
        (found,) = steps.records.values()
        return self.record(found, value._row.raw, path)

    # -- records -------------------------------------------------------------------------

    def record(
        self,
        steps: Steps,
        rec: Mapping[str, Any],
        at: At,
        link: Mapping[str, Any] = _NONE,
        page: RelationPage | None = None,
    ) -> dict[str, Any]:
        """A node (`rec` its map) or a relation edge (`rec` the edge's map, with its link
        and page): the fields of `types` and `fields.marked`."""
        result: dict[str, Any] = {}
        type_name = steps.type_name
        values = rec.get(VALUES) or _NONE
        markings = rec.get(FIELD_MARKING) or _NONE
        for step in steps.steps:
            op = step.op
            key = step.key
            try:
                if op is _VALUE:  # `fields.release_value`
                    name = step.argument
                    marking = markings.get(name, _ABSENT)
                    if marking is _ABSENT:  # not fetched: withheld, with no marking
                        marking, found = None, None
                    else:
                        found = values.get(name)
                    if found is None:
                        if self.discloses(marking or UNMARKED):
                            self.withhold(_text((at, key, type_name)), marking)
                        value = None
                    else:
                        value = found[0]
                        self.release(marking)
                elif op is _TYPENAME:
                    result[key] = type_name
                    continue
                elif op is _KEY:
                    value = str(rec[KEY])
                elif op is _MANY:
                    result[key] = self.many(step, rec, (at, key, type_name))
                    continue
                elif op is _ONE:
                    result[key] = self.one(step, rec, (at, key, type_name))
                    continue
                elif op is _ID:
                    value = encode_id(step.argument, str(rec[KEY]))
                elif op is _MARKING:
                    value = str(rec[MARKING])
                elif op is _FAR_NODE:
                    node = link[NODE]
                    self.release(str(node[MARKING]))
                    result[key] = self.record(step.sub, node, (at, key, type_name))
                    continue
                elif op is _EDGE_CURSOR:
                    assert page is not None
                    value = self.cursor(page, link)
                else:
                    assert op is _FIELD_MARKINGS
                    marks = self.field_markings(rec)
                    result[key] = self.objects(step, marks, (at, key, type_name))
                    continue
                # A present value its scalar serializes: as `Execution.fields` completes it.
                if value is not None:
                    if step.text and type(value) is str:
                        result[key] = value
                        continue
                    serialized = step.serialize(value)
                    if serialized is not None and serialized is not Undefined:
                        result[key] = serialized
                        continue
                result[key] = _leaf(step, value)  # null, or the error
            except Exception as raw:  # noqa: BLE001 - located and reported as the executor does
                self.fail(raw, step, (at, key, type_name))
                result[key] = None
        return result

    def own(self, step: Step) -> tuple[str, tuple[Any, Any]]:
        """A relation's result key and (before, after), for this request's variables."""
        if step.own is not None:
            return step.own, step.asked
        found = self.arguments.get(id(step))
        if found is None:
            assert step.field is not None
            args = self.execution._args(step.field, step.nodes)
            found = (
                result_key(step.nodes[0].name.value, args),
                (
                    args.get("before"),
                    args.get("after"),
                ),
            )
            self.arguments[id(step)] = found
        return found

    def one(self, step: Step, rec: Mapping[str, Any], at: At) -> Any:
        """`types._one`: the link's edge and far node are handed out (their markings)."""
        link = (rec.get(RELATIONS) or _NONE).get(self.own(step)[0])
        if link is None or ITEMS in link:
            if isinstance(step.type, GraphQLNonNull):
                raise TypeError(step.null_error)
            return None
        self.release(str(link[EDGE][MARKING]))
        node = link[NODE]
        self.release(str(node[MARKING]))
        return self.record(step.sub, node, at)

    def many(self, step: Step, rec: Mapping[str, Any], at: At) -> dict[str, Any]:
        """`types._many`: the page as `rows._relation` reads it (empty when absent)."""
        own, asked = self.own(step)
        found = (rec.get(RELATIONS) or _NONE).get(own)
        owner = str(rec[KEY])
        if found is None or ITEMS not in found:
            page = RelationPage([], False, False, None, owner, step.argument, asked)
        else:
            items, first = found[ITEMS], found[FIRST]
            links = items[:first]
            more = len(items) > first
            back, other = bool(found.get(BACK)), bool(found.get(OTHER))
            if back:
                links.reverse()
            total = found.get(TOTAL)
            page = RelationPage(
                links,
                other if back else more,
                more if back else other,
                None if total is None else int(total),
                owner,
                step.argument,
                asked,
            )
        return self.page(step.sub, page, at)

    def cursor(self, page: RelationPage, link: Mapping[str, Any]) -> str:
        """A link's cursor, sealed as `types._many` seals it."""
        at = link.get(AT)
        if at is None:
            raise AssertionError  # as the resolver asserts: a page's link has its place
        if self.viewer is None:
            self.viewer = viewer(self.context.scope)
        return self.sealer.seal(self.viewer, page.connection, (page.owner, str(at[0]), str(at[1])))

    def field_markings(self, rec: Mapping[str, Any]) -> list[FieldMarking]:
        """`fields.field_markings_for` over the row's markings (sorted by field)."""
        found = rec.get(ALL_FIELD_MARKINGS)
        if not found:
            return []
        marks = []
        for name, (marking, ok) in sorted(found.items()):
            released = bool(ok)
            shown = marking if released or self.discloses(marking or UNMARKED) else None
            marks.append(FieldMarking(field=name, marking=shown, released=released))
        return marks

    # -- pages -----------------------------------------------------------------------------

    def page(self, steps: Steps, page: RelationPage, at: At) -> dict[str, Any]:
        """A relation's connection (`connection.Connection` over `types._relation_rows`)."""
        result: dict[str, Any] = {}
        type_name = steps.type_name
        for step in steps.steps:
            op = step.op
            key = step.key
            try:
                if op is _EDGES:
                    links = page.links
                    for link in links:  # every edge wrapped first, then each completed
                        self.release(str(link[EDGE][MARKING]))
                    result[key] = self.edges(step, links, page, (at, key, type_name))
                elif op is _NODES:
                    nodes = [link[NODE] for link in page.links]
                    for node in nodes:
                        self.release(str(node[MARKING]))
                    result[key] = self.nodes(step, nodes, (at, key, type_name))
                elif op is _TOTAL:
                    if page.total is None:
                        raise RuntimeError(NOT_FETCHED)
                    result[key] = _leaf(step, page.total)
                elif op is _PAGE_INFO:
                    shown = page.links
                    start, end = (
                        (self.cursor(page, shown[0]), self.cursor(page, shown[-1]))
                        if shown
                        else page.asked
                    )
                    info = PageInfo(
                        has_next_page=page.has_next,
                        has_previous_page=page.has_previous,
                        start_cursor=start,
                        end_cursor=end,
                    )
                    result[key] = self.attributes(step.sub, info, (at, key, type_name))
                else:
                    assert op is _TYPENAME
                    result[key] = type_name
            except Exception as raw:  # noqa: BLE001 - as in `record`
                self.fail(raw, step, (at, key, type_name))
                result[key] = None
        return result

    def edges(
        self, step: Step, links: list[Mapping[str, Any]], page: RelationPage, at: At
    ) -> list[Any]:
        sub, record = step.sub, self.record
        completed: list[Any] = []
        for index, link in enumerate(links):
            try:
                completed.append(record(sub, link[EDGE], (at, index, None), link, page))
            except Exception as raw:  # noqa: BLE001 - as `Execution._list`
                self.fail(raw, step, (at, index, None), item=True)
                completed.append(None)
        return completed

    def nodes(self, step: Step, nodes: list[Mapping[str, Any]], at: At) -> list[Any]:
        sub, record = step.sub, self.record
        completed: list[Any] = []
        for index, node in enumerate(nodes):
            try:
                completed.append(record(sub, node, (at, index, None)))
            except Exception as raw:  # noqa: BLE001 - as `Execution._list`
                self.fail(raw, step, (at, index, None), item=True)
                completed.append(None)
        return completed

    def root_page(self, steps: Steps, connection: Any, at: At) -> dict[str, Any]:
        """A root field's connection object (`types.ModelTypes.page`), through its `Rows`."""
        rows = connection.rows
        result: dict[str, Any] = {}
        type_name = steps.type_name
        for step in steps.steps:
            op = step.op
            key = step.key
            try:
                if op is _EDGES:
                    edges = rows.edges(self.context)
                    result[key] = self.objects(step, edges, (at, key, type_name))
                elif op is _NODES:
                    records = [o._row.raw for o in rows.nodes(self.context)]
                    result[key] = self.nodes(step, records, (at, key, type_name))
                elif op is _TOTAL:
                    if rows.total is None:
                        raise RuntimeError(NOT_FETCHED)
                    result[key] = _leaf(step, rows.total)
                elif op is _PAGE_INFO:
                    start, end = rows.cursors()
                    info = PageInfo(
                        has_next_page=rows.has_next,
                        has_previous_page=rows.has_previous,
                        start_cursor=start,
                        end_cursor=end,
                    )
                    result[key] = self.attributes(step.sub, info, (at, key, type_name))
                else:
                    assert op is _TYPENAME
                    result[key] = type_name
            except Exception as raw:  # noqa: BLE001 - as in `record`
                self.fail(raw, step, (at, key, type_name))
                result[key] = None
        return result

    def objects(self, step: Step, objects: list[Any], at: At) -> list[Any]:
        """A list of objects the writer reads by attribute: a root page's edges
        (`connection.Edge`) or a record's `FieldMarking`s."""
        sub = step.sub
        write = self.root_edge if step.op is _EDGES else self.attributes
        completed: list[Any] = []
        for index, item in enumerate(objects):
            try:
                completed.append(write(sub, item, (at, index, None)))
            except Exception as raw:  # noqa: BLE001 - as `Execution._list`
                self.fail(raw, step, (at, index, None), item=True)
                completed.append(None)
        return completed

    def root_edge(self, steps: Steps, edge: Any, at: At) -> dict[str, Any]:
        """A root page's edge: its cursor and its record, built (and released) if selected."""
        result: dict[str, Any] = {}
        type_name = steps.type_name
        for step in steps.steps:
            op = step.op
            key = step.key
            try:
                if op is _CURSOR:
                    result[key] = _leaf(step, edge.position())
                elif op is _NODE:
                    record = edge.build(self.context)._row.raw
                    result[key] = self.record(step.sub, record, (at, key, type_name))
                else:
                    assert op is _TYPENAME
                    result[key] = type_name
            except Exception as raw:  # noqa: BLE001 - as in `record`
                self.fail(raw, step, (at, key, type_name))
                result[key] = None
        return result

    def attributes(self, steps: Steps, source: Any, at: At) -> dict[str, Any]:
        """An object of plain attributes (PageInfo, FieldMarking), read as strawberry
        reads a field without a resolver."""
        result: dict[str, Any] = {}
        type_name = steps.type_name
        for step in steps.steps:
            try:
                if step.op is _TYPENAME:
                    result[step.key] = type_name
                else:
                    result[step.key] = _leaf(step, getattr(source, step.argument))
            except Exception as raw:  # noqa: BLE001 - as in `record`
                self.fail(raw, step, (at, step.key, type_name))
                result[step.key] = None
        return result
