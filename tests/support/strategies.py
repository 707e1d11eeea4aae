"""Hypothesis strategies shared by the marking property tests and the noninterference tests."""

from __future__ import annotations

from hypothesis import strategies as st

from dibx.auth.markings import CATEGORIES, CONTROLS, PUBLIC, TETRAGRAPHS_KNOWN, Marking
from dibx.graph.records import Dataset
from tests.support import builders as b

# A small pool so that random lists overlap often enough for intersections to be interesting.
NATION_POOL = ("USA", "GBR", "AUS", "CAN", "NZL", "JPN", "KOR", "POL", "DEU", "FRA")
TETRA_POOL = tuple(sorted(TETRAGRAPHS_KNOWN))
FOREIGN_CODES = NATION_POOL[1:] + TETRA_POOL

# Strategies are built once: constructing them per draw dominates the run time otherwise.
_kinds = st.sampled_from(["public", "basic", "noforn", "rel", "display", "rel+display"])
_codes = st.frozensets(st.sampled_from(FOREIGN_CODES), min_size=1, max_size=4)
_categories = st.frozensets(st.sampled_from(sorted(CATEGORIES)), max_size=3)
# Often no control at all, as most data carries none.
_controls = st.just(frozenset[str]()) | st.frozensets(st.sampled_from(sorted(CONTROLS)), max_size=2)


@st.composite
def marking_st(draw: st.DrawFn) -> Marking:
    kind = draw(_kinds)
    if kind == "public":
        return PUBLIC
    rel_to = display_only = None
    if "rel" in kind:
        rel_to = frozenset({"USA"}) | draw(_codes)
    if "display" in kind:
        # DISPLAY ONLY may not repeat a REL TO code; fall back to one that is free.
        extra = draw(_codes) - (rel_to or frozenset())
        free = next(c for c in FOREIGN_CODES if c not in (rel_to or ()))
        display_only = frozenset({"USA"}) | (extra or {free})
    return Marking(
        cui=True,
        categories=draw(_categories),
        noforn=kind == "noforn",
        rel_to=rel_to,
        display_only=display_only,
        controls=draw(_controls),
    )


# -- random stewarded graphs (seeded data) ----------------------------------------------------

# Markings a random graph's records, edges and fields take: every kind of release decision.
GRAPH_MARKINGS = (
    "PUBLIC",
    "CUI",
    "CUI//NOFORN",
    "CUI//REL TO USA, GBR",
    "CUI//REL TO USA, FVEY",
    "CUI//REL TO USA, NATO",
    "CUI//REL TO USA, JPN, KOR",
    "CUI//SP-EXPT//REL TO USA, AUS, GBR",
    "CUI//FED ONLY",
)
GRAPH_NATIONS = ("USA", "GBR", "AUS", "JPN", "CHN")
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


@st.composite
def stewarded_graphs(draw: st.DrawFn, max_suppliers: int = 6) -> Dataset:
    """Suppliers, capabilities and every stewarded edge type (REQUIRES acyclic), each record,
    edge and field with a random marking; some values absent (a released "no value")."""
    mark = st.sampled_from(GRAPH_MARKINGS)
    n = draw(st.integers(2, max_suppliers))
    keys = [f"s{i}" for i in range(n)]
    suppliers = [
        b.supplier(
            k,
            draw(st.sampled_from(GRAPH_NATIONS)),
            record=draw(mark),
            based_in=draw(mark),
            name=f"{draw(st.sampled_from(_WORDS))} {k}",
            employees=draw(st.none() | st.integers(1, 1000)),
            city=draw(st.none() | st.sampled_from(_WORDS)),
            fields={f: draw(mark) for f in ("name", "cage", "city", "description", "employees")},
        )
        for k in keys
    ]
    caps = [
        b.capability(
            f"c{i}",
            record=draw(mark),
            fields={f: draw(mark) for f in ("name", "area", "usml", "sme")},
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    cap_keys = [c.key for c in caps]
    pairs = st.tuples(st.sampled_from(keys), st.sampled_from(keys)).filter(lambda p: p[0] != p[1])
    sources = {draw(pairs) for _ in range(draw(st.integers(0, 5)))}
    owners = {draw(pairs) for _ in range(draw(st.integers(0, 3)))}
    offers = {
        (draw(st.sampled_from(keys)), draw(st.sampled_from(cap_keys)))
        for _ in range(draw(st.integers(0, 6)))
    }
    needs = {
        (cap_keys[i], cap_keys[j])
        for i in range(len(cap_keys))
        for j in range(i + 1, len(cap_keys))
        if draw(st.booleans())
    }
    return b.dataset(
        suppliers=suppliers,
        capabilities=caps,
        sources_from=[
            b.sources(
                x,
                y,
                record=draw(mark),
                share=0.5,
                sole=False,
                fields={f: draw(mark) for f in ("item", "share", "sole")},
            )
            for x, y in sorted(sources)
        ],
        subsidiary_of=[
            b.owns(x, y, float(draw(st.sampled_from([0.25, 0.5, 1.0]))), record=draw(mark))
            for x, y in sorted(owners)
        ],
        provides=[
            b.provides(
                s,
                c,
                record=draw(mark),
                capacity=float(draw(st.integers(1, 99))),
                fields={f: draw(mark) for f in ("capacity", "unit", "trl", "leadTimeDays")},
            )
            for s, c in sorted(offers)
        ],
        requires=[b.requires(x, y, record=draw(mark)) for x, y in sorted(needs)],
    )


class Drawn:
    """A drawn graph whose repr is short: a failing example prints its records and edges with
    their record markings (the full Dataset's repr is too large for Hypothesis to report).
    A plain class: Hypothesis prints a dataclass field by field, whatever its __repr__."""

    def __init__(self, data: Dataset) -> None:
        self.data = data

    def __repr__(self) -> str:
        parts = [
            f"{r.key}[{r.markings.record}]"
            for name in ("Supplier", "Capability")
            for r in self.data.nodes_of(name)
        ]
        parts += [
            f"{e.type.rel}({e.start}->{e.end})[{e.markings.record}]"
            for rel in ("BASED_IN", "PROVIDES", "SOURCES_FROM", "SUBSIDIARY_OF", "REQUIRES")
            for e in self.data.edges_of(rel)
        ]
        return "Drawn(" + ", ".join(parts) + ")"
