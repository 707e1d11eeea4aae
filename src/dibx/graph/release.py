"""The release vocabulary: the only module that writes release Cypher.

Every read (compiled GraphQL reads, analytics fetches, challenge queries, reference reads)
builds its release checks from these functions, so there is one predicate to review:

    released     a record's, edge's or field's clause list (stored, else the policy default
                 `$dr.<Type>[_<field>]`) is met by the caller's `$groups`:
                 `all(c IN <clauses> WHERE any(g IN split(c, '|') WHERE g IN $groups))`.
                 A missing clause list and a missing default give null, which fails every
                 check (deny by default).
    visible      `released` for the record or edge itself: what fails is not matched at all.
    marking_in_force  the canonical marking (stored, else the policy default `$dm.<...>`).
    field_value  the field's value where released, else null: how filters and sorts read it.
    dated_holds  a dated edge holds on a date, as far as the caller may know its dates.

`stored_met` checks a copy of a stored clause list kept elsewhere (a release tally's,
`dibx.graph.tallies`) exactly as `released` checks the original.

`clauses_by_key` and `marking_by_key` are the same lookups with the property and default
named by expressions (one query for every type: the change feed). `met` checks a clause-list
expression chosen per row (the challenge queries pick a type's or
field's list with CASE); `clauses_in_force` and `marking_in_force` give those expressions.
Arguments are identifiers from `dibx.graph.model` (or query variables), never input.
"""

from __future__ import annotations


def _suffix(field: str | None) -> str:
    return "" if field is None else f"_{field}"


def clauses_in_force(var: str, type_name: str, field: str | None = None) -> str:
    """The release clause list in force: stored on `var`, else the policy default."""
    s = _suffix(field)
    return f"coalesce({var}.release{s}, $dr.{type_name}{s})"


def marking_in_force(var: str, type_name: str, field: str | None = None) -> str:
    """The canonical marking in force: stored on `var`, else the policy default."""
    s = _suffix(field)
    return f"coalesce({var}.marking{s}, $dm.{type_name}{s})"


def clauses_by_key(var: str, prop: str, default_key: str) -> str:
    """`clauses_in_force` with the property and the policy default's key given as Cypher
    expressions (from parameters built from the model): one query text then checks every
    type and field, e.g. the change feed's. `prop` is `'release'` or `'release_<field>'`,
    `default_key` `'<Type>'` or `'<Type>_<field>'`, exactly as `clauses_in_force` spells them."""
    return f"coalesce({var}[{prop}], $dr[{default_key}])"


def marking_by_key(var: str, prop: str, default_key: str) -> str:
    """`marking_in_force` with expressions for the property and the default's key."""
    return f"coalesce({var}[{prop}], $dm[{default_key}])"


def met(clauses: str, groups: str = "$groups") -> str:
    """Cypher predicate: every clause of the list `clauses` names one of the caller's groups
    (or of the group list expression `groups`: the change feed checks a caller's groups
    with and without an agreement)."""
    return f"all(c IN {clauses} WHERE any(g IN split(c, '|') WHERE g IN {groups}))"


def names_any(clauses: str, groups: str) -> str:
    """Cypher predicate: some clause of the list `clauses` names one of `groups`: only then
    can holding those groups or not change whether the clauses are met."""
    return f"any(c IN coalesce({clauses}, []) WHERE any(g IN split(c, '|') WHERE g IN {groups}))"


def stored_met(var: str, prop: str, type_name: str, groups: str = "$groups") -> str:
    """Cypher predicate: the clause list copied into `var.prop` from a record or edge of
    `type_name` is met, read exactly as `released` reads the original: a null copy means
    none was stored, so the policy default `$dr.<type_name>` applies (an empty list is a
    list, met by everyone, as on the original)."""
    return met(f"coalesce({var}.{prop}, $dr.{type_name})", groups)


def released(var: str, type_name: str, field: str | None = None) -> str:
    """Cypher predicate: the record or edge `var` (or its `field`) is released to the caller."""
    return met(clauses_in_force(var, type_name, field))


def visible(var: str, type_name: str) -> str:
    """Cypher predicate: the record or edge `var` of `type_name` may be matched at all."""
    return released(var, type_name)


def field_value(var: str, owner: str, name: str) -> str:
    """The field's value where released, else null: how filters and sorts must read fields."""
    return f"CASE WHEN {released(var, owner, name)} THEN {var}.{name} END"


def dated_holds(var: str, edge_type: str, as_of: str) -> str:
    """Cypher predicate: the dated edge `var` (`since`/`until`) holds on `as_of`, as the caller
    may know it.

    Fails closed on withheld dates. A withheld `since` read as null could never show that the
    edge held, and a withheld `until` read as null would mean "open-ended", which is a claim
    the caller may not learn: so an edge with either date withheld holds on no date at all.
    The answer then never depends on a withheld date (bisecting `asOf` learns nothing).
    """
    since = released(var, edge_type, "since")
    until = released(var, edge_type, "until")
    return (
        f"{since} AND {until} AND {var}.since <= {as_of} "
        f"AND ({var}.until IS NULL OR {var}.until > {as_of})"
    )
