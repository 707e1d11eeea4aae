"""The compiled response path answers exactly as the executor does.

Differential: random documents drawn from the schema itself (fields, aliases, inline and
named fragments, `__typename`, `@include`/`@skip` with variables, nested connections, bad ids
and page sizes over the limit) over random graphs and callers; each is answered once by the
executor (the path switched off) and once by the path, and the two responses must be equal
byte for byte as canonical JSON (sorted keys), status included. Each document is also checked
to have taken the path, so the comparison is never vacuous, and to have been written by the
response writer (`fastpath.writer`), `@include`/`@skip` or not (its steps are kept per set
of their values). Planted differences in the writer, or in the path's executor, which
completes what the writer cannot (tried with the writer switched off), are caught: a changed
leaf, a marking kept out of the banner, a withheld field not recorded.

Where a document has two or more root fields, the executor runs their reads concurrently and
completes each root field when its read returns: the order of `withheld` entries and of
errors across root fields follows which read Neo4j answers first, on both paths alike. For
those documents only, the two lists are compared sorted.

DIBX_HYPOTHESIS_EXAMPLES scales the number of random graphs (a quarter of it, default 5), each
with 10 documents.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from dibx.schema.fastpath import CompiledResponses
from dibx.schema.ids import encode_id
from tests.security.test_noninterference import CALLERS, graphs
from tests.support import builders as b
from tests.support.api import Api, Reply

pytestmark = pytest.mark.neo4j

# Loading a graph costs far more than a document: fewer graphs, more documents on each.
EXAMPLES = max(3, int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20")) // 4)
DOCUMENTS_PER_GRAPH = 10
# No shrinking: each step reloads a graph, and the failing document is in the message.
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Page sizes: mostly small, sometimes over the server's page size (an error, not a page).
FIRSTS = st.sampled_from([0, 1, 2, 3, 2, 1, 101])
ATTRIBUTES = st.sampled_from([(), (), ("FED",), ("EXPORT_AUTH", "FED")])


# Fields with a read of their own (a record's `history`) are not compiled into the root's
# query: a document selecting one is answered by the executor (see test_fastpath_coverage).
OWN_READS = {"history"}


@dataclass
class Doc:
    """A document being drawn: its fragments and the Boolean variables its directives use."""

    schema: Any
    draw: st.DrawFn
    fragments: list[str] = field(default_factory=list)
    variables: dict[str, bool] = field(default_factory=dict)
    names: Iterator[int] = field(default_factory=lambda: iter(range(10_000)))
    directives: bool = True  # False: none drawn (the writer answers such documents)

    def directive(self) -> str:
        if not self.directives:
            return ""
        kind = self.draw(st.sampled_from(["", "", "", "", "include", "skip"]))
        if not kind:
            return ""
        name = f"v{next(self.names)}"
        self.variables[name] = self.draw(st.booleans())
        return f" @{kind}(if: ${name})"

    def field(self, parent: GraphQLObjectType, name: str, depth: int) -> str:
        definition = parent.fields[name]
        text = name
        if self.draw(st.integers(0, 5)) == 0:
            text = f"a{next(self.names)}: {name}"
        args = []
        if "first" in definition.args and self.draw(st.booleans()):
            args.append(f"first: {self.draw(FIRSTS)}")
        if "asOf" in definition.args and self.draw(st.booleans()):
            args.append(f'asOf: "{self.draw(st.sampled_from(["2001-01-01", "2030-06-30"]))}"')
        if args:
            text += f"({', '.join(args)})"
        text += self.directive()
        named = get_named_type(definition.type)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            text += " " + self.selection(named, depth - 1)
        return text

    def selection(self, parent: GraphQLObjectType | GraphQLInterfaceType, depth: int) -> str:
        """A selection set of distinct fields (so none conflict), some of them grouped in
        fragments; object fields only while depth lasts."""
        assert isinstance(parent, GraphQLObjectType)
        names = [
            n
            for n, f in parent.fields.items()
            if n not in OWN_READS and (depth > 0 or is_leaf_type(get_named_type(f.type)))
        ]
        chosen = self.draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
        parts = [self.field(parent, n, depth) for n in chosen]
        if self.draw(st.integers(0, 4)) == 0:
            parts.insert(self.draw(st.integers(0, len(parts))), "__typename")
        if len(parts) > 1 and self.draw(st.integers(0, 2)) == 0:
            cut = self.draw(st.integers(1, len(parts)))
            inner, parts = " ".join(parts[:cut]), parts[cut:]
            if self.draw(st.booleans()):
                name = f"F{next(self.names)}"
                self.fragments.append(f"fragment {name} on {parent.name} {{ {inner} }}")
                parts.append(f"...{name}{self.directive()}")
            else:
                condition = self.draw(st.sampled_from([f" on {parent.name}", ""]))
                parts.append(f"...{condition}{self.directive()} {{ {inner} }}")
        return "{ " + " ".join(parts) + " }"


def _type(schema: Any, name: str) -> GraphQLObjectType:
    found = schema.get_type(name)
    assert isinstance(found, GraphQLObjectType)
    return found


@st.composite
def documents(draw: st.DrawFn, schema: Any, data: Dataset) -> tuple[str, dict[str, bool], int]:
    """(document, variables, number of root fields)."""
    doc = Doc(schema, draw, directives=draw(st.booleans()))
    suppliers = [s.key for s in data.nodes_of("Supplier")] + ["zz"]
    capabilities = [c.key for c in data.nodes_of("Capability")]
    roots: list[str] = []
    for i in range(draw(st.integers(1, 2))):
        kind = draw(
            st.sampled_from(["supplier", "suppliers", "capability", "capabilities", "node"])
        )
        alias = f"r{i}: "
        if kind == "supplier":
            key = draw(st.sampled_from(suppliers))
            bad = draw(st.integers(0, 9)) == 0
            ident = "not-an-id" if bad else encode_id("Supplier", key)
            body = doc.selection(_type(schema, "Supplier"), 3)
            roots.append(f'{alias}supplier(id: "{ident}"){doc.directive()} {body}')
        elif kind == "capability":
            ident = encode_id("Capability", draw(st.sampled_from(capabilities)))
            body = doc.selection(_type(schema, "Capability"), 3)
            roots.append(f'{alias}capability(id: "{ident}") {body}')
        elif kind == "node":
            key = draw(st.sampled_from(suppliers))
            ident = encode_id(draw(st.sampled_from(["Supplier", "Capability"])), key)
            parts = [
                f"... on {t} {doc.selection(_type(schema, t), 2)}"
                for t in ("Supplier", "Capability")
            ]
            roots.append(f'{alias}node(id: "{ident}") {{ __typename id {" ".join(parts)} }}')
        else:
            type_name = "Supplier" if kind == "suppliers" else "Capability"
            args = [f"first: {draw(st.sampled_from([0, 1, 2, 5]))}"]
            if draw(st.booleans()):
                args.append("sort: [{field: NAME, direction: DESC}]")
            if kind == "suppliers" and draw(st.integers(0, 3)) == 0:
                args.append('filter: {nameContains: "a"}')
            body = doc.selection(_type(schema, f"{type_name}Connection"), 5)
            roots.append(f"{alias}{kind}({', '.join(args)}){doc.directive()} {body}")
    declared = "".join(f"${n}: Boolean!, " for n in doc.variables).rstrip(", ")
    header = f"query Q({declared})" if declared else "query Q"
    text = f"{header} {{ {' '.join(roots)} }} " + " ".join(doc.fragments)
    return text, dict(doc.variables), len(roots)


def canonical(reply: Reply, roots: int) -> str:
    body = json.loads(json.dumps(reply.body))
    if roots > 1:
        withheld = (body.get("extensions") or {}).get("releasability", {}).get("withheld")
        if withheld is not None:
            withheld.sort(key=lambda w: (w["path"], w["marking"]))
        if body.get("errors"):
            body["errors"].sort(key=lambda e: json.dumps(e, sort_keys=True))
    return json.dumps({"status": reply.status, "body": body}, sort_keys=True)


# A read stopped by the database's time limit (a loaded test machine) says nothing about
# either path: the pair is asked again.
_ENVIRONMENT = {"TIMEOUT", "SERVICE_UNAVAILABLE"}


def _environmental(reply: Reply) -> bool:
    return any((e.get("extensions") or {}).get("code") in _ENVIRONMENT for e in reply.errors)


@dataclass
class Both:
    executed: Reply  # by graphql-core's executor (the path switched off)
    answered: Reply  # by the path
    used: int  # requests the path answered (1 or 0)
    written: int  # of those, responses its writer wrote


async def both(
    api: Api, document: str, variables: dict[str, Any], nation: str, attributes: Any = ()
) -> Both:
    compiled: CompiledResponses = api.app.state.compiled
    for _ in range(3):
        compiled.enabled = False
        executed = await api.query(document, variables, nation=nation, attributes=attributes)
        compiled.enabled = True
        before, written = compiled.answered, compiled.written
        answered = await api.query(document, variables, nation=nation, attributes=attributes)
        if not (_environmental(executed) or _environmental(answered)):
            break
    return Both(executed, answered, compiled.answered - before, compiled.written - written)


@SETTINGS
@given(data=st.data(), graph=graphs(), nation=st.sampled_from(CALLERS), attributes=ATTRIBUTES)
async def test_compiled_path_answers_as_the_executor_does(
    api: Api, data: st.DataObject, graph: Dataset, nation: str, attributes: Any
) -> None:
    await clear_database(api.graph)
    await api.load(b.dataset())
    await api.load(graph)
    schema = api.app.state.compiled.schema._schema
    for _ in range(DOCUMENTS_PER_GRAPH):
        document, variables, roots = data.draw(documents(schema, graph))
        pair = await both(api, document, variables, nation, attributes)
        assert canonical(pair.executed, roots) == canonical(pair.answered, roots), document
        assert pair.used == 1, document  # every drawn document is one the path answers
        # Written, `@include`/`@skip` or not: steps are kept per set of their values.
        assert pair.written == 1, document


PROBE = """query Probe { suppliers(first: 2) { totalCount edges { cursor node {
  key name city nation { code }
  capabilities(first: 2) { edges { capacity node { key } } } } } } }"""
# City shown or not by a variable: the writer keeps steps for each value.
SWITCHED = PROBE.replace("key name city", "key name city @include(if: $city)").replace(
    "query Probe", "query Probe($city: Boolean!)"
)
# Released to GBR only under its own marking, which the banner must then carry.
SHARED = "CUI//REL TO USA, GBR"


async def _probe_graph(api: Api) -> None:
    await api.load(
        b.dataset(
            suppliers=[
                b.supplier("s0", name="alpha", fields={"city": "CUI//NOFORN"}),
                b.supplier("s1", name="bravo", fields={"name": SHARED}),
            ],
            capabilities=[b.capability("c0")],
            provides=[b.provides("s0", "c0", capacity=3.0)],
        )
    )


async def test_the_differential_check_catches_a_planted_difference_in_the_executor(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One leaf changed by the path's executor only (a supplier's name) must be caught."""
    await _probe_graph(api)
    api.app.state.compiled.writing = False  # the executor completes what the writer cannot
    pair = await both(api, PROBE, {}, "GBR")
    assert (pair.used, pair.written) == (1, 0)
    assert canonical(pair.executed, 1) == canonical(pair.answered, 1)

    from dibx.schema.fastpath import execute

    fields = execute.Execution.fields

    def planted(self: Any, parent: Any, source: Any, path: Any, grouped: Any) -> Any:
        result = fields(self, parent, source, path, grouped)
        if result.get("name") == "bravo":
            result["name"] = "planted"
        return result

    monkeypatch.setattr(execute.Execution, "fields", planted)
    pair = await both(api, PROBE, {}, "GBR")
    assert (pair.used, pair.written) == (1, 0)
    assert canonical(pair.executed, 1) != canonical(pair.answered, 1)
    assert "planted" in canonical(pair.answered, 1)


def _keep_out_of_the_banner(writing: Any) -> None:
    release = writing.release
    writing.release = lambda marking: None if marking == SHARED else release(marking)


def _forget_withheld(writing: Any) -> None:
    writing.withhold = lambda path, marking: None


@pytest.mark.parametrize(
    ("plant", "shows"),
    [(_keep_out_of_the_banner, f'"banner": "{SHARED}"'), (_forget_withheld, "node.city")],
)
async def test_the_differential_check_catches_a_planted_difference_in_the_writer(
    api: Api, monkeypatch: pytest.MonkeyPatch, plant: Any, shows: str
) -> None:
    """The writer keeping a released field's marking out of the banner, or not recording a
    withheld field, must be caught: `shows` is in the executor's response only."""
    await _probe_graph(api)
    pair = await both(api, PROBE, {}, "GBR")
    assert (pair.used, pair.written) == (1, 1)
    assert canonical(pair.executed, 1) == canonical(pair.answered, 1)
    assert shows in canonical(pair.executed, 1)

    from dibx.schema.fastpath import writer

    init = writer.Writing.__init__

    def planted(self: Any, *args: Any) -> None:
        init(self, *args)
        plant(self)

    monkeypatch.setattr(writer.Writing, "__init__", planted)
    pair = await both(api, PROBE, {}, "GBR")
    assert (pair.used, pair.written) == (1, 1)
    assert canonical(pair.executed, 1) != canonical(pair.answered, 1)
    assert shows in canonical(pair.executed, 1)
    assert shows not in canonical(pair.answered, 1)


# Two of these (10,100 records each) are over the request budget of 20,000 together.
OVER_BUDGET = "ROOT: suppliers(first: 100) { nodes { capabilities(first: 100) { nodes { key } } } }"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{ viewer { nation } }", "the root field viewer"),
        ("{ __schema { queryType { name } } }", "introspection"),
        ('{ concentration(capability: "Q2FwYWJpbGl0eTpjMA") { __typename } }', "the root field"),
        (
            "{ " + OVER_BUDGET.replace("ROOT", "a") + OVER_BUDGET.replace("ROOT", "b") + " }",
            "request over its budget",
        ),
    ],
)
async def test_uncovered_operations_fall_back_and_say_so(
    api: Api, document: str, reason: str
) -> None:
    await _probe_graph(api)
    compiled: CompiledResponses = api.app.state.compiled
    await api.query(document)  # validated once by the executor
    before = compiled.answered
    with structlog.testing.capture_logs() as logs:
        reply = await api.query(document)
    assert compiled.answered == before
    fallbacks = [e for e in logs if e["event"] == "compiled_response_fallback"]
    assert len(fallbacks) == 1
    assert fallbacks[0]["log_level"] == "debug"
    assert fallbacks[0]["reason"].startswith(reason)
    assert reply.status < 500


async def test_a_document_with_directives_is_written_for_each_set_of_their_values(
    api: Api,
) -> None:
    await _probe_graph(api)
    compiled: CompiledResponses = api.app.state.compiled
    await api.query(SWITCHED, {"city": True})  # validated once by the executor
    for city in (True, False, True, False):
        before, written = compiled.answered, compiled.written
        pair = await both(api, SWITCHED, {"city": city}, "USA")
        assert (pair.used, pair.written) == (1, 1)
        assert canonical(pair.executed, 1) == canonical(pair.answered, 1)
        node = pair.answered.body["data"]["suppliers"]["edges"][0]["node"]
        assert ("city" in node) is city
        assert (compiled.answered, compiled.written) == (before + 1, written + 1)
    (plan,) = [p for p in compiled.plans.values() if not isinstance(p, str)]
    assert plan.shaped is None  # the selection depends on $city
    assert sorted(plan.by_switches) == [(False,), (True,)]  # one set of steps per value


async def test_with_the_writer_switched_off_the_path_completes_field_by_field_and_says_so(
    api: Api,
) -> None:
    await _probe_graph(api)
    compiled: CompiledResponses = api.app.state.compiled
    compiled.writing = False
    await api.query(PROBE)  # validated once by the executor
    before, written = compiled.answered, compiled.written
    with structlog.testing.capture_logs() as logs:
        reply = await api.query(PROBE)
    assert (compiled.answered, compiled.written) == (before + 1, written)
    unwritten = [e for e in logs if e["event"] == "compiled_response_unwritten"]
    assert [(e["log_level"], e["reason"]) for e in unwritten] == [
        ("debug", "the writer is switched off")
    ]
    assert reply.body["data"]["suppliers"]["totalCount"] == 2


async def test_a_mutation_falls_back(api: Api) -> None:
    document = 'mutation { escalateChallenge(id: "x", reason: "overdue") { id } }'
    await api.query(document, scopes=("marking:challenge",))
    with structlog.testing.capture_logs() as logs:
        reply = await api.query(document, scopes=("marking:challenge",))
    reasons = [e["reason"] for e in logs if e["event"] == "compiled_response_fallback"]
    assert reasons == ["a mutation"]
    assert reply.errors  # answered by the executor: the challenge does not exist


async def test_a_repeated_query_takes_the_path_and_the_scope_gate_still_holds(api: Api) -> None:
    await _probe_graph(api)
    compiled: CompiledResponses = api.app.state.compiled
    first = await api.query(PROBE)
    before, written = compiled.answered, compiled.written
    again = await api.query(PROBE)
    assert compiled.answered == before + 1
    assert compiled.written == written + 1
    assert again.body == first.body
    # The same document for a caller without the scope: refused by the executor, as before.
    refused = await api.query(PROBE, scopes=("supply_chain:read",))
    assert refused.status == 403
    assert compiled.answered == before + 1
