"""GraphQL surface of stewarded writes: mutation inputs derived from the model, payloads with
`userErrors`, and the `history` field of stewarded records.

Inputs are generated from `dibx.graph.model` as the object types are (`schema/types.py`):
each marked field becomes `{value, marking}` of its kind (`StringFieldInput`, ...), each
stewarded type gets `Create<T>Input`, `Update<T>Input`, `Retire<T>Input`, each stewarded edge
`Set<E>Input` / `Remove<E>Input`, and `ChangeInput` holds exactly one of them. Resolvers turn
ids into keys and inputs into the plain dicts `dibx.services.stewardship` validates (the one
validator, shared with bulk import). Errors are `userErrors { field code message }`, `field`
the input path; any error means nothing was written.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from dibx.auth.principal import CATALOGUE_WRITE, DATA_WRITE
from dibx.errors import Invalid
from dibx.graph.model import MODEL, EdgeType, Field, Model, NodeType
from dibx.schema.context import Context
from dibx.schema.ids import decode_id, encode_id
from dibx.schema.scopes import resolver, root_mutation
from dibx.services import stewardship as rules

HISTORY_FIRST = "How many revisions, newest first (at most the server's limit)."


@strawberry.type(description="What was wrong with an input; nothing was written.")
class UserError:
    field: list[str] = strawberry.field(description="The input path at fault.")
    code: str = strawberry.field(
        description="INVALID, UNKNOWN_FIELD, MARKING_INVALID, MARKING_NOT_READABLE, "
        "MARKING_BELOW_FLOOR, REASON_REQUIRED, NOT_FOUND, FORBIDDEN, CONFLICT or DUPLICATE."
    )
    message: str = strawberry.field(description="What is wrong, for a person.")
    current_version: int | None = strawberry.field(
        default=None, description="CONFLICT: the record's current version."
    )


@strawberry.enum(description="What a change did.")
class ChangeKind(Enum):
    CREATED = strawberry.enum_value("created", description="The record or edge was created.")
    UPDATED = strawberry.enum_value("updated", description="Its values or markings changed.")
    RETIRED = strawberry.enum_value("retired", description="Retired or removed (kept as history).")


@strawberry.type(description="One change applied.")
class AppliedChange:
    type: str = strawberry.field(description="Supplier, Capability or an edge type.")
    id: strawberry.ID | None = strawberry.field(description="Global id of the record (records).")
    key: str = strawberry.field(description="The record's key (edges: start->end keys).")
    kind: ChangeKind = strawberry.field(description="Created, updated or retired.")
    version: int = strawberry.field(description="The version after the change.")


@strawberry.type(description="The result of a write: the changes applied, or why none was.")
class StewardshipPayload:
    changes: list[AppliedChange] = strawberry.field(description="Empty when there are errors.")
    user_errors: list[UserError] = strawberry.field(description="Empty when it was written.")


@strawberry.type(description="One field's change in a revision.")
class FieldChange:
    field: str = strawberry.field(description="The field.")
    old_value: JSON | None = strawberry.field(
        description="The value before: null if there was none or it is withheld from you."
    )
    old_marking: str | None = strawberry.field(description="Its marking before.")
    new_value: JSON | None = strawberry.field(
        description="The value after: null if none or withheld."
    )
    new_marking: str | None = strawberry.field(description="Its marking after.")


@strawberry.type(description="One revision of a record.")
class Revision:
    at: datetime.datetime = strawberry.field(description="When it was written.")
    kind: ChangeKind = strawberry.field(description="Created, updated or retired.")
    version: int = strawberry.field(description="The record's version after it.")
    actor_nation: str | None = strawberry.field(description="The writer's nation.")
    actor_org: str | None = strawberry.field(description="The writer's org.")
    reason: str | None = strawberry.field(description="Why, as the writer said.")
    marking: str | None = strawberry.field(description="The record's marking after it.")
    previous_marking: str | None = strawberry.field(description="The record's marking before.")
    changes: list[FieldChange] = strawberry.field(
        description="Fields changed; a change withheld from you on both sides is left out."
    )


# -- inputs derived from the model -------------------------------------------------------------


def _kind_name(kind: Any) -> str:
    return {str: "String", int: "Int", float: "Float", bool: "Boolean"}.get(kind, "Date")


def _value_input(kind: Any) -> Any:
    name = f"{_kind_name(kind)}FieldInput"
    cls = type(
        name,
        (),
        {
            "__annotations__": {"value": kind | None, "marking": str},
            "__module__": __name__,
            "value": strawberry.field(default=None, description="The value (null: none)."),
            "marking": strawberry.field(description="Its marking, e.g. CUI//REL TO USA, GBR."),
        },
    )
    return strawberry.input(cls, name=name, description="A field's value with its marking.")


def _camel(rel: str) -> str:
    return "".join(p.title() for p in rel.split("_"))


def _input(name: str, description: str, fields: dict[str, tuple[Any, Any]]) -> Any:
    """An input class: `fields` maps python attribute -> (annotation, strawberry.field)."""
    cls = type(
        name,
        (),
        {
            "__annotations__": {k: a for k, (a, _) in fields.items()},
            "__module__": __name__,
            **{k: f for k, (_, f) in fields.items()},
        },
    )
    return strawberry.input(cls, name=name, description=description)


def _opt(description: str, name: str | None = None) -> Any:
    return strawberry.field(default=None, description=description, name=name)


def _req(description: str, name: str | None = None) -> Any:
    return strawberry.field(description=description, name=name)


@strawberry.input(description="The end of a record's own link (a supplier's nation), marked.")
class LinkInput:
    key: str = strawberry.field(description="The end's key (a nation's code).")
    marking: str = strawberry.field(description="The link's marking.")


class Inputs:
    """The mutation input types of one model."""

    def __init__(self, model: Model = MODEL) -> None:
        self.model = model
        self.values = {k: _value_input(k) for k in (str, int, float, bool, datetime.date)}
        self.fields: dict[str, Any] = {}
        self.ops: dict[str, Any] = {}
        for name in rules.STEWARDED_NODES:
            self._node(model.nodes[name])
        for rel in rules.STEWARDED_EDGES:
            self._edge(model.edges[rel])
        self.change = _input(
            "ChangeInput",
            "Exactly one change.",
            {_snake(op): (cls | None, _opt(f"A {op} change.", op)) for op, cls in self.ops.items()},
        )

    def _fields_input(self, owner: str, fields: tuple[Field, ...]) -> Any:
        cls = _input(
            f"{owner if owner[0].islower() or not owner.isupper() else _camel(owner)}FieldsInput",
            f"Fields of a {owner}, each with its marking; a field not given is left as it is "
            "(on create: no value, the default marking).",
            {f.attr: (self.values[f.kind] | None, _opt(f.description, f.name)) for f in fields},
        )
        self.fields[owner] = cls
        return cls

    def _node(self, node: NodeType) -> None:
        fields = self._fields_input(node.name, node.fields)
        owned = {
            e.end_role: (LinkInput, _req(f"The {e.end_role}, with the link's marking."))
            for e in self.model.owned(node.name)
        }
        owned_opt = {
            k: (LinkInput | None, _opt(f"A new {k}, with the link's marking.")) for k in owned
        }
        reason = (str | None, _opt("Why; required when a marking changes."))
        t = node.name
        self.ops[f"create{t}"] = _input(
            f"Create{t}Input",
            f"A new {t}, originated by your nation and org.",
            {
                "key": (
                    str,
                    _req(f"Your key for it; stored as <your nation>:<key> ({node.key_hint})."),
                ),
                "marking": (str, _req("The record's marking.")),
                "fields": (fields, _req("Its fields, each with its marking.")),
                **owned,
                "reason": reason,
            },
        )
        self.ops[f"update{t}"] = _input(
            f"Update{t}Input",
            f"A change to a {t} your nation originated.",
            {
                "id": (strawberry.ID, _req("Global id of the record.")),
                "expected_version": (int, _req("The version you read: stale is CONFLICT.")),
                "marking": (str | None, _opt("A new record marking.")),
                "fields": (fields | None, _opt("Fields to change, each with its marking.")),
                **owned_opt,
                "reason": reason,
            },
        )
        self.ops[f"retire{t}"] = _input(
            f"Retire{t}Input",
            f"Retire a {t} (soft delete: its history stays); its links go with it.",
            {
                "id": (strawberry.ID, _req("Global id of the record.")),
                "expected_version": (int, _req("The version you read.")),
                "reason": (str | None, _opt("Why.")),
            },
        )

    def _edge_fields(self, edge: EdgeType) -> dict[str, tuple[Any, Any]]:
        """`fields` of an edge input, when the edge type has any (REQUIRES has none)."""
        if not edge.fields:
            return {}
        fields = self._fields_input(edge.rel, edge.fields)
        return {"fields": (fields | None, _opt("Its fields, each with its marking."))}

    def _edge(self, edge: EdgeType) -> None:
        c = _camel(edge.rel)
        ends = {
            edge.start_role: (strawberry.ID, _req(f"Global id of the {edge.start_role}.")),
            edge.end_role: (strawberry.ID, _req(f"Global id of the {edge.end_role}.")),
        }
        self.ops[f"set{c}"] = _input(
            f"Set{c}Input",
            f"Create or change your nation's {edge.rel} ({edge.description})",
            {
                **ends,
                "expected_version": (int | None, _opt("The version you read; omit to create.")),
                "marking": (str | None, _opt("The edge's marking (required to create).")),
                **self._edge_fields(edge),
                "reason": (str | None, _opt("Why; required when a marking changes.")),
            },
        )
        self.ops[f"remove{c}"] = _input(
            f"Remove{c}Input",
            f"Remove your nation's {edge.rel} (its history stays).",
            {
                **ends,
                "expected_version": (int, _req("The version you read.")),
                "reason": (str | None, _opt("Why.")),
            },
        )


def _snake(name: str) -> str:
    out = "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)
    return out.lstrip("_")


# -- input -> plain dicts ----------------------------------------------------------------------


class _IdError(Exception):
    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def _key_of(raw: Any, type_name: str, path: tuple[str, ...]) -> str:
    try:
        found, key = decode_id(str(raw), field=".".join(path))
    except Invalid:
        raise _IdError(path, "is not a valid dibx id") from None
    if found != type_name:
        raise _IdError(path, f"is a {found} id; expected a {type_name}")
    return key


def _plain(value: Any) -> Any:
    """A strawberry input object as plain dicts, by GraphQL name, leaving out unset fields."""
    definition = getattr(type(value), "__strawberry_definition__", None)
    if definition is None:
        if isinstance(value, list):
            return [_plain(v) for v in value]
        return value
    out: dict[str, Any] = {}
    for f in definition.fields:
        v = getattr(value, f.python_name)
        if v is None or v is strawberry.UNSET:
            continue
        out[f.graphql_name or to_camel_case(f.python_name)] = _plain(v)
    return out


def _to_change(model: Model, op: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """GraphQL input (plain) -> the service's change dict: ids become keys."""
    data = dict(raw)
    spec = rules.operations(model)[op]
    if spec.node is not None:
        if "id" in data:
            data["key"] = _key_of(data.pop("id"), spec.node.name, ("id",))
    else:
        edge = spec.edge
        assert edge is not None
        for role, t in ((edge.start_role, edge.start), (edge.end_role, edge.end)):
            if role in data:
                data[role] = _key_of(data[role], t, (role,))
    return {"op": op, "input": data}


def _errors(errors: list[rules.UserError], prefix: tuple[str, ...]) -> list[UserError]:
    return [
        UserError(
            field=[*prefix, *e.field],
            code=e.code,
            message=e.message,
            current_version=e.current_version,
        )
        for e in errors
    ]


def _payload(outcome: rules.Outcome, prefix: tuple[str, ...]) -> StewardshipPayload:
    if outcome.errors:
        return StewardshipPayload(changes=[], user_errors=_errors(outcome.errors, prefix))
    return StewardshipPayload(
        changes=[
            AppliedChange(
                type=a.type,
                id=strawberry.ID(encode_id(a.type, a.key)) if a.start is None else None,
                key=a.key,
                kind=ChangeKind(a.kind),
                version=a.version,
            )
            for a in outcome.applied
        ],
        user_errors=[],
    )


def _service(ctx: Context) -> rules.StewardshipService:
    if ctx.writes is None:  # every request context has one; no write goes unaudited
        raise RuntimeError("the request context has no write audit")
    return ctx.services.stewardship.for_request(ctx.writes)


async def _run(
    info: Info[Context, None], changes: list[tuple[str, Any]], prefixes: list[tuple[str, ...]]
) -> StewardshipPayload:
    """Apply `changes` (op, input) together; error paths become `input` + the change's
    prefix (nothing for a single mutation, `<index>, <op>` in a batch) + the field path."""
    ctx = info.context
    model = ctx.services.stewardship.model
    plain: list[dict[str, Any]] = []
    bad: list[rules.UserError] = []
    for (op, value), prefix in zip(changes, prefixes, strict=True):
        try:
            plain.append(_to_change(model, op, _plain(value)))
        except _IdError as exc:
            bad.append(rules.UserError((*prefix, *exc.path), rules.INVALID, str(exc)))
    if bad:
        return _payload(rules.Outcome(errors=bad), ("input",))
    single = len(changes) == 1
    outcome = await _service(ctx).apply(
        ctx.principal,
        ctx.scope,
        plain,
        operation=changes[0][0] if single else "applyChanges",
        tetragraphs=ctx.tetragraphs,
    )
    if single:
        return _payload(outcome, ("input",))
    # The service numbers a batch's errors by change index: name the change's op after it.
    named = [
        rules.UserError(
            (*prefixes[int(e.field[0])], *e.field[1:]) if e.field else (),
            e.code,
            e.message,
            e.current_version,
        )
        for e in outcome.errors
    ]
    return _payload(rules.Outcome(applied=outcome.applied, errors=named), ("input",))


def _single(op: str, cls: Any, scope: str) -> Any:
    async def resolve(self: Any, info: Info[Context, None], input: Any) -> StewardshipPayload:
        return await _run(info, [(op, input)], [()])

    resolve.__annotations__["input"] = Annotated[
        cls, strawberry.argument(description="The change.")
    ]
    resolve.__annotations__["return"] = StewardshipPayload
    resolve.__name__ = op
    return root_mutation(scope=scope, description=_describe(op), name=op)(resolve)


_VERBS = {
    "create": "Create a {0} as your nation's record, each field with its marking.",
    "update": "Change fields or markings of a {0} your nation originated (`expectedVersion`).",
    "retire": "Retire a {0} your nation originated: gone from reads, kept in history.",
    "set": "Create or change your nation's {0} link, each field with its marking.",
    "remove": "Remove your nation's {0} link (kept in history).",
}


def _describe(op: str) -> str:
    """A mutation's description from its name (`setProvides`: verb, then what it writes)."""
    verb = next(v for v in _VERBS if op.startswith(v))
    return _VERBS[verb].format(op[len(verb) :])


def _scope_for(op: rules.Op) -> str:
    return CATALOGUE_WRITE if op.owner in ("Capability", "REQUIRES") else DATA_WRITE


def build_mutation(inputs: Inputs) -> Any:
    """The stewarded-write mutations: one per change, and `applyChanges` for a batch."""
    specs = rules.operations(inputs.model)
    attrs: dict[str, Any] = {"__module__": __name__}
    for op, cls in inputs.ops.items():
        attrs[_snake(op)] = _single(op, cls, _scope_for(specs[op]))
    change_cls = inputs.change

    async def apply_changes(self: Any, info: Info[Context, None], input: Any) -> StewardshipPayload:
        picked: list[tuple[str, Any]] = []
        prefixes: list[tuple[str, ...]] = []
        bad: list[rules.UserError] = []
        for i, change in enumerate(input):
            chosen = [
                (op, getattr(change, _snake(op)))
                for op in inputs.ops
                if getattr(change, _snake(op)) is not None
            ]
            if len(chosen) != 1:
                bad.append(rules.UserError((str(i),), rules.INVALID, "give exactly one change"))
                continue
            picked.append(chosen[0])
            prefixes.append((str(i), chosen[0][0]))
        if bad:
            return _payload(rules.Outcome(errors=bad), ("input",))
        if not picked:
            none = rules.UserError((), rules.INVALID, "no changes given")
            return _payload(rules.Outcome(errors=[none]), ("input",))
        return await _run(info, picked, prefixes)

    apply_changes.__annotations__["input"] = Annotated[
        list[change_cls],  # type: ignore[valid-type]
        strawberry.argument(description="The changes, applied together or not at all."),
    ]
    attrs["apply_changes"] = root_mutation(
        scope=DATA_WRITE,
        description="Several changes in one transaction: all are written, or none.",
    )(apply_changes)
    cls = type("StewardshipMutation", (), attrs)
    return strawberry.type(cls, description="Stewarded writes.")


# -- history on records ------------------------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def history_field(type_name: str) -> Any:
    """`history(first)` on a stewarded record: its revisions, newest first, released per the
    state that held each value (see `dibx.graph.stewardship.Store.history`)."""

    async def resolve(
        root: Any,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description=HISTORY_FIRST)] = None,
    ) -> list[Revision]:
        ctx = info.context
        revisions = await ctx.services.stewardship.history(
            ctx.scope, type_name, root._row.key, first
        )
        out = []
        for r in revisions:
            changes = []
            for c in r["changes"]:
                old, new = c.get("old"), c.get("new")
                if old is not None:
                    ctx.disclosure.release(c.get("oldMarking"))
                if new is not None:
                    ctx.disclosure.release(c.get("newMarking"))
                changes.append(
                    FieldChange(
                        field=c["field"],
                        old_value=_json(old[0]) if old is not None else None,
                        old_marking=c.get("oldMarking"),
                        new_value=_json(new[0]) if new is not None else None,
                        new_marking=c.get("newMarking"),
                    )
                )
            out.append(
                Revision(
                    at=r["at"],
                    kind=ChangeKind(r["kind"]),
                    version=int(r["version"]),
                    actor_nation=r.get("actorNation"),
                    actor_org=r.get("actorOrg"),
                    reason=r.get("reason"),
                    marking=r.get("marking"),
                    previous_marking=r.get("previousMarking"),
                    changes=changes,
                )
            )
        return out

    return resolver(
        "Revisions of this record, newest first: who changed what, when and why. An old value "
        "shows only where its marking then releases it to you."
    )(resolve)


def history_fields(model: Model = MODEL) -> dict[str, dict[str, Any]]:
    """Extra fields for `build_types`: `history` on every stewarded record type."""
    return {
        name: {"history": history_field(name)}
        for name in rules.STEWARDED_NODES
        if name in model.nodes
    }


__all__ = ["Inputs", "StewardshipPayload", "build_mutation", "history_fields"]
